//! Validation: every invariant the executor, the bounds and the encodings rely on, checked once
//! when a [`Network`] is built. After this, no arithmetic on the network can overflow.
//!
//! Each operator checks its own parameters and shapes ([`Operator::infer`]); what is checked here
//! is the graph (inputs exist and come earlier: a topological order; every value is used) and
//! the arithmetic of the lowered forms: every pre-activation over every input the types allow
//! fits `i64` (partial sums included), and every rescale's preconditions hold on that range.

use super::form::{Act, Form};
use super::ir::{Input, Layer, Network, TensorInfo};
use super::ops::{check, Operator};
use super::requant::{Requant, Rescale};
use thiserror::Error;

pub use check::MAX_ELEMENTS;

/// A violated invariant, with the layer (node) it was found in (`None` = the input declaration
/// or the graph as a whole).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{}: {message}", match layer { Some((i, kind)) => format!("layer {i} ({kind})"), None => "input".to_string() })]
pub struct ValidationError {
    pub layer: Option<(usize, &'static str)>,
    pub message: String,
}

type Res<T> = Result<T, String>;

fn is_f32(x: f64) -> bool {
    x.is_finite() && f64::from(x as f32) == x
}

/// A requantization has one rescale, or one per output channel.
pub(crate) fn requant_shape(r: &Requant, channels: usize) -> Res<()> {
    if r.rescale.len() != 1 && r.rescale.len() != channels {
        return Err(format!(
            "requant has {} rescales; expected 1 or {channels} (one per output channel)",
            r.rescale.len()
        ));
    }
    Ok(())
}

/// The preconditions of a rescale on the accumulators `acc` it can see (channel `ch`).
fn check_rescale(r: &Rescale, acc: (i64, i64), ch: usize) -> Res<()> {
    let amax = acc.0.unsigned_abs().max(acc.1.unsigned_abs()) as f64;
    let in_i32 = |lo: i64, hi: i64| lo >= i64::from(i32::MIN) && hi <= i64::from(i32::MAX);
    match *r {
        Rescale::Dyadic { m, shift, .. } => {
            if m <= 0 {
                return Err(format!("rescale {ch}: dyadic multiplier m must be > 0, got {m}"));
            }
            if shift > 120 {
                return Err(format!("rescale {ch}: dyadic shift {shift} exceeds 120"));
            }
        }
        Rescale::Float32 { m, bias, .. } => {
            if !(m.is_finite() && m > 0.0) {
                return Err(format!("rescale {ch}: float32 multiplier must be finite and > 0, got {m}"));
            }
            if !is_f32(m) || !is_f32(bias) {
                return Err(format!(
                    "rescale {ch}: float32 multiplier {m} and bias {bias} must be exact binary32 values \
                     (write them as the decimal of the f32, e.g. Python float(np.float32(x)))"
                ));
            }
            if !in_i32(acc.0, acc.1) {
                return Err(format!(
                    "rescale {ch}: accumulator range [{}, {}] exceeds int32, which float32 runtimes accumulate in",
                    acc.0, acc.1
                ));
            }
            // |fl(fl(acc) + bias) · m| stays far below 2^31, so the conversion to int32 is exact.
            if (amax + bias.abs()) * 1.001 * m >= 2f64.powi(31) {
                return Err(format!(
                    "rescale {ch}: float32 rescale can overflow int32 for accumulators in [{}, {}]",
                    acc.0, acc.1
                ));
            }
        }
        Rescale::Q31 { m0, shift } => {
            if m0 <= 0 {
                return Err(format!("rescale {ch}: q31 multiplier m0 must be > 0, got {m0}"));
            }
            if !(-31..=30).contains(&shift) {
                return Err(format!("rescale {ch}: q31 shift must be in [-31, 30], got {shift}"));
            }
            let left = shift.max(0) as u32;
            let lo = i128::from(acc.0) << left;
            let hi = i128::from(acc.1) << left;
            if lo < i128::from(i32::MIN) || hi > i128::from(i32::MAX) {
                return Err(format!(
                    "rescale {ch}: accumulator range [{}, {}] shifted left by {left} exceeds int32 (gemmlowp arithmetic)",
                    acc.0, acc.1
                ));
            }
        }
    }
    Ok(())
}

/// Per-row pre-activation ranges of a form over every input its input types allow, checked
/// against `i64` (every partial sum too) and against each activation's preconditions. Returns
/// the accumulator range of the node (Dense/Conv) for reporting. `xs` are the tensors the node
/// reads (the form indexes their concatenation).
fn check_form(form: &Form, xs: &[&TensorInfo]) -> Res<Option<(i64, i64)>> {
    let Form::Affine(a) = form else { return Ok(None) };
    let z = i128::from(a.zero_point);
    // The range of `x_i − z` for every index of the concatenated input.
    let ranges: Vec<(i128, i128)> = xs
        .iter()
        .flat_map(|x| {
            let r = (i128::from(x.quant.dtype.min()) - z, i128::from(x.quant.dtype.max()) - z);
            std::iter::repeat_n(r, x.len())
        })
        .collect();
    let (mut all_lo, mut all_hi) = (i64::MAX, i64::MIN);
    for k in 0..a.n_out() {
        let b = i128::from(a.bias[k]);
        let (mut lo, mut hi, mut mag) = (b, b, b.abs());
        for (i, c) in a.rows.row(k) {
            let c = i128::from(c);
            let (xlo, xhi) = ranges[i];
            let (p, q) = (c * xlo, c * xhi);
            lo += p.min(q);
            hi += p.max(q);
            mag += c.abs() * xlo.abs().max(xhi.abs());
        }
        if mag > i128::from(i64::MAX) {
            let what = if a.accumulator { "accumulator" } else { "sum" };
            return Err(format!("{what} of output {k} can overflow i64 (range [{lo}, {hi}])"));
        }
        let (lo, hi) = (lo as i64, hi as i64);
        if let Act::Requant { rescale, .. } = a.acts.of(k) {
            check_rescale(rescale, (lo, hi), a.acts.channel_of(k))?;
        }
        all_lo = all_lo.min(lo);
        all_hi = all_hi.max(hi);
    }
    Ok((a.accumulator && a.n_out() > 0).then_some((all_lo, all_hi)))
}

/// One node of a graph under construction: its name (unique; it also names its output
/// tensor), its operator and the tensors it reads (tensor 0 is the network's input, tensor
/// `j + 1` the output of node `j`).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Layer,
    pub inputs: Vec<usize>,
}

