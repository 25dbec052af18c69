//! Settings: models, detection, tracking, smoothing, overlay, camera, and which
//! wording profile the captions use (the wording itself is in [`crate::profile`]).
//!
//! Read from TOML with unknown keys rejected, so a misspelt setting is an error with
//! its line and column (and the key it probably meant) instead of a silently ignored
//! default.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::config_file::{ConfigError, MAX_FILE_BYTES, read_bytes, read_file};
use crate::diag::{
    Limit, Problem, key_path_at, key_path_of_value, line_col, parse_document, suggest, value_span,
};
pub use crate::pipeline::{DetectionOptions, ModelPaths, PipelineOptions};
use crate::profile::{self, Profile};

use crate::quality::QualityOptions;
use crate::smooth::SmoothingOptions;
use crate::speech::SpeechOptions;
use crate::track::TrackerOptions;

/// Everything the pipeline needs to know.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Model files.
    pub models: ModelPaths,
    /// Face detector settings.
    pub detection: DetectionOptions,
    /// Tracker settings.
    pub tracking: TrackerOptions,
    /// Temporal smoothing and abstention.
    pub smoothing: SmoothingOptions,
    /// Talking faces: more confidence for mouth-borne emotions.
    pub speech: SpeechOptions,
    /// Poor views of a face (blur, a tiny face, noise): more confidence before a caption.
    pub quality: QualityOptions,
    /// Which wording profile the captions use.
    pub captions: CaptionOptions,
    /// How the overlay draws captions (size, motion, colours).
    pub overlay: crate::style::OverlayOptions,
    /// Which camera `run` and `record` open, and the mode they ask for.
    pub camera: crate::capture::CameraOptions,
}

/// Which wording the captions use (config section `[captions]`). The wording lives
/// in its own profile file so a clinician can edit it, and see it reloaded live,
/// without touching the technical settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CaptionOptions {
    /// A profile name (`en`, `en-child`, `de`, `fr`, or any `config/labels/NAME.toml`)
    /// or the path of a profile file; [`Config::load`] makes a relative path relative
    /// to the settings file.
    pub profile: String,
}

impl Default for CaptionOptions {
    fn default() -> Self {
        CaptionOptions {
            profile: "en".into(),
        }
    }
}

/// Allowed ranges of the numbers in `[detection]`, `[tracking]` and `[smoothing]`
/// (the `[overlay]` ones are [`crate::style::LIMITS`]; `[camera]` checks its
/// own). A value outside them never reaches the pipeline: `nan`, `-1` or `1e308`
/// would otherwise find no face or never show a caption, with nothing said.
/// Ranges of the `[smoothing]` keys that shape captions in conversation (hysteresis,
/// the dwell before "not sure", the one speed-for-steadiness knob).
pub const CONVERSATION_LIMITS: [Limit; 3] = [
    Limit::new(
        "smoothing.hold_margin",
        0.0,
        1.0,
        "",
        "a shown emotion stays while it is within this of its min_confidence",
    ),
    Limit::new(
        "smoothing.unsure_dwell_ms",
        0.0,
        10_000.0,
        " ms",
        "how long a face must stay unconvincing before \"not sure\"",
    ),
    Limit::new(
        "smoothing.steadiness",
        0.25,
        4.0,
        "",
        "1 = the defaults; 2 = twice as steady and about twice as slow",
    ),
];

