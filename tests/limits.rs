//! Issue 21, "limits on every input": each hostile input of the table gets a
//! clear error (naming the file, the limit and the fix) or correct behaviour, never a
//! panic or an unbounded allocation. Every input is crafted here, tiny, from scratch.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::emocue;
use image::ImageEncoder;
use prost::Message;
use tract_onnx::pb;

/// A fresh folder for one test's files, under the system's temporary folder.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emocue-limits-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Stdout and stderr together: `classify` reports a bad file on stdout, the rest on
/// stderr.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs emocue, expects failure without a panic, and returns what it said.
fn fails(args: &[&str]) -> String {
    let out = emocue(args);
    let t = text(&out);
    assert!(!out.status.success(), "{args:?} succeeded: {t}");
    assert!(!t.contains("panicked"), "{args:?}: {t}");
    t
}

// ---- crafted images ----

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A valid 1x1 PNG whose header then claims `w` x `h` (CRC fixed, so only the size lies).
fn png_claiming(w: u32, h: u32, color: image::ExtendedColorType) -> Vec<u8> {
    let px = vec![0u8; color.bits_per_pixel() as usize / 8];
    let mut b = Vec::new();
    image::codecs::png::PngEncoder::new(&mut b)
        .write_image(&px, 1, 1, color)
        .unwrap();
    assert_eq!(&b[12..16], b"IHDR");
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    b
}

/// A valid 8x8 JPEG whose frame header then claims `w` x `h`.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut b = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut b)
        .write_image(&[128u8; 8 * 8 * 3], 8, 8, image::ExtendedColorType::Rgb8)
        .unwrap();
    let sof = b.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
    // FFC0, length (2), precision (1), height (2), width (2)
    b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    b
}

/// A valid 1x1 GIF whose logical screen then claims `w` x `h`.
fn gif_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut b = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut b)
        .encode(&[9, 9, 9, 255], 1, 1, image::ExtendedColorType::Rgba8)
        .unwrap();
    assert_eq!(&b[..3], b"GIF");
    b[6..8].copy_from_slice(&w.to_le_bytes());
    b[8..10].copy_from_slice(&h.to_le_bytes());
    b
}

/// A photo-like JPEG: smooth gradients with detail, so it is not mostly header.
fn photo_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let v = ((x * 7 + y * 3) % 256) as u8;
        image::Rgb([v, (x * 255 / w) as u8, ((x ^ y) % 256) as u8])
    });
    let mut b = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut b, 90)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    b
}

#[test]
fn crafted_headers_are_still_valid_images_at_a_sane_size() {
    // The crafted files are only wrong in the size they claim.
    for (name, bytes) in [
        ("a.png", png_claiming(1, 1, image::ExtendedColorType::Rgb8)),
        ("a.jpg", jpeg_claiming(8, 8)),
        ("a.gif", gif_claiming(1, 1)),
    ] {
        let img = emocue::source::decode_bytes(&bytes, name).unwrap();
        assert!(img.width() >= 1, "{name}");
    }
}

/// Row 1: a JPEG claiming 65000x65000, a GIF claiming 65535x65535 and a PNG claiming
/// 100000x100000 are refused from their headers, with the size, the limit and the fix,
/// by `classify`, by `replay` of the image and by `replay` of a folder holding it.
#[test]
fn images_claiming_huge_sizes_are_refused_before_decoding() {
    let d = tmp("huge");
    let cases = [
        ("huge.jpg", jpeg_claiming(65000, 65000), "65000x65000"),
        ("huge.gif", gif_claiming(65535, 65535), "65535x65535"),
        (
            "huge.png",
            png_claiming(100_000, 100_000, image::ExtendedColorType::Rgb8),
            "100000x100000",
        ),
    ];
    for (name, bytes, claim) in cases {
        assert!(bytes.len() < 1000, "{name} is {} bytes", bytes.len());
        let file = d.join(name);
        std::fs::write(&file, &bytes).unwrap();
        let folder = d.join(format!("{name}.d"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), &bytes).unwrap();

        let e = emocue::source::decode_bytes(&bytes, name)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(name) && e.contains(claim) && e.contains("16384") && e.contains("MAX_SIDE"),
            "{e}"
        );
        for args in [
            vec!["classify", s(&file)],
            vec!["replay", s(&file)],
            vec!["replay", s(&folder), "--fps", "25"],
        ] {
            let t = fails(&args);
            assert!(
                t.contains(name) && t.contains(claim) && t.contains("at most 16384"),
                "{args:?}: {t}"
            );
            assert!(t.contains("scale it down"), "{args:?}: {t}");
        }
    }
}

