//! The fuzz target bodies, in one place: the coverage-guided libFuzzer binaries
//! (`fuzz/fuzz_targets/*.rs`, `cargo fuzz run NAME`) and the stable, time-bounded
//! runner that CI uses (`examples/fuzz.rs`) call the same functions, so a crash found
//! by either replays in the other.
//!
//! Each body takes arbitrary bytes, feeds them to emocue's public API the way a user's
//! file would reach it, and panics when an invariant breaks: emocue must never panic,
//! abort, hang or allocate without bound on any input, and every refusal must be an
//! error that names the file. What a body returns is a short outcome signature
//! (`ok ...` or the error), which the stable runner uses as cheap feedback: a mutant
//! with an outcome not seen before joins its corpus.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use emocue::classify::Classifier;
use emocue::config::{Config, ConfigError};
use emocue::profile::{KEYS, Profile};
use emocue::source::{FrameSource, SourceError, Y4mReader};

/// A fuzz target: a name (also its folder under `fuzz/seeds/`, `fuzz/corpus/` and
/// `fuzz/artifacts/`), its body, and its token dictionary under `fuzz/dict/`.
pub struct Target {
    /// Name, e.g. `y4m`.
    pub name: &'static str,
    /// The body: panics on a broken invariant, else returns an outcome signature.
    pub run: fn(&[u8]) -> String,
    /// libFuzzer-format dictionary file name in `fuzz/dict/`.
    pub dict: &'static str,
}

/// Every target, in the order the runner visits them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "y4m",
        run: y4m,
        dict: "y4m.dict",
    },
    Target {
        name: "image",
        run: image,
        dict: "image.dict",
    },
    Target {
        name: "settings",
        run: settings,
        dict: "toml.dict",
    },
    Target {
        name: "profile",
        run: profile,
        dict: "toml.dict",
    },
    Target {
        name: "model_meta",
        run: model_meta,
        dict: "model_meta.dict",
    },
];

/// Inputs longer than this are cut: the readers under test must bound what they
/// allocate by what the bytes claim, and 64 KiB is enough to claim anything.
pub const MAX_INPUT: usize = 64 * 1024;

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// An error must say something and name the file it is about.
fn check_error(msg: &str, file: &str) -> String {
    assert!(!msg.trim().is_empty(), "empty error message");
    assert!(
        msg.contains(file),
        "error does not name the file {file}: {msg}"
    );
    format!("err {}", msg.lines().next().unwrap_or_default())
}

/// Text the way a settings or profile file reaches the parser (UTF-8; other bytes
/// are replaced, so every input still exercises the parser).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `file:line:column` must point inside the text: line 1..=lines, column
/// 1..=characters of that line + 1.
fn check_position(text: &str, line: usize, column: usize, msg: &str) {
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        line >= 1 && line <= lines.len(),
        "line {line} outside the text's {} lines: {msg}",
        lines.len()
    );
    let width = lines[line - 1].chars().count();
    assert!(
        column >= 1 && column <= width + 1,
        "column {column} outside line {line} ({width} characters): {msg}"
    );
}

/// Y4M clips: `Y4mReader::from_reader` over the bytes, then every frame. The reader
/// must never yield more frames than the bytes hold, and each frame has the header's
/// size and the next index.
pub fn y4m(data: &[u8]) -> String {
    const FILE: &str = "fuzz.y4m";
    let read = Box::new(Cursor::new(data.to_vec()));
    let mut r = match Y4mReader::from_reader(Path::new(FILE), read) {
        Ok(r) => r,
        Err(e) => return check_error(&e.to_string(), FILE),
    };
    let (w, h) = r.size();
    assert!(w > 0 && h > 0, "accepted a {w}x{h} clip");
    // The smallest frame is a mono one: "FRAME\n" and one byte per pixel.
    let most = data.len() / (w * h + 6);
    let mut frames = 0usize;
    loop {
        match r.next_frame() {
            Ok(Some(f)) => {
                assert_eq!(f.index, frames as u64, "frame index out of order");
                frames += 1;
                assert!(
                    frames <= most,
                    "{frames} frames of {w}x{h} from {} bytes",
                    data.len()
                );
                assert_eq!(f.image.dimensions(), (w as u32, h as u32), "frame size");
                assert!(f.timestamp_ms.is_finite(), "frame time {}", f.timestamp_ms);
            }
            Ok(None) => return format!("ok {w}x{h} {:?} {frames} frames", r.chroma()),
            Err(e) => {
                let sig = check_error(&e.to_string(), FILE);
                return format!("{sig} after {frames} frames");
            }
        }
    }
}

