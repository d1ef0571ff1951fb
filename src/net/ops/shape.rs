//! Operators that move values without computing: reshape, flatten, transpose, concatenation,
//! constant padding. They lower to [`Form::Copy`] (the same values in C-order) or
//! [`Form::Gather`] (a fixed map from output to input positions, or to the zero point).

use super::check;
use crate::net::form::{Form, Gather, Src};
use crate::net::ir::{Concat, Pad, Reshape, TensorInfo, Transpose};

/// C-order strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        s[a] = s[a + 1] * shape[a + 1];
    }
    s
}

/// Every multi-index of `shape` in C-order, as a callback with the flat output position.
fn each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    let n: usize = shape.iter().product();
    let mut idx = vec![0; shape.len()];
    for _ in 0..n {
        f(&idx);
        for a in (0..shape.len()).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
}

pub(super) fn flatten(x: &TensorInfo) -> TensorInfo {
    TensorInfo { shape: vec![x.len()], quant: x.quant }
}

impl Reshape {
    pub(super) fn infer(&self, x: &TensorInfo) -> Result<TensorInfo, String> {
        if self.shape.is_empty() || self.shape.contains(&0) {
            return Err(format!("shape {:?} must be non-empty with every dimension > 0", self.shape));
        }
        let n = check::len(&self.shape)?;
        if n != x.len() {
            return Err(format!("cannot reshape {:?} ({} values) to {:?} ({n} values)", x.shape, x.len(), self.shape));
        }
        Ok(TensorInfo { shape: self.shape.clone(), quant: x.quant })
    }
}

impl Transpose {
    pub(super) fn infer(&self, x: &TensorInfo) -> Result<TensorInfo, String> {
        let mut seen = vec![false; x.shape.len()];
        if self.perm.len() != x.shape.len()
            || !self.perm.iter().all(|&a| a < seen.len() && !std::mem::replace(&mut seen[a], true))
        {
            return Err(format!(
                "perm {:?} is not a permutation of the {} axes of {:?}",
                self.perm,
                x.shape.len(),
                x.shape
            ));
        }
        Ok(TensorInfo { shape: self.perm.iter().map(|&a| x.shape[a]).collect(), quant: x.quant })
    }

    pub(super) fn lower(&self, x: &TensorInfo, out: &TensorInfo) -> Form {
        let st = strides(&x.shape);
        let mut src = Vec::with_capacity(out.len());
        each_index(&out.shape, |o| {
            let i: usize = o.iter().zip(&self.perm).map(|(&v, &a)| v * st[a]).sum();
            src.push(Src::In(i as u32));
        });
        Form::Gather(Gather { src })
    }
}

impl Concat {
    pub(super) fn infer(&self, xs: &[&TensorInfo]) -> Result<TensorInfo, String> {
        let first = xs.first().ok_or("concat needs at least one input")?;
        let rank = first.shape.len();
        if self.axis >= rank {
            return Err(format!("axis {} out of range for inputs of rank {rank}", self.axis));
        }
        let mut shape = first.shape.clone();
        shape[self.axis] = 0;
        for (k, x) in xs.iter().enumerate() {
            let same_other = x.shape.len() == rank && (0..rank).all(|a| a == self.axis || x.shape[a] == first.shape[a]);
            if !same_other {
                return Err(format!(
                    "input {k} has shape {:?}; every input must match {:?} except along axis {}",
                    x.shape, first.shape, self.axis
                ));
            }
            if x.quant != first.quant {
                return Err(format!(
                    "input {k} is quantized as {:?}, input 0 as {:?}: concatenation copies values, so every input \\
                     needs the output's quantization (requantize with a lut node first)",
                    x.quant, first.quant
                ));
            }
            shape[self.axis] += x.shape[self.axis];
        }
        check::len(&shape)?;
        Ok(TensorInfo { shape, quant: first.quant })
    }

    pub(super) fn lower(&self, xs: &[&TensorInfo], out: &TensorInfo) -> Form {
        if self.axis == 0 {
            return Form::Copy; // C-order: the inputs one after the other
        }
        // Output position → (input, position in it) → index in the concatenation.
        let starts: Vec<usize> = xs
            .iter()
            .scan(0, |acc, x| {
                let s = *acc;
                *acc += x.len();
                Some(s)
            })
            .collect();
        let mut src = Vec::with_capacity(out.len());
        each_index(&out.shape, |o| {
            let mut along = o[self.axis];
            let mut k = 0;
            while along >= xs[k].shape[self.axis] {
                along -= xs[k].shape[self.axis];
                k += 1;
            }
            let st = strides(&xs[k].shape);
            let i: usize = (0..o.len()).map(|a| if a == self.axis { along } else { o[a] } * st[a]).sum();
            src.push(Src::In((starts[k] + i) as u32));
        });
        Form::Gather(Gather { src })
    }
}

impl Pad {
    pub(super) fn infer(&self, x: &TensorInfo) -> Result<TensorInfo, String> {
        let rank = x.shape.len();
        if self.pads.len() != 2 * rank {
            return Err(format!(
                "pads has {} entries; expected {} (before and after each axis)",
                self.pads.len(),
                2 * rank
            ));
        }
        let shape: Vec<usize> = (0..rank)
            .map(|a| x.shape[a].checked_add(self.pads[a]).and_then(|v| v.checked_add(self.pads[rank + a])))
            .collect::<Option<_>>()
            .ok_or("padded shape overflows")?;
        check::len(&shape)?;
        Ok(TensorInfo { shape, quant: x.quant })
    }

    pub(super) fn lower(&self, x: &TensorInfo, out: &TensorInfo) -> Form {
        let rank = x.shape.len();
        let st = strides(&x.shape);
        let z = x.quant.zero_point;
        let mut src = Vec::with_capacity(out.len());
        each_index(&out.shape, |o| {
            let mut i = 0;
            for a in 0..rank {
                let v = o[a] as isize - self.pads[a] as isize;
                if v < 0 || v as usize >= x.shape[a] {
                    src.push(Src::Const(z));
                    return;
                }
                i += v as usize * st[a];
            }
            src.push(Src::In(i as u32));
        });
        Form::Gather(Gather { src })
    }
}
