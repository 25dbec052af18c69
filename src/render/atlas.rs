//! Glyphs rasterised by fontdue at the exact pixel size they are drawn at (so text
//! is crisp at any size) and packed into one R8 atlas texture, each glyph once.
//! Lines are shaped by rustybuzz (HarfBuzz's algorithm), so the font's GPOS kerning
//! and ligatures apply, as they would in any text editor.

use std::collections::HashMap;

use super::RenderError;
use super::layout::TextMeasure;
pub use crate::font::{BUNDLED_FONT, missing_glyphs};

/// Where a glyph lies in the atlas and how to place it on the baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GlyphSlot {
    /// Atlas texel x of the left edge.
    pub x: u32,
    /// Atlas texel y of the top edge.
    pub y: u32,
    /// Bitmap width (0 for blanks).
    pub w: u32,
    /// Bitmap height.
    pub h: u32,
    /// Left bearing: bitmap's left edge relative to the pen, pixels.
    pub xmin: i32,
    /// Bitmap's bottom edge relative to the baseline (up is positive), pixels.
    pub ymin: i32,
}

/// A glyph positioned on a line.
#[derive(Clone, Copy, Debug)]
pub struct PlacedGlyph {
    /// Glyph index in the font.
    pub index: u16,
    /// Pen position relative to the line start, pixels.
    pub x: f32,
}

/// The font and the atlas its glyphs are cached in.
pub struct GlyphAtlas {
    font: fontdue::Font,
    /// The font file, for rustybuzz (which borrows it per line it shapes).
    bytes: Vec<u8>,
    size: u32,
    pixels: Vec<u8>,
    slots: HashMap<(u16, u32), GlyphSlot>,
    shelf_x: u32,
    shelf_y: u32,
    shelf_h: u32,
    generation: u64,
}

/// Empty texels around each glyph, so filtering never bleeds a neighbour in.
const PAD: u32 = 1;

impl GlyphAtlas {
    /// An atlas of `size`×`size` texels for a TTF/OTF font.
    pub fn new(font: &[u8], size: u32) -> Result<Self, RenderError> {
        let bytes = font.to_vec();
        let font = fontdue::Font::from_bytes(font, fontdue::FontSettings::default())
            .map_err(|e| RenderError::Font(e.to_string()))?;
        if rustybuzz::Face::from_slice(&bytes, 0).is_none() {
            return Err(RenderError::Font("the shaper cannot read the font".into()));
        }
        Ok(GlyphAtlas {
            font,
            bytes,
            size,
            pixels: vec![0; (size * size) as usize],
            slots: HashMap::new(),
            shelf_x: 0,
            shelf_y: 0,
            shelf_h: 0,
            generation: 1,
        })
    }

    /// The atlas with the bundled font, 1024² texels (room for several sizes of the
    /// Latin alphabet).
    pub fn bundled() -> Result<Self, RenderError> {
        Self::new(BUNDLED_FONT, 1024)
    }

    /// Side length in texels.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The R8 texels, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Changes whenever texels change, so the GPU copy is refreshed only then.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Forgets every glyph. Called between frames when the atlas is nearly full, so a
    /// frame's glyphs never get evicted while the frame is being built.
    pub fn clear(&mut self) {
        self.pixels.fill(0);
        self.slots.clear();
        self.shelf_x = 0;
        self.shelf_y = 0;
        self.shelf_h = 0;
        self.generation += 1;
    }

    /// Fraction of the atlas height in use.
    pub fn fill(&self) -> f32 {
        (self.shelf_y + self.shelf_h) as f32 / self.size as f32
    }

    /// Font-wide vertical metrics at `px`: ascent (positive) and line height.
    pub fn vertical_metrics(&self, px: f32) -> (f32, f32) {
        match self.font.horizontal_line_metrics(px) {
            Some(m) => (m.ascent, m.new_line_size),
            None => (px * 0.8, px * 1.2),
        }
    }

