//! Telling a talking face from a held expression.
//!
//! A still-image classifier sees an open mouth on a vowel as surprise or fear, so a
//! person who is simply talking would get "looks surprised" several times a minute.
//! Speech opens and closes the mouth many times a second; a held expression keeps
//! it still. This stage measures how open the mouth is in each face crop (the
//! classifier's own crop, already upright and framed the same way every frame) and
//! calls the face *talking* when that openness varies over the last second. The
//! smoother then asks more of the mouth-borne emotions while the face talks.
//!
//! BlazeFace's mouth keypoint was tried first and does not work: over a second its
//! spread is the same on a still photo with simulated camera motion as on people
//! talking (docs/results.md, "Talking").

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::diag::Limit;

/// Speech-aware caption settings (config section `[speech]`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechOptions {
    /// Turns the stage off: every face counts as not talking.
    pub enabled: bool,
    /// How far back mouth movement is measured, in ms.
    pub window_ms: f64,
    /// Spread of mouth openness (in units of the crop's own contrast) above which a
    /// face counts as talking.
    pub min_motion: f32,
    /// A face keeps counting as talking this long (ms) after its mouth last moved
    /// like speech: pauses between words are part of talking.
    pub hold_ms: f64,
    /// Emotions that an open mouth mimics, by class key.
    pub mouth_borne: Vec<String>,
    /// Added to a mouth-borne emotion's `min_confidence` while the face talks.
    pub extra_confidence: f32,
    /// Added to a mouth-borne emotion's dwell while the face talks, in ms: a vowel
    /// held for a second is not surprise.
    pub extra_dwell_ms: f64,
    /// Captions (class keys) that, while the face talks, wait longer before they fall
    /// back to "not sure": words pull a calm face out of calm for a moment, most of
    /// all in a dim room or on a soft camera, and a caption that blinks "not sure" at
    /// each phrase pulls the wearer's eyes to the text. Not emotions: one read wrongly
    /// should give way to "not sure" as soon as it can.
    pub steady_while_talking: Vec<String>,
    /// How much longer (ms) those captions wait.
    pub extra_unsure_dwell_ms: f64,
}

impl Default for SpeechOptions {
    fn default() -> Self {
        SpeechOptions {
            enabled: true,
            window_ms: 1000.0,
            min_motion: 0.08,
            hold_ms: 1500.0,
            mouth_borne: vec!["surprise".into(), "fear".into()],
            extra_confidence: 0.25,
            extra_dwell_ms: 1000.0,
            steady_while_talking: vec!["neutral".into()],
            extra_unsure_dwell_ms: 1000.0,
        }
    }
}

impl SpeechOptions {
    /// The allowed range of each number in `[speech]`.
    pub const LIMITS: [Limit; 6] = [
        Limit::new(
            "speech.window_ms",
            100.0,
            10_000.0,
            " ms",
            "how far back mouth movement is measured",
        ),
        Limit::new(
            "speech.min_motion",
            0.0,
            10.0,
            "",
            "mouth movement above which a face counts as talking",
        ),
        Limit::new(
            "speech.hold_ms",
            0.0,
            10_000.0,
            " ms",
            "how long a face counts as talking after its mouth last moved",
        ),
        Limit::new(
            "speech.extra_dwell_ms",
            0.0,
            10_000.0,
            " ms",
            "how much longer mouth-borne emotions must lead while the face talks",
        ),
        Limit::new(
            "speech.extra_unsure_dwell_ms",
            0.0,
            10_000.0,
            " ms",
            "how much longer a talking face's steady captions wait before \"not sure\"",
        ),
        Limit::new(
            "speech.extra_confidence",
            0.0,
            1.0,
            "",
            "added to mouth-borne emotions' min_confidence while the face talks",
        ),
    ];

