//! ONNX import: quantized graphs in QOperator form (`QuantizeLinear` → `QLinearMatMul` /
//! `QLinearConv` / `com.microsoft:QGemm` / `MatMulInteger` / `ConvInteger` … →
//! `DequantizeLinear`, com.microsoft `QLinearAdd`/`QLinearGlobalAveragePool` for residual
//! networks) and in QDQ form (`DequantizeLinear` → float op → `QuantizeLinear`, as written by ONNX
//! Runtime's `quantize_static(quant_format=QDQ)`), into the IR (a graph: skip connections read
//! earlier tensors).
//!
//! The semantics imported is what ONNX Runtime 1.32's CPU execution provider computes on x86-64
//! in a default inference session (batch 1, `ORT_ENABLE_ALL`, no session configuration entries):
//! QDQ groups are folded exactly when ONNX Runtime fuses them into QLinearConv / QLinearMatMul /
//! QGemm ([`ort`] states its rules, with their sources), and every requantization is MLAS's
//! `y = clamp(nearbyint(fl(float(acc + int_bias) · scale)) + y_zp)` with
//! `scale = fl(fl(a_scale · b_scale) / y_scale)` (QGemm: `fl(fl(fl(alpha · a_scale) · b_scale) /
//! y_scale)`), i.e. [`crate::net::Rescale::Float32`] with float bias 0 and the integer bias in the
//! layer. A group ONNX Runtime leaves in float (DequantizeLinear → float op → QuantizeLinear) is
//! refused by name ([`OnnxError::NotReproducible`]): quiver cannot reproduce float summation order.
//! So is a uint8 × int8 kernel whose int16 pair sums could saturate on x86 CPUs without VNNI
//! (MLAS's `vpmaddubsw` kernels), unless [`ImportOptions`] says the CPU has VNNI.
//!
//! The conformance suite (`scripts/onnx/conformance.py`, `tests/onnx_conformance.rs`) checks
//! this against the real runtime on thousands of random graphs; the vectors in
//! `benchmarks/models/*.ort.vectors.json` (recorded on a CPU with AVX-512 VNNI) and
//! `tests/data/onnx/` on real models.
//!
//! Anything that cannot be mapped exactly is refused with an error naming the node; unsupported
//! operators, dynamic shapes and float-only models are reported together in one error.

mod emit;
pub mod graph;
pub mod ort;
pub mod proto;
mod qdq;
mod qoperator;

pub use ort::{ImportOptions, Rule, U8S8};

use graph::{decode_tensor, ir_shape, Builder, QParams, Tensor, TensorError};
use prost::Message;
use proto::{data_type as dt, DimValue, ModelProto, NodeProto};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use thiserror::Error;

use crate::net::validate::ValidationError;
use crate::net::{Input, InputQuantize, Network, Quant};

/// Why an ONNX model could not be imported. No variant repeats another error's message as its
/// `source()`, so an error chain prints each message once.
#[derive(Debug, Error)]
pub enum OnnxError {
    #[error("{path}: cannot read: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    /// An error in a named file.
    #[error("{path}: {error}")]
    File { path: PathBuf, error: Box<OnnxError> },
    /// The bytes are not a protobuf of the expected message.
    #[error("not a valid ONNX protobuf ({what}): {message}")]
    Decode { what: &'static str, message: String },
    /// A well-formed protobuf whose content is inconsistent (missing graph, bad tensor data, …).
    #[error("malformed ONNX model: {0}")]
    Malformed(String),
    /// Everything the importer does not support, listed together.
    #[error("unsupported ONNX model:\n  - {}", .0.join("\n  - "))]
    Unsupported(Vec<String>),
    /// A node that cannot be mapped exactly onto the IR.
    #[error("node `{node}` ({op}): {message}")]
    Node { node: String, op: String, message: String },
    /// A node that ONNX Runtime executes in a way quiver cannot reproduce bit for bit (in float,
    /// or with CPU-dependent integer arithmetic), refused by name; `rule` says which of ONNX
    /// Runtime's rules applies ([`Rule::source`]).
    #[error("{pattern} `{node}`: {message}")]
    NotReproducible { node: String, op: String, pattern: String, rule: Rule, message: String },
    /// The imported network failed validation.
    #[error("imported network is invalid: {0}")]
    Invalid(ValidationError),
}

impl From<ValidationError> for OnnxError {
    fn from(e: ValidationError) -> Self {
        OnnxError::Invalid(e)
    }
}

impl OnnxError {
    /// The error itself, without the file it came from.
    pub fn inner(&self) -> &OnnxError {
        match self {
            OnnxError::File { error, .. } => error.inner(),
            e => e,
        }
    }