    /// Glyphs of one line with their pen positions, kerning applied.
    pub fn shape(&self, text: &str, px: f32) -> (Vec<PlacedGlyph>, f32) {
        let Some(face) = rustybuzz::Face::from_slice(&self.bytes, 0) else {
            return (Vec::new(), 0.0); // checked in `new`
        };
        let mut buf = rustybuzz::UnicodeBuffer::new();
        buf.push_str(text);
        let shaped = rustybuzz::shape(&face, &[], buf);
        let scale = px / face.units_per_em() as f32;
        let mut out = Vec::with_capacity(shaped.len());
        let mut pen = 0.0f32;
        for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
            out.push(PlacedGlyph {
                index: u16::try_from(info.glyph_id).unwrap_or(0),
                x: pen + pos.x_offset as f32 * scale,
            });
            pen += pos.x_advance as f32 * scale;
        }
        (out, pen)
    }

    /// The atlas slot of a glyph at `px`, rasterising it on first use. `None` when
    /// the atlas is full.
    pub fn slot(&mut self, index: u16, px: f32) -> Option<GlyphSlot> {
        let key = (index, (px * 4.0).round() as u32);
        if let Some(s) = self.slots.get(&key) {
            return Some(*s);
        }
        let (m, bitmap) = self.font.rasterize_indexed(index, px);
        let (w, h) = (m.width as u32, m.height as u32);
        if w + 2 * PAD > self.size || h + 2 * PAD > self.size {
            return None;
        }
        if self.shelf_x + w + 2 * PAD > self.size {
            self.shelf_y += self.shelf_h;
            self.shelf_x = 0;
            self.shelf_h = 0;
        }
        if self.shelf_y + h + 2 * PAD > self.size {
            return None;
        }
        let (x, y) = (self.shelf_x + PAD, self.shelf_y + PAD);
        for row in 0..h {
            let dst = ((y + row) * self.size + x) as usize;
            let src = (row * w) as usize;
            self.pixels[dst..dst + w as usize].copy_from_slice(&bitmap[src..src + w as usize]);
        }
        self.shelf_x += w + 2 * PAD;
        self.shelf_h = self.shelf_h.max(h + 2 * PAD);
        let slot = GlyphSlot {
            x,
            y,
            w,
            h,
            xmin: m.xmin,
            ymin: m.ymin,
        };
        self.slots.insert(key, slot);
        self.generation += 1;
        Some(slot)
    }
}

impl TextMeasure for GlyphAtlas {
    fn line_width(&self, text: &str, px: f32) -> f32 {
        self.shape(text, px).1
    }

    fn line_height(&self, px: f32) -> f32 {
        self.vertical_metrics(px).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_are_cached_and_packed_without_overlap() {
        let mut a = GlyphAtlas::new(BUNDLED_FONT, 128).unwrap();
        let (glyphs, width) = a.shape("Hello", 20.0);
        assert_eq!(glyphs.len(), 5);
        assert!(width > 30.0 && width < 70.0, "{width}");
        let slots: Vec<GlyphSlot> = glyphs
            .iter()
            .map(|g| a.slot(g.index, 20.0).unwrap())
            .collect();
        // The two l's share one slot.
        assert_eq!(slots[2], slots[3]);
        let g = a.generation();
        a.slot(glyphs[0].index, 20.0);
        assert_eq!(a.generation(), g, "a cached glyph must not dirty the atlas");
        // Distinct glyphs do not share texels, and each has ink.
        for (i, s) in slots.iter().enumerate() {
            let ink: u32 = (0..s.h)
                .flat_map(|r| (0..s.w).map(move |c| (r, c)))
                .map(|(r, c)| a.pixels()[((s.y + r) * 128 + s.x + c) as usize] as u32)
                .sum();
            assert!(ink > 0, "glyph {i} is blank");
            for t in &slots[i + 1..] {
                if s == t {
                    continue;
                }
                let apart =
                    s.x + s.w <= t.x || t.x + t.w <= s.x || s.y + s.h <= t.y || t.y + t.h <= s.y;
                assert!(apart, "{s:?} overlaps {t:?}");
            }
        }
    }

    #[test]
    fn a_full_atlas_says_so_and_clears() {
        let mut a = GlyphAtlas::new(BUNDLED_FONT, 64).unwrap();
        let (glyphs, _) = a.shape("ABCDEFGHIJKLMNOP", 30.0);
        let got: Vec<_> = glyphs.iter().map(|g| a.slot(g.index, 30.0)).collect();
        assert!(got.iter().any(Option::is_none));
        a.clear();
        assert_eq!(a.fill(), 0.0);
        assert!(a.slot(glyphs[0].index, 30.0).is_some());
    }

    #[test]
    fn kerning_pairs_sit_closer_than_their_advances() {
        // The bundled font kerns in GPOS (no legacy `kern` table): "AV" and "To" must
        // come out narrower than the sum of their letters, "HH" exactly as wide.
        let a = GlyphAtlas::bundled().unwrap();
        for pair in ["AV", "To"] {
            let (l, r) = pair.split_at(1);
            let sum = a.line_width(l, 40.0) + a.line_width(r, 40.0);
            assert!(
                a.line_width(pair, 40.0) < sum - 0.5,
                "{pair}: {} vs {sum}",
                a.line_width(pair, 40.0)
            );
        }
        let hh = a.line_width("H", 40.0) * 2.0;
        assert!((a.line_width("HH", 40.0) - hh).abs() < 1e-3);
        assert!(a.line_width("looks happy", 40.0) > a.line_width("looks", 40.0));
        // pen positions grow and the kerned glyph is pulled left
        let (g, _) = a.shape("AV", 40.0);
        assert_eq!(g.len(), 2);
        assert!(g[1].x < a.line_width("A", 40.0));
    }

    #[test]
    fn bad_font_bytes_are_an_error() {
        assert!(matches!(
            GlyphAtlas::new(b"not a font", 64),
            Err(RenderError::Font(_))
        ));
    }
}
