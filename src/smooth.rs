//! Per-face temporal smoothing: what the wearer actually sees.
//!
//! A wrong caption misleads exactly the person who relies on it, and a flickering
//! one is worse than none. So probabilities are averaged over time (exponentially,
//! with a time constant in ms so the frame rate does not matter), a new label must
//! lead the shown one by a margin for a minimum dwell before it replaces it, a face
//! whose leading class is under that class's threshold is shown as `unsure`, and a
//! face seen only briefly shows nothing at all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Smoothing settings (config section `[smoothing]`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SmoothingOptions {
    /// Time constant of the exponential average of probabilities, in ms.
    pub tau_ms: f64,
    /// A new label must beat the shown one by this much probability.
    pub margin: f32,
    /// ... continuously for this long (ms) before the caption changes.
    pub min_dwell_ms: f64,
    /// A face must be tracked this long (ms) before any caption appears.
    pub min_visible_ms: f64,
    /// Leading probability under which a face is `unsure`, for classes without
    /// their own threshold.
    pub default_threshold: f32,
    /// A shown emotion stays while its probability is within this of its threshold
    /// (hysteresis), so a face hovering at the threshold does not blink between the
    /// emotion and "not sure".
    pub hold_margin: f32,
    /// An emotion must stay under its threshold this long (ms) before the caption
    /// falls back to "not sure": a brief dip is not a change.
    pub unsure_dwell_ms: f64,
    /// One knob for speed against steadiness: multiplies `tau_ms`, `min_dwell_ms` and
    /// `unsure_dwell_ms` (1 = as set; 2 = twice as steady and about twice as slow).
    pub steadiness: f64,
    /// In video, classify each face in one view a frame, the crop and its mirror image
    /// by turns, where the model asks for both (`tta_flip`), and average each view's
    /// logits with the other view of the face's frame before: the model's mirror
    /// averaging at half the classifier's cost. Still photos always take both views.
    pub alternate_mirror: bool,
    /// Per-class thresholds by class key. Not a setting: they are the wording
    /// profile's `min_confidence` values, which the pipeline copies in, because the
    /// clinician who words a caption also decides how sure it must be.
    #[serde(skip)]
    pub thresholds: BTreeMap<String, f32>,
}

impl Default for SmoothingOptions {
    fn default() -> Self {
        SmoothingOptions {
            tau_ms: 300.0,
            margin: 0.1,
            min_dwell_ms: 400.0,
            min_visible_ms: 300.0,
            default_threshold: 0.45,
            hold_margin: 0.12,
            unsure_dwell_ms: 1000.0,
            steadiness: 1.0,
            alternate_mirror: true,
            thresholds: BTreeMap::new(),
        }
    }
}

/// What a face's caption currently says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Too new to caption.
    Nothing,
    /// Seen long enough, but no class is convincing.
    Unsure,
    /// A class index of the model.
    Label(usize),
}

/// State of one face.
#[derive(Clone, Debug)]
pub struct Smoother {
    thresholds: Vec<f32>,
    /// Added to `thresholds` for now, to show and to hold (the speech stage's ask
    /// while a face talks).
    extra: Vec<f32>,
    /// Added to the dwell of the classes `extra` raises, in ms.
    extra_dwell_ms: f64,
    /// Added, per shown class (model order; empty = none), to the dwell before it
    /// falls back to "not sure", in ms (the speech stage's allowance for a talking
    /// face's dips).
    extra_unsure_dwell_ms: Vec<f64>,
    /// Added to `thresholds` to show a new caption only (the quality stage's ask
    /// while the face's view is poor).
    show_extra: Vec<f32>,
    opts: SmoothingOptions,
    probs: Vec<f32>,
    first_ms: Option<f64>,
    last_ms: f64,
    shown: Shown,
    candidate: Shown,
    candidate_since: f64,
}

