//! Interval bound propagation. Every layer is monotone in each input given the signs of the
//! weights, and requantization is monotone non-decreasing in the accumulator (all rescale kinds
//! have positive multipliers; rounding and clamping are monotone), so the image of an
//! accumulator interval is exactly `[requant(lo), requant(hi)]`.

use super::{Interval, LayerBounds, NetBounds};
use crate::net::ir::{Conv2d, Dense, Layer, Network, TensorInfo};
use crate::net::requant::requantize;
use crate::spec::InputBox;

/// The box of all inputs the input type allows.
pub fn type_box(net: &Network) -> InputBox {
    let t = net.input_info().quant.dtype;
    let n = net.input_len();
    InputBox { lo: vec![t.min(); n], hi: vec![t.max(); n] }
}

fn out_clamp(t: &TensorInfo, relu: bool) -> (i64, i64) {
    let lo = t.quant.dtype.min();
    (if relu { lo.max(t.quant.zero_point) } else { lo }, t.quant.dtype.max())
}

/// Add `w · [lo, hi]` to an i128 accumulator range.
#[inline]
fn mac(acc: &mut (i128, i128), w: i64, x: Interval, zx: i64) {
    let (a, b) = (i128::from(w) * i128::from(x.lo - zx), i128::from(w) * i128::from(x.hi - zx));
    acc.0 += a.min(b);
    acc.1 += a.max(b);
}

/// Accumulators are within the whole-domain range validation proved to fit i64, and the input
/// box lies inside the type range, so the conversion cannot fail.
fn narrow(acc: (i128, i128)) -> Interval {
    Interval::new(acc.0 as i64, acc.1 as i64)
}

fn dense(d: &Dense, x: &[Interval], zx: i64, out: &TensorInfo) -> LayerBounds {
    let (lo, hi) = out_clamp(out, d.requant.relu);
    let mut accs = Vec::with_capacity(d.out_features);
    let mut outs = Vec::with_capacity(d.out_features);
    for j in 0..d.out_features {
        let zw = d.weight_zero_point[if d.weight_zero_point.len() == 1 { 0 } else { j }];
        let b = i128::from(d.bias.get(j).copied().unwrap_or(0));
        let mut acc = (b, b);
        for (&w, &xi) in d.weights[j * d.in_features..(j + 1) * d.in_features].iter().zip(x) {
            mac(&mut acc, w - zw, xi, zx);
        }
        let a = narrow(acc);
        let r = d.requant.rescale_for(j);
        outs.push(Interval::new(
            requantize(a.lo, r, out.quant.zero_point, lo, hi),
            requantize(a.hi, r, out.quant.zero_point, lo, hi),
        ));
        accs.push(a);
    }
    LayerBounds { acc: Some(accs), out: outs }
}

fn conv(c: &Conv2d, x: &[Interval], in_shape: &[usize], zx: i64, out: &TensorInfo) -> LayerBounds {
    let (h, w) = (in_shape[1], in_shape[2]);
    let (oh, ow) = (out.shape[1], out.shape[2]);
    let win = c.window();
    let (lo, hi) = out_clamp(out, c.requant.relu);
    let (cg_in, cg_out) = (c.in_channels / c.groups, c.out_channels / c.groups);
    let [kh, kw] = c.kernel;
    let n = c.out_channels * oh * ow;
    let (mut accs, mut outs) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for o in 0..c.out_channels {
        let g = o / cg_out;
        let zw = c.weight_zero_point[if c.weight_zero_point.len() == 1 { 0 } else { o }];
        let b = i128::from(c.bias.get(o).copied().unwrap_or(0));
        let r = c.requant.rescale_for(o);
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = (b, b);
                for ci in 0..cg_in {
                    let ch = g * cg_in + ci;
                    for (ky, iy) in win.taps(0, oy, h) {
                        for (kx, ix) in win.taps(1, ox, w) {
                            let wv = c.weights[((o * cg_in + ci) * kh + ky) * kw + kx] - zw;
                            mac(&mut acc, wv, x[(ch * h + iy) * w + ix], zx);
                        }
                    }
                }
                let a = narrow(acc);
                outs.push(Interval::new(
                    requantize(a.lo, r, out.quant.zero_point, lo, hi),
                    requantize(a.hi, r, out.quant.zero_point, lo, hi),
                ));
                accs.push(a);
            }
        }
    }
    LayerBounds { acc: Some(accs), out: outs }
}

/// Bounds of one layer from the bounds of its input. Reuses the executor on the lower and
/// upper ends for the monotone, weight-free layers (pooling, ReLU, flatten).
pub fn layer(net: &Network, i: usize, x: &[Interval]) -> LayerBounds {
    let input = &net.tensors()[i];
    let out = &net.tensors()[i + 1];
    let zx = input.quant.zero_point;
    match &net.layers()[i] {
        Layer::Dense(d) => dense(d, x, zx, out),
        Layer::Conv2d(c) => conv(c, x, &input.shape, zx, out),
        Layer::MaxPool2d(_) | Layer::AvgPool2d(_) | Layer::Flatten | Layer::Relu => {
            let lo: Vec<i64> = x.iter().map(|v| v.lo).collect();
            let hi: Vec<i64> = x.iter().map(|v| v.hi).collect();
            let (lo, hi) = (crate::net::exec::run_layer(net, i, &lo), crate::net::exec::run_layer(net, i, &hi));
            LayerBounds { acc: None, out: lo.into_iter().zip(hi).map(|(l, h)| Interval::new(l, h)).collect() }
        }
    }
}

/// Interval bounds over `input`.
pub fn propagate(net: &Network, input: &InputBox) -> NetBounds {
    let x: Vec<Interval> = input.lo.iter().zip(&input.hi).map(|(&l, &h)| Interval::new(l, h)).collect();
    let mut layers: Vec<LayerBounds> = Vec::with_capacity(net.layers().len());
    for i in 0..net.layers().len() {
        let lb = layer(net, i, layers.last().map_or(&x, |l| &l.out));
        layers.push(lb);
    }
    NetBounds { input: x, layers }
}

/// Neurons of Dense/Conv layers whose requantized range straddles the lower or upper clamp
/// (their encoding needs a binary). A neuron is stable when its whole accumulator range maps
/// strictly inside the clamps, or entirely onto one of them.
pub fn unstable_count(net: &Network, b: &NetBounds) -> usize {
    let mut n = 0;
    for (i, l) in net.layers().iter().enumerate() {
        let (requant, out) = match l {
            Layer::Dense(d) => (&d.requant, &net.tensors()[i + 1]),
            Layer::Conv2d(c) => (&c.requant, &net.tensors()[i + 1]),
            _ => continue,
        };
        let (lo, hi) = out_clamp(out, requant.relu);
        let accs = b.layers[i].acc.as_ref().expect("dense/conv layers have accumulator bounds");
        let per_ch = accs.len() / requant.rescale.len().max(1);
        for (k, a) in accs.iter().enumerate() {
            let r = requant.rescale_for(if requant.rescale.len() == 1 { 0 } else { k / per_ch.max(1) });
            let raw = |v: i64| r.apply(v).saturating_add(out.quant.zero_point);
            let (rlo, rhi) = (raw(a.lo), raw(a.hi));
            let low_unstable = rlo < lo && rhi > lo;
            let high_unstable = rlo < hi && rhi > hi;
            n += usize::from(low_unstable || high_unstable);
        }
    }
    n
}
