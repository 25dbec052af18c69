//! The real-time loop on a fake camera: a slow stage drops frames instead of adding
//! delay, an unplug shows a banner and recovers, the real pipeline finds the sample's
//! face; and the camera commands fail clearly without a camera.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use emocue::Frame;
use emocue::capture::fake::FakeCamera;
use emocue::capture::{Camera, CameraSettings, CaptureRequest, PixelFormat};
use emocue::live::{Display, Infer, LiveOptions, NoDisplay, run_live};
use emocue::pipeline::{FrameResult, StageTiming};
use emocue::render::Scene;

mod common;
use common::*;

const DEV: &str = "/dev/fake-video0";

fn settings() -> CameraSettings {
    CameraSettings {
        request: CaptureRequest {
            width: 320,
            height: 240,
            fps: 30.0,
        },
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(80),
        frame_timeout: Duration::from_millis(500),
        poll: Duration::from_millis(10),
    }
}

/// An inference stage that takes `delay` per frame and finds nothing.
struct Slow(Duration);

impl Infer for Slow {
    fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult> {
        std::thread::sleep(self.0);
        Ok(FrameResult {
            index: frame.index,
            timestamp_ms: frame.timestamp_ms,
            faces: Vec::new(),
            timing: StageTiming::default(),
        })
    }
}

/// What a display was asked to show: frame index, (track id, caption) per face, and
/// the notices across the top.
type Shown = (u64, Vec<(u64, Option<String>)>, Vec<String>);

/// A display that takes `delay` per frame and remembers what it was asked to show.
#[derive(Default)]
struct Recorder {
    delay: Duration,
    shown: Vec<Shown>,
}

impl Display for Recorder {
    fn show(&mut self, frame: &Frame, scene: &Scene) -> anyhow::Result<()> {
        std::thread::sleep(self.delay);
        self.shown.push((
            frame.index,
            scene
                .faces
                .iter()
                .map(|f| (f.track_id, f.caption.clone()))
                .collect(),
            scene.notices.iter().map(|n| n.text.clone()).collect(),
        ));
        Ok(())
    }

    fn describe(&self) -> String {
        "recorder".into()
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn for_secs(s: f64) -> LiveOptions {
    LiveOptions {
        duration: Some(Duration::from_secs_f64(s)),
        ..Default::default()
    }
}

#[test]
fn a_slow_inference_stage_drops_frames_instead_of_adding_delay() {
    // 200 fps in, 25 fps of inference: a queue would age by ~35 ms every frame.
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(2),
        &[PixelFormat::Yuyv],
        200.0,
    );
    let mut cam = Camera::open(fake, settings()).expect("open");
    let stop = AtomicBool::new(false);
    let r = run_live(
        &mut cam,
        &mut Slow(Duration::from_millis(40)),
        &mut NoDisplay,
        &for_secs(1.5),
        &stop,
    )
    .expect("loop");
    assert!(r.processed >= 10, "{}", r.line());
    assert!(r.capture.frames > 2 * r.processed, "{}", r.line());
    assert!(r.dropped_before_inference > r.processed, "{}", r.line());
    // Every processed frame was the newest: it waited less than one camera frame
    // plus scheduling noise, and the age at display stays bounded instead of growing.
    let queue = r.samples("queue");
    let age = r.samples("age");
    assert!(age.len() >= 10);
    let max_age = age.iter().copied().fold(0.0, f64::max);
    assert!(
        max_age < 400.0,
        "frame age reached {max_age:.0} ms: {age:?}"
    );
    let (early, late) = (mean(&age[..5]), mean(&age[age.len() - 5..]));
    assert!(
        late < early + 100.0,
        "age grows: early {early:.0} ms, late {late:.0} ms"
    );
    assert!(mean(&queue) < 60.0, "queue wait {:.0} ms", mean(&queue));
    let json = r.to_json(true);
    assert!(json["latency_ms"]["age"]["p99"].as_f64().is_some());
    assert_eq!(
        json["dropped"]["before_inference"],
        r.dropped_before_inference
    );
}

/// Fails on every other frame it is given.
struct Flaky(u64);

impl Infer for Flaky {
    fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult> {
        self.0 += 1;
        anyhow::ensure!(self.0.is_multiple_of(2), "flaky on frame {}", frame.index);
        Slow(Duration::from_millis(5)).infer(frame)
    }
}

#[test]
fn a_frame_inference_fails_on_is_counted_and_skipped_and_live_goes_on() {
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(2),
        &[PixelFormat::Yuyv],
        100.0,
    );
    let mut cam = Camera::open(fake, settings()).expect("open");
    let mut display = Recorder::default();
    let stop = AtomicBool::new(false);
    let r = run_live(&mut cam, &mut Flaky(0), &mut display, &for_secs(0.8), &stop).expect("loop");
    assert!(r.inference_errors >= 5, "{}", r.line());
    assert!(r.processed >= 5, "{}", r.line());
    assert!(
        r.processed.abs_diff(r.inference_errors) <= 1,
        "{}",
        r.line()
    );
    assert_eq!(r.shown as usize, display.shown.len());
    assert!(r.shown > 0 && r.shown <= r.processed, "{}", r.line());
}