    /// Every value outside its range, one message each starting with the dotted key
    /// (which `Config::parse` turns into a line and column).
    pub fn problems(&self) -> Vec<String> {
        let [window, motion, hold, dwell, unsure_dwell, extra] = &Self::LIMITS;
        let mut out: Vec<String> = [
            window.check(self.window_ms),
            motion.check(self.min_motion),
            hold.check(self.hold_ms),
            dwell.check(self.extra_dwell_ms),
            unsure_dwell.check(self.extra_unsure_dwell_ms),
            extra.check(self.extra_confidence),
        ]
        .into_iter()
        .flatten()
        .collect();
        if self.mouth_borne.len() > 16 || self.mouth_borne.iter().any(|k| k.trim().is_empty()) {
            out.push(
                "speech.mouth_borne must list at most 16 emotion keys, none empty, \
                 e.g. [\"surprise\", \"fear\"]"
                    .into(),
            );
        }
        if self.steady_while_talking.len() > 16
            || self
                .steady_while_talking
                .iter()
                .any(|k| k.trim().is_empty())
        {
            out.push(
                "speech.steady_while_talking must list at most 16 emotion keys, none \
                 empty, e.g. [\"neutral\"]"
                    .into(),
            );
        }
        out
    }

    /// How much longer (ms) each shown class (in model order) waits before "not sure"
    /// while the face talks.
    pub fn unsure_dwell_for(&self, labels: &[String]) -> Vec<f64> {
        per_class(
            labels,
            &self.steady_while_talking,
            self.extra_unsure_dwell_ms,
        )
    }

    /// The extra confidence each class (in model order) needs while the face talks.
    pub fn extra_for(&self, labels: &[String]) -> Vec<f32> {
        per_class(labels, &self.mouth_borne, self.extra_confidence)
    }
}

/// `value` for each class of `labels` named in `keys`, zero for the others.
fn per_class<T: Copy + Default>(labels: &[String], keys: &[String], value: T) -> Vec<T> {
    labels
        .iter()
        .map(|l| {
            if keys.contains(l) {
                value
            } else {
                T::default()
            }
        })
        .collect()
}

/// How open the mouth is in a square gray crop (row-major `size × size`): the dark
/// band an open mouth makes, as the gap between the median and the darkest row of
/// the mouth region, in units of the crop's own contrast (so lighting and exposure
/// do not matter). The region is where the classifier's framing puts the mouth
/// (rows 62–94 %, columns 36–64 % of the crop).
pub fn mouth_openness(crop: &[f32], size: usize) -> Option<f32> {
    if size < 8 || crop.len() != size * size {
        return None;
    }
    let n = crop.len() as f32;
    let mean = crop.iter().sum::<f32>() / n;
    let var = crop.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let std = var.sqrt();
    if !std.is_finite() || std < 1e-3 {
        return None;
    }
    let at = |f: f32| ((f * size as f32) as usize).min(size);
    let (r0, r1, c0, c1) = (at(0.62), at(0.94), at(0.36), at(0.64));
    if r1 <= r0 || c1 <= c0 {
        return None;
    }
    let mut rows: Vec<f32> = (r0..r1)
        .map(|r| {
            let row = &crop[r * size + c0..r * size + c1];
            (row.iter().sum::<f32>() / row.len() as f32 - mean) / std
        })
        .collect();
    let darkest = rows.iter().copied().fold(f32::INFINITY, f32::min);
    rows.sort_by(f32::total_cmp);
    let median = rows[rows.len() / 2];
    Some(median - darkest)
}

/// One face's mouth over the last window: is it talking?
#[derive(Clone, Debug, Default)]
pub struct MouthMotion {
    window: VecDeque<(f64, f32)>,
    /// When the mouth last moved like speech.
    moved_ms: Option<f64>,
}

impl MouthMotion {
    /// Adds this frame's openness (from [`mouth_openness`]) at time `t_ms`, forgetting
    /// what is older than `window_ms`.
    pub fn push(&mut self, t_ms: f64, openness: f32, window_ms: f64) {
        if !openness.is_finite() {
            return;
        }
        while self
            .window
            .front()
            .is_some_and(|&(t, _)| t < t_ms - window_ms || t > t_ms)
        {
            self.window.pop_front();
        }
        // Bounded whatever the frame rate: a second at 1000 fps at most.
        if self.window.len() >= 1024 {
            self.window.pop_front();
        }
        self.window.push_back((t_ms, openness));
    }

