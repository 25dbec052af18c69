//! `emocue preview-labels`: every caption of a wording profile on one sheet, drawn
//! by the overlay renderer exactly as the display draws it (same font, size, plate,
//! colours and wrapping), so a clinician sees the wording before a session.
//!
//! Each cell is a face box with its caption above; the emotion key and how sure
//! emocue must be are written under it. `no_face` appears where the display shows
//! it, at the top. Hidden emotions keep their cell, empty, as on the display.

use glam::Vec2;
use image::{Rgb, RgbImage, RgbaImage};

use super::atlas::{BUNDLED_FONT, GlyphAtlas};
use super::layout::{TextMeasure, wrap};
use super::{Notice, OverlayFace, OverlayOptions, RenderError, RenderMode, Renderer, Scene};
use crate::detect::Rect;
use crate::profile::{self, Profile};

/// Sheet background: mid grey, neither flattering light nor dark captions.
const BACKGROUND: [u8; 3] = [111, 111, 111];
/// Face outlines and notes under each cell.
const INK: [u8; 3] = [240, 240, 240];
const FACE_LINE: [u8; 3] = [150, 150, 150];
const COLUMNS: usize = 5;

/// Renders the sheet. `screen` is the display the captions are sized for (the
/// caption size follows the display's height, or `caption_deg`, as in the app).
pub fn render_sheet(
    wording: &Profile,
    overlay: &OverlayOptions,
    screen: (u32, u32),
) -> Result<RgbaImage, RenderError> {
    let px = overlay.caption_px_for(screen.0, screen.1);
    let opts = OverlayOptions {
        caption_px: px,
        caption_deg: 0.0,
        ..overlay.clone()
    };
    let measure = GlyphAtlas::bundled()?;
    let pad = (px * 0.35).round().max(2.0);
    let max_text = px * overlay.max_width_em;
    let keys = profile::KEYS;
    let note_px = (px * 0.55).round().max(11.0);
    let (mut widest, mut most_lines) = (px * 4.0, 1usize);
    for k in keys {
        widest = widest.max(measure.line_width(&note(wording, k), note_px) + note_px - px);
        // no_face is a notice across the top, not a caption in its cell.
        let Some(l) = wording.label(k).filter(|_| k != profile::NO_FACE) else {
            continue;
        };
        let lines = wrap(&l.text, px, max_text, &measure);
        most_lines = most_lines.max(lines.len());
        for line in &lines {
            widest = widest.max(measure.line_width(line, px));
        }
    }
    let line_h = measure.line_height(px);
    let face = Vec2::new(px * 3.0, px * 3.4).round();
    let cell = Vec2::new(
        (widest + 2.0 * pad + px).round(),
        (line_h * most_lines as f32 + 2.0 * pad + px * 0.6 + face.y + note_px * 3.2).round(),
    );
    let top = (note_px * 1.3 + px * 1.8).round();
    let rows = keys.len().div_ceil(COLUMNS);
    let size = (
        (cell.x * COLUMNS as f32) as u32,
        (top + cell.y * rows as f32 + note_px * 2.0) as u32,
    );

    let mut frame = RgbImage::from_pixel(size.0, size.1, Rgb(BACKGROUND));
    let mut scene = Scene::default();
    let mut notes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let origin = Vec2::new(
            (i % COLUMNS) as f32 * cell.x,
            top + (i / COLUMNS) as f32 * cell.y,
        );
        let fx = origin.x + (cell.x - face.x) * 0.5;
        let fy = origin.y + line_h * most_lines as f32 + 2.0 * pad + px * 0.6;
        let label = wording.label(key);
        let shown = label.filter(|l| l.shown);
        let note = note(wording, key);
        let below = fy + face.y + note_px * 0.4;
        notes.push((origin.x + cell.x * 0.5, below, key.to_string(), note));
        if *key == profile::NO_FACE {
            if let Some(l) = shown {
                scene.notices.push(Notice {
                    text: l.text.clone(),
                    color: l.color.unwrap_or(opts.unsure_color),
                });
            }
            continue;
        }
        outline(&mut frame, fx, fy, face.x, face.y);
        let id = i as u64 + 1;
        if let Some(c) = shown.and_then(|l| l.color) {
            scene.caption_colors.insert(id, c);
        }
        scene.faces.push(OverlayFace {
            track_id: id,
            rect: Rect {
                x: fx,
                y: fy,
                w: face.x,
                h: face.y,
            },
            detected: true,
            caption: shown.map(|l| l.text.clone()),
            unsure: *key == profile::UNSURE,
            probs: Vec::new(),
            shown_index: None,
        });
    }
    let mut img = Renderer::new(opts, RenderMode::Passthrough)?.render(&frame, &scene)?;
    let font = fontdue::Font::from_bytes(BUNDLED_FONT, fontdue::FontSettings::default())
        .map_err(|e| RenderError::Font(e.to_string()))?;
    for (cx, y, key, note) in notes {
        text_centered(&mut img, &font, &key, cx, y, note_px * 1.15);
        text_centered(&mut img, &font, &note, cx, y + note_px * 1.5, note_px);
    }
    let title = format!(
        "{} ({}) - {}",
        wording.name,
        if wording.language.is_empty() {
            "?"
        } else {
            &wording.language
        },
        wording.path.display()
    );
    let h = size.1 as f32;
    text_centered(
        &mut img,
        &font,
        &title,
        size.0 as f32 * 0.5,
        h - note_px * 1.6,
        note_px,
    );
    Ok(img)
}

