//! Expression classification with EmotionNet Nano in tract.
//!
//! The model file is self-describing: class keys, input size, normalisation, crop
//! framing and softmax temperature live in its ONNX `metadata_props`, so a retrained
//! model never silently disagrees with the app about what its outputs mean.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::crop::CropSpec;
use crate::onnx::{ModelError, OnnxFile};

/// Images per tract call. One: tract 0.23 replaces the patch matrix of a 3x3 convolution
/// by lazy im2col only for batch 1, which makes one image 1.5x cheaper alone than inside
/// a batch (`emocue bench --profile`, docs/performance.md).
pub const MAX_BATCH: usize = 1;

/// The input/output contract read from the model's metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    /// Class keys in output order, e.g. `happiness`.
    pub labels: Vec<String>,
    /// How to cut the input.
    pub crop: CropSpec,
    /// Input = (gray/255 - mean) / std.
    pub mean: f32,
    /// See `mean`.
    pub std: f32,
    /// Softmax temperature fitted on validation data (1 = uncalibrated).
    pub temperature: f32,
    /// Average the logits of the crop and its mirror image (metadata `tta_flip`):
    /// about one point of accuracy for twice the (small) classifier cost.
    pub flip: bool,
}

/// The most classes a classifier may have: the eight FER+ emotions with room to spare,
/// and a bound on what a model file can make emocue allocate per face.
pub const MAX_LABELS: usize = 64;

/// The longest class key, in bytes.
const MAX_LABEL_LEN: usize = 64;

impl Contract {
    /// Reads and checks the contract from a model's `metadata_props`; `path` names the
    /// model in errors. Every number must be finite and in a range that makes sense,
    /// so a model file cannot turn into NaN probabilities or a caption nobody chose.
    /// Never panics, whatever the strings: the entry point of the metadata fuzz target.
    pub fn from_metadata(path: &Path, meta: &HashMap<String, String>) -> Result<Self, ModelError> {
        let bad = |what: String| ModelError::Contract {
            path: path.to_owned(),
            what,
        };
        let fix = "fix the value in the model's metadata_props (training/export.py writes them)";
        // A value as quoted in a message: a hostile one can be megabytes long.
        let quote = |text: &str| {
            let head: String = text.chars().take(40).collect();
            if head.len() < text.len() {
                format!("{head:?}...")
            } else {
                format!("{head:?}")
            }
        };
        // A number within [lo, hi], or the default when the key is absent.
        let num = |key: &str, default: f32, lo: f32, hi: f32| -> Result<f32, ModelError> {
            let Some(text) = meta.get(key) else {
                return Ok(default);
            };
            match text.trim().parse::<f32>() {
                Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
                Ok(_) => Err(bad(format!(
                    "metadata '{key}' = {} is out of range: it must be a finite number \
                     from {lo} to {hi}; {fix}",
                    quote(text)
                ))),
                Err(_) => Err(bad(format!(
                    "metadata '{key}' = {} is not a number; {fix}",
                    quote(text)
                ))),
            }
        };
        let flag = |key: &str, default: bool| -> Result<bool, ModelError> {
            match meta.get(key).map(|v| v.trim()) {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(v) => Err(bad(format!(
                    "metadata '{key}' = {} must be true or false; {fix}",
                    quote(v)
                ))),
            }
        };
        let labels_text = meta
            .get("labels")
            .ok_or_else(|| bad(format!("metadata_props lacks 'labels'; {fix}")))?;
        let labels: Vec<String> = labels_text
            .split(',')
            .take(MAX_LABELS + 1)
            .map(|s| s.trim().to_owned())
            .collect();
        if labels.len() < 2 || labels.len() > MAX_LABELS {
            return Err(bad(format!(
                "'labels' must name 2 to {MAX_LABELS} classes, comma-separated; {fix}"
            )));
        }
        for (i, l) in labels.iter().enumerate() {
            if l.is_empty() || l.len() > MAX_LABEL_LEN {
                return Err(bad(format!(
                    "class key {} in 'labels' is empty or longer than {MAX_LABEL_LEN} bytes; {fix}",
                    i + 1
                )));
            }
            if labels[..i].contains(l) {
                return Err(bad(format!(
                    "class key '{l}' appears twice in 'labels'; {fix}"
                )));
            }
        }
        let size = match meta.get("input_size").map(|v| v.trim().parse::<usize>()) {
            None => 48,
            Some(Ok(n)) if (8..=512).contains(&n) => n,
            Some(_) => {
                return Err(bad(format!(
                    "metadata 'input_size' = {} must be a whole number from 8 to 512; {fix}",
                    quote(meta.get("input_size").map_or("", String::as_str))
                )));
            }
        };
        let d = CropSpec::default();
        let crop = CropSpec {
            size,
            scale: num("crop_scale", d.scale, 0.25, 4.0)?,
            dx: num("crop_dx", d.dx, -2.0, 2.0)?,
            dy: num("crop_dy", d.dy, -2.0, 2.0)?,
            rotate: flag("crop_rotate", true)?,
        };
        Ok(Contract {
            labels,
            crop,
            mean: num("input_mean", 0.5, -10.0, 10.0)?,
            std: num("input_std", 0.5, 1e-3, 10.0)?,
            temperature: num("temperature", 1.0, 0.01, 100.0)?,
            flip: flag("tta_flip", false)?,
        })
    }

