//! Why a camera cannot be used, with the fix in every message.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a camera cannot be used or stopped delivering. Every message names the device
/// and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// No device node, or the device is gone.
    #[error(
        "no camera at {}: plug one in, or choose another with --device \
         (`emocue devices` lists them)",
        .device.display()
    )]
    NotFound {
        /// The device node.
        device: PathBuf,
    },
    /// Another program is streaming from the camera.
    #[error(
        "{} is busy: another program (a browser, a video call, another emocue) is using the \
         camera; close it (`fuser -v {}` shows which) and try again",
        .device.display(), .device.display()
    )]
    Busy {
        /// The device node.
        device: PathBuf,
    },
    /// The user may not open the device node.
    #[error(
        "permission denied opening {}: add yourself to the video group \
         (sudo usermod -aG video $USER, then log in again)",
        .device.display()
    )]
    Permission {
        /// The device node.
        device: PathBuf,
    },
    /// The node exists but does not capture video (e.g. a UVC metadata node).
    #[error(
        "{} ({what}) is not a video capture device; cameras often have a second node for \
         metadata: choose another with --device (`emocue devices` lists them)",
        .device.display()
    )]
    NotCapture {
        /// The device node.
        device: PathBuf,
        /// The card name and what it lacks.
        what: String,
    },
    /// The camera offers no format emocue reads.
    #[error(
        "{} offers no format emocue reads (it offers {offered}); emocue reads GREY, YUYV, \
         NV12 and MJPEG: choose another camera with --device (`emocue devices` lists them)",
        .device.display()
    )]
    Unsupported {
        /// The device node.
        device: PathBuf,
        /// The formats it offers.
        offered: String,
    },
    /// The camera stopped mid-stream: unplugged, or its connection broke.
    #[error(
        "{} stopped delivering frames ({source}): unplugged or disconnected; \
         reconnecting when it returns",
        .device.display()
    )]
    Lost {
        /// The device node.
        device: PathBuf,
        /// What the driver said.
        source: std::io::Error,
    },
    /// No buffer arrived in time.
    #[error(
        "{} sent no frame for {} ms (is the lens covered by a privacy shutter, or the \
         camera stalled?)",
        .device.display(), .waited.as_millis()
    )]
    Timeout {
        /// The device node.
        device: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// Another driver error during `op`.
    #[error("{}: {op} failed: {source}", .device.display())]
    Io {
        /// The device node.
        device: PathBuf,
        /// The operation, e.g. "set format".
        op: &'static str,
        /// The driver's error.
        source: std::io::Error,
    },
    /// The driver answered something the V4L2 bindings could not handle.
    #[error(
        "{}: the driver returned something the v4l crate cannot handle during {op} ({what}); \
         try another format or camera",
        .device.display()
    )]
    Driver {
        /// The device node.
        device: PathBuf,
        /// The operation.
        op: &'static str,
        /// The bindings' complaint.
        what: String,
    },
}

impl CaptureError {
    /// Classifies a driver error by its errno, so the message can give the fix.
    pub fn from_io(device: &Path, op: &'static str, e: std::io::Error) -> CaptureError {
        let device = device.to_owned();
        match e.raw_os_error() {
            Some(libc::ENOENT) => CaptureError::NotFound { device },
            Some(libc::EBUSY) => CaptureError::Busy { device },
            Some(libc::EACCES) | Some(libc::EPERM) => CaptureError::Permission { device },
            Some(libc::ENODEV) | Some(libc::ENXIO) | Some(libc::EIO) | Some(libc::EPIPE) => {
                CaptureError::Lost { device, source: e }
            }
            _ if e.kind() == std::io::ErrorKind::TimedOut => CaptureError::Timeout {
                device,
                waited: Duration::ZERO,
            },
            _ => CaptureError::Io {
                device,
                op,
                source: e,
            },
        }
    }

    /// True when the camera may come back by itself (unplug, busy, stall), so a
    /// running loop should retry rather than give up.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CaptureError::NotFound { .. }
                | CaptureError::Busy { .. }
                | CaptureError::Lost { .. }
                | CaptureError::Timeout { .. }
                | CaptureError::Io { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_picks_the_message_with_the_fix() {
        let dev = Path::new("/dev/video7");
        let e = |n| CaptureError::from_io(dev, "open", std::io::Error::from_raw_os_error(n));
        assert!(matches!(e(libc::EBUSY), CaptureError::Busy { .. }));
        assert!(matches!(e(libc::ENOENT), CaptureError::NotFound { .. }));
        assert!(matches!(e(libc::EACCES), CaptureError::Permission { .. }));
        assert!(matches!(e(libc::ENODEV), CaptureError::Lost { .. }));
        let busy = e(libc::EBUSY).to_string();
        assert!(
            busy.contains("/dev/video7 is busy") && busy.contains("fuser"),
            "{busy}"
        );
        let gone = e(libc::ENOENT).to_string();
        assert!(gone.contains("/dev/video7") && gone.contains("emocue devices"));
    }
}
