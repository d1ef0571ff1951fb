//! The reference executor: the exact integer semantics of the IR, the arbiter of every witness.
//!
//! Plain loops on `i64`; validation has proven that no accumulator overflows. Float32 rescales
//! are emulated with Rust's IEEE binary32 arithmetic (see [`super::requant`]).

use super::geometry::Window;
use super::ir::{AvgPool2d, Conv2d, Dense, Layer, Network, TensorInfo};
use super::requant::{requantize, round_div};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ExecError {
    #[error("input has {got} values; the model expects {expected} (shape {shape:?})")]
    Length { got: usize, expected: usize, shape: Vec<usize> },
    #[error("input value {value} at index {index} is outside the input type {dtype} range [{lo}, {hi}]")]
    Range { index: usize, value: i64, dtype: String, lo: i64, hi: i64 },
}

fn out_range(t: &TensorInfo, relu: bool) -> (i64, i64) {
    let lo = t.quant.dtype.min();
    (if relu { lo.max(t.quant.zero_point) } else { lo }, t.quant.dtype.max())
}

fn dense(d: &Dense, x: &[i64], zx: i64, out: &TensorInfo) -> Vec<i64> {
    let (lo, hi) = out_range(out, d.requant.relu);
    let xs: Vec<i64> = x.iter().map(|&v| v - zx).collect();
    (0..d.out_features)
        .map(|j| {
            let zw = d.weight_zero_point[if d.weight_zero_point.len() == 1 { 0 } else { j }];
            let row = &d.weights[j * d.in_features..(j + 1) * d.in_features];
            let acc: i64 =
                row.iter().zip(&xs).map(|(&w, &v)| (w - zw) * v).sum::<i64>() + d.bias.get(j).copied().unwrap_or(0);
            requantize(acc, d.requant.rescale_for(j), out.quant.zero_point, lo, hi)
        })
        .collect()
}

fn conv(c: &Conv2d, x: &[i64], in_shape: &[usize], zx: i64, out: &TensorInfo) -> Vec<i64> {
    let (h, w) = (in_shape[1], in_shape[2]);
    let (oh, ow) = (out.shape[1], out.shape[2]);
    let win = c.window();
    let (lo, hi) = out_range(out, c.requant.relu);
    let cg_in = c.in_channels / c.groups;
    let cg_out = c.out_channels / c.groups;
    let [kh, kw] = c.kernel;
    let mut y = Vec::with_capacity(c.out_channels * oh * ow);
    for o in 0..c.out_channels {
        let g = o / cg_out;
        let zw = c.weight_zero_point[if c.weight_zero_point.len() == 1 { 0 } else { o }];
        let b = c.bias.get(o).copied().unwrap_or(0);
        let rescale = c.requant.rescale_for(o);
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = b;
                for ci in 0..cg_in {
                    let ch = g * cg_in + ci;
                    for (ky, iy) in win.taps(0, oy, h) {
                        for (kx, ix) in win.taps(1, ox, w) {
                            let wv = c.weights[((o * cg_in + ci) * kh + ky) * kw + kx] - zw;
                            acc += wv * (x[(ch * h + iy) * w + ix] - zx);
                        }
                    }
                }
                y.push(requantize(acc, rescale, out.quant.zero_point, lo, hi));
            }
        }
    }
    y
}

fn pool(
    win: Window,
    x: &[i64],
    in_shape: &[usize],
    out: &TensorInfo,
    mut f: impl FnMut(&mut dyn Iterator<Item = i64>, usize) -> i64,
) -> Vec<i64> {
    let (c, h, w) = (in_shape[0], in_shape[1], in_shape[2]);
    let (oh, ow) = (out.shape[1], out.shape[2]);
    let mut y = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut it = win
                    .taps(0, oy, h)
                    .flat_map(|(_, iy)| win.taps(1, ox, w).map(move |(_, ix)| (iy, ix)))
                    .map(|(iy, ix)| x[(ch * h + iy) * w + ix]);
                y.push(f(&mut it, win.kernel[0] * win.kernel[1]));
            }
        }
    }
    y
}

fn avg_pool(p: &AvgPool2d, x: &[i64], in_shape: &[usize], out: &TensorInfo) -> Vec<i64> {
    let z = out.quant.zero_point;
    let t = out.quant.dtype;
    pool(p.window(), x, in_shape, out, |it, area| {
        let (mut sum, mut count) = (0i64, 0i64);
        for v in it {
            sum += v - z;
            count += 1;
        }
        let n = if p.count_include_pad { area as i64 } else { count };
        t.saturate(round_div(i128::from(sum), i128::from(n), p.rounding) as i64 + z)
    })
}

/// Run one layer. `x` must have the layer's input shape (guaranteed for validated networks).
pub fn run_layer(net: &Network, i: usize, x: &[i64]) -> Vec<i64> {
    let input = &net.tensors()[i];
    let out = &net.tensors()[i + 1];
    let zx = input.quant.zero_point;
    match &net.layers()[i] {
        Layer::Dense(d) => dense(d, x, zx, out),
        Layer::Conv2d(c) => conv(c, x, &input.shape, zx, out),
        Layer::MaxPool2d(p) => {
            pool(p.window(), x, &input.shape, out, |it, _| it.max().expect("validated: windows are non-empty"))
        }
        Layer::AvgPool2d(p) => avg_pool(p, x, &input.shape, out),
        Layer::Flatten => x.to_vec(),
        Layer::Relu => x.iter().map(|&v| v.max(zx)).collect(),
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
    check_input(net, x)?;
    let mut v = x.to_vec();
    for i in 0..net.layers().len() {
        v = run_layer(net, i, &v);
    }
    Ok(v)
}

/// Execute and keep every tensor: `trace[0]` is the input, `trace[i + 1]` the output of layer `i`.
pub fn trace(net: &Network, x: &[i64]) -> Result<Vec<Vec<i64>>, ExecError> {
    check_input(net, x)?;
    let mut t = vec![x.to_vec()];
    for i in 0..net.layers().len() {
        let y = run_layer(net, i, t.last().expect("non-empty"));
        t.push(y);
    }
    Ok(t)
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
