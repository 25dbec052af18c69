//! Face detection with MediaPipe BlazeFace (full range) running in tract.
//!
//! Full range (192x192, one anchor per 4-pixel cell) rather than short range
//! (128x128, anchors from 8 px): at conversation distance a face is 60–300 px tall
//! in a 640x480 frame, 18–90 px after letterboxing to 192, which the short-range
//! model's coarser anchors and selfie-distance training miss at the small end.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use tract_onnx::prelude::*;

use crate::Frame;
use crate::onnx::{ModelError, OnnxFile};

/// Input side of the network in pixels.
pub const INPUT: usize = 192;
const GRID: usize = 48;

/// The detector's outputs for one image: per anchor of the 48x48 grid, 16 regressors
/// (box and six keypoints) and one score (models/README.md).
pub const OUTPUT_SHAPES: [&[usize]; 2] = [&[1, GRID * GRID, 16], &[1, GRID * GRID, 1]];

/// An axis-aligned box in frame pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Rect {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl Rect {
    /// Centre point.
    pub fn center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Intersection over union; 0 for disjoint or empty boxes.
    pub fn iou(&self, o: &Rect) -> f32 {
        let inter = self.intersection(o);
        let union = self.w * self.h + o.w * o.h - inter;
        if inter <= 0.0 || union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Area shared with another box; 0 when disjoint.
    fn intersection(&self, o: &Rect) -> f32 {
        let ix = (self.x + self.w).min(o.x + o.w) - self.x.max(o.x);
        let iy = (self.y + self.h).min(o.y + o.h) - self.y.max(o.y);
        if ix <= 0.0 || iy <= 0.0 { 0.0 } else { ix * iy }
    }
}

/// Keypoint order of BlazeFace: the subject's right eye (image left in an unmirrored
/// photo), left eye, nose tip, mouth, right ear tragion, left ear tragion.
pub const KEYPOINT_NAMES: [&str; 6] = [
    "right_eye",
    "left_eye",
    "nose",
    "mouth",
    "right_ear",
    "left_ear",
];

/// One face found in a frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// Face box in frame pixels.
    pub rect: Rect,
    /// Detector confidence in [0, 1].
    pub score: f32,
    /// Six keypoints in frame pixels, in [`KEYPOINT_NAMES`] order.
    pub keypoints: [[f32; 2]; 6],
}

impl Detection {
    /// The same face `(dx, dy)` frame pixels away: where a tracked face is found to
    /// have moved between detector runs.
    pub fn moved(&self, dx: f32, dy: f32) -> Detection {
        Detection {
            rect: Rect {
                x: self.rect.x + dx,
                y: self.rect.y + dy,
                ..self.rect
            },
            score: self.score,
            keypoints: self.keypoints.map(|[x, y]| [x + dx, y + dy]),
        }
    }
}

/// Detection settings.
#[derive(Clone, Debug)]
pub struct DetectorOptions {
    /// Minimum face score.
    pub min_score: f32,
    /// IoU above which overlapping candidates merge.
    pub nms_iou: f32,
    /// Faces narrower than this (pixels) are ignored.
    pub min_face_px: f32,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions {
            min_score: 0.5,
            nms_iou: 0.3,
            min_face_px: 16.0,
        }
    }
}

/// BlazeFace full-range detector.
pub struct Detector {
    plan: Arc<TypedSimplePlan>,
    path: std::path::PathBuf,
    opts: DetectorOptions,
    input: Vec<f32>,
}

/// A raw candidate in normalised letterbox coordinates: box corners then keypoints.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// Confidence.
    pub score: f32,
    /// x0, y0, x1, y1, then 6 (x, y) keypoints.
    pub coords: [f32; 16],
}

impl Candidate {
    fn rect(&self) -> Rect {
        let c = &self.coords;
        Rect {
            x: c[0],
            y: c[1],
            w: c[2] - c[0],
            h: c[3] - c[1],
        }
    }
}

