//! Where the live overlay goes: a window, offscreen rendering, or nowhere. Displays
//! run on the caller's (main) thread, as windowing systems want.

#[cfg(feature = "gpu")]
use std::time::Duration;

use crate::Frame;
use crate::render::Scene;
#[cfg(feature = "gpu")]
use crate::render::{Renderer, window::Window};

/// Where overlays go: a window, offscreen, or nowhere; runs on the caller's (main)
/// thread.
pub trait Display {
    /// Shows one frame with its captions and notices (e.g. the camera is lost).
    fn show(&mut self, frame: &Frame, scene: &Scene) -> anyhow::Result<()>;
    /// What it renders on, for the log.
    fn describe(&self) -> String;
    /// Called between results (no new picture yet): a window handles its events
    /// (resize, keys) and redraws if it must, so it never waits for inference.
    fn idle(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    /// The user asked to stop (Esc, closed window).
    fn wants_quit(&self) -> bool {
        false
    }
}

#[cfg(feature = "gpu")]
/// The overlay in a window (fullscreen on the display's monitor when asked).
pub struct WindowDisplay(pub Window);

#[cfg(feature = "gpu")]
impl Display for WindowDisplay {
    fn show(&mut self, frame: &Frame, scene: &Scene) -> anyhow::Result<()> {
        Ok(self.0.show(&frame.image, scene)?)
    }

    fn describe(&self) -> String {
        format!("window on {} (Esc quits)", self.0.adapter())
    }

    fn idle(&mut self) -> anyhow::Result<()> {
        Ok(self.0.idle(Duration::ZERO)?)
    }

    fn wants_quit(&self) -> bool {
        self.0.wants_quit()
    }
}

#[cfg(feature = "gpu")]
/// Renders every overlay offscreen and discards it: measures the real render cost on a
/// machine without a window, and exercises the same code a window will.
pub struct OffscreenDisplay {
    renderer: Renderer,
}

#[cfg(feature = "gpu")]
impl OffscreenDisplay {
    /// Wraps a renderer.
    pub fn new(renderer: Renderer) -> Self {
        OffscreenDisplay { renderer }
    }
}

#[cfg(feature = "gpu")]
impl Display for OffscreenDisplay {
    fn show(&mut self, frame: &Frame, scene: &Scene) -> anyhow::Result<()> {
        self.renderer.render(&frame.image, scene)?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("offscreen on {}", self.renderer.adapter())
    }
}

/// No display at all (no GPU adapter): captions are still computed and counted.
pub struct NoDisplay;

impl Display for NoDisplay {
    fn show(&mut self, _frame: &Frame, _scene: &Scene) -> anyhow::Result<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        "no display".into()
    }
}
