//! Telling a poor view of a face from a good one.
//!
//! The caption thresholds (the wording profile's `min_confidence`) were fitted on
//! clean faces. On a blurred, tiny, noisy or underexposed face the classifier is
//! still confident but more often wrong: at blur σ 2 px a fifth of its shown captions
//! are wrong where a clean face's are right nine times in ten (docs/results.md,
//! "Poor faces"). This stage measures two things in the classifier's own crop, both in
//! units of the crop's contrast so that exposure does not matter: *detail* (how much
//! fine structure is left: blur and upscaled small faces lose it) and *noise* (sensor
//! noise, which a dim scene amplifies). A face whose crop has too little detail or too
//! much noise needs more confidence before it is captioned: otherwise "not sure"
//! (a caption already shown is held as before, `Smoother::set_show_extra`).
//! The limits were measured on 48 × 48 crops, the shipped classifier's input; a
//! classifier with another input size needs them measured again
//! (`training/tools/quality_eval.py`).

use serde::{Deserialize, Serialize};

use crate::diag::Limit;

/// Poor-view settings (config section `[quality]`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QualityOptions {
    /// Turns the stage off: every face counts as well seen.
    pub enabled: bool,
    /// A crop with less detail than this is poor (mean absolute Laplacian over the
    /// crop's standard deviation; clean faces: 0.35 to 0.8).
    pub min_detail: f32,
    /// A crop with more noise than this is poor (estimated noise over the crop's
    /// standard deviation; clean faces: 0.05 to 0.14).
    pub max_noise: f32,
    /// Added to every emotion's `min_confidence` to be shown while the face's view is
    /// poor (a caption already shown is held as before).
    pub extra_confidence: f32,
}

impl Default for QualityOptions {
    fn default() -> Self {
        QualityOptions {
            enabled: true,
            min_detail: 0.12,
            max_noise: 0.25,
            extra_confidence: 0.2,
        }
    }
}

impl QualityOptions {
    /// The allowed range of each number in `[quality]`.
    pub const LIMITS: [Limit; 3] = [
        Limit::new(
            "quality.min_detail",
            0.0,
            10.0,
            "",
            "detail under which a face's view counts as poor",
        ),
        Limit::new(
            "quality.max_noise",
            0.0,
            10.0,
            "",
            "noise over which a face's view counts as poor",
        ),
        Limit::new(
            "quality.extra_confidence",
            0.0,
            1.0,
            "",
            "added to every emotion's min_confidence while the view is poor",
        ),
    ];

    /// Every value outside its range, one message each starting with the dotted key.
    pub fn problems(&self) -> Vec<String> {
        let [detail, noise, extra] = &Self::LIMITS;
        [
            detail.check(self.min_detail),
            noise.check(self.max_noise),
            extra.check(self.extra_confidence),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Whether a view this good is poor (never, with the stage off).
    pub fn poor(&self, q: Quality) -> bool {
        self.enabled && (q.detail < self.min_detail || q.noise > self.max_noise)
    }

    /// What a poor view adds to each of `classes` thresholds.
    pub fn extra(&self, classes: usize) -> Vec<f32> {
        vec![self.extra_confidence; classes]
    }
}

/// How well a crop shows a face.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Quality {
    /// Fine structure left: mean absolute 4-neighbour Laplacian over the crop's
    /// standard deviation.
    pub detail: f32,
    /// Noise: Immerkær's estimate (a 3×3 kernel blind to smooth shading and edges)
    /// over the crop's standard deviation.
    pub noise: f32,
}

/// Measures a square gray crop (row-major `size × size`, any affine gray scale). The
/// border twelfth on each side is left out (the crop's edge, hair and background).
/// A flat crop (no contrast at all) has no detail. `None` for a crop under 16 pixels
/// or of the wrong length.
pub fn measure(crop: &[f32], size: usize) -> Option<Quality> {
    if size < 16 || crop.len() != size * size {
        return None;
    }
    let n = crop.len() as f64;
    let mean = crop.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = crop
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt();
    if !std.is_finite() || std < 1e-3 * mean.abs().max(1e-3) {
        return Some(Quality {
            detail: 0.0,
            noise: 0.0,
        });
    }
    let m = size / 12;
    let at = |y: usize, x: usize| f64::from(crop[y * size + x]);
    let (mut lap, mut nz, mut count) = (0.0f64, 0.0f64, 0usize);
    for y in m.max(1)..size - m.max(1) {
        for x in m.max(1)..size - m.max(1) {
            let c = at(y, x);
            let edge = at(y - 1, x) + at(y + 1, x) + at(y, x - 1) + at(y, x + 1);
            let corner = at(y - 1, x - 1) + at(y - 1, x + 1) + at(y + 1, x - 1) + at(y + 1, x + 1);
            lap += (edge - 4.0 * c).abs();
            nz += (4.0 * c - 2.0 * edge + corner).abs();
            count += 1;
        }
    }
    let count = count as f64;
    let scale = (std::f64::consts::PI / 2.0).sqrt() / 6.0;
    Some(Quality {
        detail: (lap / count / std) as f32,
        noise: (scale * nz / count / std) as f32,
    })
}

/// One face's view quality over the last moments: the two measures averaged with
/// the smoother's time constant, so one blurred frame (a turn of the head) does not
/// flip the thresholds, and a view that stays poor does.
#[derive(Clone, Debug, Default)]
pub struct QualityTrack {
    last: Option<(f64, Quality)>,
}

impl QualityTrack {
    /// Takes this frame's measure (if the face had a crop) at `t_ms`; returns whether
    /// the face's view is poor.
    pub fn update(
        &mut self,
        t_ms: f64,
        q: Option<Quality>,
        tau_ms: f64,
        opts: &QualityOptions,
    ) -> bool {
        if let Some(q) = q {
            self.last = Some(match self.last {
                None => (t_ms, q),
                Some((t0, avg)) => {
                    let dt = (t_ms - t0).max(0.0);
                    let a = (1.0 - (-dt / tau_ms.max(1e-3)).exp()) as f32;
                    (
                        t_ms,
                        Quality {
                            detail: avg.detail + a * (q.detail - avg.detail),
                            noise: avg.noise + a * (q.noise - avg.noise),
                        },
                    )
                }
            });
        }
        self.last.is_some_and(|(_, avg)| opts.poor(avg))
    }