impl Network {
    /// Build a sequential network (each layer reads the previous one's output), checking every
    /// invariant (see the module documentation). Nodes are named `n0`, `n1`, ….
    pub fn new(name: impl Into<String>, input: Input, layers: Vec<Layer>) -> Result<Network, ValidationError> {
        let nodes = layers.into_iter().enumerate().map(|(i, op)| Node { name: format!("n{i}"), op, inputs: vec![i] });
        Network::graph(name, input, nodes.collect())
    }

    /// Build a network from nodes in topological order: node `i` computes tensor `i + 1` from
    /// the tensors it reads, which must come earlier. The last node's output is the network's
    /// output; every other node's output must be read by some node. Names must be unique.
    pub fn graph(name: impl Into<String>, input: Input, nodes: Vec<Node>) -> Result<Network, ValidationError> {
        Network::build(name.into(), input, nodes, true)
    }

    /// [`Network::graph`] without the rule that every intermediate output is read: the graph
    /// under construction in a generator, whose dangling nodes are about to get readers.
    pub(crate) fn graph_prefix(input: Input, nodes: Vec<Node>) -> Result<Network, ValidationError> {
        Network::build("prefix".into(), input, nodes, false)
    }

    fn build(name: String, input: Input, nodes: Vec<Node>, all_read: bool) -> Result<Network, ValidationError> {
        let in_err = |message: String| ValidationError { layer: None, message };
        if input.shape.is_empty() || input.shape.contains(&0) {
            return Err(in_err(format!("shape {:?} must be non-empty with every dimension > 0", input.shape)));
        }
        check::len(&input.shape).map_err(in_err)?;
        check::quant(&input.quant(), "input").map_err(in_err)?;
        let mut seen = std::collections::HashSet::new();
        if let Some(n) = nodes.iter().find(|n| !seen.insert(n.name.as_str())) {
            return Err(in_err(format!("two nodes are named `{}`", n.name)));
        }
        let mut tensors = vec![TensorInfo { shape: input.shape.clone(), quant: input.quant() }];
        let (mut layers, mut inputs, mut names) = (Vec::new(), Vec::new(), Vec::new());
        let mut forms = Vec::with_capacity(nodes.len());
        let mut acc_ranges = Vec::with_capacity(nodes.len());
        let mut used = vec![false; nodes.len() + 1];
        for (i, node) in nodes.into_iter().enumerate() {
            let layer = node.op;
            let err = |message: String| ValidationError { layer: Some((i, layer.kind())), message };
            if node.inputs.is_empty() {
                return Err(err("reads no tensor".into()));
            }
            if let Some(&t) = node.inputs.iter().find(|&&t| t > i) {
                return Err(err(format!(
                    "reads tensor {t}, which is not computed before it (a node reads tensors 0..={i})"
                )));
            }
            let infos: Vec<&TensorInfo> = node.inputs.iter().map(|&t| &tensors[t]).collect();
            let out = layer.infer(&infos).map_err(err)?;
            let form = layer.lower(&infos, &out);
            let acc = check_form(&form, &infos).map_err(err)?;
            for &t in &node.inputs {
                used[t] = true;
            }
            tensors.push(out);
            forms.push(form);
            acc_ranges.push(acc);
            layers.push(layer);
            inputs.push(node.inputs);
            names.push(node.name);
        }
        if let Some(j) = (1..layers.len()).find(|&t| all_read && !used[t]) {
            return Err(ValidationError {
                layer: Some((j - 1, layers[j - 1].kind())),
                message: "its output is never read (only the last node's output may be unused)".into(),
            });
        }
        Ok(Network { name, input, layers, inputs, names, tensors, forms, acc_ranges })
    }
}
