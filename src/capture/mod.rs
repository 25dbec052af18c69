//! Live capture: a camera behind the [`CaptureDevice`] trait, so the code that
//! negotiates formats, converts pixels, counts corrupt frames and reconnects after an
//! unplug ([`Camera`]) is tested with a [`fake::FakeCamera`] on machines without one.
//!
//! [`v4l2::V4l2Device`] is the real device (Linux V4L2, mmap streaming). Threads live
//! elsewhere ([`crate::live`]): everything here is called from one thread.

mod camera;
pub mod convert;
mod device;
mod devices;
mod error;
pub mod fake;
mod negotiate;
mod record;
mod settings;
mod types;
pub mod v4l2;

pub use camera::{Backoff, Camera, CameraSettings, CaptureCounters, CaptureEvent, Captured};
pub use convert::{
    ConvertError, grey_luma, rgb_to_grey, rgb_to_mjpeg, rgb_to_nv12, rgb_to_yuv, rgb_to_yuyv,
    to_rgb,
};
pub use device::CaptureDevice;
pub use devices::{describe_device, video_nodes};
pub use error::CaptureError;
pub use negotiate::{Choice, negotiate};
pub use record::{RecordReport, record};
pub use settings::CameraOptions;
pub use types::{
    CaptureFormat, CaptureRequest, DeviceInfo, FormatInfo, PixelFormat, RawFrame, SizeInfo,
    fmt_fps, fourcc_str,
};
