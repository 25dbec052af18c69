//! Camera buffers to the RGB frames the pipeline reads, and RGB back to camera formats
//! (for the fake camera and tests).
//!
//! YUYV and NV12 are BT.601 limited range, as USB and SoC cameras send them, through
//! the same fixed-point [`yuv_to_rgb`] the Y4M reader uses; GREY is full range. MJPEG
//! goes through zune-jpeg, and a frame that is not a whole JPEG is refused rather than
//! shown half grey: USB cameras send truncated frames when the bus is saturated.

use image::RgbImage;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::{CaptureFormat, PixelFormat};
use crate::frame::Luma;
use crate::source::yuv_to_rgb;

/// Why one buffer could not become a frame; the frame is skipped and counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConvertError(pub String);

/// Converts one buffer in `format` to RGB.
pub fn to_rgb(format: &CaptureFormat, data: &[u8]) -> Result<RgbImage, ConvertError> {
    let (w, h) = (format.width as usize, format.height as usize);
    if w == 0 || h == 0 {
        return Err(ConvertError(format!("frame size {w}x{h} is empty")));
    }
    let stride = format.stride as usize;
    let rgb = match format.pixel {
        PixelFormat::Grey => grey(data, w, h, stride)?,
        PixelFormat::Yuyv => yuyv(data, w, h, stride)?,
        PixelFormat::Nv12 => nv12(data, w, h, stride)?,
        PixelFormat::Mjpeg => return mjpeg(data, format.width, format.height),
    };
    RgbImage::from_raw(format.width, format.height, rgb)
        .ok_or_else(|| ConvertError("internal: RGB buffer size mismatch".into()))
}

fn short(what: &str, got: usize, need: usize) -> ConvertError {
    ConvertError(format!(
        "{what} frame too short: {got} of {need} bytes (truncated by the driver)"
    ))
}

/// A GREY buffer's samples as the luma plane (they are full range, as [`to_rgb`]
/// replicates them), so the frame need not compute it back from RGB; `None` for other
/// formats, whose luma differs from what the RGB frame gives.
pub fn grey_luma(format: &CaptureFormat, data: &[u8]) -> Option<Luma> {
    if format.pixel != PixelFormat::Grey {
        return None;
    }
    let (w, h) = (format.width as usize, format.height as usize);
    let stride = (format.stride as usize).max(w);
    let mut out = Vec::with_capacity(w * h);
    for row in 0..h {
        out.extend_from_slice(data.get(row * stride..)?.get(..w)?);
    }
    Some(Luma {
        width: w,
        height: h,
        data: out,
    })
}

fn grey(data: &[u8], w: usize, h: usize, stride: usize) -> Result<Vec<u8>, ConvertError> {
    let stride = stride.max(w);
    let need = stride * (h - 1) + w;
    if data.len() < need {
        return Err(short("GREY", data.len(), need));
    }
    let mut out = vec![0u8; w * h * 3];
    for (row, o) in out.chunks_exact_mut(w * 3).enumerate() {
        for (px, &v) in o.chunks_exact_mut(3).zip(&data[row * stride..][..w]) {
            px.copy_from_slice(&[v, v, v]);
        }
    }
    Ok(out)
}

fn yuyv(data: &[u8], w: usize, h: usize, stride: usize) -> Result<Vec<u8>, ConvertError> {
    let row = w.div_ceil(2) * 4;
    let stride = stride.max(row);
    let need = stride * (h - 1) + row;
    if data.len() < need {
        return Err(short("YUYV", data.len(), need));
    }
    let mut out = vec![0u8; w * h * 3];
    for (r, o) in out.chunks_exact_mut(w * 3).enumerate() {
        let src = &data[r * stride..][..row];
        // Two pixels share one chroma pair; an odd last pixel uses only the first.
        for (px, s) in o.chunks_mut(6).zip(src.chunks_exact(4)) {
            px[..3].copy_from_slice(&yuv_to_rgb(s[0], s[1], s[3]));
            if px.len() == 6 {
                px[3..].copy_from_slice(&yuv_to_rgb(s[2], s[1], s[3]));
            }
        }
    }
    Ok(out)
}

