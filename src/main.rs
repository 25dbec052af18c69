//! The `emocue` command line.
//!
//! Output never panics: a closed pipe on stdout (`| head`) ends the command quietly
//! with status 0, another write error (a full disk) names the output and exits 1,
//! and notes on stderr are dropped rather than fatal when stderr is gone. SIGINT,
//! SIGTERM and SIGHUP stop `replay`, `run` and `record` at a frame boundary with
//! their output complete; the process then ends by that signal (docs/events.md,
//! "Shutdown and pipes").

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use emocue::Frame;
use emocue::config::Config;
use emocue::events::{box_json, probs_json};
use emocue::pipeline::resolve_model;
use emocue::session::Session;
use emocue::source::{self, IMAGE_FORMATS, is_image};
use emocue::still::{self, Look};

/// `eprintln!` that never panics: a note on a closed stderr is dropped (a pipeline
/// `2>&1 | head` closes it) instead of killing a run whose output is still wanted.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Facial-expression captions for head-mounted displays.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay a clip (Y4M, folder of images, or one image) through the pipeline headless.
    Replay {
        /// Input: a .y4m clip, a folder of image frames, or one image (PNG, JPEG, TIFF, WebP, BMP, GIF).
        input: PathBuf,
        /// Write one JSON line per frame here ("-" for stdout). Without it, events go
        /// to stdout unless --summary is given.
        #[arg(long, value_name = "OUT.jsonl")]
        events: Option<PathBuf>,
        /// Print a summary: time per caption, caption changes per minute, latency.
        #[arg(long)]
        summary: bool,
        /// Leave latencies out, so the same input gives byte-identical output.
        #[arg(long)]
        no_timing: bool,
        /// Settings file (TOML); defaults are built in (see config/default.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Frame rate of image folders.
        #[arg(long, default_value_t = 25.0)]
        fps: f64,
        /// Render the overlay offscreen and write PNG frames into this folder.
        #[arg(long, value_name = "DIR")]
        render: Option<PathBuf>,
        /// With --render, write only every Nth frame.
        #[arg(long, value_name = "N", default_value_t = 1)]
        every: u64,
        /// Render the overlay into a Y4M clip (every frame).
        #[arg(long, value_name = "OUT.y4m")]
        render_video: Option<PathBuf>,
        /// Behind the captions: passthrough (camera), see-through (black) or debug.
        #[arg(long, value_name = "MODE", default_value = "passthrough")]
        render_mode: emocue::render::RenderMode,
        /// Show the overlay in a window, paced to the clip's frame rate (Esc quits).
        #[arg(long)]
        window: bool,
        /// With --window: fullscreen on this monitor (0 = first; a wrong number lists
        /// the monitors there are).
        #[arg(long, value_name = "N", requires = "window")]
        monitor: Option<usize>,
    },
    /// Classify the faces in images: one JSON line per file.
    Classify {
        /// Images (PNG, JPEG, TIFF, WebP, BMP, GIF) or folders of images.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Each image is already a framed face crop: no detection, one face.
        #[arg(long)]
        crop: bool,
        /// Classifier ONNX (default: the config's, models/emotionnet_nano_b.int8.onnx).
        #[arg(long, value_name = "PATH")]
        model: Option<PathBuf>,
        /// JSON lines (the default output is one readable line per file).
        #[arg(long)]
        json: bool,
        /// Look once, as live video does: one detector pass per photo and one view of
        /// each face. Several times faster, but faces under about a fifth of the
        /// frame's height may be missed, and labels are about half a point less often
        /// right (the default averages five one-pixel shifts of each crop).
        #[arg(long)]
        one_look: bool,
        /// Settings file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The main job: live captions from a camera (V4L2), overlay rendered offscreen
    /// until the display window exists. Without a camera at the default device this
    /// replays the bundled sample clip and prints its summary.
    Run {
        /// Camera device (default: the config's [camera] device, /dev/video0).
        #[arg(long, value_name = "/dev/videoN")]
        device: Option<PathBuf>,
        /// Settings file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print dropped frames and per-stage latency (p50/p95/p99): every 5 s on
        /// stderr, and as JSON on stdout at the end.
        #[arg(long)]
        stats: bool,
        /// Stop after this many seconds, at most a week (default: run until Ctrl-C).
        #[arg(long, value_name = "N", value_parser = positive_seconds)]
        seconds: Option<f64>,
        /// Show the overlay in a window, paced to the clip's frame rate (Esc quits).
        #[arg(long)]
        window: bool,
        /// With --window: fullscreen on this monitor (0 = first; a wrong number lists
        /// the monitors there are).
        #[arg(long, value_name = "N", requires = "window")]
        monitor: Option<usize>,
    },
    /// List cameras (/dev/video*) with their formats, sizes and frame rates.
    Devices {
        /// Settings file (TOML), for the mode `run` would ask for.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Record frames from a camera into a Y4M clip for `replay` (the only command
    /// that writes camera frames to disk).
    Record {
        /// Camera device (default: the config's [camera] device, /dev/video0).
        #[arg(long, value_name = "/dev/videoN")]
        device: Option<PathBuf>,
        /// The clip to write.
        #[arg(long, value_name = "CLIP.y4m")]
        out: PathBuf,
        /// How long to record, seconds (at most a week; Ctrl-C ends it sooner).
        #[arg(long, value_name = "N", value_parser = positive_seconds)]
        seconds: f64,
        /// Settings file (TOML), for the camera mode.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Measure single-thread throughput and latency of each stage and the pipeline.
    Bench {
        /// Print JSON (keys in docs/performance.md) instead of a table.
        #[arg(long)]
        json: bool,
        /// Seconds per measurement (at most 3600).
        #[arg(long, default_value_t = 3.0, value_parser = bench_seconds)]
        seconds: f64,
        /// Settings file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Measure this classifier ONNX instead of the configured int8/f32 pair (to
        /// compare quantized forms: training/quant_forms.py).
        #[arg(long, value_name = "PATH")]
        model: Option<PathBuf>,
        /// Only the classifier: skip detector, pipeline and rendering.
        #[arg(long)]
        classifier_only: bool,
        /// Then time the same files in onnxruntime (training/bench_onnxruntime.py run
        /// by this Python; default: the source tree's .venv/bin/python) and report each
        /// network's ratio to it (`vs_onnxruntime`, network images per second).
        #[arg(long, value_name = "PYTHON", num_args = 0..=1,
              default_missing_value = ".venv/bin/python",
              conflicts_with_all = ["profile", "soak"])]
        onnxruntime: Option<PathBuf>,
        /// Instead of timing stages, time each node of the classifier's tract plan (the
        /// configured model, or --model; any ONNX with a fixed input shape) on one image: JSON.
        #[arg(long)]
        profile: bool,
        /// With --profile: images per call for a classifier (the app uses 1).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        batch: u16,
        /// Soak test instead of timing stages: replay a long clip (the sample looped,
        /// with a second without a face each loop) as fast as it goes, reporting
        /// resident memory after the first minute of video and at the end, and the
        /// event lines written (docs/performance.md, "Soak").
        #[arg(long, conflicts_with_all = ["profile", "classifier_only", "model"])]
        soak: bool,
        /// With --soak: minutes of video (at most 1440).
        #[arg(long, default_value_t = 10.0, value_parser = soak_minutes, requires = "soak")]
        minutes: f64,
        /// With --soak: the clip's frame rate (at most 120).
        #[arg(long, default_value_t = 15.0, value_parser = soak_fps, requires = "soak")]
        fps: f64,
    },
    /// Validate a settings file (and the wording profile it selects) or a wording
    /// profile (told apart by content): exit 0 when valid, 1 with every mistake as
    /// file:line:column otherwise.
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
    /// Draw every caption of a wording profile on one PNG sheet, as the display shows
    /// them, to review wording before a session.
    PreviewLabels {
        /// Profile name (en, en-child, de, fr, or config/labels/NAME.toml) or path
        /// (default: the one the settings select).
        #[arg(long, value_name = "NAME|PATH")]
        profile: Option<String>,
        /// The PNG to write.
        #[arg(long, value_name = "SHEET.png")]
        out: PathBuf,
        /// Settings file (TOML), for the caption size and colours.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Display size the captions are sized for.
        #[arg(long, value_name = "WxH", default_value = "640x480", value_parser = screen_size)]
        screen: (u32, u32),
    },
}

