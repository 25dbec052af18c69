//! The real-time loop: capture, inference and display on their own threads, joined by
//! latest-value slots ([`Latest`]), so a slow stage drops frames instead of adding
//! delay. Every thread and channel of emocue lives in [`threads`].
//!
//! ```text
//! capture thread ──Latest<Captured>──▶ inference thread ──Latest<Processed>──▶ display (caller's thread)
//! ```
//!
//! The inference thread runs [`crate::drive::drive`], the loop a replay runs, with
//! the two slots as its frames and its sink.
//!
//! The display runs on the calling thread because windowing systems want their event
//! loop on the main thread: a window ([`WindowDisplay`]), offscreen rendering
//! ([`OffscreenDisplay`], which measures the same GPU work without a screen) or none.
//!
//! One file per job: [`slot`] (the latest-value slot), [`threads`] (the loops),
//! [`display`] (window, offscreen, none), [`report`] (what a run did), [`signal`]
//! (stopping on SIGINT/SIGTERM/SIGHUP).

pub mod display;
pub mod report;
pub mod signal;
pub mod slot;
pub mod threads;

#[cfg(feature = "gpu")]
use std::path::Path;

pub use display::{Display, NoDisplay};
#[cfg(feature = "gpu")]
pub use display::{OffscreenDisplay, WindowDisplay};
pub use report::{LiveReport, Samples};
pub use signal::{StopSignal, exit_by_signal, stop_on_signal, stop_signal};
pub use slot::Latest;
pub use threads::{Infer, LiveOptions, run_live};

#[cfg(feature = "gpu")]
use crate::capture::v4l2::V4l2Device;
#[cfg(feature = "gpu")]
use crate::capture::{Camera, CameraSettings};
#[cfg(feature = "gpu")]
use crate::config::Config;
#[cfg(feature = "gpu")]
use crate::render::{RenderMode, Renderer};
#[cfg(feature = "gpu")]
use crate::session::Session;

#[cfg(feature = "gpu")]
/// `emocue run` with a camera: opens it (failing with the fix when it cannot), loads
/// the pipeline, renders offscreen (or not at all without a GPU adapter) and runs the
/// loop until Ctrl-C or `opts.duration`.
pub fn run_camera(device: &Path, config: Config, opts: &LiveOptions) -> anyhow::Result<LiveReport> {
    let settings = CameraSettings {
        request: config.camera.request(),
        ..Default::default()
    };
    let mut camera = Camera::open(V4l2Device::new(device), settings)?;
    crate::note!(
        "emocue: camera {} streaming {}",
        device.display(),
        camera.format()
    );
    let overlay = config.overlay.clone();
    let mut pipeline = Session::new(config)?;
    let mut display: Box<dyn Display> = match &opts.window {
        // asked for a window: no silent fallback, the error says why and what to do
        Some(w) => Box::new(WindowDisplay(crate::render::window::Window::open(
            w.clone(),
            overlay,
            RenderMode::Passthrough,
        )?)),
        None => match Renderer::new(overlay, RenderMode::Passthrough) {
            Ok(r) => Box::new(OffscreenDisplay::new(r)),
            Err(e) => {
                crate::note!("emocue: no overlay ({e}); captions are computed but not drawn");
                Box::new(NoDisplay)
            }
        },
    };
    crate::note!("emocue: overlay {}; Ctrl-C stops", display.describe());
    let mut report = run_live(
        &mut camera,
        &mut pipeline,
        display.as_mut(),
        opts,
        stop_on_signal(),
    )?;
    report.stopped = stop_signal().map(StopSignal::name);
    Ok(report)
}
