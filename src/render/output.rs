//! `replay --render`: rendered frames written as PNGs and/or a Y4M clip, beside (never
//! instead of) the event log.

use std::fs::File;
use std::path::PathBuf;

use anyhow::Context;
use image::{DynamicImage, RgbaImage};

use super::{RenderMode, Renderer, Scene};
use crate::Frame;
use crate::source::Y4mWriter;
use crate::stats::percentile;

/// Where rendered frames go.
#[derive(Clone, Debug, Default)]
pub struct RenderTargets {
    /// Folder for PNG frames (`frame_000000.png`, ...).
    pub png_dir: Option<PathBuf>,
    /// Write every Nth frame as PNG (1 = all).
    pub every: u64,
    /// Y4M clip of every frame.
    pub video: Option<PathBuf>,
    /// Frame rate written into the clip's header.
    pub fps: f64,
}

/// Renders each replayed frame and writes it out.
pub struct RenderOutput {
    renderer: Renderer,
    targets: RenderTargets,
    video: Option<Y4mWriter<File>>,
    written: u64,
    times_ms: Vec<f64>,
}

impl RenderOutput {
    /// Opens the renderer and creates the PNG folder.
    pub fn new(renderer: Renderer, targets: RenderTargets) -> anyhow::Result<Self> {
        if let Some(d) = &targets.png_dir {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        Ok(RenderOutput {
            renderer,
            targets,
            video: None,
            written: 0,
            times_ms: Vec::new(),
        })
    }

    /// Renders one frame with its scene if a target wants it, and writes it.
    pub fn frame(&mut self, frame: &Frame, scene: &Scene) -> anyhow::Result<()> {
        let every = self.targets.every.max(1);
        let want_png = self.targets.png_dir.is_some() && frame.index.is_multiple_of(every);
        if !want_png && self.targets.video.is_none() {
            return Ok(());
        }
        let img = self
            .renderer
            .render(&frame.image, scene)
            .with_context(|| format!("rendering frame {}", frame.index))?;
        self.times_ms.push(self.renderer.last_render_ms());
        if let (true, Some(dir)) = (want_png, &self.targets.png_dir) {
            let path = dir.join(format!("frame_{:06}.png", frame.index));
            img.save(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            self.written += 1;
        }
        if let Some(path) = &self.targets.video {
            let rgb = DynamicImage::ImageRgba8(img).into_rgb8();
            if self.video.is_none() {
                let fps = self.targets.fps.round().max(1.0) as u32;
                self.video = Some(
                    Y4mWriter::create(path, rgb.width(), rgb.height(), fps)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                );
            }
            if let Some(v) = &mut self.video {
                v.write(&rgb)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// Flushes the clip and says what was written, with render times.
    pub fn finish(self) -> anyhow::Result<String> {
        if let Some(v) = self.video {
            v.finish().context("cannot finish the rendered clip")?;
        }
        let mut parts = Vec::new();
        if let Some(d) = &self.targets.png_dir {
            parts.push(format!("{} PNG frames in {}", self.written, d.display()));
        }
        if let Some(p) = &self.targets.video {
            parts.push(format!("clip {}", p.display()));
        }
        Ok(format!(
            "rendered {} on {}; render time p50 {:.1} ms, p95 {:.1} ms per frame",
            parts.join(" and "),
            self.renderer.adapter(),
            percentile(&self.times_ms, 0.5),
            percentile(&self.times_ms, 0.95),
        ))
    }
}

/// Renders one image with a scene, for tools and tests that have no pipeline.
pub fn render_once(
    frame: &Frame,
    scene: &Scene,
    mode: RenderMode,
    options: super::OverlayOptions,
) -> Result<RgbaImage, super::RenderError> {
    Renderer::new(options, mode)?.render(&frame.image, scene)
}
