//! A camera in memory, for tests and demos on machines without one: it serves real
//! YUYV, NV12, GREY or MJPEG bytes made from images when opened, paced at its frame
//! rate, and can be unplugged, replugged, made busy or made to send corrupt buffers,
//! from the test or from another thread through a [`FakeControl`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use image::RgbImage;

use super::{
    CaptureDevice, CaptureError, CaptureFormat, CaptureRequest, FormatInfo, PixelFormat, RawFrame,
    SizeInfo, fourcc_str, negotiate, rgb_to_grey, rgb_to_mjpeg, rgb_to_nv12, rgb_to_yuyv,
};

#[derive(Debug, Default)]
struct ControlState {
    unplugged: bool,
    busy: bool,
    corrupt_next: u32,
    unplug_after_frames: Option<u64>,
    replug_on_attempt: Option<u32>,
    open_attempts: u32,
    opens: u32,
    served: u64,
}

/// Steers a [`FakeCamera`] from a test, also while another thread reads it.
#[derive(Clone, Debug, Default)]
pub struct FakeControl(Arc<Mutex<ControlState>>);

impl FakeControl {
    fn state(&self) -> MutexGuard<'_, ControlState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pulls the cable: the next read fails and opening fails until [`Self::replug`].
    pub fn unplug(&self) {
        self.state().unplugged = true;
    }

    /// Plugs it back in.
    pub fn replug(&self) {
        self.state().unplugged = false;
    }

    /// Makes opening fail with EBUSY, as when another program streams.
    pub fn set_busy(&self, busy: bool) {
        self.state().busy = busy;
    }

    /// The next `n` buffers are corrupt (truncated).
    pub fn corrupt_next(&self, n: u32) {
        self.state().corrupt_next = n;
    }

    /// Scripted unplug: after `frames` more buffers the camera disappears, and it
    /// comes back on the `attempts`-th opening attempt after that.
    pub fn unplug_after(&self, frames: u64, attempts: u32) {
        let mut s = self.state();
        s.unplug_after_frames = Some(frames);
        s.replug_on_attempt = Some(attempts.max(1));
    }

    /// Opening attempts so far, failed or not.
    pub fn open_attempts(&self) -> u32 {
        self.state().open_attempts
    }

    /// Successful opens so far.
    pub fn opens(&self) -> u32 {
        self.state().opens
    }

    /// Buffers served so far (corrupt ones included).
    pub fn served(&self) -> u64 {
        self.state().served
    }
}

struct Streaming {
    buffers: Vec<Vec<u8>>,
    next: usize,
    due: Instant,
    scratch: Vec<u8>,
}

/// An in-memory camera offering some formats at one size and rate.
pub struct FakeCamera {
    path: PathBuf,
    formats: Vec<FormatInfo>,
    images: Vec<RgbImage>,
    interval: Duration,
    control: FakeControl,
    stream: Option<Streaming>,
}

impl FakeCamera {
    /// A camera at `path` cycling through `images` (all one size) at `fps`, offering
    /// `offer` in that order.
    pub fn new(path: &Path, images: Vec<RgbImage>, offer: &[PixelFormat], fps: f64) -> Self {
        let (width, height) = images.first().map_or((0, 0), |i| i.dimensions());
        let formats = offer
            .iter()
            .map(|p| FormatInfo {
                fourcc: p.fourcc(),
                description: format!("fake {p}"),
                sizes: vec![SizeInfo {
                    width,
                    height,
                    fps: vec![fps],
                }],
                range: None,
            })
            .collect();
        Self::with_formats(path, images, formats, fps)
    }

    /// A camera offering exactly `formats` (to test negotiation failures), paced at
    /// `fps`.
    pub fn with_formats(
        path: &Path,
        images: Vec<RgbImage>,
        formats: Vec<FormatInfo>,
        fps: f64,
    ) -> Self {
        FakeCamera {
            path: path.to_owned(),
            formats,
            images,
            interval: Duration::from_secs_f64(1.0 / fps.max(0.001)),
            control: FakeControl::default(),
            stream: None,
        }
    }

    /// The handle that steers it.
    pub fn control(&self) -> FakeControl {
        self.control.clone()
    }

    fn encode(&self, pixel: PixelFormat) -> Result<Vec<Vec<u8>>, CaptureError> {
        self.images
            .iter()
            .map(|img| match pixel {
                PixelFormat::Grey => Ok(rgb_to_grey(img)),
                PixelFormat::Yuyv => Ok(rgb_to_yuyv(img)),
                PixelFormat::Nv12 => Ok(rgb_to_nv12(img)),
                PixelFormat::Mjpeg => rgb_to_mjpeg(img, 85).map_err(|e| CaptureError::Driver {
                    device: self.path.clone(),
                    op: "encode",
                    what: e.to_string(),
                }),
            })
            .collect()
    }

