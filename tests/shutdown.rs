//! Issue 21, process behaviour: a stop signal (SIGINT, SIGTERM, SIGHUP) ends `replay`
//! at a frame boundary with every event line whole and the summary written; `record`
//! stopped mid-way leaves a whole clip; absurd durations are refused at parse time;
//! a closed stdout ends quietly with status 0 and a full disk is an error naming the
//! output, never a panic.

use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use emocue::capture::fake::FakeCamera;
use emocue::capture::{Camera, CameraSettings, CaptureRequest, PixelFormat};
use emocue::source::{FrameSource, Y4mReader, Y4mWriter};

mod common;
use common::*;

/// Frames in the long clip: far more than a replay gets through before the signal.
const LONG_FRAMES: usize = 1500;

/// A 1,500-frame 96x72 Y4M clip of the sample, looped (made once per test run).
fn long_clip() -> &'static Path {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let dir = scratch("shutdown-clip");
        let path = dir.join("long.y4m");
        let frames: Vec<image::RgbImage> = sample_frames(60)
            .iter()
            .map(|f| image::imageops::resize(f, 96, 72, image::imageops::FilterType::Triangle))
            .collect();
        let mut w = Y4mWriter::create(&path, 96, 72, 25).expect("create clip");
        for i in 0..LONG_FRAMES {
            w.write(&frames[i % frames.len()]).expect("write frame");
        }
        w.finish().expect("finish clip");
        path
    })
}