fn nv12(data: &[u8], w: usize, h: usize, stride: usize) -> Result<Vec<u8>, ConvertError> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let stride = stride.max(cw * 2).max(w);
    let uv_start = stride * h;
    let need = uv_start + stride * (ch - 1) + cw * 2;
    if data.len() < need {
        return Err(short("NV12", data.len(), need));
    }
    let mut out = vec![0u8; w * h * 3];
    for (r, o) in out.chunks_exact_mut(w * 3).enumerate() {
        let y = &data[r * stride..][..w];
        let uv = &data[uv_start + (r / 2) * stride..][..cw * 2];
        for (c, px) in o.chunks_exact_mut(3).enumerate() {
            let k = (c / 2) * 2;
            px.copy_from_slice(&yuv_to_rgb(y[c], uv[k], uv[k + 1]));
        }
    }
    Ok(out)
}

/// True when `data` ends with the JPEG end-of-image marker (zero padding after it, which
/// some cameras add, is allowed).
fn has_eoi(data: &[u8]) -> bool {
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    end >= 2 && data[end - 2..end] == [0xFF, 0xD9]
}

fn mjpeg(data: &[u8], w: u32, h: u32) -> Result<RgbImage, ConvertError> {
    if data.len() < 4 || data[..2] != [0xFF, 0xD8] {
        return Err(ConvertError(format!(
            "MJPEG frame of {} bytes does not start with a JPEG marker",
            data.len()
        )));
    }
    if !has_eoi(data) {
        return Err(ConvertError(format!(
            "MJPEG frame of {} bytes is truncated (no JPEG end marker)",
            data.len()
        )));
    }
    // Limits from the negotiated size: a corrupt header cannot make us allocate more.
    let opts = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(w as usize)
        .set_max_height(h as usize);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), opts);
    let bad = |e: &dyn std::fmt::Display| ConvertError(format!("corrupt MJPEG frame: {e}"));
    dec.decode_headers().map_err(|e| bad(&e))?;
    let (fw, fh) = dec
        .info()
        .map(|i| (u32::from(i.width), u32::from(i.height)))
        .unwrap_or((0, 0));
    if (fw, fh) != (w, h) {
        return Err(ConvertError(format!(
            "MJPEG frame is {fw}x{fh}, the stream is {w}x{h}"
        )));
    }
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    if dec.output_buffer_size() != Some(rgb.len()) {
        return Err(ConvertError(
            "MJPEG frame decodes to an unexpected layout".into(),
        ));
    }
    dec.decode_into(&mut rgb).map_err(|e| bad(&e))?;
    RgbImage::from_raw(w, h, rgb).ok_or_else(|| ConvertError("internal: RGB size".into()))
}

/// RGB to BT.601 limited-range YCbCr (the inverse of [`yuv_to_rgb`], as the Y4M
/// writer computes it).
pub fn rgb_to_yuv(r: u8, g: u8, b: u8) -> [u8; 3] {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let c = |x: i32| x.clamp(0, 255) as u8;
    [
        c(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16),
        c(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128),
        c(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128),
    ]
}

/// Packs an image as YUYV (`Y0 U Y1 V`, chroma averaged over each pixel pair), rows of
/// `width.div_ceil(2) * 4` bytes.
pub fn rgb_to_yuyv(img: &RgbImage) -> Vec<u8> {
    let w = img.width() as usize;
    let mut out = Vec::with_capacity(w.div_ceil(2) * 4 * img.height() as usize);
    for row in img.as_raw().chunks_exact(w * 3) {
        for pair in row.chunks(6) {
            let a = rgb_to_yuv(pair[0], pair[1], pair[2]);
            let b = if pair.len() == 6 {
                rgb_to_yuv(pair[3], pair[4], pair[5])
            } else {
                a
            };
            let avg = |x: u8, y: u8| (u16::from(x) + u16::from(y)).div_ceil(2) as u8;
            out.extend_from_slice(&[a[0], avg(a[1], b[1]), b[0], avg(a[2], b[2])]);
        }
    }
    out
}

