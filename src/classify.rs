//! Expression classification with EmotionNet Nano in tract.
//!
//! The model file is self-describing: class keys, input size, normalisation, crop
//! framing and softmax temperature live in its ONNX `metadata_props`, so a retrained
//! model never silently disagrees with the app about what its outputs mean.

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

impl Contract {
    fn from_meta(f: &OnnxFile) -> Result<Self, ModelError> {
        let num = |key: &str, default: Option<f32>| -> Result<f32, ModelError> {
            match (f.metadata.get(key), default) {
                (Some(v), _) => v.trim().parse().map_err(|_| ModelError::Contract {
                    path: f.path.clone(),
                    what: format!("metadata '{key}' = {v:?} is not a number"),
                }),
                (None, Some(d)) => Ok(d),
                (None, None) => f.meta(key).map(|_| 0.0),
            }
        };
        let labels: Vec<String> = f
            .meta("labels")?
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect();
        if labels.iter().any(String::is_empty) {
            return Err(ModelError::Contract {
                path: f.path.clone(),
                what: "empty class key in 'labels'".into(),
            });
        }
        let size = num("input_size", Some(48.0))? as usize;
        let d = CropSpec::default();
        let crop = CropSpec {
            size,
            scale: num("crop_scale", Some(d.scale))?,
            dx: num("crop_dx", Some(d.dx))?,
            dy: num("crop_dy", Some(d.dy))?,
            rotate: f.metadata.get("crop_rotate").is_none_or(|v| v != "false"),
        };
        let temperature = num("temperature", Some(1.0))?;
        if temperature.is_nan() || temperature <= 0.0 || !(8..=512).contains(&size) {
            return Err(ModelError::Contract {
                path: f.path.clone(),
                what: "temperature must be > 0 and input_size in 8..=512".into(),
            });
        }
        let flip = f.metadata.get("tta_flip").is_some_and(|v| v == "true");
        Ok(Contract {
            labels,
            crop,
            mean: num("input_mean", Some(0.5))?,
            std: num("input_std", Some(0.5))?,
            temperature,
            flip,
        })
    }
}

/// A loaded classifier; plans for each batch size are built on first use.
pub struct Classifier {
    file: OnnxFile,
    contract: Contract,
    plans: HashMap<usize, Arc<TypedSimplePlan>>,
}

impl Classifier {
    /// Loads the model and reads its contract.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let file = OnnxFile::load(
            path,
            "the default models ship in the repository under models/; pass --model PATH \
             or set models.classifier in the config",
        )?;
        let contract = Contract::from_meta(&file)?;
        let mut c = Classifier {
            file,
            contract,
            plans: HashMap::new(),
        };
        let probe = c.logits(&[vec![128.0; c.contract.crop.size * c.contract.crop.size]])?;
        if probe[0].len() != c.contract.labels.len() {
            return Err(ModelError::Contract {
                path: c.path().to_owned(),
                what: format!(
                    "{} outputs but {} labels",
                    probe[0].len(),
                    c.contract.labels.len()
                ),
            });
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
    /// a frame in as few calls as possible.
    pub fn classify(&mut self, crops: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let t = self.contract.temperature;
        Ok(self
            .logits(crops)?
            .into_iter()
            .map(|l| softmax(&l, t))
            .collect())
    }

    /// Calibrated probabilities for each face seen in several views (`CropSpec::views`):
    /// the views' logits are averaged before the softmax, as the mirror image's are.
    pub fn classify_views(&mut self, faces: &[Vec<Vec<f32>>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let flat: Vec<Vec<f32>> = faces.iter().flatten().cloned().collect();
        let mut logits = self.logits(&flat)?.into_iter();
        let t = self.contract.temperature;
        Ok(faces
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
                softmax(&sum, t)
            })
            .collect())
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
            let mirrored = out.split_off(crops.len());
            for (a, b) in out.iter_mut().zip(mirrored) {
                for (x, y) in a.iter_mut().zip(b) {
                    *x = 0.5 * (*x + y);
                }
            }
        }
        Ok(out)
    }

    fn run_batch(&mut self, crops: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, ModelError> {
        let n = self.contract.crop.size;
        let bad = |what: String| ModelError::Contract {
            path: self.file.path.clone(),
            what,
        };
        if let Some(c) = crops.iter().find(|c| c.len() != n * n) {
            return Err(bad(format!(
                "crop has {} values, model wants {n}x{n}",
                c.len()
            )));
        }
        let b = crops.len();
        let plan = match self.plans.get(&b) {
            Some(p) => p.clone(),
            None => {
                let p = self.file.plan(&[b, 1, n, n])?;
                self.plans.insert(b, p.clone());
                p
            }
        };
        let (m, s) = (self.contract.mean, self.contract.std);
        let data: Vec<f32> = crops
            .iter()
            .flatten()
            .map(|&v| (v / 255.0 - m) / s)
            .collect();
        let input = Tensor::from_shape(&[b, 1, n, n], &data).map_err(|e| bad(e.to_string()))?;
        let out = plan.run(tvec!(input.into())).map_err(|e| ModelError::Run {
            path: self.file.path.clone(),
            reason: format!("{e:#}"),
        })?;
        let view = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|_| bad("output is not f32".into()))?;
        let flat: Vec<f32> = view.iter().copied().collect();
        let k = flat.len() / b.max(1);
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
    fn mirror_flips_rows() {
        assert_eq!(mirror(&[1.0, 2.0, 3.0, 4.0], 2), vec![2.0, 1.0, 4.0, 3.0]);
    }
}
