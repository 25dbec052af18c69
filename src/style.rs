//! Overlay settings (config section `[overlay]`): caption size, wrapping, motion
//! smoothing and colours. Clinicians and wearers tune these, so they live in the
//! settings file rather than in code.

use serde::{Deserialize, Serialize};

pub use crate::color::Rgba;
use crate::diag::Limit;

/// How captions look and move (config section `[overlay]`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OverlayOptions {
    /// Caption text size in pixels; 0 picks 1/18 of the screen height (at least 16).
    pub caption_px: f32,
    /// Caption text size in degrees of visual angle; when above 0 it overrides
    /// `caption_px`, using `fov_deg`, because legibility on a head-mounted display
    /// depends on the angle a letter subtends, not on its pixels.
    pub caption_deg: f32,
    /// Horizontal field of view of the display, degrees.
    pub fov_deg: f32,
    /// Captions wrap at this width, in multiples of the text size.
    pub max_width_em: f32,
    /// Time constant (ms) of caption motion: face boxes are smoothed over about this
    /// long, so detector noise does not make captions jitter.
    pub motion_tau_ms: f32,
    /// Draw corner brackets around each captioned face.
    pub brackets: bool,
    /// Caption text colour.
    pub text_color: Rgba,
    /// Text colour of the `unsure` caption (quieter, so a guess is not mistaken for a
    /// reading).
    pub unsure_color: Rgba,
    /// Background plate behind each caption, for contrast over any scene.
    pub plate_color: Rgba,
    /// Face bracket colour.
    pub bracket_color: Rgba,
}

impl Default for OverlayOptions {
    fn default() -> Self {
        OverlayOptions {
            caption_px: 0.0,
            caption_deg: 0.0,
            fov_deg: 40.0,
            max_width_em: 12.0,
            motion_tau_ms: 150.0,
            brackets: true,
            text_color: Rgba([255, 255, 255, 255]),
            unsure_color: Rgba([200, 200, 200, 255]),
            plate_color: Rgba([0, 0, 0, 180]),
            bracket_color: Rgba([255, 210, 77, 255]),
        }
    }
}

impl OverlayOptions {
    /// Caption text size in pixels for a screen of this size.
    pub fn caption_px_for(&self, width: u32, height: u32) -> f32 {
        if self.caption_deg > 0.0 && self.fov_deg > 0.0 {
            // Pinhole model: focal length in pixels from the horizontal field of view.
            let focal = width as f32 / 2.0 / (self.fov_deg.to_radians() / 2.0).tan();
            return (focal * self.caption_deg.to_radians().tan()).max(6.0);
        }
        if self.caption_px > 0.0 {
            self.caption_px
        } else {
            (height as f32 / 18.0).max(16.0)
        }
    }

    /// Range checks serde cannot express: the first of [`OverlayOptions::problems`].
    pub fn validate(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            Some(p) => Err(p),
            None => Ok(()),
        }
    }

    /// Every value outside its range ([`LIMITS`]), one message each, starting with
    /// the dotted key so the settings file can point at its line.
    pub fn problems(&self) -> Vec<String> {
        let [
            caption_px,
            caption_deg,
            fov_deg,
            max_width_em,
            motion_tau_ms,
        ] = &LIMITS;
        [
            caption_px.check(self.caption_px),
            caption_deg.check(self.caption_deg),
            fov_deg.check(self.fov_deg),
            max_width_em.check(self.max_width_em),
            motion_tau_ms.check(self.motion_tau_ms),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Allowed ranges of the `[overlay]` numbers. The upper bounds keep a glyph inside
/// the 1024-texel atlas and a caption on a screen.
pub const LIMITS: [Limit; 5] = [
    Limit::new(
        "overlay.caption_px",
        0.0,
        512.0,
        " px",
        "caption text size; 0 picks 1/18 of the screen height",
    ),
    Limit::new(
        "overlay.caption_deg",
        0.0,
        10.0,
        " degrees",
        "caption text size as a visual angle; 0 uses caption_px",
    ),
    Limit::new(
        "overlay.fov_deg",
        0.0,
        180.0,
        " degrees",
        "the display's horizontal field of view",
    )
    .above_min()
    .below_max(),
    Limit::new(
        "overlay.max_width_em",
        2.0,
        100.0,
        "",
        "where captions wrap, in multiples of the text size",
    ),
    Limit::new(
        "overlay.motion_tau_ms",
        0.0,
        10_000.0,
        " ms",
        "the time constant of caption motion; larger is steadier and slower",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_size_from_visual_angle() {
        let o = OverlayOptions {
            caption_deg: 1.0,
            fov_deg: 40.0,
            ..Default::default()
        };
        // 1920 px over 40°: about 46 px per degree near the centre.
        let px = o.caption_px_for(1920, 1080);
        assert!((px - 46.0).abs() < 1.5, "{px}");
        assert_eq!(OverlayOptions::default().caption_px_for(320, 240), 16.0);
        assert_eq!(OverlayOptions::default().caption_px_for(1920, 1080), 60.0);
    }
}
