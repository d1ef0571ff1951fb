//! What a job verifies: the model and the property, as data, and the functions that load them.

use super::QueryError;
use crate::bundled;
use crate::import::idx;
use crate::import::onnx::{ImportOptions, U8S8};
use crate::net::{exec, Network};
use crate::spec::real::{self, quantize_input, Domain};
use crate::spec::robust::{self, Radius, TieRule};
use crate::spec::{vnnlib, RealBox, Spec};
use crate::verdict::Witness;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The name of the bundled model and of its test vectors as a data set.
pub const BUNDLED: &str = bundled::DATASET;

/// The CPU ONNX Runtime runs an ONNX model on, as far as its integer results depend on it
/// (`quiver --ort-cpu`; see [`crate::import::onnx::U8S8`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OrtCpu {
    /// Any x86-64 CPU, e.g. AVX2 without VNNI (the default): uint8 × int8 kernels whose int16
    /// pair sums could saturate (`vpmaddubsw`) are refused, so the import holds on every x86-64
    /// CPU.
    #[default]
    X86,
    /// A CPU with AVX-512 VNNI, AVX-VNNI or AMX: uint8 × int8 products accumulate exactly.
    Vnni,
}

impl OrtCpu {
    /// The ONNX import options for this CPU.
    pub fn import_options(self) -> ImportOptions {
        match self {
            OrtCpu::X86 => ImportOptions::default(),
            OrtCpu::Vnni => ImportOptions { u8s8: U8S8::Vnni },
        }
    }

    fn is_default(&self) -> bool {
        *self == OrtCpu::default()
    }
}

/// The model: a quiver JSON, ONNX or Keras fixed-point `.h5` file, or `@bundled`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub path: PathBuf,
    /// Quantization bits of a Keras fixed-point `.h5` model (default: from the file name, or 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q_bits: Option<u8>,
    /// The CPU ONNX Runtime runs an ONNX model on (only ONNX models take a non-default value).
    #[serde(default, skip_serializing_if = "OrtCpu::is_default")]
    pub ort_cpu: OrtCpu,
}

impl Model {
    pub fn new(path: impl Into<PathBuf>) -> Model {
        Model { path: path.into(), q_bits: None, ort_cpu: OrtCpu::default() }
    }

    /// The bundled PyTorch-quantized MNIST MLP.
    pub fn bundled() -> Model {
        Model::new(BUNDLED)
    }

    pub fn is_bundled(&self) -> bool {
        self.path.as_os_str() == BUNDLED
    }

    /// Load and validate the network (by file extension; `@bundled` is embedded).
    pub fn load(&self) -> Result<Network, QueryError> {
        if self.is_bundled() {
            if self.q_bits.is_some() || !self.ort_cpu.is_default() {
                return Err(QueryError::Usage(
                    "the bundled model takes neither --q-bits nor --ort-cpu (it is quiver JSON)".into(),
                ));
            }
            return Ok(bundled::model());
        }
        Ok(crate::import::load_any_with(&self.path, self.q_bits, &self.ort_cpu.import_options())?)
    }
}

/// Where the center of a robustness property comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// A file of numbers (whitespace/comma separated, or a JSON array): the quantized integer
    /// input, or with `real` real values that the model's input quantization maps to integers.
    File {
        path: PathBuf,
        #[serde(default)]
        real: bool,
    },
    /// Image `index` of an MNIST-style IDX file (optionally gzipped), labelled by the IDX label
    /// file `labels`; `@bundled` for the bundled model's test vectors (labels included).
    Dataset {
        path: PathBuf,
        index: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        labels: Option<PathBuf>,
    },
}

impl Input {
    /// The file or data set named, for messages.
    pub fn path(&self) -> &Path {
        match self {
            Input::File { path, .. } | Input::Dataset { path, .. } => path,
        }
    }