#[test]
fn within_the_sides_but_over_the_pixels_or_bytes_is_refused_too() {
    // 16000x16000 is under 16384 a side but 256 MP.
    let e = emocue::source::decode_bytes(&jpeg_claiming(16000, 16000), "wide.jpg")
        .unwrap_err()
        .to_string();
    assert!(e.contains("16000x16000") && e.contains("67.1 MP"), "{e}");
    // 8192x8192 is 64 MP, but at 16 bits RGBA it takes 512 MiB to decode.
    let png = png_claiming(8192, 8192, image::ExtendedColorType::Rgba16);
    let e = emocue::source::decode_bytes(&png, "deep.png")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("deep.png") && e.contains("512 MiB") && e.contains("256 MiB"),
        "{e}"
    );
}

// ---- Y4M ----

/// Row 2: a header token that starts with a multi-byte character is an unknown tag,
/// ignored like any other; after a tag letter it is a bad value, named.
#[test]
fn y4m_header_token_starting_with_a_multibyte_character_is_no_panic() {
    let d = tmp("y4m-utf8");
    let frame = vec![128u8; 160 * 120 * 3 / 2];
    let ok = d.join("accent.y4m");
    let mut b = "YUV4MPEG2 W160 H120 F25:1 é\nFRAME\n".as_bytes().to_vec();
    b.extend_from_slice(&frame);
    std::fs::write(&ok, &b).unwrap();
    let out = emocue(&["replay", s(&ok), "--summary"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("panicked"), "{t}");

    let bad = d.join("accent-width.y4m");
    let mut b = "YUV4MPEG2 Wé H120 F25:1\nFRAME\n".as_bytes().to_vec();
    b.extend_from_slice(&frame);
    std::fs::write(&bad, &b).unwrap();
    let t = fails(&["replay", s(&bad)]);
    assert!(
        t.contains("accent-width.y4m") && t.contains("bad width 'é'"),
        "{t}"
    );
}

/// Row 3: a header claiming 16384x16384 4:4:4 over 1 KB is refused from the header;
/// one within the limits but cut short fails with the frame and byte offset after
/// reading what is there (the buffer grows only with the data: see the unit test
/// `source::y4m::tests::a_huge_frame_over_a_short_stream_allocates_only_what_is_there`).
#[test]
fn y4m_claiming_a_huge_frame_over_a_short_file_is_refused() {
    let d = tmp("y4m-huge");
    let huge = d.join("huge.y4m");
    let mut b = b"YUV4MPEG2 W16384 H16384 F25:1 C444\nFRAME\n".to_vec();
    b.extend_from_slice(&[0u8; 1024]);
    std::fs::write(&huge, &b).unwrap();
    let t = fails(&["replay", s(&huge)]);
    assert!(
        t.contains("huge.y4m")
            && t.contains("16384x16384")
            && t.contains("MAX_PIXELS")
            && t.contains("ffmpeg"),
        "{t}"
    );

    let short = d.join("short.y4m");
    let mut b = b"YUV4MPEG2 W8192 H8192 F25:1 C444\nFRAME\n".to_vec();
    let header = b.len();
    b.extend_from_slice(&[0u8; 1024]);
    std::fs::write(&short, &b).unwrap();
    let t = fails(&["replay", s(&short)]);
    assert!(
        t.contains("short.y4m")
            && t.contains("frame 0")
            && t.contains(&format!("byte {}", header + 1024))
            && t.contains("truncated frame: 1024 of 201326592 bytes"),
        "{t}"
    );
}

// ---- truncated images ----

/// Row 4: a JPEG cut short is an error naming the file, not a picture with a gray
/// bottom; the whole file still reads.
#[test]
fn a_cut_jpeg_is_an_error_not_a_gray_picture() {
    let d = tmp("cut");
    let whole = photo_jpeg(256, 192);
    assert!(whole.len() > 6000, "{}", whole.len());
    let full = d.join("whole.jpg");
    std::fs::write(&full, &whole).unwrap();
    assert!(emocue::source::decode_bytes(&whole, "whole.jpg").is_ok());

    // cut at a sixth, as in the issue (3,000 of 17,428 bytes)
    let cut = &whole[..whole.len() * 3000 / 17428];
    let e = emocue::source::decode_bytes(cut, "cut.jpg")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cut.jpg") && e.contains("truncated or corrupt image"),
        "{e}"
    );
    let file = d.join("cut.jpg");
    std::fs::write(&file, cut).unwrap();
    for args in [vec!["classify", s(&file)], vec!["replay", s(&file)]] {
        let t = fails(&args);
        assert!(
            t.contains("cut.jpg") && t.contains("truncated or corrupt image"),
            "{args:?}: {t}"
        );
    }
    // every cut inside the picture data is noticed, none panics
    for n in (whole.len() / 4..whole.len() - 2).step_by(97) {
        assert!(
            emocue::source::decode_bytes(&whole[..n], "cut.jpg").is_err(),
            "cut at {n} of {}",
            whole.len()
        );
    }
}