impl Detector {
    /// Loads the ONNX detector and checks its outputs against the contract
    /// ([`OUTPUT_SHAPES`]) before it ever runs.
    pub fn load(path: &Path, opts: DetectorOptions) -> Result<Self, ModelError> {
        let file = OnnxFile::load(
            path,
            "it ships in the repository under models/; regenerate it with \
             `python training/tools/convert_blazeface.py` (see models/README.md)",
        )?;
        let (plan, outputs) = file.plan_checked(&[1, 3, INPUT, INPUT])?;
        if outputs.len() != OUTPUT_SHAPES.len()
            || outputs.iter().zip(OUTPUT_SHAPES).any(|(o, want)| o != want)
        {
            return Err(ModelError::Contract {
                path: path.to_owned(),
                what: format!(
                    "a BlazeFace full-range detector has two outputs, regressors \
                     [1, 2304, 16] and classificators [1, 2304, 1], for input \
                     [1, 3, {INPUT}, {INPUT}]; this one has {} with shapes {outputs:?}; set \
                     models.detector to models/blazeface_full_range.onnx",
                    outputs.len()
                ),
            });
        }
        Ok(Detector {
            plan,
            path: path.to_owned(),
            opts,
            input: vec![0.0; 3 * INPUT * INPUT],
        })
    }

    /// Finds faces in a frame, strongest first. When the whole frame shows none, it
    /// looks once more with the frame at half size in the middle of the network's
    /// input ([`zoomed_out`]): BlazeFace misses a face that fills most of the frame (a
    /// face close to the camera, a tightly cropped clip or photo), larger than any it
    /// was trained on.
    pub fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, ModelError> {
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let whole = Rect {
            x: 0.0,
            y: 0.0,
            w,
            h,
        };
        let found = self.detect_in(frame, &whole)?;
        if !found.is_empty() {
            return Ok(found);
        }
        self.detect_in(frame, &zoomed_out(&whole))
    }

    /// Finds faces in a still photo, where a single look must count and time is
    /// cheap. The whole frame shows the network a face at 192/longest-side of its
    /// size, so a face under about a fifth of the frame's height (a half-body shot, a
    /// group) is too small for it; overlapping tiles, 2x2 then 3x3, look again at up
    /// to twice the resolution. A tile's face must lie wholly inside the tile (a face
    /// cut by a tile edge is found whole by a neighbour), must not repeat a face
    /// already found, and must be at least a quarter as wide as the widest face the
    /// whole frame showed. If still nothing is found, the whole frame gets a second look
    /// with a lower bar (0.3) and the best face is kept. `tiles: false` skips the tiles
    /// (`classify --one-look`).
    pub fn detect_still(
        &mut self,
        frame: &Frame,
        tiles: bool,
    ) -> Result<Vec<Detection>, ModelError> {
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let mut found = self.detect(frame)?;
        // Thirteen more looks also mean more chances of a false face in the background;
        // one far smaller than a face already found cannot be the photo's subject.
        let min_w = found.iter().map(|d| d.rect.w).fold(0.0, f32::max) / 4.0;
        let grids: &[u8] = if tiles { &[2, 3] } else { &[] };
        for &n in grids {
            for tile in grid(w, h, n) {
                for d in self.detect_in(frame, &tile)? {
                    let margin = 0.02 * tile.w.max(tile.h);
                    if d.rect.w < min_w
                        || cut_by_edge(&d.rect, &tile, w, h, margin)
                        || found.iter().any(|f| overlap(&f.rect, &d.rect) > 0.5)
                    {
                        continue;
                    }
                    found.push(d);
                }
            }
        }
        if found.is_empty() {
            let bar = self.opts.min_score;
            self.opts.min_score = bar.min(0.3);
            let again = self.detect(frame);
            self.opts.min_score = bar;
            found = again?;
            found.truncate(1);
        }
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(found)
    }