/// Decodes image bytes through the code path emocue loads photos and frames with.
/// The one line to change when `emocue::source::images::decode_bytes` lands:
/// `emocue::source::decode_bytes(bytes, name)`.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<::image::RgbImage, SourceError> {
    emocue::source::decode_bytes(bytes, name)
}

/// A scratch file of this process and thread, so neither concurrent runners nor the
/// test harness's parallel threads write over each other's file mid-load.
fn scratch_file(name: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!(
        "emocue-fuzz-{}-{thread}-{name}",
        std::process::id()
    ))
}

/// Images (PNG, JPEG, GIF, BMP, TIFF, WebP, told apart by their bytes): a decoded
/// image is consistent, anything else is an error naming the file.
pub fn image(data: &[u8]) -> String {
    const FILE: &str = "fuzz.img";
    match decode_image(data, FILE) {
        Ok(img) => {
            let (w, h) = img.dimensions();
            assert!(w > 0 && h > 0, "decoded a {w}x{h} image");
            assert_eq!(
                img.as_raw().len(),
                w as usize * h as usize * 3,
                "pixel count"
            );
            "ok".to_string()
        }
        Err(e) => check_error(&e.to_string(), FILE),
    }
}

/// Settings (`Config::parse`, what `check-config` and start-up run): accepted settings
/// pass their own validation again; refusals point inside the file.
pub fn settings(data: &[u8]) -> String {
    // In config/, so a profile given relative to the settings file is found there
    // (when run from the repository root, as CI and the tests do).
    const FILE: &str = "config/fuzz-settings.toml";
    let text = text(data);
    match Config::parse(&text, Path::new(FILE)) {
        Ok(cfg) => {
            if let Err(e) = cfg.validate() {
                panic!("Config::parse accepted settings that validate() refuses: {e}");
            }
            "ok".to_string()
        }
        Err(e) => config_error(&text, &e, FILE),
    }
}

/// Wording profiles (`Profile::parse`): an accepted profile has every key; refusals
/// list each problem at a position inside the file.
pub fn profile(data: &[u8]) -> String {
    const FILE: &str = "fuzz-profile.toml";
    let text = text(data);
    match Profile::parse(&text, Path::new(FILE)) {
        Ok(p) => {
            for key in KEYS {
                assert!(p.label(key).is_some(), "accepted profile lacks [{key}]");
            }
            "ok".to_string()
        }
        Err(e) => config_error(&text, &e, FILE),
    }
}

fn config_error(text: &str, e: &ConfigError, file: &str) -> String {
    let msg = e.to_string();
    match e {
        ConfigError::Parse { line, column, .. } => check_position(text, *line, *column, &msg),
        ConfigError::Problems { problems, .. } => {
            assert!(!problems.is_empty(), "an error with no problems: {msg}");
            for p in problems {
                check_position(text, p.line, p.column, &msg);
            }
        }
        _ => {}
    }
    check_error(&msg, file)
}

/// Model metadata: the bytes are `key=value` lines, stored as the `metadata_props` of a
/// tiny classifier ONNX (input → GlobalAveragePool → Flatten → MatMul → one logit per
/// class key) loaded with `Classifier::load`, as a retrained model would be. A loaded
/// model's contract is usable: its numbers are finite and a mid-grey crop gives
/// probabilities that are finite and sum to 1.
pub fn model_meta(data: &[u8]) -> String {
    const FILE: &str = "fuzz-model.onnx";
    let props = metadata_lines(data);
    let path = scratch_file(FILE);
    if let Err(e) = std::fs::write(&path, tiny_classifier(&props)) {
        panic!("cannot write {}: {e}", path.display());
    }
    let mut c = match Classifier::load(&path) {
        Ok(c) => c,
        Err(e) => return check_error(&e.to_string(), FILE),
    };
    let k = c.contract().clone();
    assert!(!k.labels.is_empty(), "no class keys");
    for (name, v) in [
        ("input_mean", k.mean),
        ("input_std", k.std),
        ("temperature", k.temperature),
        ("crop_scale", k.crop.scale),
        ("crop_dx", k.crop.dx),
        ("crop_dy", k.crop.dy),
    ] {
        assert!(v.is_finite(), "accepted metadata {name} = {v}");
    }
    assert!(k.std != 0.0, "accepted input_std = 0");
    assert!(k.crop.scale > 0.0, "accepted crop_scale = {}", k.crop.scale);
    assert!(
        k.temperature > 0.0,
        "accepted temperature = {}",
        k.temperature
    );
    let crop = vec![128.0; k.crop.size * k.crop.size];
    match c.classify(&[crop]) {
        Ok(probs) => {
            assert_eq!(probs.len(), 1, "one crop, {} results", probs.len());
            let p = &probs[0];
            assert_eq!(p.len(), k.labels.len(), "one probability per class key");
            let sum: f32 = p.iter().sum();
            assert!(
                p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v))
                    && (sum - 1.0).abs() < 1e-3,
                "probabilities {p:?} from metadata {props:?}"
            );
            format!("ok {} classes", k.labels.len())
        }
        Err(e) => check_error(&e.to_string(), FILE),
    }
}

