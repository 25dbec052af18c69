//! emocue: facial-expression captions for head-mounted displays.
//!
//! One frame travels through small stages, each a plain type testable alone:
//!
//! [`source`] (camera, Y4M, images) → [`detect`] (BlazeFace) → [`crop`] (framing that
//! matches the classifier's training crops) → [`classify`] (EmotionNet Nano-B) →
//! [`track`] (stable ids) → [`speech`] and [`quality`] (a talking face, a poor view:
//! more confidence needed) → [`smooth`] (temporal smoothing, hysteresis, `unsure`) →
//! captions. [`pipeline`] wires the stages for one frame ([`still`] reads a photo, which
//! has no next frame to smooth over); [`drive`] is the one loop that runs it over
//! frames: [`replay`] over a recorded clip, writing [`events`], and [`live`] over a
//! V4L2 camera ([`capture`]), with capture, inference and the overlay on their own
//! threads. Captions are worded
//! by a [`profile`] that clinicians edit (checked by [`check`], reloaded live through
//! [`watch`] by a [`session`], which hands the pipeline plain [`caption`] wording).
//! The [`render`] overlay draws what the session makes of a result.
//!
//! The modules form a one-way stack (frame types, sources, vision stages, settings,
//! render, app), checked by `tests/layers.rs`; docs/architecture.md draws it and says
//! where new code goes.

/// `eprintln!` that never panics: a note on a closed or full stderr is dropped (a
/// pipeline `2>&1 | head` closes it), because a log line must never take a wearer's
/// captions down.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[cfg(feature = "gpu")]
pub mod bench;
pub mod caption;
pub mod capture;
pub mod check;
pub mod classify;
pub mod cnn_ext;
pub mod color;
pub mod config;
pub mod config_file;
pub mod crop;
pub mod detect;
pub mod diag;
pub mod drive;
pub mod events;
pub mod font;
pub mod frame;
pub mod live;
pub mod onnx;
pub mod pipeline;
pub mod profile;
pub mod qconv;
pub mod qdq;
pub mod quality;
pub mod render;
pub mod replay;
pub mod schedule;
pub mod session;
pub mod smooth;
pub mod source;
pub mod speech;
pub mod stats;
pub mod still;
pub mod style;
pub mod track;
pub mod watch;

pub use frame::Frame;

/// Finds a file that ships with emocue (`models/...`, `samples/...`): relative to the
/// working directory first, then to the source tree it was built from.
pub fn bundled_path(rel: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(rel);
    if p.exists() || p.is_absolute() {
        return p.to_owned();
    }
    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if built.exists() { built } else { p.to_owned() }
}
