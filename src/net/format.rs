//! The versioned JSON model format (see `docs/model-format.md`): reading, writing, and the errors
//! that name the file and the place.

use super::ir::{Input, Layer, Network};
use super::validate::{Node, ValidationError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The value of the `format` field.
pub const FORMAT_NAME: &str = "quiver-qnn";
/// The format version this build writes for graphs; sequential networks are written as
/// version 1, which every version of quiver reads.
pub const FORMAT_VERSION: u32 = 2;

/// Version 1: a sequence of layers, each reading the previous one's output.
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

/// Version 2: a graph of named nodes in topological order. A node reads named tensors: the
/// graph input is `input`, every other tensor is named after the node that computes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphFile {
    pub format: String,
    pub version: u32,
    #[serde(default)]
    pub name: String,
    pub input: Input,
    pub nodes: Vec<NodeEntry>,
    /// The output tensor: the last node's (optional; checked when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// One node of a version-2 file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    pub name: String,
    pub inputs: Vec<String>,
    pub op: Layer,
}

/// The name of the graph input in version-2 files.
pub const INPUT_NAME: &str = "input";

/// Only the header, to pick the version before parsing the rest.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
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
    #[error(
        "{path}: model format version {found} is not supported (this quiver reads versions 1 and {FORMAT_VERSION})"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: {source}")]
    Invalid { path: PathBuf, source: ValidationError },
}

/// Parse and validate a model from JSON text; `path` is only used in error messages.
pub fn from_json(text: &str, path: &Path) -> Result<Network, ModelError> {
    let syntax = |e: serde_json::Error| ModelError::Syntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    };
    let header: Header = serde_json::from_str(text).map_err(syntax)?;
    if header.format != FORMAT_NAME {
        return Err(ModelError::Format { path: path.to_path_buf(), found: header.format });
    }
    let default_name = || path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let invalid = |source| ModelError::Invalid { path: path.to_path_buf(), source };
    match header.version {
        1 => {
            let file: ModelFile = serde_json::from_str(text).map_err(syntax)?;
            let name = if file.name.is_empty() { default_name() } else { file.name };
            Network::new(name, file.input, file.layers).map_err(invalid)
        }
        2 => {
            let file: GraphFile = serde_json::from_str(text).map_err(syntax)?;
            let nodes = resolve(&file).map_err(|message| invalid(ValidationError { layer: None, message }))?;
            let name = if file.name.is_empty() { default_name() } else { file.name };
            Network::graph(name, file.input, nodes).map_err(invalid)
        }
        found => Err(ModelError::Version { path: path.to_path_buf(), found }),
    }
}

/// Tensor names → indices: `input` is 0, node `j` is `j + 1`; a node may only read names
/// defined before it.
fn resolve(file: &GraphFile) -> Result<Vec<Node>, String> {
    let mut index: HashMap<&str, usize> = HashMap::from([(INPUT_NAME, 0)]);
    let mut nodes = Vec::with_capacity(file.nodes.len());
    for (j, n) in file.nodes.iter().enumerate() {
        let inputs = n
            .inputs
            .iter()
            .map(|t| {
                index.get(t.as_str()).copied().ok_or_else(|| {
                    format!("node `{}` reads `{t}`, which is neither `{INPUT_NAME}` nor an earlier node", n.name)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if index.insert(n.name.as_str(), j + 1).is_some() {
            return Err(format!("the name `{}` is used twice (`{INPUT_NAME}` is the graph input)", n.name));
        }
        nodes.push(Node { name: n.name.clone(), op: n.op.clone(), inputs });
    }
    if let (Some(out), Some(last)) = (&file.output, file.nodes.last()) {
        if *out != last.name {
            return Err(format!(
                "output `{out}` must be the last node (`{}`): nodes are in topological order",
                last.name
            ));
        }
    }
    Ok(nodes)
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

/// The JSON document of a network: version 1 for a sequence of layers, version 2 for a graph.
pub fn to_json(net: &Network) -> String {
    if net.is_sequential() {
        let file = ModelFile {
            format: FORMAT_NAME.to_string(),
            version: 1,
            name: net.name().to_string(),
            input: net.input().clone(),
            layers: net.layers().to_vec(),
        };
        return serde_json::to_string(&file).expect("a network always serializes");
    }
    let tensor_name = |t: usize| if t == 0 { INPUT_NAME.to_string() } else { net.node_name(t - 1).to_string() };
    let nodes = (0..net.layers().len())
        .map(|i| NodeEntry {
            name: net.node_name(i).to_string(),
            inputs: net.node_inputs(i).iter().map(|&t| tensor_name(t)).collect(),
            op: net.layers()[i].clone(),
        })
        .collect();
    let file = GraphFile {
        format: FORMAT_NAME.to_string(),
        version: FORMAT_VERSION,
        name: net.name().to_string(),
        input: net.input().clone(),
        output: net.layers().len().checked_sub(1).map(|i| net.node_name(i).to_string()),
        nodes,
    };
    serde_json::to_string(&file).expect("a network always serializes")
}
