//! Operators that act on each value alone: ReLU, and Flatten (a C-order reshape to a vector).

use crate::net::form::{Act, Acts, Form};
use crate::net::ir::TensorInfo;

/// `max(x, zero_point)`: a clamp from below at the zero point (the type bounds `x` above).
pub(super) fn relu(x: &TensorInfo) -> Form {
    Form::Map(Acts::uniform(Act::Clamp { lo: x.quant.zero_point, hi: x.quant.dtype.max() }))
}

pub(super) fn flatten(x: &TensorInfo) -> TensorInfo {
    TensorInfo { shape: vec![x.len()], quant: x.quant }
}