/// `key=value` lines (a line without `=` is a key with an empty value). Text is made
/// valid UTF-8, as protobuf strings must be.
pub fn metadata_lines(data: &[u8]) -> Vec<(String, String)> {
    text(data)
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// Bytes of an ONNX model (opset 13) whose output has one logit per class key named in
/// `props` (`labels`, comma-separated; 8 when absent, at most 64), with `props` as its
/// `metadata_props`. Hand-encoded protobuf, so the harness needs no protobuf crate.
pub fn tiny_classifier(props: &[(String, String)]) -> Vec<u8> {
    let classes = props
        .iter()
        .rev()
        .find(|(k, _)| k == "labels")
        .map_or(8, |(_, v)| v.split(',').count())
        .clamp(1, 64);
    let weights: Vec<f32> = (0..classes).map(|i| 0.25 * (i as f32 + 1.0)).collect();
    let mut w = Vec::new();
    for d in [1, classes as u64] {
        pb_varint_field(&mut w, 1, d); // dims
    }
    pb_varint_field(&mut w, 2, 1); // data_type FLOAT
    pb_bytes(&mut w, 8, b"w"); // name
    let raw: Vec<u8> = weights.iter().flat_map(|f| f.to_le_bytes()).collect();
    pb_bytes(&mut w, 9, &raw); // raw_data

    let node = |inputs: &[&str], output: &str, op: &str, attrs: &[u8]| {
        let mut n = Vec::new();
        for i in inputs {
            pb_bytes(&mut n, 1, i.as_bytes());
        }
        pb_bytes(&mut n, 2, output.as_bytes());
        pb_bytes(&mut n, 4, op.as_bytes());
        n.extend_from_slice(attrs);
        n
    };
    let mut axis = Vec::new();
    pb_bytes(&mut axis, 1, b"axis"); // name
    pb_varint_field(&mut axis, 3, 1); // i
    pb_varint_field(&mut axis, 20, 2); // type INT
    let mut flatten_attrs = Vec::new();
    pb_bytes(&mut flatten_attrs, 5, &axis);

    let value_info = |name: &str, dims: &[&str]| {
        let mut shape = Vec::new();
        for d in dims {
            let mut dim = Vec::new();
            pb_bytes(&mut dim, 2, d.as_bytes()); // dim_param
            pb_bytes(&mut shape, 1, &dim);
        }
        let mut tensor = Vec::new();
        pb_varint_field(&mut tensor, 1, 1); // elem_type FLOAT
        pb_bytes(&mut tensor, 2, &shape);
        let mut ty = Vec::new();
        pb_bytes(&mut ty, 1, &tensor);
        let mut vi = Vec::new();
        pb_bytes(&mut vi, 1, name.as_bytes());
        pb_bytes(&mut vi, 2, &ty);
        vi
    };

    let mut graph = Vec::new();
    pb_bytes(
        &mut graph,
        1,
        &node(&["input"], "pooled", "GlobalAveragePool", &[]),
    );
    pb_bytes(
        &mut graph,
        1,
        &node(&["pooled"], "flat", "Flatten", &flatten_attrs),
    );
    pb_bytes(
        &mut graph,
        1,
        &node(&["flat", "w"], "logits", "MatMul", &[]),
    );
    pb_bytes(&mut graph, 2, b"fuzz");
    pb_bytes(&mut graph, 5, &w);
    pb_bytes(&mut graph, 11, &value_info("input", &["n", "c", "h", "w"]));
    pb_bytes(&mut graph, 12, &value_info("logits", &["n", "k"]));

    let mut opset = Vec::new();
    pb_bytes(&mut opset, 1, b"");
    pb_varint_field(&mut opset, 2, 13);

    let mut model = Vec::new();
    pb_varint_field(&mut model, 1, 8); // ir_version
    pb_bytes(&mut model, 7, &graph);
    pb_bytes(&mut model, 8, &opset);
    for (k, v) in props {
        let mut entry = Vec::new();
        pb_bytes(&mut entry, 1, k.as_bytes());
        pb_bytes(&mut entry, 2, v.as_bytes());
        pb_bytes(&mut model, 14, &entry);
    }
    model
}

fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pb_varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    pb_varint(out, field << 3);
    pb_varint(out, v);
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    pb_varint(out, (field << 3) | 2);
    pb_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}
