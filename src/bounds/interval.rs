//! Interval bound propagation. Every affine row is monotone in each input given the signs of its
//! coefficients, and every activation is monotone non-decreasing in its pre-activation (all
//! rescale kinds have positive multipliers; rounding and clamping are monotone), so the image of
//! a pre-activation interval is exactly `[act(lo), act(hi)]`.

use super::{Interval, LayerBounds, NetBounds};
use crate::net::form::{Acts, Affine, Form, Gather, Src, Sum, Windows};
use crate::net::walk::{walk, Analysis};
use crate::net::Network;
use crate::spec::InputBox;
use std::convert::Infallible;

/// The box of all inputs the input type allows.
pub fn type_box(net: &Network) -> InputBox {
    let t = net.input_info().quant.dtype;
    let n = net.input_len();
    InputBox { lo: vec![t.min(); n], hi: vec![t.max(); n] }
}

/// Exact range of row `k`'s pre-activation over the box `x`. Pre-activations are within the
/// whole-domain range validation proved to fit i64, and `x` lies inside the type range, so the
/// conversion cannot fail.
pub fn pre_range(a: &Affine, k: usize, x: &[Interval]) -> Interval {
    let z = a.zero_point;
    let b = i128::from(a.bias[k]);
    let (mut lo, mut hi) = (b, b);
    for (i, c) in a.rows.row(k) {
        let c = i128::from(c);
        let (p, q) = (c * i128::from(x[i].lo - z), c * i128::from(x[i].hi - z));
        lo += p.min(q);
        hi += p.max(q);
    }
    Interval::new(lo as i64, hi as i64)
}

/// Exact range of a [`Sum`]'s pre-activation `ta(a_k) + tb(b_k)` over the box `x` (the
/// concatenated operands).
pub fn sum_range(s: &Sum, k: usize, x: &[Interval]) -> Interval {
    let (a, b) = (x[k], x[s.n + k]);
    let (alo, ahi) = s.ta.image(a.lo, a.hi);
    let (blo, bhi) = s.tb.image(b.lo, b.hi);
    Interval::new(alo + blo, ahi + bhi)
}

/// Interval propagation as an [`Analysis`].
pub struct IntervalPass;

impl Analysis for IntervalPass {
    type Value = LayerBounds;
    type Error = Infallible;

    fn affine(&mut self, _: usize, a: &Affine, x: &LayerBounds) -> Result<LayerBounds, Infallible> {
        let pre: Vec<Interval> = (0..a.n_out()).map(|k| pre_range(a, k, &x.out)).collect();
        let out = pre.iter().enumerate().map(|(k, p)| image(a.acts.of(k), *p)).collect();
        Ok(LayerBounds { pre: Some(pre), out })
    }

    fn map(&mut self, _: usize, acts: &Acts, x: &LayerBounds) -> Result<LayerBounds, Infallible> {
        Ok(LayerBounds { pre: None, out: x.out.iter().enumerate().map(|(k, v)| image(acts.of(k), *v)).collect() })
    }

    fn max(&mut self, _: usize, w: &Windows, x: &LayerBounds) -> Result<LayerBounds, Infallible> {
        let out = (0..w.n_out())
            .map(|k| {
                let lo = w.window(k).map(|i| x.out[i].lo).max().expect("validated: windows are non-empty");
                let hi = w.window(k).map(|i| x.out[i].hi).max().expect("validated: windows are non-empty");
                Interval::new(lo, hi)
            })
            .collect();
        Ok(LayerBounds { pre: None, out })
    }

    fn gather(&mut self, _: usize, g: &Gather, x: &LayerBounds) -> Result<LayerBounds, Infallible> {
        let out = g
            .src
            .iter()
            .map(|s| match *s {
                Src::In(i) => x.out[i as usize],
                Src::Const(c) => Interval::point(c),
            })
            .collect();
        Ok(LayerBounds { pre: None, out })
    }

    fn sum(&mut self, _: usize, s: &Sum, x: &LayerBounds) -> Result<LayerBounds, Infallible> {
        let pre: Vec<Interval> = (0..s.n).map(|k| sum_range(s, k, &x.out)).collect();
        let out = pre.iter().map(|p| image(&s.out, *p)).collect();
        Ok(LayerBounds { pre: Some(pre), out })
    }

    fn copy(&mut self, _: usize, x: &LayerBounds) -> Result<LayerBounds, Infallible> {
        Ok(LayerBounds { pre: None, out: x.out.clone() })
    }

    fn concat(&mut self, parts: &[&LayerBounds]) -> Result<LayerBounds, Infallible> {
        Ok(LayerBounds { pre: None, out: parts.iter().flat_map(|p| p.out.iter().copied()).collect() })
    }
}

/// The exact image of `[p.lo, p.hi]` under an activation (`[act(lo), act(hi)]` when monotone).
pub fn image(act: &crate::net::form::Act, p: Interval) -> Interval {
    let (lo, hi) = act.image(p.lo, p.hi);
    Interval::new(lo, hi)
}

/// Bounds of node `i` from the bounds of what it reads (the concatenation of its inputs).
pub fn node(net: &Network, i: usize, x: &[Interval]) -> LayerBounds {
    let x = LayerBounds { pre: None, out: x.to_vec() };
    let Ok(b) = match net.form(i) {
        Form::Affine(a) => IntervalPass.affine(i, a, &x),
        Form::Map(m) => IntervalPass.map(i, m, &x),
        Form::Max(w) => IntervalPass.max(i, w, &x),
        Form::Gather(g) => IntervalPass.gather(i, g, &x),
        Form::Copy => IntervalPass.copy(i, &x),
        Form::Sum(s) => IntervalPass.sum(i, s, &x),
    };
    b
}

/// Interval bounds over `input`.
pub fn propagate(net: &Network, input: &InputBox) -> NetBounds {
    let x: Vec<Interval> = input.lo.iter().zip(&input.hi).map(|(&l, &h)| Interval::new(l, h)).collect();
    let Ok(mut values) = walk(net, &mut IntervalPass, LayerBounds { pre: None, out: x.clone() });
    values.remove(0);
    NetBounds { input: x, layers: values }
}

/// Neurons of requantizing nodes (Dense/Conv) whose requantized range straddles the lower or
/// upper clamp (their encoding needs a binary). A neuron is stable when its whole accumulator
/// range maps strictly inside the clamps, or entirely onto one of them.
pub fn unstable_count(net: &Network, b: &NetBounds) -> usize {
    let mut n = 0;
    for (i, form) in net.forms().iter().enumerate() {
        let Form::Affine(a) = form else { continue };
        if !a.accumulator {
            continue;
        }
        let Some(pre) = b.layers[i].pre.as_ref() else { continue };
        n += pre.iter().enumerate().filter(|&(k, p)| straddles_clamp(a.acts.of(k), *p)).count();
    }
    n
}

/// Does the requantized range of accumulator range `p` straddle the lower or upper clamp of
/// `act` (an unstable neuron)?
pub fn straddles_clamp(act: &crate::net::form::Act, p: Interval) -> bool {
    let (lo, hi) = act.clamp_range();
    let (rlo, rhi) = (act.unclamped(p.lo), act.unclamped(p.hi));
    (rlo < lo && rhi > lo) || (rlo < hi && rhi > hi)
}
