//! Micro-benchmarks of the hot code that is ours (issue 7): camera frame conversion,
//! face crop and resize, detector decoding + NMS, and smoothing. Models are measured
//! by `emocue bench`; these isolate what tract does not do.
//!
//!     cargo bench --bench hot

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use emocue::Frame;
use emocue::capture::convert::{rgb_to_nv12, rgb_to_yuyv, to_rgb};
use emocue::capture::{CaptureFormat, PixelFormat};
use emocue::crop::CropSpec;
use emocue::detect::{Candidate, Detection, Rect, weighted_nms};
use emocue::schedule::{ALIGN_RADIUS, align, match_exposure};
use emocue::smooth::{Smoother, SmoothingOptions};
use image::{Rgb, RgbImage};

fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 7 + y) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8])
    })
}

fn conversion(c: &mut Criterion) {
    let img = test_image(640, 480);
    for (pixel, data, stride) in [
        (PixelFormat::Yuyv, rgb_to_yuyv(&img), 1280),
        (PixelFormat::Nv12, rgb_to_nv12(&img), 640),
    ] {
        let fmt = CaptureFormat {
            pixel,
            width: 640,
            height: 480,
            stride,
            fps: 30.0,
        };
        c.bench_function(&format!("convert {pixel:?} 640x480 to RGB"), |b| {
            b.iter(|| to_rgb(&fmt, black_box(&data)).map(|i| i.len()))
        });
    }
    let frame = Frame::new(0, 0.0, img);
    c.bench_function("luma 640x480", |b| b.iter(|| black_box(&frame).luma()));
}

fn crop(c: &mut Criterion) {
    let frame = Frame::new(0, 0.0, test_image(640, 480));
    let luma = frame.luma();
    let det = Detection {
        rect: Rect {
            x: 250.0,
            y: 150.0,
            w: 160.0,
            h: 160.0,
        },
        score: 0.9,
        keypoints: [
            [290.0, 200.0],
            [370.0, 205.0],
            [330.0, 240.0],
            [330.0, 270.0],
            [260.0, 210.0],
            [400.0, 215.0],
        ],
    };
    let spec = CropSpec::default();
    c.bench_function("crop+resize 160px face to 48x48", |b| {
        b.iter(|| spec.crop(black_box(&luma), black_box(&det)))
    });
    // Following a face between detector runs: exposure match, then the shift search
    // and one Lucas-Kanade step (shift, turn, size).
    let reference = spec.crop(&luma, &det);
    let moved = spec.crop(&luma, &det.moved(5.0, -3.0));
    c.bench_function(
        "align a tracked 48x48 crop (exposure, shift +-4 px, turn, size)",
        |b| {
            b.iter(|| {
                let m = match_exposure(black_box(&reference), black_box(&moved))?;
                align(&reference, &m, spec.size, ALIGN_RADIUS)
            })
        },
    );
}

fn nms(c: &mut Criterion) {
    // 40 overlapping candidates around 4 faces, as the detector gives at a low threshold
    let cands: Vec<Candidate> = (0..40)
        .map(|i| {
            let f = (i % 4) as f32 * 150.0;
            let j = (i / 4) as f32;
            let mut coords = [0.0f32; 16];
            coords[..4].copy_from_slice(&[f + j, 100.0 + j, f + 100.0 + j, 200.0 + j]);
            Candidate {
                score: 0.5 + j * 0.04,
                coords,
            }
        })
        .collect();
    c.bench_function("weighted NMS 40 candidates", |b| {
        b.iter(|| weighted_nms(black_box(cands.clone()), 0.3).len())
    });
}

fn smoothing(c: &mut Criterion) {
    let labels: Vec<String> = emocue::profile::CLASS_KEYS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut s = Smoother::new(&SmoothingOptions::default(), &labels);
    let raw = [0.1, 0.5, 0.1, 0.05, 0.05, 0.1, 0.05, 0.05];
    let mut t = 0.0;
    c.bench_function("smoother update (8 classes)", |b| {
        b.iter(|| {
            t += 33.3;
            s.update(t, black_box(&raw))
        })
    });
}

criterion_group!(benches, conversion, crop, nms, smoothing);
criterion_main!(benches);
