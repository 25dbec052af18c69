//! A frame's overlay as a flat list of quads (glyphs, plates, outlines, brackets,
//! bars), built on the CPU so it can be checked without a GPU; the GPU only draws
//! the list with one instanced call.

use bytemuck::{Pod, Zeroable};
use glam::Vec2;

use super::atlas::GlyphAtlas;
use super::layout::{Aabb, PlacedCaption, TextMeasure, wrap};
use super::{Notice, RenderMode, Scene};
use super::{OverlayOptions, Rgba};

/// What a quad draws; the numbers are the `kind` the fragment shader switches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuadKind {
    /// A glyph from the atlas.
    Glyph = 0,
    /// A filled rounded rectangle.
    Plate = 1,
    /// A rectangle outline.
    Outline = 2,
    /// Corner brackets.
    Brackets = 3,
}

/// One instance as the vertex shader reads it (`shaders/overlay.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
pub struct Quad {
    /// x0, y0, x1, y1, pixels.
    pub rect: [f32; 4],
    /// Atlas texels x0, y0, x1, y1 (glyphs only).
    pub uv: [f32; 4],
    /// RGBA 0..1, straight alpha.
    pub color: [f32; 4],
    /// kind, corner radius, stroke width, bracket arm length.
    pub params: [f32; 4],
}

impl Quad {
    fn shape(kind: QuadKind, b: Aabb, color: Rgba, radius: f32, stroke: f32, arm: f32) -> Quad {
        Quad {
            rect: [b.min.x, b.min.y, b.max.x, b.max.y],
            uv: [0.0; 4],
            color: color.to_f32(),
            params: [kind as u32 as f32, radius, stroke, arm],
        }
    }

    /// The quad's kind.
    pub fn kind(&self) -> u32 {
        self.params[0] as u32
    }
}

/// Colours of the debug layer, fixed: it is for developers, not wearers.
const DEBUG_DETECTED: Rgba = Rgba([80, 220, 100, 255]);
const DEBUG_COASTING: Rgba = Rgba([255, 140, 40, 255]);
const DEBUG_BAR_BG: Rgba = Rgba([0, 0, 0, 160]);
const DEBUG_BAR: Rgba = Rgba([150, 170, 255, 255]);
const DEBUG_BAR_SHOWN: Rgba = Rgba([255, 255, 255, 255]);

/// Appends the quads of one line of text whose top-left is `origin`.
fn text_line(
    out: &mut Vec<Quad>,
    atlas: &mut GlyphAtlas,
    text: &str,
    origin: Vec2,
    px: f32,
    color: Rgba,
) {
    let (ascent, _) = atlas.vertical_metrics(px);
    let baseline = (origin.y + ascent).round();
    let (glyphs, _) = atlas.shape(text, px);
    for g in glyphs {
        let Some(s) = atlas.slot(g.index, px) else {
            continue;
        };
        if s.w == 0 || s.h == 0 {
            continue;
        }
        // Whole-pixel positions: the bitmap was rasterised for exactly this size, so
        // texels map 1:1 to pixels and stay sharp.
        let x0 = (origin.x + g.x).round() + s.xmin as f32;
        let y0 = baseline - s.ymin as f32 - s.h as f32;
        out.push(Quad {
            rect: [x0, y0, x0 + s.w as f32, y0 + s.h as f32],
            uv: [
                s.x as f32,
                s.y as f32,
                (s.x + s.w) as f32,
                (s.y + s.h) as f32,
            ],
            color: color.to_f32(),
            params: [QuadKind::Glyph as u32 as f32, 0.0, 0.0, 0.0],
        });
    }
}

/// Every quad of one frame's overlay on a `screen`-sized display, back to front.
pub fn build(
    scene: &Scene,
    placed: &[PlacedCaption],
    atlas: &mut GlyphAtlas,
    opts: &OverlayOptions,
    mode: RenderMode,
    px: f32,
    screen: Vec2,
) -> Vec<Quad> {
    let mut out = Vec::new();
    let stroke = (px / 8.0).round().max(2.0);
    if mode == RenderMode::Debug {
        debug_layer(&mut out, scene, atlas, px, stroke);
    }
    for c in placed {
        let face = scene.faces.iter().find(|f| f.track_id == c.track_id);
        let unsure = face.is_some_and(|f| f.unsure);
        if opts.brackets {
            let arm = (c.face.size().min_element() * 0.25).max(stroke * 2.0);
            out.push(Quad::shape(
                QuadKind::Brackets,
                c.face,
                opts.bracket_color,
                0.0,
                stroke,
                arm,
            ));
        }
        out.push(Quad::shape(
            QuadKind::Plate,
            c.plate,
            opts.plate_color,
            px * 0.35,
            0.0,
            0.0,
        ));
        let color = match scene.caption_colors.get(&c.track_id) {
            Some(&c) => c,
            None if unsure => opts.unsure_color,
            None => opts.text_color,
        };
        let line_h = atlas.vertical_metrics(px).1;
        let text_w = c.text.size().x;
        for (i, line) in c.lines.iter().enumerate() {
            let (_, w) = atlas.shape(line, px);
            let origin = Vec2::new(
                c.text.min.x + (text_w - w) * 0.5,
                c.text.min.y + i as f32 * line_h,
            );
            text_line(&mut out, atlas, line, origin, px, color);
        }
    }
    notice_layer(&mut out, &scene.notices, atlas, opts, px, screen);
    out
}

