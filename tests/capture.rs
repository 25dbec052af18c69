//! Camera capture without a camera: a fake device serving real YUYV/NV12/GREY/MJPEG
//! bytes made from the sample clip, unplugged, replugged, busy and corrupt.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::sample_frames;
use emocue::capture::fake::FakeCamera;
use emocue::capture::{
    Camera, CameraSettings, CaptureError, CaptureEvent, CaptureRequest, FormatInfo, PixelFormat,
    SizeInfo,
};
use emocue::source::{FrameSource, Y4mReader};
use image::RgbImage;

mod common;

const DEV: &str = "/dev/fake-video0";

fn settings() -> CameraSettings {
    CameraSettings {
        request: CaptureRequest {
            width: 320,
            height: 240,
            fps: 30.0,
        },
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        frame_timeout: Duration::from_millis(150),
        poll: Duration::from_millis(10),
    }
}

fn frame(ev: CaptureEvent) -> emocue::capture::Captured {
    match ev {
        CaptureEvent::Frame(c) => c,
        other => panic!("expected a frame, got {other:?}"),
    }
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn every_format_delivers_the_sample_frames_it_was_made_from() {
    let images = sample_frames(3);
    let stop = AtomicBool::new(false);
    for (pixel, tolerance) in [
        (PixelFormat::Yuyv, 2.0),
        (PixelFormat::Nv12, 3.0),
        (PixelFormat::Mjpeg, 4.0),
    ] {
        let fake = FakeCamera::new(Path::new(DEV), images.clone(), &[pixel], 200.0);
        let mut cam = Camera::open(fake, settings()).expect("open");
        assert_eq!(cam.format().pixel, pixel);
        assert_eq!((cam.format().width, cam.format().height), (320, 240));
        for (i, original) in images.iter().enumerate() {
            let c = frame(cam.next(&stop));
            assert_eq!(c.frame.index, i as u64);
            let d = mean_abs_diff(&c.frame.image, original);
            assert!(
                d < tolerance,
                "{pixel}: frame {i} differs by {d:.2} on average"
            );
        }
    }
    // GREY carries luma only: compare with the frames' luma.
    let fake = FakeCamera::new(Path::new(DEV), images.clone(), &[PixelFormat::Grey], 200.0);
    let mut cam = Camera::open(fake, settings()).expect("open");
    let c = frame(cam.next(&stop));
    let luma = emocue::Frame::new(0, 0.0, images[0].clone()).luma();
    let got: Vec<u8> = c.frame.image.pixels().map(|p| p[0]).collect();
    assert_eq!(got, luma.data);
}

#[test]
fn timestamps_follow_the_capture_clock() {
    let stop = AtomicBool::new(false);
    let fake = FakeCamera::new(Path::new(DEV), sample_frames(2), &[PixelFormat::Yuyv], 50.0);
    let mut cam = Camera::open(fake, settings()).expect("open");
    let t: Vec<f64> = (0..6)
        .map(|_| frame(cam.next(&stop)).frame.timestamp_ms)
        .collect();
    for w in t.windows(2) {
        assert!(w[1] > w[0], "{t:?}");
    }
    let per_frame = (t[5] - t[0]) / 5.0;
    assert!(
        per_frame > 10.0,
        "50 fps is 20 ms a frame, got {per_frame:.1}"
    );
}

#[test]
fn the_cheapest_offered_format_is_chosen() {
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(1),
        &[PixelFormat::Mjpeg, PixelFormat::Nv12, PixelFormat::Yuyv],
        30.0,
    );
    let cam = Camera::open(fake, settings()).expect("open");
    assert_eq!(cam.format().pixel, PixelFormat::Yuyv);
}