impl Smoother {
    /// A smoother for a model with these class keys.
    pub fn new(opts: &SmoothingOptions, labels: &[String]) -> Self {
        Smoother {
            thresholds: Self::class_thresholds(opts, labels),
            extra: Vec::new(),
            extra_dwell_ms: 0.0,
            extra_unsure_dwell_ms: Vec::new(),
            show_extra: Vec::new(),
            opts: opts.clone(),
            probs: Vec::new(),
            first_ms: None,
            last_ms: 0.0,
            shown: Shown::Nothing,
            candidate: Shown::Nothing,
            candidate_since: 0.0,
        }
    }

    fn class_thresholds(opts: &SmoothingOptions, labels: &[String]) -> Vec<f32> {
        labels
            .iter()
            .map(|l| {
                opts.thresholds
                    .get(l)
                    .copied()
                    .unwrap_or(opts.default_threshold)
            })
            .collect()
    }

    /// Takes new per-class thresholds (an edited wording profile) without forgetting
    /// the face's history, so a live edit does not blank every caption.
    pub fn set_thresholds(&mut self, opts: &SmoothingOptions, labels: &[String]) {
        self.thresholds = Self::class_thresholds(opts, labels);
        self.opts.thresholds = opts.thresholds.clone();
    }

    /// Asks more of some classes from now on: `extra` is added to their thresholds
    /// (model order; empty = none) and `dwell_ms` to their dwell; and a shown class
    /// waits `unsure_dwell_ms` (model order; empty = none) longer before it falls back
    /// to "not sure". The speech stage does this while a face talks: an open mouth
    /// mimics surprise and fear, and words move a calm face out of calm for a moment.
    pub fn set_extra(&mut self, extra: &[f32], dwell_ms: f64, unsure_dwell_ms: &[f64]) {
        self.extra.clear();
        self.extra.extend_from_slice(extra);
        self.extra_dwell_ms = dwell_ms;
        self.extra_unsure_dwell_ms.clear();
        self.extra_unsure_dwell_ms
            .extend_from_slice(unsure_dwell_ms);
    }

    /// Asks more of some classes (model order; empty = none) before they are shown,
    /// but not to stay shown: the quality stage does this while a face's view is
    /// poor, so a caption read on a good view is not taken down by a blurred or noisy
    /// moment (it still gives way to another emotion, or falls back to "not sure"
    /// under its own hold), while a new one needs more.
    pub fn set_show_extra(&mut self, extra: &[f32]) {
        self.show_extra.clear();
        self.show_extra.extend_from_slice(extra);
    }

    /// Smoothed probabilities (empty before the first update).
    pub fn probs(&self) -> &[f32] {
        &self.probs
    }

    /// The caption state.
    pub fn shown(&self) -> Shown {
        self.shown
    }

    /// Feeds one classification at time `t_ms`; returns the caption state.
    pub fn update(&mut self, t_ms: f64, raw: &[f32]) -> Shown {
        match self.first_ms {
            None => {
                self.first_ms = Some(t_ms);
                self.probs = raw.to_vec();
            }
            Some(_) => {
                let dt = (t_ms - self.last_ms).max(0.0);
                let tau = self.opts.tau_ms * self.opts.steadiness;
                let a = (1.0 - (-dt / tau.max(1e-3)).exp()) as f32;
                for (p, &r) in self.probs.iter_mut().zip(raw) {
                    *p += a * (r - *p);
                }
            }
        }
        self.last_ms = t_ms;
        self.tick(t_ms)
    }