    /// Finds faces in one region of a frame (letterboxed alone into the input), in
    /// frame pixels.
    fn detect_in(&mut self, frame: &Frame, region: &Rect) -> Result<Vec<Detection>, ModelError> {
        if region.w < 1.0 || region.h < 1.0 {
            return Ok(Vec::new());
        }
        let letter = Letterbox::new(region);
        self.fill_input(frame, &letter);
        let run = |e: anyhow::Error| ModelError::Run {
            path: self.path.clone(),
            reason: format!("{e:#}"),
        };
        let input = Tensor::from_shape(&[1, 3, INPUT, INPUT], &self.input).map_err(run)?;
        let out = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| ModelError::Run {
                path: self.path.clone(),
                reason: format!("{e:#}"),
            })?;
        let contract = |what: &str| ModelError::Contract {
            path: self.path.clone(),
            what: what.into(),
        };
        let (Some(reg), Some(cls)) = (out.first(), out.get(1)) else {
            return Err(contract("expected two outputs, regressors and scores"));
        };
        let reg = reg
            .to_plain_array_view::<f32>()
            .map_err(|_| contract("regressors are not f32"))?;
        let cls = cls
            .to_plain_array_view::<f32>()
            .map_err(|_| contract("scores are not f32"))?;
        let (reg, cls): (Vec<f32>, Vec<f32>) =
            (reg.iter().copied().collect(), cls.iter().copied().collect());
        if reg.len() != GRID * GRID * 16 || cls.len() != GRID * GRID {
            return Err(contract("expected outputs [1,2304,16] and [1,2304,1]"));
        }
        let cands = decode(&reg, &cls, self.opts.min_score);
        let merged = weighted_nms(cands, self.opts.nms_iou);
        Ok(merged
            .into_iter()
            .map(|c| letter.to_frame(&c))
            .filter(|d| d.rect.w >= self.opts.min_face_px)
            .collect())
    }

    /// Letterboxes the frame into the input tensor (RGB, pixel/127.5 - 1), with an
    /// area filter when shrinking so small faces keep their edges.
    fn fill_input(&mut self, frame: &Frame, lb: &Letterbox) {
        let img = frame.image.as_raw();
        let (fw, fh) = (frame.width() as usize, frame.height() as usize);
        let data = &mut self.input;
        data.fill(-1.0); // black bars, as MediaPipe pads
        let step = 1.0 / lb.scale; // frame pixels per input pixel
        let taps = (step.ceil() as usize).clamp(1, 4);
        let plane = INPUT * INPUT;
        // The frame rows (columns) each input row (column) samples, once per call rather
        // than per pixel (issue 20: this loop was a quarter of the detector's time).
        let samples = |o: usize, pad: f32, start: f32, len: f32, frame: usize| {
            let r = (o as f32 - pad) * step;
            let f0 = start + r;
            // outside the region, or outside the frame (a zoomed-out region is larger
            // than the frame): black bar
            if r < 0.0 || r >= len || f0 < 0.0 || f0 >= frame as f32 {
                return None;
            }
            let mut at = [0usize; 4];
            for (t, a) in at.iter_mut().enumerate().take(taps) {
                *a = ((f0 + (t as f32 + 0.5) * step / taps as f32) as usize)
                    .min(frame.saturating_sub(1));
            }
            Some(at)
        };
        let cols: [Option<[usize; 4]>; INPUT] =
            std::array::from_fn(|ox| samples(ox, lb.pad_x, lb.x0, lb.w, fw));
        let k = 1.0 / (127.5 * (taps * taps) as f32);
        for oy in 0..INPUT {
            let Some(ys) = samples(oy, lb.pad_y, lb.y0, lb.h, fh) else {
                continue;
            };
            for (ox, xs) in cols.iter().enumerate() {
                let Some(xs) = xs else { continue };
                let mut acc = [0.0f32; 3];
                for &y in &ys[..taps] {
                    let row = y * fw;
                    for &x in &xs[..taps] {
                        let i = (row + x) * 3;
                        if let Some(p) = img.get(i..i + 3) {
                            acc[0] += p[0] as f32;
                            acc[1] += p[1] as f32;
                            acc[2] += p[2] as f32;
                        }
                    }
                }
                let i = oy * INPUT + ox;
                data[i] = acc[0] * k - 1.0;
                data[plane + i] = acc[1] * k - 1.0;
                data[2 * plane + i] = acc[2] * k - 1.0;
            }
        }
    }
}

/// Square letterbox mapping between a region of the frame (in frame pixels) and the
/// 192x192 input.
#[derive(Clone, Copy, Debug)]
struct Letterbox {
    x0: f32,
    y0: f32,
    w: f32,
    h: f32,
    scale: f32,
    pad_x: f32,
    pad_y: f32,
}

impl Letterbox {
    fn new(region: &Rect) -> Self {
        let scale = INPUT as f32 / region.w.max(region.h);
        Letterbox {
            x0: region.x,
            y0: region.y,
            w: region.w,
            h: region.h,
            scale,
            pad_x: (INPUT as f32 - region.w * scale) / 2.0,
            pad_y: (INPUT as f32 - region.h * scale) / 2.0,
        }
    }

