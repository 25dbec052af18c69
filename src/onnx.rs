//! Loading ONNX models into tract, with the metadata our models carry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// Which of our extensions to tract [`OnnxFile::plan_with`] applies; all by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extensions {
    /// One op per `QuantizeLinear → DequantizeLinear` pair ([`crate::qdq`]).
    pub qdq: bool,
    /// The detector's stem, depthwise convolutions and max pools ([`crate::cnn_ext`]).
    pub cnn: bool,
    /// Integer convolutions of quantized activations ([`crate::qconv`]; needs `qdq`).
    pub qconv: bool,
}

impl Default for Extensions {
    fn default() -> Self {
        Extensions {
            qdq: true,
            cnn: true,
            qconv: true,
        }
    }
}

/// A model that cannot be used, with the path and a hint at the fix.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is missing.
    #[error("model file {path} not found; {hint}")]
    Missing {
        /// The expected path.
        path: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// tract could not parse or optimise the file.
    #[error("cannot load model {path}: {reason}")]
    Load {
        /// The model file.
        path: PathBuf,
        /// tract's explanation.
        reason: String,
    },
    /// The file loads but breaks our input/output contract.
    #[error("model {path} breaks the contract: {what}")]
    Contract {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// Inference failed.
    #[error("inference failed in {path}: {reason}")]
    Run {
        /// The model file.
        path: PathBuf,
        /// tract's explanation.
        reason: String,
    },
}

/// A parsed ONNX file: the tract inference model plus its `metadata_props`.
pub struct OnnxFile {
    /// Where it came from, for messages.
    pub path: PathBuf,
    /// The graph before input facts are fixed.
    pub model: InferenceModel,
    /// `metadata_props` key → value.
    pub metadata: HashMap<String, String>,
}

/// The largest model file emocue loads: 256 MiB, fifty times the detector. Bounds
/// what a wrong path (a video, a disk image) makes it read into memory; raise it here
/// and rebuild for a bigger network.
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// The most values one model output may hold for the input shape emocue gives it:
/// 16 M (64 MiB of f32), hundreds of times what the detector's outputs hold. A model
/// whose output is bigger (say three billion classes wide) is refused before it runs.
pub const MAX_OUTPUT_VALUES: usize = 1 << 24;

/// The most values of any tensor in a model, inputs to outputs, as shape analysis
/// finds them for the input emocue gives it: 128 M (512 MiB of f32), a hundred times
/// the detector's largest. A bound on what a model file can make emocue allocate.
pub const MAX_TENSOR_VALUES: u64 = 1 << 27;

impl OnnxFile {
    /// Reads and parses the file; `hint` tells the user how to obtain it if missing.
    pub fn load(path: &Path, hint: &str) -> Result<Self, ModelError> {
        if !path.is_file() {
            return Err(ModelError::Missing {
                path: path.to_owned(),
                hint: hint.to_owned(),
            });
        }
        let contract = |what: String| ModelError::Contract {
            path: path.to_owned(),
            what,
        };
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len > MAX_MODEL_BYTES {
            return Err(contract(format!(
                "the file is {} MiB, more than the {} MiB emocue loads \
                 (emocue::onnx::MAX_MODEL_BYTES); is it really an ONNX model?",
                len >> 20,
                MAX_MODEL_BYTES >> 20
            )));
        }
        let load = |e: anyhow::Error| ModelError::Load {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        let onnx = tract_onnx::onnx()
            .with_ignore_output_shapes(true)
            .with_ignore_value_info(true);
        let proto = onnx.proto_model_for_path(path).map_err(load)?;
        let mut metadata = HashMap::new();
        for p in &proto.metadata_props {
            if metadata.insert(p.key.clone(), p.value.clone()).is_some() {
                return Err(contract(format!(
                    "metadata_props holds the key '{}' twice, so its value is ambiguous; \
                     keep one",
                    p.key.chars().take(40).collect::<String>()
                )));
            }
        }
        let model = onnx.model_for_proto_model(&proto).map_err(load)?;
        Ok(OnnxFile {
            path: path.to_owned(),
            model,
            metadata,
        })
    }

    /// Fixes the input shape and optimises into a runnable plan (see [`Self::plan_checked`]).
    pub fn plan(&self, shape: &[usize]) -> Result<Arc<TypedRunnableModel>, ModelError> {
        self.plan_checked(shape).map(|(plan, _)| plan)
    }

    /// Fixes the input shape and optimises into a runnable plan, with the shape of each
    /// output. The shapes are checked from the typed graph before it is optimised or
    /// run: each must be known and hold at most [`MAX_OUTPUT_VALUES`], so a model
    /// cannot make emocue allocate an absurd output; the caller compares them with
    /// its contract.
    pub fn plan_checked(
        &self,
        shape: &[usize],
    ) -> Result<(Arc<TypedRunnableModel>, Vec<Vec<usize>>), ModelError> {
        self.plan_with(shape, Extensions::default())
    }

    /// [`Self::plan_checked`] with a choice of our extensions to tract, for A/B
    /// timing and tests (`examples/model_ab.rs`); the app always uses all of them.
    pub fn plan_with(
        &self,
        shape: &[usize],
        ext: Extensions,
    ) -> Result<(Arc<TypedRunnableModel>, Vec<Vec<usize>>), ModelError> {
        let load = |e: anyhow::Error| ModelError::Load {
            path: self.path.clone(),
            reason: format!("{e:#}"),
        };
        let mut model = self
            .model
            .clone()
            .with_input_fact(0, f32::fact(shape).into())
            .map_err(load)?;
        model.analyse(false).map_err(load)?;
        self.check_tensor_sizes(&model, shape)?;
        let typed = model.into_typed().map_err(load)?;
        let mut outputs = Vec::new();
        for ix in 0..typed.output_outlets().map_err(load)?.len() {
            let fact = typed.output_fact(ix).map_err(load)?;
            let contract = |what: String| ModelError::Contract {
                path: self.path.clone(),
                what: format!("for input {shape:?}, output {ix} {what}"),
            };
            let dims = fact
                .shape
                .as_concrete()
                .ok_or_else(|| contract(format!("has no fixed shape ({:?})", fact.shape)))?;
            let values = dims
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .filter(|&v| v <= MAX_OUTPUT_VALUES);
            if values.is_none() {
                return Err(contract(format!(
                    "has shape {dims:?}, more than the {MAX_OUTPUT_VALUES} values emocue \
                     accepts (emocue::onnx::MAX_OUTPUT_VALUES); is this the right model?"
                )));
            }
            outputs.push(dims.to_vec());
        }
        // Our extension for QDQ int8 files (issue 20): one vectorised op for each
        // QuantizeLinear → DequantizeLinear pair, bit-identical to tract's two.
        let mut typed = typed;
        if ext.qdq {
            crate::qdq::fuse_qdq_pairs(&mut typed).map_err(load)?;
        }
        // And for the detector's stem and max pools (src/cnn_ext.rs), on the
        // decluttered graph where they have their canonical form.
        let mut typed = typed.into_decluttered().map_err(load)?;
        // A ReLU whose QdqRound clamps at 0 anyway is a pass over the tensor for
        // nothing (src/qdq.rs).
        if ext.qdq {
            crate::qdq::drop_relus_before_rounds(&mut typed).map_err(load)?;
        }
        // The int8 classifier's convolutions in integers (src/qconv.rs), before
        // cnn_ext, which would take its 1×1 ones as f32.
        if ext.qconv {
            crate::qconv::rewrite(&mut typed).map_err(load)?;
        }
        if ext.cnn {
            crate::cnn_ext::rewrite(&mut typed).map_err(load)?;
        }
        let plan = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(load)?;
        Ok((plan, outputs))
    }

    /// Refuses a graph in which shape analysis found a tensor of absurd size: tract
    /// itself panics while typing one whose dimension passes 2^31, and would allocate
    /// one of billions of values when run.
    fn check_tensor_sizes(
        &self,
        model: &InferenceModel,
        input: &[usize],
    ) -> Result<(), ModelError> {
        for node in model.nodes() {
            for (ix, outlet) in node.outputs.iter().enumerate() {
                // Dimensions analysis could not pin down are left out (as 1).
                let dims: Vec<Option<i64>> = outlet
                    .fact
                    .shape
                    .dims()
                    .map(|d| d.concretize().and_then(|d| d.to_i64().ok()))
                    .collect();
                let values = dims.iter().try_fold(1u64, |acc, &d| {
                    u64::try_from(d.unwrap_or(1))
                        .ok()
                        .and_then(|d| acc.checked_mul(d))
                });
                if values.is_none_or(|v| v > MAX_TENSOR_VALUES) {
                    let dims: Vec<String> = dims
                        .iter()
                        .map(|d| d.map_or("?".into(), |d| d.to_string()))
                        .collect();
                    return Err(ModelError::Contract {
                        path: self.path.clone(),
                        what: format!(
                            "for input {input:?}, node '{}' output {ix} has shape [{}]: a \
                             negative size (an overflow) or more than the {MAX_TENSOR_VALUES} \
                             values emocue lets a model compute \
                             (emocue::onnx::MAX_TENSOR_VALUES); is this the right model?",
                            node.name.chars().take(60).collect::<String>(),
                            dims.join(", ")
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// A metadata value, or a contract error naming the missing key.
    pub fn meta(&self, key: &str) -> Result<&str, ModelError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| ModelError::Contract {
                path: self.path.clone(),
                what: format!("metadata_props lacks '{key}'"),
            })
    }
}
