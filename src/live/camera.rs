//! `emocue run` with a camera: the live runtime put together (camera, session, a
//! display). Behind the `gpu` feature, as its displays are.

use std::path::Path;

use super::{
    Display, LiveOptions, LiveReport, NoDisplay, OffscreenDisplay, StopSignal, WindowDisplay,
    run_live, stop_on_signal, stop_signal,
};
use crate::capture::v4l2::V4l2Device;
use crate::capture::{Camera, CameraSettings};
use crate::config::Config;
use crate::render::{RenderMode, Renderer};
use crate::session::Session;

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
