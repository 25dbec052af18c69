//! Settings: models, detection, tracking, smoothing and caption wording.
//!
//! Read from TOML with unknown keys rejected, so a misspelt setting is an error with
//! its line and column instead of a silently ignored default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::smooth::SmoothingOptions;
use crate::track::TrackerOptions;

/// Everything the pipeline needs to know.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
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
    /// Caption text per class key, plus `unsure`.
    pub captions: BTreeMap<String, String>,
    /// How the overlay draws captions (size, motion, colours).
    pub overlay: crate::render::OverlayOptions,
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

impl Default for Config {
    fn default() -> Self {
        let captions = [
            ("neutral", "looks calm"),
            ("happiness", "looks happy"),
            ("surprise", "looks surprised"),
            ("sadness", "looks sad"),
            ("anger", "looks angry"),
            ("disgust", "looks disgusted"),
            ("fear", "looks afraid"),
            ("contempt", "looks scornful"),
            ("unsure", "not sure"),
        ];
        Config {
            models: ModelPaths::default(),
            detection: DetectionOptions::default(),
            tracking: TrackerOptions::default(),
            smoothing: SmoothingOptions::default(),
            overlay: crate::render::OverlayOptions::default(),
            captions: captions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
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

    /// Parses TOML text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    (line, column)
                })
                .unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(cfg)
    }

    /// Range checks serde cannot express.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |name: &str, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} = {v} is outside [0, 1]"))
            }
        };
        unit("detection.min_score", self.detection.min_score)?;
        unit("detection.nms_iou", self.detection.nms_iou)?;
        unit("smoothing.margin", self.smoothing.margin)?;
        unit(
            "smoothing.default_threshold",
            self.smoothing.default_threshold,
        )?;
        for (k, v) in &self.smoothing.thresholds {
            unit(&format!("smoothing.thresholds.{k}"), *v)?;
        }
        let s = &self.smoothing;
        for (name, v) in [
            ("tau_ms", s.tau_ms),
            ("min_dwell_ms", s.min_dwell_ms),
            ("min_visible_ms", s.min_visible_ms),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "smoothing.{name} = {v} must be a non-negative number of milliseconds"
                ));
            }
        }
        self.overlay.validate()?;
        for (k, v) in &self.captions {
            if v.trim().is_empty() || v.chars().count() > 40 {
                return Err(format!(
                    "captions.{k}: caption must be 1 to 40 characters, got {v:?}"
                ));
            }
        }
        Ok(())
    }

    /// Checks that every class key the config names exists in the model.
    pub fn check_labels(&self, labels: &[String]) -> Result<(), String> {
        let known = |k: &str| labels.iter().any(|l| l == k);
        for k in self.smoothing.thresholds.keys() {
            if !known(k) {
                return Err(format!(
                    "smoothing.thresholds.{k}: unknown class; the model's classes are {}",
                    labels.join(", ")
                ));
            }
        }
        for k in self.captions.keys() {
            if !known(k) && k != "unsure" && k != "no_face" {
                return Err(format!(
                    "captions.{k}: unknown class; use one of {}, unsure, no_face",
                    labels.join(", ")
                ));
            }
        }
        Ok(())
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
    fn out_of_range_threshold_is_rejected() {
        let err = Config::parse("[smoothing.thresholds]\nanger = 1.5\n", Path::new("x.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("outside [0, 1]"), "{err}");
    }
}
