//! A/B timing of one classifier file under tract's plain plan and with each of
//! emocue's extensions to tract added in turn (`emocue::onnx::Extensions`),
//! interleaved in one process, in thread CPU time (robust to other processes sharing
//! the cores), plus each plan's largest output difference from the first.
//!
//!     cargo run --release --example model_ab -- models/emotionnet_nano_b.int8.onnx [ROUNDS]
//!
//! A classifier runs one face image per call (1×1×48×48), as the app runs it.
use std::path::Path;
use tract_onnx::prelude::*;

use emocue::onnx::Extensions;

fn cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).expect("model file");
    let rounds: usize = std::env::args().nth(2).map_or(20, |s| s.parse().unwrap());
    let file = emocue::onnx::OnnxFile::load(Path::new(&path), "")?;
    let shape = [1usize, 1, 48, 48];
    let none = Extensions {
        qdq: false,
        cnn: false,
        qconv: false,
    };
    let variants = [
        ("tract plain", none),
        ("+ qdq", Extensions { qdq: true, ..none }),
        (
            "+ qdq + cnn_ext",
            Extensions {
                qconv: false,
                ..Extensions::default()
            },
        ),
        ("+ qdq + cnn_ext + qconv (app)", Extensions::default()),
    ];
    let plans = variants
        .iter()
        .map(|(_, e)| file.plan_with(&shape, *e).map(|p| p.0))
        .collect::<Result<Vec<_>, _>>()?;
    let n: usize = shape.iter().product();
    let x: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 0.7311).sin() * 43758.547).fract() * 2.0 - 1.0)
        .collect();
    let input = || Tensor::from_shape(&shape, &x).unwrap().into_tvalue();
    let outs = plans
        .iter()
        .map(|p| p.run(tvec!(input())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut times = vec![Vec::new(); plans.len()];
    for _ in 0..rounds {
        for (p, t) in plans.iter().zip(&mut times) {
            for _ in 0..20 {
                let s = cpu_ms();
                p.run(tvec!(input()))?;
                t.push(cpu_ms() - s);
            }
        }
    }
    let base = {
        let mut v = times[0].clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (((name, _), t), out) in variants.iter().zip(&mut times).zip(&outs) {
        t.sort_by(f64::total_cmp);
        let (med, p10) = (t[t.len() / 2], t[t.len() / 10]);
        let d = out[0]
            .to_plain_array_view::<f32>()?
            .iter()
            .zip(outs[0][0].to_plain_array_view::<f32>()?.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        println!(
            "{name:32} thread CPU ms per image: median {med:.3} (p10 {p10:.3}), {:.2}x plain; \
             largest output difference {d:.2e}",
            base / med
        );
    }
    Ok(())
}
