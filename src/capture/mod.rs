//! Live capture: a camera behind the [`CaptureDevice`] trait, so the code that
//! negotiates formats, converts pixels, counts corrupt frames and reconnects after an
//! unplug ([`Camera`]) is tested with a [`fake::FakeCamera`] on machines without one.
//!
//! [`v4l2::V4l2Device`] is the real device (Linux V4L2, mmap streaming). Threads live
//! elsewhere ([`crate::live`]): everything here is called from one thread.

mod camera;
pub mod convert;
pub mod fake;
mod negotiate;
mod record;
pub mod v4l2;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use camera::{Backoff, Camera, CameraSettings, CaptureCounters, CaptureEvent, Captured};
pub use convert::{
    ConvertError, rgb_to_grey, rgb_to_mjpeg, rgb_to_nv12, rgb_to_yuv, rgb_to_yuyv, to_rgb,
};
pub use negotiate::{Choice, negotiate};
pub use record::{RecordReport, record};

/// The pixel formats emocue reads, cheapest to convert first: when a camera offers
/// several at the size and rate asked for, the first one it offers wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PixelFormat {
    /// 8-bit luma only (IR and monochrome cameras).
    Grey,
    /// Packed 4:2:2 YCbCr, `Y0 U Y1 V`: what most USB cameras send uncompressed.
    Yuyv,
    /// Planar luma then interleaved CbCr at half resolution (SoC camera pipelines).
    Nv12,
    /// Motion JPEG: each frame a JPEG; needs a decode, but USB cameras reach their
    /// larger sizes and rates only with it.
    Mjpeg,
}

impl PixelFormat {
    /// Every format, in order of preference.
    pub const ALL: [PixelFormat; 4] = [
        PixelFormat::Grey,
        PixelFormat::Yuyv,
        PixelFormat::Nv12,
        PixelFormat::Mjpeg,
    ];

    /// The V4L2 four-character code.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            PixelFormat::Grey => *b"GREY",
            PixelFormat::Yuyv => *b"YUYV",
            PixelFormat::Nv12 => *b"NV12",
            PixelFormat::Mjpeg => *b"MJPG",
        }
    }

    /// The format a four-character code names, if emocue reads it.
    pub fn from_fourcc(code: &[u8; 4]) -> Option<PixelFormat> {
        PixelFormat::ALL.into_iter().find(|f| &f.fourcc() == code)
    }
}

impl std::fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&fourcc_str(&self.fourcc()))
    }
}

/// A four-character code as text, with unprintable bytes shown as `?`.
pub fn fourcc_str(code: &[u8; 4]) -> String {
    code.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// What to ask a camera for; negotiation takes the nearest mode it offers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CaptureRequest {
    /// Preferred width, pixels.
    pub width: u32,
    /// Preferred height, pixels.
    pub height: u32,
    /// Preferred frame rate, frames per second.
    pub fps: f64,
}

impl Default for CaptureRequest {
    fn default() -> Self {
        CaptureRequest {
            width: 640,
            height: 480,
            fps: 30.0,
        }
    }
}

/// The mode a camera streams in once opened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CaptureFormat {
    /// Pixel layout of each buffer.
    pub pixel: PixelFormat,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Bytes per row of the (first) plane; 0 when not meaningful (MJPEG).
    pub stride: u32,
    /// Frame rate, frames per second.
    pub fps: f64,
}

impl std::fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}x{} at {} fps",
            self.pixel,
            self.width,
            self.height,
            fmt_fps(self.fps)
        )
    }
}

/// A frame rate without needless decimals: `30`, `7.5`, `29.97`.
pub fn fmt_fps(fps: f64) -> String {
    let s = format!("{fps:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// One frame size a format offers and the rates it can run at there.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeInfo {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Frame rates, fastest first (empty when the driver does not say).
    pub fps: Vec<f64>,
}

/// One pixel format a camera offers.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatInfo {
    /// The V4L2 four-character code.
    pub fourcc: [u8; 4],
    /// The driver's description, e.g. "Motion-JPEG".
    pub description: String,
    /// Sizes, with rates. Stepwise ranges appear as their useful corners.
    pub sizes: Vec<SizeInfo>,
    /// The driver's range, for stepwise/continuous sizes (listing only).
    pub range: Option<String>,
}

