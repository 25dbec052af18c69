//! Stable face ids across frames: greedy matching on overlap and motion, with
//! birth and death hysteresis so one missed detection does not reset a face.
//! Between detector runs ([`crate::schedule`]) a track carries its last detection
//! forward by its motion ([`Tracker::carried`], [`Tracker::coast`]); a frame the
//! detector skipped is not a miss.

use crate::detect::{Detection, Rect};

/// Weight of a new detection in a track's smoothed box size ([`Track::size`]).
/// BlazeFace's box size jitters by several percent frame to frame; a carried crop
/// framed on one jittered sample would stay off for every frame until the next
/// detection, so carried boxes take the recent mean instead.
pub const SIZE_SMOOTHING: f32 = 0.5;

/// Tracker settings. Times are in milliseconds so behaviour does not depend on the
/// frame rate.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerOptions {
    /// Minimum IoU between a predicted track box and a detection to match them.
    pub match_iou: f32,
    /// A detection whose centre is within this many box widths of a prediction may
    /// still match when the overlap is low (fast motion).
    pub max_center_jump: f32,
    /// Detections in a row before a new track is confirmed (births).
    pub min_hits: u32,
    /// A track unseen for longer than this dies (deaths).
    pub max_missed_ms: f64,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            match_iou: 0.2,
            max_center_jump: 0.7,
            min_hits: 2,
            max_missed_ms: 400.0,
        }
    }
}

/// One tracked face.
#[derive(Clone, Debug)]
pub struct Track {
    /// Stable id, never reused within a run.
    pub id: u64,
    /// Latest box (detected, or predicted while coasting).
    pub rect: Rect,
    /// Box-centre velocity in pixels per millisecond.
    pub velocity: (f32, f32),
    /// Box width and height smoothed over its detections ([`SIZE_SMOOTHING`]): the
    /// size of carried boxes.
    pub size: (f32, f32),
    /// Detections matched so far.
    pub hits: u32,
    /// Time of the first detection.
    pub first_seen_ms: f64,
    /// Time of the latest observation of the face: its latest matched detection, or
    /// a later frame where the pipeline found it by aligning crops
    /// ([`Tracker::follow`]). The track's box and velocity are from then.
    pub last_seen_ms: f64,
    /// Time the face was last known present: its latest matched detection, or a
    /// later frame the detector skipped while the face was tracked. Deaths count
    /// from here, so skipped frames are not misses.
    pub present_ms: f64,
    /// Missed at the detector's latest run (coasting on its prediction).
    pub lost: bool,
    /// Score of the latest matched detection.
    pub score: f32,
    /// Keypoints of the latest matched detection, frame pixels.
    pub keypoints: [[f32; 2]; 6],
    /// Passed the birth hysteresis.
    pub confirmed: bool,
}

impl Track {
    /// Blends the move of the box's centre from the latest observation to `rect` at
    /// `t_ms` into the velocity (half old, half new).
    fn learn_velocity(&mut self, t_ms: f64, rect: &Rect) {
        let dt = (t_ms - self.last_seen_ms).max(1.0) as f32;
        let (ox, oy) = self.rect.center();
        let (nx, ny) = rect.center();
        let v = ((nx - ox) / dt, (ny - oy) / dt);
        self.velocity = (
            0.5 * self.velocity.0 + 0.5 * v.0,
            0.5 * self.velocity.1 + 0.5 * v.1,
        );
    }

    fn predict(&self, t_ms: f64) -> Rect {
        let dt = (t_ms - self.last_seen_ms) as f32;
        Rect {
            x: self.rect.x + self.velocity.0 * dt,
            y: self.rect.y + self.velocity.1 * dt,
            ..self.rect
        }
    }

    /// The latest detection moved by the track's motion to time `t_ms` and given the
    /// track's smoothed size ([`Track::size`]): its centre moves with the velocity,
    /// the keypoints move and scale about the centre with the box, score kept.
    pub fn carried(&self, t_ms: f64) -> Detection {
        let moved = self.predict(t_ms);
        let (cx, cy) = moved.center();
        let (ox, oy) = self.rect.center();
        let (w, h) = self.size;
        let rect = Rect {
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            w,
            h,
        };
        let (sx, sy) = (w / self.rect.w.max(1e-3), h / self.rect.h.max(1e-3));
        Detection {
            rect,
            score: self.score,
            keypoints: self
                .keypoints
                .map(|[x, y]| [cx + (x - ox) * sx, cy + (y - oy) * sy]),
        }
    }
}

