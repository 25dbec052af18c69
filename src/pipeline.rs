//! One frame through every stage: detect → crop → classify → track → smooth → caption.
//! The detector runs only when [`crate::schedule`] says so; on other frames the crops
//! are placed from the tracked faces.
//!
//! Single-threaded and deterministic: the same frames give the same results, which
//! is what makes replay tests byte-for-byte comparable. Threads for live capture wrap
//! this type; they do not live in it. The one outside input is the wording profile,
//! which is re-read between frames when its file is edited (hot reload), so every
//! loop that runs a pipeline picks up a clinician's edit.

use std::collections::HashMap;
use std::time::Instant;

use crate::Frame;
use crate::classify::Classifier;
use crate::config::Config;
use crate::detect::{Detection, Detector, DetectorOptions, Rect};
use crate::onnx::ModelError;
use crate::profile::{self, Profile, ProfileSource};
use crate::render::{Notice, Rgba};
use crate::schedule::{ScheduleOptions, Scheduler, TrackedFace, crop_change};
use crate::smooth::{Shown, Smoother};
use crate::speech::{MouthMotion, mouth_openness};
use crate::track::Tracker;
use crate::watch::{ConfigWatcher, Reload};

/// One face in one frame, as the overlay and the event log see it.
#[derive(Clone, Debug)]
pub struct FaceResult {
    /// Stable track id.
    pub track_id: u64,
    /// Box in frame pixels (predicted while coasting).
    pub rect: Rect,
    /// This frame's detection, `None` while coasting through a miss. On a frame the
    /// detector skipped, the track's last detection carried forward (`carried`).
    pub detection: Option<Detection>,
    /// The detector did not run: `detection` is carried forward by the track's motion.
    pub carried: bool,
    /// This frame's probabilities, `None` while coasting.
    pub raw: Option<Vec<f32>>,
    /// Time-smoothed probabilities.
    pub smoothed: Vec<f32>,
    /// The mouth moved like speech over the last second (`[speech]`), so mouth-borne
    /// emotions needed more confidence.
    pub talking: bool,
    /// Caption state.
    pub shown: Shown,
    /// Caption text, `None` when nothing is shown (also for a hidden emotion).
    pub caption: Option<String>,
    /// Caption colour from the wording profile (`None`: the overlay's default).
    pub color: Option<Rgba>,
}

/// Wall-clock time spent in each stage, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTiming {
    /// Face detection; on a frame the schedule let go without it, placing and
    /// checking the tracked crops instead.
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
    mouths: HashMap<u64, MouthMotion>,
    schedule: Scheduler,
    /// Per track, the crop at its latest detection: what a tracked crop is compared
    /// with to decide whether the detector must look again.
    references: HashMap<u64, Vec<f32>>,
    /// Per class, what `[speech]` adds to its threshold while a face talks.
    talking_extra: Vec<f32>,
    config: Config,
    profile: Profile,
    watcher: Option<ConfigWatcher<Profile>>,
    profile_error: Option<String>,
}

/// Resolves a configured model path: as given, else relative to the source tree.
pub fn resolve_model(path: &std::path::Path) -> std::path::PathBuf {
    match path.to_str() {
        Some(s) => crate::bundled_path(s),
        None => path.to_owned(),
    }
}

impl Pipeline {
    /// Loads both models and the wording profile, checks the profile against the
    /// classifier's classes, and watches the profile file for edits.
    pub fn new(mut config: Config) -> Result<Self, anyhow::Error> {
        let source = profile::resolve(&config.captions.profile)
            .map_err(|e| anyhow::anyhow!("config: captions.profile: {e}"))?;
        let (watcher, wording) = match &source {
            ProfileSource::File(p) => {
                let (w, prof) = ConfigWatcher::open(p, Profile::parse)?;
                (Some(w), prof)
            }
            ProfileSource::BuiltIn(_) => (None, Profile::from_source(&source)?),
        };
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
        wording
            .check_classes(classifier.labels())
            .map_err(|e| anyhow::anyhow!("wording profile: {e}"))?;
        config.smoothing.thresholds = wording.thresholds();
        let talking_extra = config.speech.extra_for(classifier.labels());
        Ok(Pipeline {
            detector,
            classifier,
            tracker: Tracker::new(config.tracking.clone()),
            smoothers: HashMap::new(),
            mouths: HashMap::new(),
            schedule: Scheduler::new(ScheduleOptions {
                every_frames: d.every_frames,
                edge_margin: d.edge_margin,
                max_crop_change: d.max_crop_change,
                new_face_ms: config.speech.window_ms,
            }),
            references: HashMap::new(),
            talking_extra,
            config,
            profile: wording,
            watcher,
            profile_error: None,
        })
    }