/// Other formats cut short: the decoders themselves report it; checked so that a
/// decoder update that starts padding silently is noticed.
#[test]
fn other_formats_cut_short_are_errors() {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x * y) % 256) as u8])
    });
    for ext in ["png", "gif", "bmp", "tif", "webp"] {
        let mut b = std::io::Cursor::new(Vec::new());
        let format = image::ImageFormat::from_extension(ext).unwrap();
        img.write_to(&mut b, format).unwrap();
        let b = b.into_inner();
        for cut in [b.len() / 2, b.len() * 3 / 4, b.len() - 8] {
            let r = emocue::source::decode_bytes(&b[..cut], format!("x.{ext}"));
            assert!(r.is_err(), "{ext} cut to {cut} of {} decoded", b.len());
        }
    }
}

// ---- models ----

fn value_info(name: &str, shape: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1, // FLOAT
                shape: Some(pb::TensorShapeProto {
                    dim: shape
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        attribute: attrs,
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 7, // INTS
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 2, // INT
        i: v,
        ..Default::default()
    }
}

fn i64_tensor(name: &str, v: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: vec![v.len() as i64],
        data_type: 7, // INT64
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

fn f32_scalar(name: &str, v: f32) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: vec![],
        data_type: 1,
        float_data: vec![v],
        ..Default::default()
    }
}

/// Writes an opset-11 model with one input `x` of `input` shape.
fn write_model(
    path: &Path,
    input: &[i64],
    nodes: Vec<pb::NodeProto>,
    initializer: Vec<pb::TensorProto>,
    outputs: &[&str],
    meta: &[(&str, &str)],
) {
    let model = pb::ModelProto {
        ir_version: 6,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 11,
        }],
        graph: Some(pb::GraphProto {
            name: "g".into(),
            node: nodes,
            initializer,
            input: vec![value_info("x", input)],
            output: outputs.iter().map(|o| value_info(o, &[])).collect(),
            ..Default::default()
        }),
        metadata_props: meta
            .iter()
            .map(|(k, v)| pb::StringStringEntryProto {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
        ..Default::default()
    };
    std::fs::write(path, model.encode_to_vec()).unwrap();
}

const LABELS: &str = "neutral,happiness,surprise,sadness,anger,disgust,fear,contempt";

/// A classifier whose logits are the crop's mean brightness times `scale`, broadcast to
/// `width` classes: x [1,1,48,48] → ReduceMean → [1,1] → Mul → Expand to [1, width].
fn write_classifier(path: &Path, width: i64, scale: f32, meta: &[(&str, &str)]) {
    let mut all = vec![("labels", LABELS)];
    all.extend_from_slice(meta);
    write_model(
        path,
        &[1, 1, 48, 48],
        vec![
            node(
                "ReduceMean",
                &["x"],
                "m",
                vec![ints("axes", &[2, 3]), int("keepdims", 1)],
            ),
            node("Flatten", &["m"], "f", vec![int("axis", 1)]),
            node("Mul", &["f", "k"], "s", vec![]),
            node("Expand", &["s", "shape"], "logits", vec![]),
        ],
        vec![f32_scalar("k", scale), i64_tensor("shape", &[1, width])],
        &["logits"],
        &all,
    );
}

fn photo() -> &'static str {
    "samples/astronaut/frame_000.jpg"
}