    /// The averaged measures, `None` before the first crop.
    pub fn quality(&self) -> Option<Quality> {
        self.last.map(|(_, q)| q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face-like test card: smooth shading, a few hard edges and fine texture.
    fn card(size: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        let mut rand = move || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32
        };
        (0..size * size)
            .map(|i| {
                let (y, x) = ((i / size) as f32, (i % size) as f32);
                let shade = 90.0 + 60.0 * (x / size as f32) + 30.0 * (y / 7.0).sin();
                let stripe = if ((x / 3.0) as usize + (y / 5.0) as usize).is_multiple_of(2) {
                    40.0
                } else {
                    0.0
                };
                shade + stripe + 25.0 * rand()
            })
            .collect()
    }

    fn blur(img: &[f32], size: usize, passes: usize) -> Vec<f32> {
        let mut a = img.to_vec();
        for _ in 0..passes {
            let b = a.clone();
            for y in 1..size - 1 {
                for x in 1..size - 1 {
                    let mut sum = 0.0;
                    for dy in 0..3 {
                        for dx in 0..3 {
                            sum += b[(y + dy - 1) * size + x + dx - 1];
                        }
                    }
                    a[y * size + x] = sum / 9.0;
                }
            }
        }
        a
    }

    #[test]
    fn blur_lowers_detail_and_noise_raises_noise() {
        let clean = card(48, 7);
        let q = measure(&clean, 48).expect("measured");
        let soft = measure(&blur(&clean, 48, 3), 48).expect("measured");
        assert!(soft.detail < q.detail / 2.0, "{soft:?} vs {q:?}");
        let mut s = 99u32;
        let noisy: Vec<f32> = clean
            .iter()
            .map(|v| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                v + 120.0 * ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
            })
            .collect();
        let n = measure(&noisy, 48).expect("measured");
        assert!(n.noise > q.noise * 1.5, "{n:?} vs {q:?}");
    }

    #[test]
    fn exposure_and_contrast_do_not_change_the_measures() {
        let clean = card(48, 3);
        let q = measure(&clean, 48).expect("measured");
        let dim: Vec<f32> = clean.iter().map(|v| 0.3 * v + 10.0).collect();
        let d = measure(&dim, 48).expect("measured");
        assert!((q.detail - d.detail).abs() < 1e-4 && (q.noise - d.noise).abs() < 1e-4);
        // the classifier's normalisation, (g / 255 - 0.5) / 0.5
        let norm: Vec<f32> = clean.iter().map(|v| (v / 255.0 - 0.5) / 0.5).collect();
        let z = measure(&norm, 48).expect("measured");
        assert!((q.detail - z.detail).abs() < 1e-4 && (q.noise - z.noise).abs() < 1e-4);
    }

    #[test]
    fn a_flat_or_malformed_crop_is_handled() {
        let flat = vec![128.0; 48 * 48];
        let q = measure(&flat, 48).expect("measured");
        assert_eq!(q.detail, 0.0);
        assert!(QualityOptions::default().poor(q));
        assert!(measure(&flat, 47).is_none());
        assert!(measure(&flat[..100], 10).is_none());
        let nan = vec![f32::NAN; 48 * 48];
        assert!(QualityOptions::default().poor(measure(&nan, 48).expect("measured")));
    }

    #[test]
    fn poor_needs_the_stage_on() {
        let bad = Quality {
            detail: 0.01,
            noise: 0.9,
        };
        let mut o = QualityOptions::default();
        assert!(o.poor(bad));
        o.enabled = false;
        assert!(!o.poor(bad));
        assert!(!QualityOptions::default().poor(Quality {
            detail: 0.5,
            noise: 0.08
        }));
    }

    #[test]
    fn one_poor_frame_does_not_flip_a_good_view() {
        let o = QualityOptions::default();
        let good = Some(Quality {
            detail: 0.5,
            noise: 0.08,
        });
        let bad = Some(Quality {
            detail: 0.02,
            noise: 0.08,
        });
        let mut tr = QualityTrack::default();
        let mut t = 0.0;
        for _ in 0..30 {
            assert!(!tr.update(t, good, 300.0, &o));
            t += 40.0;
        }
        assert!(!tr.update(t, bad, 300.0, &o), "one blurred frame");
        for _ in 0..30 {
            t += 40.0;
            tr.update(t, bad, 300.0, &o);
        }
        assert!(
            tr.update(t + 40.0, None, 300.0, &o),
            "a view that stays poor"
        );
        assert!(tr.quality().expect("measured").detail < o.min_detail);
    }

    #[test]
    fn limits_are_checked() {
        let o = QualityOptions {
            min_detail: -1.0,
            extra_confidence: 2.0,
            ..QualityOptions::default()
        };
        let p = o.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("quality.min_detail"), "{p:?}");
        assert!(QualityOptions::default().problems().is_empty());
    }
}
