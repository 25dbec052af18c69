//! The real camera: Linux V4L2 through the `v4l` crate, mmap streaming.
//!
//! The `v4l` crate panics on some driver answers it does not expect (an unknown
//! colour space, a non-UTF-8 card name, a failing STREAMOFF after an unplug); every
//! call into it is guarded so that becomes a [`CaptureError::Driver`] message instead
//! of a crash.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use v4l::buffer::{Flags as BufferFlags, Type};
use v4l::capability::Flags as CapFlags;
use v4l::device::Device;
use v4l::format::FourCC;
use v4l::fraction::Fraction;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::video::capture::Parameters;

use super::{
    CaptureDevice, CaptureError, CaptureFormat, CaptureRequest, DeviceInfo, FormatInfo,
    PixelFormat, RawFrame, SizeInfo, fourcc_str, negotiate,
};

/// Buffers in flight: enough to absorb scheduling jitter, few enough that a frame is
/// never more than a few periods old when dequeued.
const BUFFERS: u32 = 3;

/// Runs `f`, turning both its error and a panic inside the `v4l` crate into a
/// [`CaptureError`] naming `device` and `op`.
fn guard<T>(
    device: &Path,
    op: &'static str,
    f: impl FnOnce() -> std::io::Result<T>,
) -> Result<T, CaptureError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(CaptureError::from_io(device, op, e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".into());
            Err(CaptureError::Driver {
                device: device.to_owned(),
                op,
                what,
            })
        }
    }
}

/// Frames per second of a V4L2 frame interval (seconds per frame).
fn fps_of(f: Fraction) -> Option<f64> {
    (f.numerator > 0 && f.denominator > 0)
        .then(|| f64::from(f.denominator) / f64::from(f.numerator))
}

/// A frame interval for `fps`, exact for integer and common NTSC rates.
fn interval_for(fps: f64) -> Fraction {
    if (fps - fps.round()).abs() < 1e-6 {
        Fraction::new(1, fps.round().max(1.0) as u32)
    } else {
        Fraction::new(1000, (fps * 1000.0).round().max(1.0) as u32)
    }
}

/// Snaps `v` into a stepwise range.
fn snap(v: u32, min: u32, max: u32, step: u32) -> u32 {
    let v = v.clamp(min, max.max(min));
    let step = step.max(1);
    min + (v - min) / step * step
}

fn rates(dev: &Device, fourcc: FourCC, w: u32, h: u32) -> Vec<f64> {
    let Ok(list) = dev.enum_frameintervals(fourcc, w, h) else {
        return Vec::new();
    };
    let mut fps: Vec<f64> = list
        .into_iter()
        .flat_map(|i| match i.interval {
            FrameIntervalEnum::Discrete(f) => vec![fps_of(f)],
            // Fastest and slowest; the driver picks the nearest rate when asked.
            FrameIntervalEnum::Stepwise(s) => vec![fps_of(s.min), fps_of(s.max)],
        })
        .flatten()
        .collect();
    fps.sort_by(|a, b| b.total_cmp(a));
    fps.dedup_by(|a, b| (*a - *b).abs() < 1e-3);
    fps
}

/// Formats, sizes and rates of an open device. Stepwise size ranges are represented by
/// their smallest and largest sizes and the request snapped into the range.
fn formats(dev: &Device, request: &CaptureRequest) -> std::io::Result<Vec<FormatInfo>> {
    let mut out = Vec::new();
    for desc in dev.enum_formats()? {
        let fourcc = desc.fourcc;
        let mut sizes = Vec::new();
        let mut range = None;
        for fs in dev.enum_framesizes(fourcc).unwrap_or_default() {
            match fs.size {
                FrameSizeEnum::Discrete(d) => sizes.push((d.width, d.height)),
                FrameSizeEnum::Stepwise(s) => {
                    range = Some(s.to_string());
                    sizes.push((s.min_width, s.min_height));
                    sizes.push((
                        snap(request.width, s.min_width, s.max_width, s.step_width),
                        snap(request.height, s.min_height, s.max_height, s.step_height),
                    ));
                    sizes.push((s.max_width, s.max_height));
                }
            }
        }
        sizes.dedup();
        out.push(FormatInfo {
            fourcc: fourcc.repr,
            description: desc.description,
            sizes: sizes
                .into_iter()
                .map(|(width, height)| SizeInfo {
                    width,
                    height,
                    fps: rates(dev, fourcc, width, height),
                })
                .collect(),
            range,
        });
    }
    Ok(out)
}

