//! Settings: models, detection, tracking, smoothing, overlay, camera, and which
//! wording profile the captions use (the wording itself is in [`crate::profile`]).
//!
//! Read from TOML with unknown keys rejected, so a misspelt setting is an error with
//! its line and column (and the key it probably meant) instead of a silently ignored
//! default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diag::{Problem, key_path_at, line_col, parse_document, suggest, value_span};
use crate::profile::{self, Profile};

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
    /// Which wording profile the captions use.
    pub captions: CaptionOptions,
    /// How the overlay draws captions (size, motion, colours).
    pub overlay: crate::render::OverlayOptions,
    /// Which camera `run` and `record` open, and the mode they ask for.
    pub camera: crate::capture::CameraOptions,
}

/// Where the models are; relative paths are taken from the working directory first,
/// then from the source tree.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelPaths {
    /// BlazeFace ONNX.
    pub detector: PathBuf,
    /// EmotionNet ONNX with metadata.
    pub classifier: PathBuf,
}

impl Default for ModelPaths {
    fn default() -> Self {
        ModelPaths {
            detector: "models/blazeface_full_range.onnx".into(),
            classifier: "models/emotionnet_nano_b.int8.onnx".into(),
        }
    }
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

/// Detector settings (config section `[detection]`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionOptions {
    /// Minimum face score, 0..1.
    pub min_score: f32,
    /// Overlap above which candidate boxes merge.
    pub nms_iou: f32,
    /// Ignore faces narrower than this many pixels.
    pub min_face_px: f32,
}

impl Default for DetectionOptions {
    fn default() -> Self {
        DetectionOptions {
            min_score: 0.5,
            nms_iou: 0.3,
            min_face_px: 16.0,
        }
    }
}

/// A config that cannot be used; the message says where and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// I/O error.
        source: std::io::Error,
    },
    /// TOML syntax or schema error (with line and column).
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A value outside its range.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Several mistakes in one file (wording profiles are checked as a whole, so a
    /// clinician fixes them in one go), one `file:line:column: ...` line each.
    #[error("{}", problem_lines(.path, .problems))]
    Problems {
        /// The file.
        path: PathBuf,
        /// The mistakes, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The first line of the message, for places with room for one (the overlay).
    pub fn first_line(&self) -> String {
        let all = self.to_string();
        let n = all.lines().count();
        let first = all.lines().next().unwrap_or_default().to_string();
        if n > 1 {
            format!("{first} (and {} more)", n - 1)
        } else {
            first
        }
    }
}

impl Config {
    /// Reads and validates a TOML file; keys it leaves out keep their defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
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
        let located = |message: String| {
            let key = message
                .split([' ', ':', '='])
                .next()
                .unwrap_or_default()
                .to_string();
            match value_span(doc, &key) {
                Some(s) => at(s.start, message),
                None => ConfigError::Invalid {
                    path: path.to_owned(),
                    message,
                },
            }
        };
        cfg.validate().map_err(located)?;
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

    /// Range checks serde cannot express. Each message starts with the dotted key,
    /// which [`Config::parse`] turns into a line and column.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |name: &str, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "{name} = {v} is outside [0, 1]; use a number from 0 to 1"
                ))
            }
        };
        unit("detection.min_score", self.detection.min_score)?;
        unit("detection.nms_iou", self.detection.nms_iou)?;
        unit("smoothing.margin", self.smoothing.margin)?;
        unit("smoothing.hold_margin", self.smoothing.hold_margin)?;
        unit(
            "smoothing.default_threshold",
            self.smoothing.default_threshold,
        )?;
        let s = &self.smoothing;
        for (name, v) in [
            ("tau_ms", s.tau_ms),
            ("min_dwell_ms", s.min_dwell_ms),
            ("min_visible_ms", s.min_visible_ms),
            ("unsure_dwell_ms", s.unsure_dwell_ms),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "smoothing.{name} = {v} must be a non-negative number of milliseconds"
                ));
            }
        }
        if !(s.steadiness.is_finite() && (0.25..=4.0).contains(&s.steadiness)) {
            return Err(format!(
                "smoothing.steadiness = {} must be from 0.25 to 4 (1 = the defaults; \
                 2 = twice as steady and about twice as slow)",
                s.steadiness
            ));
        }
        self.speech.validate()?;
        self.overlay.validate()?;
        self.camera.validate()?;
        if self.captions.profile.trim().is_empty() {
            return Err("captions.profile is empty; name a wording profile, e.g. \"en\"".into());
        }
        Ok(())
    }
}

/// One `file:line:column: message` line per problem.
fn problem_lines(path: &Path, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}:{p}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
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

/// serde's message for the key at `offset`, with the fix: the key it probably meant,
/// or where settings that moved to wording profiles live now.
fn explain(doc: &toml::de::DeTable<'_>, offset: usize, message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return format!("{message}; compare with config/default.toml, which documents every key");
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
