//! The versioned JSON model format (see `docs/model-format.md`): reading, writing, and the errors
//! that name the file and the place.

use super::ir::{Input, Layer, Network};
use super::validate::ValidationError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The value of the `format` field.
pub const FORMAT_NAME: &str = "quiver-qnn";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The on-disk document. Unknown fields are rejected everywhere.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub format: String,
    pub version: u32,
    #[serde(default)]
    pub name: String,
    pub input: Input,
    pub layers: Vec<Layer>,
}

/// Why a model could not be loaded.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: invalid model JSON: {message}")]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}: not a quiver model: `format` is {found:?}, expected \"{FORMAT_NAME}\"")]
    Format { path: PathBuf, found: String },
    #[error("{path}: model format version {found} is not supported (this quiver reads version {FORMAT_VERSION})")]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: {source}")]
    Invalid { path: PathBuf, source: ValidationError },
}

/// Parse and validate a model from JSON text; `path` is only used in error messages.
pub fn from_json(text: &str, path: &Path) -> Result<Network, ModelError> {
    let file: ModelFile = serde_json::from_str(text).map_err(|e| ModelError::Syntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    if file.format != FORMAT_NAME {
        return Err(ModelError::Format { path: path.to_path_buf(), found: file.format });
    }
    if file.version != FORMAT_VERSION {
        return Err(ModelError::Version { path: path.to_path_buf(), found: file.version });
    }
    let name = if file.name.is_empty() {
        path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    } else {
        file.name
    };
    Network::new(name, file.input, file.layers)
        .map_err(|source| ModelError::Invalid { path: path.to_path_buf(), source })
}

/// serde_json appends " at line L column C"; the error already carries them.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Read and validate a model file.
pub fn load(path: &Path) -> Result<Network, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
    from_json(&text, path)
}

/// The JSON document of a network.
pub fn to_json(net: &Network) -> String {
    let file = ModelFile {
        format: FORMAT_NAME.to_string(),
        version: FORMAT_VERSION,
        name: net.name().to_string(),
        input: net.input().clone(),
        layers: net.layers().to_vec(),
    };
    serde_json::to_string(&file).expect("a network always serializes")
}
