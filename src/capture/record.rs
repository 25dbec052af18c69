//! `emocue record`: the one path that writes camera frames to disk, so replay tests and
//! bug reports can be made from a real camera. Nothing else in emocue stores a frame.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{Camera, CaptureDevice, CaptureError, CaptureEvent, CaptureFormat};
use crate::source::Y4mWriter;

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
}

/// Records `seconds` of frames from `camera` into a 4:2:0 Y4M clip at `out` (the frame
/// rate in its header is the camera's, rounded). A camera lost mid-way ends the clip
/// early rather than leaving a gap the clip's timing cannot show.
pub fn record<D: CaptureDevice>(
    camera: &mut Camera<D>,
    out: &Path,
    seconds: f64,
    stop: &AtomicBool,
) -> anyhow::Result<RecordReport> {
    let format = camera.format();
    let fps = format.fps.round().clamp(1.0, 1000.0) as u32;
    let mut clip = Y4mWriter::create(out, format.width, format.height, fps)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds.max(0.0));
    let corrupt_before = camera.counters().corrupt;
    let mut frames = 0;
    let mut lost = None;
    while Instant::now() < deadline {
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
            CaptureEvent::Reconnected(_) | CaptureEvent::Stopped => break,
        }
    }
    clip.finish()
        .with_context(|| format!("cannot finish {}", out.display()))?;
    Ok(RecordReport {
        frames,
        corrupt: camera.counters().corrupt - corrupt_before,
        seconds: start.elapsed().as_secs_f64(),
        format,
        lost,
    })
}
