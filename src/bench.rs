//! `emocue bench`: single-thread throughput and latency of each stage and of the whole
//! pipeline, on the bundled sample clip scaled to 640x480. Key names are documented in
//! docs/performance.md and shared with `training/tools/bench_onnxruntime.py`. `--soak`
//! replays a long looped clip instead and watches resident memory ([`soak`]).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::Frame;
use crate::classify::Classifier;
use crate::config::Config;
use crate::pipeline::resolve_model;
use crate::render::{OverlayFace, RenderMode, Renderer, Scene};
use crate::session::{Session, scene};
use crate::source;
use crate::stats::percentile;

/// Runs `f` repeatedly for about `secs` seconds (after a short warm-up) and reports
/// calls per second and latency percentiles in ms.
pub fn measure(
    secs: f64,
    items_per_call: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Value> {
    let budget = Duration::try_from_secs_f64(secs)
        .map_err(|_| anyhow::anyhow!("{secs} is not a number of seconds to measure for"))?;
    for _ in 0..3 {
        f()?;
    }
    let mut lat = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || lat.len() < 5 {
        let t = Instant::now();
        f()?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let total = start.elapsed().as_secs_f64();
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    Ok(json!({
        "per_s": r(lat.len() as f64 * items_per_call as f64 / total),
        "p50_ms": r(percentile(&lat, 0.5)),
        "p95_ms": r(percentile(&lat, 0.95)),
        "calls": lat.len(),
    }))
}

/// Peak resident memory of this process in MiB (Linux), if known.
pub fn peak_rss_mib() -> Option<f64> {
    proc_status_mib("VmHWM:")
}

/// Resident memory of this process now, MiB (Linux), if known: what a soak watches
/// for growth, since the peak hides a slow leak behind the model-loading peak.
pub fn rss_mib() -> Option<f64> {
    proc_status_mib("VmRSS:")
}

/// A `kB` line of /proc/self/status, in MiB to one decimal.
fn proc_status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}

/// Loads the sample clip, each frame scaled to 640x480.
pub fn sample_frames() -> anyhow::Result<Vec<Frame>> {
    let dir = crate::bundled_path("samples/astronaut");
    let mut src = source::open(&dir, 15.0)?;
    let mut frames = Vec::new();
    while let Some(f) = src.next_frame()? {
        let img =
            image::imageops::resize(&f.image, 640, 480, image::imageops::FilterType::Triangle);
        frames.push(Frame::new(f.index, f.timestamp_ms, img));
    }
    Ok(frames)
}

/// What `emocue bench` measures.
#[derive(Clone, Debug, Default)]
pub struct BenchOptions {
    /// Seconds per measurement.
    pub seconds: f64,
    /// Measure this classifier file (key `classifier_model_batch{1,4}`) instead of the
    /// configured int8 model and its f32 sibling: compares int8 forms in tract.
    pub model: Option<std::path::PathBuf>,
    /// Only the classifier: skip detector, pipeline and rendering.
    pub classifier_only: bool,
    /// Also time the same files in onnxruntime with this Python (which has it
    /// installed), through `training/tools/bench_onnxruntime.py`, and add the ratios.
    pub onnxruntime: Option<std::path::PathBuf>,
    /// Also time the pipeline on this clip (Y4M or a folder of images): the sample
    /// clip's simulated motion makes the detector run on most frames, a real
    /// recording shows what the schedule does with a real face.
    pub clip: Option<std::path::PathBuf>,
}

/// The most frames of a `--clip` kept in memory (each 640x480 RGB, 0.9 MB): 8 s at
/// 25 fps, looped.
pub const MAX_CLIP_FRAMES: usize = 200;

/// Loads up to [`MAX_CLIP_FRAMES`] frames of `path`, each scaled to 640x480, and the
/// clip's frame rate.
pub fn clip_frames(path: &Path) -> anyhow::Result<(Vec<Frame>, f64)> {
    let mut src = source::open(path, 25.0).map_err(|e| anyhow::anyhow!("--clip: {e}"))?;
    let fps = Some(src.fps())
        .filter(|f| f.is_finite() && *f > 0.0)
        .unwrap_or(25.0);
    let mut frames = Vec::new();
    while frames.len() < MAX_CLIP_FRAMES {
        let Some(f) = src
            .next_frame()
            .map_err(|e| anyhow::anyhow!("--clip: {e}"))?
        else {
            break;
        };
        let img =
            image::imageops::resize(&f.image, 640, 480, image::imageops::FilterType::Triangle);
        frames.push(Frame::new(f.index, f.timestamp_ms, img));
    }
    anyhow::ensure!(!frames.is_empty(), "--clip {}: no frames", path.display());
    Ok((frames, fps))
}

/// Adds `images_per_s` to a measurement whose `per_s` counts items of `images`
/// network images each (a face with its mirror image is two).
fn with_images(mut m: Value, images: usize) -> Value {
    if let Some(per_s) = m["per_s"].as_f64() {
        m["images_per_face"] = json!(images);
        m["images_per_s"] = json!((per_s * images as f64 * 1000.0).round() / 1000.0);
    }
    m
}

/// Every measurement, as one JSON object.
pub fn run(config: &Config, opts: &BenchOptions) -> anyhow::Result<Value> {
    let secs = opts.seconds;
    // A clip that cannot be read fails before anything is measured.
    let clip = opts.clip.as_deref().map(clip_frames).transpose()?;
    let frames = sample_frames()?;
    let first = frames
        .first()
        .ok_or_else(|| anyhow::anyhow!("the sample clip samples/astronaut has no frames"))?;
    let mut out = Map::new();
    let luma = first.luma();
    let mut pipeline = Session::new(config.clone())?;
    let dets = pipeline.pipeline_mut().detector_mut().detect(first)?;
    let det = dets
        .first()
        .ok_or_else(|| anyhow::anyhow!("no face in the sample frame"))?
        .clone();

    // The configured classifier's family: base.w8.onnx (int8 weights), base.int8.onnx
    // (QDQ, int8 activations too: the default) and base.onnx (f32), where present.
    let configured = resolve_model(&config.models.classifier);
    let name = configured.to_string_lossy().into_owned();
    let base = [".w8.onnx", ".int8.onnx", ".onnx"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(&name)
        .to_string();
    let models = match &opts.model {
        Some(m) => vec![("model", m.clone())],
        None => [("w8", ".w8.onnx"), ("int8", ".int8.onnx"), ("f32", ".onnx")]
            .iter()
            .map(|(k, s)| (*k, std::path::PathBuf::from(format!("{base}{s}"))))
            .collect(),
    };
    for (key, path) in models {
        let path: &Path = &path;
        if !path.exists() {
            if opts.model.is_some() {
                anyhow::bail!("no classifier model at {}", path.display());
            }
            continue;
        }
        let mut c = Classifier::load(path)?;
        let crop = c.contract().crop.crop(&luma, &det);
        let images = if c.contract().flip { 2 } else { 1 };
        for b in [1usize, 4] {
            let batch = vec![crop.clone(); b];
            let m = measure(secs, b, || c.logits(&batch).map(|_| ()).map_err(Into::into))?;
            out.insert(format!("classifier_{key}_batch{b}"), with_images(m, images));
        }
    }
    if opts.classifier_only {
        out.insert("peak_rss_mib".into(), json!(peak_rss_mib()));
        out.insert("threads".into(), json!(1));
        if let Some(py) = &opts.onnxruntime {
            let detector = resolve_model(&config.models.detector);
            let ort = onnxruntime(py, secs, &base, &detector, opts)?;
            add_onnxruntime(&mut out, &ort);
        }
        return Ok(Value::Object(out));
    }
    let mut i = 0;
    let m = measure(secs, 1, || {
        i = (i + 1) % frames.len();
        pipeline
            .pipeline_mut()
            .detector_mut()
            .detect(&frames[i])
            .map(|_| ())
            .map_err(Into::into)
    })?;
    out.insert("detector_640x480".into(), with_images(m, 1));
    out.insert(
        "pipeline_640x480".into(),
        pipeline_rate(secs, &frames, &mut pipeline)?,
    );
    // The same with the detector on every frame (`[detection] every_frames = 1`) and
    // every fifth frame at most: what the schedule saves, in the same run, whatever
    // the settings file says.
    for (key, n) in [
        ("pipeline_640x480_detect_every_frame", 1),
        ("pipeline_640x480_detect_every_5", 5),
    ] {
        let mut every = config.clone();
        every.detection.every_frames = n;
        out.insert(
            key.into(),
            pipeline_rate(secs, &frames, &mut Session::new(every)?)?,
        );
    }
    // Four faces (issue 20's second target): the sample's frames tiled 2 x 2, each
    // quadrant at another point of the clip, so the four faces move differently.
    let four = four_faces(&frames);
    let mut session = Session::new(config.clone())?;
    let (mut i, mut t, mut calls, mut seen, mut ran) = (0, 0.0, 0u64, 0u64, 0u64);
    let mut m = measure(secs, 1, || {
        i = (i + 1) % four.len();
        t += 1000.0 / 15.0;
        let r = session.process(&Frame::new(i as u64, t, four[i].image.clone()))?;
        calls += 1;
        seen += r.faces.len() as u64;
        ran += u64::from(r.timing.detector_ran);
        Ok(())
    })?;
    let per_frame = |k: u64| json!((k as f64 / calls.max(1) as f64 * 1000.0).round() / 1000.0);
    m["faces_per_frame"] = per_frame(seen);
    m["detector_share"] = per_frame(ran);
    out.insert("pipeline_640x480_4faces".into(), m);
    if let (Some(path), Some((clip, fps))) = (&opts.clip, clip) {
        let mut session = Session::new(config.clone())?;
        let (mut ran, mut n) = (0u64, 0u64);
        let mut i = 0;
        let mut t = 0.0;
        let mut m = measure(secs, 1, || {
            let f = Frame::new(n, t, clip[i].image.clone());
            i = (i + 1) % clip.len();
            t += 1000.0 / fps;
            n += 1;
            let r = session.process(&f)?;
            ran += u64::from(r.timing.detector_ran);
            Ok(())
        })?;
        m["clip"] = json!(path.display().to_string());
        m["clip_frames"] = json!(clip.len());
        m["detector_share"] = json!((ran as f64 / n.max(1) as f64 * 1000.0).round() / 1000.0);
        out.insert("pipeline_640x480_clip".into(), m);
    }
    render(config, secs, &frames, &mut pipeline, &mut out)?;
    out.insert("peak_rss_mib".into(), json!(peak_rss_mib()));
    out.insert("threads".into(), json!(1));
    if let Some(py) = &opts.onnxruntime {
        let detector = resolve_model(&config.models.detector);
        let ort = onnxruntime(py, secs, &base, &detector, opts)?;
        add_onnxruntime(&mut out, &ort);
    }
    Ok(Value::Object(out))
}

/// The sample clip with four faces: frame i holds frames i, i + n/4, i + n/2 and
/// i + 3n/4 (of n), each at half size, in the four quadrants of a 640x480 frame.
fn four_faces(frames: &[Frame]) -> Vec<Frame> {
    let n = frames.len();
    let half: Vec<image::RgbImage> = frames
        .iter()
        .map(|f| image::imageops::resize(&f.image, 320, 240, image::imageops::FilterType::Triangle))
        .collect();
    (0..n)
        .map(|i| {
            let mut img = image::RgbImage::new(640, 480);
            for (q, (x, y)) in [(0, 0), (320, 0), (0, 240), (320, 240)]
                .into_iter()
                .enumerate()
            {
                image::imageops::replace(&mut img, &half[(i + q * n / 4) % n], x, y);
            }
            Frame::new(i as u64, frames[i].timestamp_ms, img)
        })
        .collect()
}

/// Frames per second of the whole pipeline over the sample clip, looped (15 fps
/// timestamps, so the clip's jump back to its first frame is a face that moved).
fn pipeline_rate(secs: f64, frames: &[Frame], pipeline: &mut Session) -> anyhow::Result<Value> {
    let mut i = 0;
    let mut t = 0.0;
    measure(secs, 1, || {
        i = (i + 1) % frames.len();
        t += 1000.0 / 15.0;
        let f = Frame::new(i as u64, t, frames[i].image.clone());
        pipeline.process(&f).map(|_| ()).map_err(Into::into)
    })
}

/// Runs `training/tools/bench_onnxruntime.py` with `python` on the same files (the
/// classifier family `base`, or `--model`, and `detector`) for as long per
/// measurement, one thread, and returns its JSON.
fn onnxruntime(
    python: &Path,
    secs: f64,
    base: &str,
    detector: &Path,
    opts: &BenchOptions,
) -> anyhow::Result<Value> {
    let script = crate::bundled_path("training/tools/bench_onnxruntime.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(&script)
        .args(["--json", "--seconds", &secs.to_string()])
        .args(["--classifier-base", base])
        .arg("--detector")
        .arg(detector)
        .env("OMP_NUM_THREADS", "1");
    if let Some(m) = &opts.model {
        cmd.arg("--model").arg(m);
    }
    if opts.classifier_only {
        cmd.arg("--classifier-only");
    }
    let out = cmd.output().map_err(|e| {
        anyhow::anyhow!(
            "cannot run {} for the onnxruntime comparison: {e}; pass --onnxruntime \
             PYTHON, a Python with onnxruntime and numpy installed",
            python.display()
        )
    })?;
    if !out.status.success() {
        anyhow::bail!(
            "{} {} failed: {}",
            python.display(),
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| anyhow::anyhow!("{} printed no JSON: {e}", script.display()))
}

/// Puts onnxruntime's rates beside each network measurement that both ran, with
/// `vs_onnxruntime`: tract's network images per second over onnxruntime's on the
/// same file (`per_s` when a side reports no image count).
fn add_onnxruntime(out: &mut Map<String, Value>, ort: &Value) {
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    for (k, v) in out.iter_mut() {
        let Some(o) = ort.get(k).filter(|o| o["per_s"].is_number()) else {
            continue;
        };
        let rate = |m: &Value| m["images_per_s"].as_f64().or(m["per_s"].as_f64());
        if let (Some(ours), Some(theirs)) = (rate(v), rate(o))
            && theirs > 0.0
        {
            v["vs_onnxruntime"] = json!(r3(ours / theirs));
        }
        v["onnxruntime"] = json!({
            "per_s": o["per_s"],
            "images_per_s": o["images_per_s"],
            "p50_ms": o["p50_ms"],
        });
    }
    out.insert("onnxruntime_runtime".into(), ort["runtime"].clone());
}

/// A scene of `n` captioned faces side by side, as the render benchmark draws it.
fn bench_scene(n: usize, t: f64) -> Scene {
    Scene {
        timestamp_ms: t,
        faces: (0..n)
            .map(|k| OverlayFace {
                track_id: k as u64 + 1,
                rect: crate::detect::Rect {
                    x: 30.0 + k as f32 * 150.0,
                    y: 200.0,
                    w: 110.0,
                    h: 130.0,
                },
                detected: true,
                caption: Some("looks surprised".into()),
                unsure: false,
                probs: vec![0.1; 8],
                shown_index: Some(2),
            })
            .collect(),
        ..Default::default()
    }
}

/// (d) of the issue: offscreen overlay rendering with readback (1 and 4 captions over a
/// 640x480 camera frame) and the whole pipeline with rendering. Without a GPU adapter
/// the keys hold the reason instead of numbers, so the rest of the bench still runs.
fn render(
    config: &Config,
    secs: f64,
    frames: &[Frame],
    pipeline: &mut Session,
    out: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    let keys = [
        "render_640x480_1caption",
        "render_640x480_4captions",
        "pipeline_640x480_render",
    ];
    let mut r = match Renderer::new(config.overlay.clone(), RenderMode::Passthrough) {
        Ok(r) => r,
        Err(e) => {
            for k in keys {
                out.insert(k.into(), json!({ "skipped": e.to_string() }));
            }
            return Ok(());
        }
    };
    out.insert("render_adapter".into(), json!(r.adapter()));
    let Some(first) = frames.first() else {
        return Ok(());
    };
    for (key, n) in [(keys[0], 1), (keys[1], 4)] {
        let mut t = 0.0;
        let m = measure(secs, 1, || {
            t += 40.0;
            r.render(&first.image, &bench_scene(n, t))
                .map(|_| ())
                .map_err(Into::into)
        })?;
        out.insert(key.into(), m);
    }
    let mut i = 0;
    let mut t = 1.0e6;
    let m = measure(secs, 1, || {
        i = (i + 1) % frames.len();
        t += 1000.0 / 15.0;
        let f = Frame::new(i as u64, t, frames[i].image.clone());
        let fr = pipeline.process(&f)?;
        r.render(&f.image, &scene(&fr, Vec::new()))?;
        Ok(())
    })?;
    out.insert(keys[2].into(), m);
    Ok(())
}

/// Where tract spends a classifier's time: each node of the optimised plan timed over
/// `secs` seconds of runs on `batch` images (the app runs 1 at a time), as
/// `{runs, total_ms, nodes: [{node, op, ms, share}], ops: {op: share}}`, slowest first.
/// The per-node clock adds a little overhead of its own (compare `total_ms` with
/// `classifier_*_batch1`).
pub fn profile_model(path: &Path, batch: usize, secs: f64) -> anyhow::Result<Value> {
    use tract_onnx::prelude::*;
    use tract_onnx::tract_core::ops::OpState;
    use tract_onnx::tract_core::plan::{EvalContext, eval};

    let file = crate::onnx::OnnxFile::load(path, "pass an existing --model PATH")?;
    // A classifier (it has `labels`) takes `batch` gray crops; another model (the detector)
    // its own fixed input shape.
    let size = file.meta("input_size").ok().and_then(|s| s.parse().ok());
    let shape: Vec<usize> = match size.filter(|_| file.meta("labels").is_ok()) {
        Some(size) => vec![batch, 1, size, size],
        None => file
            .model
            .input_fact(0)?
            .shape
            .as_concrete_finite()?
            .ok_or_else(|| anyhow::anyhow!("{} has no fixed input shape", path.display()))?
            .to_vec(),
    };
    let plan = file.plan(&shape)?;
    let mut state = plan.spawn()?;
    let input = Tensor::from_shape(&shape, &vec![0.1f32; shape.iter().product()])?;
    let n_nodes = plan.model().nodes().len();
    let mut times = vec![Duration::ZERO; n_nodes];
    let mut runs = 0usize;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs || runs < 10 {
        state.run_plan_with_eval(
            tvec!(input.clone().into()),
            |ctx: &EvalContext,
             st: Option<&mut (dyn OpState + 'static)>,
             node: &TypedNode,
             inp: TVec<TValue>| {
                let t = Instant::now();
                let r = eval(ctx, st, node, inp);
                times[node.id] += t.elapsed();
                r
            },
        )?;
        runs += 1;
    }
    let total: f64 = times.iter().map(|d| d.as_secs_f64()).sum::<f64>() * 1000.0 / runs as f64;
    let mut nodes: Vec<(String, String, f64)> = plan
        .model()
        .nodes()
        .iter()
        .map(|n| {
            (
                n.name.clone(),
                n.op().name().to_string(),
                times[n.id].as_secs_f64() * 1000.0 / runs as f64,
            )
        })
        .filter(|(_, _, ms)| *ms > 0.0)
        .collect();
    nodes.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut by_op: std::collections::HashMap<&str, f64> = Default::default();
    for (_, op, ms) in &nodes {
        *by_op.entry(op).or_default() += ms;
    }
    let mut by_op: Vec<_> = by_op.into_iter().collect();
    by_op.sort_by(|a, b| b.1.total_cmp(&a.1));
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let ops: Map<String, Value> = by_op
        .into_iter()
        .map(|(op, ms)| (op.to_string(), json!(r3(ms / total))))
        .collect();
    Ok(json!({
        "model": path.display().to_string(),
        "input": shape,
        "runs": runs,
        "total_ms": r3(total),
        "nodes": nodes.iter().map(|(n, o, ms)| json!({"node": n, "op": o, "ms": r3(*ms), "share": r3(ms / total)})).collect::<Vec<_>>(),
        "ops": ops,
    }))
}

/// What `emocue bench --soak` replays.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    /// Minutes of video.
    pub minutes: f64,
    /// Frame rate of the clip's timestamps (frames are not paced: it runs flat out).
    pub fps: f64,
}

/// The soak clip, in memory: the sample's frames at 640x480 and then a second of
/// empty frames, over and over, so each loop ends a track and starts a new one (any
/// per-face state that is never freed shows up as growth).
struct LoopClip {
    frames: Vec<image::RgbImage>,
    next: u64,
    total: u64,
    fps: f64,
}

impl source::FrameSource for LoopClip {
    fn next_frame(&mut self) -> Result<Option<Frame>, source::SourceError> {
        if self.next >= self.total || self.frames.is_empty() {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        let k = (i % self.frames.len() as u64) as usize;
        Ok(self
            .frames
            .get(k)
            .map(|img| Frame::new(i, i as f64 * 1000.0 / self.fps, img.clone())))
    }

    fn fps(&self) -> f64 {
        self.fps
    }

    fn describe(&self) -> String {
        format!(
            "soak clip: the sample looped, {} frames at {} fps",
            self.total, self.fps
        )
    }
}

/// Counts the lines and bytes written through it, keeping none: the soak's event
/// sink (the count proves every frame's line was written).
#[derive(Debug, Default)]
pub struct LineCounter {
    lines: std::cell::Cell<u64>,
    bytes: std::cell::Cell<u64>,
}

impl LineCounter {
    /// Complete lines so far.
    pub fn lines(&self) -> u64 {
        self.lines.get()
    }

    /// Bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.get()
    }
}

impl std::io::Write for &LineCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        self.lines.set(self.lines.get() + n);
        self.bytes.set(self.bytes.get() + buf.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Issue 21's soak: `opts.minutes` of video through the real pipeline, with latency
/// in the event lines as `replay` writes them, flat out (no pacing). Resident memory
/// (`VmRSS`) and its peak (`VmHWM`) are read after every minute of video and handed
/// to `progress`; the report compares the first minute with the end. `stop` ends it
/// early (a signal), with the report of what ran.
pub fn soak(
    config: &Config,
    opts: &SoakOptions,
    progress: &mut dyn FnMut(&str),
    stop: &crate::replay::StopCheck<'_>,
) -> anyhow::Result<Value> {
    if !(opts.fps.is_finite() && opts.fps > 0.0 && opts.minutes.is_finite() && opts.minutes > 0.0) {
        anyhow::bail!(
            "a soak needs a positive length and frame rate, not {} minutes at {} fps",
            opts.minutes,
            opts.fps
        );
    }
    let mut frames: Vec<image::RgbImage> = sample_frames()?.into_iter().map(|f| f.image).collect();
    let (w, h) = frames.first().map_or((640, 480), |f| f.dimensions());
    let gap = opts.fps.round().max(1.0) as usize;
    frames.extend(std::iter::repeat_n(image::RgbImage::new(w, h), gap));
    let per_minute = (opts.fps * 60.0).round().max(1.0) as u64;
    let total = (opts.minutes * 60.0 * opts.fps).round().max(1.0) as u64;
    let mut clip = LoopClip {
        frames,
        next: 0,
        total,
        fps: opts.fps,
    };
    let mut pipeline = Session::new(config.clone())?;
    let counter = LineCounter::default();
    let mut sink = &counter;
    let r1 = |x: f64| (x * 10.0).round() / 10.0;
    let start = Instant::now();
    let mut by_minute: Vec<Value> = Vec::new();
    let mut last = (Instant::now(), 0u64);
    let mut on_frame = |frame: &Frame,
                        _: &crate::pipeline::FrameResult,
                        _: &[crate::render::Notice]| {
        let done = frame.index + 1;
        if done.is_multiple_of(per_minute) || done == total {
            let (t, f) = last;
            let fps = (done - f) as f64 / t.elapsed().as_secs_f64().max(1e-9);
            last = (Instant::now(), done);
            let m = json!({
                "minute": r1(done as f64 / per_minute as f64),
                "frames": done,
                "event_lines": counter.lines(),
                "rss_mib": rss_mib(),
                "peak_rss_mib": peak_rss_mib(),
                "frames_per_s": r1(fps),
            });
            progress(&format!(
                "minute {} of {}: {} frames, {} event lines, resident {} MiB, peak {} MiB, {:.1} frames/s",
                m["minute"],
                opts.minutes,
                done,
                counter.lines(),
                m["rss_mib"],
                m["peak_rss_mib"],
                fps
            ));
            by_minute.push(m);
        }
        Ok(())
    };
    let summary = crate::replay::replay_until(
        &mut pipeline,
        &mut clip,
        Some(&mut sink),
        true,
        &mut on_frame,
        stop,
    )?;
    let wall = start.elapsed().as_secs_f64();
    let first = by_minute.first().cloned().unwrap_or(Value::Null);
    let mut v = json!({
        "video_minutes": r1(summary.frames as f64 / per_minute as f64),
        "fps": opts.fps,
        "frames": summary.frames,
        "event_lines": counter.lines(),
        "event_bytes": counter.bytes(),
        "tracks": summary.tracks,
        "frames_with_face": summary.frames_with_face,
        "rss_mib": {"after_first_minute": first["rss_mib"], "end": rss_mib()},
        "peak_rss_mib": {"after_first_minute": first["peak_rss_mib"], "end": peak_rss_mib()},
        "wall_s": r1(wall),
        "frames_per_s": r1(summary.frames as f64 / wall.max(1e-9)),
        "by_minute": by_minute,
    });
    if let Some(why) = &summary.stopped {
        v["stopped"] = json!(why);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_line_counter_counts_complete_lines_and_bytes() {
        let c = LineCounter::default();
        let mut w = &c;
        w.write_all(b"{\"frame\":0}\n{\"fr").unwrap();
        assert_eq!((c.lines(), c.bytes()), (1, 16));
        w.write_all(b"ame\":1}\n").unwrap();
        assert_eq!((c.lines(), c.bytes()), (2, 24));
    }

    #[test]
    fn measure_refuses_a_length_a_duration_cannot_hold() {
        for secs in [1e308, f64::NAN, -1.0] {
            assert!(measure(secs, 1, || Ok(())).is_err(), "{secs}");
        }
        let v = measure(0.01, 2, || Ok(())).unwrap();
        assert!(v["calls"].as_u64().unwrap() >= 5);
    }
}