    /// The integer input for `net`, and its data set label if one is known.
    pub fn read(&self, net: &Network) -> Result<(Vec<i64>, Option<usize>), QueryError> {
        match self {
            Input::File { path, real } => Ok((read_vector(net, path, *real)?, None)),
            Input::Dataset { path, index, labels } => read_dataset(net, path, *index, labels.as_deref()),
        }
    }
}

/// The property a job verifies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Property {
    /// A VNN-LIB file (its assertions describe a counterexample), over the real (dequantized) or
    /// the integer inputs and outputs.
    Vnnlib {
        path: PathBuf,
        #[serde(default)]
        domain: Domain,
    },
    /// L∞ robustness around an input: every input in the ball is classified `label` (default:
    /// the data set's label, else the predicted class) under the tie rule.
    Robust {
        input: Input,
        radius: Radius,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<usize>,
        #[serde(default)]
        tie: TieRule,
    },
}

impl Property {
    /// A description of where the property comes from, for messages: its file.
    pub fn path(&self) -> &Path {
        match self {
            Property::Vnnlib { path, .. } => path,
            Property::Robust { input, .. } => input.path(),
        }
    }

    /// Build the integer spec for `net` (it passes [`Spec::check`]), and the real-valued input
    /// box it was derived from, if any.
    pub fn build(&self, net: &Network) -> Result<(Spec, Option<RealBox>), QueryError> {
        let spec_err = |source| QueryError::Spec { what: self.path().display().to_string(), source };
        match self {
            Property::Vnnlib { path, domain } => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| QueryError::Io { path: path.clone(), source })?;
                let v = vnnlib::parse(&text).map_err(|e| QueryError::file(path, e.to_string()))?;
                let spec = real::to_spec(&v, net, *domain, format!("VNN-LIB {}", path.display())).map_err(spec_err)?;
                spec.check(net).map_err(spec_err)?;
                let real_box = (*domain == Domain::Real).then(|| real::real_box(&v));
                Ok((spec, real_box))
            }
            Property::Robust { input, radius, label, tie } => {
                let (x, dataset_label) = input.read(net)?;
                let label = match label.or(dataset_label) {
                    Some(l) => l,
                    None => {
                        exec::argmax(&exec::run(net, &x).map_err(|e| QueryError::file(input.path(), e.to_string()))?)
                    }
                };
                let spec = robust::robustness(net, &x, *radius, label, *tie).map_err(spec_err)?;
                spec.check(net).map_err(spec_err)?;
                Ok((spec, robust::real_ball(net, &x, *radius)))
            }
        }
    }

    /// Whether the property's variables are the network's integer values (VNN-LIB read in the
    /// integer domain), not the real ones.
    pub fn integer_domain(&self) -> bool {
        matches!(self, Property::Vnnlib { domain: Domain::Integer, .. })
    }
}

/// A model and a property, loaded: what the pipeline needs, and what reporting needs.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub net: Network,
    /// The integer query every stage reads.
    pub spec: Spec,
    /// The real-valued input box the spec was derived from (a VNN-LIB property read in the real
    /// domain, or a real radius), so that a witness can be reported inside it without reading
    /// the property again.
    pub real_box: Option<RealBox>,
    /// The property's variables are the integer values (VNN-LIB `--domain integer`).
    pub integer_domain: bool,
}

impl Loaded {
    /// Load the model and build the property for it.
    pub fn new(model: &Model, property: &Property) -> Result<Loaded, QueryError> {
        let net = model.load()?;
        let (spec, real_box) = property.build(&net)?;
        Ok(Loaded { net, spec, real_box, integer_domain: property.integer_domain() })
    }

    /// A witness's input in the property's own terms: the integers in the integer domain, else
    /// the dequantized input clamped into the real box (a real input inside the property's box
    /// that quantizes to the witness; see [`RealBox::clamp`]).
    pub fn witness_input(&self, w: &Witness) -> Vec<f64> {
        if self.integer_domain {
            return w.input().iter().map(|&v| v as f64).collect();
        }
        match &self.real_box {
            Some(b) => b.clamp(w.input_real()),
            None => w.input_real().to_vec(),
        }
    }
}

