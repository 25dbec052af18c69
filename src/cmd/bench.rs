//! `emocue bench`: throughput and latency of each stage, a model profile, or a soak test.

use std::process::ExitCode;

use serde_json::Value;

use emocue::note;
use emocue::pipeline::resolve_model;

use super::{load_config, say, stopped_by_signal};

/// Runs `emocue bench`.
pub fn run(args: crate::BenchArgs) -> anyhow::Result<ExitCode> {
    let crate::BenchArgs {
        json,
        seconds,
        config,
        model,
        classifier_only,
        clip,
        onnxruntime,
        profile,
        batch,
        soak,
        minutes,
        fps,
    } = args;
    let cfg = load_config(config.as_deref())?;
    if soak {
        let opts = emocue::bench::SoakOptions { minutes, fps };
        emocue::live::stop_on_signal();
        let v = emocue::bench::soak(
            &cfg,
            &opts,
            &mut |m| note!("emocue: soak: {m}"),
            &stopped_by_signal,
        )?;
        say(if json {
            serde_json::to_string(&v)?
        } else {
            serde_json::to_string_pretty(&v)?
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if profile {
        let path = model.unwrap_or_else(|| resolve_model(&cfg.models.classifier));
        let v = emocue::bench::profile_model(&path, usize::from(batch), seconds)?;
        say(serde_json::to_string_pretty(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    // A relative Python that is not here is taken from the source tree (the
    // default, .venv/bin/python, lives there).
    let onnxruntime = onnxruntime.map(|p| match p.to_str() {
        Some(s) if p.is_relative() && !p.exists() => emocue::bundled_path(s),
        _ => p,
    });
    let opts = emocue::bench::BenchOptions {
        seconds,
        model,
        classifier_only,
        onnxruntime,
        clip,
    };
    let v = emocue::bench::run(&cfg, &opts)?;
    if json {
        say(serde_json::to_string(&v)?)?;
    } else if let Some(m) = v.as_object() {
        say(format_args!(
            "{:<36} {:>10} {:>9} {:>9} {:>10} {:>8}",
            "measurement", "per s", "p50 ms", "p95 ms", "images/s", "vs ort"
        ))?;
        for (k, r) in m.iter().filter(|(_, r)| r.is_object()) {
            if let Some(why) = r.get("skipped") {
                say(format_args!(
                    "{k:<36} skipped: {}",
                    why.as_str().unwrap_or_default()
                ))?;
                continue;
            }
            let or_dash = |v: &Value| {
                if v.is_null() {
                    "-".to_string()
                } else {
                    v.to_string()
                }
            };
            say(format_args!(
                "{k:<36} {:>10} {:>9} {:>9} {:>10} {:>8}",
                r["per_s"],
                r["p50_ms"],
                r["p95_ms"],
                or_dash(&r["images_per_s"]),
                or_dash(&r["vs_onnxruntime"])
            ))?;
        }
        if let Some(a) = v.get("render_adapter").and_then(Value::as_str) {
            say(format_args!("render adapter: {a}"))?;
        }
        say(format_args!(
            "peak memory: {} MiB, threads: 1",
            v["peak_rss_mib"]
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
