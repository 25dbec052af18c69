//! Where captions go: above each face (below when there is no room), inside the
//! screen, never on top of one another, and steady while the face box wobbles.
//!
//! Pure geometry on [`glam::Vec2`] with text measured through [`TextMeasure`], so it
//! is tested without a GPU or a font.

use std::collections::HashMap;

use glam::Vec2;

use crate::detect::Rect;

/// Measures text, so layout does not depend on a particular font.
pub trait TextMeasure {
    /// Advance width of one line of text at `px`, kerning included.
    fn line_width(&self, text: &str, px: f32) -> f32;
    /// Distance between baselines of consecutive lines at `px`.
    fn line_height(&self, px: f32) -> f32;
}

/// An axis-aligned box in screen pixels (y down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aabb {
    /// Top-left corner.
    pub min: Vec2,
    /// Bottom-right corner.
    pub max: Vec2,
}

impl Aabb {
    /// A box from its top-left corner and size.
    pub fn from_origin_size(origin: Vec2, size: Vec2) -> Self {
        Aabb {
            min: origin,
            max: origin + size,
        }
    }

    /// Width and height.
    pub fn size(&self) -> Vec2 {
        self.max - self.min
    }

    /// True when the boxes share area (touching edges do not count).
    pub fn overlaps(&self, o: &Aabb) -> bool {
        self.min.x < o.max.x && o.min.x < self.max.x && self.min.y < o.max.y && o.min.y < self.max.y
    }

    /// True when `p` lies inside or on the edge.
    pub fn contains(&self, p: Vec2) -> bool {
        p.x >= self.min.x && p.x <= self.max.x && p.y >= self.min.y && p.y <= self.max.y
    }

    /// This box grown by `d` on every side.
    pub fn inflate(&self, d: f32) -> Aabb {
        Aabb {
            min: self.min - Vec2::splat(d),
            max: self.max + Vec2::splat(d),
        }
    }
}

/// Layout settings in pixels.
#[derive(Clone, Copy, Debug)]
pub struct LayoutOptions {
    /// Text size.
    pub text_px: f32,
    /// Widest a line may be before it wraps (text only, padding excluded).
    pub max_text_width: f32,
    /// Space between the text and the plate's edge.
    pub padding: f32,
    /// Space between the plate and its face box, and between two plates.
    pub gap: f32,
    /// Space kept free along the screen edge.
    pub margin: f32,
    /// Time constant of the face-box smoothing, ms (0 = none).
    pub tau_ms: f32,
}

impl LayoutOptions {
    /// Proportions that read well at any text size.
    pub fn for_text_px(text_px: f32, max_width_em: f32, tau_ms: f32) -> Self {
        LayoutOptions {
            text_px,
            max_text_width: text_px * max_width_em,
            padding: (text_px * 0.35).round().max(2.0),
            gap: (text_px * 0.3).round().max(2.0),
            margin: (text_px * 0.25).round().max(2.0),
            tau_ms,
        }
    }
}

/// One caption to place.
#[derive(Clone, Debug)]
pub struct CaptionRequest {
    /// Track id: smoothing state and priority follow it.
    pub track_id: u64,
    /// The face box in screen pixels.
    pub face: Rect,
    /// Caption text.
    pub text: String,
}

/// A placed caption.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedCaption {
    /// Track id.
    pub track_id: u64,
    /// The text, wrapped into lines.
    pub lines: Vec<String>,
    /// The background plate.
    pub plate: Aabb,
    /// The text block inside the plate (plate minus padding).
    pub text: Aabb,
    /// The smoothed face box it belongs to.
    pub face: Aabb,
    /// Whether it sits above the face (false: below, or pushed elsewhere).
    pub above: bool,
}

