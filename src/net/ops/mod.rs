//! The operators of the IR. Each states once what it is: [`Operator::infer`] checks it against
//! its input tensors and gives its output tensor; [`Operator::lower`] describes its arithmetic as
//! a [`Form`], which every analysis implements. Adding an operator is one file here plus its
//! variant in [`Layer`]; no analysis changes unless it needs a new form.

mod conv;
mod dense;
mod elementwise;
mod pool;
mod shape;

use super::form::Form;
use super::ir::{Layer, TensorInfo};

/// What every operator provides. Errors are messages; the caller adds the node's name.
pub trait Operator {
    /// The operator's name in the model format (`dense`, `conv2d`, …).
    fn kind(&self) -> &'static str;
    /// Check the operator's parameters against its input tensors and give its output tensor.
    fn infer(&self, inputs: &[&TensorInfo]) -> Result<TensorInfo, String>;
    /// The operator's arithmetic; only called after [`Operator::infer`] accepted `inputs`.
    fn lower(&self, inputs: &[&TensorInfo], output: &TensorInfo) -> Form;
}

impl Operator for Layer {
    fn kind(&self) -> &'static str {
        Layer::kind(self)
    }

    fn infer(&self, inputs: &[&TensorInfo]) -> Result<TensorInfo, String> {
        if let Layer::Concat(c) = self {
            return c.infer(inputs);
        }
        let [x] = inputs else {
            return Err(format!("{} takes one input, got {}", self.kind(), inputs.len()));
        };
        match self {
            Layer::Dense(d) => d.infer(x),
            Layer::Conv2d(c) => c.infer(x),
            Layer::MaxPool2d(p) => pool::infer(p.window(), x),
            Layer::AvgPool2d(p) => pool::infer(p.window(), x),
            Layer::GlobalAvgPool(p) => p.infer(x),
            Layer::Flatten => Ok(shape::flatten(x)),
            Layer::Relu => Ok((*x).clone()),
            Layer::Clip(c) => c.infer(x),
            Layer::Lut(l) => l.infer(x),
            Layer::Transpose(t) => t.infer(x),
            Layer::Reshape(r) => r.infer(x),
            Layer::Pad(p) => p.infer(x),
            Layer::Concat(_) => unreachable!("handled above"),
        }
    }

    fn lower(&self, inputs: &[&TensorInfo], output: &TensorInfo) -> Form {
        let x = inputs[0];
        match self {
            Layer::Dense(d) => d.lower(x, output),
            Layer::Conv2d(c) => c.lower(x, output),
            Layer::MaxPool2d(p) => pool::lower_max(p, x, output),
            Layer::AvgPool2d(p) => pool::lower_avg(p, x, output),
            Layer::GlobalAvgPool(p) => p.lower(x, output),
            Layer::Flatten | Layer::Reshape(_) => Form::Copy,
            Layer::Relu => elementwise::relu(x),
            Layer::Clip(c) => c.lower(x),
            Layer::Lut(l) => l.lower(),
            Layer::Transpose(t) => t.lower(x, output),
            Layer::Pad(p) => p.lower(x, output),
            Layer::Concat(c) => c.lower(inputs, output),
        }
    }
}

/// `[lo, hi]` of a requantization's output: the type's range, raised to the zero point by a
/// fused ReLU.
pub(crate) fn out_clamp(t: &TensorInfo, relu: bool) -> (i64, i64) {
    let lo = t.quant.dtype.min();
    (if relu { lo.max(t.quant.zero_point) } else { lo }, t.quant.dtype.max())
}

/// Checks shared by the operators.
pub(crate) mod check {
    use crate::net::dtype::QType;
    use crate::net::ir::Quant;

    /// Largest number of elements in one tensor or weight array (guards memory on hostile input).
    pub const MAX_ELEMENTS: usize = 1 << 28;

    pub fn quant(q: &Quant, what: &str) -> Result<(), String> {
        if !(q.scale.is_finite() && q.scale > 0.0) {
            return Err(format!("{what} scale must be finite and > 0, got {}", q.scale));
        }
        if !q.dtype.contains(q.zero_point) {
            return Err(format!(
                "{what} zero point {} outside {} range [{}, {}]",
                q.zero_point,
                q.dtype,
                q.dtype.min(),
                q.dtype.max()
            ));
        }
        Ok(())
    }

    pub fn per_channel(v: &[i64], channels: usize, what: &str, dtype: Option<QType>) -> Result<(), String> {
        if v.len() != 1 && v.len() != channels {
            return Err(format!("{what} has {} entries; expected 1 or {channels}", v.len()));
        }
        if let Some(t) = dtype {
            if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !t.contains(**x)) {
                return Err(format!("{what}[{i}] = {x} outside {t} range [{}, {}]", t.min(), t.max()));
            }
        }
        Ok(())
    }

    pub fn weights(w: &[i64], expected: usize, t: QType) -> Result<(), String> {
        if w.len() != expected {
            return Err(format!("weights have {} entries; expected {expected}", w.len()));
        }
        if let Some((i, x)) = w.iter().enumerate().find(|(_, x)| !t.contains(**x)) {
            return Err(format!("weight [{i}] = {x} outside {t} range [{}, {}]", t.min(), t.max()));
        }
        Ok(())
    }

    pub fn len(dims: &[usize]) -> Result<usize, String> {
        dims.iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| format!("shape {dims:?} has more than {MAX_ELEMENTS} elements"))
    }

    /// The entry of a per-tensor (one entry) or per-channel vector for channel `c`.
    pub fn per(v: &[i64], c: usize) -> i64 {
        v[if v.len() == 1 { 0 } else { c }]
    }
}