fn screen_size(s: &str) -> Result<(u32, u32), String> {
    let parsed = s
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if (16..=8192).contains(&w) && (16..=8192).contains(&h) => Ok((w, h)),
        _ => Err(format!("{s:?} is not a display size like 640x480")),
    }
}

/// The longest `run --seconds` and `record --seconds`: a week. Longer is a typo, and a
/// bounded length always converts to a `Duration` and a deadline.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// A number in `(0, max]`, or a message naming the value, the range and the option.
fn bounded(s: &str, max: f64, what: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= max => Ok(v),
        _ => Err(format!(
            "{s:?} is not a positive number of {what} up to {max}"
        )),
    }
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    bounded(s, MAX_SECONDS, "seconds")
        .map_err(|e| format!("{e} (one week); leave `run --seconds` out to run until Ctrl-C"))
}

fn bench_seconds(s: &str) -> Result<f64, String> {
    bounded(s, 3600.0, "seconds")
}

fn soak_minutes(s: &str) -> Result<f64, String> {
    bounded(s, 1440.0, "minutes")
}

fn soak_fps(s: &str) -> Result<f64, String> {
    bounded(s, 120.0, "frames per second")
}

/// Writes one line to stdout, flushed; the error names stdout and keeps the error's
/// kind, so a closed pipe is still told apart from a full disk.
fn say(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| named(e, "standard output"))?;
    Ok(())
}