/// Greedy word wrap: words are kept whole unless one alone is too wide, in which
/// case it is broken between characters.
pub fn wrap(text: &str, px: f32, max_width: f32, m: &dyn TextMeasure) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if m.line_width(&candidate, px) <= max_width {
            cur = candidate;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if m.line_width(word, px) <= max_width {
            cur = word.to_string();
            continue;
        }
        for ch in word.chars() {
            let mut next = cur.clone();
            next.push(ch);
            if !cur.is_empty() && m.line_width(&next, px) > max_width {
                lines.push(std::mem::replace(&mut cur, ch.to_string()));
            } else {
                cur = next;
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[derive(Clone, Copy, Debug)]
struct Smoothed {
    min: Vec2,
    max: Vec2,
    t_ms: f64,
}

/// Places captions frame after frame, remembering each track's smoothed face box.
#[derive(Debug, Default)]
pub struct CaptionLayout {
    state: HashMap<u64, Smoothed>,
}

impl CaptionLayout {
    /// An empty layout (no history).
    pub fn new() -> Self {
        Self::default()
    }

    /// Exponentially smoothed face box for a track: a step of `dt` moves the box
    /// `1 - exp(-dt/tau)` of the way to the new detection.
    fn smooth(&mut self, id: u64, face: &Rect, t_ms: f64, tau_ms: f32) -> Aabb {
        let min = Vec2::new(face.x, face.y);
        let max = min + Vec2::new(face.w, face.h);
        let s = self.state.entry(id).or_insert(Smoothed { min, max, t_ms });
        let dt = (t_ms - s.t_ms).max(0.0) as f32;
        let k = if tau_ms > 0.0 {
            1.0 - (-dt / tau_ms).exp()
        } else {
            1.0
        };
        s.min += (min - s.min) * k;
        s.max += (max - s.max) * k;
        s.t_ms = t_ms;
        Aabb {
            min: s.min,
            max: s.max,
        }
    }

    /// Places every caption on a `screen`-sized display at time `t_ms`. Captions
    /// are placed in track-id order (older faces first), so which caption yields
    /// does not flip from frame to frame. Tracks not in `captions` are forgotten.
    pub fn place(
        &mut self,
        t_ms: f64,
        screen: Vec2,
        captions: &[CaptionRequest],
        opts: &LayoutOptions,
        measure: &dyn TextMeasure,
    ) -> Vec<PlacedCaption> {
        self.state
            .retain(|id, _| captions.iter().any(|c| c.track_id == *id));
        let mut order: Vec<&CaptionRequest> = captions.iter().collect();
        order.sort_by_key(|c| c.track_id);

        let px = opts.text_px;
        let pad = opts.padding;
        let max_text = opts
            .max_text_width
            .min(screen.x - 2.0 * (opts.margin + pad))
            .max(px);
        let lo = Vec2::splat(opts.margin);
        let mut placed: Vec<PlacedCaption> = Vec::with_capacity(order.len());
        for c in order {
            let face = self.smooth(c.track_id, &c.face, t_ms, opts.tau_ms);
            let lines = wrap(&c.text, px, max_text, measure);
            let text_w = lines
                .iter()
                .map(|l| measure.line_width(l, px))
                .fold(0.0f32, f32::max);
            let text_h = measure.line_height(px) * lines.len().max(1) as f32;
            let size = Vec2::new(text_w, text_h) + Vec2::splat(2.0 * pad);
            let hi = (screen - Vec2::splat(opts.margin) - size).max(lo);
            let clamp = |p: Vec2| p.clamp(lo, hi);

            let cx = (face.min.x + face.max.x) * 0.5 - size.x * 0.5;
            let above_y = face.min.y - opts.gap - size.y;
            let below_y = face.max.y + opts.gap;
            let above = above_y >= opts.margin || below_y + size.y > screen.y - opts.margin;
            let ideal = clamp(Vec2::new(cx, if above { above_y } else { below_y }));

            let free = |p: Vec2| {
                let b = Aabb::from_origin_size(p, size);
                placed
                    .iter()
                    .all(|o| !b.overlaps(&o.plate.inflate(opts.gap)))
            };
            let origin = if free(ideal) {
                ideal
            } else {
                // Candidate positions: the ideal one, and flush against each placed
                // plate on every side; the free one nearest the ideal wins.
                let mut xs = vec![ideal.x];
                let mut ys = vec![ideal.y, clamp(Vec2::new(cx, below_y)).y];
                for o in &placed {
                    xs.push(o.plate.min.x - opts.gap - size.x);
                    xs.push(o.plate.max.x + opts.gap);
                    ys.push(o.plate.min.y - opts.gap - size.y);
                    ys.push(o.plate.max.y + opts.gap);
                }
                let mut best: Option<(f32, Vec2)> = None;
                for &x in &xs {
                    for &y in &ys {
                        let p = Vec2::new(x, y);
                        if clamp(p) != p || !free(p) {
                            continue;
                        }
                        let d = p.distance_squared(ideal);
                        if best.is_none_or(|(bd, _)| d < bd) {
                            best = Some((d, p));
                        }
                    }
                }
                // A screen too full for every caption: overlap rather than drop one.
                best.map_or(ideal, |(_, p)| p)
            };
            let plate = Aabb::from_origin_size(origin, size);
            placed.push(PlacedCaption {
                track_id: c.track_id,
                lines,
                plate,
                text: Aabb {
                    min: plate.min + Vec2::splat(pad),
                    max: plate.max - Vec2::splat(pad),
                },
                face,
                above: origin.y + size.y <= face.min.y,
            });
        }
        placed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character is 0.5 em wide; lines are 1.25 em apart.
    struct Mono;
    impl TextMeasure for Mono {
        fn line_width(&self, text: &str, px: f32) -> f32 {
            text.chars().count() as f32 * px * 0.5
        }
        fn line_height(&self, px: f32) -> f32 {
            px * 1.25
        }
    }

    fn req(id: u64, x: f32, y: f32, w: f32, h: f32, text: &str) -> CaptionRequest {
        CaptionRequest {
            track_id: id,
            face: Rect { x, y, w, h },
            text: text.into(),
        }
    }

    fn opts() -> LayoutOptions {
        LayoutOptions {
            text_px: 20.0,
            max_text_width: 200.0,
            padding: 6.0,
            gap: 4.0,
            margin: 5.0,
            tau_ms: 0.0,
        }
    }

    const SCREEN: Vec2 = Vec2::new(640.0, 480.0);

    fn inside(b: &Aabb, margin: f32) -> bool {
        b.min.x >= margin - 1e-3
            && b.min.y >= margin - 1e-3
            && b.max.x <= SCREEN.x - margin + 1e-3
            && b.max.y <= SCREEN.y - margin + 1e-3
    }

    #[test]
    fn caption_sits_centred_above_the_face() {
        let mut l = CaptionLayout::new();
        let p = l.place(
            0.0,
            SCREEN,
            &[req(1, 300.0, 200.0, 100.0, 100.0, "looks happy")],
            &opts(),
            &Mono,
        );
        let c = &p[0];
        assert!(c.above);
        assert_eq!(c.lines, vec!["looks happy"]);
        // 11 chars × 10 px + 2 × 6 padding.
        assert_eq!(c.plate.size(), Vec2::new(122.0, 37.0));
        assert!((c.plate.max.y - (200.0 - 4.0)).abs() < 1e-3);
        assert!(((c.plate.min.x + c.plate.max.x) / 2.0 - 350.0).abs() < 1e-3);
    }

    #[test]
    fn caption_goes_below_when_no_room_above() {
        let mut l = CaptionLayout::new();
        let p = l.place(
            0.0,
            SCREEN,
            &[req(1, 300.0, 10.0, 100.0, 100.0, "looks sad")],
            &opts(),
            &Mono,
        );
        assert!(!p[0].above);
        assert!((p[0].plate.min.y - 114.0).abs() < 1e-3);
    }

    #[test]
    fn captions_stay_inside_the_screen() {
        let mut l = CaptionLayout::new();
        let faces = [
            req(1, -40.0, 100.0, 80.0, 80.0, "looks surprised"),
            req(2, 600.0, 300.0, 80.0, 80.0, "looks calm"),
            req(3, 200.0, 0.0, 100.0, 480.0, "not sure"),
        ];
        for c in l.place(0.0, SCREEN, &faces, &opts(), &Mono) {
            assert!(inside(&c.plate, 5.0), "{:?}", c.plate);
        }
    }

    #[test]
    fn neighbouring_captions_never_overlap() {
        let mut l = CaptionLayout::new();
        // Four faces side by side, closer than their captions are wide.
        let faces: Vec<_> = (0..4)
            .map(|i| {
                req(
                    i,
                    150.0 + i as f32 * 60.0,
                    200.0,
                    60.0,
                    60.0,
                    "looks surprised",
                )
            })
            .collect();
        let p = l.place(0.0, SCREEN, &faces, &opts(), &Mono);
        for (i, a) in p.iter().enumerate() {
            assert!(inside(&a.plate, 5.0));
            for b in &p[i + 1..] {
                assert!(
                    !a.plate.overlaps(&b.plate),
                    "{:?} vs {:?}",
                    a.plate,
                    b.plate
                );
            }
        }
        // The oldest track keeps its ideal place.
        assert!(p[0].above);
    }

    #[test]
    fn long_captions_wrap_to_the_maximum_width() {
        let mut l = CaptionLayout::new();
        let text = "looks happy but also a little surprised and maybe tired";
        let p = l.place(
            0.0,
            SCREEN,
            &[req(1, 300.0, 250.0, 100.0, 100.0, text)],
            &opts(),
            &Mono,
        );
        let c = &p[0];
        assert!(c.lines.len() >= 3, "{:?}", c.lines);
        assert_eq!(c.lines.join(" "), text);
        for line in &c.lines {
            assert!(Mono.line_width(line, 20.0) <= 200.0);
        }
        assert!(c.text.size().x <= 200.0 + 1e-3);
        assert!((c.text.size().y - c.lines.len() as f32 * 25.0).abs() < 1e-3);
    }

    #[test]
    fn a_word_wider_than_the_line_is_broken() {
        let lines = wrap("abcdefghijklmnopqrstuvwxyz", 20.0, 100.0, &Mono);
        assert_eq!(lines, vec!["abcdefghij", "klmnopqrst", "uvwxyz"]);
        assert!(wrap("   ", 20.0, 100.0, &Mono).is_empty());
    }

    #[test]
    fn box_noise_is_smoothed_per_track() {
        let mut l = CaptionLayout::new();
        let o = LayoutOptions {
            tau_ms: 200.0,
            ..opts()
        };
        let mut xs = Vec::new();
        for i in 0..60 {
            // ±8 px of detector noise around x = 300, at 30 fps.
            let noise = if i % 2 == 0 { 8.0 } else { -8.0 };
            let p = l.place(
                i as f64 * 33.3,
                SCREEN,
                &[req(7, 300.0 + noise, 200.0, 100.0, 100.0, "x")],
                &o,
                &Mono,
            );
            xs.push(p[0].plate.min.x);
        }
        let tail = &xs[30..];
        let spread = tail.iter().cloned().fold(f32::MIN, f32::max)
            - tail.iter().cloned().fold(f32::MAX, f32::min);
        assert!(
            spread < 3.0,
            "caption moved {spread} px under 16 px of box noise"
        );

        // A real move is followed: after 1 s (5 τ) the caption is within 1 % of it.
        let mut last = 0.0;
        for i in 0..31 {
            let p = l.place(
                2000.0 + i as f64 * 33.3,
                SCREEN,
                &[req(7, 400.0, 200.0, 100.0, 100.0, "x")],
                &o,
                &Mono,
            );
            last = p[0].face.min.x;
        }
        assert!((last - 400.0).abs() < 1.0, "{last}");
    }

    #[test]
    fn forgotten_tracks_start_fresh() {
        let mut l = CaptionLayout::new();
        let o = LayoutOptions {
            tau_ms: 500.0,
            ..opts()
        };
        l.place(
            0.0,
            SCREEN,
            &[req(1, 100.0, 200.0, 50.0, 50.0, "a")],
            &o,
            &Mono,
        );
        l.place(40.0, SCREEN, &[], &o, &Mono);
        let p = l.place(
            80.0,
            SCREEN,
            &[req(1, 400.0, 200.0, 50.0, 50.0, "a")],
            &o,
            &Mono,
        );
        assert_eq!(p[0].face.min.x, 400.0);
    }
}
