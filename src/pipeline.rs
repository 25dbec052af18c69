//! One frame through every stage: detect → crop → classify → track → smooth → caption.
//! The detector runs only when [`crate::schedule`] says so; on other frames the crops
//! are placed from the tracked faces.
//!
//! Single-threaded and deterministic: the same frames give the same results, which
//! is what makes replay tests byte-for-byte comparable. Threads for live capture wrap
//! this type; they do not live in it. It reads no settings or wording files: it takes
//! plain options and a [`Wording`], and whoever watches the wording file for edits
//! hands a new one over between frames ([`Pipeline::set_wording`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::Frame;
use crate::caption::{UNSURE, Wording};
use crate::classify::Classifier;
use crate::color::Rgba;
use crate::detect::{Detection, Detector, DetectorOptions, Rect};
use crate::frame::Luma;
use crate::onnx::ModelError;
use crate::quality::{self, Quality, QualityOptions, QualityTrack};
use crate::schedule::{
    ALIGN_RADIUS, ScheduleOptions, Scheduler, TrackedFace, align, crop_change, match_exposure,
};
use crate::smooth::{Shown, Smoother, SmoothingOptions};
use crate::speech::{MouthMotion, SpeechOptions, mouth_openness};
use crate::track::{TrackUpdate, Tracker, TrackerOptions};

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
    /// Overlap (IoU) above which candidate boxes merge into one face, in (0, 1).
    pub nms_iou: f32,
    /// Ignore faces narrower than this many pixels.
    pub min_face_px: f32,
    /// Run the detector at least every this many frames, and classify the frames
    /// between on crops placed from the tracked faces ([`crate::schedule`]); 1 runs it
    /// on every frame.
    pub every_frames: u32,
    /// Run it when a tracked face is within this many box widths of a frame edge.
    pub edge_margin: f32,
    /// Run it when a tracked crop, lined up with the crop at the face's last detection
    /// and matched to its exposure, still differs from it by more than this mean
    /// absolute difference, in gray levels.
    pub max_crop_change: f32,
}

impl Default for DetectionOptions {
    fn default() -> Self {
        DetectionOptions {
            min_score: 0.5,
            nms_iou: 0.3,
            min_face_px: 16.0,
            every_frames: 5,
            edge_margin: 0.1,
            max_crop_change: 12.0,
        }
    }
}

/// What the stages are set up with (the settings file's `[models]`, `[detection]`,
/// `[tracking]`, `[smoothing]`, `[speech]` and `[quality]`), detached from the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PipelineOptions {
    /// Model files.
    pub models: ModelPaths,
    /// Face detector and its schedule.
    pub detection: DetectionOptions,
    /// Tracker settings.
    pub tracking: TrackerOptions,
    /// Temporal smoothing and abstention; the wording's `min_confidence` values
    /// replace its thresholds.
    pub smoothing: SmoothingOptions,
    /// Talking faces: more confidence for mouth-borne emotions.
    pub speech: SpeechOptions,
    /// Poor views: more confidence for every emotion.
    pub quality: QualityOptions,
}

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
    /// How well the face's crop shows it, averaged over the last moments (`None`
    /// while coasting before its first crop).
    pub quality: Option<Quality>,
    /// That view is poor (`[quality]`): a caption not yet shown needed more confidence.
    pub poor_view: bool,
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
    /// Whether the detector ran on this frame (false where the schedule carried every
    /// face): what `emocue bench --clip` counts.
    pub detector_ran: bool,
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
    /// Per track, how well its recent crops show the face (`[quality]`).
    qualities: HashMap<u64, QualityTrack>,
    schedule: Scheduler,
    /// Per track, the crop at its latest detection: what a tracked crop is compared
    /// with to decide whether the detector must look again.
    references: HashMap<u64, Vec<f32>>,
    /// Per class, what `[speech]` adds to its threshold while a face talks.
    talking_extra: Vec<f32>,
    /// Per class, what `[speech]` adds to its wait before "not sure" while a face talks.
    talking_unsure_dwell: Vec<f64>,
    /// Per class, what `[quality]` adds to its threshold while a face's view is poor.
    poor_extra: Vec<f32>,
    /// Per track, the view its face was last classified in (mirrored or not), when,
    /// and that view's logits (`[smoothing] alternate_mirror`).
    views: HashMap<u64, (bool, f64, Vec<f32>)>,
    options: PipelineOptions,
    wording: Wording,
}

/// The oldest other view (ms) [`Pipeline::classify_paired`] pairs a face's view with:
/// a few frames at any camera rate; older, the face may have changed.
const PAIR_MAX_MS: f64 = 250.0;

/// Resolves a configured model path: as given, else relative to the source tree.
pub fn resolve_model(path: &std::path::Path) -> std::path::PathBuf {
    match path.to_str() {
        Some(s) => crate::bundled_path(s),
        None => path.to_owned(),
    }
}

