//! When the face detector runs: only when needed, as MediaPipe's face pipelines do.
//!
//! The detector is most of a frame's cost (docs/performance.md). Between its runs
//! every tracked face is still classified every frame, on a crop placed from the
//! face's last detection carried forward by the track's motion
//! ([`crate::track::Tracker::carried`]). The detector runs again when the tracked
//! crops can no longer be trusted: after `every_frames` frames, when there is no
//! face (a new one may have come), when a face is new (births need real detections
//! in a row, and a face's first `new_face_ms` decide its first caption and fill the
//! speech stage's window, so they see real detections) or lost, when a face nears
//! the frame edge (it may leave, and a box cut by the edge is wrong), and when a
//! tracked crop differs too much from the crop at the face's last detection (the
//! face turned away, changed a lot, or was covered). Before that check the
//! pipeline follows the face: [`align`] finds how the tracked crop's face moved,
//! turned and changed size against the reference crop (after [`match_exposure`]),
//! and the crop is cut again there, which the tracker takes as the face's new place
//! ([`crate::track::Tracker::follow`]).
//! This type only decides and measures; the pipeline cuts the crops and runs the
//! models.

use crate::detect::Rect;

/// Settings of the schedule (from `[detection]` in the settings file).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleOptions {
    /// The detector runs at least every this many frames; 1 runs it on every frame
    /// (no tracked crops: the pipeline as before the schedule existed).
    pub every_frames: u32,
    /// A tracked face closer than this many box widths to a frame edge makes the
    /// detector run.
    pub edge_margin: f32,
    /// A tracked crop whose mean absolute difference to the crop at the face's last
    /// detection exceeds this many gray levels (0–255) makes the detector run.
    pub max_crop_change: f32,
    /// The detector runs on every frame of a face's first this many milliseconds:
    /// its first caption is decided then, and the speech stage (`[speech]
    /// window_ms`, which the pipeline passes here) must see the mouth move before
    /// it; on carried crops a neutral talker was shown "surprised" for a second
    /// (docs/performance.md).
    pub new_face_ms: f64,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            every_frames: 5,
            edge_margin: 0.1,
            max_crop_change: 12.0,
            new_face_ms: 1000.0,
        }
    }
}

/// Why the detector runs on a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `every_frames` is 1: the detector runs on every frame.
    EveryFrame,
    /// `every_frames` frames since its last run.
    Interval,
    /// No face is tracked, so only the detector can find one.
    NoFace,
    /// A face is not confirmed yet: births need real detections.
    NewFace,
    /// A face was first seen less than `new_face_ms` ago.
    YoungFace,
    /// A face was missed at the last run and coasts on its prediction.
    Lost,
    /// A face is within `edge_margin` of a frame edge.
    NearEdge,
    /// A tracked crop changed more than `max_crop_change` since its face's last detection.
    CropChanged,
}

/// What the schedule needs to know of one tracked face on this frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackedFace {
    /// Where the track puts the face now (its carried box).
    pub rect: Rect,
    /// Past the tracker's birth hysteresis.
    pub confirmed: bool,
    /// Missed at the detector's last run.
    pub lost: bool,
    /// Milliseconds since the face's first detection.
    pub age_ms: f64,
}

/// Counts frames since the detector's last run and decides the next.
#[derive(Clone, Debug)]
pub struct Scheduler {
    opts: ScheduleOptions,
    /// Frames since the detector last ran (0 on the frame it ran).
    since: u32,
}

impl Scheduler {
    /// A schedule that runs the detector on the first frame.
    pub fn new(opts: ScheduleOptions) -> Self {
        Scheduler { opts, since: 0 }
    }

    /// Whether tracked crops are ever used (`every_frames` above 1).
    pub fn skips(&self) -> bool {
        self.opts.every_frames > 1
    }

