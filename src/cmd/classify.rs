//! `emocue classify`: the faces of still images, one line (or JSON line) per file.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use emocue::Frame;
use emocue::events::{box_json, probs_json, quality_json};
use emocue::note;
use emocue::pipeline::resolve_model;
use emocue::session::Session;
use emocue::smooth::Shown;
use emocue::source::{self, IMAGE_FORMATS, is_image};
use emocue::still::{self, Look};

use super::{Named, load_config};

/// Runs `emocue classify`.
pub fn run(args: crate::ClassifyArgs) -> anyhow::Result<ExitCode> {
    let crate::ClassifyArgs {
        files,
        crop,
        model,
        json,
        one_look,
        config,
    } = args;
    classify(files, crop, model, json, one_look, config)
}

/// The images named on the command line, folders expanded in name order; a folder
/// that cannot be read or holds no image, or a file that is not an image, comes with
/// the problem to report in its place.
fn expand(files: Vec<PathBuf>) -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let mut v: Vec<PathBuf> = match std::fs::read_dir(&f) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| is_image(p))
                    .collect(),
                Err(e) => {
                    out.push((f, Some(format!("cannot read the folder: {e}"))));
                    continue;
                }
            };
            if v.is_empty() {
                let why = format!("the folder holds no images ({IMAGE_FORMATS})");
                out.push((f, Some(why)));
                continue;
            }
            v.sort();
            out.extend(v.into_iter().map(|p| (p, None)));
        } else if f.exists() && !is_image(&f) {
            let why = format!("not an image file: classify reads {IMAGE_FORMATS}");
            out.push((f, Some(why)));
        } else {
            out.push((f, None));
        }
    }
    out
}

fn classify(
    files: Vec<PathBuf>,
    crop: bool,
    model: Option<PathBuf>,
    json_out: bool,
    one_look: bool,
    config: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = load_config(config.as_deref())?;
    if let Some(m) = model {
        cfg.models.classifier = m;
    }
    cfg.models.classifier = resolve_model(&cfg.models.classifier);
    let mut pipeline = Session::new(cfg.clone())?;
    let labels = pipeline.labels().to_vec();
    let mut failures = 0usize;
    // (images read, images without a face): a batch of tight face crops run without
    // --crop finds few faces, and the fix is one flag
    let (mut read, mut faceless) = (0usize, 0usize);
    let files = expand(files);
    let out = std::io::stdout();
    // A bulk run writes its lines to a file and would be silent for minutes: a progress
    // bar on stderr then, only when someone is watching it.
    let bar = if out.is_terminal() || files.len() < 2 {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(files.len() as u64).with_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} images, {eta} left")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    };
    let mut out = Named {
        inner: BufWriter::new(out.lock()),
        name: "standard output".into(),
    };
    let mut buf = Vec::new();
    for (file, problem) in files {
        bar.inc(1);
        let result = match problem {
            Some(why) => Err(anyhow::anyhow!("{}: {why}", file.display())),
            None => classify_one(&mut pipeline, &file, crop, one_look),
        };
        let line = match result {
            Ok(faces) => {
                read += 1;
                faceless += usize::from(faces.is_empty());
                json!({"file": file.display().to_string(), "faces": faces})
            }
            Err(e) => {
                failures += 1;
                json!({"file": file.display().to_string(), "faces": [], "error": emocue::diag::error_chain(&e)})
            }
        };
        if json_out {
            emocue::events::write_line(&mut out, &line, &mut buf)?;
        } else {
            let mut text = human(&line, &labels);
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    if faceless > 0 {
        note!(
            "emocue: no face found in {faceless} of {read} images; if they are already \
             framed face crops, run with --crop"
        );
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn classify_one(
    pipeline: &mut Session,
    file: &Path,
    crop: bool,
    one_look: bool,
) -> anyhow::Result<Vec<Value>> {
    let img = source::load_image(file)?;
    let frame = Frame::new(0, 0.0, img);
    let look = if one_look { Look::Once } else { Look::Closely };
    let labels = pipeline.labels().to_vec();
    let faces = if crop {
        vec![still::read_crop(
            pipeline.pipeline_mut().classifier_mut(),
            &frame,
            look,
        )?]
    } else {
        let (detector, classifier) = pipeline.pipeline_mut().models_mut();
        still::read_photo(detector, classifier, &frame, look)?
    };
    let pipeline = pipeline.pipeline();
    Ok(faces
        .iter()
        .map(|f| {
            let best = emocue::classify::argmax(&f.probs).unwrap_or(0);
            // What the wearer would read: the wording profile's caption, or its "not
            // sure" when the emotion's min_confidence is not met (null: hidden).
            let shown = pipeline.still_shown(&f.probs, f.quality);
            json!({
                "box": box_json(&f.rect),
                "score": f.score.map(|s| (s as f64 * 1e4).round() / 1e4),
                "label": labels.get(best),
                "caption": pipeline.caption(shown),
                "unsure": shown == Shown::Unsure,
                "probs": probs_json(&labels, &f.probs),
                "quality": f.quality.map(quality_json),
            })
        })
        .collect())
}

fn human(line: &Value, _labels: &[String]) -> String {
    let file = line["file"].as_str().unwrap_or("?");
    if let Some(e) = line.get("error") {
        let e = e.as_str().unwrap_or("?");
        // most errors already start with the file name: say it once
        let e = e
            .strip_prefix(file)
            .map_or(e, |r| r.trim_start_matches(": "));
        return format!("{file}: error: {e}");
    }
    let faces = line["faces"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if faces.is_empty() {
        return format!("{file}: no face found");
    }
    let parts: Vec<String> = faces
        .iter()
        .map(|f| {
            let label = f["label"].as_str().unwrap_or("?");
            let p = f["probs"][label].as_f64().unwrap_or(0.0);
            let caption = match f["caption"].as_str() {
                Some(c) => format!(", shown as \"{c}\""),
                None => ", not shown".into(),
            };
            format!("{label} ({:.0}%{caption}) at {}", p * 100.0, f["box"])
        })
        .collect();
    format!("{file}: {}", parts.join("; "))
}
