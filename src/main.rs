//! The `emocue` command line: the schema (clap) and the dispatch. Each command's body
//! is one file of `cmd/`.
//!
//! Output never panics: a closed pipe on stdout (`| head`) ends the command quietly
//! with status 0, another write error (a full disk) names the output and exits 1,
//! and notes on stderr are dropped rather than fatal when stderr is gone. SIGINT,
//! SIGTERM and SIGHUP stop `replay`, `run` and `record` at a frame boundary with
//! their output complete; the process then ends by that signal (docs/events.md,
//! "Shutdown and pipes").

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use emocue::note;

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
    Replay(ReplayArgs),
    /// Classify the faces in images: one JSON line per file.
    Classify(ClassifyArgs),
    /// The main job: live captions from a camera (V4L2), overlay rendered offscreen
    /// until the display window exists. Without a camera at the default device this
    /// replays the bundled sample clip and prints its summary.
    Run(RunArgs),
    /// List cameras (/dev/video*) with their formats, sizes and frame rates.
    Devices(DevicesArgs),
    /// Record frames from a camera into a Y4M clip for `replay` (the only command
    /// that writes camera frames to disk).
    Record(RecordArgs),
    /// Measure single-thread throughput and latency of each stage and the pipeline.
    Bench(BenchArgs),
    /// Validate a settings file (and the wording profile it selects) or a wording
    /// profile (told apart by content): exit 0 when valid, 1 with every mistake as
    /// file:line:column otherwise.
    CheckConfig(CheckConfigArgs),
    /// Draw every caption of a wording profile on one PNG sheet, as the display shows
    /// them, to review wording before a session.
    PreviewLabels(PreviewLabelsArgs),
}

// `emocue replay`; the doc comment of `Cmd::Replay` is its help.
#[derive(Args)]
struct ReplayArgs {
    /// Input: a .y4m clip, a folder of image frames, or one image (PNG, JPEG, TIFF, WebP, BMP, GIF).
    pub input: PathBuf,
    /// Write one JSON line per frame here ("-" for stdout). Without it, events go
    /// to stdout unless --summary is given.
    #[arg(long, value_name = "OUT.jsonl")]
    pub events: Option<PathBuf>,
    /// Print a summary: time per caption, caption changes per minute, latency.
    #[arg(long)]
    pub summary: bool,
    /// Leave latencies out, so the same input gives byte-identical output.
    #[arg(long)]
    pub no_timing: bool,
    /// Settings file (TOML); defaults are built in (see config/default.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Frame rate of image folders.
    #[arg(long, default_value_t = 25.0)]
    pub fps: f64,
    /// Render the overlay offscreen and write PNG frames into this folder.
    #[arg(long, value_name = "DIR")]
    pub render: Option<PathBuf>,
    /// With --render, write only every Nth frame.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub every: u64,
    /// Render the overlay into a Y4M clip (every frame).
    #[arg(long, value_name = "OUT.y4m")]
    pub render_video: Option<PathBuf>,
    /// Behind the captions: passthrough (camera), see-through (black) or debug.
    #[arg(long, value_name = "MODE", default_value = "passthrough")]
    pub render_mode: emocue::render::RenderMode,
    /// Show the overlay in a window, paced to the clip's frame rate (Esc quits).
    #[arg(long)]
    pub window: bool,
    /// With --window: fullscreen on this monitor (0 = first; a wrong number lists
    /// the monitors there are).
    #[arg(long, value_name = "N", requires = "window")]
    pub monitor: Option<usize>,
}