#[test]
fn unplug_and_replug_reconnects_with_exponential_backoff() {
    let stop = AtomicBool::new(false);
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(2),
        &[PixelFormat::Mjpeg],
        200.0,
    );
    let ctl = fake.control();
    // Gone after 4 frames; back on the third attempt to reopen it.
    ctl.unplug_after(4, 3);
    let mut cam = Camera::open(fake, settings()).expect("open");
    for _ in 0..4 {
        frame(cam.next(&stop));
    }
    let t0 = Instant::now();
    let mut delays = Vec::new();
    match cam.next(&stop) {
        CaptureEvent::Lost { error, retry_in } => {
            let msg = error.to_string();
            assert!(msg.contains(DEV) && msg.contains("reconnecting"), "{msg}");
            delays.push(retry_in);
        }
        other => panic!("expected the loss, got {other:?}"),
    }
    for want_attempt in 1..=2 {
        match cam.next(&stop) {
            CaptureEvent::Retrying {
                error,
                attempt,
                retry_in,
            } => {
                assert_eq!(attempt, want_attempt);
                assert!(matches!(error, CaptureError::NotFound { .. }), "{error}");
                delays.push(retry_in);
            }
            other => panic!("expected a failed attempt, got {other:?}"),
        }
    }
    assert_eq!(
        delays,
        [10, 20, 40].map(Duration::from_millis),
        "the wait doubles up to its cap"
    );
    assert!(matches!(cam.next(&stop), CaptureEvent::Reconnected(_)));
    assert!(t0.elapsed() >= Duration::from_millis(70));
    // Frames again, numbered on from before the unplug.
    let c = frame(cam.next(&stop));
    assert_eq!(c.frame.index, 4);
    let n = cam.counters();
    assert_eq!((n.lost, n.reconnects, n.failed_attempts), (1, 1, 2));
    assert_eq!(ctl.opens(), 2);
}

#[test]
fn a_replug_after_the_cap_keeps_retrying_at_the_cap() {
    let stop = AtomicBool::new(false);
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(1),
        &[PixelFormat::Yuyv],
        200.0,
    );
    let ctl = fake.control();
    let mut cam = Camera::open(fake, settings()).expect("open");
    frame(cam.next(&stop));
    ctl.unplug();
    assert!(matches!(cam.next(&stop), CaptureEvent::Lost { .. }));
    let mut last = Duration::ZERO;
    for _ in 0..5 {
        if let CaptureEvent::Retrying { retry_in, .. } = cam.next(&stop) {
            last = retry_in;
        }
    }
    assert_eq!(last, Duration::from_millis(40));
    ctl.replug();
    assert!(matches!(cam.next(&stop), CaptureEvent::Reconnected(_)));
    frame(cam.next(&stop));
}

#[test]
fn corrupt_mjpeg_frames_are_skipped_and_counted() {
    let stop = AtomicBool::new(false);
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(2),
        &[PixelFormat::Mjpeg],
        200.0,
    );
    let ctl = fake.control();
    let mut cam = Camera::open(fake, settings()).expect("open");
    frame(cam.next(&stop));
    ctl.corrupt_next(3);
    for _ in 0..3 {
        match cam.next(&stop) {
            CaptureEvent::Corrupt(e) => assert!(e.0.contains("truncated"), "{e}"),
            other => panic!("expected a skipped frame, got {other:?}"),
        }
    }
    let c = frame(cam.next(&stop));
    assert_eq!(c.frame.index, 1, "skipped buffers take no frame number");
    assert_eq!(cam.counters().corrupt, 3);
    assert_eq!(cam.counters().frames, 2);
    // Truncated raw frames are skipped too.
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(1),
        &[PixelFormat::Yuyv],
        200.0,
    );
    fake.control().corrupt_next(1);
    let mut cam = Camera::open(fake, settings()).expect("open");
    assert!(matches!(cam.next(&stop), CaptureEvent::Corrupt(_)));
    frame(cam.next(&stop));
}

