//! `emocue bench`: single-thread throughput and latency of each stage and of the whole
//! pipeline, on the bundled sample clip scaled to 640x480. Key names are documented in
//! docs/performance.md and shared with `training/bench_onnxruntime.py`.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::Frame;
use crate::classify::Classifier;
use crate::config::Config;
use crate::pipeline::{Pipeline, resolve_model};
use crate::render::{OverlayFace, RenderMode, Renderer, Scene};
use crate::source;
use crate::stats::percentile;

/// Runs `f` repeatedly for about `secs` seconds (after a short warm-up) and reports
/// calls per second and latency percentiles in ms.
pub fn measure(
    secs: f64,
    items_per_call: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Value> {
    for _ in 0..3 {
        f()?;
    }
    let mut lat = Vec::new();
    let start = Instant::now();
    let budget = Duration::from_secs_f64(secs);
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
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
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
}

/// Every measurement, as one JSON object.
pub fn run(config: &Config, opts: &BenchOptions) -> anyhow::Result<Value> {
    let secs = opts.seconds;
    let frames = sample_frames()?;
    let mut out = Map::new();
    let luma = frames[0].luma();
    let mut pipeline = Pipeline::new(config.clone())?;
    let dets = pipeline.detector_mut().detect(&frames[0])?;
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
        for b in [1usize, 4] {
            let batch = vec![crop.clone(); b];
            let m = measure(secs, b, || c.logits(&batch).map(|_| ()).map_err(Into::into))?;
            out.insert(format!("classifier_{key}_batch{b}"), m);
        }
    }
    if opts.classifier_only {
        out.insert("peak_rss_mib".into(), json!(peak_rss_mib()));
        out.insert("threads".into(), json!(1));
        return Ok(Value::Object(out));
    }
    let mut i = 0;
    out.insert(
        "detector_640x480".into(),
        measure(secs, 1, || {
            i = (i + 1) % frames.len();
            pipeline
                .detector_mut()
                .detect(&frames[i])
                .map(|_| ())
                .map_err(Into::into)
        })?,
    );
    let mut i = 0;
    let mut t = 0.0;
    out.insert(
        "pipeline_640x480".into(),
        measure(secs, 1, || {
            i = (i + 1) % frames.len();
            t += 1000.0 / 15.0;
            let f = Frame::new(i as u64, t, frames[i].image.clone());
            pipeline.process(&f).map(|_| ()).map_err(Into::into)
        })?,
    );
    render(config, secs, &frames, &mut pipeline, &mut out)?;
    out.insert("peak_rss_mib".into(), json!(peak_rss_mib()));
    out.insert("threads".into(), json!(1));
    Ok(Value::Object(out))
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
    pipeline: &mut Pipeline,
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
    for (key, n) in [(keys[0], 1), (keys[1], 4)] {
        let mut t = 0.0;
        let m = measure(secs, 1, || {
            t += 40.0;
            r.render(&frames[0].image, &bench_scene(n, t))
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
        r.render(&f.image, &Scene::from_result(&fr))?;
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
