//! The frame every stage sees: packed RGB8 plus its place in time.

use std::borrow::Cow;
use std::sync::Arc;

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
    /// The luma plane as the source delivered it (grey video), so it is not computed
    /// back from the RGB copy; `None` computes it ([`Frame::luma`]).
    luma: Option<Arc<Luma>>,
}

impl Frame {
    /// Wraps an image with its index and time.
    pub fn new(index: u64, timestamp_ms: f64, image: RgbImage) -> Self {
        Frame {
            index,
            timestamp_ms,
            image,
            luma: None,
        }
    }

    /// Attaches the luma plane a grey source already has. Only for planes equal to
    /// what [`Frame::luma`] computes from `image` (grey replicated into R, G and B,
    /// whose BT.601 weights sum to one): limited-range YUV luma is not, so YUYV and
    /// 4:2:0 frames keep computing it.
    pub fn with_luma(mut self, luma: Luma) -> Self {
        self.luma = Some(Arc::new(luma));
        self
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.image.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.image.height()
    }

    /// Luma plane (BT.601 weights, as the grayscale training sets were made), owned;
    /// see [`Frame::luma_plane`].
    pub fn luma(&self) -> Luma {
        self.luma_plane().into_owned()
    }

    /// Luma plane (BT.601 weights, as the grayscale training sets were made): the
    /// source's own for grey video, borrowed, else computed from the RGB pixels.
    pub fn luma_plane(&self) -> Cow<'_, Luma> {
        if let Some(l) = &self.luma {
            return Cow::Borrowed(l);
        }
        let (w, h) = (self.width() as usize, self.height() as usize);
        let data = self
            .image
            .as_raw()
            .chunks_exact(3)
            .map(|p| (77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32 + 128) >> 8)
            .map(|v| v as u8)
            .collect();
        Cow::Owned(Luma {
            width: w,
            height: h,
            data,
        })
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
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        if self.width == 0 || self.height == 0 {
            return 0.0;
        }
        // Every index `bilinear` reads is below width · height: a whole plane needs no
        // check per read (the crop reads 16 to 256 samples per output pixel).
        if self.data.len() >= self.width * self.height {
            self.bilinear(x, y, |i| f32::from(self.data[i]))
        } else {
            self.bilinear(x, y, |i| self.data.get(i).map_or(0.0, |&v| f32::from(v)))
        }
    }

    /// [`Luma::sample`] on a non-empty plane, reading pixel `i` with `p`.
    #[inline(always)]
    fn bilinear(&self, x: f32, y: f32, p: impl Fn(usize) -> f32) -> f32 {
        let fx = (x - 0.5).clamp(0.0, (self.width - 1) as f32);
        let fy = (y - 0.5).clamp(0.0, (self.height - 1) as f32);
        // Non-negative after the clamp, so truncating is `floor` (which is a library
        // call on x86_64 without SSE4.1), and NaN gives 0 either way.
        let x0 = fx as usize;
        let y0 = fy as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let (r0, r1) = (y0 * self.width, y1 * self.width);
        let top = p(r0 + x0) * (1.0 - ax) + p(r0 + x1) * ax;
        let bot = p(r1 + x0) * (1.0 - ax) + p(r1 + x1) * ax;
        top * (1.0 - ay) + bot * ay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why a grey source may hand its plane over: grey replicated into RGB gives the
    /// same luma back, for every value.
    #[test]
    fn grey_pixels_have_their_own_value_as_luma() {
        let grey: Vec<u8> = (0..=255).collect();
        let rgb: Vec<u8> = grey.iter().flat_map(|&v| [v, v, v]).collect();
        let image = RgbImage::from_raw(256, 1, rgb).unwrap();
        let computed = Frame::new(0, 0.0, image.clone()).luma();
        assert_eq!(computed.data, grey);
        let carried = Frame::new(0, 0.0, image).with_luma(Luma {
            width: 256,
            height: 1,
            data: grey.clone(),
        });
        assert!(matches!(carried.luma_plane(), Cow::Borrowed(l) if l.data == grey));
    }
}