    /// The reason to run the detector on this frame of `width × height` pixels that
    /// needs no crop, or `None` when the tracked faces' crops may be cut and checked
    /// ([`Scheduler::after_crop`]).
    pub fn before_crop(&self, width: f32, height: f32, faces: &[TrackedFace]) -> Option<Reason> {
        if !self.skips() {
            return Some(Reason::EveryFrame);
        }
        if self.since.saturating_add(1) >= self.opts.every_frames {
            return Some(Reason::Interval);
        }
        if faces.is_empty() {
            return Some(Reason::NoFace);
        }
        if faces.iter().any(|f| !f.confirmed) {
            return Some(Reason::NewFace);
        }
        if faces.iter().any(|f| f.age_ms < self.opts.new_face_ms) {
            return Some(Reason::YoungFace);
        }
        if faces.iter().any(|f| f.lost) {
            return Some(Reason::Lost);
        }
        let near_edge = |r: &Rect| {
            let m = self.opts.edge_margin * r.w;
            r.x < m || r.y < m || r.x + r.w > width - m || r.y + r.h > height - m
        };
        if faces.iter().any(|f| near_edge(&f.rect)) {
            return Some(Reason::NearEdge);
        }
        None
    }

    /// The reason to run the detector after all, given each tracked crop's change
    /// since its face's last detection ([`crop_change`]; infinite when there is no
    /// crop to compare with), or `None` to classify the tracked crops.
    pub fn after_crop(&self, changes: &[f32]) -> Option<Reason> {
        changes
            .iter()
            .any(|c| c.is_nan() || *c > self.opts.max_crop_change)
            .then_some(Reason::CropChanged)
    }

    /// Records whether the detector ran on the frame just processed.
    pub fn record(&mut self, detected: bool) {
        self.since = if detected {
            0
        } else {
            self.since.saturating_add(1)
        };
    }
}

/// How much a tracked crop `b` differs from the reference crop `a` (the crop at the
/// face's last detection), in `a`'s gray levels: the mean absolute difference once
/// `b`'s brightness and contrast are matched to `a`'s ([`match_exposure`]). A
/// camera's auto-exposure or a passing shadow changes every pixel without moving the
/// face; only a change of what the crop shows (the face moved off it, turned, was
/// covered) should make the detector look again. Infinite when the sizes differ
/// (nothing to compare) or when `b` is flat and `a` is not.
pub fn crop_change(a: &[f32], b: &[f32]) -> f32 {
    let Some(b) = match_exposure(a, b) else {
        return f32::INFINITY;
    };
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

/// `b` with the mean and standard deviation of `a`: the same scene under the
/// reference's exposure. `None` when the sizes differ, either is empty, or `b` is flat
/// while `a` is not (no gain can match them).
pub fn match_exposure(a: &[f32], b: &[f32]) -> Option<Vec<f32>> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (ma, sa) = mean_std(a);
    let (mb, sb) = mean_std(b);
    let gain = if sb > 1e-3 {
        sa / sb
    } else if sa > 1e-3 {
        return None;
    } else {
        0.0
    };
    Some(b.iter().map(|y| (y - mb) * gain + ma).collect())
}

/// Mean and standard deviation of a non-empty slice.
fn mean_std(v: &[f32]) -> (f32, f32) {
    let n = v.len() as f32;
    let mean = v.iter().sum::<f32>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    (mean, var.sqrt())
}

/// How far [`best_shift`] looks, in crop pixels either way (4 of 48: 8 % of the crop).
pub const ALIGN_RADIUS: usize = 4;