    /// Probabilities from one face's logits, or an error naming the model when a logit
    /// is NaN or infinite: such a model is broken, and a caption from it would be a
    /// guess dressed as a reading (NaN sorts above every number, so it would always
    /// say the last class).
    pub fn probabilities(&self, path: &Path, logits: &[f32]) -> Result<Vec<f32>, ModelError> {
        if logits.len() != self.labels.len() {
            return Err(ModelError::Contract {
                path: path.to_owned(),
                what: format!("{} outputs but {} labels", logits.len(), self.labels.len()),
            });
        }
        check_finite(path, logits)?;
        let p = softmax(logits, self.temperature);
        check_finite(path, &p)?;
        Ok(p)
    }
}

/// An error naming the model when any value is NaN or infinite.
fn check_finite(path: &Path, values: &[f32]) -> Result<(), ModelError> {
    match values.iter().find(|v| !v.is_finite()) {
        None => Ok(()),
        Some(v) => Err(ModelError::Run {
            path: path.to_owned(),
            reason: format!(
                "the model produced {v} for a face, which cannot be a class score; the \
                 model file is broken: export it again or use the shipped one"
            ),
        }),
    }
}

/// A loaded classifier; plans for each batch size are built on first use.
pub struct Classifier {
    file: OnnxFile,
    contract: Contract,
    plans: HashMap<usize, Arc<TypedSimplePlan>>,
}