// `emocue classify`; the doc comment of `Cmd::Classify` is its help.
#[derive(Args)]
struct ClassifyArgs {
    /// Images (PNG, JPEG, TIFF, WebP, BMP, GIF) or folders of images.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Each image is already a framed face crop: no detection, one face.
    #[arg(long)]
    pub crop: bool,
    /// Classifier ONNX (default: the config's, models/emotionnet_nano_b.int8.onnx).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// JSON lines (the default output is one readable line per file).
    #[arg(long)]
    pub json: bool,
    /// Look once, as live video does: one detector pass per photo and one view of
    /// each face. Several times faster, but faces under about a fifth of the
    /// frame's height may be missed, and labels are about half a point less often
    /// right (the default averages five one-pixel shifts of each crop).
    #[arg(long)]
    pub one_look: bool,
    /// Settings file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

// `emocue run`; the doc comment of `Cmd::Run` is its help.
#[derive(Args)]
struct RunArgs {
    /// Camera device (default: the config's [camera] device, /dev/video0).
    #[arg(long, value_name = "/dev/videoN")]
    pub device: Option<PathBuf>,
    /// Settings file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print dropped frames and per-stage latency (p50/p95/p99): every 5 s on
    /// stderr, and as JSON on stdout at the end.
    #[arg(long)]
    pub stats: bool,
    /// Stop after this many seconds, at most a week (default: run until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = positive_seconds)]
    pub seconds: Option<f64>,
    /// Show the overlay in a window, paced to the clip's frame rate (Esc quits).
    #[arg(long)]
    pub window: bool,
    /// With --window: fullscreen on this monitor (0 = first; a wrong number lists
    /// the monitors there are).
    #[arg(long, value_name = "N", requires = "window")]
    pub monitor: Option<usize>,
}

// `emocue devices`; the doc comment of `Cmd::Devices` is its help.
#[derive(Args)]
struct DevicesArgs {
    /// Settings file (TOML), for the mode `run` would ask for.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

// `emocue record`; the doc comment of `Cmd::Record` is its help.
#[derive(Args)]
struct RecordArgs {
    /// Camera device (default: the config's [camera] device, /dev/video0).
    #[arg(long, value_name = "/dev/videoN")]
    pub device: Option<PathBuf>,
    /// The clip to write.
    #[arg(long, value_name = "CLIP.y4m")]
    pub out: PathBuf,
    /// How long to record, seconds (at most a week; Ctrl-C ends it sooner).
    #[arg(long, value_name = "N", value_parser = positive_seconds)]
    pub seconds: f64,
    /// Settings file (TOML), for the camera mode.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

// `emocue bench`; the doc comment of `Cmd::Bench` is its help.
#[derive(Args)]
struct BenchArgs {
    /// Print JSON (keys in docs/performance.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Seconds per measurement (at most 3600).
    #[arg(long, default_value_t = 3.0, value_parser = bench_seconds)]
    pub seconds: f64,
    /// Settings file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Measure this classifier ONNX instead of the configured int8/f32 pair (to
    /// compare quantized forms: training/tools/quant_forms.py).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Only the classifier: skip detector, pipeline and rendering.
    #[arg(long)]
    pub classifier_only: bool,
    /// Also time the whole pipeline on this recording (Y4M or a folder of images; its
    /// first 200 frames scaled to 640x480, looped): key `pipeline_640x480_clip`, with
    /// the share of frames the detector ran on. The bundled sample's simulated motion
    /// makes the detector run on most frames; a real clip shows the schedule at work.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["classifier_only", "profile", "soak"])]
    pub clip: Option<PathBuf>,
    /// Then time the same files in onnxruntime (training/tools/bench_onnxruntime.py run
    /// by this Python; default: the source tree's .venv/bin/python) and report each
    /// network's ratio to it (`vs_onnxruntime`, network images per second).
    #[arg(long, value_name = "PYTHON", num_args = 0..=1,
          default_missing_value = ".venv/bin/python",
          conflicts_with_all = ["profile", "soak"])]
    pub onnxruntime: Option<PathBuf>,
    /// Instead of timing stages, time each node of the classifier's tract plan (the
    /// configured model, or --model; any ONNX with a fixed input shape) on one image: JSON.
    #[arg(long)]
    pub profile: bool,
    /// With --profile: images per call for a classifier (the app uses 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub batch: u16,
    /// Soak test instead of timing stages: replay a long clip (the sample looped,
    /// with a second without a face each loop) as fast as it goes, reporting
    /// resident memory after the first minute of video and at the end, and the
    /// event lines written (docs/performance.md, "Soak").
    #[arg(long, conflicts_with_all = ["profile", "classifier_only", "model"])]
    pub soak: bool,
    /// With --soak: minutes of video (at most 1440).
    #[arg(long, default_value_t = 10.0, value_parser = soak_minutes, requires = "soak")]
    pub minutes: f64,
    /// With --soak: the clip's frame rate (at most 120).
    #[arg(long, default_value_t = 15.0, value_parser = soak_fps, requires = "soak")]
    pub fps: f64,
}

// `emocue check-config`; the doc comment of `Cmd::CheckConfig` is its help.
#[derive(Args)]
struct CheckConfigArgs {
    /// The TOML file.
    pub file: PathBuf,
}

// `emocue preview-labels`; the doc comment of `Cmd::PreviewLabels` is its help.
#[derive(Args)]
struct PreviewLabelsArgs {
    /// Profile name (en, en-child, de, fr, or config/labels/NAME.toml) or path
    /// (default: the one the settings select).
    #[arg(long, value_name = "NAME|PATH")]
    pub profile: Option<String>,
    /// The PNG to write.
    #[arg(long, value_name = "SHEET.png")]
    pub out: PathBuf,
    /// Settings file (TOML), for the caption size and colours.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Display size the captions are sized for.
    #[arg(long, value_name = "WxH", default_value = "640x480", value_parser = screen_size)]
    pub screen: (u32, u32),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli);
    match (result, emocue::live::stop_signal()) {
        // Stopped by a signal with everything written: end by that signal.
        (Ok(_), Some(sig)) => emocue::live::exit_by_signal(sig),
        (Ok(code), None) => code,
        (Err(e), _) if cmd::is_broken_pipe(&e) => ExitCode::SUCCESS,
        (Err(e), _) => {
            note!("emocue: error: {}", emocue::diag::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; `Ok` carries its exit status (a check that found mistakes is 1).
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Replay(args) => cmd::replay::run(args),
        Cmd::Classify(args) => cmd::classify::run(args),
        Cmd::Run(args) => cmd::run::run(args),
        Cmd::Devices(args) => cmd::devices::run(args),
        Cmd::Record(args) => cmd::record::run(args),
        Cmd::Bench(args) => cmd::bench::run(args),
        Cmd::CheckConfig(args) => cmd::check_config::run(args),
        Cmd::PreviewLabels(args) => cmd::preview_labels::run(args),
    }
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
}