/// Opens a node and reads its identity and formats (for `emocue devices`).
pub fn query(path: &Path, request: &CaptureRequest) -> Result<DeviceInfo, CaptureError> {
    let dev = guard(path, "open", || Device::with_path(path))?;
    let caps = guard(path, "query capabilities", || dev.query_caps())?;
    let is_capture = caps
        .capabilities
        .contains(CapFlags::VIDEO_CAPTURE | CapFlags::STREAMING);
    let formats = if is_capture {
        guard(path, "list formats", || formats(&dev, request))?
    } else {
        Vec::new()
    };
    Ok(DeviceInfo {
        path: path.to_owned(),
        card: caps.card,
        driver: caps.driver,
        bus: caps.bus,
        is_capture,
        formats,
    })
}

/// A V4L2 camera node.
pub struct V4l2Device {
    path: PathBuf,
    // Dropped in this order: the stream (STREAMOFF, unmap) before the device (close).
    stream: Option<Stream<'static>>,
    device: Option<Device>,
}

impl V4l2Device {
    /// A device at `path`, not yet opened.
    pub fn new(path: &Path) -> Self {
        V4l2Device {
            path: path.to_owned(),
            stream: None,
            device: None,
        }
    }

    fn negotiate_and_stream(
        &mut self,
        request: &CaptureRequest,
    ) -> Result<CaptureFormat, CaptureError> {
        let path = self.path.clone();
        let p = path.as_path();
        let dev = guard(p, "open", || Device::with_path(p))?;
        let caps = guard(p, "query capabilities", || dev.query_caps())?;
        if !caps
            .capabilities
            .contains(CapFlags::VIDEO_CAPTURE | CapFlags::STREAMING)
        {
            return Err(CaptureError::NotCapture {
                device: path,
                what: format!("{}, {}", caps.card, caps.driver),
            });
        }
        let offered = guard(p, "list formats", || formats(&dev, request))?;
        let Some(choice) = negotiate(&offered, request) else {
            let names: Vec<String> = offered.iter().map(|f| fourcc_str(&f.fourcc)).collect();
            return Err(CaptureError::Unsupported {
                device: path,
                offered: if names.is_empty() {
                    "nothing".into()
                } else {
                    names.join(", ")
                },
            });
        };
        let mut fmt = guard(p, "get format", || dev.format())?;
        fmt.width = choice.width;
        fmt.height = choice.height;
        fmt.fourcc = FourCC::new(&choice.pixel.fourcc());
        let got = guard(p, "set format", || dev.set_format(&fmt))?;
        let Some(pixel) = PixelFormat::from_fourcc(&got.fourcc.repr) else {
            return Err(CaptureError::Unsupported {
                device: path,
                offered: format!(
                    "{} after asking for {}",
                    fourcc_str(&got.fourcc.repr),
                    choice.pixel
                ),
            });
        };
        // Not every driver lets the rate be set; then it runs at its own.
        let params = guard(p, "set frame rate", || {
            dev.set_params(&Parameters::new(interval_for(choice.fps)))
        })
        .ok()
        .or_else(|| guard(p, "get frame rate", || dev.params()).ok());
        let fps = params
            .and_then(|pr| fps_of(pr.interval))
            .unwrap_or(choice.fps);
        let stream = guard(p, "map buffers", || {
            Stream::with_buffers(&dev, Type::VideoCapture, BUFFERS)
        })?;
        self.stream = Some(stream);
        self.device = Some(dev);
        Ok(CaptureFormat {
            pixel,
            width: got.width,
            height: got.height,
            stride: got.stride,
            fps,
        })
    }
}

