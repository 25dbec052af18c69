//! Loading ONNX models into tract, with the metadata our models carry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;

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

impl OnnxFile {
    /// Reads and parses the file; `hint` tells the user how to obtain it if missing.
    pub fn load(path: &Path, hint: &str) -> Result<Self, ModelError> {
        if !path.is_file() {
            return Err(ModelError::Missing {
                path: path.to_owned(),
                hint: hint.to_owned(),
            });
        }
        let load = |e: anyhow::Error| ModelError::Load {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        let onnx = tract_onnx::onnx()
            .with_ignore_output_shapes(true)
            .with_ignore_value_info(true);
        let proto = onnx.proto_model_for_path(path).map_err(load)?;
        let metadata = proto
            .metadata_props
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        let model = onnx.model_for_proto_model(&proto).map_err(load)?;
        Ok(OnnxFile {
            path: path.to_owned(),
            model,
            metadata,
        })
    }

    /// Fixes the input shape and optimises into a runnable plan.
    pub fn plan(&self, shape: &[usize]) -> Result<Arc<TypedRunnableModel>, ModelError> {
        let load = |e: anyhow::Error| ModelError::Load {
            path: self.path.clone(),
            reason: format!("{e:#}"),
        };
        self.model
            .clone()
            .with_input_fact(0, f32::fact(shape).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(load)
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
