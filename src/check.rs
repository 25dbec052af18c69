//! `emocue check-config FILE`: one command for both files a clinician edits, the
//! settings and a wording profile, so nobody has to know which checker to run. For
//! settings it also opens the models they name, so "ok" means a session can start.
//!
//! The kind is told by content: a settings file has sections such as `[smoothing]`
//! or `[captions]`; a wording profile has emotion tables such as `[happiness]`. A
//! file with neither (or only misspelt names) goes with the kind its names are
//! nearest to, so a typo is reported against the right list of keys.

use std::path::{Path, PathBuf};

use crate::classify::Classifier;
use crate::config::{Config, ConfigError, read_file};
use crate::detect::{Detector, DetectorOptions};
use crate::diag::{Problem, nearest, parse_document, value_span};
use crate::onnx::ModelError;
use crate::pipeline::resolve_model;
use crate::profile::{self, Profile};

/// Which file a text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Settings (`config/default.toml` and copies).
    Settings,
    /// A wording profile (`config/labels/*.toml`).
    Profile,
}

/// Top-level names of the settings file (its sections).
fn settings_names() -> Vec<String> {
    toml::Table::try_from(Config::default())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

/// Tells the kind from the table headers and top-level keys, read line by line so
/// it works on files that do not parse.
pub fn detect(text: &str) -> FileKind {
    let mut names = Vec::new();
    let mut in_table = false;
    for line in text.lines().map(str::trim) {
        if let Some(h) = line.strip_prefix('[') {
            in_table = true;
            let h = h.trim_start_matches('[');
            let first = h.split(['.', ']']).next().unwrap_or_default();
            names.push(first.trim().trim_matches('"').to_string());
        } else if !in_table
            && !line.starts_with('#')
            && let Some((k, _)) = line.split_once('=')
        {
            names.push(k.split('.').next().unwrap_or_default().trim().to_string());
        }
    }
    let settings = settings_names();
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut wording: Vec<&str> = profile::KEYS.to_vec();
    wording.extend(["name", "language"]);
    if names.iter().any(|n| settings.contains(&n.as_str())) {
        return FileKind::Settings;
    }
    if names.iter().any(|n| wording.contains(&n.as_str())) {
        return FileKind::Profile;
    }
    let all: Vec<&str> = settings.iter().chain(&wording).copied().collect();
    match names.iter().find_map(|n| nearest(n, &all)) {
        Some(n) if wording.contains(&n) => FileKind::Profile,
        _ => FileKind::Settings,
    }
}

/// Checks a settings file (and the profile and models it selects) or a wording
/// profile; the answer is the line to print on success. The file is read as the app
/// reads it (a regular file of bounded size, never a FIFO that would block), and
/// settings go through the same [`Config::parse`] as at start.
pub fn check(path: &Path) -> Result<String, ConfigError> {
    let text = read_file(path)?;
    let p = path.display();
    match detect(&text) {
        FileKind::Settings => {
            let cfg = Config::parse(&text, path)?;
            let wording = cfg.load_profile()?;
            let models = open_models(&cfg, &text, path)?;
            wording
                .check_classes(&models.classes)
                .map_err(|e| ConfigError::Invalid {
                    path: path.to_owned(),
                    message: format!("the wording profile does not fit the classifier: {e}"),
                })?;
            Ok(format!(
                "{p}: ok (settings; wording profile \"{}\" from {}: ok; models: detector {} \
                 ok, classifier {} ok, {} classes)",
                wording.name,
                wording.path.display(),
                models.detector.display(),
                models.classifier.display(),
                models.classes.len()
            ))
        }
        FileKind::Profile => {
            let wording = Profile::parse(&text, path)?;
            let hidden: Vec<&str> = wording
                .labels
                .iter()
                .filter(|(_, l)| !l.shown)
                .map(|(k, _)| k.as_str())
                .collect();
            Ok(format!(
                "{p}: ok (wording profile \"{}\"; hidden: {})",
                wording.name,
                if hidden.is_empty() {
                    "none".to_string()
                } else {
                    hidden.join(", ")
                }
            ))
        }
    }
}

/// The models the settings name, opened.
struct OpenModels {
    /// The detector file, resolved as the app resolves it.
    detector: PathBuf,
    /// The classifier file, resolved as the app resolves it.
    classifier: PathBuf,
    /// The classifier's class keys.
    classes: Vec<String>,
}

/// Resolves both model paths exactly as the app does ([`resolve_model`]) and loads
/// them with the loaders the app uses, which check each model's contract: a path
/// that is wrong, or a file that is not the right model, is found here instead of
/// when a session starts. Both are reported at once, at their setting's line.
fn open_models(cfg: &Config, text: &str, path: &Path) -> Result<OpenModels, ConfigError> {
    let d = &cfg.detection;
    let detector = resolve_model(&cfg.models.detector);
    let classifier = resolve_model(&cfg.models.classifier);
    let mut problems = Vec::new();
    if let Err(e) = Detector::load(
        &detector,
        DetectorOptions {
            min_score: d.min_score,
            nms_iou: d.nms_iou,
            min_face_px: d.min_face_px,
        },
    ) {
        problems.push(("detector", &cfg.models.detector, e));
    }
    let classes = match Classifier::load(&classifier) {
        Ok(c) => c.labels().to_vec(),
        Err(e) => {
            problems.push(("classifier", &cfg.models.classifier, e));
            Vec::new()
        }
    };
    if problems.is_empty() {
        return Ok(OpenModels {
            detector,
            classifier,
            classes,
        });
    }
    let doc = parse_document(text).ok();
    let doc = doc.as_ref().map(|d| d.get_ref());
    let mut problems: Vec<Problem> = problems
        .into_iter()
        .map(|(name, given, e)| {
            let key = format!("models.{name}");
            let set = doc
                .and_then(|d| d.get("models"))
                .and_then(|m| m.get_ref().as_table())
                .is_some_and(|t| t.contains_key(name));
            let at = doc.and_then(|d| value_span(d, &key)).map_or(0, |s| s.start);
            let what = match &e {
                ModelError::Missing { .. } => format!("no such file; tried {}", tried(given)),
                other => other.to_string(),
            };
            let default = if set {
                ""
            } else {
                " (the default: the file does not set it)"
            };
            Problem::at(
                text,
                at,
                format!(
                    "{key} = \"{}\"{default}: {what}; set {key} in [models] to the path of a \
                     working model (relative paths are taken from the working directory, then \
                     from emocue's source tree; models/README.md lists the shipped ones)",
                    given.display()
                ),
            )
        })
        .collect();
    problems.sort();
    Err(ConfigError::Problems {
        path: path.to_owned(),
        problems,
    })
}

/// Where [`resolve_model`] looks for a configured path, for the message when it is
/// in neither place.
fn tried(given: &Path) -> String {
    if given.is_absolute() {
        return given.display().to_string();
    }
    let cwd = std::env::current_dir().unwrap_or_default().join(given);
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(given);
    if cwd == built {
        cwd.display().to_string()
    } else {
        format!("{} and {}", cwd.display(), built.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_apart_even_when_misspelt() {
        assert_eq!(detect("[smoothing]\ntau_ms = 1\n"), FileKind::Settings);
        assert_eq!(detect(""), FileKind::Settings);
        assert_eq!(detect("name = \"x\"\n[happiness]\n"), FileKind::Profile);
        assert_eq!(detect("[hapiness]\ntext = \"x\"\n"), FileKind::Profile);
        assert_eq!(detect("[smoothng]\ntau_ms = 1\n"), FileKind::Settings);
        assert_eq!(detect("[fear\ntext = \"x\"\n"), FileKind::Profile);
    }
}