    /// The node a node error or a refusal names (an [`OnnxError::Unsupported`] list names its
    /// nodes in its text).
    pub fn node(&self) -> Option<&str> {
        match self.inner() {
            OnnxError::Node { node, .. } | OnnxError::NotReproducible { node, .. } => Some(node),
            _ => None,
        }
    }

    /// The rule of a refusal ([`OnnxError::NotReproducible`]).
    pub fn rule(&self) -> Option<Rule> {
        match self.inner() {
            OnnxError::NotReproducible { rule, .. } => Some(*rule),
            _ => None,
        }
    }
}

/// An error of one node, before the driver names it.
#[derive(Debug)]
pub(crate) enum NodeErr {
    Msg(String),
    Refuse { pattern: String, rule: Rule, message: String },
}

impl From<String> for NodeErr {
    fn from(s: String) -> Self {
        NodeErr::Msg(s)
    }
}

impl From<&str> for NodeErr {
    fn from(s: &str) -> Self {
        NodeErr::Msg(s.to_string())
    }
}

impl From<TensorError> for NodeErr {
    fn from(e: TensorError) -> Self {
        NodeErr::Msg(e.to_string())
    }
}

pub(crate) type Res<T> = Result<T, NodeErr>;

/// Refuse a node: ONNX Runtime executes `pattern` in a way quiver cannot reproduce (`rule`).
pub(crate) fn refuse<T>(pattern: &str, rule: Rule, message: impl Into<String>) -> Res<T> {
    Err(NodeErr::Refuse { pattern: pattern.to_string(), rule, message: message.into() })
}

/// Read and import an `.onnx` file (default [`ImportOptions`]).
pub fn load(path: &Path) -> Result<Network, OnnxError> {
    load_with(path, &ImportOptions::default())
}

/// Read and import an `.onnx` file.
pub fn load_with(path: &Path, options: &ImportOptions) -> Result<Network, OnnxError> {
    let bytes = std::fs::read(path).map_err(|error| OnnxError::Io { path: path.to_path_buf(), error })?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    from_bytes_with(&bytes, &name, &[], options)
        .map_err(|e| OnnxError::File { path: path.to_path_buf(), error: Box::new(e) })
}

/// Import a serialized `ModelProto`; `name` is the network's name if the graph has none.
pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Network, OnnxError> {
    from_bytes_with(bytes, name, &[], &ImportOptions::default())
}

/// As [`from_bytes`], binding graph inputs to constants: `bound[k] = Some(t)` makes graph input
/// `k` (in `graph.input` order) the constant `t`, as the ONNX operator conformance tests need
/// (their scales, zero points and weights are graph inputs, stored in `input_k.pb`). The one
/// graph input left unbound (and not an initializer) is the network's input.
pub fn from_bytes_with_inputs(bytes: &[u8], name: &str, bound: &[Option<Tensor>]) -> Result<Network, OnnxError> {
    from_bytes_with(bytes, name, bound, &ImportOptions::default())
}

/// [`from_bytes_with_inputs`] with explicit [`ImportOptions`].
pub fn from_bytes_with(
    bytes: &[u8],
    name: &str,
    bound: &[Option<Tensor>],
    options: &ImportOptions,
) -> Result<Network, OnnxError> {
    let model =
        ModelProto::decode(bytes).map_err(|e| OnnxError::Decode { what: "ModelProto", message: e.to_string() })?;
    import(&model, name, bound, options)
}

/// Decode one serialized `TensorProto` (e.g. a conformance test's `input_0.pb`).
pub fn read_tensor(bytes: &[u8]) -> Result<Tensor, OnnxError> {
    let t = proto::TensorProto::decode(bytes)
        .map_err(|e| OnnxError::Decode { what: "TensorProto", message: e.to_string() })?;
    decode_tensor(&t).map_err(|e| match e {
        TensorError::Unsupported(m) => OnnxError::Unsupported(vec![m]),
        TensorError::Malformed(m) => OnnxError::Malformed(m),
    })
}

/// Operators the importer maps (domain "" unless prefixed).
const SUPPORTED: &[&str] = &[
    "QuantizeLinear",
    "DequantizeLinear",
    "QLinearMatMul",
    "QLinearConv",
    "MatMulInteger",
    "ConvInteger",
    "com.microsoft:QGemm",
    "com.microsoft:QLinearAdd",
    "com.microsoft:QLinearGlobalAveragePool",
    "Relu",
    "Clip",
    "MaxPool",
    "Flatten",
    "Reshape",
    "Identity",
    "Constant",
    "ConstantOfShape",
    "Cast",
    // float ops: only between DequantizeLinear and QuantizeLinear (QDQ)
    "Gemm",
    "MatMul",
    "Conv",
    "Add",
    "GlobalAveragePool",
];

/// Operators that mark a graph as quantized.
const QUANT_OPS: &[&str] = &[
    "QuantizeLinear",
    "DequantizeLinear",
    "QLinearMatMul",
    "QLinearConv",
    "MatMulInteger",
    "ConvInteger",
    "com.microsoft:QGemm",
    "com.microsoft:QLinearAdd",
    "com.microsoft:QLinearGlobalAveragePool",
    "QLinearAdd",
];

/// Refusals with a specific reason (rather than "unsupported operator").
fn known_refusal(op: &str) -> Option<&'static str> {
    match op {
        "QLinearAdd" => Some("QLinearAdd is a com.microsoft operator; the default domain has none"),
        "Sum" => Some("a float sum of tensors (ONNX Runtime fuses only DequantizeLinear → Add → QuantizeLinear)"),
        "AveragePool" | "com.microsoft:QLinearAveragePool" => Some(
            "ONNX Runtime averages quantized tensors in float (QLinearAveragePool); no exact IR mapping is implemented",
        ),
        "DynamicQuantizeLinear" => {
            Some("dynamic quantization depends on the input's range; the IR needs static scales")
        }
        _ => None,
    }
}