pub const LIMITS: [Limit; 15] = [
    Limit::new(
        "detection.min_score",
        0.0,
        1.0,
        "",
        "the face score a detection needs; lower finds more faces and more false ones",
    ),
    Limit::new(
        "detection.nms_iou",
        0.0,
        1.0,
        "",
        "boxes overlapping more than this merge into one face; near 0 merges faces that \
         merely touch, 1 would never merge and show one face many times",
    )
    .above_min()
    .below_max(),
    Limit::new(
        "detection.min_face_px",
        0.0,
        4096.0,
        " px",
        "faces narrower than this are ignored",
    ),
    Limit::new(
        "detection.every_frames",
        1.0,
        100.0,
        "",
        "the detector runs at least every this many frames; 1 runs it on every frame",
    ),
    Limit::new(
        "detection.edge_margin",
        0.0,
        10.0,
        "",
        "a tracked face this many box widths from a frame edge makes the detector run",
    ),
    Limit::new(
        "detection.max_crop_change",
        0.0,
        255.0,
        "",
        "a tracked crop this many gray levels different from its last detection's \
         makes the detector run",
    ),
    Limit::new(
        "tracking.match_iou",
        0.0,
        1.0,
        "",
        "the overlap a face's box must keep between frames; 0 would match any two boxes",
    )
    .above_min(),
    Limit::new(
        "tracking.max_center_jump",
        0.0,
        10.0,
        "",
        "how many box widths a face may move between two frames",
    )
    .above_min(),
    Limit::new(
        "tracking.min_hits",
        1.0,
        50.0,
        "",
        "detections in a row before a face is trusted; 50 is almost 2 s at 30 frames/s",
    ),
    Limit::new(
        "tracking.max_missed_ms",
        0.0,
        60_000.0,
        " ms",
        "how long a face may be missing before it is forgotten",
    ),
    Limit::new(
        "smoothing.tau_ms",
        0.0,
        10_000.0,
        " ms",
        "the time constant of the probability average; larger is steadier and slower",
    ),
    Limit::new(
        "smoothing.margin",
        0.0,
        1.0,
        "",
        "how much probability a new caption must lead the shown one by",
    ),
    Limit::new(
        "smoothing.min_dwell_ms",
        0.0,
        10_000.0,
        " ms",
        "how long a new caption must lead before it replaces the shown one",
    ),
    Limit::new(
        "smoothing.min_visible_ms",
        0.0,
        10_000.0,
        " ms",
        "how long a face must be seen before any caption appears",
    ),
    Limit::new(
        "smoothing.default_threshold",
        0.0,
        1.0,
        "",
        "the probability under which a face is `unsure`",
    ),
];

/// The range of a number setting by its dotted key, for messages about values serde
/// refused before the range checks ran (e.g. `min_hits = -1`).
pub fn limit(key: &str) -> Option<&'static Limit> {
    LIMITS
        .iter()
        .chain(crate::style::LIMITS.iter())
        .find(|l| l.key == key)
}

impl Config {
    /// What the pipeline's stages take from these settings.
    pub fn pipeline_options(&self) -> PipelineOptions {
        PipelineOptions {
            models: self.models.clone(),
            detection: self.detection.clone(),
            tracking: self.tracking.clone(),
            smoothing: self.smoothing.clone(),
            speech: self.speech.clone(),
            quality: self.quality.clone(),
        }
    }

    /// Reads and validates a TOML file; keys it leaves out keep their defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read_file(path)?, path)
    }

    /// Parses TOML text; `path` names it in errors, and a profile given as a relative
    /// path is taken relative to its folder. Checks that the profile exists (its
    /// wording is checked by [`Config::load_profile`]).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let at = |offset: usize, message: String| {
            let (line, column) = line_col(text, offset);
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let doc = parse_document(text).map_err(|p| at_problem(path, p))?;
        let doc = doc.get_ref();
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(offset, explain(doc, offset, e.message().trim_end()))
        })?;
        let located = |message: String| locate(text, doc, path, message);
        let mut problems: Vec<Problem> = cfg
            .problems()
            .into_iter()
            .map(|message| {
                let at = value_span(doc, leading_key(&message)).map_or(0, |s| s.start);
                Problem::at(text, at, message)
            })
            .collect();
        if !problems.is_empty() {
            problems.sort();
            return Err(ConfigError::Problems {
                path: path.to_owned(),
                problems,
            });
        }
        let spec = &cfg.captions.profile;
        if profile::is_path(spec) && Path::new(spec).is_relative() {
            let dir = path.parent().unwrap_or(Path::new(""));
            cfg.captions.profile = dir.join(spec).to_string_lossy().into_owned();
        }
        if let Err(e) = profile::resolve(&cfg.captions.profile) {
            return Err(located(format!("captions.profile: {e}")));
        }
        Ok(cfg)
    }

    /// The wording profile the settings name, checked: the app refuses to start with
    /// a broken one rather than show wrong or empty captions.
    pub fn load_profile(&self) -> Result<Profile, ConfigError> {
        Profile::open(&self.captions.profile)
    }

    /// Range checks serde cannot express: the first problem of [`Config::problems`].
    pub fn validate(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            Some(p) => Err(p),
            None => Ok(()),
        }
    }

    /// Every value outside its range (finite, sign, a bound that makes sense), one
    /// message each. Each message starts with the dotted key, which
    /// [`Config::parse`] turns into a line and column, so a clinician sees and fixes
    /// all of them at once.
    pub fn problems(&self) -> Vec<String> {
        let [
            min_score,
            nms_iou,
            min_face_px,
            every_frames,
            edge_margin,
            max_crop_change,
            match_iou,
            max_center_jump,
            min_hits,
            max_missed_ms,
            tau_ms,
            margin,
            min_dwell_ms,
            min_visible_ms,
            default_threshold,
        ] = &LIMITS;
        let (d, t, s) = (&self.detection, &self.tracking, &self.smoothing);
        let mut out: Vec<String> = [
            min_score.check(d.min_score),
            nms_iou.check(d.nms_iou),
            min_face_px.check(d.min_face_px),
            every_frames.check(d.every_frames),
            edge_margin.check(d.edge_margin),
            max_crop_change.check(d.max_crop_change),
            match_iou.check(t.match_iou),
            max_center_jump.check(t.max_center_jump),
            min_hits.check(t.min_hits),
            max_missed_ms.check(t.max_missed_ms),
            tau_ms.check(s.tau_ms),
            margin.check(s.margin),
            min_dwell_ms.check(s.min_dwell_ms),
            min_visible_ms.check(s.min_visible_ms),
            default_threshold.check(s.default_threshold),
        ]
        .into_iter()
        .flatten()
        .collect();
        out.extend(self.overlay.problems());
        out.extend(self.camera.problems());
        for (key, p) in [
            ("models.detector", &self.models.detector),
            ("models.classifier", &self.models.classifier),
        ] {
            if p.as_os_str().is_empty() {
                out.push(format!(
                    "{key} is empty; give the path of an ONNX file, e.g. \"{}\"",
                    if key == "models.detector" {
                        ModelPaths::default().detector
                    } else {
                        ModelPaths::default().classifier
                    }
                    .display()
                ));
            }
        }
        let [hold_margin, unsure_dwell_ms, steadiness] = &CONVERSATION_LIMITS;
        out.extend(hold_margin.check(s.hold_margin));
        out.extend(unsure_dwell_ms.check(s.unsure_dwell_ms));
        out.extend(steadiness.check(s.steadiness));
        out.extend(self.speech.problems());
        out.extend(self.quality.problems());
        if self.captions.profile.trim().is_empty() {
            out.push("captions.profile is empty; name a wording profile, e.g. \"en\"".into());
        }
        out
    }
}

