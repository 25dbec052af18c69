//! The three loops of a live run and the threads they run on: capture and inference
//! on their own threads, the display on the caller's; joined by [`Latest`] slots.
//! Every thread and channel of emocue is started here. The inference loop is
//! [`drive`], a replay's loop, with the slots wrapped as its frames and sink.

use std::borrow::Borrow;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use image::RgbImage;

use super::display::Display;
use super::report::LiveReport;
use super::slot::{Latest, lock};
use crate::Frame;
use crate::capture::{Camera, CaptureDevice, CaptureEvent, Captured};
pub use crate::drive::Infer;
use crate::drive::{Frames, Sink, drive};
use crate::pipeline::FrameResult;
use crate::render::{Notice, Scene};
use crate::session::scene;

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
    #[cfg(feature = "gpu")]
    pub window: Option<crate::render::window::WindowOptions>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            duration: None,
            stats_every: None,
            status_refresh: Duration::from_millis(200),
            #[cfg(feature = "gpu")]
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

/// The inference thread: [`drive`]'s loop, the same as a replay's, over the newest
/// captured frame and into the display slot.
fn inference_loop<I: Infer>(infer: &mut I, sh: &Shared) {
    if let Err(e) = drive(&mut Newest(sh), infer, &mut ToDisplay(sh), &|| None) {
        // Neither side fails (a failed frame is skipped), but say so if one ever does.
        crate::note!(
            "emocue: inference stopped: {}",
            crate::diag::error_chain(&e)
        );
    }
    sh.results.close();
}

/// A captured frame as inference takes it.
struct Taken {
    captured: Captured,
    /// Capture → inference start, ms.
    queue_ms: f64,
    started: Instant,
}

impl Borrow<Frame> for Taken {
    fn borrow(&self) -> &Frame {
        &self.captured.frame
    }
}

/// The capture slot as the driver's frames: the newest one, older ones dropped (and
/// counted by the slot), so inference never works on a stale frame. Ends on halt or
/// when capture has ended.
struct Newest<'a>(&'a Shared);

impl Frames for Newest<'_> {
    type Item = Taken;

    fn next(&mut self) -> anyhow::Result<Option<Taken>> {
        let sh = self.0;
        while !sh.halt.load(Ordering::Relaxed) {
            if let Some(captured) = sh.frames.take(Duration::from_millis(50)) {
                return Ok(Some(Taken {
                    queue_ms: captured.at.elapsed().as_secs_f64() * 1000.0,
                    started: Instant::now(),
                    captured,
                }));
            }
            if sh.frames.is_closed() {
                break;
            }
        }
        Ok(None)
    }
}

/// The display slot and the report as the driver's sink. A frame the pipeline fails
/// on is logged (the first, then every 100th), counted and skipped: live goes on.
struct ToDisplay<'a>(&'a Shared);

impl Sink<Taken> for ToDisplay<'_> {
    fn frame(&mut self, t: Taken, result: FrameResult, notices: Vec<Notice>) -> anyhow::Result<()> {
        let ms = t.started.elapsed().as_secs_f64() * 1000.0;
        {
            let mut r = lock(&self.0.report);
            r.processed += 1;
            r.record("queue", t.queue_ms);
            r.record("inference", ms);
            r.record("detect", result.timing.detect_ms);
            r.record("classify", result.timing.classify_ms);
            r.record("track", result.timing.track_ms);
        }
        self.0.results.put(Processed {
            captured: t.captured,
            result,
            notices,
        });
        Ok(())
    }

    fn failed(&mut self, t: Taken, e: anyhow::Error) -> anyhow::Result<()> {
        let n = {
            let mut r = lock(&self.0.report);
            r.inference_errors += 1;
            r.inference_errors
        };
        if n == 1 || n.is_multiple_of(100) {
            crate::note!(
                "emocue: inference failed on frame {} ({}); skipped, {n} so far",
                t.captured.frame.index,
                crate::diag::error_chain(&e)
            );
        }
        Ok(())
    }
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
        if let Some(every) = opts.stats_every
            && last_stats.elapsed() >= every
        {
            last_stats = Instant::now();
            let mut r = lock(&sh.report);
            r.seconds = elapsed.as_secs_f64();
            crate::note!("emocue: {}", r.line());
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
                if enabled.get()
                    && let Err(e) = display.idle()
                {
                    crate::note!(
                        "emocue: display failed ({}); continuing without overlay",
                        crate::diag::error_chain(&e)
                    );
                    lock(&sh.report).display_errors += 1;
                    enabled.set(false);
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