#[test]
fn a_slow_display_drops_results_not_time() {
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(2),
        &[PixelFormat::Yuyv],
        100.0,
    );
    let mut cam = Camera::open(fake, settings()).expect("open");
    let mut display = Recorder {
        delay: Duration::from_millis(50),
        ..Default::default()
    };
    let stop = AtomicBool::new(false);
    let r = run_live(
        &mut cam,
        &mut Slow(Duration::from_millis(5)),
        &mut display,
        &for_secs(1.2),
        &stop,
    )
    .expect("loop");
    assert!(r.dropped_before_display > 0, "{}", r.line());
    assert_eq!(r.shown as usize, display.shown.len());
    let age = r.samples("age");
    let max_age = age.iter().copied().fold(0.0, f64::max);
    assert!(max_age < 400.0, "frame age reached {max_age:.0} ms");
    // Frames are shown in order, skipping some.
    let idx: Vec<u64> = display.shown.iter().map(|s| s.0).collect();
    assert!(idx.windows(2).all(|w| w[1] > w[0]), "{idx:?}");
    assert!(idx.windows(2).any(|w| w[1] > w[0] + 1), "{idx:?}");
}

#[test]
fn an_unplug_shows_a_banner_and_the_loop_recovers() {
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(2),
        &[PixelFormat::Mjpeg],
        100.0,
    );
    let ctl = fake.control();
    // Gone after 20 frames (~0.2 s), back on the 4th attempt (20+40+80 ms later).
    ctl.unplug_after(20, 4);
    let mut cam = Camera::open(fake, settings()).expect("open");
    let mut display = Recorder::default();
    let stop = AtomicBool::new(false);
    let opts = LiveOptions {
        duration: Some(Duration::from_millis(1200)),
        status_refresh: Duration::from_millis(20),
        ..Default::default()
    };
    let r = run_live(
        &mut cam,
        &mut Slow(Duration::from_millis(2)),
        &mut display,
        &opts,
        &stop,
    )
    .expect("loop");
    assert_eq!(
        (r.capture.lost, r.capture.reconnects),
        (1, 1),
        "{}",
        r.line()
    );
    assert_eq!(r.capture.failed_attempts, 3);
    let banner = |s: &Shown| s.2.iter().any(|n| n == "camera lost - reconnecting");
    let first_banner = display
        .shown
        .iter()
        .position(banner)
        .expect("the overlay says the camera is lost");
    let after = &display.shown[first_banner..];
    let back = after
        .iter()
        .position(|s| !banner(s))
        .expect("the banner goes away when the camera is back");
    assert!(
        after[back].0 >= 20,
        "frames after the replug continue the numbering"
    );
    assert!(ctl.opens() == 2);
}

