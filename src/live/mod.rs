//! The real-time loop: capture, inference and display on their own threads, joined by
//! latest-value slots ([`Latest`]), so a slow stage drops frames instead of adding
//! delay. Every thread and channel of emocue lives in [`threads`].
//!
//! ```text
//! capture thread ──Latest<Captured>──▶ inference thread ──Latest<Processed>──▶ display (caller's thread)
//! ```
//!
//! The inference thread runs [`crate::drive::drive`], the loop a replay runs, with
//! the two slots as its frames and its sink.
//!
//! The display runs on the calling thread because windowing systems want their event
//! loop on the main thread: a window ([`WindowDisplay`]), offscreen rendering
//! ([`OffscreenDisplay`], which measures the same GPU work without a screen) or none.
//!
//! One file per job: [`slot`] (the latest-value slot), [`threads`] (the loops),
//! [`display`] (window, offscreen, none), [`report`] (what a run did), [`signal`]
//! (stopping on SIGINT/SIGTERM/SIGHUP), `camera` (`emocue run` with a camera: the
//! pieces put together).

#[cfg(feature = "gpu")]
mod camera;
pub mod display;
pub mod report;
pub mod signal;
pub mod slot;
pub mod threads;

#[cfg(feature = "gpu")]
pub use camera::run_camera;
pub use display::{Display, NoDisplay};
#[cfg(feature = "gpu")]
pub use display::{OffscreenDisplay, WindowDisplay};
pub use report::{LiveReport, Samples};
pub use signal::{StopSignal, exit_by_signal, stop_on_signal, stop_signal};
pub use slot::Latest;
pub use threads::{Infer, LiveOptions, run_live};