impl Pipeline {
    /// Loads both models. Until [`Pipeline::set_wording`] each caption is its key.
    pub fn new(options: PipelineOptions) -> Result<Self, ModelError> {
        let d = &options.detection;
        let detector = Detector::load(
            &resolve_model(&options.models.detector),
            DetectorOptions {
                min_score: d.min_score,
                nms_iou: d.nms_iou,
                min_face_px: d.min_face_px,
            },
        )?;
        let classifier = Classifier::load(&resolve_model(&options.models.classifier))?;
        let talking_extra = options.speech.extra_for(classifier.labels());
        let talking_unsure_dwell = options.speech.unsure_dwell_for(classifier.labels());
        let poor_extra = options.quality.extra(classifier.labels().len());
        Ok(Pipeline {
            detector,
            classifier,
            tracker: Tracker::new(options.tracking.clone()),
            smoothers: HashMap::new(),
            mouths: HashMap::new(),
            qualities: HashMap::new(),
            schedule: Scheduler::new(ScheduleOptions {
                every_frames: d.every_frames,
                edge_margin: d.edge_margin,
                max_crop_change: d.max_crop_change,
                new_face_ms: options.speech.window_ms,
            }),
            references: HashMap::new(),
            talking_extra,
            talking_unsure_dwell,
            poor_extra,
            views: HashMap::new(),
            options,
            wording: Wording::default(),
        })
    }

    /// The wording in use.
    pub fn wording(&self) -> &Wording {
        &self.wording
    }

