//! `emocue replay`: a clip through the pipeline headless, events out, summary,
//! optionally the overlay rendered offscreen or shown in a window at the clip's pace.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;

use emocue::note;
use emocue::session::Session;
use emocue::source;

use super::{Named, load_config, say, stopped_by_signal};

/// Runs `emocue replay`.
pub fn run(args: crate::ReplayArgs) -> anyhow::Result<ExitCode> {
    let crate::ReplayArgs {
        input,
        events,
        summary,
        no_timing,
        config,
        fps,
        render,
        every,
        render_video,
        render_mode,
        window,
        monitor,
    } = args;
    let cfg = load_config(config.as_deref())?;
    let overlay = cfg.overlay.clone();
    let mut window = open_window(window, monitor, &overlay, render_mode)?;
    let mut pipeline = Session::new(cfg)?;
    let mut src = source::open(&input, fps)?;
    let targets = emocue::render::output::RenderTargets {
        png_dir: render,
        every,
        video: render_video,
        fps: src.fps(),
    };
    let mut rendered = render_output(targets, render_mode, overlay)?;
    note!("emocue: replaying {}", src.describe());
    let stdout = || {
        Box::new(Named {
            inner: BufWriter::new(std::io::stdout().lock()),
            name: "standard output".into(),
        }) as Box<dyn Write>
    };
    let mut sink: Option<Box<dyn Write>> = match &events {
        Some(p) if p.as_os_str() == "-" => Some(stdout()),
        Some(p) => Some(Box::new(Named {
            inner: BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot create {}", p.display()))?,
            ),
            name: p.display().to_string(),
        })),
        None if summary => None,
        None => Some(stdout()),
    };
    // From here a stop signal ends the replay after the frame in hand.
    emocue::live::stop_on_signal();
    let result = emocue::replay::replay_until(
        &mut pipeline,
        src.as_mut(),
        sink.as_deref_mut().map(|w| w as &mut dyn Write),
        !no_timing,
        &mut |frame, fr, notices| {
            if let Some(r) = rendered.as_mut() {
                r.frame(frame, &emocue::session::scene(fr, notices.to_vec()))?;
            }
            match window.as_mut() {
                Some(w) => w.frame(frame, fr, notices),
                None => Ok(()),
            }
        },
        &stopped_by_signal,
    );
    // Keep what was written even when a later frame failed; the replay's own
    // error comes first when both failed.
    let flushed = sink.as_mut().map_or(Ok(()), |s| s.flush());
    let sum = result?;
    flushed?;
    if let Some(r) = rendered {
        note!("emocue: {}", r.finish()?);
    }
    if let Some(why) = &sum.stopped {
        note!(
            "emocue: stopped by {why} after {} frames; {}",
            sum.frames,
            match &events {
                Some(p) if p.as_os_str() != "-" =>
                    format!("{} holds their {} complete lines", p.display(), sum.frames),
                _ => "every event line written is complete".into(),
            }
        );
    }
    if summary {
        say(serde_json::to_string_pretty(&sum.to_json(!no_timing))?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The overlay renderer for `replay --render/--render-video`, opened before the
/// replay starts so a machine without a GPU adapter fails at once, with the fix.
fn render_output(
    targets: emocue::render::output::RenderTargets,
    mode: emocue::render::RenderMode,
    overlay: emocue::render::OverlayOptions,
) -> anyhow::Result<Option<emocue::render::output::RenderOutput>> {
    if targets.png_dir.is_none() && targets.video.is_none() {
        return Ok(None);
    }
    let renderer = emocue::render::Renderer::new(overlay, mode)?;
    note!("emocue: rendering on {}", renderer.adapter());
    Ok(Some(emocue::render::output::RenderOutput::new(
        renderer, targets,
    )?))
}

/// `--window` for a replay: each frame shown when its timestamp comes due (the clip
/// plays at its own pace), window events handled while waiting, Esc ends the replay.
pub(super) struct ReplayWindow {
    window: emocue::render::window::Window,
    start: std::time::Instant,
    first_ms: Option<f64>,
}

impl ReplayWindow {
    pub(super) fn frame(
        &mut self,
        frame: &emocue::Frame,
        fr: &emocue::pipeline::FrameResult,
        notices: &[emocue::render::Notice],
    ) -> anyhow::Result<()> {
        let scene = emocue::session::scene(fr, notices.to_vec());
        self.window.show(&frame.image, &scene)?;
        let first = *self.first_ms.get_or_insert(frame.timestamp_ms);
        let due =
            std::time::Duration::from_secs_f64((frame.timestamp_ms - first).max(0.0) / 1000.0);
        while !self.window.wants_quit() {
            let now = self.start.elapsed();
            if now >= due {
                break;
            }
            self.window
                .idle((due - now).min(std::time::Duration::from_millis(10)))?;
        }
        if self.window.wants_quit() {
            return Err(emocue::replay::Stopped.into());
        }
        Ok(())
    }
}

/// The `--window` of `replay` and of `run` without a camera, when asked for.
pub(super) fn open_window(
    wanted: bool,
    monitor: Option<usize>,
    overlay: &emocue::render::OverlayOptions,
    mode: emocue::render::RenderMode,
) -> anyhow::Result<Option<ReplayWindow>> {
    if !wanted {
        return Ok(None);
    }
    let window = emocue::render::window::Window::open(
        emocue::render::window::WindowOptions { monitor },
        overlay.clone(),
        mode,
    )?;
    note!("emocue: window on {} (Esc quits)", window.adapter());
    Ok(Some(ReplayWindow {
        window,
        start: std::time::Instant::now(),
        first_ms: None,
    }))
}