/// Notices stacked from the top edge, centred, on the caption plate colour, in
/// smaller text than captions so a long error message fits in a few lines.
fn notice_layer(
    out: &mut Vec<Quad>,
    notices: &[Notice],
    atlas: &mut GlyphAtlas,
    opts: &OverlayOptions,
    px: f32,
    screen: Vec2,
) {
    let small = (px * 0.7).round().max(12.0);
    let pad = (small * 0.35).round().max(2.0);
    let margin = (px * 0.25).round().max(2.0);
    let max_w = (screen.x - 2.0 * (margin + pad)).max(small);
    let line_h = atlas.line_height(small);
    let mut y = margin;
    for n in notices {
        let lines = wrap(&n.text, small, max_w, atlas);
        let w = lines
            .iter()
            .map(|l| atlas.line_width(l, small))
            .fold(0.0f32, f32::max);
        let size = Vec2::new(w, line_h * lines.len() as f32) + Vec2::splat(2.0 * pad);
        let origin = Vec2::new(((screen.x - size.x) * 0.5).max(0.0), y);
        let plate = Aabb::from_origin_size(origin, size);
        out.push(Quad::shape(
            QuadKind::Plate,
            plate,
            opts.plate_color,
            small * 0.35,
            0.0,
            0.0,
        ));
        for (i, line) in lines.iter().enumerate() {
            let lw = atlas.line_width(line, small);
            let at = Vec2::new(
                origin.x + (size.x - lw) * 0.5,
                origin.y + pad + i as f32 * line_h,
            );
            text_line(out, atlas, line, at, small, n.color);
        }
        y += size.y + margin;
    }
}

/// Face boxes (green when detected this frame, orange while coasting), track ids and
/// one probability bar per class beside the box (white: the class shown).
fn debug_layer(out: &mut Vec<Quad>, scene: &Scene, atlas: &mut GlyphAtlas, px: f32, stroke: f32) {
    let small = (px * 0.6).round().max(10.0);
    for f in &scene.faces {
        let b =
            Aabb::from_origin_size(Vec2::new(f.rect.x, f.rect.y), Vec2::new(f.rect.w, f.rect.h));
        let color = if f.detected {
            DEBUG_DETECTED
        } else {
            DEBUG_COASTING
        };
        out.push(Quad::shape(
            QuadKind::Outline,
            b,
            color,
            0.0,
            (stroke * 0.5).max(1.0),
            0.0,
        ));
        let id = format!("#{}", f.track_id);
        let (_, w) = atlas.shape(&id, small);
        let lh = atlas.vertical_metrics(small).1;
        let tag = Aabb::from_origin_size(b.min, Vec2::new(w + 6.0, lh + 2.0));
        out.push(Quad::shape(QuadKind::Plate, tag, color, 0.0, 0.0, 0.0));
        text_line(
            out,
            atlas,
            &id,
            b.min + Vec2::new(3.0, 1.0),
            small,
            Rgba([0, 0, 0, 255]),
        );

        let bar_h = (px * 0.3).round().max(3.0);
        let bar_w = (b.size().x * 0.6).max(30.0);
        for (i, &p) in f.probs.iter().enumerate() {
            let y = b.min.y + i as f32 * (bar_h + 2.0);
            let x = b.max.x + 4.0;
            let bg = Aabb::from_origin_size(Vec2::new(x, y), Vec2::new(bar_w, bar_h));
            out.push(Quad::shape(
                QuadKind::Plate,
                bg,
                DEBUG_BAR_BG,
                0.0,
                0.0,
                0.0,
            ));
            let fill = Aabb::from_origin_size(
                Vec2::new(x, y),
                Vec2::new(bar_w * p.clamp(0.0, 1.0), bar_h),
            );
            let c = if f.shown_index == Some(i) {
                DEBUG_BAR_SHOWN
            } else {
                DEBUG_BAR
            };
            out.push(Quad::shape(QuadKind::Plate, fill, c, 0.0, 0.0, 0.0));
        }
    }
}