impl Classifier {
    /// Loads the model, reads its contract, and checks its output against it (shape
    /// first, before anything runs; then one probe crop, whose logits must be finite).
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let file = OnnxFile::load(
            path,
            "the default models ship in the repository under models/; pass --model PATH \
             or set models.classifier in the config",
        )?;
        let contract = Contract::from_metadata(&file.path, &file.metadata)?;
        let mut c = Classifier {
            file,
            contract,
            plans: HashMap::new(),
        };
        let n = c.contract.crop.size;
        c.plan(MAX_BATCH)?;
        let probe = c.logits(&[vec![128.0; n * n]])?;
        for l in &probe {
            c.contract.probabilities(&c.file.path, l)?;
        }
        Ok(c)
    }

    /// The model's contract.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// Class keys in output order.
    pub fn labels(&self) -> &[String] {
        &self.contract.labels
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Calibrated probabilities for each crop (gray 0..255, `size × size`), all faces of
    /// a frame in as few calls as possible. A NaN or infinite logit is an error.
    pub fn classify(&mut self, crops: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let logits = self.logits(crops)?;
        logits
            .iter()
            .map(|l| self.contract.probabilities(&self.file.path, l))
            .collect()
    }

    /// Raw logits of one view of each crop: the crop itself, or its mirror image
    /// where `mirrored` says so and the model asks for mirror averaging (`tta_flip`).
    /// Video pairs a face's view in this frame with its other view from the frame
    /// before (`[smoothing] alternate_mirror`): both views at the cost of one.
    pub fn view_logits<C: AsRef<[f32]>>(
        &mut self,
        crops: &[C],
        mirrored: &[bool],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let n = self.contract.crop.size;
        // Only a mirrored view is a new buffer; the others are read in place.
        let batch: Vec<Cow<'_, [f32]>> = crops
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if self.contract.flip && mirrored.get(i).copied().unwrap_or(false) {
                    Cow::Owned(mirror(c.as_ref(), n))
                } else {
                    Cow::Borrowed(c.as_ref())
                }
            })
            .collect();
        let mut out = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(MAX_BATCH) {
            out.extend(self.run_batch(chunk)?);
        }
        Ok(out)
    }

    /// Calibrated probabilities from one face's logits (its views' mean), or an error
    /// naming the model when a logit is not finite.
    pub fn probabilities(&self, logits: &[f32]) -> Result<Vec<f32>, ModelError> {
        self.contract.probabilities(&self.file.path, logits)
    }

    /// Calibrated probabilities for each face seen in several views (`CropSpec::views`):
    /// the views' logits are averaged before the softmax, as the mirror image's are.
    pub fn classify_views(&mut self, faces: &[Vec<Vec<f32>>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let flat: Vec<Vec<f32>> = faces.iter().flatten().cloned().collect();
        let mut logits = self.logits(&flat)?.into_iter();
        faces
            .iter()
            .map(|views| {
                let mut sum = vec![0.0; self.contract.labels.len()];
                for l in logits.by_ref().take(views.len()) {
                    for (s, x) in sum.iter_mut().zip(l) {
                        *s += x;
                    }
                }
                let n = views.len().max(1) as f32;
                sum.iter_mut().for_each(|s| *s /= n);
                self.contract.probabilities(&self.file.path, &sum)
            })
            .collect()
    }

    /// Raw logits for each crop (averaged with the mirrored crop when the model asks).
    pub fn logits(&mut self, crops: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let n = self.contract.crop.size;
        let mut batch: Vec<Vec<f32>> = crops.to_vec();
        if self.contract.flip {
            batch.extend(crops.iter().map(|c| mirror(c, n)));
        }
        let mut out = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(MAX_BATCH) {
            out.extend(self.run_batch(chunk)?);
        }
        if self.contract.flip {
            let mirrored = out.split_off(crops.len().min(out.len()));
            for (a, b) in out.iter_mut().zip(mirrored) {
                for (x, y) in a.iter_mut().zip(b) {
                    *x = 0.5 * (*x + y);
                }
            }
        }
        Ok(out)
    }

    /// The plan for a batch of `b`, built on first use; its output is checked against
    /// the labels before it ever runs, so a model whose output is three billion wide is
    /// refused instead of allocated.
    fn plan(&mut self, b: usize) -> Result<Arc<TypedSimplePlan>, ModelError> {
        if let Some(p) = self.plans.get(&b) {
            return Ok(p.clone());
        }
        let n = self.contract.crop.size;
        let k = self.contract.labels.len();
        let (plan, outputs) = self.file.plan_checked(&[b, 1, n, n])?;
        // One logit per class and crop; how the dimensions are laid out does not matter.
        let ok = outputs
            .first()
            .is_some_and(|shape| shape.iter().product::<usize>() == b * k);
        if !ok {
            return Err(ModelError::Contract {
                path: self.file.path.clone(),
                what: format!(
                    "its first output has shape {:?} for a batch of {b}, but its {k} labels \
                     need [{b}, {k}] (one logit per class); the output and the 'labels' \
                     metadata must agree",
                    outputs.first().map_or(&[][..], Vec::as_slice)
                ),
            });
        }
        self.plans.insert(b, plan.clone());
        Ok(plan)
    }

    fn run_batch<C: AsRef<[f32]>>(&mut self, crops: &[C]) -> Result<Vec<Vec<f32>>, ModelError> {
        let n = self.contract.crop.size;
        let k = self.contract.labels.len();
        let b = crops.len();
        let plan = self.plan(b)?;
        let bad = |what: String| ModelError::Contract {
            path: self.file.path.clone(),
            what,
        };
        if let Some(c) = crops.iter().find(|c| c.as_ref().len() != n * n) {
            return Err(bad(format!(
                "crop has {} values, model wants {n}x{n}",
                c.as_ref().len()
            )));
        }
        let (m, s) = (self.contract.mean, self.contract.std);
        // One crop at a time, so that the loop vectorises (through `flat_map` it did not:
        // 7 % of a face's time in the int8 network).
        let mut data = Vec::with_capacity(b * n * n);
        for c in crops {
            data.extend(c.as_ref().iter().map(|&v| (v / 255.0 - m) / s));
        }
        let input = Tensor::from_shape(&[b, 1, n, n], &data).map_err(|e| bad(e.to_string()))?;
        let out = plan.run(tvec!(input.into())).map_err(|e| ModelError::Run {
            path: self.file.path.clone(),
            reason: format!("{e:#}"),
        })?;
        let first = out
            .first()
            .ok_or_else(|| bad("the model has no output".into()))?;
        let view = first
            .to_plain_array_view::<f32>()
            .map_err(|_| bad("output is not f32".into()))?;
        if view.len() != b * k {
            return Err(bad(format!(
                "{} output values for {b} crops of {k} classes",
                view.len()
            )));
        }
        let flat: Vec<f32> = view.iter().copied().collect();
        Ok(flat.chunks(k.max(1)).map(<[f32]>::to_vec).collect())
    }
}

