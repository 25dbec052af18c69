//! The seed corpus, made here rather than copied from anywhere: tiny Y4M clips of each
//! chroma layout, tiny images in each format emocue reads, the shipped settings and
//! wording profiles, and the metadata of the shipped classifiers.
//! `cargo run --example fuzz -- --write-seeds` rewrites `fuzz/seeds/`.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, Rgb, RgbImage, RgbaImage};

/// Writes every target's seeds under `dir/TARGET/` (existing seeds are replaced).
pub fn write_all(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for (name, data) in y4m() {
        seeds.push(("y4m", name, data));
    }
    for (name, data) in images()? {
        seeds.push(("image", name, data));
    }
    seeds.push((
        "settings",
        "default.toml".into(),
        std::fs::read(root.join("config/default.toml"))?,
    ));
    for (name, text) in [
        (
            "minimal.toml",
            "[detection]\nmin_score = 0.5\nnms_iou = 0.3\n",
        ),
        (
            "tables.toml",
            "[tracking]\nmin_hits = 2\nmax_missed_ms = 400.0\n\n[smoothing]\ntau_ms = 300.0\n\
             margin = 0.1\n\n[captions]\nprofile = \"de\"\n\n[overlay]\ncaption_px = 24.0\n\
             text_color = \"#ffffff\"\nbrackets = false\n",
        ),
        (
            "profile-path.toml",
            "[captions]\nprofile = \"labels/en.toml\"\n",
        ),
        ("empty.toml", ""),
    ] {
        seeds.push(("settings", name.into(), text.as_bytes().to_vec()));
    }
    let mut labels: Vec<_> = std::fs::read_dir(root.join("config/labels"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    labels.sort();
    for p in labels {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        seeds.push(("profile", name.unwrap_or_default(), std::fs::read(&p)?));
    }
    for model in [
        "models/emotionnet_nano_b.int8.onnx",
        "models/emotionnet_nano_a.onnx",
    ] {
        let f = emocue::onnx::OnnxFile::load(&root.join(model), "a shipped model")?;
        let mut props: Vec<_> = f.metadata.iter().collect();
        props.sort();
        let text: String = props
            .iter()
            .filter(|(_, v)| !v.contains('\n'))
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        let stem = Path::new(model)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        seeds.push((
            "model_meta",
            format!("{}.txt", stem.unwrap_or_default()),
            text.into_bytes(),
        ));
    }
    seeds.push((
        "model_meta",
        "minimal.txt".into(),
        b"labels=neutral,happiness,surprise\n".to_vec(),
    ));
    seeds.push((
        "model_meta",
        "all-keys.txt".into(),
        b"labels=a,b\ninput_size=16\ninput_mean=0.5\ninput_std=0.25\ntemperature=1.5\n\
          crop_scale=1.2\ncrop_dx=0\ncrop_dy=-0.05\ncrop_rotate=false\ntta_flip=true\n"
            .to_vec(),
    ));

    for (target, name, data) in seeds {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(&name), &data)?;
        println!("{target}/{name}: {} bytes", data.len());
    }
    Ok(())
}

/// Clips with every chroma tag, an odd size, frame parameters and header extras.
fn y4m() -> Vec<(String, Vec<u8>)> {
    let clip = |header: &str, w: usize, h: usize, chroma: (usize, usize), frames: usize| {
        let mut b = format!("{header}\n").into_bytes();
        for f in 0..frames {
            b.extend_from_slice(if f == 1 { b"FRAME Ixyz\n" } else { b"FRAME\n" });
            b.extend((0..w * h).map(|i| (16 + (i * 37 + f * 11) % 220) as u8));
            b.extend((0..2 * chroma.0 * chroma.1).map(|i| (64 + (i * 13) % 128) as u8));
        }
        b
    };
    vec![
        (
            "420jpeg.y4m",
            clip("YUV4MPEG2 W4 H2 F25:1 Ip A1:1 C420jpeg", 4, 2, (2, 1), 2),
        ),
        (
            "420paldv.y4m",
            clip("YUV4MPEG2 W4 H4 F25:1 C420paldv", 4, 4, (2, 2), 1),
        ),
        (
            "420mpeg2.y4m",
            clip(
                "YUV4MPEG2 W5 H3 F30000:1001 It A1:1 C420mpeg2 XCOLORRANGE=LIMITED",
                5,
                3,
                (3, 2),
                2,
            ),
        ),
        (
            "420.y4m",
            clip("YUV4MPEG2 W2 H2 F30:1 C420", 2, 2, (1, 1), 3),
        ),
        (
            "default-chroma.y4m",
            clip("YUV4MPEG2 W2 H2 F25:1", 2, 2, (1, 1), 1),
        ),
        (
            "422.y4m",
            clip("YUV4MPEG2 W5 H3 F24:1 C422", 5, 3, (3, 3), 2),
        ),
        (
            "444.y4m",
            clip("YUV4MPEG2 W3 H2 F60:1 Ib C444", 3, 2, (3, 2), 2),
        ),
        (
            "mono.y4m",
            clip("YUV4MPEG2 W4 H3 F15:1 Cmono", 4, 3, (0, 0), 2),
        ),
        (
            "header-only.y4m",
            clip("YUV4MPEG2 W8 H8 F25:1 C420jpeg", 8, 8, (4, 4), 0),
        ),
    ]
    .into_iter()
    .map(|(n, b)| (n.to_string(), b))
    .collect()
}

/// One tiny picture in every format, plus a JPEG with an EXIF orientation tag.
fn images() -> Result<Vec<(String, Vec<u8>)>, image::ImageError> {
    let rgb = RgbImage::from_fn(8, 6, |x, y| Rgb([(x * 30) as u8, (y * 40) as u8, 128]));
    let encode = |img: &image::DynamicImage, format: ImageFormat| {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).map(|_| out.into_inner())
    };
    let dynamic = image::DynamicImage::ImageRgb8(rgb.clone());
    let mut out = vec![
        ("rgb.png".to_string(), encode(&dynamic, ImageFormat::Png)?),
        (
            "gray.png".into(),
            encode(&dynamic.grayscale(), ImageFormat::Png)?,
        ),
        (
            "rgba.png".into(),
            encode(
                &image::DynamicImage::ImageRgba8(RgbaImage::from_fn(4, 4, |x, y| {
                    image::Rgba([x as u8 * 60, y as u8 * 60, 0, 200])
                })),
                ImageFormat::Png,
            )?,
        ),
        ("rgb.bmp".into(), encode(&dynamic, ImageFormat::Bmp)?),
        ("rgb.gif".into(), encode(&dynamic, ImageFormat::Gif)?),
        ("rgb.tiff".into(), encode(&dynamic, ImageFormat::Tiff)?),
        ("rgb.webp".into(), encode(&dynamic, ImageFormat::WebP)?),
    ];
    let jpeg = {
        let mut buf = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 50).encode_image(&rgb)?;
        buf
    };
    // APP1 Exif segment, big-endian TIFF, one IFD entry: Orientation (0x0112) = 6.
    let mut exif =
        b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    let seg_len = (exif.len() + 2) as u16;
    let mut rotated = jpeg[..2].to_vec();
    rotated.extend_from_slice(&[0xff, 0xe1]);
    rotated.extend_from_slice(&seg_len.to_be_bytes());
    rotated.append(&mut exif);
    rotated.extend_from_slice(&jpeg[2..]);
    out.push(("rgb.jpg".into(), jpeg));
    out.push(("exif-rotated.jpg".into(), rotated));
    Ok(out)
}