/// The dotted key a message starts with (`smoothing.tau_ms = ...` gives
/// `smoothing.tau_ms`).
fn leading_key(message: &str) -> &str {
    message.split([' ', ':', '=']).next().unwrap_or_default()
}

/// An error about the setting whose dotted key starts `message`, at the line and
/// column of its value (of its table when the file leaves the key out; line 1 when
/// it has neither), so every message about a settings file says where to look.
pub fn locate(
    text: &str,
    doc: &toml::de::DeTable<'_>,
    path: &Path,
    message: String,
) -> ConfigError {
    let at = value_span(doc, leading_key(&message)).map_or(0, |s| s.start);
    let (line, column) = line_col(text, at);
    ConfigError::Parse {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

/// A [`Problem`] of the file at `path` as an error.
fn at_problem(path: &Path, p: Problem) -> ConfigError {
    ConfigError::Parse {
        path: path.to_owned(),
        line: p.line,
        column: p.column,
        message: p.message,
    }
}

/// serde's "expected u32" in words a clinician uses.
fn whole_numbers(message: &str) -> String {
    let mut m = message.to_string();
    for t in [
        "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
    ] {
        m = m.replace(
            &format!("expected {t}"),
            "expected a whole number (no sign, no decimals)",
        );
    }
    m
}

/// serde's message for the key at `offset`, with the fix: the key it probably meant,
/// or where settings that moved to wording profiles live now.
fn explain(doc: &toml::de::DeTable<'_>, offset: usize, message: &str) -> String {
    let message = &whole_numbers(message);
    let Some(rest) = message.strip_prefix("unknown field `") else {
        // A value of the wrong type or beyond its type (`min_hits = -1`, `width =
        // 1e9`): name the key and, for a number, its range.
        return match key_path_of_value(doc, offset) {
            Some(key) => match limit(&key) {
                Some(l) => format!("{key}: {message}; {}", l.fix()),
                None => format!(
                    "{key}: {message}; compare with config/default.toml, which documents \
                     every key and its range"
                ),
            },
            None => {
                format!("{message}; compare with config/default.toml, which documents every key")
            }
        };
    };
    let key = rest.split('`').next().unwrap_or_default();
    let full = key_path_at(doc, offset).unwrap_or_else(|| key.to_string());
    let table = full.rsplit_once('.').map_or("", |(t, _)| t);
    let moved = "wording and per-emotion thresholds live in wording profiles now";
    if table == "captions" && profile::KEYS.contains(&key) {
        return format!(
            "`{key}` in [captions]: {moved}; put text = \"...\" under [{key}] in a profile \
             (copy config/labels/en.toml) and select it with profile = \"NAME\" in [captions]"
        );
    }
    if full.starts_with("smoothing.thresholds") {
        return format!(
            "[smoothing.thresholds]: {moved}; set min_confidence under the emotion's table in \
             the profile (config/labels/NAME.toml) and remove this table"
        );
    }
    // serde lists the valid names in backquotes after "expected".
    let expected: Vec<&str> = message
        .split_once("expected")
        .map(|(_, e)| e.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    let place = if table.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in [{table}]")
    };
    if expected.is_empty() {
        format!("unknown key `{key}` {place}; remove it")
    } else {
        format!("unknown key `{key}` {place}; {}", suggest(key, &expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_camera_section_of_a_config_file_is_read_and_checked() {
        let cfg = Config::parse(
            "[camera]\ndevice = \"/dev/video2\"\nfps = 15\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(cfg.camera.device, Path::new("/dev/video2"));
        assert_eq!(cfg.camera.request().fps, 15.0);
        assert_eq!(cfg.camera.width, 640);
        let e = Config::parse("[camera]\nfsp = 15\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().starts_with("c.toml:2:"), "{e}");
        let e = Config::parse("[camera]\nwidth = 4\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("camera.width"), "{e}");
    }

    #[test]
    fn shipped_default_toml_equals_built_in_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let cfg = Config::load(&path).expect("config/default.toml is valid");
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let err = Config::parse(
            "[smoothing]\ntau_ms = 300\ntua_ms = 3\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.toml:3:"), "{msg}");
        assert!(msg.contains("tua_ms"), "{msg}");
    }

    #[test]
    fn out_of_range_value_is_rejected_at_its_line() {
        let err = Config::parse(
            "[detection]\nnms_iou = 0.3\nmin_score = 1.5\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("x.toml:3:13: detection.min_score"), "{err}");
        assert!(err.contains("outside [0, 1]; use a number"), "{err}");
    }

    /// Issue 21: values that used to pass `check-config` and then found no face or
    /// never showed a caption. Every number setting refuses each of them at the
    /// value's line and column, naming the key.
    #[test]
    fn every_bad_number_is_refused_at_its_line_and_column() {
        let keys: Vec<&str> = LIMITS
            .iter()
            .chain(crate::style::LIMITS.iter())
            .map(|l| l.key)
            .chain(["camera.width", "camera.height", "camera.fps"])
            .collect();
        assert_eq!(keys.len(), 23);
        for err in bad_number_errors(&keys) {
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    /// Each key set to each absurd number, refused at the value's line and column
    /// naming the key: the error messages.
    fn bad_number_errors(keys: &[&str]) -> Vec<String> {
        let mut errors = Vec::new();
        for key in keys {
            let (table, name) = key.split_once('.').unwrap();
            for bad in ["nan", "inf", "-inf", "-1", "4294967295", "1e308", "-1e308"] {
                let text = format!("# a comment\n[{table}]\n{name} = {bad}\n");
                let err = match Config::parse(&text, Path::new("x.toml")) {
                    Ok(_) => panic!("{key} = {bad} was accepted"),
                    Err(e) => e.to_string(),
                };
                let at = format!("x.toml:3:{}: {key}", name.len() + 4);
                assert!(err.starts_with(&at), "{key} = {bad}: {err}");
                errors.push(err);
            }
        }
        errors
    }

    #[test]
    fn conversation_and_speech_numbers_are_refused_at_their_line_and_column() {
        let keys: Vec<&str> = CONVERSATION_LIMITS
            .iter()
            .chain(SpeechOptions::LIMITS.iter())
            .chain(QualityOptions::LIMITS.iter())
            .map(|l| l.key)
            .collect();
        assert_eq!(keys.len(), 12);
        bad_number_errors(&keys);
        for key in ["mouth_borne", "steady_while_talking"] {
            for bad in ["[\"\"]", "\"surprise\"", "[1, 2]"] {
                let text = format!("[speech]\n{key} = {bad}\n");
                let err = Config::parse(&text, Path::new("x.toml"))
                    .unwrap_err()
                    .to_string();
                assert!(err.starts_with("x.toml:2:"), "{key} = {bad}: {err}");
            }
        }
    }

    #[test]
    fn alternate_mirror_takes_only_true_or_false() {
        for bad in ["\"yes\"", "1", "[true]", "maybe"] {
            let text = format!("[smoothing]\nalternate_mirror = {bad}\n");
            let err = Config::parse(&text, Path::new("x.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("x.toml:2:"),
                "alternate_mirror = {bad}: {err}"
            );
        }
        for (text, want) in [("false", false), ("true", true)] {
            let c = Config::parse(
                &format!("[smoothing]\nalternate_mirror = {text}\n"),
                Path::new("x.toml"),
            )
            .unwrap();
            assert_eq!(c.smoothing.alternate_mirror, want);
        }
        assert!(
            Config::default().smoothing.alternate_mirror,
            "on by default"
        );
    }

    #[test]
    fn nms_iou_means_an_overlap_strictly_between_0_and_1() {
        for v in ["0.0", "1.0"] {
            let err = Config::parse(
                &format!("[detection]\nnms_iou = {v}\n"),
                Path::new("x.toml"),
            )
            .unwrap_err()
            .to_string();
            assert!(err.starts_with("x.toml:2:11: detection.nms_iou"), "{err}");
            assert!(
                err.contains("outside (0, 1); use a number above 0 and below 1"),
                "{err}"
            );
        }
        for v in ["0.01", "0.99"] {
            Config::parse(
                &format!("[detection]\nnms_iou = {v}\n"),
                Path::new("x.toml"),
            )
            .unwrap();
        }
    }

    #[test]
    fn all_range_problems_of_a_file_are_reported_at_once_in_file_order() {
        let text = "[smoothing]\ntau_ms = -5\nmargin = 2\n[tracking]\nmin_hits = 0\n\
                    [overlay]\ncaption_px = 1e9\n[camera]\nfps = nan\n";
        let err = Config::parse(text, Path::new("x.toml")).unwrap_err();
        let ConfigError::Problems { problems, .. } = &err else {
            panic!("{err:?}");
        };
        let at: Vec<(usize, usize)> = problems.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(at, [(2, 10), (3, 10), (5, 12), (7, 14), (9, 7)], "{err}");
        assert!(
            err.to_string().lines().all(|l| l.starts_with("x.toml:")),
            "{err}"
        );
    }

    #[test]
    fn a_value_serde_refuses_names_its_key_and_range() {
        let err = Config::parse("[tracking]\nmin_hits = 4294967296\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.toml:2:12: tracking.min_hits"), "{err}");
        assert!(err.contains("use a number from 1 to 50"), "{err}");
        let err = Config::parse("[camera]\nwidth = -640\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.toml:2:9: camera.width"), "{err}");
    }

    #[test]
    fn shipped_settings_and_profiles_are_within_their_ranges() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        Config::load(&root.join("config/default.toml")).unwrap();
        let mut n = 0;
        for e in std::fs::read_dir(root.join("config/labels")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                Profile::load(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 4, "{n} profiles");
    }

    #[test]
    fn the_clinician_guide_lists_every_range() {
        let guide = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/clinician-guide.md"),
        )
        .unwrap();
        for l in LIMITS.iter().chain(crate::style::LIMITS.iter()) {
            let row = format!("| `{}` | {} |", l.key, l.range());
            assert!(guide.contains(&row), "docs/clinician-guide.md lacks {row}");
        }
    }

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = std::env::temp_dir().join(format!("emocue-config-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = Config::load(&dir).unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
        let big = dir.join("big.toml");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        let err = Config::load(&big).unwrap_err().to_string();
        assert!(err.contains("limit"), "{err}");
        let bin = dir.join("bin.toml");
        std::fs::write(&bin, b"[smoothing]\ntau_ms = 1\xff\n").unwrap();
        let err = Config::load(&bin).unwrap_err().to_string();
        assert!(err.contains("not UTF-8"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn misspelt_keys_get_the_nearest_valid_one() {
        let err = Config::parse("[smoothing]\nmargn = 0.1\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.toml:2:1: unknown key `margn` in [smoothing]"),
            "{err}"
        );
        assert!(err.contains("did you mean `margin`?"), "{err}");
    }

    #[test]
    fn old_caption_and_threshold_tables_say_where_they_moved() {
        let err = Config::parse("[captions]\nanger = \"cross\"\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.toml:2:1:") && err.contains("profile"),
            "{err}"
        );
        let err = Config::parse("[smoothing.thresholds]\nanger = 0.6\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("min_confidence"), "{err}");
    }

    #[test]
    fn profiles_are_found_by_name_and_relative_to_the_settings_file() {
        let err = Config::parse("[captions]\nprofile = \"eng\"\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.toml:2:11:"), "{err}");
        assert!(err.contains("did you mean `en`?"), "{err}");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/settings.toml");
        let cfg = Config::parse("[captions]\nprofile = \"labels/de.toml\"\n", &dir).unwrap();
        assert_eq!(cfg.load_profile().unwrap().language, "de");
    }
}