/// The operator of a node: its op type, prefixed by its domain unless that is the default one.
/// com.microsoft QuantizeLinear/DequantizeLinear (which onnxruntime.quantization writes for 16-bit
/// and 4-bit types at older opsets) are the standard operators: ONNX Runtime treats them alike
/// (`MatchQNode`/`MatchDQNode` in qdq_util.cc accept domain com.microsoft, version 1).
pub(crate) fn op_key(n: &NodeProto) -> String {
    if n.domain.is_empty()
        || n.domain == "ai.onnx"
        || (n.domain == "com.microsoft" && matches!(n.op_type.as_str(), "QuantizeLinear" | "DequantizeLinear"))
    {
        n.op_type.clone()
    } else {
        format!("{}:{}", n.domain, n.op_type)
    }
}

/// A value flowing through the graph.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// The float graph input, before its QuantizeLinear.
    FloatInput { dims: Vec<usize> },
    /// An integer graph input whose quantization its first consumer defines.
    IntInput { dims: Vec<usize>, data_type: i32 },
    /// An integer tensor of the network: IR tensor index and ONNX dims.
    Int { t: usize, dims: Vec<usize> },
    /// `DequantizeLinear(Int)` (per-tensor; same zero point as the tensor, `scale` its own).
    /// `dq` is the DequantizeLinear node that produced it directly (`None` once a float op such as
    /// Flatten or Relu has been applied: ONNX Runtime then no longer sees a QDQ group).
    Deq { t: usize, dims: Vec<usize>, scale: f32, dq: Option<usize> },
    /// A constant.
    Const(Tensor),
    /// A constant the importer cannot decode (e.g. an element type it does not support); an error
    /// only if a node uses it.
    Bad(String),
    /// `DequantizeLinear` of a constant (QDQ weights and biases).
    /// `explicit_zp`: the DequantizeLinear has a zero-point input (ONNX Runtime's QGemm fusion
    /// requires one).
    ConstDeq { q: Tensor, params: QParams, axis: i64, explicit_zp: bool },
}

