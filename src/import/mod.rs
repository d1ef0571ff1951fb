//! Importers for third-party models and data: the fixed-point Keras benchmark QNNs (AAAI'21,
//! QVIP), MNIST IDX files, and the benchmark suite CSVs that tie them together.
//!
//! [`load_any`] picks a model loader by file extension; the CLI uses it for `quiver verify MODEL`.

pub mod h5;
pub mod idx;
pub mod keras_fixed;
pub mod onnx;
pub mod suite;

use crate::net::format::ModelError;
use crate::net::validate::ValidationError;
use crate::net::Network;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a model, data set or suite file could not be imported. Every variant names the file, and
/// none repeats another error's message as its `source()` (an error chain prints each message once).
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{path}: cannot read: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error(transparent)]
    Hdf5(#[from] h5::H5Error),
    #[error(transparent)]
    Json(#[from] ModelError),
    #[error(transparent)]
    Onnx(#[from] onnx::OnnxError),
    /// The file is readable but its content is not what the importer supports.
    #[error("{path}: {message}")]
    Unsupported { path: PathBuf, message: String },
    /// The imported network failed validation (a bug in the importer or an out-of-range model).
    #[error("{path}: imported network is invalid: {error}")]
    Invalid { path: PathBuf, error: ValidationError },
    /// A malformed IDX (MNIST) file.
    #[error("{path}: invalid IDX file: {message}")]
    Idx { path: PathBuf, message: String },
    /// A malformed suite CSV row (`line` is 1-based).
    #[error("{path}:{line}: {message}")]
    Suite { path: PathBuf, line: usize, message: String },
}

/// Load a model by file extension: `.h5`/`.hdf5` → [`keras_fixed::load`] (with `q_bits`),
/// `.onnx` → [`onnx::load`],
/// `.json` → [`crate::net::format::load`] (`q_bits` must be `None`).
pub fn load_any(path: &Path, q_bits: Option<u8>) -> Result<Network, ImportError> {
    load_any_with(path, q_bits, &onnx::ImportOptions::default())
}

/// [`load_any`] with the options of the ONNX import (`onnx_options`: the CPU ONNX Runtime's
/// integer kernels are assumed to run on, see [`onnx::U8S8`]; non-default options are an error
/// for other model formats, as is `q_bits` for anything but Keras `.h5`).
///
/// # Errors
/// [`ImportError::Unsupported`] for an unknown extension or an option that does not apply to
/// the format; otherwise the format's own import errors.
pub fn load_any_with(
    path: &Path,
    q_bits: Option<u8>,
    onnx_options: &onnx::ImportOptions,
) -> Result<Network, ImportError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let only_keras = || ImportError::Unsupported {
        path: path.to_path_buf(),
        message: "a quantization bit width (--q-bits) applies only to Keras .h5 models".into(),
    };
    if ext.as_deref() != Some("onnx") && *onnx_options != onnx::ImportOptions::default() {
        return Err(ImportError::Unsupported {
            path: path.to_path_buf(),
            message: "the ONNX Runtime CPU (--ort-cpu) applies only to ONNX models".into(),
        });
    }
    match ext.as_deref() {
        Some("h5" | "hdf5") => keras_fixed::load(path, q_bits),
        Some("onnx") => {
            if q_bits.is_some() {
                return Err(only_keras());
            }
            Ok(onnx::load_with(path, onnx_options)?)
        }
        Some("json") => {
            if q_bits.is_some() {
                return Err(only_keras());
            }
            Ok(crate::net::format::load(path)?)
        }
        _ => Err(ImportError::Unsupported {
            path: path.to_path_buf(),
            message: "unknown model file extension (expected .json, .onnx, .h5 or .hdf5)".into(),
        }),
    }
}