    /// Uses new wording from the next frame on; faces keep their smoothing history
    /// and take the new thresholds. The caller checks that it covers every class
    /// (a key it lacks is captioned with the key itself).
    pub fn set_wording(&mut self, wording: Wording) {
        self.options.smoothing.thresholds = wording.thresholds();
        let labels = self.classifier.labels();
        for s in self.smoothers.values_mut() {
            s.set_thresholds(&self.options.smoothing, labels);
        }
        self.wording = wording;
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

    /// What a face in a still photo is captioned: its leading class when that class's
    /// threshold (the wording's `min_confidence`) is met, else "not sure", as live
    /// video decides, but with no history to smooth, dwell on or hold. A poor view
    /// (`[quality]`, [`quality::measure`] of its crop) asks more confidence, as live.
    pub fn still_shown(&self, probs: &[f32], quality: Option<Quality>) -> Shown {
        let Some(best) = crate::classify::argmax(probs) else {
            return Shown::Nothing;
        };
        let opts = &self.options.smoothing;
        let threshold = self
            .labels()
            .get(best)
            .and_then(|k| opts.thresholds.get(k))
            .copied()
            .unwrap_or(opts.default_threshold);
        let q = &self.options.quality;
        let extra = if quality.is_some_and(|v| q.poor(v)) {
            q.extra_confidence
        } else {
            0.0
        };
        if probs[best] >= threshold + extra {
            Shown::Label(best)
        } else {
            Shown::Unsure
        }
    }

    /// Caption text and profile colour for a state.
    pub fn caption_style(&self, shown: Shown) -> Option<(String, Option<Rgba>)> {
        let key = match shown {
            Shown::Nothing => return None,
            Shown::Unsure => UNSURE,
            Shown::Label(i) => self.classifier.labels().get(i)?.as_str(),
        };
        match self.wording.label(key) {
            Some(l) if !l.shown => None,
            Some(l) => Some((l.text.clone(), l.color)),
            None => Some((key.to_string(), None)),
        }
    }

    /// Crops placed from the tracked faces, when the schedule lets this frame go
    /// without the detector: `None` means run it.
    fn tracked_crops(&self, frame: &Frame, luma: &Luma) -> Option<(Vec<Detection>, Vec<Vec<f32>>)> {
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
        let mut dets = dets;
        let mut crops: Vec<Vec<f32>> = dets.iter().map(|d| spec.crop(luma, d)).collect();
        // Where each face moved off its carried place (shift, turn, size): line the
        // crop up with the one at the face's last detection, and cut it again there.
        for ((tr, det), crop) in self.tracker.tracks().iter().zip(&mut dets).zip(&mut crops) {
            let Some(reference) = self.references.get(&tr.id) else {
                continue;
            };
            let Some(matched) = match_exposure(reference, crop) else {
                continue;
            };
            let Some(motion) = align(reference, &matched, spec.size, ALIGN_RADIUS) else {
                continue;
            };
            if motion.matters(spec.size) {
                *det = spec.moved_face(det, &motion);
                *crop = spec.crop(luma, det);
            }
        }
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

    /// Probabilities for each crop from one network image a face: this frame's view
    /// (the crop, or its mirror image, by turns) averaged in logit space with the
    /// other view its track saw on the frame before, as the model's mirror averaging
    /// asks (`tta_flip`) at half its cost. A face without a recent other view (new,
    /// or back after `PAIR_MAX_MS`) gets both views now.
    fn classify_paired(
        &mut self,
        t: f64,
        crops: &[Vec<f32>],
        updates: &[TrackUpdate],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        // Per crop: its track, and that track's last view if recent enough to pair with.
        let ids: Vec<Option<u64>> = (0..crops.len())
            .map(|i| {
                updates
                    .iter()
                    .find(|u| u.detection == Some(i))
                    .map(|u| u.id)
            })
            .collect();
        let last: Vec<Option<&(bool, f64, Vec<f32>)>> = ids
            .iter()
            .map(|id| {
                id.and_then(|id| self.views.get(&id))
                    .filter(|(_, at, _)| t >= *at && t - at <= PAIR_MAX_MS)
            })
            .collect();
        let mut batch: Vec<&[f32]> = Vec::with_capacity(crops.len() * 2);
        let mut flags = Vec::with_capacity(crops.len() * 2);
        let mut view = Vec::with_capacity(crops.len());
        for (c, l) in crops.iter().zip(&last) {
            let mirrored = l.is_some_and(|(m, _, _)| !m);
            view.push(mirrored);
            batch.push(c);
            flags.push(mirrored);
            if l.is_none() {
                batch.push(c);
                flags.push(!mirrored);
            }
        }
        let mut logits = self.classifier.view_logits(&batch, &flags)?.into_iter();
        let mut probs = Vec::with_capacity(crops.len());
        let mut now = Vec::with_capacity(crops.len());
        for (l, &mirrored) in last.iter().zip(&view) {
            let this = logits.next().unwrap_or_default();
            let other = match l {
                Some((_, _, prev)) => prev.clone(),
                None => logits.next().unwrap_or_default(),
            };
            let mean: Vec<f32> = this
                .iter()
                .zip(&other)
                .map(|(a, b)| 0.5 * (a + b))
                .collect();
            probs.push(self.classifier.probabilities(&mean)?);
            now.push((mirrored, this));
        }
        for (id, (mirrored, this)) in ids.into_iter().zip(now) {
            if let Some(id) = id {
                self.views.insert(id, (mirrored, t, this));
            }
        }
        Ok(probs)
    }

    /// Runs every stage on one frame.
    pub fn process(&mut self, frame: &Frame) -> Result<FrameResult, ModelError> {
        let t0 = Instant::now();
        // With the detector on every frame the luma plane is made after it, as
        // before the schedule existed (so `detect_ms` means the same).
        let mut luma = None;
        let tracked = if self.schedule.skips() {
            let l = luma.insert(frame.luma_plane());
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
                let luma = luma.get_or_insert_with(|| frame.luma_plane());
                let crops: Vec<Vec<f32>> = dets.iter().map(|d| spec.crop(luma, d)).collect();
                (dets, crops, t1)
            }
        };
        self.schedule.record(!carried);

        // Tracking before classifying: with `alternate_mirror` a face's view pairs
        // with the one its track saw last.
        let t = frame.timestamp_ms;
        let t_track = Instant::now();
        let updates = if carried {
            self.tracker.follow(t, &dets)
        } else {
            self.tracker.update(t, &dets)
        };
        let track_ms = t_track.elapsed().as_secs_f64() * 1000.0;
        let t_classify = Instant::now();
        let probs = if crops.is_empty() {
            Vec::new()
        } else if self.options.smoothing.alternate_mirror && self.classifier.contract().flip {
            self.classify_paired(t, &crops, &updates)?
        } else {
            self.classifier.classify(&crops)?
        };
        let t2 = Instant::now();

        let labels = self.classifier.labels().to_vec();
        self.views
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        self.smoothers
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        self.mouths
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        self.qualities
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        self.references
            .retain(|id, _| updates.iter().any(|u| u.id == *id));
        let mut faces = Vec::with_capacity(updates.len());
        for u in &updates {
            let crop = u.detection.and_then(|i| crops.get(i));
            if !carried && let Some(c) = crop {
                self.references.insert(u.id, c.clone());
            }
            let mouth = self.mouths.entry(u.id).or_default();
            let openness = crop.and_then(|c| mouth_openness(c, spec.size));
            let talking = mouth.update(t, openness, &self.options.speech);
            let view = self.qualities.entry(u.id).or_default();
            let s = &self.options.smoothing;
            let poor_view = view.update(
                t,
                crop.and_then(|c| quality::measure(c, spec.size)),
                s.tau_ms * s.steadiness,
                &self.options.quality,
            );
            let sm = self
                .smoothers
                .entry(u.id)
                .or_insert_with(|| Smoother::new(&self.options.smoothing, &labels));
            if talking {
                sm.set_extra(
                    &self.talking_extra,
                    self.options.speech.extra_dwell_ms,
                    &self.talking_unsure_dwell,
                );
            } else {
                sm.set_extra(&[], 0.0, &[]);
            }
            sm.set_show_extra(if poor_view { &self.poor_extra } else { &[] });
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
                quality: view.quality(),
                poor_view,
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
                classify_ms: ms(t1, t_track) + ms(t_classify, t2),
                track_ms: track_ms + ms(t2, t3),
                total_ms: ms(t0, t3),
                detector_ran: !carried,
            },
        })
    }
}