    fn lost(&self) -> CaptureError {
        CaptureError::Lost {
            device: self.path.clone(),
            source: std::io::Error::from_raw_os_error(libc::ENODEV),
        }
    }
}

impl CaptureDevice for FakeCamera {
    fn path(&self) -> &Path {
        &self.path
    }

    fn open(&mut self, request: &CaptureRequest) -> Result<CaptureFormat, CaptureError> {
        self.close();
        {
            let mut s = self.control.state();
            s.open_attempts += 1;
            if s.unplugged
                && let Some(n) = s.replug_on_attempt.as_mut()
            {
                *n -= 1;
                if *n == 0 {
                    s.unplugged = false;
                    s.replug_on_attempt = None;
                }
            }
            if s.unplugged {
                return Err(CaptureError::NotFound {
                    device: self.path.clone(),
                });
            }
            if s.busy {
                return Err(CaptureError::Busy {
                    device: self.path.clone(),
                });
            }
        }
        let Some(choice) = negotiate(&self.formats, request) else {
            let offered: Vec<String> = self.formats.iter().map(|f| fourcc_str(&f.fourcc)).collect();
            return Err(CaptureError::Unsupported {
                device: self.path.clone(),
                offered: offered.join(", "),
            });
        };
        let (w, h) = (choice.width, choice.height);
        if self.images.is_empty() || self.images.iter().any(|i| i.dimensions() != (w, h)) {
            return Err(CaptureError::Driver {
                device: self.path.clone(),
                op: "open",
                what: format!("the fake camera needs images of {w}x{h}"),
            });
        }
        let stride = match choice.pixel {
            PixelFormat::Grey => w,
            PixelFormat::Yuyv => w.div_ceil(2) * 4,
            PixelFormat::Nv12 => w.div_ceil(2) * 2,
            PixelFormat::Mjpeg => 0,
        };
        let format = CaptureFormat {
            pixel: choice.pixel,
            width: w,
            height: h,
            stride,
            fps: choice.fps,
        };
        self.stream = Some(Streaming {
            buffers: self.encode(choice.pixel)?,
            next: 0,
            due: Instant::now(),
            scratch: Vec::new(),
        });
        self.control.state().opens += 1;
        Ok(format)
    }

    fn read(&mut self, timeout: Duration) -> Result<RawFrame<'_>, CaptureError> {
        let interval = self.interval;
        let Some(st) = self.stream.as_mut() else {
            return Err(self.lost());
        };
        let now = Instant::now();
        if st.due > now {
            let wait = st.due - now;
            if wait > timeout {
                std::thread::sleep(timeout);
                return Err(CaptureError::Timeout {
                    device: self.path.clone(),
                    waited: timeout,
                });
            }
            std::thread::sleep(wait);
        }
        // Like a driver: frames keep their cadence; a reader that fell behind gets the
        // next one at once, not a burst of stale ones.
        st.due = (st.due + interval).max(Instant::now());
        let corrupt = {
            let mut s = self.control.state();
            if s.unplugged || s.unplug_after_frames == Some(0) {
                s.unplugged = true;
                s.unplug_after_frames = None;
                None
            } else {
                if let Some(n) = s.unplug_after_frames.as_mut() {
                    *n -= 1;
                }
                s.served += 1;
                let corrupt = s.corrupt_next > 0;
                s.corrupt_next = s.corrupt_next.saturating_sub(1);
                Some(corrupt)
            }
        };
        let lost = self.lost();
        let Some(corrupt) = corrupt else {
            self.stream = None;
            return Err(lost);
        };
        let Some(st) = self.stream.as_mut() else {
            return Err(lost);
        };
        let i = st.next % st.buffers.len().max(1);
        st.next += 1;
        let data = st.buffers.get(i).map_or(&[][..], Vec::as_slice);
        if corrupt {
            // What a saturated USB bus does: the frame is cut short.
            st.scratch.clear();
            st.scratch.extend_from_slice(&data[..data.len() / 2]);
            return Ok(RawFrame {
                data: &st.scratch,
                flagged_error: false,
            });
        }
        Ok(RawFrame {
            data,
            flagged_error: false,
        })
    }

    fn close(&mut self) {
        self.stream = None;
    }
}
