//! `--window`: the overlay in a real winit window, on a virtual X server (Xvfb) with
//! Mesa's software Vulkan. Skips with a message when Xvfb or a Vulkan adapter is
//! missing (CI installs both); the "no display" error is tested everywhere.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emocue::render::window::{Window, WindowOptions};
use emocue::render::{OverlayOptions, RenderMode, Scene};
use image::{Rgb, RgbImage};

/// A running Xvfb on its own display number, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM, so Xvfb removes its lock file and socket
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Starts Xvfb on a display number it picks itself (`-displayfd`), so stale sockets
/// and parallel runs never collide.
fn xvfb(test: &str) -> Option<Xvfb> {
    use std::io::BufRead;
    let child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        common::skip(test, "x11", "Xvfb not installed (apt-get install xvfb)");
        return None;
    };
    let mut line = String::new();
    let stdout = child.stdout.take()?;
    let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    let number = line.trim();
    if number.is_empty() {
        common::skip(test, "x11", "Xvfb did not start");
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    Some(Xvfb {
        display: format!(":{number}"),
        child,
    })
}

fn emocue_on(display: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emocue"));
    cmd.args(args)
        .current_dir(common::root())
        .env_remove("WAYLAND_DISPLAY");
    match display {
        Some(d) => cmd.env("DISPLAY", d),
        None => cmd.env_remove("DISPLAY"),
    };
    cmd.output().expect("run emocue")
}

fn no_adapter(stderr: &str) -> bool {
    stderr.contains("no wgpu adapter") || stderr.contains("surface is not supported")
}

#[test]
fn without_a_display_session_window_says_what_to_do() {
    let out = emocue_on(
        None,
        &["replay", "samples/astronaut", "--window", "--summary"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot open a window"), "{err}");
    assert!(err.contains("--render DIR"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn replay_plays_the_sample_clip_in_a_window_and_a_wrong_monitor_lists_the_real_ones() {
    let Some(x) = xvfb("window replay") else {
        return;
    };
    let t0 = Instant::now();
    let out = emocue_on(
        Some(&x.display),
        &[
            "replay",
            "samples/astronaut",
            "--fps",
            "15",
            "--window",
            "--summary",
            "--no-timing",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    if no_adapter(&err) {
        common::skip(
            "window replay",
            "gpu",
            &format!("no adapter for the window: {err}"),
        );
        return;
    }
    assert!(out.status.success(), "{err}");
    assert!(err.contains("window on"), "{err}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary json");
    assert_eq!(summary["frames"], 60, "{summary}");
    // 60 frames at 15 fps are paced to the clip's own time, about 4 s
    assert!(
        t0.elapsed() >= Duration::from_millis(3800),
        "{:?}",
        t0.elapsed()
    );

    let out = emocue_on(
        Some(&x.display),
        &["replay", "samples/astronaut", "--window", "--monitor", "5"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("there is no monitor 5; monitors: 0:"), "{err}");
}

#[test]
fn the_window_follows_a_resize_and_keeps_drawing() {
    let Some(x) = xvfb("window resize") else {
        return;
    };
    // SAFETY: set before any thread of this test reads the environment; the only
    // other test touching DISPLAY runs emocue in child processes with their own env.
    unsafe { std::env::set_var("DISPLAY", &x.display) };
    let mut w = match Window::open(
        WindowOptions::default(),
        OverlayOptions::default(),
        RenderMode::Passthrough,
    ) {
        Ok(w) => w,
        Err(e) if no_adapter(&e.to_string()) => {
            common::skip(
                "window resize",
                "gpu",
                &format!("no adapter for the window: {e}"),
            );
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let frame = RgbImage::from_pixel(640, 480, Rgb([40, 80, 120]));
    w.show(&frame, &Scene::default()).expect("first picture");
    w.request_size(900, 500);
    let t0 = Instant::now();
    while w.size() != (900, 500) && t0.elapsed() < Duration::from_secs(5) {
        w.idle(Duration::from_millis(20)).expect("idle redraw");
    }
    assert_eq!(w.size(), (900, 500));
    w.show(&frame, &Scene::default())
        .expect("picture after resize");
    assert!(!w.wants_quit());
}
