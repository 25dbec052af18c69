//! The one interface a camera implements, so everything above it runs on a fake.

use std::path::Path;
use std::time::Duration;

use super::{CaptureError, CaptureFormat, CaptureRequest, RawFrame};

/// A camera: opened in a negotiated mode, read buffer by buffer, closed. The real one
/// is [`super::v4l2::V4l2Device`]; tests use [`super::fake::FakeCamera`].
pub trait CaptureDevice: Send {
    /// The device node, for messages.
    fn path(&self) -> &Path;
    /// Opens the device, negotiates the mode nearest `request` and starts streaming.
    fn open(&mut self, request: &CaptureRequest) -> Result<CaptureFormat, CaptureError>;
    /// Waits up to `timeout` for the next buffer ([`CaptureError::Timeout`] if none).
    fn read(&mut self, timeout: Duration) -> Result<RawFrame<'_>, CaptureError>;
    /// Stops streaming and releases the device; harmless when already closed.
    fn close(&mut self);
}