/// Waits for `child` to end, killing it after `limit`.
fn wait_for(mut child: Child, limit: Duration) -> Output {
    let t0 = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "emocue did not stop within {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Starts a replay of the long clip, waits until event lines reach the file, sends
/// `sig`, and checks the stop: ended by that signal, whole lines, one per summarised
/// frame, a summary naming the signal.
fn replay_stopped_by(sig: libc::c_int, name: &str) {
    let clip = long_clip();
    let dir = scratch(&format!("shutdown-{name}"));
    let events = dir.join("events.jsonl");
    let mut child = emocue_command(&[
        "replay",
        clip.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--summary",
    ]);
    // A test run started by `nohup` or in the background of a script inherits SIGHUP
    // or SIGINT as ignored, and emocue rightly keeps an ignored signal ignored: give
    // the child the default dispositions a terminal session has.
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        child.pre_exec(|| {
            for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(s, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let child = child
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn emocue");
    // The events file is buffered: its first bytes come after a few dozen frames.
    let t0 = Instant::now();
    while std::fs::metadata(&events).map_or(0, |m| m.len()) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no event lines after 120 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
    let out = wait_for(child, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        (out.status.signal(), out.status.code()),
        (Some(sig), None),
        "emocue ends by the signal it was stopped with: {err}"
    );
    assert!(err.contains(&format!("stopped by {name}")), "{err}");

    let text = std::fs::read_to_string(&events).expect("events file");
    assert!(text.ends_with('\n'), "the events file ends on a whole line");
    let lines = json_lines(&text);
    for (i, e) in lines.iter().enumerate() {
        assert_eq!(e["frame"], i as u64, "frames in order, none lost");
    }
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "summary JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(summary["stopped"], name, "{summary}");
    assert_eq!(
        summary["frames"],
        lines.len() as u64,
        "every summarised frame has its line: {summary}"
    );
    assert!(
        lines.len() < LONG_FRAMES,
        "the replay stopped early ({} frames)",
        lines.len()
    );
}

#[test]
fn sigint_stops_a_replay_with_whole_lines_and_a_summary() {
    replay_stopped_by(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_stops_a_replay_with_whole_lines_and_a_summary() {
    replay_stopped_by(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sighup_stops_a_replay_with_whole_lines_and_a_summary() {
    replay_stopped_by(libc::SIGHUP, "SIGHUP");
}

#[test]
fn a_stop_check_ends_replay_at_a_frame_boundary() {
    let mut pipeline =
        emocue::session::Session::new(emocue::config::Config::default()).expect("models");
    let mut src = emocue::source::open(&root().join("samples/astronaut"), 15.0).expect("sample");
    let mut events = Vec::new();
    let seen = std::cell::Cell::new(0u32);
    let stop = || (seen.get() >= 7).then(|| "test".to_string());
    let sum = emocue::replay::replay_until(
        &mut pipeline,
        src.as_mut(),
        Some(&mut events),
        false,
        &mut |_, _, _| {
            seen.set(seen.get() + 1);
            Ok(())
        },
        &stop,
    )
    .expect("replay");
    assert_eq!(sum.frames, 7);
    assert_eq!(sum.stopped.as_deref(), Some("test"));
    assert_eq!(sum.to_json(false)["stopped"], "test");
    let text = String::from_utf8(events).unwrap();
    assert_eq!(json_lines(&text).len(), 7);
    assert!(text.ends_with('\n'));
    // A replay that plays to the end says nothing about stopping.
    let mut src = emocue::source::open(&root().join("samples/astronaut"), 15.0).expect("sample");
    let sum = emocue::replay::replay(&mut pipeline, src.as_mut(), None, false).expect("replay");
    assert_eq!(sum.frames, 60);
    assert!(sum.to_json(false).get("stopped").is_none());
}

fn camera_settings() -> CameraSettings {
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

#[test]
fn record_stopped_mid_way_leaves_a_whole_clip() {
    let dir = scratch("shutdown-record");
    let out = dir.join("cam.y4m");
    let fake = FakeCamera::new(
        Path::new("/dev/fake-video0"),
        sample_frames(3),
        &[PixelFormat::Yuyv],
        100.0,
    );
    let ctl = fake.control();
    let mut cam = Camera::open(fake, camera_settings()).expect("open");
    let stop = AtomicBool::new(false);
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            // Ctrl-C after a dozen frames, as the signal handler would raise it.
            while ctl.served() < 12 {
                std::thread::sleep(Duration::from_millis(2));
            }
            stop.store(true, Ordering::Relaxed);
        });
        emocue::capture::record(&mut cam, &out, 60.0, &stop).expect("record")
    });
    assert!(r.stopped, "{r:?}");
    assert!(r.lost.is_none());
    assert!(
        (12..600).contains(&r.frames),
        "{} frames before the stop",
        r.frames
    );
    // Header, then whole frames only: FRAME\n and 4:2:0 planes.
    let header = "YUV4MPEG2 W320 H240 F100:1 Ip A1:1 C420jpeg\n".len() as u64;
    let frame = 6 + 320 * 240 * 3 / 2;
    let len = std::fs::metadata(&out).expect("clip").len();
    assert_eq!(len, header + r.frames * frame, "whole frames, flushed");
    let mut clip = Y4mReader::open(&out).expect("clip");
    let mut n = 0;
    while clip.next_frame().expect("frame").is_some() {
        n += 1;
    }
    assert_eq!(n, r.frames);
}

#[test]
fn record_refuses_a_length_beyond_a_week_without_panicking() {
    let dir = scratch("shutdown-record-long");
    let out = dir.join("cam.y4m");
    let fake = FakeCamera::new(
        Path::new("/dev/fake-video0"),
        sample_frames(1),
        &[PixelFormat::Yuyv],
        100.0,
    );
    let mut cam = Camera::open(fake, camera_settings()).expect("open");
    let stop = AtomicBool::new(false);
    for secs in [1e308, f64::INFINITY, f64::NAN, -1.0, 0.0, 604_801.0] {
        let e = emocue::capture::record(&mut cam, &out, secs, &stop)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("one week") && e.contains("--seconds"), "{e}");
    }
}

#[test]
fn absurd_durations_are_refused_at_parse_time() {
    let cases: &[&[&str]] = &[
        &["run", "--seconds", "1e308"],
        &["run", "--seconds", "inf"],
        &["run", "--seconds", "nan"],
        &["run", "--seconds=-1"],
        &["run", "--seconds", "604801"],
        &["record", "--out", "x.y4m", "--seconds", "1e308"],
        &["record", "--out", "x.y4m", "--seconds", "nan"],
        &["bench", "--seconds", "1e308"],
        &["bench", "--seconds=-3"],
        &["bench", "--soak", "--minutes", "1e308"],
        &["bench", "--soak", "--fps", "0"],
    ];
    for args in cases {
        let out = emocue(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.contains("is not a positive number of"),
            "{args:?}: {err}"
        );
        assert!(err.contains("up to"), "{args:?}: the limit is said: {err}");
    }
    let out = emocue(&["run", "--seconds", "1e308"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("604800") && err.contains("one week"), "{err}");
    assert!(!Path::new("x.y4m").exists() && !root().join("x.y4m").exists());
}

/// Commands that write to stdout, each writing at least one line.
fn stdout_writers() -> Vec<Vec<&'static str>> {
    vec![
        vec!["check-config", "config/default.toml"],
        vec!["replay", "samples/astronaut", "--fps", "15", "--summary"],
        vec!["replay", "samples/astronaut", "--fps", "15"],
        vec![
            "replay",
            "samples/astronaut",
            "--fps",
            "15",
            "--events",
            "-",
        ],
        vec![
            "classify",
            "--one-look",
            "--json",
            "samples/astronaut/frame_000.jpg",
        ],
        vec!["classify", "--one-look", "samples/astronaut/frame_000.jpg"],
    ]
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_0() {
    for args in stdout_writers() {
        // The reader is gone before emocue starts: its first write gets EPIPE.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = emocue_command(&args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .expect("run emocue");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: quiet: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn a_full_disk_is_an_error_naming_the_output_not_a_panic() {
    if !Path::new("/dev/full").exists() {
        skip("a_full_disk_is_an_error", "dev-full", "no /dev/full");
        return;
    }
    let full = || {
        File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full")
    };
    for args in stdout_writers() {
        let out = emocue_command(&args)
            .stdout(Stdio::from(full()))
            .stderr(Stdio::piped())
            .output()
            .expect("run emocue");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("cannot write to standard output") && err.contains("No space left"),
            "{args:?}: {err}"
        );
    }
    // An events file on a full disk names the file.
    let out = emocue(&[
        "replay",
        "samples/astronaut",
        "--fps",
        "15",
        "--events",
        "/dev/full",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot write to /dev/full") && err.contains("No space left"),
        "{err}"
    );
}
