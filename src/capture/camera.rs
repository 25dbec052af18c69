//! A [`CaptureDevice`] made dependable: buffers become timestamped RGB frames, corrupt
//! buffers are skipped and counted, and a camera that disappears is reopened with
//! exponential backoff until it returns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{
    CaptureDevice, CaptureError, CaptureFormat, CaptureRequest, ConvertError, grey_luma, to_rgb,
};
use crate::Frame;

/// Waits between reconnection attempts: `initial`, doubled after each failure up to
/// `max`, back to `initial` once the camera streams again. Short enough to notice a
/// replugged camera quickly, long enough not to spin on a missing one.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    attempts: u32,
}

impl Backoff {
    /// A backoff starting at `initial`, never above `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
            attempts: 0,
        }
    }

    /// The wait before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        self.attempts += 1;
        d
    }

    /// Attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.next = self.initial;
        self.attempts = 0;
    }
}

/// How a [`Camera`] asks for frames and how patient it is.
#[derive(Clone, Debug)]
pub struct CameraSettings {
    /// The mode to negotiate.
    pub request: CaptureRequest,
    /// First wait before reopening a lost camera.
    pub backoff_initial: Duration,
    /// Longest wait between reopening attempts.
    pub backoff_max: Duration,
    /// A camera silent this long is treated as lost (stalled USB, firmware hang).
    pub frame_timeout: Duration,
    /// Longest a single wait blocks, so a stop request is noticed promptly.
    pub poll: Duration,
}

impl Default for CameraSettings {
    fn default() -> Self {
        CameraSettings {
            request: CaptureRequest::default(),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(5),
            frame_timeout: Duration::from_secs(3),
            poll: Duration::from_millis(100),
        }
    }
}

/// Running totals, for `--stats` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureCounters {
    /// Frames delivered.
    pub frames: u64,
    /// Buffers skipped because they could not be decoded.
    pub corrupt: u64,
    /// Times the camera was lost mid-stream.
    pub lost: u64,
    /// Times it was reopened after a loss.
    pub reconnects: u64,
    /// Failed reopening attempts.
    pub failed_attempts: u64,
}

/// A frame and when it left the driver.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The frame; its timestamp is ms since the camera was first opened.
    pub frame: Frame,
    /// When the buffer was dequeued (before conversion).
    pub at: Instant,
    /// Time spent converting the buffer to RGB, ms.
    pub convert_ms: f64,
}

/// What happened on one call to [`Camera::next`].
#[derive(Debug)]
pub enum CaptureEvent {
    /// A frame.
    Frame(Captured),
    /// A buffer was skipped (counted in [`CaptureCounters::corrupt`]).
    Corrupt(ConvertError),
    /// The camera stopped; it will be reopened after `retry_in`.
    Lost {
        /// Why.
        error: CaptureError,
        /// Wait before the first reopening attempt.
        retry_in: Duration,
    },
    /// Reopening failed; the next attempt is after `retry_in`.
    Retrying {
        /// Why it failed.
        error: CaptureError,
        /// Failed attempts since the loss.
        attempt: u32,
        /// Wait before the next one.
        retry_in: Duration,
    },
    /// The camera streams again, in this mode.
    Reconnected(CaptureFormat),
    /// The stop flag was raised.
    Stopped,
}

enum State {
    Streaming { last_buffer: Instant },
    Down { retry_at: Instant },
}

/// A camera that delivers frames and survives being unplugged.
pub struct Camera<D: CaptureDevice> {
    device: D,
    settings: CameraSettings,
    format: CaptureFormat,
    state: State,
    backoff: Backoff,
    counters: CaptureCounters,
    clock: Instant,
    next_index: u64,
    failed_in_row: u32,
}

impl<D: CaptureDevice> Camera<D> {
    /// Opens the device. Failing here is final (wrong device, busy, no usable format):
    /// the caller reports it; only later losses are retried.
    pub fn open(mut device: D, settings: CameraSettings) -> Result<Self, CaptureError> {
        let format = device.open(&settings.request)?;
        let now = Instant::now();
        Ok(Camera {
            device,
            backoff: Backoff::new(settings.backoff_initial, settings.backoff_max),
            settings,
            format,
            state: State::Streaming { last_buffer: now },
            counters: CaptureCounters::default(),
            clock: now,
            next_index: 0,
            failed_in_row: 0,
        })
    }