    /// Advances time without a new observation (a coasting track).
    pub fn tick(&mut self, t_ms: f64) -> Shown {
        let Some(first) = self.first_ms else {
            return Shown::Nothing;
        };
        let target = self.target();
        if t_ms - first < self.opts.min_visible_ms {
            self.shown = Shown::Nothing;
            return self.shown;
        }
        // "Not sure" as a face's first caption waits as long as a fall back to it
        // would: the average is still forming, and a face that turns out calm a
        // moment later should not blink "not sure" first.
        if self.shown == Shown::Nothing
            && target == Shown::Unsure
            && t_ms - first
                < self.opts.min_visible_ms + self.opts.unsure_dwell_ms * self.opts.steadiness
        {
            return self.shown;
        }
        if self.shown == Shown::Nothing || target == self.shown {
            self.shown = target;
            self.candidate = target;
            self.candidate_since = t_ms;
            return self.shown;
        }
        if target != self.candidate {
            self.candidate = target;
            self.candidate_since = t_ms;
        }
        let leads = match (target, self.shown) {
            (Shown::Label(new), Shown::Label(old)) => {
                self.prob(new) - self.prob(old) >= self.opts.margin
            }
            _ => true,
        };
        let dwell = match target {
            Shown::Unsure => {
                let extra = match self.shown {
                    Shown::Label(i) => self.extra_unsure_dwell_ms.get(i).copied(),
                    _ => None,
                };
                self.opts.unsure_dwell_ms + extra.unwrap_or(0.0)
            }
            Shown::Label(i) if self.extra.get(i).is_some_and(|&e| e > 0.0) => {
                self.opts.min_dwell_ms + self.extra_dwell_ms
            }
            _ => self.opts.min_dwell_ms,
        } * self.opts.steadiness;
        if leads && t_ms - self.candidate_since >= dwell {
            self.shown = target;
        }
        self.shown
    }

    fn prob(&self, class: usize) -> f32 {
        self.probs.get(class).copied().unwrap_or(0.0)
    }

    /// The confidence class `i` needs to stay shown: its threshold plus any extra ask.
    fn threshold(&self, i: usize) -> f32 {
        self.thresholds.get(i).copied().unwrap_or(1.0) + self.extra.get(i).copied().unwrap_or(0.0)
    }

    /// The confidence class `i` needs to be shown: also the asks for showing only.
    fn show_threshold(&self, i: usize) -> f32 {
        self.threshold(i) + self.show_extra.get(i).copied().unwrap_or(0.0)
    }

