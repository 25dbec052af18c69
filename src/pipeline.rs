//! One frame through every stage: detect → crop → classify → track → smooth → caption.
//!
//! Single-threaded and deterministic: the same frames give the same results, which
//! is what makes replay tests byte-for-byte comparable. Threads for live capture wrap
//! this type; they do not live in it.

use std::collections::HashMap;
use std::time::Instant;

use crate::Frame;
use crate::classify::Classifier;
use crate::config::Config;
use crate::detect::{Detection, Detector, DetectorOptions, Rect};
use crate::onnx::ModelError;
use crate::smooth::{Shown, Smoother};
use crate::track::Tracker;

/// One face in one frame, as the overlay and the event log see it.
#[derive(Clone, Debug)]
pub struct FaceResult {
    /// Stable track id.
    pub track_id: u64,
    /// Box in frame pixels (predicted while coasting).
    pub rect: Rect,
    /// This frame's detection, `None` while coasting through a miss.
    pub detection: Option<Detection>,
    /// This frame's probabilities, `None` while coasting.
    pub raw: Option<Vec<f32>>,
    /// Time-smoothed probabilities.
    pub smoothed: Vec<f32>,
    /// Caption state.
    pub shown: Shown,
    /// Caption text, `None` when nothing is shown.
    pub caption: Option<String>,
}

/// Wall-clock time spent in each stage, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTiming {
    /// Face detection.
    pub detect_ms: f64,
    /// Cropping and classification.
    pub classify_ms: f64,
    /// Tracking and smoothing.
    pub track_ms: f64,
    /// The whole frame.
    pub total_ms: f64,
}

/// The pipeline's answer for one frame.
#[derive(Clone, Debug)]
pub struct FrameResult {
    /// Frame number.
    pub index: u64,
    /// Frame time.
    pub timestamp_ms: f64,
    /// Tracked faces, by track id.
    pub faces: Vec<FaceResult>,
    /// Stage latencies.
    pub timing: StageTiming,
}

/// Detector, classifier, tracker and per-face smoothers, with their settings.
pub struct Pipeline {
    detector: Detector,
    classifier: Classifier,
    tracker: Tracker,
    smoothers: HashMap<u64, Smoother>,
    config: Config,
}

/// Resolves a configured model path: as given, else relative to the source tree.
pub fn resolve_model(path: &std::path::Path) -> std::path::PathBuf {
    match path.to_str() {
        Some(s) => crate::bundled_path(s),
        None => path.to_owned(),
    }
}

impl Pipeline {
    /// Loads both models and checks the config against the classifier's classes.
    pub fn new(config: Config) -> Result<Self, anyhow::Error> {
        let d = &config.detection;
        let detector = Detector::load(
            &resolve_model(&config.models.detector),
            DetectorOptions {
                min_score: d.min_score,
                nms_iou: d.nms_iou,
                min_face_px: d.min_face_px,
            },
        )?;
        let classifier = Classifier::load(&resolve_model(&config.models.classifier))?;
        config
            .check_labels(classifier.labels())
            .map_err(|e| anyhow::anyhow!("config: {e}"))?;
        Ok(Pipeline {
            detector,
            classifier,
            tracker: Tracker::new(config.tracking.clone()),
            smoothers: HashMap::new(),
            config,
        })
    }

    /// Class keys in output order.
    pub fn labels(&self) -> &[String] {
        self.classifier.labels()
    }

    /// The classifier, for one-off use (e.g. `classify`).
    pub fn classifier_mut(&mut self) -> &mut Classifier {
        &mut self.classifier
    }

    /// The detector, for one-off use.
    pub fn detector_mut(&mut self) -> &mut Detector {
        &mut self.detector
    }

    /// Caption text for a state.
    pub fn caption(&self, shown: Shown) -> Option<String> {
        let key = match shown {
            Shown::Nothing => return None,
            Shown::Unsure => "unsure",
            Shown::Label(i) => self.classifier.labels().get(i)?.as_str(),
        };
        Some(
            self.config
                .captions
                .get(key)
                .cloned()
                .unwrap_or_else(|| format!("looks {key}")),
        )
    }

    /// Runs every stage on one frame.
    pub fn process(&mut self, frame: &Frame) -> Result<FrameResult, ModelError> {
        let t0 = Instant::now();
        let dets = self.detector.detect(frame)?;
        let t1 = Instant::now();

        let luma = frame.luma();
        let spec = self.classifier.contract().crop;
        let crops: Vec<Vec<f32>> = dets.iter().map(|d| spec.crop(&luma, d)).collect();
        let probs = if crops.is_empty() {
            Vec::new()
        } else {
            self.classifier.classify(&crops)?
        };
        let t2 = Instant::now();

        let t = frame.timestamp_ms;
        let updates = self.tracker.update(t, &dets);
        let labels = self.classifier.labels().to_vec();
        self.smoothers
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        let mut faces = Vec::with_capacity(updates.len());
        for u in &updates {
            let sm = self
                .smoothers
                .entry(u.id)
                .or_insert_with(|| Smoother::new(&self.config.smoothing, &labels));
            let raw = u.detection.map(|i| probs[i].clone());
            let shown = match &raw {
                Some(p) => sm.update(t, p),
                None => sm.tick(t),
            };
            let shown = if u.confirmed { shown } else { Shown::Nothing };
            faces.push(FaceResult {
                track_id: u.id,
                rect: u.rect,
                detection: u.detection.map(|i| dets[i].clone()),
                raw,
                smoothed: sm.probs().to_vec(),
                shown,
                caption: None,
            });
        }
        for f in &mut faces {
            f.caption = self.caption(f.shown);
        }
        faces.sort_by_key(|f| f.track_id);
        let t3 = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
        Ok(FrameResult {
            index: frame.index,
            timestamp_ms: t,
            faces,
            timing: StageTiming {
                detect_ms: ms(t0, t1),
                classify_ms: ms(t1, t2),
                track_ms: ms(t2, t3),
                total_ms: ms(t0, t3),
            },
        })
    }
}