    /// The mode it streams in (the latest, after a reconnect).
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Totals so far.
    pub fn counters(&self) -> CaptureCounters {
        self.counters
    }

    /// The device node.
    pub fn path(&self) -> &std::path::Path {
        self.device.path()
    }

    /// The device, for tests that steer a fake one.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// Blocks until something happens: a frame, a skipped buffer, a loss, a
    /// reconnection step, or `stop`.
    pub fn next(&mut self, stop: &AtomicBool) -> CaptureEvent {
        loop {
            if stop.load(Ordering::Relaxed) {
                return CaptureEvent::Stopped;
            }
            match self.state {
                State::Down { retry_at } => {
                    let now = Instant::now();
                    if now < retry_at {
                        std::thread::sleep((retry_at - now).min(self.settings.poll));
                        continue;
                    }
                    return self.reopen();
                }
                State::Streaming { last_buffer } => {
                    if let Some(ev) = self.read(last_buffer) {
                        return ev;
                    }
                }
            }
        }
    }

    fn reopen(&mut self) -> CaptureEvent {
        match self.device.open(&self.settings.request) {
            Ok(format) => {
                self.format = format;
                self.backoff.reset();
                self.failed_in_row = 0;
                self.counters.reconnects += 1;
                self.state = State::Streaming {
                    last_buffer: Instant::now(),
                };
                CaptureEvent::Reconnected(format)
            }
            Err(error) => {
                self.counters.failed_attempts += 1;
                self.failed_in_row += 1;
                let retry_in = self.backoff.next_delay();
                self.state = State::Down {
                    retry_at: Instant::now() + retry_in,
                };
                CaptureEvent::Retrying {
                    error,
                    attempt: self.failed_in_row,
                    retry_in,
                }
            }
        }
    }

    /// One wait for a buffer; `None` when it timed out but the camera is not yet
    /// considered stalled.
    fn read(&mut self, last_buffer: Instant) -> Option<CaptureEvent> {
        let raw = match self.device.read(self.settings.poll) {
            Ok(raw) => raw,
            Err(CaptureError::Timeout { .. }) => {
                let waited = last_buffer.elapsed();
                if waited < self.settings.frame_timeout {
                    return None;
                }
                let device = self.device.path().to_owned();
                return Some(self.lose(CaptureError::Timeout { device, waited }));
            }
            Err(e) => return Some(self.lose(e)),
        };
        let at = Instant::now();
        self.state = State::Streaming { last_buffer: at };
        let converted = if raw.flagged_error {
            Err(ConvertError(
                "the driver flagged the buffer as corrupted".into(),
            ))
        } else if raw.data.is_empty() {
            Err(ConvertError("the driver delivered an empty buffer".into()))
        } else {
            to_rgb(&self.format, raw.data)
        };
        let luma = match &converted {
            Ok(_) => grey_luma(&self.format, raw.data),
            Err(_) => None,
        };
        Some(match converted {
            Ok(image) => {
                let mut frame = Frame::new(
                    self.next_index,
                    (at - self.clock).as_secs_f64() * 1000.0,
                    image,
                );
                if let Some(l) = luma {
                    frame = frame.with_luma(l);
                }
                self.next_index += 1;
                self.counters.frames += 1;
                CaptureEvent::Frame(Captured {
                    frame,
                    at,
                    convert_ms: at.elapsed().as_secs_f64() * 1000.0,
                })
            }
            Err(e) => {
                self.counters.corrupt += 1;
                CaptureEvent::Corrupt(e)
            }
        })
    }

    fn lose(&mut self, error: CaptureError) -> CaptureEvent {
        self.device.close();
        self.counters.lost += 1;
        self.backoff.reset();
        self.failed_in_row = 0;
        let retry_in = self.backoff.next_delay();
        self.state = State::Down {
            retry_at: Instant::now() + retry_in,
        };
        CaptureEvent::Lost { error, retry_in }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(700));
        let got: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 700, 700]);
        assert_eq!(b.attempts(), 5);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }
}
