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
//! face moved unlike its track, turned, or was covered). This type only decides;
//! the pipeline cuts the crops and runs the models.

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

/// Mean absolute difference of two crops in gray levels; infinite when their sizes
/// differ (nothing to compare).
pub fn crop_change(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return f32::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
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
    fn crop_change_is_the_mean_absolute_difference() {
        assert_eq!(crop_change(&[0.0, 10.0], &[4.0, 4.0]), 5.0);
        assert_eq!(crop_change(&[1.0], &[1.0, 2.0]), f32::INFINITY);
        assert_eq!(crop_change(&[], &[]), f32::INFINITY);
    }
}