/// The line under a cell: when the caption is shown, or that it is hidden.
fn note(wording: &Profile, key: &str) -> String {
    match (wording.label(key), key) {
        (None, _) => "missing".to_string(),
        (Some(l), _) if !l.shown => format!("hidden (\"{}\")", l.text),
        (Some(_), profile::NO_FACE) => "at the top, when no face is in view".into(),
        (Some(_), profile::UNSURE) => "when not sure enough".into(),
        (Some(l), _) => match l.min_confidence {
            Some(c) => format!("shown from {:.0}% sure", c * 100.0),
            None => "default min_confidence".into(),
        },
    }
}

/// A thin rectangle standing in for a face.
fn outline(img: &mut RgbImage, x: f32, y: f32, w: f32, h: f32) {
    let (x0, y0) = (x.round() as i64, y.round() as i64);
    let (x1, y1) = (x0 + w.round() as i64, y0 + h.round() as i64);
    let mut put = |x: i64, y: i64| {
        if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, Rgb(FACE_LINE));
        }
    };
    for x in x0..=x1 {
        put(x, y0);
        put(x, y1);
    }
    for y in y0..=y1 {
        put(x0, y);
        put(x1, y);
    }
}

/// One line of text centred on `cx`, its top at `top`, blended onto the image.
fn text_centered(
    img: &mut RgbaImage,
    font: &fontdue::Font,
    text: &str,
    cx: f32,
    top: f32,
    px: f32,
) {
    let width: f32 = text
        .chars()
        .map(|c| font.metrics(c, px).advance_width)
        .sum();
    let ascent = font
        .horizontal_line_metrics(px)
        .map_or(px * 0.8, |m| m.ascent);
    let baseline = (top + ascent).round() as i64;
    let mut pen = (cx - width * 0.5).round();
    for c in text.chars() {
        let (m, bitmap) = font.rasterize(c, px);
        let gx = pen as i64 + m.xmin as i64;
        let gy = baseline - m.ymin as i64 - m.height as i64;
        for (i, &a) in bitmap.iter().enumerate() {
            let (x, y) = (
                gx + (i % m.width.max(1)) as i64,
                gy + (i / m.width.max(1)) as i64,
            );
            if a == 0 || x < 0 || y < 0 || x as u32 >= img.width() || y as u32 >= img.height() {
                continue;
            }
            let p = img.get_pixel_mut(x as u32, y as u32);
            let a = a as f32 / 255.0;
            for (c, ink) in p.0.iter_mut().zip(INK) {
                *c = (*c as f32 * (1.0 - a) + ink as f32 * a).round() as u8;
            }
        }
        pen += m.advance_width;
    }
}
