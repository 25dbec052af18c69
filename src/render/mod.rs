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
pub mod preview;
#[cfg(feature = "gpu")]
pub mod window;

use std::collections::HashMap;
#[cfg(feature = "gpu")]
use std::time::Instant;

#[cfg(feature = "gpu")]
use glam::Vec2;
#[cfg(feature = "gpu")]
use image::{RgbImage, RgbaImage};

use crate::detect::Rect;

pub use crate::color::Rgba;
pub use crate::style::OverlayOptions;
pub use atlas::GlyphAtlas;
#[cfg(feature = "gpu")]
pub use gpu::{GpuOverlay, GpuRenderer, OFFSCREEN_FORMAT};
pub use layout::{Aabb, CaptionLayout, CaptionRequest, LayoutOptions, PlacedCaption};

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

#[cfg(feature = "gpu")]
/// The overlay drawn into a render pass someone else owns, in the manner of glyphon's
/// `TextRenderer`: [`Overlay::prepare`] does the CPU work of a frame (caption layout,
/// glyphs, quads) and uploads it on the caller's device and queue, then
/// [`Overlay::render`] records the draw calls into the caller's pass. So the captions
/// can go into another program's frame; [`Renderer`] is the offscreen and window user.
pub struct Overlay {
    gpu: GpuOverlay,
    atlas: GlyphAtlas,
    layout: CaptionLayout,
    options: OverlayOptions,
    mode: RenderMode,
    last: Vec<PlacedCaption>,
}

#[cfg(feature = "gpu")]
impl Overlay {
    /// An overlay for passes whose target has `format`, on `device`.
    pub fn new(
        device: &wgpu::Device,
        format: wgpu::TextureFormat,
        options: OverlayOptions,
        mode: RenderMode,
    ) -> Result<Self, RenderError> {
        Ok(Overlay {
            gpu: GpuOverlay::new(device, format),
            atlas: GlyphAtlas::bundled()?,
            layout: CaptionLayout::new(),
            options,
            mode,
            last: Vec::new(),
        })
    }

    /// Draws into passes on targets of `format` from now on (a window's surface
    /// format is known only once it is configured).
    pub fn set_format(&mut self, device: &wgpu::Device, format: wgpu::TextureFormat) {
        self.gpu.use_format(device, format);
    }

    /// The CPU side of one frame, uploaded: `frame` is the camera image (its size is
    /// the screen size; in see-through mode only its size is used) and `scene` what
    /// to caption. Captions move smoothly from one prepared frame to the next.
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        frame: &RgbImage,
        scene: &Scene,
    ) -> Result<(), RenderError> {
        let (w, h) = frame.dimensions();
        let quads = self.quads(w, h, scene);
        let background = match self.mode {
            RenderMode::SeeThrough => None,
            RenderMode::Passthrough | RenderMode::Debug => Some(frame),
        };
        self.gpu
            .prepare(device, queue, (w, h), background, &quads, &self.atlas)
    }

    /// Records the prepared frame into `pass`: the camera frame (unless see-through),
    /// then plates, glyphs and brackets. The pass's clear colour shows where nothing
    /// is drawn; its viewport places the picture.
    pub fn render(&self, pass: &mut wgpu::RenderPass<'_>) -> Result<(), RenderError> {
        self.gpu.draw(pass)
    }

    /// The captions as placed in the last prepared frame (for tests and tools).
    pub fn last_layout(&self) -> &[PlacedCaption] {
        &self.last
    }

    /// Caption text size in pixels on a screen of this size.
    pub fn caption_px(&self, width: u32, height: u32) -> f32 {
        self.options.caption_px_for(width, height)
    }

    /// Layout and quads of one `w`×`h` picture.
    fn quads(&mut self, w: u32, h: u32, scene: &Scene) -> Vec<draw::Quad> {
        let px = self.options.caption_px_for(w, h);
        let opts =
            LayoutOptions::for_text_px(px, self.options.max_width_em, self.options.motion_tau_ms);
        let requests: Vec<CaptionRequest> = scene
            .faces
            .iter()
            .filter_map(|f| {
                Some(CaptionRequest {
                    track_id: f.track_id,
                    face: f.rect,
                    text: f.caption.clone()?,
                })
            })
            .collect();
        self.last = self.layout.place(
            scene.timestamp_ms,
            Vec2::new(w as f32, h as f32),
            &requests,
            &opts,
            &self.atlas,
        );
        if self.atlas.fill() > 0.75 {
            self.atlas.clear();
        }
        draw::build(
            scene,
            &self.last,
            &mut self.atlas,
            &self.options,
            self.mode,
            px,
            Vec2::new(w as f32, h as f32),
        )
    }
}