/// What `emocue devices` shows about one `/dev/video*` node.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    /// The device node.
    pub path: PathBuf,
    /// The card name, e.g. "HD Pro Webcam C920".
    pub card: String,
    /// The kernel driver, e.g. "uvcvideo".
    pub driver: String,
    /// Where it is attached, e.g. "usb-0000:00:14.0-1".
    pub bus: String,
    /// A video capture node with streaming I/O (UVC cameras also create metadata nodes,
    /// which are not).
    pub is_capture: bool,
    /// Its capture formats.
    pub formats: Vec<FormatInfo>,
}

/// One captured buffer, borrowed from the device until the next read.
#[derive(Debug)]
pub struct RawFrame<'a> {
    /// The bytes the driver filled.
    pub data: &'a [u8],
    /// The driver marked the buffer as corrupted (`V4L2_BUF_FLAG_ERROR`).
    pub flagged_error: bool,
}

/// A camera: opened in a negotiated mode, read buffer by buffer, closed. The real one
/// is [`v4l2::V4l2Device`]; tests use [`fake::FakeCamera`].
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

/// The `[camera]` settings: which device and what mode to ask it for.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CameraOptions {
    /// Device node; `--device` overrides it.
    pub device: PathBuf,
    /// Preferred width, pixels.
    pub width: u32,
    /// Preferred height, pixels.
    pub height: u32,
    /// Preferred frame rate.
    pub fps: f64,
}

impl Default for CameraOptions {
    fn default() -> Self {
        let r = CaptureRequest::default();
        CameraOptions {
            device: PathBuf::from("/dev/video0"),
            width: r.width,
            height: r.height,
            fps: r.fps,
        }
    }
}

impl CameraOptions {
    /// Range checks for `check-config`: the first of [`CameraOptions::problems`].
    pub fn validate(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            Some(p) => Err(p),
            None => Ok(()),
        }
    }

    /// Every value outside its range, one message each, starting with the dotted
    /// key (the settings file points at its line). A size the camera cannot have
    /// or a rate of `nan` would otherwise fail only when the camera opens.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, v) in [("camera.width", self.width), ("camera.height", self.height)] {
            if !(16..=8192).contains(&v) {
                out.push(format!(
                    "{name} = {v} is outside [16, 8192] px; use a whole number from 16 to \
                     8192 px (the frame size to ask the camera for)"
                ));
            }
        }
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 1000.0) {
            out.push(format!(
                "camera.fps = {:?} is outside (0, 1000] frames/s; use a number above 0 and at \
                 most 1000 frames/s (the frame rate to ask the camera for)",
                self.fps
            ));
        }
        out
    }

    /// The mode to ask for.
    pub fn request(&self) -> CaptureRequest {
        CaptureRequest {
            width: self.width,
            height: self.height,
            fps: self.fps,
        }
    }
}

