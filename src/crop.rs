//! Face crops framed like the classifier's training crops.
//!
//! The rule comes from the model's metadata (`crop_scale`, `crop_dx`, `crop_dy`):
//! a square of side `scale × box width`, centred `(dx, dy) × box width` from the box
//! centre, rotated upright by the eye line. `training/tools/measure_framing.py` measured it
//! by running the same detector over the training crops.

use crate::detect::{Detection, Rect};
use crate::frame::Luma;
use crate::schedule::Motion;

/// Samples per output pixel along each axis, at most (see `crop_geometry`).
const MAX_TAPS: usize = 16;

/// How to cut a classifier input out of a frame around a detection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropSpec {
    /// Output side in pixels (48 for EmotionNet Nano).
    pub size: usize,
    /// Crop side over detector box width.
    pub scale: f32,
    /// Horizontal offset of the crop centre, in box widths.
    pub dx: f32,
    /// Vertical offset of the crop centre, in box widths (negative = up).
    pub dy: f32,
    /// Rotate so the eyes are level.
    pub rotate: bool,
}

impl Default for CropSpec {
    fn default() -> Self {
        CropSpec {
            size: 48,
            scale: 1.18,
            dx: 0.0,
            dy: -0.05,
            rotate: true,
        }
    }
}

/// Where a crop lies in the frame: centre, side and roll (radians).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropGeometry {
    /// Centre x in frame pixels.
    pub cx: f32,
    /// Centre y in frame pixels.
    pub cy: f32,
    /// Side in frame pixels.
    pub side: f32,
    /// Roll angle of the eye line (radians, positive = clockwise in image coordinates).
    pub angle: f32,
}

impl CropSpec {
    /// The crop square for one detection.
    pub fn geometry(&self, det: &Detection) -> CropGeometry {
        let (bx, by) = det.rect.center();
        let w = det.rect.w;
        let angle = if self.rotate {
            let [rx, ry] = det.keypoints[0];
            let [lx, ly] = det.keypoints[1];
            // Image-left eye to image-right eye; a mirrored camera swaps them.
            let (ex, ey) = if lx >= rx {
                (lx - rx, ly - ry)
            } else {
                (rx - lx, ry - ly)
            };
            if ex.abs() + ey.abs() > 1e-3 {
                ey.atan2(ex).clamp(-0.8, 0.8)
            } else {
                0.0
            }
        } else {
            0.0
        };
        let (s, c) = angle.sin_cos();
        let (ox, oy) = (self.dx * w, self.dy * w);
        CropGeometry {
            cx: bx + c * ox - s * oy,
            cy: by + s * ox + c * oy,
            side: self.scale * w,
            angle,
        }
    }

    /// `det` moved as [`Motion`] says its crop's content moved (found by lining the
    /// crop up with an earlier one, [`crate::schedule::align`]): shifted along the
    /// crop's own axes (which turn with the eye line and scale with the box), then
    /// turned and scaled about the crop's centre, box and keypoints together. The
    /// crop of the result is the old one moved, turned and scaled.
    pub fn moved_face(&self, det: &Detection, m: &Motion) -> Detection {
        let g = self.geometry(det);
        let step = g.side / self.size as f32;
        let (s, c) = g.angle.sin_cos();
        let (tx, ty) = ((c * m.dx - s * m.dy) * step, (s * m.dx + c * m.dy) * step);
        let k = 1.0 + m.scale;
        let (st, ct) = m.turn.sin_cos();
        let map = |[x, y]: [f32; 2]| {
            let (u, v) = (x - g.cx, y - g.cy);
            [
                g.cx + tx + k * (ct * u - st * v),
                g.cy + ty + k * (st * u + ct * v),
            ]
        };
        let (bx, by) = det.rect.center();
        let [nx, ny] = map([bx, by]);
        let (w, h) = (det.rect.w * k, det.rect.h * k);
        Detection {
            rect: Rect {
                x: nx - w / 2.0,
                y: ny - h / 2.0,
                w,
                h,
            },
            score: det.score,
            keypoints: det.keypoints.map(map),
        }
    }

    /// The crop and four copies moved by one output pixel (left, right, up, down along
    /// the crop's own axes). A still photo has no next frame to smooth over; averaging
    /// the classifier over these views is its stand-in for temporal smoothing, and it
    /// scores about half a point better on FER2013Valid (docs/results.md, "Still
    /// photos").
    pub fn views(&self, g: &CropGeometry) -> [CropGeometry; 5] {
        let step = g.side / self.size as f32;
        let (s, c) = g.angle.sin_cos();
        let at = |u: f32, v: f32| CropGeometry {
            cx: g.cx + (c * u - s * v) * step,
            cy: g.cy + (s * u + c * v) * step,
            ..*g
        };
        [*g, at(-1.0, 0.0), at(1.0, 0.0), at(0.0, -1.0), at(0.0, 1.0)]
    }