#[test]
fn the_real_pipeline_captions_the_sample_face_from_a_fake_camera() {
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(8),
        &[PixelFormat::Mjpeg],
        15.0,
    );
    let mut cam = Camera::open(fake, settings()).expect("open");
    let mut pipeline =
        emocue::session::Session::new(emocue::config::Config::default()).expect("models");
    let mut display = Recorder::default();
    let stop = AtomicBool::new(false);
    // A caption is shown once the face has been seen for min_visible_ms (300 ms of
    // camera time). Runs of 3 s until 5 frames are through and a caption is up: one
    // run natively, several under QEMU.
    let captions = |d: &Recorder| -> Vec<String> {
        d.shown
            .iter()
            .flat_map(|s| s.1.iter().filter_map(|(_, c)| c.clone()))
            .collect()
    };
    let mut processed = 0;
    for _ in 0..20 {
        let r =
            run_live(&mut cam, &mut pipeline, &mut display, &for_secs(3.0), &stop).expect("loop");
        assert_eq!(r.samples("detect").len() as u64, r.processed);
        processed += r.processed;
        if processed >= 5 && !captions(&display).is_empty() {
            break;
        }
    }
    assert!(processed >= 5, "{processed} frames processed");
    assert!(
        display.shown.iter().any(|s| !s.1.is_empty()),
        "the astronaut's face is tracked"
    );
    let captions = captions(&display);
    assert!(
        !captions.is_empty() && captions.iter().all(|c| !c.trim().is_empty()),
        "the tracked face gets a caption: {captions:?}"
    );
}

#[test]
fn the_overlay_renders_offscreen_on_the_callers_thread() {
    use emocue::render::{OverlayOptions, RenderError, RenderMode, Renderer};
    let renderer = match Renderer::new(OverlayOptions::default(), RenderMode::Passthrough) {
        Ok(r) => r,
        Err(RenderError::NoAdapter(why)) => {
            skip(
                "the_overlay_renders_offscreen",
                "gpu",
                &format!("no wgpu adapter (install mesa-vulkan-drivers): {why}"),
            );
            return;
        }
        Err(e) => panic!("the_overlay_renders_offscreen: {e}"),
    };
    let fake = FakeCamera::new(Path::new(DEV), sample_frames(2), &[PixelFormat::Yuyv], 60.0);
    fake.control().unplug_after(10, 2);
    let mut cam = Camera::open(fake, settings()).expect("open");
    let mut display = emocue::live::OffscreenDisplay::new(renderer);
    let stop = AtomicBool::new(false);
    let r = run_live(
        &mut cam,
        &mut Slow(Duration::from_millis(1)),
        &mut display,
        &for_secs(1.0),
        &stop,
    )
    .expect("loop");
    assert!(r.shown > 5, "{}", r.line());
    assert_eq!(r.display_errors, 0);
    assert!(r.samples("render").len() as u64 >= r.shown);
}

#[test]
fn camera_commands_without_a_camera_fail_clearly() {
    for cmd in [
        vec!["run", "--help"],
        vec!["devices", "--help"],
        vec!["record", "--help"],
    ] {
        let out = emocue(&cmd);
        assert!(out.status.success(), "{cmd:?}");
    }
    let out = emocue(&["run", "--device", "/dev/emocue-missing7", "--seconds", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no camera at /dev/emocue-missing7") && err.contains("emocue devices"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let dir = scratch("record-cli");
    let clip = dir.join("x.y4m");
    let out = emocue(&[
        "record",
        "--device",
        "/dev/emocue-missing7",
        "--out",
        clip.to_str().unwrap(),
        "--seconds",
        "1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("no camera at /dev/emocue-missing7"), "{err}");
    assert!(!clip.exists(), "nothing is written without a camera");
    let out = emocue(&["record", "--out", "x.y4m", "--seconds", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("positive number of seconds"));
    // A regular file is not a camera.
    let out = emocue(&["run", "--device", "Cargo.toml", "--seconds", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("Cargo.toml"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn devices_lists_cameras_or_says_there_are_none() {
    let out = emocue(&["devices"]);
    assert!(out.status.success());
    let have = !emocue::capture::video_nodes(Path::new("/dev")).is_empty();
    let err = String::from_utf8_lossy(&out.stderr);
    if have {
        assert!(String::from_utf8_lossy(&out.stdout).contains("/dev/video"));
    } else {
        assert!(err.contains("no cameras found"), "{err}");
        assert!(out.stdout.is_empty());
    }
}