    fn to_frame(self, c: &Candidate) -> Detection {
        let s = INPUT as f32;
        let px = |v: f32| self.x0 + (v * s - self.pad_x) / self.scale;
        let py = |v: f32| self.y0 + (v * s - self.pad_y) / self.scale;
        let r = c.rect();
        let mut keypoints = [[0.0; 2]; 6];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = [px(c.coords[4 + 2 * k]), py(c.coords[5 + 2 * k])];
        }
        Detection {
            rect: Rect {
                x: px(r.x),
                y: py(r.y),
                w: r.w * s / self.scale,
                h: r.h * s / self.scale,
            },
            score: c.score,
            keypoints,
        }
    }
}

/// The region twice as wide and tall as `r`, around the same centre: letterboxed into
/// the input, `r` fills its middle half and the rest is black bars.
pub fn zoomed_out(r: &Rect) -> Rect {
    Rect {
        x: r.x - r.w / 2.0,
        y: r.y - r.h / 2.0,
        w: 2.0 * r.w,
        h: 2.0 * r.h,
    }
}

/// An n x n grid of tiles over a w x h frame, each 2/(n+1) of the frame's width and
/// height, so neighbours overlap by half a tile and any face under half a tile lies
/// wholly inside one of them.
fn grid(w: f32, h: f32, n: u8) -> Vec<Rect> {
    let k = f32::from(n);
    let (tw, th) = (2.0 * w / (k + 1.0), 2.0 * h / (k + 1.0));
    let mut out = Vec::new();
    for j in 0..n {
        for i in 0..n {
            out.push(Rect {
                x: f32::from(i) * tw / 2.0,
                y: f32::from(j) * th / 2.0,
                w: tw,
                h: th,
            });
        }
    }
    out
}

/// True when a box found in a tile reaches one of the tile's inner edges (an edge
/// that is not the frame's): the face may be cut there.
fn cut_by_edge(r: &Rect, tile: &Rect, frame_w: f32, frame_h: f32, margin: f32) -> bool {
    let inner = |edge: f32, frame_edge: f32| (edge - frame_edge).abs() > 0.5;
    (inner(tile.x, 0.0) && r.x < tile.x + margin)
        || (inner(tile.y, 0.0) && r.y < tile.y + margin)
        || (inner(tile.x + tile.w, frame_w) && r.x + r.w > tile.x + tile.w - margin)
        || (inner(tile.y + tile.h, frame_h) && r.y + r.h > tile.y + tile.h - margin)
}

/// Intersection over the smaller box: 1 when one box holds the other, so a face found
/// again in a tile, even with a slightly different box, counts as the same face.
fn overlap(a: &Rect, b: &Rect) -> f32 {
    let small = (a.w * a.h).min(b.w * b.h);
    if small <= 0.0 {
        0.0
    } else {
        a.intersection(b) / small
    }
}

/// Decodes raw outputs against the 48x48 anchor grid (centre of each cell, unit size):
/// offsets are in input pixels, the score is a clipped sigmoid.
pub fn decode(reg: &[f32], cls: &[f32], min_score: f32) -> Vec<Candidate> {
    let s = INPUT as f32;
    let mut out = Vec::new();
    for (i, (&raw, r)) in cls.iter().zip(reg.chunks_exact(16)).enumerate() {
        let score = 1.0 / (1.0 + (-raw.clamp(-100.0, 100.0)).exp());
        // A NaN score, or a box value that is NaN, infinite or absurd (more than 50
        // input widths), is no face; it would make IoUs NaN downstream.
        if score.is_nan() || score < min_score || r.iter().any(|v| v.is_nan() || v.abs() > 1e4) {
            continue;
        }
        let ax = ((i % GRID) as f32 + 0.5) / GRID as f32;
        let ay = ((i / GRID) as f32 + 0.5) / GRID as f32;
        let (cx, cy, w, h) = (ax + r[0] / s, ay + r[1] / s, r[2] / s, r[3] / s);
        if w <= 0.0 || h <= 0.0 {
            continue;
        }
        let mut coords = [0.0; 16];
        coords[..4].copy_from_slice(&[cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]);
        for k in 0..6 {
            coords[4 + 2 * k] = ax + r[4 + 2 * k] / s;
            coords[5 + 2 * k] = ay + r[5 + 2 * k] / s;
        }
        out.push(Candidate { score, coords });
    }
    out
}

