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
/// the accumulator range of the node (Dense/Conv) for reporting.
fn check_form(form: &Form, x: &TensorInfo) -> Res<Option<(i64, i64)>> {
    let Form::Affine(a) = form else { return Ok(None) };
    let z = i128::from(a.zero_point);
    let (xlo, xhi) = (i128::from(x.quant.dtype.min()) - z, i128::from(x.quant.dtype.max()) - z);
    let xmag = xlo.abs().max(xhi.abs());
    let (mut all_lo, mut all_hi) = (i64::MAX, i64::MIN);
    for k in 0..a.n_out() {
        let b = i128::from(a.bias[k]);
        let (mut lo, mut hi, mut mag) = (b, b, b.abs());
        for (_, c) in a.rows.row(k) {
            let c = i128::from(c);
            let (p, q) = (c * xlo, c * xhi);
            lo += p.min(q);
            hi += p.max(q);
            mag += c.abs() * xmag;
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

impl Network {
    /// Build a sequential network (each layer reads the previous one's output), checking every
    /// invariant (see the module documentation).
    pub fn new(name: impl Into<String>, input: Input, layers: Vec<Layer>) -> Result<Network, ValidationError> {
        let inputs = (0..layers.len()).map(|i| vec![i]).collect();
        Network::graph(name, input, layers, inputs)
    }

    /// Build a network whose node `i` computes `layers[i]` from the tensors `inputs[i]` (tensor
    /// 0 is the network's input, tensor `j + 1` the output of node `j`; a node may only read
    /// earlier tensors). The last node's output is the network's output; every other node's
    /// output must be read by some node.
    pub fn graph(
        name: impl Into<String>,
        input: Input,
        layers: Vec<Layer>,
        inputs: Vec<Vec<usize>>,
    ) -> Result<Network, ValidationError> {
        let in_err = |message: String| ValidationError { layer: None, message };
        if input.shape.is_empty() || input.shape.contains(&0) {
            return Err(in_err(format!("shape {:?} must be non-empty with every dimension > 0", input.shape)));
        }
        check::len(&input.shape).map_err(in_err)?;
        check::quant(&input.quant(), "input").map_err(in_err)?;
        if inputs.len() != layers.len() {
            return Err(in_err(format!("{} layers but {} input lists", layers.len(), inputs.len())));
        }
        let mut tensors = vec![TensorInfo { shape: input.shape.clone(), quant: input.quant() }];
        let mut forms = Vec::with_capacity(layers.len());
        let mut acc_ranges = Vec::with_capacity(layers.len());
        let mut used = vec![false; layers.len() + 1];
        for (i, layer) in layers.iter().enumerate() {
            let err = |message: String| ValidationError { layer: Some((i, layer.kind())), message };
            if let Some(&t) = inputs[i].iter().find(|&&t| t > i) {
                return Err(err(format!(
                    "reads tensor {t}, which is not computed before it (a node reads tensors 0..={i})"
                )));
            }
            let infos: Vec<&TensorInfo> = inputs[i].iter().map(|&t| &tensors[t]).collect();
            let out = layer.infer(&infos).map_err(err)?;
            let form = layer.lower(&infos, &out);
            let acc = check_form(&form, infos[0]).map_err(err)?;
            for &t in &inputs[i] {
                used[t] = true;
            }
            tensors.push(out);
            forms.push(form);
            acc_ranges.push(acc);
        }
        if let Some(j) = (1..layers.len()).find(|&t| !used[t]) {
            return Err(ValidationError {
                layer: Some((j - 1, layers[j - 1].kind())),
                message: "its output is never read (only the last node's output may be unused)".into(),
            });
        }
        Ok(Network { name: name.into(), input, layers, inputs, tensors, forms, acc_ranges })
    }
}