#[test]
fn a_crafted_classifier_with_a_sane_contract_loads_and_reads_a_photo() {
    // The models below are refused for one reason each: this one, with nothing wrong,
    // shows the rest of them is sound.
    let d = tmp("model-ok");
    let m = d.join("ok.onnx");
    write_classifier(&m, 8, 0.01, &[]);
    let c = emocue::classify::Classifier::load(&m).unwrap();
    assert_eq!(c.labels().len(), 8);
    let out = emocue(&["classify", "--crop", "--model", s(&m), photo()]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Row 5: a detector with one output is refused at load with the path and the
/// contract, not an index panic at the first frame.
#[test]
fn a_detector_with_one_output_is_refused_at_load() {
    let d = tmp("detector");
    let one = d.join("one-output.onnx");
    write_model(
        &one,
        &[1, 3, 192, 192],
        vec![node("Identity", &["x"], "y", vec![])],
        vec![],
        &["y"],
        &[],
    );
    let two = d.join("wrong-shapes.onnx");
    write_model(
        &two,
        &[1, 3, 192, 192],
        vec![
            node("Identity", &["x"], "a", vec![]),
            node("Identity", &["x"], "b", vec![]),
        ],
        vec![],
        &["a", "b"],
        &[],
    );
    for (model, has) in [(&one, "has 1"), (&two, "has 2")] {
        let e = emocue::detect::Detector::load(model, Default::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(s(model)) && e.contains("[1, 2304, 16]") && e.contains(has),
            "{e}"
        );
        let cfg = d.join("settings.toml");
        std::fs::write(
            &cfg,
            format!("[models]\ndetector = {:?}\n", model.display().to_string()),
        )
        .unwrap();
        for args in [
            vec!["replay", photo(), "--config", s(&cfg)],
            vec!["classify", photo(), "--config", s(&cfg)],
        ] {
            let t = fails(&args);
            assert!(
                t.contains(s(model)) && t.contains("two outputs") && t.contains("models.detector"),
                "{args:?}: {t}"
            );
        }
    }
}

/// Row 6: a classifier whose output is 3e9 wide is refused from its shape, found by
/// analysis before tract types the graph (where it panicked: tract wraps the width to
/// a negative 32-bit number) and before anything runs or allocates.
#[test]
fn a_classifier_with_an_absurd_output_is_refused_before_it_runs() {
    let d = tmp("wide");
    let m = d.join("wide.onnx");
    write_classifier(&m, 3_000_000_000, 1.0, &[]);
    let e = emocue::classify::Classifier::load(&m)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("wide.onnx") && e.contains("'logits'") && e.contains("MAX_TENSOR_VALUES"),
        "{e}"
    );
    let t = fails(&["classify", "--model", s(&m), photo()]);
    assert!(
        t.contains("wide.onnx") && t.contains("MAX_TENSOR_VALUES"),
        "{t}"
    );
    // within 32 bits the size is named as it is
    let m = d.join("wide2.onnx");
    write_classifier(&m, 200_000_000, 1.0, &[]);
    let e = emocue::classify::Classifier::load(&m)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("[1, 200000000]") && e.contains("134217728"),
        "{e}"
    );
    // and an output over its own bound is named too
    let m = d.join("wide3.onnx");
    write_classifier(&m, 20_000_000, 1.0, &[]);
    let e = emocue::classify::Classifier::load(&m)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("[1, 20000000]") && e.contains("MAX_OUTPUT_VALUES"),
        "{e}"
    );
    // a sane width that disagrees with the labels is named too
    let m = d.join("nine.onnx");
    write_classifier(&m, 9, 1.0, &[]);
    let e = emocue::classify::Classifier::load(&m)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("[1, 9]") && e.contains("[1, 8]"), "{e}");
}

/// Row 7: metadata out of range is refused at load with the key and the range; a model
/// whose logits are NaN or infinite is refused at load (its probe) and never captions.
#[test]
fn model_metadata_out_of_range_and_nan_logits_are_refused() {
    let d = tmp("meta");
    for (i, (key, value)) in [
        ("crop_scale", "nan"),
        ("input_std", "0"),
        ("temperature", "inf"),
        ("input_mean", "NaN"),
        ("crop_dy", "-1e30"),
        ("input_size", "4096"),
    ]
    .into_iter()
    .enumerate()
    {
        let m = d.join(format!("meta{i}.onnx"));
        write_classifier(&m, 8, 0.01, &[(key, value)]);
        let t = fails(&["classify", "--model", s(&m), photo()]);
        assert!(
            t.contains(&format!("meta{i}.onnx")) && t.contains(key) && t.contains(value),
            "{key}={value}: {t}"
        );
    }
    for (name, scale) in [("nan", f32::NAN), ("inf", f32::INFINITY)] {
        let m = d.join(format!("{name}-logits.onnx"));
        write_classifier(&m, 8, scale, &[]);
        let e = emocue::classify::Classifier::load(&m)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(&format!("{name}-logits.onnx")) && e.contains("cannot be a class score"),
            "{e}"
        );
        let t = fails(&["classify", "--json", "--model", s(&m), photo()]);
        assert!(!t.contains("\"label\""), "{t}");
    }
}

#[test]
fn duplicate_metadata_keys_and_oversized_model_files_are_refused() {
    let d = tmp("meta-dup");
    let m = d.join("dup.onnx");
    write_classifier(
        &m,
        8,
        0.01,
        &[("temperature", "1.0"), ("temperature", "0.5")],
    );
    let e = emocue::classify::Classifier::load(&m)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("dup.onnx") && e.contains("'temperature' twice"),
        "{e}"
    );
    // a sparse file over the size limit is refused from its length, not read
    let big = d.join("big.onnx");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(emocue::onnx::MAX_MODEL_BYTES + 1).unwrap();
    let e = emocue::classify::Classifier::load(&big)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("big.onnx") && e.contains("MAX_MODEL_BYTES"),
        "{e}"
    );
    let _ = std::fs::remove_file(&big);
}