/// What the tracker says about one live track in the current frame.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackUpdate {
    /// Track id.
    pub id: u64,
    /// Index into this frame's detections, or `None` while coasting on a miss.
    pub detection: Option<usize>,
    /// Box for this frame.
    pub rect: Rect,
    /// Whether the track is confirmed (only confirmed tracks get captions).
    pub confirmed: bool,
}

/// Multi-face tracker.
#[derive(Debug, Default)]
pub struct Tracker {
    opts: TrackerOptions,
    tracks: Vec<Track>,
    next_id: u64,
}

impl Tracker {
    /// A tracker with no tracks.
    pub fn new(opts: TrackerOptions) -> Self {
        Tracker {
            opts,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// Live tracks.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Ids of tracks that died in the last update are simply absent from its result.
    pub fn update(&mut self, t_ms: f64, dets: &[Detection]) -> Vec<TrackUpdate> {
        // Candidate pairs, best affinity first.
        let mut pairs = Vec::new();
        for (ti, tr) in self.tracks.iter().enumerate() {
            let pred = tr.predict(t_ms);
            let (px, py) = pred.center();
            for (di, d) in dets.iter().enumerate() {
                let iou = pred.iou(&d.rect);
                let (dx, dy) = d.rect.center();
                let jump = ((dx - px).powi(2) + (dy - py).powi(2)).sqrt() / pred.w.max(1.0);
                let size_ratio = d.rect.w / pred.w.max(1.0);
                let affinity = if iou >= self.opts.match_iou {
                    1.0 + iou
                } else if jump <= self.opts.max_center_jump && (0.5..2.0).contains(&size_ratio) {
                    1.0 - jump / self.opts.max_center_jump
                } else {
                    continue;
                };
                pairs.push((affinity, ti, di));
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut track_det = vec![None; self.tracks.len()];
        let mut det_used = vec![false; dets.len()];
        for (_, ti, di) in pairs {
            if track_det[ti].is_none() && !det_used[di] {
                track_det[ti] = Some(di);
                det_used[di] = true;
            }
        }
        let mut out = Vec::new();
        for (tr, matched) in self.tracks.iter_mut().zip(&track_det) {
            if let Some(di) = *matched {
                let d = &dets[di];
                tr.learn_velocity(t_ms, &d.rect);
                let k = SIZE_SMOOTHING;
                tr.size = (
                    k * d.rect.w + (1.0 - k) * tr.size.0,
                    k * d.rect.h + (1.0 - k) * tr.size.1,
                );
                tr.rect = d.rect;
                tr.score = d.score;
                tr.keypoints = d.keypoints;
                tr.hits += 1;
                tr.last_seen_ms = t_ms;
                tr.present_ms = t_ms;
                tr.confirmed |= tr.hits >= self.opts.min_hits;
            }
        }
        // Deaths: unmatched for too long. Unconfirmed tracks die on their first miss.
        let max_missed = self.opts.max_missed_ms;
        let mut keep = Vec::new();
        for (mut tr, matched) in std::mem::take(&mut self.tracks).into_iter().zip(track_det) {
            let alive = matched.is_some() || (tr.confirmed && t_ms - tr.present_ms <= max_missed);
            tr.lost = matched.is_none();
            if alive {
                let rect = if matched.is_some() {
                    tr.rect
                } else {
                    tr.predict(t_ms)
                };
                out.push(TrackUpdate {
                    id: tr.id,
                    detection: matched,
                    rect,
                    confirmed: tr.confirmed,
                });
                keep.push(tr);
            }
        }
        self.tracks = keep;
        // Births.
        for (di, d) in dets.iter().enumerate().filter(|(i, _)| !det_used[*i]) {
            let tr = Track {
                id: self.next_id,
                rect: d.rect,
                velocity: (0.0, 0.0),
                size: (d.rect.w, d.rect.h),
                hits: 1,
                first_seen_ms: t_ms,
                last_seen_ms: t_ms,
                present_ms: t_ms,
                lost: false,
                score: d.score,
                keypoints: d.keypoints,
                confirmed: self.opts.min_hits <= 1,
            };
            self.next_id += 1;
            out.push(TrackUpdate {
                id: tr.id,
                detection: Some(di),
                rect: tr.rect,
                confirmed: tr.confirmed,
            });
            self.tracks.push(tr);
        }
        out
    }

    /// Each live track's latest detection carried forward to `t_ms`, in track order:
    /// where to cut this frame's crops when the detector does not run.
    pub fn carried(&self, t_ms: f64) -> Vec<Detection> {
        self.tracks.iter().map(|tr| tr.carried(t_ms)).collect()
    }

    /// A frame the detector skipped, where the pipeline found where each face moved
    /// (`found`, in track order, as [`Tracker::carried`] gives them, then shifted by
    /// aligning crops): each found track takes that place as its latest box, size and
    /// keypoints, and its velocity learns from the move, as from a detection; its
    /// score and hits are left to the detector. The rest is [`Tracker::coast`].
    pub fn follow(&mut self, t_ms: f64, found: &[Detection]) -> Vec<TrackUpdate> {
        for (tr, d) in self.tracks.iter_mut().zip(found) {
            if tr.lost || t_ms <= tr.last_seen_ms {
                continue;
            }
            tr.learn_velocity(t_ms, &d.rect);
            tr.rect = d.rect;
            tr.size = (d.rect.w, d.rect.h);
            tr.keypoints = d.keypoints;
            tr.last_seen_ms = t_ms;
        }
        self.coast(t_ms)
    }

    /// A frame the detector skipped: every track keeps its id and moves by its
    /// motion, and none counts a miss (its face was tracked, not looked for). A
    /// found track's update points at its entry of [`Tracker::carried`] for the same
    /// time; a lost one coasts on as after a miss (`None`).
    pub fn coast(&mut self, t_ms: f64) -> Vec<TrackUpdate> {
        self.tracks
            .iter_mut()
            .enumerate()
            .map(|(k, tr)| {
                if !tr.lost {
                    tr.present_ms = t_ms;
                }
                TrackUpdate {
                    id: tr.id,
                    detection: (!tr.lost).then_some(k),
                    rect: if tr.lost {
                        tr.predict(t_ms)
                    } else {
                        tr.carried(t_ms).rect
                    },
                    confirmed: tr.confirmed,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, w: f32) -> Detection {
        Detection {
            rect: Rect { x, y, w, h: w },
            score: 0.9,
            keypoints: [[0.0; 2]; 6],
        }
    }

    #[test]
    fn skipped_frames_are_not_misses() {
        // max_missed_ms 400: a face detected at 0 and 40 ms, then tracked without the
        // detector for 600 ms, then missed once, is still alive and keeps its id.
        let mut t = Tracker::new(TrackerOptions::default());
        t.update(0.0, &[det(100.0, 100.0, 80.0)]);
        let id = t.update(40.0, &[det(104.0, 100.0, 80.0)])[0].id;
        for f in 2..17 {
            let u = t.coast(f as f64 * 40.0);
            assert_eq!((u[0].id, u[0].detection), (id, Some(0)));
        }
        let u = t.update(680.0, &[]);
        assert_eq!(u.len(), 1, "one miss after tracked frames is not a death");
        assert!(u[0].detection.is_none() && t.tracks()[0].lost);
        // While lost, a skipped frame does not refresh it: it dies 400 ms after 640.
        assert_eq!(t.coast(720.0)[0].detection, None);
        assert!(t.update(1080.0, &[]).is_empty());
    }

    /// A face detected at 0 and 40 ms, 8 px further right the second time (box x 100
    /// then 108, right eye at (120, 130) then (128, 130)).
    fn moving_right() -> Tracker {
        let mut t = Tracker::new(TrackerOptions::default());
        let mut d = det(100.0, 100.0, 80.0);
        d.keypoints[0] = [120.0, 130.0];
        t.update(0.0, std::slice::from_ref(&d));
        d.rect.x += 8.0;
        d.keypoints[0][0] += 8.0;
        t.update(40.0, std::slice::from_ref(&d));
        t
    }

    #[test]
    fn carried_detections_move_box_and_keypoints_with_the_track() {
        let mut t = moving_right();
        // Velocity: half of 8 px / 40 ms (the first frame had none) = 0.1 px/ms.
        let c = t.carried(80.0);
        assert_eq!(c.len(), 1);
        assert!((c[0].rect.x - 112.0).abs() < 1e-4, "{:?}", c[0].rect);
        assert!((c[0].keypoints[0][0] - 132.0).abs() < 1e-4);
        assert_eq!(c[0].keypoints[0][1], 130.0);
        assert_eq!((c[0].rect.w, c[0].score), (80.0, 0.9));
        assert!((c[0].rect.center().1 - 140.0).abs() < 1e-4);
        let u = t.coast(80.0);
        assert_eq!(u[0].rect, c[0].rect);
        // Coasting does not move the detection the velocity is measured from.
        let u = t.update(120.0, &[det(116.0, 100.0, 80.0)]);
        assert_eq!(u[0].detection, Some(0));
        assert!((t.tracks()[0].velocity.0 - 0.1).abs() < 1e-4);
    }

    #[test]
    fn a_followed_face_moves_its_track_and_teaches_its_velocity() {
        // Detected at 0 and 40 ms (0.1 px/ms to the right, box x 108 at 40 ms). At 80
        // ms the crops show the face 6 px further right than the carried 112: it is
        // at 118, and the velocity blends in the observed 10 px / 40 ms.
        let mut t = moving_right();
        let found: Vec<Detection> = t.carried(80.0).iter().map(|c| c.moved(6.0, 0.0)).collect();
        let u = t.follow(80.0, &found);
        assert_eq!((u[0].detection, u[0].rect), (Some(0), found[0].rect));
        let tr = &t.tracks()[0];
        assert!((tr.velocity.0 - 0.175).abs() < 1e-4, "{:?}", tr.velocity);
        assert_eq!((tr.last_seen_ms, tr.hits), (80.0, 2));
        let c = &t.carried(120.0)[0];
        assert!((c.rect.x - 125.0).abs() < 1e-3, "{:?}", c.rect);
        assert!(
            (c.keypoints[0][0] - 145.0).abs() < 1e-3,
            "{:?}",
            c.keypoints
        );
        // Found where the track predicted: nothing changes but the time.
        let same = t.carried(120.0);
        t.follow(120.0, &same);
        assert!((t.tracks()[0].velocity.0 - 0.175).abs() < 1e-4);
        // A lost face is not moved by a follow.
        t.update(160.0, &[]);
        let before = t.tracks()[0].rect;
        let far: Vec<Detection> = t
            .carried(200.0)
            .iter()
            .map(|c| c.moved(50.0, 0.0))
            .collect();
        let u = t.follow(200.0, &far);
        assert_eq!((u[0].detection, t.tracks()[0].rect), (None, before));
    }

    #[test]
    fn carried_boxes_take_the_smoothed_size_about_the_moved_centre() {
        // BlazeFace's box jitters: 100, then 120 px. The carried box is their mean
        // (SIZE_SMOOTHING 0.5), centred where the last box's centre moved, and the
        // keypoints scale with it about that centre.
        let mut t = Tracker::new(TrackerOptions::default());
        t.update(0.0, &[det(100.0, 100.0, 100.0)]);
        let mut d = det(90.0, 90.0, 120.0); // same centre (150, 150), bigger
        d.keypoints[1] = [180.0, 120.0]; // 30 px right of and above the centre
        t.update(40.0, std::slice::from_ref(&d));
        assert_eq!(t.tracks()[0].velocity, (0.0, 0.0));
        let c = &t.carried(80.0)[0];
        assert!((c.rect.w - 110.0).abs() < 1e-4 && (c.rect.h - 110.0).abs() < 1e-4);
        assert_eq!(c.rect.center(), (150.0, 150.0));
        let k = c.keypoints[1];
        let want = [150.0 + 30.0 * 110.0 / 120.0, 150.0 - 30.0 * 110.0 / 120.0];
        assert!(
            (k[0] - want[0]).abs() < 1e-3 && (k[1] - want[1]).abs() < 1e-3,
            "{k:?}"
        );
        // A detection replaces the box as detected; the smoothing only feeds carries.
        let u = t.update(120.0, &[det(95.0, 95.0, 110.0)]);
        assert_eq!(u[0].rect.w, 110.0);
        assert!((t.tracks()[0].size.0 - 110.0).abs() < 1e-4);
        // Coasting reports the carried box.
        assert_eq!(t.coast(160.0)[0].rect, t.carried(160.0)[0].rect);
    }

    #[test]
    fn a_lost_face_coasts_and_a_tracked_one_is_refreshed_by_skipped_frames() {
        // Two confirmed faces; the detector misses one (lost) and finds the other.
        // On the skipped frames that follow, the found one is present and keeps
        // living past max_missed_ms, while the lost one dies 400 ms after its miss.
        let mut t = Tracker::new(TrackerOptions::default());
        let faces = [det(0.0, 0.0, 80.0), det(300.0, 0.0, 80.0)];
        t.update(0.0, &faces);
        let ids: Vec<u64> = t.update(40.0, &faces).iter().map(|u| u.id).collect();
        let u = t.update(80.0, &faces[1..]);
        assert_eq!(u.len(), 2);
        let mut alive = Vec::new();
        for f in 3..20 {
            let u = t.coast(f as f64 * 40.0);
            alive.push(
                u.iter()
                    .map(|u| (u.id, u.detection.is_some()))
                    .collect::<Vec<_>>(),
            );
        }
        assert!(alive.iter().all(|a| a == &alive[0]), "{alive:?}");
        assert_eq!(alive[0], vec![(ids[0], false), (ids[1], true)]);
        // The found face was last detected at 80 ms but present on every skipped
        // frame since: alive at 800 ms. The lost one was last present at 40 ms.
        let u = t.update(800.0, &faces[1..]);
        assert_eq!(u.iter().map(|u| u.id).collect::<Vec<_>>(), vec![ids[1]]);
    }

    #[test]
    fn moving_face_keeps_its_id_and_survives_short_misses() {
        let mut t = Tracker::new(TrackerOptions::default());
        let mut ids = Vec::new();
        for f in 0..30 {
            let ms = f as f64 * 40.0;
            let dets = if f % 7 == 3 || f == 20 || f == 21 {
                vec![]
            } else {
                vec![det(100.0 + 6.0 * f as f32, 100.0, 80.0)]
            };
            let u = t.update(ms, &dets);
            assert_eq!(u.len(), 1, "frame {f}: {u:?}");
            ids.push(u[0].id);
            if f >= 1 && !dets.is_empty() {
                assert!(u[0].confirmed);
            }
        }
        assert!(ids.iter().all(|&i| i == ids[0]), "{ids:?}");
    }

    #[test]
    fn two_faces_get_two_ids_and_a_long_absence_ends_a_track() {
        let mut t = Tracker::new(TrackerOptions::default());
        let a = t.update(0.0, &[det(0.0, 0.0, 50.0), det(300.0, 0.0, 50.0)]);
        assert_ne!(a[0].id, a[1].id);
        let b = t.update(40.0, &[det(302.0, 0.0, 50.0), det(2.0, 0.0, 50.0)]);
        // The track near x in u; a missing track fails here, not as None == None below.
        let id_at = |u: &[TrackUpdate], x: f32| {
            u.iter()
                .find(|u| (u.rect.x - x).abs() < 10.0)
                .map(|u| u.id)
                .unwrap_or_else(|| panic!("no track near x = {x}: {u:?}"))
        };
        assert_eq!(id_at(&a, 0.0), id_at(&b, 2.0));
        assert_eq!(id_at(&a, 300.0), id_at(&b, 302.0));
        assert!(t.update(1000.0, &[]).is_empty());
        let c = t.update(1040.0, &[det(0.0, 0.0, 50.0)]);
        assert!(
            c[0].id > 2 && !c[0].confirmed,
            "a new track after death: {c:?}"
        );
    }

    #[test]
    fn a_one_frame_false_positive_never_confirms() {
        let mut t = Tracker::new(TrackerOptions::default());
        let u = t.update(0.0, &[det(0.0, 0.0, 50.0)]);
        assert!(!u[0].confirmed);
        assert!(t.update(40.0, &[]).is_empty());
    }
}