/// Lists `/dev/video*` nodes in numeric order (`video2` before `video10`).
pub fn video_nodes(dev: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<(u64, PathBuf)> = std::fs::read_dir(dev)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name();
                    let n = name.to_str()?.strip_prefix("video")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

/// `emocue devices`' text for one device, like `v4l2-ctl --list-formats-ext`, ending
/// with the mode emocue would choose for `request`.
pub fn describe_device(info: &DeviceInfo, request: &CaptureRequest) -> String {
    use std::fmt::Write;
    let mut s = format!("{}: {}", info.path.display(), info.card);
    let mut extra = vec![info.driver.clone()];
    if !info.bus.is_empty() {
        extra.push(info.bus.clone());
    }
    let _ = writeln!(s, " ({})", extra.join(", "));
    if !info.is_capture {
        s.push_str("  not a video capture node (metadata or output); not usable by emocue\n");
        return s;
    }
    for f in &info.formats {
        let note = if PixelFormat::from_fourcc(&f.fourcc).is_some() {
            ""
        } else {
            "  (not read by emocue)"
        };
        let _ = writeln!(s, "  '{}' {}{note}", fourcc_str(&f.fourcc), f.description);
        if let Some(r) = &f.range {
            let _ = writeln!(s, "      sizes {r}");
        }
        for z in &f.sizes {
            let rates = if z.fps.is_empty() {
                "rates not reported".to_owned()
            } else {
                let r: Vec<String> = z.fps.iter().map(|&x| fmt_fps(x)).collect();
                format!("{} fps", r.join(", "))
            };
            let _ = writeln!(s, "      {}x{}: {rates}", z.width, z.height);
        }
    }
    match negotiate(&info.formats, request) {
        Some(c) => {
            let _ = writeln!(
                s,
                "  emocue would use {} {}x{} at {} fps (asked for {}x{} at {} fps)",
                c.pixel,
                c.width,
                c.height,
                fmt_fps(c.fps),
                request.width,
                request.height,
                fmt_fps(request.fps)
            );
        }
        None => s.push_str("  no format emocue reads (GREY, YUYV, NV12, MJPEG)\n"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourccs_round_trip_and_print_safely() {
        for f in PixelFormat::ALL {
            assert_eq!(PixelFormat::from_fourcc(&f.fourcc()), Some(f));
        }
        assert_eq!(PixelFormat::from_fourcc(b"H264"), None);
        assert_eq!(fourcc_str(b"MJPG"), "MJPG");
        assert_eq!(fourcc_str(&[b'Y', 0, 0xff, b' ']), "Y??");
        assert_eq!(fmt_fps(30.0), "30");
        assert_eq!(fmt_fps(7.5), "7.5");
    }

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

    #[test]
    fn camera_options_are_range_checked() {
        assert!(CameraOptions::default().validate().is_ok());
        let bad = CameraOptions {
            width: 8,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("camera.width"));
        let bad = CameraOptions {
            fps: 0.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("camera.fps"));
    }

    #[test]
    fn the_camera_section_of_a_config_file_is_read_and_checked() {
        use crate::config::Config;
        let cfg = Config::parse(
            "[camera]\ndevice = \"/dev/video2\"\nfps = 15\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(cfg.camera.device, Path::new("/dev/video2"));
        assert_eq!(cfg.camera.request().fps, 15.0);
        assert_eq!(cfg.camera.width, 640);
        let e = Config::parse("[camera]\nfsp = 15\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().starts_with("c.toml:2:"), "{e}");
        let e = Config::parse("[camera]\nwidth = 4\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("camera.width"), "{e}");
    }

    #[test]
    fn device_listing_marks_unreadable_formats_and_the_choice() {
        let info = DeviceInfo {
            path: "/dev/video0".into(),
            card: "Test Cam".into(),
            driver: "uvcvideo".into(),
            bus: "usb-1".into(),
            is_capture: true,
            formats: vec![
                FormatInfo {
                    fourcc: *b"H264",
                    description: "H.264".into(),
                    sizes: vec![SizeInfo {
                        width: 1920,
                        height: 1080,
                        fps: vec![30.0],
                    }],
                    range: None,
                },
                FormatInfo {
                    fourcc: *b"YUYV",
                    description: "YUYV 4:2:2".into(),
                    sizes: vec![SizeInfo {
                        width: 640,
                        height: 480,
                        fps: vec![30.0, 15.0],
                    }],
                    range: None,
                },
            ],
        };
        let text = describe_device(&info, &CaptureRequest::default());
        assert!(text.starts_with("/dev/video0: Test Cam (uvcvideo, usb-1)"));
        assert!(
            text.contains("'H264' H.264  (not read by emocue)"),
            "{text}"
        );
        assert!(text.contains("640x480: 30, 15 fps"), "{text}");
        assert!(
            text.contains("emocue would use YUYV 640x480 at 30 fps"),
            "{text}"
        );
    }
}
