//! Offscreen overlay renders of known frames with known captions: where caption
//! pixels are, that glyphs are drawn, that configured colours appear, and a reference
//! image. Without any wgpu adapter (no GPU, no Mesa lavapipe) each test is reported
//! skipped (`common::skip`), or fails when EMOCUE_REQUIRE names `gpu`.

mod common;

use common::{emocue, root, scratch, skip};
use emocue::detect::Rect;
use emocue::render::{
    Aabb, OverlayFace, OverlayOptions, RenderError, RenderMode, Renderer, Rgba, Scene,
};
use image::{Rgb, RgbImage, RgbaImage};

const BG: [u8; 3] = [40, 90, 60];

fn renderer(test: &str, mode: RenderMode, opts: OverlayOptions) -> Option<Renderer> {
    match Renderer::new(opts, mode) {
        Ok(r) => Some(r),
        Err(RenderError::NoAdapter(why)) => {
            skip(
                test,
                "gpu",
                &format!("no wgpu adapter (install mesa-vulkan-drivers): {why}"),
            );
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

fn face(id: u64, x: f32, y: f32, w: f32, h: f32, caption: &str) -> OverlayFace {
    OverlayFace {
        track_id: id,
        rect: Rect { x, y, w, h },
        detected: true,
        caption: Some(caption.into()),
        unsure: caption == "not sure",
        probs: vec![0.1, 0.7, 0.2],
        shown_index: Some(1),
    }
}

fn scene() -> Scene {
    Scene {
        timestamp_ms: 0.0,
        faces: vec![
            face(1, 40.0, 110.0, 80.0, 90.0, "looks happy"),
            face(2, 200.0, 100.0, 80.0, 90.0, "not sure"),
        ],
        ..Default::default()
    }
}

fn frame() -> RgbImage {
    RgbImage::from_pixel(320, 240, Rgb(BG))
}

fn px(img: &RgbaImage, x: f32, y: f32) -> [u8; 4] {
    img.get_pixel(x as u32, y as u32).0
}

fn near(a: [u8; 4], b: [u8; 3], tol: i32) -> bool {
    (0..3).all(|i| (a[i] as i32 - b[i] as i32).abs() <= tol)
}

/// Pixels of `img` inside `b` for which `f` holds.
fn count_in(img: &RgbaImage, b: &Aabb, f: impl Fn([u8; 4]) -> bool) -> usize {
    let (x0, y0) = (b.min.x.max(0.0) as u32, b.min.y.max(0.0) as u32);
    let x1 = (b.max.x.ceil() as u32).min(img.width());
    let y1 = (b.max.y.ceil() as u32).min(img.height());
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| f(img.get_pixel(x, y).0))
        .count()
}

#[test]
fn caption_pixels_lie_inside_the_layout_and_glyphs_are_drawn() {
    let opts = OverlayOptions {
        brackets: false,
        ..Default::default()
    };
    let Some(mut r) = renderer("caption_pixels", RenderMode::Passthrough, opts.clone()) else {
        return;
    };
    let img = r.render(&frame(), &scene()).expect("render");
    let placed = r.last_layout().to_vec();
    assert_eq!(placed.len(), 2);

    // Every pixel the overlay touched lies in a caption plate (1 px of anti-aliasing).
    let plates: Vec<Aabb> = placed.iter().map(|c| c.plate.inflate(1.0)).collect();
    for (x, y, p) in img.enumerate_pixels() {
        if !near(p.0, BG, 2) {
            let pt = glam::Vec2::new(x as f32 + 0.5, y as f32 + 0.5);
            assert!(
                plates.iter().any(|b| b.contains(pt)),
                "overlay pixel {:?} at ({x}, {y}) outside every caption plate {plates:?}",
                p.0
            );
        }
    }
    for c in &placed {
        // Plates sit above their faces and hold glyph pixels in the text colour.
        assert!(c.above, "{c:?}");
        let full = if c.track_id == 1 {
            opts.text_color
        } else {
            opts.unsure_color
        };
        let ink = count_in(&img, &c.text.inflate(2.0), |p| {
            near(p, [full.0[0], full.0[1], full.0[2]], 3)
        });
        assert!(
            ink > 40,
            "caption {} has only {ink} text-colour pixels",
            c.track_id
        );
        // Away from the glyphs the plate is the configured colour blended over the frame.
        let a = opts.plate_color.0[3] as f32 / 255.0;
        let want = BG.map(|v| (v as f32 * (1.0 - a)).round() as u8);
        let side = px(
            &img,
            c.plate.min.x + 2.0,
            (c.plate.min.y + c.plate.max.y) / 2.0,
        );
        assert!(near(side, want, 2), "plate pixel {side:?}, want {want:?}");
    }
    // The frame shows through outside the captions, unchanged.
    assert!(near(px(&img, 5.0, 235.0), BG, 0));
}

#[test]
fn see_through_background_is_black() {
    let Some(mut r) = renderer(
        "see_through",
        RenderMode::SeeThrough,
        OverlayOptions::default(),
    ) else {
        return;
    };
    let bright = RgbImage::from_pixel(320, 240, Rgb([250, 240, 230]));
    let img = r.render(&bright, &scene()).expect("render");
    let placed = r.last_layout().to_vec();
    let overlay: Vec<Aabb> = placed
        .iter()
        .flat_map(|c| [c.plate.inflate(1.0), c.face.inflate(1.0)])
        .collect();
    let mut black = 0;
    for (x, y, p) in img.enumerate_pixels() {
        let pt = glam::Vec2::new(x as f32 + 0.5, y as f32 + 0.5);
        if !overlay.iter().any(|b| b.contains(pt)) {
            assert_eq!(p.0, [0, 0, 0, 255], "background at ({x}, {y})");
            black += 1;
        }
    }
    assert!(black > 320 * 240 / 2);
    let white = count_in(&img, &placed[0].text, |p| {
        p[0] > 250 && p[1] > 250 && p[2] > 250
    });
    assert!(white > 40, "{white} white text pixels");
}

#[test]
fn configured_colours_appear_where_they_belong() {
    let opts = OverlayOptions {
        text_color: Rgba([255, 0, 0, 255]),
        unsure_color: Rgba([255, 0, 255, 255]),
        plate_color: Rgba([0, 0, 255, 255]),
        bracket_color: Rgba([0, 255, 0, 255]),
        caption_px: 20.0,
        ..Default::default()
    };
    let Some(mut r) = renderer("colours", RenderMode::Passthrough, opts) else {
        return;
    };
    let img = r.render(&frame(), &scene()).expect("render");
    let placed = r.last_layout().to_vec();
    let is = |c: [u8; 3]| move |p: [u8; 4]| near(p, c, 2);
    let happy = &placed[0];
    let unsure = &placed[1];
    assert!(
        count_in(&img, &happy.text, is([255, 0, 0])) > 40,
        "red text"
    );
    assert!(
        count_in(&img, &unsure.text, is([255, 0, 255])) > 40,
        "magenta unsure text"
    );
    assert_eq!(count_in(&img, &happy.text, is([255, 0, 255])), 0);
    let plate_area = happy.plate.size().x * happy.plate.size().y;
    assert!(
        count_in(&img, &happy.plate, is([0, 0, 255])) as f32 > plate_area * 0.4,
        "blue plate"
    );
    // Brackets: green at the face box corners, not in the middle of its edges.
    let f = happy.face;
    let corner = Aabb::from_origin_size(f.min, glam::Vec2::splat(8.0));
    assert!(
        count_in(&img, &corner, is([0, 255, 0])) > 10,
        "bracket corner"
    );
    let mid = Aabb::from_origin_size(
        glam::Vec2::new((f.min.x + f.max.x) / 2.0 - 3.0, f.min.y - 1.0),
        glam::Vec2::new(6.0, 6.0),
    );
    assert_eq!(
        count_in(&img, &mid, is([0, 255, 0])),
        0,
        "bracket must leave the edge middle open"
    );
}

#[test]
fn debug_mode_adds_boxes_ids_and_bars() {
    let Some(mut r) = renderer("debug", RenderMode::Debug, OverlayOptions::default()) else {
        return;
    };
    let img = r.render(&frame(), &scene()).expect("render");
    let f = scene().faces[0].rect;
    // The face box outline (green: detected) at the middle of its left edge.
    let left = Aabb::from_origin_size(
        glam::Vec2::new(f.x - 1.0, f.y + f.h / 2.0 - 2.0),
        glam::Vec2::new(4.0, 4.0),
    );
    assert!(
        count_in(&img, &left, |p| near(p, [80, 220, 100], 3)) > 0,
        "debug box"
    );
    // Probability bars to the right of the box: the shown class's bar is white.
    let bars = Aabb::from_origin_size(glam::Vec2::new(f.x + f.w, f.y), glam::Vec2::new(60.0, 30.0));
    assert!(
        count_in(&img, &bars, |p| near(p, [255, 255, 255], 2)) > 20,
        "shown bar"
    );
    assert!(
        count_in(&img, &bars, |p| near(p, [150, 170, 255], 2)) > 5,
        "other bars"
    );
}

#[test]
fn rendering_matches_the_reference_image() {
    let Some(mut r) = renderer(
        "reference",
        RenderMode::SeeThrough,
        OverlayOptions::default(),
    ) else {
        return;
    };
    let img = r.render(&frame(), &scene()).expect("render");
    // Deterministic: a second frame with the same scene gives the same pixels.
    let again = r.render(&frame(), &scene()).expect("render");
    assert_eq!(img.as_raw(), again.as_raw());

    let path = root().join("tests/data/overlay_reference.png");
    if std::env::var_os("EMOCUE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        img.save(&path).unwrap();
    }
    let reference = image::open(&path)
        .expect("tests/data/overlay_reference.png (EMOCUE_BLESS=1 cargo test --test render regenerates it)")
        .to_rgba8();
    assert_eq!(reference.dimensions(), img.dimensions());
    // Another GPU may anti-alias glyph edges a little differently: compare with a
    // tolerance, but tightly enough that a moved or missing caption fails.
    let mut sum = 0u64;
    let mut off = 0usize;
    for (a, b) in img.pixels().zip(reference.pixels()) {
        let d = (0..3)
            .map(|i| (a.0[i] as i32 - b.0[i] as i32).unsigned_abs())
            .max()
            .unwrap_or(0);
        sum += d as u64;
        if d > 48 {
            off += 1;
        }
    }
    let n = (img.width() * img.height()) as f64;
    let mean = sum as f64 / n;
    assert!(mean < 1.0, "mean difference {mean:.3} from the reference");
    assert!(
        (off as f64) < n * 0.003,
        "{off} pixels differ strongly from the reference"
    );
}

#[test]
fn replay_render_writes_pngs_and_leaves_events_unchanged() {
    if renderer(
        "replay_render",
        RenderMode::Passthrough,
        OverlayOptions::default(),
    )
    .is_none()
    {
        return;
    }
    let dir = scratch("replay_render");
    let plain = dir.join("plain.jsonl");
    let with = dir.join("with.jsonl");
    let frames = dir.join("frames");
    let video = dir.join("clip.y4m");
    let base = [
        "replay",
        "samples/astronaut",
        "--fps",
        "15",
        "--no-timing",
        "--events",
    ];
    let out = emocue(&[&base[..], &[plain.to_str().unwrap()]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = emocue(
        &[
            &base[..],
            &[
                with.to_str().unwrap(),
                "--render",
                frames.to_str().unwrap(),
                "--every",
                "20",
                "--render-video",
                video.to_str().unwrap(),
                "--render-mode",
                "debug",
            ],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&plain).unwrap(),
        std::fs::read(&with).unwrap(),
        "rendering changed the events"
    );
    let mut pngs: Vec<_> = std::fs::read_dir(&frames)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pngs.sort();
    assert_eq!(
        pngs,
        ["frame_000000.png", "frame_000020.png", "frame_000040.png"]
    );
    let png = image::open(frames.join("frame_000040.png")).unwrap();
    assert_eq!((png.width(), png.height()), (320, 240));
    // The clip holds all 60 frames: header plus 60 × (FRAME\n + 320×240×1.5 bytes).
    let len = std::fs::metadata(&video).unwrap().len();
    let frame_bytes = 6 + 320 * 240 * 3 / 2;
    assert!(
        len > 60 * frame_bytes && len < 60 * frame_bytes + 100,
        "{len}"
    );

    let bad = emocue(&[
        "replay",
        "samples/astronaut",
        "--render",
        "x",
        "--render-mode",
        "sideways",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("see-through"));
}

/// The public API is glyphon's: the overlay prepares on the CPU and records into a
/// pass the caller began on its own texture, and the pixels are the ones `Renderer`
/// (its offscreen user) reads back.
#[test]
fn the_overlay_draws_into_a_pass_the_caller_owns() {
    use emocue::render::{GpuRenderer, OFFSCREEN_FORMAT, Overlay};
    let test = "the_overlay_draws_into_a_pass_the_caller_owns";
    let Some(mut r) = renderer(test, RenderMode::Passthrough, OverlayOptions::default()) else {
        return;
    };
    let want = r.render(&frame(), &scene()).expect("render");
    let gpu = GpuRenderer::new().expect("a second device on the same adapter");
    let (device, queue) = (gpu.device(), gpu.queue());
    let mut overlay = Overlay::new(
        device,
        OFFSCREEN_FORMAT,
        OverlayOptions::default(),
        RenderMode::Passthrough,
    )
    .expect("overlay");
    let (w, h) = (320u32, 240u32);
    let size = wgpu::Extent3d {
        width: w,
        height: h,
        depth_or_array_layers: 1,
    };
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("the caller's frame"),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: OFFSCREEN_FORMAT,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = texture.create_view(&Default::default());
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: u64::from(w * 4 * h),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    overlay
        .prepare(device, queue, &frame(), &scene())
        .expect("prepare");
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("the caller's pass"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLUE),
                    store: wgpu::StoreOp::Store,
                },
            })],
            ..Default::default()
        });
        overlay.render(&mut pass).expect("render into the pass");
    }
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &readback,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                // 1280 bytes: already a multiple of COPY_BYTES_PER_ROW_ALIGNMENT
                bytes_per_row: Some(w * 4),
                rows_per_image: Some(h),
            },
        },
        size,
    );
    queue.submit([encoder.finish()]);
    readback.map_async(wgpu::MapMode::Read, .., |r| r.expect("map"));
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("poll");
    let pixels = readback.get_mapped_range(..).expect("mapped").to_vec();
    let got = RgbaImage::from_raw(w, h, pixels).expect("size");
    assert!(
        got == want,
        "the caller's pass differs from the offscreen render"
    );
    assert_eq!(overlay.last_layout().len(), 2);
}