/// The import state.
pub(crate) struct Ctx<'a> {
    pub nodes: &'a [NodeProto],
    pub values: HashMap<String, Value>,
    pub consumers: HashMap<String, Vec<usize>>,
    pub graph_outputs: HashSet<String>,
    pub skip: HashSet<usize>,
    pub b: Builder,
    pub input: Option<Input>,
    pub options: ImportOptions,
    /// Int8 QuantizeLinear outputs ONNX Runtime rewrites to uint8 ([`ort::s8_to_u8_pairs`]).
    pub s8_to_u8: HashSet<String>,
}

impl<'a> Ctx<'a> {
    pub fn value(&self, name: &str) -> Res<&Value> {
        if name.is_empty() {
            return Err("a required input is missing (empty name)".into());
        }
        match self.values.get(name) {
            Some(Value::Bad(why)) => Err(NodeErr::Msg(why.clone())),
            Some(v) => Ok(v),
            None => Err(format!(
                "input `{name}` is neither an initializer, a graph input nor the output of an earlier node"
            )
            .into()),
        }
    }

    /// Optional input `i` of `n` (absent or empty name → `None`).
    pub fn opt_input(&self, n: &NodeProto, i: usize) -> Res<Option<&Value>> {
        match n.input.get(i) {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => self.value(s).map(Some),
        }
    }

    pub fn input(&self, n: &NodeProto, i: usize) -> Res<&Value> {
        self.opt_input(n, i)?.ok_or_else(|| format!("required input {i} is missing").into())
    }

    /// A constant input (initializer, bound graph input or `Constant` output).
    pub fn const_input(&self, n: &NodeProto, i: usize, what: &str) -> Res<&Tensor> {
        match self.input(n, i)? {
            Value::Const(t) => Ok(t),
            _ => Err(format!(
                "{what} (`{}`) must be a constant (initializer); computed values are not supported",
                n.input.get(i).map(String::as_str).unwrap_or("")
            )
            .into()),
        }
    }

    pub fn opt_const(&self, n: &NodeProto, i: usize, what: &str) -> Res<Option<&Tensor>> {
        match self.opt_input(n, i)? {
            None => Ok(None),
            Some(_) => self.const_input(n, i, what).map(Some),
        }
    }

    pub fn set(&mut self, n: &NodeProto, v: Value) -> Res<()> {
        let out = n.output.first().filter(|s| !s.is_empty()).ok_or("the node has no output")?;
        self.values.insert(out.clone(), v);
        Ok(())
    }

    /// The integer tensor behind input `i`, which must be the newest network tensor (the IR is a
    /// chain). `q` gives the operator's own quantization of that input (scale, zero point), which
    /// must agree with the tensor's; an integer graph input takes it as its quantization.
    pub fn take_int(&mut self, n: &NodeProto, i: usize, q: Option<Quant>) -> Res<(usize, Vec<usize>)> {
        let v = self.input(n, i)?.clone();
        match v {
            Value::IntInput { dims, data_type } => {
                let dtype = graph::qtype_of(data_type).ok_or_else(|| {
                    format!("the graph input has type {}, not a quantized integer type", dt::name(data_type))
                })?;
                let q = q.unwrap_or(Quant { dtype, scale: 1.0, zero_point: 0 });
                if q.dtype != dtype {
                    return Err(
                        format!("the input's zero point type {} differs from the input type {dtype}", q.dtype).into()
                    );
                }
                self.set_input(&dims, q)?;
                let name = n.input[i].clone();
                self.values.insert(name, Value::Int { t: 0, dims: dims.clone() });
                Ok((0, dims))
            }
            Value::Int { t, dims } => {
                self.check_chain(t, &n.input[i])?;
                if let Some(q) = q {
                    let have = self.b.quant(t);
                    if have.dtype != q.dtype || have.zero_point != q.zero_point {
                        return Err(format!(
                            "the input's quantization ({} zero point {}) differs from the tensor's ({} zero point {})",
                            q.dtype, q.zero_point, have.dtype, have.zero_point
                        )
                        .into());
                    }
                }
                Ok((t, dims))
            }
            Value::FloatInput { .. } => Err("the float graph input must first go through QuantizeLinear".into()),
            Value::Deq { .. } => Err("expects an integer tensor but gets a dequantized (float) one".into()),
            Value::Const(_) | Value::ConstDeq { .. } | Value::Bad(_) => {
                Err("a constant data input is not supported (the data input must come from the graph input)".into())
            }
        }
    }