/// `e` with the output it happened on in its message, same kind.
fn named(e: std::io::Error, output: &str) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot write to {output}: {e}"))
}

/// An output that names itself in its errors ("cannot write to out.jsonl: No space
/// left on device"); the error keeps its kind for [`is_broken_pipe`].
struct Named<W> {
    inner: W,
    name: String,
}

impl<W: Write> Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| named(e, &self.name))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| named(e, &self.name))
    }
}

/// True when the reader of our output went away (`| head -1`): Unix tools then stop
/// quietly with status 0 instead of reporting an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The stop check of a replay: the name of the stop signal that came, if one did.
fn stopped_by_signal() -> Option<String> {
    emocue::live::stop_signal().map(|s| s.name().to_string())
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli);
    match (result, emocue::live::stop_signal()) {
        // Stopped by a signal with everything written: end by that signal.
        (Ok(_), Some(sig)) => emocue::live::exit_by_signal(sig),
        (Ok(code), None) => code,
        (Err(e), _) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        (Err(e), _) => {
            note!("emocue: error: {}", emocue::diag::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Replay {
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
        } => {
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
        Cmd::Run {
            device,
            config,
            stats,
            seconds,
            window,
            monitor,
        } => {
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
        Cmd::Bench {
            json,
            seconds,
            config,
            model,
            classifier_only,
            onnxruntime,
            profile,
            batch,
            soak,
            minutes,
            fps,
        } => {
            let cfg = load_config(config.as_deref())?;
            if soak {
                let opts = emocue::bench::SoakOptions { minutes, fps };
                emocue::live::stop_on_signal();
                let v = emocue::bench::soak(
                    &cfg,
                    &opts,
                    &mut |m| note!("emocue: soak: {m}"),
                    &stopped_by_signal,
                )?;
                say(if json {
                    serde_json::to_string(&v)?
                } else {
                    serde_json::to_string_pretty(&v)?
                })?;
                return Ok(ExitCode::SUCCESS);
            }
            if profile {
                let path = model.unwrap_or_else(|| resolve_model(&cfg.models.classifier));
                let v = emocue::bench::profile_model(&path, usize::from(batch), seconds)?;
                say(serde_json::to_string_pretty(&v)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            // A relative Python that is not here is taken from the source tree (the
            // default, .venv/bin/python, lives there).
            let onnxruntime = onnxruntime.map(|p| match p.to_str() {
                Some(s) if p.is_relative() && !p.exists() => emocue::bundled_path(s),
                _ => p,
            });
            let opts = emocue::bench::BenchOptions {
                seconds,
                model,
                classifier_only,
                onnxruntime,
            };
            let v = emocue::bench::run(&cfg, &opts)?;
            if json {
                say(serde_json::to_string(&v)?)?;
            } else if let Some(m) = v.as_object() {
                say(format_args!(
                    "{:<36} {:>10} {:>9} {:>9} {:>10} {:>8}",
                    "measurement", "per s", "p50 ms", "p95 ms", "images/s", "vs ort"
                ))?;
                for (k, r) in m.iter().filter(|(_, r)| r.is_object()) {
                    if let Some(why) = r.get("skipped") {
                        say(format_args!(
                            "{k:<36} skipped: {}",
                            why.as_str().unwrap_or_default()
                        ))?;
                        continue;
                    }
                    let or_dash = |v: &Value| {
                        if v.is_null() {
                            "-".to_string()
                        } else {
                            v.to_string()
                        }
                    };
                    say(format_args!(
                        "{k:<36} {:>10} {:>9} {:>9} {:>10} {:>8}",
                        r["per_s"],
                        r["p50_ms"],
                        r["p95_ms"],
                        or_dash(&r["images_per_s"]),
                        or_dash(&r["vs_onnxruntime"])
                    ))?;
                }
                if let Some(a) = v.get("render_adapter").and_then(Value::as_str) {
                    say(format_args!("render adapter: {a}"))?;
                }
                say(format_args!(
                    "peak memory: {} MiB, threads: 1",
                    v["peak_rss_mib"]
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Classify {
            files,
            crop,
            model,
            json,
            one_look,
            config,
        } => classify(files, crop, model, json, one_look, config),
        Cmd::Devices { config } => {
            let request = load_config(config.as_deref())?.camera.request();
            let nodes = emocue::capture::video_nodes(Path::new("/dev"));
            if nodes.is_empty() {
                note!(
                    "emocue: no cameras found (no /dev/video* device nodes). Plug one in; if \
                     it is plugged in, check its driver is loaded (USB cameras: \
                     `lsmod | grep uvcvideo`), or in a container pass it through \
                     (docker run --device /dev/video0)."
                );
            }
            for node in nodes {
                match emocue::capture::v4l2::query(&node, &request) {
                    Ok(info) => {
                        say(emocue::capture::describe_device(&info, &request)
                            .trim_end_matches('\n'))?
                    }
                    Err(e) => say(format_args!("{}: {e}", node.display()))?,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Record {
            device,
            out,
            seconds,
            config,
        } => {
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
        Cmd::PreviewLabels {
            profile,
            out,
            config,
            screen,
        } => {
            let cfg = load_config(config.as_deref())?;
            let wording = match profile {
                Some(p) => emocue::profile::Profile::open(&p)?,
                None => cfg.load_profile()?,
            };
            let sheet = emocue::render::preview::render_sheet(&wording, &cfg.overlay, screen)?;
            sheet
                .save(&out)
                .with_context(|| format!("cannot write {}", out.display()))?;
            note!(
                "emocue: wrote {} ({}x{}): every caption of \"{}\" ({})",
                out.display(),
                sheet.width(),
                sheet.height(),
                wording.name,
                wording.path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckConfig { file } => match emocue::check::check(&file) {
            Ok(line) => {
                say(line)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                note!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// `--window` for a replay: each frame shown when its timestamp comes due (the clip
/// plays at its own pace), window events handled while waiting, Esc ends the replay.
struct ReplayWindow {
    window: emocue::render::window::Window,
    start: std::time::Instant,
    first_ms: Option<f64>,
}

impl ReplayWindow {
    fn frame(
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

fn open_window(
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

/// The images named on the command line, folders expanded in name order; a folder
/// that cannot be read or holds no image, or a file that is not an image, comes with
/// the problem to report in its place.
fn expand(files: Vec<PathBuf>) -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let mut v: Vec<PathBuf> = match std::fs::read_dir(&f) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| is_image(p))
                    .collect(),
                Err(e) => {
                    out.push((f, Some(format!("cannot read the folder: {e}"))));
                    continue;
                }
            };
            if v.is_empty() {
                let why = format!("the folder holds no images ({IMAGE_FORMATS})");
                out.push((f, Some(why)));
                continue;
            }
            v.sort();
            out.extend(v.into_iter().map(|p| (p, None)));
        } else if f.exists() && !is_image(&f) {
            let why = format!("not an image file: classify reads {IMAGE_FORMATS}");
            out.push((f, Some(why)));
        } else {
            out.push((f, None));
        }
    }
    out
}

fn classify(
    files: Vec<PathBuf>,
    crop: bool,
    model: Option<PathBuf>,
    json_out: bool,
    one_look: bool,
    config: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = load_config(config.as_deref())?;
    if let Some(m) = model {
        cfg.models.classifier = m;
    }
    cfg.models.classifier = resolve_model(&cfg.models.classifier);
    let mut pipeline = Session::new(cfg.clone())?;
    let labels = pipeline.labels().to_vec();
    let mut failures = 0usize;
    // (images read, images without a face): a batch of tight face crops run without
    // --crop finds few faces, and the fix is one flag
    let (mut read, mut faceless) = (0usize, 0usize);
    let files = expand(files);
    let out = std::io::stdout();
    // A bulk run writes its lines to a file and would be silent for minutes: a progress
    // bar on stderr then, only when someone is watching it.
    let bar = if out.is_terminal() || files.len() < 2 {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(files.len() as u64).with_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} images, {eta} left")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    };
    let mut out = Named {
        inner: BufWriter::new(out.lock()),
        name: "standard output".into(),
    };
    let mut buf = Vec::new();
    for (file, problem) in files {
        bar.inc(1);
        let result = match problem {
            Some(why) => Err(anyhow::anyhow!("{}: {why}", file.display())),
            None => classify_one(&mut pipeline, &file, crop, one_look),
        };
        let line = match result {
            Ok(faces) => {
                read += 1;
                faceless += usize::from(faces.is_empty());
                json!({"file": file.display().to_string(), "faces": faces})
            }
            Err(e) => {
                failures += 1;
                json!({"file": file.display().to_string(), "faces": [], "error": emocue::diag::error_chain(&e)})
            }
        };
        if json_out {
            emocue::events::write_line(&mut out, &line, &mut buf)?;
        } else {
            let mut text = human(&line, &labels);
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    if faceless > 0 {
        note!(
            "emocue: no face found in {faceless} of {read} images; if they are already \
             framed face crops, run with --crop"
        );
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn classify_one(
    pipeline: &mut Session,
    file: &Path,
    crop: bool,
    one_look: bool,
) -> anyhow::Result<Vec<Value>> {
    let img = source::load_image(file)?;
    let frame = Frame::new(0, 0.0, img);
    let look = if one_look { Look::Once } else { Look::Closely };
    let labels = pipeline.labels().to_vec();
    let faces = if crop {
        vec![still::read_crop(
            pipeline.pipeline_mut().classifier_mut(),
            &frame,
            look,
        )?]
    } else {
        let (detector, classifier) = pipeline.pipeline_mut().models_mut();
        still::read_photo(detector, classifier, &frame, look)?
    };
    Ok(faces
        .iter()
        .map(|f| {
            let best = emocue::classify::argmax(&f.probs).unwrap_or(0);
            json!({
                "box": box_json(&f.rect),
                "score": f.score.map(|s| (s as f64 * 1e4).round() / 1e4),
                "label": labels.get(best),
                "probs": probs_json(&labels, &f.probs),
            })
        })
        .collect())
}

fn human(line: &Value, _labels: &[String]) -> String {
    let file = line["file"].as_str().unwrap_or("?");
    if let Some(e) = line.get("error") {
        let e = e.as_str().unwrap_or("?");
        // most errors already start with the file name: say it once
        let e = e
            .strip_prefix(file)
            .map_or(e, |r| r.trim_start_matches(": "));
        return format!("{file}: error: {e}");
    }
    let faces = line["faces"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if faces.is_empty() {
        return format!("{file}: no face found");
    }
    let parts: Vec<String> = faces
        .iter()
        .map(|f| {
            let label = f["label"].as_str().unwrap_or("?");
            let p = f["probs"][label].as_f64().unwrap_or(0.0);
            format!("{label} ({:.0}%) at {}", p * 100.0, f["box"])
        })
        .collect();
    format!("{file}: {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_bounded_to_a_week_with_the_limit_in_the_message() {
        assert_eq!(positive_seconds("2.5"), Ok(2.5));
        assert_eq!(positive_seconds("604800"), Ok(MAX_SECONDS));
        for bad in ["1e308", "inf", "nan", "-1", "0", "604800.5", "ten"] {
            let e = positive_seconds(bad).unwrap_err();
            assert!(e.contains("up to 604800") && e.contains("one week"), "{e}");
        }
        assert!(soak_minutes("1441").is_err() && soak_fps("0").is_err());
        assert!(bench_seconds("3600").is_ok() && bench_seconds("3601").is_err());
    }

    #[test]
    fn a_broken_pipe_is_told_apart_from_other_write_errors() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = anyhow::Error::from(named(pipe, "standard output")).context("summary");
        assert!(is_broken_pipe(&e));
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e = anyhow::Error::from(named(full, "out.jsonl"));
        assert!(!is_broken_pipe(&e));
        assert!(
            e.to_string().starts_with("cannot write to out.jsonl: "),
            "{e}"
        );
        let json = serde_json::Error::io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&anyhow::Error::from(json)));
    }
}
