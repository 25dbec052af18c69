//! The frame every stage sees: packed RGB8 plus its place in time.

use image::RgbImage;

/// One video frame. Timestamps drive the smoother, so they come from the source's
/// clock (file frame rate or capture time), never from how fast we process.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Zero-based frame number within the source.
    pub index: u64,
    /// Presentation time in milliseconds from the start of the source.
    pub timestamp_ms: f64,
    /// Pixels, RGB8, row-major.
    pub image: RgbImage,
}

impl Frame {
    /// Wraps an image with its index and time.
    pub fn new(index: u64, timestamp_ms: f64, image: RgbImage) -> Self {
        Frame {
            index,
            timestamp_ms,
            image,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.image.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.image.height()
    }

    /// Luma plane (BT.601 weights, as the grayscale training sets were made).
    pub fn luma(&self) -> Luma {
        let (w, h) = (self.width() as usize, self.height() as usize);
        let data = self
            .image
            .as_raw()
            .chunks_exact(3)
            .map(|p| (77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32 + 128) >> 8)
            .map(|v| v as u8)
            .collect();
        Luma {
            width: w,
            height: h,
            data,
        }
    }
}

/// An 8-bit single-channel plane, the classifier's input space.
#[derive(Clone, Debug)]
pub struct Luma {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major samples.
    pub data: Vec<u8>,
}

impl Luma {
    /// Bilinear sample at continuous pixel coordinates (pixel centres at +0.5);
    /// outside the plane the border is repeated, like the training augmentation. An
    /// empty plane (or one whose data is short) reads as black rather than panicking.
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        if self.width == 0 || self.height == 0 {
            return 0.0;
        }
        let fx = (x - 0.5).clamp(0.0, (self.width - 1) as f32);
        let fy = (y - 0.5).clamp(0.0, (self.height - 1) as f32);
        let x0 = fx.floor() as usize;
        let y0 = fy.floor() as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let p = |x: usize, y: usize| {
            self.data
                .get(y * self.width + x)
                .map_or(0.0, |&v| f32::from(v))
        };
        let top = p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax;
        let bot = p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax;
        top * (1.0 - ay) + bot * ay
    }
}
