//! The overlay on the GPU: [`Overlay`] (prepare on the CPU, render into the caller's
//! pass) and [`Renderer`], its offscreen and window user. Behind the `gpu` feature.

use std::time::Instant;

use glam::Vec2;
use image::{RgbImage, RgbaImage};

use super::gpu::{self, GpuOverlay, GpuRenderer};
use super::{
    CaptionLayout, CaptionRequest, GlyphAtlas, LayoutOptions, OverlayOptions, PlacedCaption,
    RenderError, RenderMode, Scene, draw,
};

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

/// An [`Overlay`] on a device of its own: offscreen pictures read back, or a window
/// surface presented. Both are thin users of the overlay's prepare/render.
pub struct Renderer {
    gpu: GpuRenderer,
    overlay: Overlay,
    last_ms: f64,
}

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