#[cfg(feature = "gpu")]
/// An [`Overlay`] on a device of its own: offscreen pictures read back, or a window
/// surface presented. Both are thin users of the overlay's prepare/render.
pub struct Renderer {
    gpu: GpuRenderer,
    overlay: Overlay,
    last_ms: f64,
}

#[cfg(feature = "gpu")]
impl Renderer {
    /// An offscreen renderer on the best adapter there is (a GPU, else lavapipe).
    pub fn new(options: OverlayOptions, mode: RenderMode) -> Result<Self, RenderError> {
        Self::with_gpu(GpuRenderer::new()?, options, mode)
    }

    /// A renderer on a GPU device opened elsewhere (a window's, whose adapter must
    /// be able to present to its surface).
    pub fn with_gpu(
        gpu: GpuRenderer,
        options: OverlayOptions,
        mode: RenderMode,
    ) -> Result<Self, RenderError> {
        let overlay = Overlay::new(gpu.device(), gpu::OFFSCREEN_FORMAT, options, mode)?;
        Ok(Renderer {
            gpu,
            overlay,
            last_ms: 0.0,
        })
    }

    /// The adapter in use, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu)".
    pub fn adapter(&self) -> String {
        self.gpu.adapter_name()
    }

    /// The captions as placed in the last rendered frame (for tests and tools).
    pub fn last_layout(&self) -> &[PlacedCaption] {
        self.overlay.last_layout()
    }

    /// Wall time of the last [`Renderer::render`] call, ms, readback included.
    pub fn last_render_ms(&self) -> f64 {
        self.last_ms
    }

    /// Caption text size in pixels on a screen of this size.
    pub fn caption_px(&self, width: u32, height: u32) -> f32 {
        self.overlay.caption_px(width, height)
    }

    /// Draws one frame: `frame` is the camera image (its size is the screen size; in
    /// see-through mode only its size is used) and `scene` what to caption.
    pub fn render(&mut self, frame: &RgbImage, scene: &Scene) -> Result<RgbaImage, RenderError> {
        let t0 = Instant::now();
        let (w, h) = frame.dimensions();
        let device = self.gpu.device().clone();
        let queue = self.gpu.queue().clone();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.overlay.set_format(&device, gpu::OFFSCREEN_FORMAT);
        self.overlay.prepare(&device, &queue, frame, scene)?;
        let overlay = &self.overlay;
        let img = self.gpu.read_back(w, h, |pass| overlay.render(pass))?;
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::Gpu(e.to_string()));
        }
        self.last_ms = t0.elapsed().as_secs_f64() * 1000.0;
        Ok(img)
    }

    /// Configures a window surface of `width`×`height` pixels for [`Renderer::present`].
    pub fn configure_surface(
        &mut self,
        surface: &wgpu::Surface<'_>,
        width: u32,
        height: u32,
    ) -> Result<(), RenderError> {
        let caps = self.gpu.surface_caps(surface);
        self.gpu.configure_surface(surface, &caps, width, height)
    }

    /// [`Renderer::render`] into a window surface (letterboxed, no readback).
    /// `Ok(false)`: the surface is out of date; reconfigure and call again.
    pub fn present(
        &mut self,
        surface: &wgpu::Surface<'_>,
        frame: &RgbImage,
        scene: &Scene,
    ) -> Result<bool, RenderError> {
        let t0 = Instant::now();
        let (w, h) = frame.dimensions();
        let Some(format) = self.gpu.surface_format() else {
            return Err(RenderError::Gpu("window surface not configured".into()));
        };
        let device = self.gpu.device().clone();
        let queue = self.gpu.queue().clone();
        self.overlay.set_format(&device, format);
        self.overlay.prepare(&device, &queue, frame, scene)?;
        let overlay = &self.overlay;
        let ok = self
            .gpu
            .present(surface, w, h, |pass| overlay.render(pass))?;
        self.last_ms = t0.elapsed().as_secs_f64() * 1000.0;
        Ok(ok)
    }
}
