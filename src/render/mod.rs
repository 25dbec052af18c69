//! The overlay: captions drawn next to faces with wgpu, offscreen for tests and
//! `replay --render`, the same code for a display.
//!
//! A frame's overlay is made in three steps, each testable alone:
//! [`layout`] places captions (pure geometry), [`draw`] turns the layout into quads
//! (glyphs from the [`atlas`], plates, brackets, debug bars), and [`gpu`] draws the
//! quads over the camera frame or black.
//!
//! The public API is glyphon's: [`Overlay::prepare`] on the CPU side, then
//! [`Overlay::render`] into a `wgpu::RenderPass` the caller owns, so the captions can
//! be drawn into someone else's frame. [`Renderer`] (offscreen readback, and a
//! window's surface through [`window`]) is a thin user of it.

pub mod atlas;
pub mod draw;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod layout;
#[cfg(feature = "gpu")]
pub mod output;
#[cfg(feature = "gpu")]
mod overlay;
#[cfg(feature = "gpu")]
pub mod preview;
#[cfg(feature = "gpu")]
pub mod window;

use std::collections::HashMap;

use crate::detect::Rect;

pub use crate::color::Rgba;
pub use crate::style::OverlayOptions;
pub use atlas::GlyphAtlas;
#[cfg(feature = "gpu")]
pub use gpu::{GpuOverlay, GpuRenderer, OFFSCREEN_FORMAT};
pub use layout::{Aabb, CaptionLayout, CaptionRequest, LayoutOptions, PlacedCaption};
#[cfg(feature = "gpu")]
pub use overlay::{Overlay, Renderer};

/// What is behind the captions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RenderMode {
    /// The camera frame, for video passthrough displays and for reviewing clips.
    #[default]
    Passthrough,
    /// Black, which optical see-through displays show as transparent.
    SeeThrough,
    /// Passthrough plus face boxes, track ids and probability bars, for developers.
    Debug,
}

impl std::str::FromStr for RenderMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "passthrough" => Ok(RenderMode::Passthrough),
            "see-through" => Ok(RenderMode::SeeThrough),
            "debug" => Ok(RenderMode::Debug),
            _ => Err(format!(
                "unknown render mode {s:?} (expected passthrough, see-through or debug)"
            )),
        }
    }
}

/// Why the overlay could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No GPU and no software renderer: the fix is an install, so the message says it.
    #[error(
        "no wgpu adapter found ({0}); without a GPU install Mesa's software Vulkan: \
         apt-get install mesa-vulkan-drivers"
    )]
    NoAdapter(String),
    /// The adapter refused to open a device.
    #[error("cannot open the GPU device: {0}")]
    Device(String),
    /// A GPU operation failed (validation, lost device, readback).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// The font could not be read.
    #[error("cannot read the font: {0}")]
    Font(String),
}

/// One face as the overlay needs it.
#[derive(Clone, Debug)]
pub struct OverlayFace {
    /// Track id.
    pub track_id: u64,
    /// Face box in frame pixels.
    pub rect: Rect,
    /// Detected this frame (false while the tracker coasts).
    pub detected: bool,
    /// Caption text, if one is shown.
    pub caption: Option<String>,
    /// The caption is the `unsure` one.
    pub unsure: bool,
    /// Smoothed class probabilities (debug bars).
    pub probs: Vec<f32>,
    /// Index of the shown class (debug bars).
    pub shown_index: Option<usize>,
}

/// A line about the app rather than a face (a wording file that did not load, "no
/// face in view"), drawn across the top of the screen over everything else.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// The text (wrapped to the screen width).
    pub text: String,
    /// Text colour.
    pub color: Rgba,
}

impl Notice {
    /// Colour of error notices: the wearer or clinician must see that something
    /// needs fixing.
    pub const ERROR: Rgba = Rgba([255, 96, 96, 255]);
}

/// Everything the overlay draws for one frame, detached from the pipeline's types so
/// tests can make one by hand.
#[derive(Clone, Debug, Default)]
pub struct Scene {
    /// Frame time, ms (drives caption motion smoothing).
    pub timestamp_ms: f64,
    /// The faces.
    pub faces: Vec<OverlayFace>,
    /// Caption colour per track id, from the wording profile; a track not listed
    /// uses the overlay's `text_color` (`unsure_color` when unsure).
    pub caption_colors: HashMap<u64, Rgba>,
    /// Notices across the top, first on top (the app's: a wording file that did not
    /// load, no face in view, the camera lost).
    pub notices: Vec<Notice>,
}
