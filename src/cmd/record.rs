//! `emocue record`: camera frames into a Y4M clip for `replay`.

use std::process::ExitCode;

use emocue::note;

use super::load_config;

/// Runs `emocue record`.
pub fn run(args: crate::RecordArgs) -> anyhow::Result<ExitCode> {
    let crate::RecordArgs {
        device,
        out,
        seconds,
        config,
    } = args;
    let cfg = load_config(config.as_deref())?;
    let device = device.unwrap_or_else(|| cfg.camera.device.clone());
    let settings = emocue::capture::CameraSettings {
        request: cfg.camera.request(),
        ..Default::default()
    };
    let dev = emocue::capture::v4l2::V4l2Device::new(&device);
    let mut camera = emocue::capture::Camera::open(dev, settings)?;
    note!(
        "emocue: recording {seconds} s of {} ({}) into {}",
        device.display(),
        camera.format(),
        out.display()
    );
    let stop = emocue::live::stop_on_signal();
    let r = emocue::capture::record(&mut camera, &out, seconds, stop)?;
    if r.stopped {
        let by = emocue::live::stop_signal().map_or("a stop request", |s| s.name());
        note!("emocue: stopped by {by}; the clip holds every frame up to then");
    }
    note!(
        "emocue: wrote {} frames in {:.1} s to {} ({} corrupt frames skipped); \
         replay it with: emocue replay {}",
        r.frames,
        r.seconds,
        out.display(),
        r.corrupt,
        out.display()
    );
    if let Some(e) = r.lost {
        note!("emocue: error: {e}; the clip ends there");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