/// Packs an image as NV12 with both planes' rows `width` rounded up to even bytes.
pub fn rgb_to_nv12(img: &RgbImage) -> Vec<u8> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let stride = cw * 2;
    let px = |x: usize, y: usize| img.get_pixel(x as u32, y as u32).0;
    let mut out = vec![0u8; stride * (h + ch)];
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = px(x, y);
            out[y * stride + x] = rgb_to_yuv(r, g, b)[0];
        }
    }
    for cy in 0..ch {
        for cx in 0..cw {
            let (mut u, mut v, mut n) = (0u32, 0u32, 0u32);
            for y in cy * 2..(cy * 2 + 2).min(h) {
                for x in cx * 2..(cx * 2 + 2).min(w) {
                    let [r, g, b] = px(x, y);
                    let yuv = rgb_to_yuv(r, g, b);
                    u += u32::from(yuv[1]);
                    v += u32::from(yuv[2]);
                    n += 1;
                }
            }
            let at = stride * h + cy * stride + cx * 2;
            out[at] = ((u + n / 2) / n) as u8;
            out[at + 1] = ((v + n / 2) / n) as u8;
        }
    }
    out
}

/// Full-range luma with the BT.601 weights [`crate::Frame::luma`] uses.
pub fn rgb_to_grey(img: &RgbImage) -> Vec<u8> {
    img.as_raw()
        .chunks_exact(3)
        .map(|p| {
            ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8) as u8
        })
        .collect()
}

