//! emocue: facial-expression captions for head-mounted displays.
//!
//! One frame travels through small stages, each a plain type testable alone:
//!
//! [`source`] (camera, Y4M, images) → [`detect`] (BlazeFace) → [`crop`] (framing that
//! matches the classifier's training crops) → [`classify`] (EmotionNet Nano-B) →
//! [`track`] (stable ids) → [`smooth`] (temporal smoothing, hysteresis, `unsure`) →
//! captions. [`pipeline`] wires the stages for one frame; [`replay`] drives it over a
//! recorded clip and writes [`events`].

pub mod bench;
pub mod classify;
pub mod config;
pub mod crop;
pub mod detect;
pub mod events;
pub mod frame;
pub mod onnx;
pub mod pipeline;
pub mod render;
pub mod replay;
pub mod smooth;
pub mod source;
pub mod stats;
pub mod track;

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