/// Where the face of `reference` (the crop at the face's last detection) lies in
/// `crop` (this frame's crop at the carried position), both row-major `size × size`:
/// the shift `(dx, dy)` in crop pixels, each within ±`radius`, such that
/// `crop[y + dy][x + dx]` best matches `reference[y][x]` (least mean absolute
/// difference over the reference's interior), refined to a fraction of a pixel by a
/// parabola through the neighbouring costs. A track's velocity misses a head's turn
/// or a camera's shake by a few pixels a frame; cutting the crop again at the shifted
/// place keeps it on the face, so the detector need not run (the schedule's crop-change
/// check then sees the face itself changing, not the crop sliding off it). The zero
/// shift wins ties; `None` when the sizes do not match or the radius leaves no
/// interior.
pub fn best_shift(
    reference: &[f32],
    crop: &[f32],
    size: usize,
    radius: usize,
) -> Option<(f32, f32)> {
    let (bx, by, costs) = shift_search(reference, crop, size, radius)?;
    let r = radius as isize;
    let side = 2 * radius + 1;
    let at = |dx: isize, dy: isize| costs[((dy + r) as usize) * side + (dx + r) as usize];
    // The parabola's vertex through three costs; no refinement at the search's edge.
    let refine = |lo: f32, mid: f32, hi: f32| {
        let curve = lo - 2.0 * mid + hi;
        if curve > 1e-6 {
            (0.5 * (lo - hi) / curve).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let fx = if bx.abs() < r {
        refine(at(bx - 1, by), at(bx, by), at(bx + 1, by))
    } else {
        0.0
    };
    let fy = if by.abs() < r {
        refine(at(bx, by - 1), at(bx, by), at(bx, by + 1))
    } else {
        0.0
    };
    Some((bx as f32 + fx, by as f32 + fy))
}

/// The whole-pixel shift of least cost and every shift's cost (row-major over
/// `dy`, then `dx`, from `-radius`), for [`best_shift`] and [`align`].
fn shift_search(
    reference: &[f32],
    crop: &[f32],
    size: usize,
    radius: usize,
) -> Option<(isize, isize, Vec<f32>)> {
    if size == 0
        || reference.len() != size * size
        || crop.len() != size * size
        || 2 * radius + 2 >= size
    {
        return None;
    }
    let r = radius as isize;
    let inner = size - 2 * radius;
    let cost = |dx: isize, dy: isize| -> f32 {
        let mut sum = 0.0;
        for y in radius..size - radius {
            let a = &reference[y * size + radius..y * size + size - radius];
            let row = (y as isize + dy) as usize * size;
            let start = (radius as isize + dx) as usize;
            let b = &crop[row + start..row + start + inner];
            sum += a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum::<f32>();
        }
        sum
    };
    let side = 2 * radius + 1;
    let mut costs = vec![0.0f32; side * side];
    let mut best = (cost(0, 0), 0isize, 0isize);
    for dy in -r..=r {
        for dx in -r..=r {
            let c = if dx == 0 && dy == 0 {
                best.0
            } else {
                cost(dx, dy)
            };
            costs[((dy + r) as usize) * side + (dx + r) as usize] = c;
            if c < best.0 {
                best = (c, dx, dy);
            }
        }
    }
    Some((best.1, best.2, costs))
}

/// How a tracked face moved between the reference crop and this frame's crop, in the
/// crop's own pixels and axes: what the reference shows at `p` this frame's crop shows
/// at `centre + (1 + scale) · turn(p - centre) + (dx, dy)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Motion {
    /// Shift right, in crop pixels.
    pub dx: f32,
    /// Shift down, in crop pixels.
    pub dy: f32,
    /// Turn in radians, from the crop's x axis towards its y axis (clockwise on
    /// screen, as the crop's own angle).
    pub turn: f32,
    /// Relative change of size (0.05: 5 % larger).
    pub scale: f32,
}

impl Motion {
    /// Whether the crop is worth cutting again: some part of the motion moves the
    /// crop's edge by a quarter of a crop pixel.
    pub fn matters(&self, size: usize) -> bool {
        let edge = size as f32 / 2.0;
        self.dx.abs().max(self.dy.abs()) >= 0.25
            || (self.turn.abs() + self.scale.abs()) * edge >= 0.25
    }
}

/// Past these, [`align`]'s one linearised step is not trusted and the shift alone is
/// used: a turn of 8.6 degrees, a change of size of 15 %, 1.5 pixels beyond the
/// whole-pixel shift.
const MAX_TURN: f64 = 0.15;
const MAX_SCALE: f64 = 0.15;
const MAX_REST: f64 = 1.5;

/// How the face in `crop` moved against `reference` (both row-major `size × size`,
/// `crop` matched to the reference's exposure by [`match_exposure`]): the whole-pixel
/// shift of [`best_shift`]'s search, then one Gauss-Newton step of Lucas-Kanade, on the
/// two crops' mean gradient, for the rest of the shift, the turn and the change of size.
/// A wearer's head turns and nears the camera as well as moving it: a crop cut at the
/// face's old angle or size differs from the reference as much as one cut at its old
/// place. Falls back to [`best_shift`] alone when the step is out of its range or the
/// crops are flat; `None` when the sizes do not match or the radius leaves no interior.
pub fn align(reference: &[f32], crop: &[f32], size: usize, radius: usize) -> Option<Motion> {
    let (bx, by, _) = shift_search(reference, crop, size, radius)?;
    let shift_only = || {
        best_shift(reference, crop, size, radius).map(|(dx, dy)| Motion {
            dx,
            dy,
            ..Motion::default()
        })
    };
    // Reference pixels whose shifted neighbours (p + b ± 1) are all inside `crop`.
    let m = radius + 1;
    let c = (size as f64 - 1.0) / 2.0;
    let at = |v: &[f32], x: isize, y: isize| f64::from(v[y as usize * size + x as usize]);
    let mut ata = [[0.0f64; 4]; 4];
    let mut atb = [0.0f64; 4];
    for y in m..size - m {
        for x in m..size - m {
            let (x, y) = (x as isize, y as isize);
            let (sx, sy) = (x + bx, y + by);
            let gx = 0.25
                * (at(reference, x + 1, y) - at(reference, x - 1, y) + at(crop, sx + 1, sy)
                    - at(crop, sx - 1, sy));
            let gy = 0.25
                * (at(reference, x, y + 1) - at(reference, x, y - 1) + at(crop, sx, sy + 1)
                    - at(crop, sx, sy - 1));
            let (u, v) = (x as f64 - c, y as f64 - c);
            let row = [gx, gy, -gx * v + gy * u, gx * u + gy * v];
            let e = at(reference, x, y) - at(crop, sx, sy);
            for i in 0..4 {
                atb[i] += row[i] * e;
                for j in 0..4 {
                    ata[i][j] += row[i] * row[j];
                }
            }
        }
    }
    let a = glam::DMat4::from_cols_array_2d(&ata);
    let det = a.determinant();
    if !det.is_finite() || det.abs() <= 1e-9 {
        return shift_only();
    }
    let p = a.inverse() * glam::DVec4::from_array(atb);
    let trusted = p.is_finite()
        && p.x.abs() <= MAX_REST
        && p.y.abs() <= MAX_REST
        && p.z.abs() <= MAX_TURN
        && p.w.abs() <= MAX_SCALE;
    if !trusted {
        return shift_only();
    }
    Some(Motion {
        dx: bx as f32 + p.x as f32,
        dy: by as f32 + p.y as f32,
        turn: p.z as f32,
        scale: p.w as f32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(every: u32) -> ScheduleOptions {
        ScheduleOptions {
            every_frames: every,
            edge_margin: 0.25,
            max_crop_change: 10.0,
            new_face_ms: 1000.0,
        }
    }

    /// A confirmed, found face of width 100 at (x, y).
    fn face(x: f32, y: f32) -> TrackedFace {
        TrackedFace {
            rect: Rect {
                x,
                y,
                w: 100.0,
                h: 100.0,
            },
            confirmed: true,
            lost: false,
            age_ms: 5000.0,
        }
    }

    #[test]
    fn one_frame_interval_always_detects() {
        let mut s = Scheduler::new(opts(1));
        for detected in [true, false, true] {
            assert_eq!(
                s.before_crop(640.0, 480.0, &[face(200.0, 150.0)]),
                Some(Reason::EveryFrame)
            );
            s.record(detected);
        }
        assert!(!s.skips());
    }

    #[test]
    fn a_steady_face_is_detected_every_n_frames_and_tracked_between() {
        let mut s = Scheduler::new(opts(4));
        let faces = [face(200.0, 150.0)];
        s.record(true);
        let mut ran = Vec::new();
        for _ in 0..12 {
            let why = s
                .before_crop(640.0, 480.0, &faces)
                .or_else(|| s.after_crop(&[3.0]));
            ran.push(why.is_some());
            if let Some(w) = why {
                assert_eq!(w, Reason::Interval);
            }
            s.record(why.is_some());
        }
        // The first run was before the loop: runs on every fourth frame.
        let want = [false, false, false, true].repeat(3);
        assert_eq!(ran, want);
    }

    #[test]
    fn no_face_a_new_face_or_a_lost_one_always_needs_the_detector() {
        let mut s = Scheduler::new(opts(10));
        s.record(true);
        assert_eq!(s.before_crop(640.0, 480.0, &[]), Some(Reason::NoFace));
        let new = TrackedFace {
            confirmed: false,
            ..face(200.0, 150.0)
        };
        assert_eq!(
            s.before_crop(640.0, 480.0, &[face(0.0 + 300.0, 150.0), new]),
            Some(Reason::NewFace)
        );
        let lost = TrackedFace {
            lost: true,
            ..face(200.0, 150.0)
        };
        assert_eq!(s.before_crop(640.0, 480.0, &[lost]), Some(Reason::Lost));
        assert_eq!(s.before_crop(640.0, 480.0, &[face(200.0, 150.0)]), None);
    }

    #[test]
    fn a_face_in_its_first_window_is_detected_on_every_frame() {
        // Confirmed and steady, but first seen 960 ms ago of a 1000 ms window: the
        // detector runs until the window is over, then the interval takes over.
        let mut s = Scheduler::new(opts(10));
        s.record(true);
        let young = |age_ms| TrackedFace {
            age_ms,
            ..face(200.0, 150.0)
        };
        assert_eq!(
            s.before_crop(640.0, 480.0, &[young(960.0)]),
            Some(Reason::YoungFace)
        );
        // One young face among old ones is enough.
        assert_eq!(
            s.before_crop(640.0, 480.0, &[face(400.0, 150.0), young(0.0)]),
            Some(Reason::YoungFace)
        );
        assert_eq!(s.before_crop(640.0, 480.0, &[young(1000.0)]), None);
        // 0 turns the rule off.
        let off = Scheduler::new(ScheduleOptions {
            new_face_ms: 0.0,
            ..opts(10)
        });
        assert_eq!(off.before_crop(640.0, 480.0, &[young(0.0)]), None);
    }

    #[test]
    fn a_face_near_any_edge_needs_the_detector() {
        let mut s = Scheduler::new(opts(10));
        s.record(true);
        // 0.25 box widths = 25 px from each edge of 640 x 480.
        for (x, y) in [(20.0, 150.0), (200.0, 20.0), (520.0, 150.0), (200.0, 360.0)] {
            assert_eq!(
                s.before_crop(640.0, 480.0, &[face(x, y)]),
                Some(Reason::NearEdge),
                "({x}, {y})"
            );
        }
        for (x, y) in [(26.0, 26.0), (514.0, 354.0)] {
            assert_eq!(
                s.before_crop(640.0, 480.0, &[face(x, y)]),
                None,
                "({x}, {y})"
            );
        }
    }

    #[test]
    fn a_crop_that_changed_too_much_or_has_no_reference_needs_the_detector() {
        let s = Scheduler::new(opts(10));
        assert_eq!(s.after_crop(&[2.0, 10.0]), None);
        assert_eq!(s.after_crop(&[2.0, 10.5]), Some(Reason::CropChanged));
        assert_eq!(s.after_crop(&[f32::INFINITY]), Some(Reason::CropChanged));
        assert_eq!(s.after_crop(&[f32::NAN]), Some(Reason::CropChanged));
    }

    #[test]
    fn a_detection_forced_early_restarts_the_interval() {
        let mut s = Scheduler::new(opts(3));
        let faces = [face(200.0, 150.0)];
        s.record(true);
        assert_eq!(s.before_crop(640.0, 480.0, &faces), None);
        s.record(true); // e.g. the crop changed: the next two frames go without
        for _ in 0..2 {
            assert_eq!(s.before_crop(640.0, 480.0, &faces), None);
            s.record(false);
        }
        assert_eq!(s.before_crop(640.0, 480.0, &faces), Some(Reason::Interval));
    }

    #[test]
    fn crop_change_is_the_mean_absolute_difference_after_matching_exposure() {
        // the same pattern darker and flatter (an exposure change): no change
        let a = [10.0, 50.0, 30.0, 70.0];
        let darker: Vec<f32> = a.iter().map(|v| 0.5 * v + 3.0).collect();
        assert!(crop_change(&a, &darker) < 1e-4);
        // a different pattern under the same exposure: its mean absolute difference
        assert_eq!(
            crop_change(&[0.0, 10.0, 0.0, 10.0], &[10.0, 0.0, 10.0, 0.0]),
            10.0
        );
        assert_eq!(crop_change(&[1.0], &[1.0, 2.0]), f32::INFINITY);
        assert_eq!(crop_change(&[], &[]), f32::INFINITY);
        assert_eq!(
            crop_change(&a, &[7.0; 4]),
            f32::INFINITY,
            "a flat crop is not the face"
        );
        assert_eq!(crop_change(&[7.0; 4], &[9.0; 4]), 0.0);
    }

    /// A smooth pattern (a blob and a gradient) sampled at an offset.
    fn pattern(size: usize, ox: f32, oy: f32) -> Vec<f32> {
        (0..size * size)
            .map(|i| {
                let (x, y) = ((i % size) as f32 - ox, (i / size) as f32 - oy);
                let (u, v) = (x - 20.0, y - 18.0);
                100.0 + 80.0 * (-(u * u + 2.0 * v * v) / 60.0).exp() + 1.5 * x - 0.8 * y
            })
            .collect()
    }

    #[test]
    fn the_shift_of_a_moved_face_is_found_to_a_fraction_of_a_pixel() {
        let reference = pattern(48, 0.0, 0.0);
        for (ox, oy) in [
            (0.0, 0.0),
            (2.0, -3.0),
            (-1.4, 0.6),
            (3.3, 2.5),
            (-4.0, 4.0),
        ] {
            let moved = pattern(48, ox, oy);
            let (dx, dy) = best_shift(&reference, &moved, 48, ALIGN_RADIUS).unwrap();
            assert!(
                (dx - ox).abs() < 0.3 && (dy - oy).abs() < 0.3,
                "({ox}, {oy}) found as ({dx}, {dy})"
            );
        }
        // beyond the radius it stops at the edge, unrefined
        let far = pattern(48, 7.0, 0.0);
        let (dx, _) = best_shift(&reference, &far, 48, ALIGN_RADIUS).unwrap();
        assert_eq!(dx, 4.0);
        // a flat crop has nothing to align: zero wins the tie
        assert_eq!(
            best_shift(&[5.0; 48 * 48], &[5.0; 48 * 48], 48, 4),
            Some((0.0, 0.0))
        );
        assert_eq!(best_shift(&reference, &moved_short(), 48, 4), None);
        assert_eq!(
            best_shift(&[0.0; 16], &[0.0; 16], 4, 2),
            None,
            "no interior"
        );
    }

    /// Two blobs and a gradient, as seen after the face moved by `m` (what the
    /// reference shows at p is at centre + (1 + scale) turn(p - centre) + shift).
    fn moved_pattern(size: usize, m: Motion) -> Vec<f32> {
        let c = (size as f32 - 1.0) / 2.0;
        let (s, co) = m.turn.sin_cos();
        (0..size * size)
            .map(|i| {
                // back to reference coordinates
                let (qx, qy) = ((i % size) as f32 - c - m.dx, (i / size) as f32 - c - m.dy);
                let (qx, qy) = (qx / (1.0 + m.scale), qy / (1.0 + m.scale));
                let (x, y) = (co * qx + s * qy + c, -s * qx + co * qy + c);
                let blob = |bx: f32, by: f32, k: f32| {
                    let (u, v) = (x - bx, y - by);
                    (-(u * u + 2.0 * v * v) / k).exp()
                };
                100.0 + 80.0 * blob(17.0, 18.0, 50.0) - 60.0 * blob(31.0, 30.0, 40.0) + 1.5 * x
                    - 0.8 * y
            })
            .collect()
    }

    #[test]
    fn align_finds_the_turn_the_change_of_size_and_the_shift() {
        let reference = moved_pattern(48, Motion::default());
        let cases = [
            Motion::default(),
            Motion {
                dx: 2.3,
                dy: -1.2,
                turn: 0.05,
                scale: 0.03,
            },
            Motion {
                dx: -0.4,
                dy: 0.7,
                turn: -0.08,
                scale: 0.0,
            },
            Motion {
                dx: 3.0,
                dy: 1.0,
                turn: 0.0,
                scale: -0.05,
            },
        ];
        for want in cases {
            let got = align(&reference, &moved_pattern(48, want), 48, ALIGN_RADIUS).unwrap();
            assert!(
                (got.dx - want.dx).abs() < 0.3
                    && (got.dy - want.dy).abs() < 0.3
                    && (got.turn - want.turn).abs() < 0.015
                    && (got.scale - want.scale).abs() < 0.015,
                "{want:?} found as {got:?}"
            );
            assert_eq!(got.matters(48), want != Motion::default(), "{got:?}");
        }
        // flat crops: nothing to align, no motion
        let flat = vec![9.0; 48 * 48];
        assert_eq!(align(&flat, &flat, 48, 4), Some(Motion::default()));
        assert_eq!(align(&reference, &[0.0; 10], 48, 4), None);
    }

    fn moved_short() -> Vec<f32> {
        vec![0.0; 10]
    }
}