#[test]
fn a_stalled_camera_is_treated_as_lost_and_reopened() {
    let stop = AtomicBool::new(false);
    // 2 fps: 500 ms between frames, longer than the 150 ms frame timeout.
    let fake = FakeCamera::new(Path::new(DEV), sample_frames(1), &[PixelFormat::Yuyv], 2.0);
    let mut cam = Camera::open(fake, settings()).expect("open");
    frame(cam.next(&stop));
    match cam.next(&stop) {
        CaptureEvent::Lost { error, .. } => {
            let msg = error.to_string();
            assert!(msg.contains("sent no frame for"), "{msg}");
        }
        other => panic!("expected a stall, got {other:?}"),
    }
    assert!(matches!(cam.next(&stop), CaptureEvent::Reconnected(_)));
}

#[test]
fn faults_at_open_name_the_device_and_the_fix() {
    let busy = FakeCamera::new(Path::new(DEV), sample_frames(1), &[PixelFormat::Yuyv], 30.0);
    busy.control().set_busy(true);
    let e = Camera::open(busy, settings()).err().expect("busy");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("{DEV} is busy")) && msg.contains("fuser"),
        "{msg}"
    );

    let gone = FakeCamera::new(Path::new(DEV), sample_frames(1), &[PixelFormat::Yuyv], 30.0);
    gone.control().unplug();
    let msg = Camera::open(gone, settings())
        .err()
        .expect("gone")
        .to_string();
    assert!(msg.contains(&format!("no camera at {DEV}")), "{msg}");

    let h264 = FormatInfo {
        fourcc: *b"H264",
        description: "H.264".into(),
        sizes: vec![SizeInfo {
            width: 320,
            height: 240,
            fps: vec![30.0],
        }],
        range: None,
    };
    let odd = FakeCamera::with_formats(Path::new(DEV), sample_frames(1), vec![h264], 30.0);
    let msg = Camera::open(odd, settings())
        .err()
        .expect("odd")
        .to_string();
    assert!(
        msg.contains(DEV) && msg.contains("offers H264") && msg.contains("GREY, YUYV, NV12"),
        "{msg}"
    );
}

#[test]
fn record_writes_a_clip_that_replays() {
    let dir = common::scratch("record");
    let out = dir.join("cam.y4m");
    let stop = AtomicBool::new(false);
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(3),
        &[PixelFormat::Mjpeg],
        50.0,
    );
    let mut cam = Camera::open(fake, settings()).expect("open");
    let r = emocue::capture::record(&mut cam, &out, 0.3, &stop).expect("record");
    assert!(r.lost.is_none());
    assert!(r.frames >= 5, "{} frames in 0.3 s at 50 fps", r.frames);
    let mut clip = Y4mReader::open(&out).expect("clip");
    assert_eq!(clip.size(), (320, 240));
    assert_eq!(clip.fps(), 50.0);
    let mut n = 0;
    while let Some(f) = clip.next_frame().expect("frame") {
        n += 1;
        if n == 1 {
            let d = mean_abs_diff(&f.image, &sample_frames(1)[0]);
            assert!(d < 6.0, "recorded frame differs by {d:.2}");
        }
    }
    assert_eq!(n, r.frames);
}

#[test]
fn record_ends_the_clip_when_the_camera_is_lost() {
    let dir = common::scratch("record-lost");
    let out = dir.join("cam.y4m");
    let stop = AtomicBool::new(false);
    let fake = FakeCamera::new(
        Path::new(DEV),
        sample_frames(1),
        &[PixelFormat::Yuyv],
        200.0,
    );
    fake.control().unplug_after(3, 100);
    let mut cam = Camera::open(fake, settings()).expect("open");
    let r = emocue::capture::record(&mut cam, &out, 5.0, &stop).expect("record");
    assert_eq!(r.frames, 3);
    assert!(r.lost.expect("lost").to_string().contains(DEV));
    let mut clip = Y4mReader::open(&out).expect("clip");
    let mut n = 0;
    while clip.next_frame().expect("frame").is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
}