/// MediaPipe's weighted non-maximum suppression: each cluster of candidates that
/// overlap the strongest one by more than `iou` becomes one detection whose box and
/// keypoints are the score-weighted mean of the cluster, which steadies boxes
/// between frames far better than keeping the single best candidate.
///
/// Ends for any input: the strongest candidate always belongs to its own cluster
/// and leaves the set, even when its IoU with itself is not above `iou` (`iou` of
/// 1, an empty box, NaN coordinates).
pub fn weighted_nms(mut cands: Vec<Candidate>, iou: f32) -> Vec<Candidate> {
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(top) = cands.first().copied() {
        let top_rect = top.rect();
        let (cluster, rest): (Vec<_>, Vec<_>) = cands
            .into_iter()
            .enumerate()
            .partition(|(i, c)| *i == 0 || c.rect().iou(&top_rect) > iou);
        let cluster: Vec<Candidate> = cluster.into_iter().map(|(_, c)| c).collect();
        let rest: Vec<Candidate> = rest.into_iter().map(|(_, c)| c).collect();
        let total: f32 = cluster.iter().map(|c| c.score).sum();
        let mut coords = top.coords;
        if total > 0.0 {
            coords = [0.0f32; 16];
            for c in &cluster {
                for (m, v) in coords.iter_mut().zip(c.coords) {
                    *m += v * c.score / total;
                }
            }
        }
        out.push(Candidate {
            score: top.score,
            coords,
        });
        cands = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(score: f32, x0: f32, y0: f32, x1: f32, y1: f32) -> Candidate {
        let mut coords = [0.0; 16];
        coords[..4].copy_from_slice(&[x0, y0, x1, y1]);
        Candidate { score, coords }
    }

    #[test]
    fn iou_of_known_boxes() {
        let a = Rect {
            x: 0.0,
            y: 0.0,
            w: 2.0,
            h: 2.0,
        };
        let b = Rect {
            x: 1.0,
            y: 0.0,
            w: 2.0,
            h: 2.0,
        };
        assert!((a.iou(&b) - 2.0 / 6.0).abs() < 1e-6);
        assert_eq!(
            a.iou(&Rect {
                x: 5.0,
                y: 5.0,
                w: 1.0,
                h: 1.0
            }),
            0.0
        );
    }

    #[test]
    fn nms_merges_overlaps_by_score_weight_and_keeps_separate_faces() {
        let c = vec![
            cand(0.9, 0.0, 0.0, 1.0, 1.0),
            cand(0.3, 0.1, 0.0, 1.1, 1.0),
            cand(0.8, 3.0, 3.0, 4.0, 4.0),
        ];
        let out = weighted_nms(c, 0.3);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        assert!((out[0].coords[0] - 0.3 * 0.1 / 1.2).abs() < 1e-6);
        assert_eq!(out[1].coords[0], 3.0);
    }

    /// Issue 21: `nms_iou = 1.0` looped for ever (a box's IoU with itself is 1, never
    /// above 1); an empty or NaN box has IoU 0 with itself and looped at any setting.
    #[test]
    fn nms_ends_for_any_iou_and_any_box() {
        let nan = f32::NAN;
        let boxes = || {
            vec![
                cand(0.9, 0.0, 0.0, 1.0, 1.0),
                cand(0.8, 0.0, 0.0, 1.0, 1.0),
                cand(0.7, 2.0, 2.0, 2.0, 2.0), // empty
                cand(0.6, nan, 0.0, 1.0, nan),
                cand(nan, 0.0, 0.0, 1.0, 1.0),
                cand(0.0, 5.0, 5.0, 6.0, 6.0),
            ]
        };
        for iou in [1.0, 0.0, 0.3, -1.0, 2.0, nan] {
            let out = weighted_nms(boxes(), iou);
            assert!(!out.is_empty() && out.len() <= 6, "iou {iou}: {out:?}");
        }
        // At 1 nothing merges (each box its own face); at 0 every overlap merges.
        assert_eq!(weighted_nms(boxes(), 1.0).len(), 6);
        let merged = weighted_nms(boxes(), 0.0);
        assert!(merged.len() < 6, "the equal boxes merge: {merged:?}");
        // A zero-score box keeps its own coordinates instead of 0/0.
        let zero = weighted_nms(vec![cand(0.0, 5.0, 5.0, 6.0, 6.0)], 0.3);
        assert_eq!(zero[0].coords[0], 5.0);
    }

    #[test]
    fn decode_places_boxes_on_the_anchor_grid() {
        let mut reg = vec![0.0; GRID * GRID * 16];
        let mut cls = vec![-10.0; GRID * GRID];
        let i = 10 * GRID + 20; // row 10, col 20
        cls[i] = 5.0;
        reg[i * 16 + 2] = 40.0;
        reg[i * 16 + 3] = 40.0;
        let out = decode(&reg, &cls, 0.5);
        assert_eq!(out.len(), 1);
        let r = out[0].rect();
        assert!((r.x + r.w / 2.0 - 20.5 / 48.0).abs() < 1e-6);
        assert!((r.w - 40.0 / 192.0).abs() < 1e-6);
    }

    fn rect(x: f32, y: f32, w: f32, h: f32) -> Rect {
        Rect { x, y, w, h }
    }

    #[test]
    fn tiles_cover_the_frame_with_half_tile_overlap() {
        for n in [2u8, 3] {
            let t = grid(640.0, 480.0, n);
            assert_eq!(t.len(), usize::from(n) * usize::from(n));
            let last = t[t.len() - 1];
            assert!((last.x + last.w - 640.0).abs() < 1e-3);
            assert!((last.y + last.h - 480.0).abs() < 1e-3);
            assert!(
                (t[1].x - t[0].w / 2.0).abs() < 1e-3,
                "neighbours overlap by half"
            );
        }
    }

    #[test]
    fn a_face_at_an_inner_tile_edge_is_cut_but_not_at_the_frame_edge() {
        let tile = rect(0.0, 0.0, 320.0, 240.0); // top-left tile of 640x480
        let cut = |x: f32, y: f32| cut_by_edge(&rect(x, y, 30.0, 30.0), &tile, 640.0, 480.0, 5.0);
        assert!(cut(300.0, 50.0), "at the tile's inner right edge");
        assert!(cut(100.0, 220.0), "at the tile's inner bottom edge");
        assert!(!cut(0.0, 0.0), "at the frame's corner");
        assert!(!cut(100.0, 100.0), "inside");
    }

    #[test]
    fn overlap_counts_a_box_inside_another_as_the_same_face() {
        let big = rect(0.0, 0.0, 100.0, 100.0);
        assert_eq!(overlap(&big, &rect(10.0, 10.0, 20.0, 20.0)), 1.0);
        assert_eq!(overlap(&big, &rect(200.0, 0.0, 20.0, 20.0)), 0.0);
        assert!((overlap(&big, &rect(90.0, 0.0, 20.0, 100.0)) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn letterbox_maps_back_to_frame_pixels_for_the_frame_and_a_tile() {
        // a centred box of 0.2 input widths: (region, its centre in frame pixels, width)
        let cases = [
            (rect(0.0, 0.0, 640.0, 480.0), (320.0, 240.0), 128.0),
            (rect(320.0, 240.0, 320.0, 240.0), (480.0, 360.0), 64.0),
        ];
        for (region, centre, width) in cases {
            let d = Letterbox::new(&region).to_frame(&cand(1.0, 0.4, 0.4, 0.6, 0.6));
            assert!((d.rect.center().0 - centre.0).abs() < 1e-3, "{region:?}");
            assert!((d.rect.center().1 - centre.1).abs() < 1e-3, "{region:?}");
            assert!((d.rect.w - width).abs() < 1e-3, "{region:?}");
        }
    }

    #[test]
    fn decode_skips_nan_and_absurd_candidates_and_tolerates_short_outputs() {
        let mut reg = vec![0.0; GRID * GRID * 16];
        let mut cls = vec![-10.0; GRID * GRID];
        for (i, v) in [(5, f32::NAN), (6, f32::INFINITY), (7, 1e30)] {
            cls[i] = 5.0;
            reg[i * 16 + 2] = v;
            reg[i * 16 + 3] = 40.0;
        }
        cls[8] = f32::NAN;
        cls[9] = 5.0;
        reg[9 * 16 + 2] = 40.0;
        reg[9 * 16 + 3] = 40.0;
        let out = decode(&reg, &cls, 0.5);
        assert_eq!(out.len(), 1, "only the sane candidate");
        // outputs shorter than the grid: no panic, only what is there
        assert_eq!(decode(&reg[..16 * 10], &cls, 0.5).len(), 1);
        assert!(decode(&[], &cls, 0.5).is_empty());
        assert_eq!(weighted_nms(out, 0.3).len(), 1);
    }

    #[test]
    fn the_shipped_detector_meets_the_output_contract() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/blazeface_full_range.onnx");
        assert!(Detector::load(&path, DetectorOptions::default()).is_ok());
    }
}