/// Encodes an image as one MJPEG frame (a baseline JPEG).
pub fn rgb_to_mjpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known colours: black, white, the primaries, a grey, a skin tone.
    const COLOURS: [[u8; 3]; 7] = [
        [0, 0, 0],
        [255, 255, 255],
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [128, 128, 128],
        [224, 172, 150],
    ];

    /// An image of 8x8 blocks of the known colours (blocks keep chroma subsampling
    /// and JPEG blocks exact).
    fn blocks(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb(COLOURS[((x / 8 + y / 8) as usize) % COLOURS.len()])
        })
    }

    fn format(pixel: PixelFormat, w: u32, h: u32, stride: u32) -> CaptureFormat {
        CaptureFormat {
            pixel,
            width: w,
            height: h,
            stride,
            fps: 30.0,
        }
    }

    fn max_diff(a: &RgbImage, b: &RgbImage) -> i32 {
        a.as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&x, &y)| (i32::from(x) - i32::from(y)).abs())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn known_colours_survive_yuyv_nv12_and_mjpeg() {
        let img = blocks(64, 48);
        let yuyv = rgb_to_yuyv(&img);
        let got = to_rgb(&format(PixelFormat::Yuyv, 64, 48, 128), &yuyv).unwrap();
        assert!(
            max_diff(&got, &img) <= 3,
            "YUYV off by {}",
            max_diff(&got, &img)
        );
        let nv12 = rgb_to_nv12(&img);
        let got = to_rgb(&format(PixelFormat::Nv12, 64, 48, 64), &nv12).unwrap();
        assert!(
            max_diff(&got, &img) <= 3,
            "NV12 off by {}",
            max_diff(&got, &img)
        );
        let jpg = rgb_to_mjpeg(&img, 95).unwrap();
        let got = to_rgb(&format(PixelFormat::Mjpeg, 64, 48, 0), &jpg).unwrap();
        // JPEG is lossy, and 4:2:0 smears chroma across the sharp block edges: judge
        // the block centres.
        for y in (4..48).step_by(8) {
            for x in (4..64).step_by(8) {
                let (a, b) = (got.get_pixel(x, y).0, img.get_pixel(x, y).0);
                for c in 0..3 {
                    assert!(
                        (i32::from(a[c]) - i32::from(b[c])).abs() <= 12,
                        "{a:?} {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn limited_range_extremes_and_grey_are_exact() {
        // Y=16/235 with neutral chroma is black/white; one YUYV pixel pair each.
        let data = [16, 128, 235, 128];
        let got = to_rgb(&format(PixelFormat::Yuyv, 2, 1, 0), &data).unwrap();
        assert_eq!(got.as_raw(), &[0, 0, 0, 255, 255, 255]);
        // Pure red in BT.601 limited range.
        assert_eq!(rgb_to_yuv(255, 0, 0), [82, 90, 240]);
        let got = to_rgb(&format(PixelFormat::Yuyv, 2, 1, 0), &[82, 90, 82, 240]).unwrap();
        assert!(got.as_raw()[0] >= 253 && got.as_raw()[1] <= 2 && got.as_raw()[2] <= 2);
        // GREY is full range and replicated into all three channels.
        let got = to_rgb(&format(PixelFormat::Grey, 3, 1, 0), &[0, 77, 255]).unwrap();
        assert_eq!(got.as_raw(), &[0, 0, 0, 77, 77, 77, 255, 255, 255]);
        let img = blocks(16, 8);
        let grey = to_rgb(&format(PixelFormat::Grey, 16, 8, 16), &rgb_to_grey(&img)).unwrap();
        let frame = crate::Frame::new(0, 0.0, img);
        assert_eq!(
            grey.pixels().map(|p| p[0]).collect::<Vec<_>>(),
            frame.luma().data
        );
    }

    #[test]
    fn strides_and_odd_sizes_are_honoured() {
        let img = blocks(5, 3);
        // YUYV with 8 bytes of row padding.
        let packed = rgb_to_yuyv(&img);
        let row = 3 * 4;
        let mut padded = Vec::new();
        for r in packed.chunks(row) {
            padded.extend_from_slice(r);
            padded.extend_from_slice(&[0xAA; 8]);
        }
        let got = to_rgb(&format(PixelFormat::Yuyv, 5, 3, row as u32 + 8), &padded).unwrap();
        let tight = to_rgb(&format(PixelFormat::Yuyv, 5, 3, 0), &packed).unwrap();
        assert_eq!(got, tight);
        let nv12 = to_rgb(&format(PixelFormat::Nv12, 5, 3, 6), &rgb_to_nv12(&img)).unwrap();
        assert_eq!(nv12.dimensions(), (5, 3));
    }

    #[test]
    fn short_and_corrupt_buffers_are_errors_not_panics() {
        let f = format(PixelFormat::Yuyv, 64, 48, 128);
        let e = to_rgb(&f, &[0; 100]).unwrap_err();
        assert!(e.0.contains("YUYV frame too short: 100 of 6144"), "{e}");
        assert!(to_rgb(&format(PixelFormat::Nv12, 64, 48, 64), &[0; 10]).is_err());
        assert!(to_rgb(&format(PixelFormat::Grey, 64, 48, 64), &[]).is_err());
        let m = format(PixelFormat::Mjpeg, 64, 48, 0);
        let jpg = rgb_to_mjpeg(&blocks(64, 48), 80).unwrap();
        let e = to_rgb(&m, &jpg[..jpg.len() / 2]).unwrap_err();
        assert!(e.0.contains("truncated"), "{e}");
        assert!(to_rgb(&m, &[]).unwrap_err().0.contains("does not start"));
        assert!(to_rgb(&m, &[0x55; 4000]).is_err());
        // Wrong size for the stream.
        let other = rgb_to_mjpeg(&blocks(32, 48), 80).unwrap();
        assert!(to_rgb(&m, &other).unwrap_err().0.contains("32x48"));
        // Header intact, scan data garbage, end marker present: refused or decoded,
        // never a panic.
        let mut garbled = jpg.clone();
        let n = garbled.len();
        for b in &mut garbled[n / 2..n - 2] {
            *b = 0xFF;
        }
        let _ = to_rgb(&m, &garbled);
        // Padding after the end marker is allowed.
        let mut padded = jpg;
        padded.extend_from_slice(&[0; 64]);
        assert!(to_rgb(&m, &padded).is_ok());
    }
}
