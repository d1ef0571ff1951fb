//! The reference executor: the exact integer semantics of the IR, the arbiter of every witness.
//!
//! Plain loops on `i64` over the lowered forms; validation has proven that no pre-activation
//! overflows. Float32 rescales are emulated with Rust's IEEE binary32 arithmetic (see
//! [`super::requant`]).

use super::form::{Acts, Affine, Gather, Src, Windows};
use super::ir::Network;
use super::walk::{walk, Analysis};
use std::convert::Infallible;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ExecError {
    #[error("input has {got} values; the model expects {expected} (shape {shape:?})")]
    Length { got: usize, expected: usize, shape: Vec<usize> },
    #[error("input value {value} at index {index} is outside the input type {dtype} range [{lo}, {hi}]")]
    Range { index: usize, value: i64, dtype: String, lo: i64, hi: i64 },
}

/// Exact execution as an [`Analysis`]: a tensor's value is its integers.
pub struct Exec;

impl Analysis for Exec {
    type Value = Vec<i64>;
    type Error = Infallible;

    fn affine(&mut self, _: usize, a: &Affine, x: &Vec<i64>) -> Result<Vec<i64>, Infallible> {
        Ok((0..a.n_out()).map(|k| a.acts.of(k).apply(a.pre(k, x))).collect())
    }

    fn map(&mut self, _: usize, acts: &Acts, x: &Vec<i64>) -> Result<Vec<i64>, Infallible> {
        Ok(x.iter().enumerate().map(|(k, &v)| acts.of(k).apply(v)).collect())
    }

    fn max(&mut self, _: usize, w: &Windows, x: &Vec<i64>) -> Result<Vec<i64>, Infallible> {
        Ok((0..w.n_out()).map(|k| w.window(k).map(|i| x[i]).max().expect("validated: windows are non-empty")).collect())
    }

    fn gather(&mut self, _: usize, g: &Gather, x: &Vec<i64>) -> Result<Vec<i64>, Infallible> {
        Ok(g.src
            .iter()
            .map(|s| match *s {
                Src::In(i) => x[i as usize],
                Src::Const(c) => c,
            })
            .collect())
    }

    fn copy(&mut self, _: usize, x: &Vec<i64>) -> Result<Vec<i64>, Infallible> {
        Ok(x.clone())
    }

    fn concat(&mut self, parts: &[&Vec<i64>]) -> Result<Vec<i64>, Infallible> {
        Ok(parts.iter().flat_map(|p| p.iter().copied()).collect())
    }
}

/// Check that `x` is a valid input of `net`.
pub fn check_input(net: &Network, x: &[i64]) -> Result<(), ExecError> {
    let info = net.input_info();
    if x.len() != info.len() {
        return Err(ExecError::Length { got: x.len(), expected: info.len(), shape: info.shape.clone() });
    }
    let t = info.quant.dtype;
    if let Some((index, &value)) = x.iter().enumerate().find(|(_, v)| !t.contains(**v)) {
        return Err(ExecError::Range { index, value, dtype: t.to_string(), lo: t.min(), hi: t.max() });
    }
    Ok(())
}

/// Execute the network: integer input → integer output.
pub fn run(net: &Network, x: &[i64]) -> Result<Vec<i64>, ExecError> {
    Ok(trace(net, x)?.pop().expect("the output tensor"))
}

/// Execute and keep every tensor: `trace[0]` is the input, `trace[i + 1]` the output of node `i`.
pub fn trace(net: &Network, x: &[i64]) -> Result<Vec<Vec<i64>>, ExecError> {
    check_input(net, x)?;
    let Ok(values) = walk(net, &mut Exec, x.to_vec());
    Ok(values)
}

/// Index of the largest output, first index on ties (the usual `argmax`).
pub fn argmax(y: &[i64]) -> usize {
    let mut best = 0;
    for (i, &v) in y.iter().enumerate() {
        if v > y[best] {
            best = i;
        }
    }
    best
}