/// A square crop mirrored left to right.
fn mirror(crop: &[f32], n: usize) -> Vec<f32> {
    crop.chunks(n)
        .flat_map(|row| row.iter().rev().copied())
        .collect()
}

/// The most probable class (the last of exact ties, as `Iterator::max_by` picks);
/// `None` for an empty vector. One rule for captions and for `classify`'s labels.
pub fn argmax(probs: &[f32]) -> Option<usize> {
    probs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

/// Softmax of `logits / temperature`, numerically stable.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits
        .iter()
        .map(|&l| ((l - max) / temperature).exp())
        .collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_temperature_flattens() {
        let p = softmax(&[2.0, 1.0, 0.0], 1.0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let q = softmax(&[2.0, 1.0, 0.0], 2.0);
        assert!(q[0] < p[0] && q[2] > p[2]);
    }

    #[test]
    fn views_are_averaged_in_logit_space_and_one_view_is_plain_classify() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/emotionnet_nano_b.int8.onnx");
        let mut c = Classifier::load(&path).expect("shipped model");
        let n = c.contract().crop.size;
        let ramp: Vec<f32> = (0..n * n).map(|i| (i % n * 5) as f32).collect();
        let dark: Vec<f32> = (0..n * n).map(|i| (i / n * 2) as f32).collect();
        let l = c.logits(&[ramp.clone(), dark.clone()]).unwrap();
        let mean: Vec<f32> = l[0].iter().zip(&l[1]).map(|(a, b)| 0.5 * (a + b)).collect();
        let want = softmax(&mean, c.contract().temperature);
        let got = c
            .classify_views(&[vec![ramp.clone(), dark], vec![ramp.clone()]])
            .unwrap();
        assert!(got[0].iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6));
        assert_eq!(got[1], c.classify(&[ramp]).unwrap()[0]);
    }

    #[test]
    fn one_view_is_the_crop_or_its_mirror_and_the_two_average_to_classify() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/emotionnet_nano_b.int8.onnx");
        let mut c = Classifier::load(&path).expect("shipped model");
        assert!(
            c.contract().flip,
            "the shipped model asks for mirror averaging"
        );
        let n = c.contract().crop.size;
        // an asymmetric crop, so its mirror image reads differently
        let face: Vec<f32> = (0..n * n)
            .map(|i| ((i % n) * (i / n) % 97) as f32 * 2.0)
            .collect();
        let two = [face.clone(), face.clone()];
        let views = c.view_logits(&two, &[false, true]).unwrap();
        assert_ne!(views[0], views[1]);
        let mirrored = c.view_logits(&[mirror(&face, n)], &[false]).unwrap();
        assert_eq!(views[1], mirrored[0]);
        assert_eq!(
            views[0],
            c.view_logits(std::slice::from_ref(&face), &[]).unwrap()[0]
        );
        // the two views' logits, averaged, are what classify gives in one frame
        let mean: Vec<f32> = views[0]
            .iter()
            .zip(&views[1])
            .map(|(x, y)| 0.5 * (x + y))
            .collect();
        let got = c.probabilities(&mean).unwrap();
        let want = c.classify(&[face]).unwrap();
        assert!(
            got.iter().zip(&want[0]).all(|(x, y)| (x - y).abs() < 1e-6),
            "{got:?} {want:?}"
        );
    }

    #[test]
    fn mirror_flips_rows() {
        assert_eq!(mirror(&[1.0, 2.0, 3.0, 4.0], 2), vec![2.0, 1.0, 4.0, 3.0]);
    }

    fn shipped_meta() -> HashMap<String, String> {
        [
            (
                "labels",
                "neutral,happiness,surprise,sadness,anger,disgust,fear,contempt",
            ),
            ("input_size", "48"),
            ("input_mean", "0.5"),
            ("input_std", "0.5"),
            ("temperature", "0.6983"),
            ("tta_flip", "true"),
            ("crop_scale", "1.18"),
            ("crop_dx", "0.0"),
            ("crop_dy", "-0.05"),
            ("crop_rotate", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn metadata_numbers_out_of_range_are_refused_with_the_key() {
        let path = Path::new("m.onnx");
        let c = Contract::from_metadata(path, &shipped_meta()).unwrap();
        assert_eq!(c.labels.len(), 8);
        assert!(c.flip && c.crop.rotate && c.crop.size == 48);
        let cases: &[(&str, &str)] = &[
            ("crop_scale", "nan"),
            ("crop_scale", "inf"),
            ("crop_scale", "0"),
            ("crop_scale", "-1.18"),
            ("crop_scale", "1e9"),
            ("crop_dx", "NaN"),
            ("crop_dy", "-1e30"),
            ("input_std", "0"),
            ("input_std", "-0.5"),
            ("input_std", "inf"),
            ("input_mean", "nan"),
            ("input_mean", "1e30"),
            ("temperature", "inf"),
            ("temperature", "0"),
            ("temperature", "-1"),
            ("temperature", "nan"),
            ("temperature", "abc"),
            ("input_size", "48.5"),
            ("input_size", "0"),
            ("input_size", "4"),
            ("input_size", "100000"),
            ("input_size", "-48"),
            ("tta_flip", "yes"),
            ("crop_rotate", "maybe"),
            ("labels", ""),
            ("labels", "happiness"),
            ("labels", "a,b,a"),
            ("labels", "a,,b"),
            ("labels", "a, "),
        ];
        for (key, value) in cases {
            let mut m = shipped_meta();
            m.insert(key.to_string(), value.to_string());
            let e = Contract::from_metadata(path, &m)
                .err()
                .unwrap_or_else(|| panic!("{key} = {value:?} accepted"))
                .to_string();
            assert!(
                e.contains("m.onnx") && e.contains(key) && e.contains("metadata"),
                "{e}"
            );
        }
        let many: Vec<String> = (0..=MAX_LABELS).map(|i| format!("c{i}")).collect();
        let mut m = shipped_meta();
        m.insert("labels".into(), many.join(","));
        assert!(Contract::from_metadata(path, &m).is_err());
        let mut m = shipped_meta();
        m.insert("labels".into(), ",".repeat(10_000_000));
        assert!(Contract::from_metadata(path, &m).is_err());
        m.remove("labels");
        assert!(Contract::from_metadata(path, &m).is_err());
        // absent optional keys take their defaults
        let m: HashMap<String, String> = [("labels".to_string(), "a,b".to_string())].into();
        let c = Contract::from_metadata(path, &m).unwrap();
        assert_eq!(
            (c.crop, c.temperature, c.flip),
            (CropSpec::default(), 1.0, false)
        );
    }

    #[test]
    fn non_finite_logits_never_become_probabilities() {
        let path = Path::new("m.onnx");
        let mut m = shipped_meta();
        m.insert("labels".into(), "a,b,c".into());
        let c = Contract::from_metadata(path, &m).unwrap();
        let p = c.probabilities(path, &[1.0, 2.0, 3.0]).unwrap();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(argmax(&p), Some(2));
        // extreme but finite logits still give finite probabilities
        let p = c.probabilities(path, &[f32::MAX, -f32::MAX, 0.0]).unwrap();
        assert!(p.iter().all(|v| v.is_finite()) && argmax(&p) == Some(0));
        for bad in [
            [f32::NAN, 0.0, 0.0],
            [0.0, f32::INFINITY, 0.0],
            [0.0, 0.0, f32::NEG_INFINITY],
        ] {
            match c.probabilities(path, &bad) {
                Err(ModelError::Run { path, reason }) => {
                    assert_eq!(path, Path::new("m.onnx"));
                    assert!(reason.contains("cannot be a class score"), "{reason}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(matches!(
            c.probabilities(path, &[0.0; 4]),
            Err(ModelError::Contract { .. })
        ));
    }
}