impl CaptureDevice for V4l2Device {
    fn path(&self) -> &Path {
        &self.path
    }

    fn open(&mut self, request: &CaptureRequest) -> Result<CaptureFormat, CaptureError> {
        self.close();
        let r = self.negotiate_and_stream(request);
        if r.is_err() {
            self.close();
        }
        r
    }

    fn read(&mut self, timeout: Duration) -> Result<RawFrame<'_>, CaptureError> {
        let path = self.path.as_path();
        let Some(stream) = self.stream.as_mut() else {
            return Err(CaptureError::NotFound {
                device: path.to_owned(),
            });
        };
        stream.set_timeout(timeout.max(Duration::from_millis(1)));
        let r = guard(path, "read frame", || {
            CaptureStream::next(stream).map(|(buf, meta)| {
                let n = (meta.bytesused as usize).min(buf.len());
                (&buf[..n], meta.flags.contains(BufferFlags::ERROR))
            })
        });
        match r {
            Ok((data, flagged_error)) => Ok(RawFrame {
                data,
                flagged_error,
            }),
            Err(CaptureError::Io { source, .. }) if source.raw_os_error() == Some(libc::EAGAIN) => {
                Err(CaptureError::Timeout {
                    device: path.to_owned(),
                    waited: timeout,
                })
            }
            Err(CaptureError::Timeout { .. }) => Err(CaptureError::Timeout {
                device: path.to_owned(),
                waited: timeout,
            }),
            Err(e) => Err(e),
        }
    }

    fn close(&mut self) {
        // STREAMOFF on an unplugged camera may fail in ways the crate panics on: the
        // device is gone either way, so the panic is contained and ignored.
        if let Some(s) = self.stream.take() {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(s)));
        }
        if let Some(d) = self.device.take() {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(d)));
        }
    }
}

impl Drop for V4l2Device {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_steps() {
        assert_eq!(fps_of(Fraction::new(1, 30)), Some(30.0));
        assert_eq!(fps_of(Fraction::new(0, 30)), None);
        let f = interval_for(29.97);
        assert_eq!((f.numerator, f.denominator), (1000, 29970));
        let f = interval_for(15.0);
        assert_eq!((f.numerator, f.denominator), (1, 15));
        assert_eq!(snap(641, 16, 1920, 16), 640);
        assert_eq!(snap(10, 16, 1920, 16), 16);
        assert_eq!(snap(5000, 16, 1920, 0), 1920);
    }

    #[test]
    fn missing_device_is_a_clear_error_not_a_panic() {
        let p = Path::new("/dev/emocue-no-such-video9");
        let mut d = V4l2Device::new(p);
        let e = d.open(&CaptureRequest::default()).unwrap_err();
        assert!(matches!(e, CaptureError::NotFound { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("no camera at /dev/emocue-no-such-video9")
        );
        assert!(d.read(Duration::from_millis(1)).is_err());
        let e = query(p, &CaptureRequest::default()).unwrap_err();
        assert!(matches!(e, CaptureError::NotFound { .. }));
    }

    #[test]
    fn a_file_that_is_not_a_camera_is_refused() {
        // A regular file opens but every V4L2 ioctl fails (ENOTTY).
        let f = std::env::temp_dir().join(format!("emocue-not-a-camera-{}", std::process::id()));
        std::fs::write(&f, b"x").unwrap();
        let e = V4l2Device::new(&f)
            .open(&CaptureRequest::default())
            .unwrap_err();
        let _ = std::fs::remove_file(&f);
        assert!(e.to_string().contains("emocue-not-a-camera"), "{e}");
    }
}
