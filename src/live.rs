//! The real-time loop: capture, inference and display on their own threads, joined by
//! latest-value slots ([`Latest`]), so a slow stage drops frames instead of adding
//! delay. Every thread and channel of emocue lives in this file.
//!
//! ```text
//! capture thread ──Latest<Captured>──▶ inference thread ──Latest<Processed>──▶ display (caller's thread)
//! ```
//!
//! The display runs on the calling thread because windowing systems want their event
//! loop on the main thread: a window ([`WindowDisplay`]), offscreen rendering
//! ([`OffscreenDisplay`], which measures the same GPU work without a screen) or none.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use image::RgbImage;
use serde_json::{Value, json};

use crate::Frame;
use crate::capture::v4l2::V4l2Device;
use crate::capture::{
    Camera, CameraSettings, CaptureCounters, CaptureDevice, CaptureEvent, Captured,
};
use crate::config::Config;
use crate::pipeline::{FrameResult, Pipeline};
use crate::render::{Notice, RenderMode, Renderer, Scene};
use crate::session::{Session, scene};
use crate::stats::percentile;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Slot<T> {
    value: Option<T>,
    put: u64,
    overwritten: u64,
    closed: bool,
}

/// A one-value channel: the writer overwrites, the reader takes the newest. What the
/// reader never saw is counted as dropped, and no stage ever works on a stale frame.
pub struct Latest<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Latest<T> {
    /// An empty, open slot.
    pub fn new() -> Self {
        Latest {
            slot: Mutex::new(Slot {
                value: None,
                put: 0,
                overwritten: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// Stores `value`, replacing (and counting) one the reader has not taken.
    pub fn put(&self, value: T) {
        let mut s = lock(&self.slot);
        if s.value.replace(value).is_some() {
            s.overwritten += 1;
        }
        s.put += 1;
        drop(s);
        self.ready.notify_one();
    }

    /// The newest value, waiting up to `timeout`; `None` on timeout or once closed
    /// and empty.
    pub fn take(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.slot);
        loop {
            if let Some(v) = s.value.take() {
                return Some(v);
            }
            let now = Instant::now();
            if s.closed || now >= deadline {
                return None;
            }
            s = self
                .ready
                .wait_timeout(s, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// No more values will come; wakes a waiting reader.
    pub fn close(&self) {
        lock(&self.slot).closed = true;
        self.ready.notify_all();
    }

    /// True after [`Latest::close`].
    pub fn is_closed(&self) -> bool {
        lock(&self.slot).closed
    }

    /// Values replaced before the reader took them: dropped frames.
    pub fn overwritten(&self) -> u64 {
        lock(&self.slot).overwritten
    }

    /// Values put so far.
    pub fn put_count(&self) -> u64 {
        lock(&self.slot).put
    }
}

/// The inference stage: a [`Session`] (a [`Pipeline`] with its wording file), or a
/// stand-in in tests.
pub trait Infer: Send {
    /// Processes one frame.
    fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult>;
    /// Lines for the top of the overlay with this result (a wording file that did not
    /// reload, "no face"); asked on the inference thread, which owns the state.
    fn notices(&self, _result: &FrameResult) -> Vec<Notice> {
        Vec::new()
    }
}

impl Infer for Session {
    fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult> {
        Ok(self.process(frame)?)
    }

    fn notices(&self, result: &FrameResult) -> Vec<Notice> {
        Session::notices(self, result)
    }
}

impl Infer for Pipeline {
    fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult> {
        Ok(self.process(frame)?)
    }
}

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

/// The overlay in a window (fullscreen on the display's monitor when asked).
pub struct WindowDisplay(pub crate::render::window::Window);

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

/// Renders every overlay offscreen and discards it: measures the real render cost on a
/// machine without a window, and exercises the same code a window will.
pub struct OffscreenDisplay {
    renderer: Renderer,
}

impl OffscreenDisplay {
    /// Wraps a renderer.
    pub fn new(renderer: Renderer) -> Self {
        OffscreenDisplay { renderer }
    }
}

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

/// How long the loop runs and what it reports.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Stop after this long (`None`: until the stop flag).
    pub duration: Option<Duration>,
    /// Print a stats line to stderr this often.
    pub stats_every: Option<Duration>,
    /// While the camera is down, redraw the status banner this often.
    pub status_refresh: Duration,
    /// Show the overlay in a window (else offscreen, or not at all without a GPU).
    pub window: Option<crate::render::window::WindowOptions>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            duration: None,
            stats_every: None,
            status_refresh: Duration::from_millis(200),
            window: None,
        }
    }
}

/// A frame after inference, on its way to the display.
struct Processed {
    captured: Captured,
    result: FrameResult,
    notices: Vec<Notice>,
}

/// The last `CAP` samples of one latency, so a long run keeps bounded memory and its
/// percentiles describe the recent past.
#[derive(Clone, Debug, Default)]
pub struct Samples(VecDeque<f64>);

impl Samples {
    const CAP: usize = 10_000;

    fn push(&mut self, v: f64) {
        if self.0.len() == Self::CAP {
            self.0.pop_front();
        }
        self.0.push_back(v);
    }

    /// The samples, oldest first.
    pub fn values(&self) -> Vec<f64> {
        self.0.iter().copied().collect()
    }
}

/// What a live run did: frame counts, drops, camera faults and per-stage latency.
#[derive(Clone, Debug, Default)]
pub struct LiveReport {
    /// The camera, e.g. "/dev/video0".
    pub device: String,
    /// Its mode at the end, e.g. "YUYV 640x480 at 30 fps".
    pub format: String,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Capture totals (frames, corrupt, losses, reconnects).
    pub capture: CaptureCounters,
    /// Frames the inference stage processed.
    pub processed: u64,
    /// Frames the display showed.
    pub shown: u64,
    /// Frames replaced in the capture → inference slot before inference took them.
    pub dropped_before_inference: u64,
    /// Results replaced in the inference → display slot before the display took them.
    pub dropped_before_display: u64,
    /// Frames the pipeline failed on (logged, skipped).
    pub inference_errors: u64,
    /// Display failures (the display is turned off after the first).
    pub display_errors: u64,
    /// Latency samples by stage, ms: `convert`, `queue` (capture → inference start),
    /// `detect`, `classify`, `track`, `inference`, `render`, `age` (capture → shown).
    pub latency: BTreeMap<&'static str, Samples>,
    /// The signal that stopped the run (e.g. "SIGTERM"), so a log shows who ended it.
    pub stopped: Option<&'static str>,
}

impl LiveReport {
    fn record(&mut self, stage: &'static str, ms: f64) {
        self.latency.entry(stage).or_default().push(ms);
    }

    /// The samples of one stage, oldest first.
    pub fn samples(&self, stage: &str) -> Vec<f64> {
        self.latency
            .get(stage)
            .map(Samples::values)
            .unwrap_or_default()
    }

    /// The report as JSON; latency percentiles only with `latency`.
    pub fn to_json(&self, latency: bool) -> Value {
        let r1 = |x: f64| (x * 10.0).round() / 10.0;
        let mut v = json!({
            "device": self.device,
            "format": self.format,
            "seconds": r1(self.seconds),
            "frames": {
                "captured": self.capture.frames,
                "processed": self.processed,
                "shown": self.shown,
                "corrupt_skipped": self.capture.corrupt,
            },
            "dropped": {
                "before_inference": self.dropped_before_inference,
                "before_display": self.dropped_before_display,
            },
            "camera": {
                "lost": self.capture.lost,
                "reconnects": self.capture.reconnects,
                "failed_reconnect_attempts": self.capture.failed_attempts,
            },
            "inference_errors": self.inference_errors,
            "display_errors": self.display_errors,
        });
        if let Some(sig) = self.stopped {
            v["stopped"] = json!(sig);
        }
        if latency {
            let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
            let lat: serde_json::Map<String, Value> = self
                .latency
                .iter()
                .map(|(k, s)| {
                    let v = s.values();
                    (
                        k.to_string(),
                        json!({
                            "p50": r3(percentile(&v, 0.5)),
                            "p95": r3(percentile(&v, 0.95)),
                            "p99": r3(percentile(&v, 0.99)),
                            "n": v.len(),
                        }),
                    )
                })
                .collect();
            v["latency_ms"] = Value::Object(lat);
        }
        v
    }

    /// One line for the periodic `--stats` log.
    pub fn line(&self) -> String {
        let p = |k: &str, q: f64| percentile(&self.samples(k), q);
        format!(
            "{:.0} s: {} captured, {} processed, {} shown; dropped {} before inference, {} \
             before display; {} corrupt; inference p50 {:.1} ms p95 {:.1} ms; frame age p50 \
             {:.1} ms p99 {:.1} ms",
            self.seconds,
            self.capture.frames,
            self.processed,
            self.shown,
            self.dropped_before_inference,
            self.dropped_before_display,
            self.capture.corrupt,
            p("inference", 0.5),
            p("inference", 0.95),
            p("age", 0.5),
            p("age", 0.99),
        )
    }
}

/// Shared state of one run.
struct Shared {
    frames: Latest<Captured>,
    results: Latest<Processed>,
    /// The notice shown while the camera is away.
    status: Mutex<Option<String>>,
    report: Mutex<LiveReport>,
    halt: AtomicBool,
}

fn capture_loop<D: CaptureDevice>(camera: &mut Camera<D>, sh: &Shared) {
    let device = camera.path().display().to_string();
    loop {
        match camera.next(&sh.halt) {
            CaptureEvent::Frame(c) => {
                lock(&sh.report).record("convert", c.convert_ms);
                sh.frames.put(c);
            }
            CaptureEvent::Corrupt(e) => {
                let n = camera.counters().corrupt;
                if n == 1 || n.is_multiple_of(100) {
                    crate::note!("emocue: skipped a corrupt frame from {device} ({e}); {n} so far");
                }
            }
            CaptureEvent::Lost { error, retry_in } => {
                crate::note!(
                    "emocue: {error}; first retry in {} ms",
                    retry_in.as_millis()
                );
                *lock(&sh.status) = Some("camera lost - reconnecting".into());
            }
            CaptureEvent::Retrying {
                error,
                attempt,
                retry_in,
            } => {
                crate::note!(
                    "emocue: reconnect attempt {attempt} failed: {error}; next in {} ms",
                    retry_in.as_millis()
                );
            }
            CaptureEvent::Reconnected(f) => {
                crate::note!("emocue: camera {device} is back: {f}");
                *lock(&sh.status) = None;
            }
            CaptureEvent::Stopped => break,
        }
        let c = camera.counters();
        let mut r = lock(&sh.report);
        r.capture = c;
        r.format = camera.format().to_string();
    }
    sh.frames.close();
}

fn inference_loop<I: Infer>(infer: &mut I, sh: &Shared) {
    while !sh.halt.load(Ordering::Relaxed) {
        let Some(captured) = sh.frames.take(Duration::from_millis(50)) else {
            if sh.frames.is_closed() {
                break;
            }
            continue;
        };
        let queue_ms = captured.at.elapsed().as_secs_f64() * 1000.0;
        let t0 = Instant::now();
        match infer.infer(&captured.frame) {
            Ok(result) => {
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                {
                    let mut r = lock(&sh.report);
                    r.processed += 1;
                    r.record("queue", queue_ms);
                    r.record("inference", ms);
                    r.record("detect", result.timing.detect_ms);
                    r.record("classify", result.timing.classify_ms);
                    r.record("track", result.timing.track_ms);
                }
                let notices = infer.notices(&result);
                sh.results.put(Processed {
                    captured,
                    result,
                    notices,
                });
            }
            Err(e) => {
                let n = {
                    let mut r = lock(&sh.report);
                    r.inference_errors += 1;
                    r.inference_errors
                };
                if n == 1 || n.is_multiple_of(100) {
                    crate::note!(
                        "emocue: inference failed on frame {} ({}); skipped, {n} so far",
                        captured.frame.index,
                        crate::diag::error_chain(&e)
                    );
                }
            }
        }
    }
    sh.results.close();
}

/// Draws on the caller's thread until `stop`, the deadline, or the end of results.
fn display_loop(display: &mut dyn Display, sh: &Shared, opts: &LiveOptions, stop: &AtomicBool) {
    let start = Instant::now();
    let mut last_stats = start;
    let mut last_frame: Option<Frame> = None;
    let mut last_banner = start;
    let enabled = std::cell::Cell::new(true);
    let show = |display: &mut dyn Display, frame: &Frame, mut scene: Scene| -> Option<f64> {
        if let Some(text) = lock(&sh.status).clone() {
            scene.notices.insert(
                0,
                Notice {
                    text,
                    color: Notice::ERROR,
                },
            );
        }
        if !enabled.get() {
            return None;
        }
        let t0 = Instant::now();
        match display.show(frame, &scene) {
            Ok(()) => Some(t0.elapsed().as_secs_f64() * 1000.0),
            Err(e) => {
                crate::note!(
                    "emocue: display failed ({}); continuing without overlay",
                    crate::diag::error_chain(&e)
                );
                lock(&sh.report).display_errors += 1;
                enabled.set(false);
                None
            }
        }
    };
    loop {
        let elapsed = start.elapsed();
        if stop.load(Ordering::Relaxed)
            || display.wants_quit()
            || opts.duration.is_some_and(|d| elapsed >= d)
        {
            break;
        }
        if let Some(every) = opts.stats_every {
            if last_stats.elapsed() >= every {
                last_stats = Instant::now();
                let mut r = lock(&sh.report);
                r.seconds = elapsed.as_secs_f64();
                crate::note!("emocue: {}", r.line());
            }
        }
        match sh.results.take(Duration::from_millis(50)) {
            Some(p) => {
                let scene = scene(&p.result, p.notices);
                let render_ms = show(display, &p.captured.frame, scene);
                let age = p.captured.at.elapsed().as_secs_f64() * 1000.0;
                let mut r = lock(&sh.report);
                r.shown += 1;
                r.record("age", age);
                if let Some(ms) = render_ms {
                    r.record("render", ms);
                }
                drop(r);
                last_frame = Some(p.captured.frame);
            }
            None if sh.results.is_closed() => break,
            None => {
                if enabled.get() {
                    if let Err(e) = display.idle() {
                        crate::note!(
                            "emocue: display failed ({}); continuing without overlay",
                            crate::diag::error_chain(&e)
                        );
                        lock(&sh.report).display_errors += 1;
                        enabled.set(false);
                    }
                }
                // The camera is away: keep the last picture with the banner on it.
                let down = lock(&sh.status).is_some();
                if down && last_banner.elapsed() >= opts.status_refresh {
                    last_banner = Instant::now();
                    let frame = last_frame
                        .clone()
                        .unwrap_or_else(|| Frame::new(0, 0.0, RgbImage::new(640, 480)));
                    show(display, &frame, Scene::default());
                }
            }
        }
    }
}

/// Runs the loop until `stop` is raised, `opts.duration` passes, or a stage ends.
/// Errors only when a stage thread panicked (a bug), never for camera faults.
pub fn run_live<D: CaptureDevice, I: Infer>(
    camera: &mut Camera<D>,
    infer: &mut I,
    display: &mut dyn Display,
    opts: &LiveOptions,
    stop: &AtomicBool,
) -> anyhow::Result<LiveReport> {
    let sh = Shared {
        frames: Latest::new(),
        results: Latest::new(),
        status: Mutex::new(None),
        report: Mutex::new(LiveReport {
            device: camera.path().display().to_string(),
            format: camera.format().to_string(),
            ..Default::default()
        }),
        halt: AtomicBool::new(false),
    };
    let start = Instant::now();
    let (cap, inf) = std::thread::scope(|s| {
        let cap = std::thread::Builder::new()
            .name("emocue-capture".into())
            .spawn_scoped(s, || capture_loop(camera, &sh));
        let inf = std::thread::Builder::new()
            .name("emocue-inference".into())
            .spawn_scoped(s, || inference_loop(infer, &sh));
        if cap.is_ok() && inf.is_ok() {
            display_loop(display, &sh, opts, stop);
        }
        sh.halt.store(true, Ordering::Relaxed);
        sh.frames.close();
        sh.results.close();
        let join = |h: std::io::Result<std::thread::ScopedJoinHandle<'_, ()>>| match h {
            Ok(h) => h.join().is_ok(),
            Err(_) => false,
        };
        (join(cap), join(inf))
    });
    if !cap || !inf {
        anyhow::bail!(
            "the {} thread failed (a bug: please report it with the log above)",
            if cap { "inference" } else { "capture" }
        );
    }
    let mut r = sh
        .report
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    r.seconds = start.elapsed().as_secs_f64();
    r.capture = camera.counters();
    r.format = camera.format().to_string();
    r.dropped_before_inference = sh.frames.overwritten();
    r.dropped_before_display = sh.results.overwritten();
    Ok(r)
}

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

/// A signal that asks emocue to stop cleanly at the next frame boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C.
    Int,
    /// `kill`, a supervisor (systemd, docker stop) ending the service.
    Term,
    /// The terminal closed (an ssh session dropped).
    Hup,
}

impl StopSignal {
    const ALL: [StopSignal; 3] = [StopSignal::Int, StopSignal::Term, StopSignal::Hup];