/// Numbers in a file: a JSON array (possibly nested), or tokens separated by whitespace/commas.
fn numbers(text: &str, path: &Path) -> Result<Vec<f64>, QueryError> {
    let t = text.trim_start();
    if t.starts_with('[') {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| QueryError::file(path, format!("invalid JSON array: {e}")))?;
        let mut out = Vec::new();
        flatten(&v, &mut out).map_err(|e| QueryError::file(path, format!("expected an array of numbers: {e}")))?;
        return Ok(out);
    }
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, tok)| {
            tok.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| QueryError::file(path, format!("value {} (`{tok}`) is not a number", i + 1)))
        })
        .collect()
}

fn flatten(v: &serde_json::Value, out: &mut Vec<f64>) -> Result<(), String> {
    match v {
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out)),
        serde_json::Value::Number(n) => {
            out.push(n.as_f64().ok_or("number out of range")?);
            Ok(())
        }
        other => Err(format!("found {other} where a number was expected")),
    }
}

/// Read the quantized input of `net` from `path`; with `real`, quantize real values first.
pub fn read_vector(net: &Network, path: &Path, real: bool) -> Result<Vec<i64>, QueryError> {
    let text = std::fs::read_to_string(path).map_err(|source| QueryError::Io { path: path.to_path_buf(), source })?;
    let vals = numbers(&text, path)?;
    let n = net.input_len();
    if vals.len() != n {
        return Err(QueryError::file(
            path,
            format!("{} values, but the model takes {} inputs (shape {:?})", vals.len(), n, net.input().shape),
        ));
    }
    if real {
        return Ok(vals.iter().map(|&v| quantize_input(net.input(), v as f32)).collect());
    }
    let t = net.input().dtype;
    vals.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.fract() != 0.0 || !t.contains(v as i64) {
                return Err(QueryError::file(
                    path,
                    format!(
                        "value {} = {v} is not a {t} integer in [{}, {}] (use --real for real-valued inputs)",
                        i + 1,
                        t.min(),
                        t.max()
                    ),
                ));
            }
            Ok(v as i64)
        })
        .collect()
}

/// Image `index` of a data set (an IDX file, or `@bundled`) and its label, if known.
fn read_dataset(
    net: &Network,
    path: &Path,
    index: usize,
    labels: Option<&Path>,
) -> Result<(Vec<i64>, Option<usize>), QueryError> {
    if path.as_os_str() == BUNDLED {
        // The bundled test vectors (inputs of the bundled model) and their labels.
        let v = bundled::vectors();
        let x = v.inputs.get(index).cloned().ok_or_else(|| {
            QueryError::file(BUNDLED, format!("index {index} out of range ({} vectors)", v.inputs.len()))
        })?;
        exec::check_input(net, &x).map_err(|e| QueryError::file(BUNDLED, format!("vector {index}: {e}")))?;
        if let Some(lp) = labels.filter(|lp| lp.as_os_str() != BUNDLED) {
            return Err(QueryError::Usage(format!(
                "--labels {}: the labels of --dataset @bundled come with it (use --labels @bundled or omit it)",
                lp.display()
            )));
        }
        return Ok((x, v.labels.get(index).copied()));
    }
    let (x, _) = idx::load_image(path, index)?;
    exec::check_input(net, &x).map_err(|e| QueryError::file(path, format!("image {index}: {e}")))?;
    let label = match labels {
        Some(lp) => {
            let l = idx::load_labels(lp)?;
            let v = l
                .get(index)
                .ok_or_else(|| QueryError::file(lp, format!("index {index} out of range ({} labels)", l.len())))?;
            Some(usize::from(*v))
        }
        None => None,
    };
    Ok((x, label))
}