    /// Spread (standard deviation) of openness over the window; `None` with fewer than
    /// five frames, too few to tell.
    pub fn motion(&self) -> Option<f32> {
        if self.window.len() < 5 {
            return None;
        }
        let n = self.window.len() as f32;
        let mean = self.window.iter().map(|&(_, v)| v).sum::<f32>() / n;
        let var = self
            .window
            .iter()
            .map(|&(_, v)| (v - mean) * (v - mean))
            .sum::<f32>()
            / n;
        Some(var.sqrt())
    }

    /// Takes this frame's openness (`None` while the track coasts) and says whether
    /// the face is talking: its mouth moved like speech over the window, now or
    /// within the last `hold_ms`.
    pub fn update(&mut self, t_ms: f64, openness: Option<f32>, opts: &SpeechOptions) -> bool {
        if !opts.enabled {
            return false;
        }
        if let Some(o) = openness {
            self.push(t_ms, o, opts.window_ms);
        }
        if self.motion().is_some_and(|m| m > opts.min_motion) {
            self.moved_ms = Some(t_ms);
        }
        self.moved_ms
            .is_some_and(|m| t_ms >= m && t_ms - m <= opts.hold_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 48x48 face-like crop with a dark mouth band `open` rows tall.
    fn face(open: usize) -> Vec<f32> {
        let s = 48;
        let mut c = vec![150.0; s * s];
        for r in 0..s {
            for col in 0..s {
                // eyes, for some contrast elsewhere
                if (14..18).contains(&r) && ((10..18).contains(&col) || (30..38).contains(&col)) {
                    c[r * s + col] = 60.0;
                }
                if (36..36 + open).contains(&r) && (18..30).contains(&col) {
                    c[r * s + col] = 40.0;
                }
            }
        }
        c
    }

    #[test]
    fn an_open_mouth_is_more_open_than_a_closed_one() {
        let closed = mouth_openness(&face(0), 48).unwrap();
        let open = mouth_openness(&face(6), 48).unwrap();
        assert!(open > closed + 0.5, "open {open}, closed {closed}");
        assert_eq!(mouth_openness(&[1.0; 10], 48), None, "wrong length");
        assert_eq!(mouth_openness(&vec![7.0; 48 * 48], 48), None, "flat crop");
    }

    #[test]
    fn speech_is_motion_and_a_held_expression_is_not() {
        let opts = SpeechOptions::default();
        let (mut talk, mut held) = (MouthMotion::default(), MouthMotion::default());
        let (mut talking, mut holding) = (false, false);
        for i in 0..50 {
            let t = f64::from(i) * 40.0;
            // The mouth opens and closes about four times a second while talking.
            let o = if (i / 3) % 2 == 0 { 0 } else { 5 };
            talking = talk.update(t, mouth_openness(&face(o), 48), &opts);
            // A held surprise: mouth open and still.
            holding = held.update(t, mouth_openness(&face(6), 48), &opts);
        }
        assert!(talking, "{:?}", talk.motion());
        assert!(!holding, "{:?}", held.motion());
        // A pause between words is still talking; a long silence is not.
        let still = mouth_openness(&face(0), 48);
        assert!(talk.update(2000.0 + 1400.0, still, &opts));
        let mut t = 3400.0;
        while t < 6000.0 {
            talking = talk.update(t, still, &opts);
            t += 40.0;
        }
        assert!(!talking, "{:?}", talk.motion());
        let off = SpeechOptions {
            enabled: false,
            ..SpeechOptions::default()
        };
        assert!(!talk.update(t, Some(5.0), &off));
    }

    #[test]
    fn the_window_forgets_old_frames_and_needs_five() {
        let mut m = MouthMotion::default();
        for i in 0..4 {
            m.push(f64::from(i) * 40.0, 1.0, 1000.0);
        }
        assert_eq!(m.motion(), None);
        m.push(5000.0, 1.0, 1000.0);
        assert_eq!(m.window.len(), 1, "older than a second is gone");
    }

    #[test]
    fn extra_confidence_goes_to_mouth_borne_classes_only_and_the_longer_wait_to_calm() {
        let labels: Vec<String> = ["neutral", "surprise", "fear", "happiness"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = SpeechOptions::default();
        assert_eq!(o.extra_for(&labels), vec![0.0, 0.25, 0.25, 0.0]);
        assert_eq!(o.unsure_dwell_for(&labels), vec![1000.0, 0.0, 0.0, 0.0]);
    }
}
