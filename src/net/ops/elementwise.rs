//! Operators that act on each value alone: ReLU, Clip and lookup tables.

use super::check;
use crate::net::form::{Act, Acts, Form};
use crate::net::ir::{Clip, Lut, TensorInfo};

/// `max(x, zero_point)`: a clamp from below at the zero point (the type bounds `x` above).
pub(super) fn relu(x: &TensorInfo) -> Form {
    Form::Map(Acts::uniform(Act::Clamp { lo: x.quant.zero_point, hi: x.quant.dtype.max() }))
}

impl Clip {
    pub(super) fn infer(&self, x: &TensorInfo) -> Result<TensorInfo, String> {
        if self.lo > self.hi {
            return Err(format!("lo = {} exceeds hi = {}", self.lo, self.hi));
        }
        Ok(x.clone())
    }

    pub(super) fn lower(&self, x: &TensorInfo) -> Form {
        let t = x.quant.dtype;
        let (lo, hi) = (self.lo.clamp(t.min(), t.max()), self.hi.clamp(t.min(), t.max()));
        Form::Map(Acts::uniform(Act::Clamp { lo, hi }))
    }
}

impl Lut {
    pub(super) fn infer(&self, x: &TensorInfo) -> Result<TensorInfo, String> {
        let t = x.quant.dtype;
        let last = i128::from(self.offset) + self.table.len() as i128 - 1;
        if self.table.is_empty() || i128::from(self.offset) > i128::from(t.min()) || last < i128::from(t.max()) {
            return Err(format!(
                "the table covers [{}, {last}]; it must cover every {t} value [{}, {}]",
                self.offset,
                t.min(),
                t.max()
            ));
        }
        check::quant(&self.output, "output")?;
        let o = self.output.dtype;
        if let Some((i, v)) = self.table.iter().enumerate().find(|(_, v)| !o.contains(**v)) {
            return Err(format!("table[{i}] = {v} outside the output type {o} range [{}, {}]", o.min(), o.max()));
        }
        Ok(TensorInfo { shape: x.shape.clone(), quant: self.output })
    }

    pub(super) fn lower(&self) -> Form {
        Form::Map(Acts::uniform(Act::Lut { table: self.table.clone().into(), offset: self.offset }))
    }
}