    /// The signal's number, to end the process by it.
    pub fn number(self) -> libc::c_int {
        match self {
            StopSignal::Int => libc::SIGINT,
            StopSignal::Term => libc::SIGTERM,
            StopSignal::Hup => libc::SIGHUP,
        }
    }

    /// Its name, for the summary's `stopped` key and the log.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Int => "SIGINT",
            StopSignal::Term => "SIGTERM",
            StopSignal::Hup => "SIGHUP",
        }
    }

    fn from_number(n: libc::c_int) -> Option<StopSignal> {
        StopSignal::ALL.into_iter().find(|s| s.number() == n)
    }
}

/// Raised by the first stop signal; every loop checks it between frames.
static STOP: AtomicBool = AtomicBool::new(false);
/// The first stop signal's number (0 until one came), so the exit can name it.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    // The first signal is recorded; a later one of another kind keeps the first name.
    let _ = STOP_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    if STOP.swap(true, Ordering::SeqCst) && sig == libc::SIGINT {
        // A second Ctrl-C: the user does not want to wait for the frame to finish.
        // Lines already written stay whole (each is one write); no summary.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
}

/// Makes SIGINT (Ctrl-C), SIGTERM and SIGHUP raise the returned flag instead of
/// killing the process, so `replay`, `run` and `record` stop at a frame boundary with
/// their output complete; [`stop_signal`] says which came. A signal the parent set to
/// be ignored (`nohup` ignores SIGHUP) stays ignored. A second Ctrl-C ends the process
/// at once (status 130); a second SIGTERM or SIGHUP does not, since supervisors send
/// SIGHUP right after SIGTERM.
pub fn stop_on_signal() -> &'static AtomicBool {
    let handler: extern "C" fn(libc::c_int) = on_stop_signal;
    for sig in StopSignal::ALL {
        // SAFETY: plain sigaction calls on zero-initialised structs; the handler only
        // touches atomics and calls _exit, which are async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig.number(), std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = handler as libc::sighandler_t;
            // SA_RESTART: a read or write in progress finishes instead of failing
            // with EINTR half-way through a frame or a line.
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig.number(), &act, std::ptr::null_mut());
        }
    }
    &STOP
}