    /// Make tensor `t` the one the next emitted layer reads (it may be an earlier tensor than
    /// the newest: a branch or a skip connection).
    pub fn check_chain(&mut self, t: usize, _name: &str) -> Res<()> {
        self.b.cur = t;
        Ok(())
    }

    pub fn set_input(&mut self, dims: &[usize], q: Quant) -> Res<()> {
        if self.input.is_some() {
            return Err("a second network input; only one data input is supported".into());
        }
        let shape = ir_shape(dims);
        self.input = Some(Input {
            shape: shape.clone(),
            dtype: q.dtype,
            scale: q.scale,
            zero_point: q.zero_point,
            quantize: InputQuantize::Divide,
        });
        self.b.tensors.push((shape, q));
        Ok(())
    }

    /// The single consumer of output `out`, if it has exactly one and is not a graph output.
    pub fn sole_consumer(&self, out: &str) -> Option<usize> {
        match self.consumers.get(out).map(Vec::as_slice) {
            Some([c]) if !self.graph_outputs.contains(out) => Some(*c),
            _ => None,
        }
    }
}

fn graph_input_dims(vi: &proto::ValueInfoProto, problems: &mut Vec<String>) -> Option<(i32, Vec<usize>)> {
    let tt = match vi.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()) {
        Some(t) => t,
        None => {
            problems.push(format!("graph input `{}` is not a tensor", vi.name));
            return None;
        }
    };
    let shape = match &tt.shape {
        Some(s) => s,
        None => {
            problems.push(format!("graph input `{}` has no shape (dynamic rank)", vi.name));
            return None;
        }
    };
    let mut dims = Vec::new();
    for (i, d) in shape.dim.iter().enumerate() {
        match &d.value {
            Some(DimValue::DimValue(v)) if *v >= 1 => dims.push(*v as usize),
            Some(DimValue::DimParam(p)) => {
                problems.push(format!(
                    "graph input `{}` has a dynamic dimension {i} (`{p}`); export with fixed shapes (batch 1)",
                    vi.name
                ));
                return None;
            }
            _ => {
                problems.push(format!("graph input `{}` has an unknown or empty dimension {i}", vi.name));
                return None;
            }
        }
    }
    Some((tt.elem_type, dims))
}

