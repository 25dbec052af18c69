//! What a camera offers and delivers: pixel formats, modes, device descriptions and
//! raw buffers, as plain data.

use std::path::PathBuf;

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
}
