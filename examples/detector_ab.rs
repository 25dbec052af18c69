//! A/B timing of tract's plain plan against emocue's (src/cnn_ext.rs) for one ONNX
//! file, interleaved in one process, in thread CPU time (robust to other processes
//! sharing the cores), plus the largest output difference between the two.
//!
//!     cargo run --release --example detector_ab -- models/blazeface_full_range.onnx [ROUNDS]
use std::path::Path;
use tract_onnx::prelude::*;

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
    let rounds: usize = std::env::args().nth(2).map_or(10, |s| s.parse().unwrap());
    let file = emocue::onnx::OnnxFile::load(Path::new(&path), "")?;
    let shape = [1usize, 3, 192, 192];
    let plain = file
        .model
        .clone()
        .with_input_fact(0, f32::fact(shape).into())?
        .into_optimized()?
        .into_runnable()?;
    let ours = file.plan(&shape)?;
    let n: usize = shape.iter().product();
    let x: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 0.7311).sin() * 43758.547).fract())
        .collect();
    let input = || Tensor::from_shape(&shape, &x).unwrap().into_tvalue();
    let a = plain.run(tvec!(input()))?;
    let b = ours.run(tvec!(input()))?;
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        let (a, b) = (
            a.to_plain_array_view::<f32>()?,
            b.to_plain_array_view::<f32>()?,
        );
        let d = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        println!("output {i}: max abs difference {d:.3e}");
    }
    // The whole detector call as `emocue bench` times it (letterbox, network, decode).
    let frames = emocue::bench::sample_frames()?;
    let mut det = emocue::detect::Detector::load(Path::new(&path), Default::default())?;
    let (mut ta, mut tb, mut tc) = (Vec::new(), Vec::new(), Vec::new());
    let time = |t: &mut Vec<(f64, f64)>, f: &mut dyn FnMut() -> anyhow::Result<()>| {
        let (s, w) = (cpu_ms(), std::time::Instant::now());
        f()?;
        t.push((cpu_ms() - s, w.elapsed().as_secs_f64() * 1e3));
        anyhow::Ok(())
    };
    for r in 0..rounds {
        for _ in 0..10 {
            time(&mut ta, &mut || plain.run(tvec!(input())).map(|_| ()))?;
        }
        for _ in 0..10 {
            time(&mut tb, &mut || ours.run(tvec!(input())).map(|_| ()))?;
        }
        for i in 0..10 {
            let f = &frames[(r * 10 + i) % frames.len()];
            time(&mut tc, &mut || {
                det.detect(f).map(|_| ()).map_err(Into::into)
            })?;
        }
    }
    let med = |t: &[(f64, f64)], wall: bool| {
        let mut v: Vec<f64> = t.iter().map(|p| if wall { p.1 } else { p.0 }).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() / 10])
    };
    for (wall, what) in [(false, "thread CPU"), (true, "wall")] {
        let ((ma, pa), (mb, pb), (mc, pc)) = (med(&ta, wall), med(&tb, wall), med(&tc, wall));
        println!(
            "{what} ms, median (p10): tract plain {ma:.3} ({pa:.3}); emocue {mb:.3} ({pb:.3}), \
             {:.2}x; Detector::detect 640x480 {mc:.3} ({pc:.3})",
            ma / mb
        );
    }
    Ok(())
}