/// The stop signal that came since [`stop_on_signal`], if any.
pub fn stop_signal() -> Option<StopSignal> {
    StopSignal::from_number(STOP_SIGNAL.load(Ordering::SeqCst))
}

/// Ends the process by `sig` with the signal's default action, once everything is
/// written: the parent sees a process stopped by that signal, as Unix tools are (a
/// shell reports 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP; systemd counts it a
/// clean stop; a shell script's loop stops on Ctrl-C).
pub fn exit_by_signal(sig: StopSignal) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let n = sig.number();
    // SAFETY: restoring the default action and raising the signal to ourselves.
    unsafe {
        libc::signal(n, libc::SIG_DFL);
        libc::raise(n);
    }
    // Only reached when the signal is blocked in this process.
    std::process::exit(128 + n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn latest_keeps_the_newest_and_counts_what_it_replaced() {
        let l = Latest::new();
        l.put(1);
        l.put(2);
        l.put(3);
        assert_eq!(l.take(Duration::ZERO), Some(3));
        assert_eq!(l.overwritten(), 2);
        assert_eq!(l.put_count(), 3);
        assert_eq!(l.take(Duration::from_millis(5)), None);
        l.put(4);
        assert_eq!(l.take(Duration::ZERO), Some(4));
        assert_eq!(l.overwritten(), 2);
    }

    #[test]
    fn close_wakes_a_waiting_reader_and_a_put_wakes_it_early() {
        let l = Arc::new(Latest::<u32>::new());
        let l2 = l.clone();
        let t = std::thread::spawn(move || {
            let t0 = Instant::now();
            let v = l2.take(Duration::from_secs(10));
            (v, t0.elapsed())
        });
        std::thread::sleep(Duration::from_millis(20));
        l.put(7);
        let (v, waited) = t.join().unwrap();
        assert_eq!(v, Some(7));
        assert!(waited < Duration::from_secs(5));
        let l2 = l.clone();
        let t = std::thread::spawn(move || l2.take(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        l.close();
        assert_eq!(t.join().unwrap(), None);
        assert!(l.is_closed());
    }

    #[test]
    fn stop_signals_have_their_names_and_numbers() {
        for s in StopSignal::ALL {
            assert_eq!(StopSignal::from_number(s.number()), Some(s));
        }
        assert_eq!(StopSignal::Term.name(), "SIGTERM");
        assert_eq!(StopSignal::from_number(libc::SIGKILL), None);
    }

    #[test]
    fn a_stopped_report_says_by_what() {
        let mut r = LiveReport::default();
        assert!(r.to_json(false).get("stopped").is_none());
        r.stopped = Some("SIGHUP");
        assert_eq!(r.to_json(false)["stopped"], "SIGHUP");
    }

    #[test]
    fn report_json_has_percentiles_only_when_asked() {
        let mut r = LiveReport::default();
        for i in 1..=100 {
            r.record("age", f64::from(i));
        }
        let v = r.to_json(true);
        assert_eq!(v["latency_ms"]["age"]["p50"], 50.0);
        assert_eq!(v["latency_ms"]["age"]["p99"], 99.0);
        assert!(r.to_json(false).get("latency_ms").is_none());
        assert!(r.line().contains("frame age p50 50.0 ms"));
    }
}
