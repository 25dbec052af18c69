//! `emocue run`: live captions from a camera; without one at the default device, the
//! bundled sample clip replayed with its summary.

use std::process::ExitCode;

use anyhow::Context;

use emocue::config::Config;
use emocue::note;
use emocue::session::Session;
use emocue::source;

use super::replay::open_window;
use super::{load_config, say, stopped_by_signal};

/// Runs `emocue run`.
pub fn run(args: crate::RunArgs) -> anyhow::Result<ExitCode> {
    let crate::RunArgs {
        device,
        config,
        stats,
        seconds,
        window,
        monitor,
    } = args;
    let cfg = load_config(config.as_deref())?;
    // A camera named on the command line or in the config must be there; only
    // the default one falls back to the sample clip.
    let named = device.is_some() || cfg.camera.device != Config::default().camera.device;
    let device = device.unwrap_or_else(|| cfg.camera.device.clone());
    if named || device.exists() {
        let duration = seconds
            .map(std::time::Duration::try_from_secs_f64)
            .transpose()
            .context("--seconds is out of range; pass at most 604800 (one week)")?;
        let opts = emocue::live::LiveOptions {
            duration,
            stats_every: stats.then_some(std::time::Duration::from_secs(5)),
            window: window.then_some(emocue::render::window::WindowOptions { monitor }),
            ..Default::default()
        };
        let report = emocue::live::run_camera(&device, cfg, &opts)?;
        note!("emocue: {}", report.line());
        if let Some(sig) = report.stopped {
            note!("emocue: stopped by {sig}");
        }
        if stats {
            say(serde_json::to_string_pretty(&report.to_json(true))?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sample = emocue::bundled_path("samples/astronaut");
    note!(
        "emocue: no camera at {}; replaying the bundled sample clip {}",
        device.display(),
        sample.display()
    );
    let mut window = open_window(
        window,
        monitor,
        &cfg.overlay,
        emocue::render::RenderMode::Passthrough,
    )?;
    let mut pipeline = Session::new(cfg)?;
    let mut src = source::open(&sample, 15.0)?;
    emocue::live::stop_on_signal();
    let sum = emocue::replay::replay_until(
        &mut pipeline,
        src.as_mut(),
        None,
        true,
        &mut |frame, fr, notices| match window.as_mut() {
            Some(w) => w.frame(frame, fr, notices),
            None => Ok(()),
        },
        &stopped_by_signal,
    )?;
    if let Some(why) = &sum.stopped {
        note!("emocue: stopped by {why} after {} frames", sum.frames);
    }
    say(serde_json::to_string_pretty(&sum.to_json(true))?)?;
    Ok(ExitCode::SUCCESS)
}