    /// The wording in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Why the last edit of the wording file was not taken (`None` once a valid
    /// version loads).
    pub fn profile_error(&self) -> Option<&str> {
        self.profile_error.as_deref()
    }

    /// Uses new wording from the next frame on; faces keep their smoothing history
    /// and take the new thresholds.
    pub fn set_profile(&mut self, wording: Profile) -> Result<(), String> {
        wording.check_classes(self.classifier.labels())?;
        self.config.smoothing.thresholds = wording.thresholds();
        let labels = self.classifier.labels();
        for s in self.smoothers.values_mut() {
            s.set_thresholds(&self.config.smoothing, labels);
        }
        self.profile = wording;
        Ok(())
    }

    /// Takes an edited wording file if it validates; otherwise keeps the last good
    /// wording, logs why, and keeps the reason for the overlay.
    fn reload_profile(&mut self) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        let path = w.path().display().to_string();
        let error = match w.poll() {
            Reload::Unchanged => return,
            Reload::Loaded(p) => self.set_profile(p).err(),
            Reload::Invalid(e) => Some(e.to_string()),
        };
        match &error {
            None => crate::note!("emocue: reloaded wording from {path}"),
            Some(e) => {
                crate::note!("emocue: wording not reloaded, keeping the last good one:\n{e}")
            }
        }
        self.profile_error = error;
    }

    /// What to show across the top of the overlay for this frame: a wording file
    /// that did not load, and the `no_face` caption while no face is in view.
    pub fn notices(&self, fr: &FrameResult) -> Vec<Notice> {
        let mut out = Vec::new();
        if let Some(e) = &self.profile_error {
            let n = e.lines().count();
            let mut first = e.lines().next().unwrap_or_default().to_string();
            // The file name is enough on a small display; the log has the full path.
            if let Some(w) = &self.watcher {
                let full = w.path().display().to_string();
                if let Some(name) = w.path().file_name() {
                    first = first.replacen(&full, &name.to_string_lossy(), 1);
                }
            }
            let more = if n > 1 {
                format!(" (+{} more)", n - 1)
            } else {
                String::new()
            };
            out.push(Notice {
                text: format!("wording not reloaded: {first}{more}"),
                color: Notice::ERROR,
            });
        }
        if fr.faces.is_empty() {
            if let Some(l) = self.profile.label(profile::NO_FACE).filter(|l| l.shown) {
                out.push(Notice {
                    text: l.text.clone(),
                    color: l.color.unwrap_or(self.config.overlay.unsure_color),
                });
            }
        }
        out
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

    /// Both models at once, for reading a still photo (`still::read_photo`).
    pub fn models_mut(&mut self) -> (&mut Detector, &mut Classifier) {
        (&mut self.detector, &mut self.classifier)
    }

    /// Caption text for a state; `None` when nothing is shown or the profile hides
    /// the emotion (a clinician who hides one wants no caption, not "not sure").
    pub fn caption(&self, shown: Shown) -> Option<String> {
        self.caption_style(shown).map(|(text, _)| text)
    }

    /// Caption text and profile colour for a state.
    pub fn caption_style(&self, shown: Shown) -> Option<(String, Option<Rgba>)> {
        let key = match shown {
            Shown::Nothing => return None,
            Shown::Unsure => profile::UNSURE,
            Shown::Label(i) => self.classifier.labels().get(i)?.as_str(),
        };
        match self.profile.label(key) {
            Some(l) if !l.shown => None,
            Some(l) => Some((l.text.clone(), l.color)),
            None => Some((key.to_string(), None)),
        }
    }

    /// Crops placed from the tracked faces, when the schedule lets this frame go
    /// without the detector: `None` means run it.
    fn tracked_crops(
        &self,
        frame: &Frame,
        luma: &crate::frame::Luma,
    ) -> Option<(Vec<Detection>, Vec<Vec<f32>>)> {
        let t = frame.timestamp_ms;
        let dets = self.tracker.carried(t);
        let faces: Vec<TrackedFace> = self
            .tracker
            .tracks()
            .iter()
            .zip(&dets)
            .map(|(tr, d)| TrackedFace {
                rect: d.rect,
                confirmed: tr.confirmed,
                lost: tr.lost,
                age_ms: t - tr.first_seen_ms,
            })
            .collect();
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        if self.schedule.before_crop(w, h, &faces).is_some() {
            return None;
        }
        let spec = self.classifier.contract().crop;
        let crops: Vec<Vec<f32>> = dets.iter().map(|d| spec.crop(luma, d)).collect();
        let changes: Vec<f32> = self
            .tracker
            .tracks()
            .iter()
            .zip(&crops)
            .map(|(tr, c)| {
                self.references
                    .get(&tr.id)
                    .map_or(f32::INFINITY, |r| crop_change(r, c))
            })
            .collect();
        if self.schedule.after_crop(&changes).is_some() {
            return None;
        }
        Some((dets, crops))
    }

    /// Runs every stage on one frame (after taking an edited wording file, if any).
    pub fn process(&mut self, frame: &Frame) -> Result<FrameResult, ModelError> {
        self.reload_profile();
        let t0 = Instant::now();
        // With the detector on every frame the luma plane is made after it, as
        // before the schedule existed (so `detect_ms` means the same).
        let mut luma = None;
        let tracked = if self.schedule.skips() {
            let l = luma.insert(frame.luma());
            self.tracked_crops(frame, l)
        } else {
            None
        };
        let carried = tracked.is_some();
        let spec = self.classifier.contract().crop;
        let (dets, crops, t1) = match tracked {
            Some((dets, crops)) => (dets, crops, Instant::now()),
            None => {
                let dets = self.detector.detect(frame)?;
                let t1 = Instant::now();
                let luma = luma.get_or_insert_with(|| frame.luma());
                let crops: Vec<Vec<f32>> = dets.iter().map(|d| spec.crop(luma, d)).collect();
                (dets, crops, t1)
            }
        };
        self.schedule.record(!carried);
        let probs = if crops.is_empty() {
            Vec::new()
        } else {
            self.classifier.classify(&crops)?
        };
        let t2 = Instant::now();

        let t = frame.timestamp_ms;
        let updates = if carried {
            self.tracker.coast(t)
        } else {
            self.tracker.update(t, &dets)
        };
        let labels = self.classifier.labels().to_vec();
        self.smoothers
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        self.mouths
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        self.references
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        let mut faces = Vec::with_capacity(updates.len());
        for u in &updates {
            if !carried {
                if let Some(c) = u.detection.and_then(|i| crops.get(i)) {
                    self.references.insert(u.id, c.clone());
                }
            }
            let mouth = self.mouths.entry(u.id).or_default();
            let openness = u
                .detection
                .and_then(|i| crops.get(i))
                .and_then(|c| mouth_openness(c, spec.size));
            let talking = mouth.update(t, openness, &self.config.speech);
            let sm = self
                .smoothers
                .entry(u.id)
                .or_insert_with(|| Smoother::new(&self.config.smoothing, &labels));
            if talking {
                sm.set_extra(&self.talking_extra, self.config.speech.extra_dwell_ms);
            } else {
                sm.set_extra(&[], 0.0);
            }
            let raw = u.detection.and_then(|i| probs.get(i).cloned());
            let shown = match &raw {
                Some(p) => sm.update(t, p),
                None => sm.tick(t),
            };
            let shown = if u.confirmed { shown } else { Shown::Nothing };
            faces.push(FaceResult {
                track_id: u.id,
                rect: u.rect,
                detection: u.detection.and_then(|i| dets.get(i).cloned()),
                carried: carried && u.detection.is_some(),
                raw,
                smoothed: sm.probs().to_vec(),
                talking,
                shown,
                caption: None,
                color: None,
            });
        }
        for f in &mut faces {
            let style = self.caption_style(f.shown);
            f.color = style.as_ref().and_then(|s| s.1);
            f.caption = style.map(|s| s.0);
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
