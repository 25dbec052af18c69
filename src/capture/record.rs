//! `emocue record`: the one path that writes camera frames to disk, so replay tests and
//! bug reports can be made from a real camera. Nothing else in emocue stores a frame.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{Camera, CaptureDevice, CaptureError, CaptureEvent, CaptureFormat};
use crate::source::Y4mWriter;

/// The longest recording `record` accepts, seconds (one week): longer is a typo, and
/// a bounded length keeps the deadline arithmetic exact.
const MAX_RECORD_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// What a recording wrote and why it ended.
#[derive(Debug)]
pub struct RecordReport {
    /// Frames written.
    pub frames: u64,
    /// Corrupt buffers skipped (not written).
    pub corrupt: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The camera's mode.
    pub format: CaptureFormat,
    /// Set when the camera was lost before the time was up; the clip holds the frames
    /// before it.
    pub lost: Option<CaptureError>,
    /// True when the stop flag ended the recording early (Ctrl-C); the clip holds
    /// every frame up to then, complete.
    pub stopped: bool,
}

/// Records `seconds` of frames from `camera` into a 4:2:0 Y4M clip at `out` (the frame
/// rate in its header is the camera's, rounded). A camera lost mid-way ends the clip
/// early rather than leaving a gap the clip's timing cannot show; so does `stop`,
/// checked between frames, so the clip always ends on a whole frame and is flushed.
/// `seconds` must be positive and at most one week.
pub fn record<D: CaptureDevice>(
    camera: &mut Camera<D>,
    out: &Path,
    seconds: f64,
    stop: &AtomicBool,
) -> anyhow::Result<RecordReport> {
    let length = Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero() && d.as_secs_f64() <= MAX_RECORD_SECONDS)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot record {seconds} s into {}: the length must be more than 0 and at \
                 most {MAX_RECORD_SECONDS} s (one week); pass --seconds N",
                out.display()
            )
        })?;
    let format = camera.format();
    let fps = format.fps.round().clamp(1.0, 1000.0) as u32;
    let mut clip = Y4mWriter::create(out, format.width, format.height, fps)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let start = Instant::now();
    // A deadline past the clock's range cannot be reached: no deadline.
    let deadline = start.checked_add(length);
    let corrupt_before = camera.counters().corrupt;
    let mut frames = 0;
    let mut lost = None;
    let mut stopped = false;
    while deadline.is_none_or(|d| Instant::now() < d) {
        match camera.next(stop) {
            CaptureEvent::Frame(c) => {
                if c.frame.image.dimensions() != (format.width, format.height) {
                    break;
                }
                clip.write(&c.frame.image)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                frames += 1;
            }
            CaptureEvent::Corrupt(_) => {}
            CaptureEvent::Lost { error, .. } | CaptureEvent::Retrying { error, .. } => {
                lost = Some(error);
                break;
            }
            CaptureEvent::Stopped => {
                stopped = true;
                break;
            }
            CaptureEvent::Reconnected(_) => break,
        }
    }
    clip.finish()
        .with_context(|| format!("cannot finish {}", out.display()))?;
    Ok(RecordReport {
        frames,
        corrupt: camera.counters().corrupt.saturating_sub(corrupt_before),
        seconds: start.elapsed().as_secs_f64(),
        format,
        lost,
        stopped,
    })
}