    /// Cuts the crop as gray values 0..255, row-major `size × size`, averaging
    /// several samples per output pixel when shrinking (an area filter, as the
    /// training crops were downscaled). Up to 16 × 16 samples, so a face filling a
    /// high-resolution photo (crop side up to 768 px) is averaged over every pixel,
    /// not point-sampled into aliasing the network never saw.
    pub fn crop(&self, luma: &Luma, det: &Detection) -> Vec<f32> {
        self.crop_geometry(luma, &self.geometry(det))
    }

    /// Cuts the crop for an explicit geometry.
    pub fn crop_geometry(&self, luma: &Luma, g: &CropGeometry) -> Vec<f32> {
        let n = self.size;
        let step = g.side / n as f32;
        let taps = (step.ceil() as usize).clamp(1, MAX_TAPS);
        let (s, c) = g.angle.sin_cos();
        let mut out = Vec::with_capacity(n * n);
        let inv = 1.0 / (taps * taps) as f32;
        // Each tap's offset from the centre along one axis (the same for rows and
        // columns), computed once instead of for every output pixel: the same
        // arithmetic, so the same bits.
        let offsets: Vec<f32> = (0..n)
            .flat_map(|i| {
                (0..taps)
                    .map(move |t| (i as f32 + (t as f32 + 0.5) / taps as f32) * step - g.side / 2.0)
            })
            .collect();
        // One tap row of samples for every output pixel of the row, then the sums in
        // the order above (tap rows, then taps along each): the same bits.
        let width = offsets.len();
        let mut rows = vec![0f32; taps * width];
        #[cfg(target_arch = "x86_64")]
        let vector =
            std::is_x86_feature_detected!("avx2") && samples_fit_avx2(luma, g, (s, c), &offsets);
        for lys in offsets.chunks_exact(taps) {
            for (&ly, dst) in lys.iter().zip(rows.chunks_exact_mut(width)) {
                #[cfg(target_arch = "x86_64")]
                let done = if vector {
                    // SAFETY: `vector` holds only where the CPU has AVX2 and
                    // `samples_fit_avx2` accepted this plane, geometry and offsets.
                    unsafe { samples_avx2(luma, g, (s, c), ly, &offsets, dst) }
                } else {
                    0
                };
                #[cfg(not(target_arch = "x86_64"))]
                let done = 0;
                for (r, &lx) in dst.iter_mut().zip(&offsets).skip(done) {
                    *r = luma.sample(g.cx + c * lx - s * ly, g.cy + s * lx + c * ly);
                }
            }
            for px in 0..n {
                let mut acc = 0.0;
                for tap_row in rows.chunks_exact(width) {
                    for &v in &tap_row[px * taps..][..taps] {
                        acc += v;
                    }
                }
                out.push(acc * inv);
            }
        }
        out
    }
}

/// Whether [`samples_avx2`] may run for this crop: a whole plane whose indices fit in
/// 32 bits, and every coordinate term finite. Checked once per crop, not per tap row.
#[cfg(target_arch = "x86_64")]
fn samples_fit_avx2(luma: &Luma, g: &CropGeometry, (s, c): (f32, f32), offsets: &[f32]) -> bool {
    let (w, h) = (luma.width, luma.height);
    w > 0
        && h > 0
        && luma.data.len() >= w * h
        && w * h < i32::MAX as usize
        && [g.cx, g.cy, s, c]
            .iter()
            .chain(offsets)
            .all(|v| v.is_finite())
}

