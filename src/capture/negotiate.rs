//! Choosing a camera mode from what it offers: pure, so it is tested without a camera
//! and `emocue devices` can say what `run` would pick.
//!
//! The rules, most important first:
//! 1. no size above four times the requested area (decoding 4K MJPEG to find faces at
//!    640x480 wastes the wearable's battery);
//! 2. reach the requested frame rate (a slow camera adds latency no thread can remove);
//! 3. the smallest size covering the request, else the largest below it;
//! 4. the cheapest pixel format ([`PixelFormat::ALL`] order).

use super::{CaptureRequest, FormatInfo, PixelFormat};

/// The mode to ask a camera for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// Pixel format.
    pub pixel: PixelFormat,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Frame rate, frames per second.
    pub fps: f64,
}

/// The slowest offered rate that reaches `want`, else the fastest; `want` itself when
/// the driver lists none (it will pick the nearest when asked).
fn pick_rate(rates: &[f64], want: f64) -> f64 {
    let ok = rates
        .iter()
        .copied()
        .filter(|r| r.is_finite() && *r > 0.0)
        .filter(|r| *r + 0.5 >= want)
        .min_by(f64::total_cmp);
    ok.or_else(|| {
        rates
            .iter()
            .copied()
            .filter(|r| r.is_finite())
            .max_by(f64::total_cmp)
    })
    .unwrap_or(want)
}

/// Sort key of a candidate mode, smaller is better: (too big, too slow, size rank,
/// format cost).
type Rank = (bool, bool, (u8, u64), usize);

/// The best mode for `want` among `formats`, `None` when none is readable.
pub fn negotiate(formats: &[FormatInfo], want: &CaptureRequest) -> Option<Choice> {
    let want_area = u64::from(want.width.max(1)) * u64::from(want.height.max(1));
    let mut best: Option<(Rank, Choice)> = None;
    for f in formats {
        let Some(pixel) = PixelFormat::from_fourcc(&f.fourcc) else {
            continue;
        };
        let cost = PixelFormat::ALL
            .iter()
            .position(|p| *p == pixel)
            .unwrap_or(usize::MAX);
        for z in f.sizes.iter().filter(|z| z.width > 0 && z.height > 0) {
            let fps = pick_rate(&z.fps, want.fps);
            let area = u64::from(z.width) * u64::from(z.height);
            let covers = z.width >= want.width && z.height >= want.height;
            let size = if covers {
                (0, area)
            } else {
                (1, u64::MAX - area)
            };
            let key = (area > 4 * want_area, fps + 0.5 < want.fps, size, cost);
            if best.as_ref().is_none_or(|(k, _)| key < *k) {
                best = Some((
                    key,
                    Choice {
                        pixel,
                        width: z.width,
                        height: z.height,
                        fps,
                    },
                ));
            }
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SizeInfo;

    fn fmt(code: &[u8; 4], sizes: &[(u32, u32, &[f64])]) -> FormatInfo {
        FormatInfo {
            fourcc: *code,
            description: String::new(),
            sizes: sizes
                .iter()
                .map(|&(width, height, fps)| SizeInfo {
                    width,
                    height,
                    fps: fps.to_vec(),
                })
                .collect(),
            range: None,
        }
    }

    fn want(width: u32, height: u32, fps: f64) -> CaptureRequest {
        CaptureRequest { width, height, fps }
    }

    #[test]
    fn cheapest_format_wins_at_equal_size_and_rate() {
        let offered = [
            fmt(b"MJPG", &[(640, 480, &[30.0])]),
            fmt(b"YUYV", &[(640, 480, &[30.0, 15.0])]),
            fmt(b"H264", &[(640, 480, &[30.0])]),
        ];
        let c = negotiate(&offered, &want(640, 480, 30.0)).unwrap();
        assert_eq!(
            (c.pixel, c.width, c.height, c.fps),
            (PixelFormat::Yuyv, 640, 480, 30.0)
        );
    }

    #[test]
    fn frame_rate_beats_format_cost() {
        // A typical USB camera: uncompressed 720p only at 10 fps, MJPEG at 30.
        let offered = [
            fmt(b"YUYV", &[(640, 480, &[30.0]), (1280, 720, &[10.0, 5.0])]),
            fmt(b"MJPG", &[(640, 480, &[30.0]), (1280, 720, &[30.0])]),
        ];
        let c = negotiate(&offered, &want(1280, 720, 30.0)).unwrap();
        assert_eq!((c.pixel, c.width, c.fps), (PixelFormat::Mjpeg, 1280, 30.0));
        let c = negotiate(&offered, &want(640, 480, 30.0)).unwrap();
        assert_eq!((c.pixel, c.width), (PixelFormat::Yuyv, 640));
    }

    #[test]
    fn huge_modes_are_avoided_and_sizes_approach_the_request() {
        let offered = [
            fmt(b"YUYV", &[(640, 480, &[15.0])]),
            fmt(b"MJPG", &[(3840, 2160, &[30.0])]),
        ];
        let c = negotiate(&offered, &want(640, 480, 30.0)).unwrap();
        assert_eq!((c.pixel, c.width, c.fps), (PixelFormat::Yuyv, 640, 15.0));
        // Smallest covering size, else the largest below.
        let offered = [fmt(
            b"GREY",
            &[
                (320, 240, &[60.0]),
                (800, 600, &[60.0]),
                (1024, 768, &[60.0]),
            ],
        )];
        assert_eq!(
            negotiate(&offered, &want(640, 480, 30.0)).unwrap().width,
            800
        );
        assert_eq!(
            negotiate(&offered, &want(2000, 2000, 30.0)).unwrap().width,
            1024
        );
        // The slowest rate that reaches the request; unknown rates take the request.
        let offered = [fmt(b"NV12", &[(640, 480, &[60.0, 30.0, 15.0])])];
        assert_eq!(
            negotiate(&offered, &want(640, 480, 25.0)).unwrap().fps,
            30.0
        );
        let offered = [fmt(b"NV12", &[(640, 480, &[])])];
        assert_eq!(
            negotiate(&offered, &want(640, 480, 25.0)).unwrap().fps,
            25.0
        );
    }

    #[test]
    fn nothing_readable_is_none() {
        let offered = [fmt(b"H264", &[(640, 480, &[30.0])]), fmt(b"YUYV", &[])];
        assert!(negotiate(&offered, &want(640, 480, 30.0)).is_none());
    }
}