    /// What the caption should say from the probabilities alone: the leader if it
    /// reaches its threshold (with the asks for showing); else the emotion already
    /// shown while it stays within `hold_margin` of its own threshold (under 1, which
    /// means never; without the asks for showing) and no other emotion is
    /// convincing; else `unsure`.
    fn target(&self) -> Shown {
        let Some(best) = crate::classify::argmax(&self.probs) else {
            return Shown::Unsure;
        };
        if self.prob(best) >= self.show_threshold(best) {
            return Shown::Label(best);
        }
        match self.shown {
            // A threshold of 1 means "never show" (a clinician's choice): no hold.
            Shown::Label(cur)
                if self.threshold(cur) < 1.0
                    && self.prob(cur) >= self.threshold(cur) - self.opts.hold_margin =>
            {
                Shown::Label(cur)
            }
            _ => Shown::Unsure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["neutral", "happiness", "sadness"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn run(s: &mut Smoother, from: f64, to: f64, step: f64, p: &[f32]) -> Vec<(f64, Shown)> {
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            out.push((t, s.update(t, p)));
            t += step;
        }
        out
    }

    #[test]
    fn nothing_is_shown_before_min_visible() {
        let mut s = Smoother::new(&SmoothingOptions::default(), &labels());
        let seq = run(&mut s, 0.0, 600.0, 40.0, &[0.9, 0.05, 0.05]);
        for (t, shown) in seq {
            assert_eq!(shown == Shown::Nothing, t < 300.0, "at {t}: {shown:?}");
        }
        assert_eq!(s.shown(), Shown::Label(0));
    }

    #[test]
    fn a_change_takes_effect_once_after_a_dwell_and_is_frame_rate_independent() {
        let mut delays = Vec::new();
        for step in [10.0, 40.0, 100.0] {
            let mut s = Smoother::new(&SmoothingOptions::default(), &labels());
            run(&mut s, 0.0, 2000.0, step, &[0.9, 0.05, 0.05]);
            let seq = run(&mut s, 2000.0, 5000.0, step, &[0.05, 0.9, 0.05]);
            let changes: Vec<_> = seq.windows(2).filter(|w| w[0].1 != w[1].1).collect();
            assert_eq!(changes.len(), 1, "step {step}: {changes:?}");
            assert_eq!(changes[0][1].1, Shown::Label(1));
            delays.push(changes[0][1].0 - 2000.0);
        }
        // Crossing ~0.5 takes about tau*ln(2)... then a 400 ms dwell: ~600–800 ms.
        for d in &delays {
            assert!((500.0..=900.0).contains(d), "{delays:?}");
        }
        assert!(
            delays.iter().cloned().fold(0.0, f64::max) - delays.iter().cloned().fold(1e9, f64::min)
                <= 120.0,
            "{delays:?}"
        );
    }

    #[test]
    fn flicker_shorter_than_the_dwell_never_changes_the_caption() {
        let mut s = Smoother::new(&SmoothingOptions::default(), &labels());
        run(&mut s, 0.0, 1000.0, 40.0, &[0.9, 0.05, 0.05]);
        for k in 0..20 {
            let t0 = 1000.0 + k as f64 * 400.0;
            run(&mut s, t0, t0 + 200.0, 40.0, &[0.05, 0.9, 0.05]);
            run(&mut s, t0 + 200.0, t0 + 400.0, 40.0, &[0.9, 0.05, 0.05]);
            assert_eq!(s.shown(), Shown::Label(0));
        }
    }

    #[test]
    fn a_weak_leader_is_unsure_and_per_class_thresholds_apply() {
        let mut o = SmoothingOptions::default();
        o.thresholds.insert("happiness".into(), 0.8);
        let mut s = Smoother::new(&o, &labels());
        run(&mut s, 0.0, 2000.0, 40.0, &[0.35, 0.33, 0.32]);
        assert_eq!(s.shown(), Shown::Unsure);
        run(&mut s, 2000.0, 4000.0, 40.0, &[0.1, 0.7, 0.2]);
        assert_eq!(s.shown(), Shown::Unsure, "0.7 is under happiness's 0.8");
        run(&mut s, 4000.0, 6000.0, 40.0, &[0.05, 0.9, 0.05]);
        assert_eq!(s.shown(), Shown::Label(1));
    }

    #[test]
    fn a_shown_emotion_hovering_at_its_threshold_does_not_blink_to_unsure() {
        let mut o = SmoothingOptions::default();
        o.thresholds.insert("neutral".into(), 0.7);
        let mut s = Smoother::new(&o, &labels());
        run(&mut s, 0.0, 2000.0, 40.0, &[0.8, 0.1, 0.1]);
        assert_eq!(s.shown(), Shown::Label(0));
        // A talker's calm face wanders just under the threshold and back.
        for k in 0..10 {
            let t0 = 2000.0 + k as f64 * 1600.0;
            let seq = run(&mut s, t0, t0 + 800.0, 40.0, &[0.62, 0.2, 0.18]);
            assert!(seq.iter().all(|(_, x)| *x == Shown::Label(0)), "{seq:?}");
            run(&mut s, t0 + 800.0, t0 + 1600.0, 40.0, &[0.75, 0.15, 0.1]);
        }
        // A threshold raised to 1 (never show) is not held.
        let mut never = o.clone();
        never.thresholds.insert("neutral".into(), 1.0);
        let mut n = s.clone();
        n.set_thresholds(&never, &labels());
        let seq = run(&mut n, 18000.0, 20000.0, 40.0, &[0.95, 0.03, 0.02]);
        assert_eq!(seq.last().map(|x| x.1), Some(Shown::Unsure), "{seq:?}");
        // Well under the threshold for longer than the unsure dwell: "not sure".
        let seq = run(&mut s, 20000.0, 23000.0, 40.0, &[0.4, 0.3, 0.3]);
        let at = seq
            .iter()
            .find(|(_, x)| *x == Shown::Unsure)
            .map(|(t, _)| t - 20000.0);
        assert!(at.is_some_and(|t| (1000.0..=1800.0).contains(&t)), "{at:?}");
    }

    #[test]
    fn not_sure_is_not_a_new_faces_first_caption_while_the_average_forms() {
        let mut o = SmoothingOptions::default();
        o.thresholds.insert("neutral".into(), 0.7);
        let mut s = Smoother::new(&o, &labels());
        // Unconvincing at first, calm after half a second: no "not sure" flash.
        let mut seq = run(&mut s, 0.0, 500.0, 40.0, &[0.5, 0.3, 0.2]);
        seq.extend(run(&mut s, 500.0, 3000.0, 40.0, &[0.9, 0.05, 0.05]));
        assert!(seq.iter().all(|(_, x)| *x != Shown::Unsure), "{seq:?}");
        assert_eq!(s.shown(), Shown::Label(0));
        // A face that stays unconvincing does get "not sure", after the dwell.
        let mut s = Smoother::new(&o, &labels());
        let seq = run(&mut s, 0.0, 3000.0, 40.0, &[0.5, 0.3, 0.2]);
        let at = seq
            .iter()
            .find(|(_, x)| *x == Shown::Unsure)
            .map(|(t, _)| *t);
        assert!(at.is_some_and(|t| (1300.0..=1400.0).contains(&t)), "{at:?}");
    }

    #[test]
    fn steadiness_scales_the_delay_and_extra_confidence_raises_a_threshold() {
        let delay = |steadiness: f64| {
            let o = SmoothingOptions {
                steadiness,
                ..SmoothingOptions::default()
            };
            let mut s = Smoother::new(&o, &labels());
            run(&mut s, 0.0, 3000.0, 40.0, &[0.9, 0.05, 0.05]);
            let seq = run(&mut s, 3000.0, 9000.0, 40.0, &[0.05, 0.9, 0.05]);
            seq.iter()
                .find(|(_, x)| *x == Shown::Label(1))
                .map(|(t, _)| t - 3000.0)
                .unwrap()
        };
        let (d1, d2) = (delay(1.0), delay(2.0));
        assert!((500.0..=1200.0).contains(&d1), "{d1}");
        assert!(d2 > 1.7 * d1 && d2 < 2.3 * d1, "{d1} {d2}");

        let mut s = Smoother::new(&SmoothingOptions::default(), &labels());
        s.set_extra(&[0.0, 0.5, 0.0], 0.0, &[]);
        run(&mut s, 0.0, 2000.0, 40.0, &[0.1, 0.7, 0.2]);
        assert_eq!(s.shown(), Shown::Unsure, "0.7 is under 0.45 + 0.5");
        s.set_extra(&[], 0.0, &[]);
        run(&mut s, 2000.0, 3000.0, 40.0, &[0.1, 0.7, 0.2]);
        assert_eq!(s.shown(), Shown::Label(1));

        // A longer ask: a raised class needs its extra dwell too, others do not.
        let mut s = Smoother::new(&SmoothingOptions::default(), &labels());
        run(&mut s, 0.0, 2000.0, 40.0, &[0.9, 0.05, 0.05]);
        s.set_extra(&[0.0, 0.1, 0.0], 1000.0, &[]);
        let seq = run(&mut s, 2000.0, 6000.0, 40.0, &[0.02, 0.96, 0.02]);
        let at = seq
            .iter()
            .find(|(_, x)| *x == Shown::Label(1))
            .map(|(t, _)| t - 2000.0);
        assert!(at.is_some_and(|t| (1500.0..=2200.0).contains(&t)), "{at:?}");
    }

    /// While a face talks, a calm caption waits longer before "not sure": a dip as
    /// long as a spoken phrase (2 s) drops a still face's caption, not a talking
    /// one's, and a longer one drops both. Only the classes given wait longer (an
    /// emotion read wrongly should give way to "not sure" as soon as before), and a
    /// change to another emotion is not delayed.
    #[test]
    fn a_talking_calm_face_waits_longer_before_not_sure_but_not_before_another_emotion() {
        let dip = |shown: &[f32], wait: &[f64], dip_ms: f64| {
            let mut s = Smoother::new(&SmoothingOptions::default(), &labels());
            run(&mut s, 0.0, 2000.0, 40.0, shown);
            s.set_extra(&[], 0.0, wait);
            let mut seq = run(&mut s, 2000.0, 2000.0 + dip_ms, 40.0, &[0.28, 0.28, 0.44]);
            seq.extend(run(&mut s, 2000.0 + dip_ms, 6000.0, 40.0, shown));
            seq.iter().any(|(_, x)| *x == Shown::Unsure)
        };
        let (calm, happy) = ([0.9, 0.05, 0.05], [0.05, 0.9, 0.05]);
        let calm_waits = [1000.0, 0.0, 0.0];
        assert!(
            dip(&calm, &[], 2000.0),
            "a still face's 2 s dip shows \"not sure\""
        );
        assert!(
            !dip(&calm, &calm_waits, 2000.0),
            "a talking calm face's does not"
        );
        assert!(
            dip(&calm, &calm_waits, 3500.0),
            "a 3.5 s dip does, talking or not"
        );
        let happy_dip = |wait: &[f64]| {
            let mut s = Smoother::new(&SmoothingOptions::default(), &labels());
            run(&mut s, 0.0, 2000.0, 40.0, &happy);
            s.set_extra(&[], 0.0, wait);
            run(&mut s, 2000.0, 4000.0, 40.0, &[0.28, 0.28, 0.44])
                .iter()
                .any(|(_, x)| *x == Shown::Unsure)
        };
        assert!(happy_dip(&calm_waits), "only calm waits longer");

        let change = |wait: &[f64]| {
            let mut s = Smoother::new(&SmoothingOptions::default(), &labels());
            run(&mut s, 0.0, 2000.0, 40.0, &calm);
            s.set_extra(&[], 0.0, wait);
            run(&mut s, 2000.0, 6000.0, 40.0, &happy)
                .iter()
                .find(|(_, x)| *x == Shown::Label(1))
                .map(|(t, _)| t - 2000.0)
        };
        assert_eq!(change(&[]), change(&calm_waits));
    }

    /// A poor view asks more before a caption shows, not to keep one: the face read
    /// well stays captioned, a new face (or a new emotion) needs the extra.
    #[test]
    fn a_show_only_ask_raises_the_bar_for_new_captions_and_holds_shown_ones() {
        let opts = SmoothingOptions::default();
        let mut s = Smoother::new(&opts, &labels());
        run(&mut s, 0.0, 2000.0, 40.0, &[0.8, 0.1, 0.1]);
        assert_eq!(s.shown(), Shown::Label(0));
        s.set_show_extra(&[0.3, 0.3, 0.3]);
        run(&mut s, 2000.0, 5000.0, 40.0, &[0.8, 0.1, 0.1]);
        assert_eq!(s.shown(), Shown::Label(0), "0.8 still meets 0.45: held");
        // another emotion must meet 0.45 + 0.3 to replace it
        run(&mut s, 5000.0, 8000.0, 40.0, &[0.2, 0.7, 0.1]);
        assert_eq!(
            s.shown(),
            Shown::Unsure,
            "0.7 is under 0.75; calm fell under its own"
        );
        run(&mut s, 8000.0, 11000.0, 40.0, &[0.1, 0.85, 0.05]);
        assert_eq!(s.shown(), Shown::Label(1));

        let mut fresh = Smoother::new(&opts, &labels());
        fresh.set_show_extra(&[0.3, 0.3, 0.3]);
        run(&mut fresh, 0.0, 3000.0, 40.0, &[0.7, 0.2, 0.1]);
        assert_eq!(fresh.shown(), Shown::Unsure, "a new face needs 0.75");
        fresh.set_show_extra(&[]);
        run(&mut fresh, 3000.0, 5000.0, 40.0, &[0.7, 0.2, 0.1]);
        assert_eq!(fresh.shown(), Shown::Label(0));
    }
}