/// [`Luma::sample`] at `(cx + c·lx − s·ly, cy + s·lx + c·ly)` for each `lx` of `lxs`,
/// 8 at a time, into `out`; the same arithmetic in the same order (no fused
/// multiply-add), so the same bits. The caller has checked [`samples_fit_avx2`] (and
/// `ly` is one of its offsets). Returns how many it wrote from the start (the caller
/// samples the rest); it stops before a run of 8 whose reads could pass the plane's
/// end (a 4-byte gather reads 3 bytes beyond its pixel) or whose coordinates overflowed.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn samples_avx2(
    luma: &Luma,
    g: &CropGeometry,
    (s, c): (f32, f32),
    ly: f32,
    lxs: &[f32],
    out: &mut [f32],
) -> usize {
    use std::arch::x86_64::*;
    let (w, h) = (luma.width, luma.height);
    let n = lxs.len().min(out.len()) / 8 * 8;
    // The last byte a gather may read is index + 3, within the data (at least
    // w · h bytes, fewer than 2^31) while the index is at most w · h − 4.
    let last_ok = (w * h) as i32 - 4;
    // SAFETY (whole body): loads and stores are of 8 lanes at i < n, within `lxs` and
    // `out`; each gathered index is checked to be ≤ w · h − 4 before its gather.
    unsafe {
        let v = _mm256_set1_ps;
        let (cx, cy, sv, cv) = (v(g.cx), v(g.cy), v(s), v(c));
        // The row's terms, as the scalar code computes them: `s * ly`, `c * ly`.
        let (sly, cly) = (v(s * ly), v(c * ly));
        let (half, one, zero) = (v(0.5), v(1.0), v(0.0));
        let (wmax, hmax) = (v((w - 1) as f32), v((h - 1) as f32));
        let (wi, wm1, hm1) = (
            _mm256_set1_epi32(w as i32),
            _mm256_set1_epi32(w as i32 - 1),
            _mm256_set1_epi32(h as i32 - 1),
        );
        let (ones, bytes, limit) = (
            _mm256_set1_epi32(1),
            _mm256_set1_epi32(0xff),
            _mm256_set1_epi32(last_ok),
        );
        let base = luma.data.as_ptr() as *const i32;
        for i in (0..n).step_by(8) {
            let lx = _mm256_loadu_ps(lxs.as_ptr().add(i));
            let x = _mm256_sub_ps(_mm256_add_ps(cx, _mm256_mul_ps(cv, lx)), sly);
            let y = _mm256_add_ps(_mm256_add_ps(cy, _mm256_mul_ps(sv, lx)), cly);
            // clamp(v − 0.5, 0, max): min then max, each keeping v on ties as
            // `f32::clamp` does.
            let fx = _mm256_max_ps(zero, _mm256_min_ps(wmax, _mm256_sub_ps(x, half)));
            let fy = _mm256_max_ps(zero, _mm256_min_ps(hmax, _mm256_sub_ps(y, half)));
            let (x0, y0) = (_mm256_cvttps_epi32(fx), _mm256_cvttps_epi32(fy));
            let x1 = _mm256_min_epi32(_mm256_add_epi32(x0, ones), wm1);
            let y1 = _mm256_min_epi32(_mm256_add_epi32(y0, ones), hm1);
            let ax = _mm256_sub_ps(fx, _mm256_cvtepi32_ps(x0));
            let ay = _mm256_sub_ps(fy, _mm256_cvtepi32_ps(y0));
            let (r0, r1) = (_mm256_mullo_epi32(y0, wi), _mm256_mullo_epi32(y1, wi));
            let (i00, i11) = (_mm256_add_epi32(r0, x0), _mm256_add_epi32(r1, x1));
            // The smallest index of the four is i00, the largest i11 (y1 ≥ y0,
            // x1 ≥ x0); a coordinate that overflowed to NaN makes them negative.
            let out_of_plane = _mm256_or_si256(
                _mm256_cmpgt_epi32(i11, limit),
                _mm256_cmpgt_epi32(_mm256_setzero_si256(), i00),
            );
            if _mm256_movemask_epi8(out_of_plane) != 0 {
                return i;
            }
            let px = |idx: __m256i| {
                let b = _mm256_and_si256(_mm256_i32gather_epi32::<1>(base, idx), bytes);
                _mm256_cvtepi32_ps(b)
            };
            let (p00, p10) = (px(i00), px(_mm256_add_epi32(r0, x1)));
            let (p01, p11) = (px(_mm256_add_epi32(r1, x0)), px(i11));
            let bx = _mm256_sub_ps(one, ax);
            let top = _mm256_add_ps(_mm256_mul_ps(p00, bx), _mm256_mul_ps(p10, ax));
            let bot = _mm256_add_ps(_mm256_mul_ps(p01, bx), _mm256_mul_ps(p11, ax));
            let r = _mm256_add_ps(
                _mm256_mul_ps(top, _mm256_sub_ps(one, ay)),
                _mm256_mul_ps(bot, ay),
            );
            _mm256_storeu_ps(out.as_mut_ptr().add(i), r);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Rect;

    /// A crop of the box itself: no offset, no rotation.
    fn plain(size: usize) -> CropSpec {
        CropSpec {
            size,
            scale: 1.0,
            dx: 0.0,
            dy: 0.0,
            rotate: false,
        }
    }

    fn det(x: f32, y: f32, w: f32, eyes: [[f32; 2]; 2]) -> Detection {
        let mut keypoints = [[0.0; 2]; 6];
        keypoints[0] = eyes[0];
        keypoints[1] = eyes[1];
        Detection {
            rect: Rect { x, y, w, h: w },
            score: 1.0,
            keypoints,
        }
    }

    /// The crop as first written: every tap's offset computed in the innermost loop.
    fn crop_reference(spec: &CropSpec, luma: &Luma, g: &CropGeometry) -> Vec<f32> {
        let n = spec.size;
        let step = g.side / n as f32;
        let taps = (step.ceil() as usize).clamp(1, MAX_TAPS);
        let (s, c) = g.angle.sin_cos();
        let inv = 1.0 / (taps * taps) as f32;
        let mut out = Vec::new();
        for v in 0..n {
            for u in 0..n {
                let mut acc = 0.0;
                for ty in 0..taps {
                    let ly = (v as f32 + (ty as f32 + 0.5) / taps as f32) * step - g.side / 2.0;
                    for tx in 0..taps {
                        let lx = (u as f32 + (tx as f32 + 0.5) / taps as f32) * step - g.side / 2.0;
                        let (x, y) = (g.cx + c * lx - s * ly, g.cy + s * lx + c * ly);
                        // `Luma::sample` with `floor`, as first written.
                        let fx = (x - 0.5).clamp(0.0, (luma.width - 1) as f32);
                        let fy = (y - 0.5).clamp(0.0, (luma.height - 1) as f32);
                        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
                        let (x1, y1) =
                            ((x0 + 1).min(luma.width - 1), (y0 + 1).min(luma.height - 1));
                        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
                        let p = |x: usize, y: usize| f32::from(luma.data[y * luma.width + x]);
                        let top = p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax;
                        let bot = p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax;
                        acc += top * (1.0 - ay) + bot * ay;
                    }
                }
                out.push(acc * inv);
            }
        }
        out
    }

    #[test]
    fn the_crop_is_bit_identical_to_the_plain_formula() {
        let (w, h) = (97, 83);
        let data = (0..w * h)
            .map(|i| ((i * 37 + i / w * 11) % 251) as u8)
            .collect();
        let luma = Luma {
            width: w,
            height: h,
            data,
        };
        let spec = CropSpec::default();
        for (cx, cy, side, angle) in [
            (48.0, 41.0, 60.0, 0.0),
            (20.5, 70.2, 130.0, 0.4),
            (90.0, 5.0, 33.3, -1.2),
            (-10.0, 40.0, 47.0, 3.0),
            (50.0, 50.0, 500.0, 0.01),
        ] {
            let g = CropGeometry {
                cx,
                cy,
                side,
                angle,
            };
            let ours = spec.crop_geometry(&luma, &g);
            let want = crop_reference(&spec, &luma, &g);
            let same = ours
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same && ours.len() == want.len(), "{cx} {cy} {side} {angle}");
        }
    }

    #[test]
    fn upright_face_gives_axis_aligned_crop_above_centre() {
        let spec = CropSpec::default();
        let d = det(100.0, 100.0, 100.0, [[130.0, 140.0], [170.0, 140.0]]);
        let g = spec.geometry(&d);
        assert!(g.angle.abs() < 1e-6);
        assert!((g.cx - 150.0).abs() < 1e-4);
        assert!((g.cy - 145.0).abs() < 1e-4); // 0.05 box widths up
        assert!((g.side - 118.0).abs() < 1e-3);
    }

    #[test]
    fn tilted_eyes_give_the_roll_angle_whatever_the_keypoint_order() {
        let spec = CropSpec::default();
        let a = spec.geometry(&det(0.0, 0.0, 100.0, [[30.0, 40.0], [70.0, 80.0]]));
        let b = spec.geometry(&det(0.0, 0.0, 100.0, [[70.0, 80.0], [30.0, 40.0]]));
        assert!((a.angle - std::f32::consts::FRAC_PI_4).abs() < 1e-5);
        assert!((a.angle - b.angle).abs() < 1e-6);
    }

    #[test]
    fn crop_samples_the_right_place_and_rotation() {
        // A frame that is dark left of x=50 and bright right of it.
        let (w, h) = (100, 100);
        let data = (0..w * h)
            .map(|i| if i % w < 50 { 0 } else { 200 })
            .collect();
        let luma = Luma {
            width: w,
            height: h,
            data,
        };
        let spec = plain(8);
        let g = CropGeometry {
            cx: 50.0,
            cy: 50.0,
            side: 40.0,
            angle: 0.0,
        };
        let c = spec.crop_geometry(&luma, &g);
        assert!(c[0] < 1.0 && c[7] > 199.0, "left dark, right bright: {c:?}");
        // Rotated by 90 degrees, the crop's rows run down the frame: top bright, bottom dark.
        let g = CropGeometry {
            angle: std::f32::consts::FRAC_PI_2,
            ..g
        };
        let c = spec.crop_geometry(&luma, &g);
        assert!(c[0] > 199.0 && c[63] < 1.0, "{c:?}");
    }

    #[test]
    fn views_move_one_crop_pixel_along_the_crop_axes() {
        let spec = plain(8);
        let g = CropGeometry {
            cx: 50.0,
            cy: 50.0,
            side: 40.0,
            angle: std::f32::consts::FRAC_PI_2,
        };
        let v = spec.views(&g);
        assert_eq!(v[0], g);
        // 40 px over 8 crop pixels: 5 frame pixels per step. Turned by 90 degrees, the
        // crop's x axis runs down the frame and its y axis runs right to left.
        let moved: Vec<(f32, f32)> = v[1..]
            .iter()
            .map(|w| ((w.cx - 50.0).round(), (w.cy - 50.0).round()))
            .collect();
        assert_eq!(
            moved,
            vec![(0.0, -5.0), (0.0, 5.0), (5.0, 0.0), (-5.0, 0.0)]
        );
        assert!(v.iter().all(|w| w.side == g.side && w.angle == g.angle));
    }

    #[test]
    fn a_moved_face_moves_its_crop_along_the_crops_own_axes() {
        // A textured frame and a tilted face: the crop cut at the face moved by (2, -1)
        // crop pixels is the first crop shifted by (2, -1) crop pixels.
        let (w, h) = (200, 160);
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                (128.0 + 60.0 * (x / 7.0).sin() * (y / 11.0).cos() + 0.3 * x) as u8
            })
            .collect();
        let luma = Luma {
            width: w,
            height: h,
            data,
        };
        let spec = CropSpec {
            size: 24,
            ..CropSpec::default()
        };
        let d = det(60.0, 50.0, 60.0, [[75.0, 70.0], [105.0, 78.0]]);
        let shift = Motion {
            dx: 2.0,
            dy: -1.0,
            ..Motion::default()
        };
        let a = spec.crop(&luma, &d);
        let b = spec.crop(&luma, &spec.moved_face(&d, &shift));
        let n = spec.size;
        for v in 1..n - 2 {
            for u in 0..n - 2 {
                let (p, q) = (a[v * n + u + 2], b[(v + 1) * n + u]);
                assert!((p - q).abs() < 0.5, "({u}, {v}): {p} vs {q}");
            }
        }
        // Turned and scaled: the same centre, the angle turned, the side scaled.
        let g = spec.geometry(&d);
        let m = Motion {
            turn: 0.1,
            scale: 0.05,
            ..Motion::default()
        };
        let h = spec.geometry(&spec.moved_face(&d, &m));
        assert!(
            (h.cx - g.cx).abs() < 1e-3 && (h.cy - g.cy).abs() < 1e-3,
            "{g:?} {h:?}"
        );
        assert!((h.angle - g.angle - 0.1).abs() < 1e-4, "{g:?} {h:?}");
        assert!((h.side - 1.05 * g.side).abs() < 1e-3, "{g:?} {h:?}");
    }

    #[test]
    fn large_faces_are_averaged_not_aliased() {
        // A 3-pixel checkerboard under a 1,150-pixel crop (24 frame pixels per crop
        // pixel, as for a face filling a 12 MP photo): every crop pixel covers 8 x 8
        // cells, so its true mean is mid-gray. Sparse point samples would land on one
        // colour and return near-black or near-white pixels.
        let n = 1200;
        let data = (0..n * n)
            .map(|i| {
                if ((i % n) / 3 + (i / n) / 3) % 2 == 0 {
                    0
                } else {
                    255
                }
            })
            .collect();
        let luma = Luma {
            width: n,
            height: n,
            data,
        };
        let spec = plain(48);
        let g = CropGeometry {
            cx: 601.5,
            cy: 601.5,
            side: 1152.0,
            angle: 0.0,
        };
        let c = spec.crop_geometry(&luma, &g);
        let worst = c.iter().map(|v| (v - 127.5).abs()).fold(0.0, f32::max);
        assert!(
            worst < 20.0,
            "a crop pixel is {worst} gray levels off mid-gray"
        );
    }
}
