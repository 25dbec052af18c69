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
                let a = (1.0 - (-dt / self.opts.tau_ms.max(1e-3)).exp()) as f32;
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
                self.probs[new] - self.probs[old] >= self.opts.margin
            }
            _ => true,
        };
        if leads && t_ms - self.candidate_since >= self.opts.min_dwell_ms {
            self.shown = target;
        }
        self.shown
    }

    fn target(&self) -> Shown {
        let Some(best) = crate::classify::argmax(&self.probs) else {
            return Shown::Unsure;
        };
        let p = self.probs[best];
        if p >= self.thresholds.get(best).copied().unwrap_or(1.0) {
            Shown::Label(best)
        } else {
            Shown::Unsure
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
}