fn import(
    model: &ModelProto,
    name: &str,
    bound: &[Option<Tensor>],
    options: &ImportOptions,
) -> Result<Network, OnnxError> {
    let g = model.graph.as_ref().ok_or_else(|| OnnxError::Malformed("the model has no graph".into()))?;
    let mut problems = Vec::new();
    // The rules are those of the opsets the conformance suite checks (ort::OPSETS).
    for o in &model.opset_import {
        if (o.domain.is_empty() || o.domain == "ai.onnx") && !ort::OPSETS.contains(&o.version) {
            problems.push(format!(
                "default-domain opset {} is outside the opsets {}..={} whose ONNX Runtime behaviour quiver's import \
                 rules are checked against",
                o.version,
                ort::OPSETS.start(),
                ort::OPSETS.end()
            ));
        }
    }
    if !g.sparse_initializer.is_empty() {
        problems.push("sparse initializers are not supported".to_string());
    }

    // Pre-scan: operators.
    let mut unknown: Vec<(String, Vec<String>)> = Vec::new();
    let mut quantized = false;
    for (i, n) in g.node.iter().enumerate() {
        let key = op_key(n);
        quantized |= QUANT_OPS.contains(&key.as_str());
        let label = if n.name.is_empty() { format!("#{i}") } else { n.name.clone() };
        if let Some(why) = known_refusal(&key) {
            problems.push(format!("node `{label}` ({key}): {why}"));
        } else if !SUPPORTED.contains(&key.as_str()) {
            match unknown.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(label),
                None => unknown.push((key, vec![label])),
            }
        }
    }
    for (k, v) in &unknown {
        let shown: Vec<_> = v.iter().take(5).map(|s| format!("`{s}`")).collect();
        let more = if v.len() > 5 { format!(" and {} more", v.len() - 5) } else { String::new() };
        problems.push(format!("operator {k} is not supported (nodes {}{more})", shown.join(", ")));
    }
    // Constants and inputs.
    let mut values: HashMap<String, Value> = HashMap::new();
    // Initializers are decoded here, but one that cannot be decoded is an error only if a node
    // uses it (unused initializers of any type are ignored).
    for t in &g.initializer {
        let v = match decode_tensor(t) {
            Ok(d) => Value::Const(d),
            Err(e) => Value::Bad(e.to_string()),
        };
        values.insert(t.name.clone(), v);
    }
    if bound.len() > g.input.len() {
        return Err(OnnxError::Malformed(format!(
            "{} bound inputs given but the graph has {} inputs",
            bound.len(),
            g.input.len()
        )));
    }
    let mut data_inputs = Vec::new();
    for (k, vi) in g.input.iter().enumerate() {
        if let Some(Some(t)) = bound.get(k) {
            let mut t = t.clone();
            t.name = vi.name.clone();
            values.insert(vi.name.clone(), Value::Const(t));
            continue;
        }
        if values.contains_key(&vi.name) {
            continue; // an initializer listed as input (IR < 4): a constant
        }
        data_inputs.push(vi);
    }
    match data_inputs.len() {
        1 => {
            if let Some((et, dims)) = graph_input_dims(data_inputs[0], &mut problems) {
                let v = match et {
                    dt::FLOAT => Value::FloatInput { dims },
                    t if graph::qtype_of(t).is_some() => Value::IntInput { dims, data_type: t },
                    t => {
                        problems.push(format!(
                            "graph input `{}` has type {}; expected FLOAT or a quantized integer type",
                            data_inputs[0].name,
                            dt::name(t)
                        ));
                        Value::FloatInput { dims }
                    }
                };
                values.insert(data_inputs[0].name.clone(), v);
            }
        }
        0 => problems.push("the graph has no data input".into()),
        k => problems.push(format!(
            "the graph has {k} data inputs ({}); the IR takes exactly one",
            data_inputs.iter().map(|v| format!("`{}`", v.name)).collect::<Vec<_>>().join(", ")
        )),
    }
    if g.output.len() != 1 {
        problems.push(format!("the graph has {} outputs; the IR has exactly one", g.output.len()));
    }
    // An integer data input makes the graph integer (e.g. a lone QLinear op or integer Clip).
    quantized |= values.values().any(|v| matches!(v, Value::IntInput { .. }));
    if !quantized {
        let ops: Vec<String> = {
            let mut o: Vec<String> = g.node.iter().map(op_key).collect();
            o.dedup();
            o
        };
        problems.push(format!(
            "float-only model: no QuantizeLinear/DequantizeLinear/QLinear*/…Integer operator (operators: {}); \
             quiver verifies quantized networks — quantize it first (e.g. onnxruntime.quantization.quantize_static)",
            ops.join(", ")
        ));
    }

    if !problems.is_empty() {
        return Err(OnnxError::Unsupported(problems));
    }

    let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for inp in n.input.iter().filter(|s| !s.is_empty()) {
            consumers.entry(inp.clone()).or_default().push(i);
        }
    }
    let graph_outputs: HashSet<String> = g.output.iter().map(|o| o.name.clone()).collect();
    let mut ctx = Ctx {
        nodes: &g.node,
        values,
        consumers,
        graph_outputs,
        skip: HashSet::new(),
        b: Builder::default(),
        input: None,
        options: *options,
        s8_to_u8: HashSet::new(),
    };
    let node_err = |i: usize, n: &NodeProto, e: NodeErr| {
        let node = if n.name.is_empty() { format!("#{i}") } else { n.name.clone() };
        match e {
            NodeErr::Msg(message) => OnnxError::Node { node, op: op_key(n), message },
            NodeErr::Refuse { pattern, rule, message } => {
                OnnxError::NotReproducible { node, op: op_key(n), pattern, rule, message }
            }
        }
    };
    // Constant folding first, so that the QDQ folding can look ahead at QuantizeLinear
    // parameters computed by later nodes (PyTorch's exporter emits them after the float op).
    for (i, n) in g.node.iter().enumerate() {
        let key = op_key(n);
        let all_const = n.input.iter().all(|s| s.is_empty() || matches!(ctx.values.get(s), Some(Value::Const(_))));
        let r = match key.as_str() {
            "Constant" => constant(&mut ctx, n),
            "Cast" | "ConstantOfShape" if all_const => node(&mut ctx, i, n),
            _ => continue,
        };
        r.map_err(|e| node_err(i, n, e))?;
        ctx.skip.insert(i);
    }
    ctx.s8_to_u8 = ort::s8_to_u8_pairs(&g.node, &ctx.values, &ctx.consumers, &ctx.graph_outputs);
    for (i, n) in g.node.iter().enumerate() {
        if ctx.skip.contains(&i) {
            continue;
        }
        node(&mut ctx, i, n).map_err(|e| node_err(i, n, e))?;
        let emitted = ctx.b.layers.len();
        ctx.b.origin.resize(emitted, i);
    }

    // The output. Errors about it name the node that produces it.
    let out_name = &g.output[0].name;
    let out_err = |message: String| -> OnnxError {
        match g.node.iter().enumerate().find(|(_, n)| n.output.iter().any(|o| o == out_name)) {
            Some((i, n)) => OnnxError::Node {
                node: if n.name.is_empty() { format!("#{i}") } else { n.name.clone() },
                op: op_key(n),
                message,
            },
            None => OnnxError::Malformed(message),
        }
    };
    let input = ctx.input.clone().ok_or_else(|| OnnxError::Malformed("the graph input is never used".into()))?;
    let t = match ctx.values.get(out_name) {
        Some(Value::Int { t, .. }) => *t,
        Some(Value::Deq { t, scale, .. }) => {
            // The output DequantizeLinear defines the output's real interpretation.
            let (t, s) = (*t, f64::from(*scale));
            let is_last = t == ctx.b.last();
            let same = ctx.b.quant(t).scale as f32 == *scale;
            match ctx.b.layers.last_mut() {
                Some(crate::net::Layer::Dense(d)) if is_last => d.output.scale = s,
                Some(crate::net::Layer::Conv2d(c)) if is_last => c.output.scale = s,
                _ if same => {}
                _ => {
                    return Err(out_err(format!(
                        "the output DequantizeLinear's scale {scale} differs from the scale of the tensor it \
                         dequantizes, which the IR cannot represent after a layer without its own output scale"
                    )))
                }
            }
            t
        }
        Some(_) => {
            return Err(out_err(format!(
                "graph output `{out_name}` is not a quantized tensor computed from the input (float ops must be \
                 followed by QuantizeLinear)"
            )))
        }
        None => return Err(OnnxError::Malformed(format!("graph output `{out_name}` is not produced by any node"))),
    };
    if t != ctx.b.last() {
        return Err(out_err(format!(
            "graph output `{out_name}` is not the last computed tensor (the IR's output is its last node's)"
        )));
    }
    let origin = std::mem::take(&mut ctx.b.origin);
    Network::graph(name, input, ctx.b.into_nodes()).map_err(|e| {
        // An error in a layer names the ONNX node it was emitted for.
        match e.layer.and_then(|(k, _)| origin.get(k)).map(|&i| (i, &g.node[i])) {
            Some((i, n)) => node_err(i, n, NodeErr::Msg(e.message)),
            None => OnnxError::Invalid(e),
        }
    })
}

/// Dispatch one node.
fn node(ctx: &mut Ctx, i: usize, n: &NodeProto) -> Res<()> {
    match op_key(n).as_str() {
        "QuantizeLinear" => qoperator::quantize_linear(ctx, n),
        "DequantizeLinear" => qoperator::dequantize_linear(ctx, i, n),
        "Gemm" | "MatMul" | "Conv" => qdq::fold(ctx, n),
        "Add" => qdq::fold_add(ctx, n),
        "GlobalAveragePool" => qdq::fold_global_avg_pool(ctx, n),
        _ => qoperator::node(ctx, n),
    }
}

/// `Constant` nodes (the `value` attribute only). A value the importer cannot decode is an error
/// only if a node uses it.
fn constant(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let a = graph::Attrs { node: n };
    let t = a.tensor("value")?.ok_or("only Constant nodes with a `value` tensor attribute are supported")?;
    let v = match decode_tensor(t) {
        Ok(mut d) => {
            if let Some(o) = n.output.first() {
                d.name = o.clone();
            }
            Value::Const(d)
        }
        Err(e) => Value::Bad(e.to_string()),
    };
    ctx.set(n, v)
}
