//! Symbolic bound propagation (DeepPoly/CROWN style) with back-substitution.
//!
//! Every layer's output `y_k` is related to a *pre-activation* `p_k` that is an exact affine
//! function of the layer's input (the accumulator of Dense/Conv, the window sum of AvgPool, the
//! input itself for ReLU) by two lines valid on the integers of `p_k`'s range:
//! `σl·p + cl ≤ y ≤ σu·p + cu`. MaxPool uses DeepPoly's relaxation (the input with the largest
//! lower bound below, the largest upper bound above; identity when one input dominates). A linear
//! expression over some tensor is bounded by substituting these relations backwards down to the
//! input box. The lines come from the exact integer map where the range is small, and otherwise
//! from a band around the real rescale that covers rounding (±1/2) and, for Float32 rescales, the
//! binary32 errors of `fl(fl(fl(acc) + bias)·m)`; the exact values at the range ends are always
//! used too.
//!
//! Soundness in `f64`: offsets of the lines are computed with an explicit outward margin per
//! point; the back-substitution's own rounding is bounded by `γ_N · M`, where `M` is the sum of
//! the absolute values of every term the substitution expands to (bounded per neuron by a forward
//! "magnitude" pass) and `N` the longest chain of roundings. Every bound is widened by that, then
//! rounded outward to an integer and intersected with the exact interval bounds, so symbolic
//! bounds are never looser than [`super::interval`].

use super::{interval, Interval, LayerBounds, NetBounds, SpecStatus};
use crate::net::ir::{Layer, Network, TensorInfo};
use crate::net::requant::{requantize, round_div, Rescale, Rounding};
use crate::spec::{InputBox, Spec};

/// Unit roundoff of `f64`.
const U: f64 = f64::EPSILON / 2.0;
/// Ranges of at most this many integers are relaxed from the exact map at every point.
const EXACT_WIDTH: i128 = 64;
/// Pre-activation magnitudes beyond this fall back to constant lines (f64 stops being exact on
/// integers at 2^53; stay well below).
const MAX_EXACT: f64 = (1u64 << 50) as f64;

/// An affine map from a layer's input tensor to its pre-activations.
enum Lin {
    /// Row-major `[n_out, n_in]` coefficients and constants (Dense).
    Dense { n_in: usize, a: Vec<f64>, beta: Vec<f64> },
    /// Sparse rows (Conv, AvgPool).
    Sparse { rows: Vec<Vec<(usize, f64)>>, beta: Vec<f64> },
    /// `p = x` (ReLU).
    Identity,
}

impl Lin {
    /// `ν = Aᵀμ` over `n_in` inputs, adding `μ·β` to `c`.
    fn transpose_apply(&self, mu: &[f64], n_in: usize, c: &mut f64) -> Vec<f64> {
        match self {
            Lin::Identity => mu.to_vec(),
            Lin::Dense { n_in: n, a, beta } => {
                let mut nu = vec![0.0; *n];
                for (k, &m) in mu.iter().enumerate() {
                    if m != 0.0 {
                        *c += m * beta[k];
                        for (v, &w) in nu.iter_mut().zip(&a[k * n..(k + 1) * n]) {
                            *v += m * w;
                        }
                    }
                }
                nu
            }
            Lin::Sparse { rows, beta } => {
                let mut nu = vec![0.0; n_in];
                for (k, &m) in mu.iter().enumerate() {
                    if m != 0.0 {
                        *c += m * beta[k];
                        for &(i, w) in &rows[k] {
                            nu[i] += m * w;
                        }
                    }
                }
                nu
            }
        }
    }

    /// Row `k` as a dense coefficient vector over `n_in` inputs, and its constant.
    fn row(&self, k: usize, n_in: usize) -> (Vec<f64>, f64) {
        match self {
            Lin::Identity => {
                let mut r = vec![0.0; n_in];
                r[k] = 1.0;
                (r, 0.0)
            }
            Lin::Dense { n_in: n, a, beta } => (a[k * n..(k + 1) * n].to_vec(), beta[k]),
            Lin::Sparse { rows, beta } => {
                let mut r = vec![0.0; n_in];
                for &(i, w) in &rows[k] {
                    r[i] += w;
                }
                (r, beta[k])
            }
        }
    }

    /// Upper bound of `Σ|A_ki|·mag_i + |β_k|` for every row.
    fn magnitude(&self, mag: &[f64], n_out: usize) -> Vec<f64> {
        match self {
            Lin::Identity => mag.to_vec(),
            Lin::Dense { n_in, a, beta } => (0..n_out)
                .map(|k| {
                    a[k * n_in..(k + 1) * n_in].iter().zip(mag).map(|(w, m)| w.abs() * m).sum::<f64>() + beta[k].abs()
                })
                .collect(),
            Lin::Sparse { rows, beta } => rows
                .iter()
                .zip(beta)
                .map(|(r, b)| r.iter().map(|&(i, w)| w.abs() * mag[i]).sum::<f64>() + b.abs())
                .collect(),
        }
    }
}

/// The relaxation of one layer.
enum Relax {
    /// `y_k` between two lines in its pre-activation `p_k = lin_k(x)`; `(slope, offset)` pairs.
    Scalar { lin: Lin, lo: Vec<(f64, f64)>, hi: Vec<(f64, f64)> },
    /// Flatten: identity.
    Same,
    /// DeepPoly max pool: `y ≥ x[pick]`; `y ≤ x[pick]` if it dominates its window, else `y ≤ hi_max`.
    MaxPool { pick: Vec<usize>, dominant: Vec<bool>, hi_max: Vec<f64> },
}

/// A band `f(p) ∈ [s·p + o − elo, s·p + o + ehi]` (before the clamps) valid on the relaxed range.
#[derive(Clone, Copy, Debug)]
struct Band {
    s: f64,
    o: f64,
    elo: f64,
    ehi: f64,
}

/// Error bounds `(below, above)` of rounding a value `v` that is a multiple of `d` (`None`: no
/// such structure) to an integer, for `v` of the sign of `[plo, phi]`: `round(v) − v` is a
/// multiple of `d` in `[−1/2, 1/2]`, and the tie side that the mode never takes is excluded.
fn round_err(d: Option<f64>, mode: Rounding, plo: i64, phi: i64) -> (f64, f64) {
    let Some(d) = d else { return (0.5, 0.5) };
    if d >= 1.0 {
        return (0.0, 0.0); // v is an integer
    }
    let (lo_tie, hi_tie) = match mode {
        Rounding::HalfEven => (true, true),
        Rounding::HalfUp => (false, true),
        // Ties go up for positive values and down for negative ones.
        Rounding::HalfAwayFromZero => (plo < 0, phi > 0),
    };
    let side = |tie: bool| if tie { 0.5 } else { 0.5 - d };
    (side(lo_tie), side(hi_tie))
}

/// Band of `R(acc) + z` for a rescale, valid for `acc ∈ [plo, phi]`.
fn rescale_band(r: &Rescale, z: i64, plo: i64, phi: i64) -> Option<Band> {
    let z = z as f64;
    let pmax = (plo as f64).abs().max((phi as f64).abs());
    let u32_ = 2f64.powi(-24);
    let band = match *r {
        Rescale::Dyadic { m, shift, rounding } => {
            let s = m as f64 / 2f64.powi(shift as i32);
            // m·acc/2^shift is a multiple of 2^-shift; s itself may be inexact if m > 2^53.
            let (elo, ehi) = round_err(Some(2f64.powi(-(shift as i32))), rounding, plo, phi);
            let fe = s * pmax * 1e-15;
            Band { s, o: z, elo: elo + fe, ehi: ehi + fe }
        }
        Rescale::Float32 { m, bias, .. } => {
            // fl(acc), fl(· + bias), fl(· · m): |result − (acc + bias)·m| ≤ m·(3|acc| + 2|bias|)·u(1 + O(u)),
            // plus absolute subnormal errors; then rounding adds 1/2.
            if (pmax + bias.abs()) * m > 1e30 {
                return None;
            }
            let o = m * bias + z;
            let e = 0.5 + m * (3.01 * u32_ * pmax + 2.01 * u32_ * bias.abs()) + o.abs() * 1e-15 + 1e-40;
            Band { s: m, o, elo: e, ehi: e }
        }
        Rescale::Q31 { m0, shift } => {
            let (left, right) = (shift.max(0), (-shift).max(0));
            let s = f64::from(m0) * 2f64.powi(left - 31 - right);
            // SRDHM rounds to within 1/2 + 2^-31 of acc·m0/2^31 (in 2^left units), then the rounding
            // right shift adds 1/2.
            let e = (0.5 + 1e-9) * 2f64.powi(-right) + 0.5 + s * pmax * 1e-15;
            Band { s, o: z, elo: e, ehi: e }
        }
    };
    (band.s.is_finite() && band.s > 0.0 && band.o.is_finite() && band.elo.is_finite() && band.ehi.is_finite())
        .then_some(band)
}

/// Lower and upper lines `(slope, offset)` of a monotone non-decreasing integer map `f` on the
/// integers of `[plo, phi]`. `band` relates `f` to a line where the range is too wide to
/// enumerate; `None` there gives constant lines.
fn relax_scalar(f: &dyn Fn(i64) -> i64, band: Option<Band>, plo: i64, phi: i64) -> ((f64, f64), (f64, f64)) {
    let (ylo, yhi) = (f(plo), f(phi));
    let constant = ((0.0, ylo as f64), (0.0, yhi as f64));
    if ylo == yhi || plo >= phi {
        return constant;
    }
    if (plo as f64).abs() > MAX_EXACT || (phi as f64).abs() > MAX_EXACT || (ylo as f64).abs() > MAX_EXACT {
        return constant;
    }
    let (fl, fh) = (plo as f64, phi as f64);
    let (yl, yh) = (ylo as f64, yhi as f64);
    // Candidate points (p, value, value error bound) for the lower and the upper hull.
    let mut lower: Vec<(f64, f64, f64)> = Vec::new();
    let mut upper: Vec<(f64, f64, f64)> = Vec::new();
    if i128::from(phi) - i128::from(plo) <= EXACT_WIDTH {
        for p in plo..=phi {
            let v = f(p) as f64;
            lower.push((p as f64, v, 0.0));
            upper.push((p as f64, v, 0.0));
        }
    } else {
        let Some(b) = band else { return constant };
        lower.push((fl, yl, 0.0));
        lower.push((fh, yh, 0.0));
        upper.push((fl, yl, 0.0));
        upper.push((fh, yh, 0.0));
        // Between consecutive candidates the envelope clamp(s·p + o ∓ e, ylo, yhi) is linear; its
        // breakpoints are where the line meets ylo or yhi. The exact end values only hold at the
        // ends, so the envelope is also sampled next to them.
        let (a, z) = (fl + 1.0, fh - 1.0);
        let add = |pts: &mut Vec<(f64, f64, f64)>, e: f64| {
            let mut qs = vec![a, z];
            for y in [yl, yh] {
                let q = (y - b.o - e) / b.s;
                if q.is_finite() {
                    for d in [-1.0, 0.0, 1.0, 2.0] {
                        qs.push((q.floor() + d).clamp(a, z));
                    }
                }
            }
            for q in qs {
                let raw = b.s * q + b.o + e;
                let err = 4.0 * U * ((b.s * q).abs() + b.o.abs() + e.abs());
                pts.push((q, raw.clamp(yl, yh), err));
            }
        };
        add(&mut lower, -b.elo);
        add(&mut upper, b.ehi);
    }
    let mid = 0.5 * (fl + fh);
    let sl = hull_slope(&mut lower, mid, true);
    let su = hull_slope(&mut upper, mid, false);
    let margin = |p: f64, v: f64, err: f64, s: f64| err + 1e-12 * (1.0 + v.abs() + (s * p).abs());
    let cl = lower.iter().map(|&(p, v, e)| v - sl * p - margin(p, v, e, sl)).fold(f64::INFINITY, f64::min);
    let cu = upper.iter().map(|&(p, v, e)| v - su * p + margin(p, v, e, su)).fold(f64::NEG_INFINITY, f64::max);
    if !(cl.is_finite() && cu.is_finite()) {
        return constant;
    }
    ((sl, cl), (su, cu))
}

/// Slope of the edge of the lower (or upper) convex hull of `pts` above `mid`: the line that
/// maximizes (minimizes) its value at the midpoint, i.e. the smallest-area relaxation.
fn hull_slope(pts: &mut [(f64, f64, f64)], mid: f64, lower: bool) -> f64 {
    let sgn = if lower { 1.0 } else { -1.0 };
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then((sgn * a.1).total_cmp(&(sgn * b.1))));
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    for &(p, v, _) in pts.iter() {
        if hull.last().is_some_and(|h| h.0 == p) {
            continue; // same abscissa: the first is the binding one
        }
        while hull.len() >= 2 {
            let (o, a) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            let cross = (a.0 - o.0) * (v - o.1) - (a.1 - o.1) * (p - o.0);
            if sgn * cross <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push((p, v));
    }
    for w in hull.windows(2) {
        if w[0].0 <= mid && mid <= w[1].0 {
            return (w[1].1 - w[0].1) / (w[1].0 - w[0].0);
        }
    }
    0.0
}

fn out_clamp(t: &TensorInfo, relu: bool) -> (i64, i64) {
    let lo = t.quant.dtype.min();
    (if relu { lo.max(t.quant.zero_point) } else { lo }, t.quant.dtype.max())
}

/// The pooling windows of a `[C, H, W]` input: input indices per output value, C-order.
fn windows(win: crate::net::geometry::Window, in_shape: &[usize], out_shape: &[usize]) -> Vec<Vec<usize>> {
    let (c, h, w) = (in_shape[0], in_shape[1], in_shape[2]);
    let (oh, ow) = (out_shape[1], out_shape[2]);
    let mut res = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut v = Vec::new();
                for (_, iy) in win.taps(0, oy, h) {
                    for (_, ix) in win.taps(1, ox, w) {
                        v.push((ch * h + iy) * w + ix);
                    }
                }
                res.push(v);
            }
        }
    }
    res
}

/// The affine pre-activation map of layer `i`, if it has one.
fn lin_of(net: &Network, i: usize) -> Option<Lin> {
    let input = &net.tensors()[i];
    let out = &net.tensors()[i + 1];
    let zx = input.quant.zero_point;
    match &net.layers()[i] {
        Layer::Dense(d) => {
            let n_in = d.in_features;
            let mut a = Vec::with_capacity(d.out_features * n_in);
            let mut beta = Vec::with_capacity(d.out_features);
            for j in 0..d.out_features {
                let zw = d.weight_zero_point[if d.weight_zero_point.len() == 1 { 0 } else { j }];
                let row = &d.weights[j * n_in..(j + 1) * n_in];
                let sum: i128 = row.iter().map(|&w| i128::from(w - zw)).sum();
                a.extend(row.iter().map(|&w| (w - zw) as f64));
                beta.push((i128::from(d.bias.get(j).copied().unwrap_or(0)) - i128::from(zx) * sum) as f64);
            }
            Some(Lin::Dense { n_in, a, beta })
        }
        Layer::Conv2d(c) => {
            let (h, w) = (input.shape[1], input.shape[2]);
            let (oh, ow) = (out.shape[1], out.shape[2]);
            let win = c.window();
            let (cg_in, cg_out) = (c.in_channels / c.groups, c.out_channels / c.groups);
            let [kh, kw] = c.kernel;
            let (mut rows, mut beta) = (Vec::new(), Vec::new());
            for o in 0..c.out_channels {
                let g = o / cg_out;
                let zw = c.weight_zero_point[if c.weight_zero_point.len() == 1 { 0 } else { o }];
                let b = i128::from(c.bias.get(o).copied().unwrap_or(0));
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (mut row, mut sum) = (Vec::new(), 0i128);
                        for ci in 0..cg_in {
                            let ch = g * cg_in + ci;
                            for (ky, iy) in win.taps(0, oy, h) {
                                for (kx, ix) in win.taps(1, ox, w) {
                                    let wv = c.weights[((o * cg_in + ci) * kh + ky) * kw + kx] - zw;
                                    sum += i128::from(wv);
                                    row.push(((ch * h + iy) * w + ix, wv as f64));
                                }
                            }
                        }
                        rows.push(row);
                        beta.push((b - i128::from(zx) * sum) as f64);
                    }
                }
            }
            Some(Lin::Sparse { rows, beta })
        }
        Layer::AvgPool2d(p) => {
            let z = out.quant.zero_point as f64;
            let rows: Vec<Vec<(usize, f64)>> = windows(p.window(), &input.shape, &out.shape)
                .into_iter()
                .map(|w| w.into_iter().map(|i| (i, 1.0)).collect())
                .collect();
            let beta = rows.iter().map(|r| -z * r.len() as f64).collect();
            Some(Lin::Sparse { rows, beta })
        }
        Layer::Relu => Some(Lin::Identity),
        Layer::MaxPool2d(_) | Layer::Flatten => None,
    }
}

/// Symbolic bounds of a network over one input box, with the relaxations kept so that further
/// linear expressions of the output (spec atoms) can be bounded by back-substitution.
pub struct Symbolic {
    bounds: NetBounds,
    relax: Vec<Relax>,
    /// Per tensor, an upper bound of the absolute path sum of each value's relaxation.
    mag: Vec<Vec<f64>>,
    /// Relative bound of the back-substitution's rounding error.
    gamma: f64,
}

/// Round a float lower bound with its error margin up to a sound integer lower bound.
fn int_lo(v: f64, margin: f64) -> Option<i64> {
    let x = (v - margin).ceil();
    (x.is_finite() && x.abs() < 9.0e15).then_some(x as i64)
}

fn int_hi(v: f64, margin: f64) -> Option<i64> {
    let x = (v + margin).floor();
    (x.is_finite() && x.abs() < 9.0e15).then_some(x as i64)
}

impl Symbolic {
    /// Propagate over `input` (which must fit the network, see [`Spec::check`]).
    pub fn new(net: &Network, input: &InputBox) -> Symbolic {
        let plain = interval::propagate(net, input);
        let x: Vec<Interval> = plain.input.clone();
        let total: usize = net.tensors().iter().map(|t| t.len()).sum();
        let n_rounding = 2 * total + 4 * net.layers().len() + 16;
        let gamma = 2.0 * n_rounding as f64 * U;
        let mut s = Symbolic {
            bounds: NetBounds { input: x.clone(), layers: Vec::with_capacity(net.layers().len()) },
            relax: Vec::with_capacity(net.layers().len()),
            mag: vec![x.iter().map(|v| (v.lo as f64).abs().max((v.hi as f64).abs())).collect()],
            gamma,
        };
        for i in 0..net.layers().len() {
            s.push_layer(net, i, &plain.layers[i]);
        }
        s
    }

    /// The bounds, shaped like [`interval::propagate`]'s.
    pub fn bounds(&self) -> &NetBounds {
        &self.bounds
    }

    pub fn into_bounds(self) -> NetBounds {
        self.bounds
    }

    /// Error margin of a back-substituted expression `Σ λ_k·v_k + c` over tensor `t`.
    fn margin(&self, t: usize, lam: &[f64], c: f64) -> f64 {
        let m: f64 = lam.iter().zip(&self.mag[t]).map(|(l, m)| l.abs() * m).sum::<f64>() + c.abs();
        // Rounding in the substitution (γ·M) plus a wrong relaxation choice for a coefficient
        // whose computed sign is off (at most its error times the relaxation gap, ≤ 2γ·M).
        4.0 * self.gamma * m * (1.0 + 1e-6) + 1e-9
    }

    /// A lower bound (in `f64`, before the margin) of `Σ λ_k·v_k + c` for `v` the tensor `t`.
    fn backsub(&self, t: usize, mut lam: Vec<f64>, mut c: f64) -> f64 {
        for l in (0..t).rev() {
            lam = self.step(l, &lam, &mut c);
        }
        for (v, b) in lam.iter().zip(&self.bounds.input) {
            if *v > 0.0 {
                c += v * b.lo as f64;
            } else if *v < 0.0 {
                c += v * b.hi as f64;
            }
        }
        c
    }

    /// Sound integer range of `Σ λ_k·v_k + c` over tensor `t` (`None` if floating point failed).
    fn range(&self, t: usize, lam: &[f64], c: f64) -> (Option<i64>, Option<i64>) {
        let margin = self.margin(t, lam, c);
        let lo = self.backsub(t, lam.to_vec(), c);
        let neg: Vec<f64> = lam.iter().map(|v| -v).collect();
        let hi = -self.backsub(t, neg, -c);
        (int_lo(lo, margin), int_hi(hi, margin))
    }

    /// Substitute an expression over tensor `l + 1` into one over tensor `l` (lower-bound side).
    fn step(&self, l: usize, lam: &[f64], c: &mut f64) -> Vec<f64> {
        let n_in = self.mag[l].len();
        match &self.relax[l] {
            Relax::Same => lam.to_vec(),
            Relax::MaxPool { pick, dominant, hi_max } => {
                let mut nu = vec![0.0; n_in];
                for (k, &v) in lam.iter().enumerate() {
                    if v > 0.0 || (v < 0.0 && dominant[k]) {
                        nu[pick[k]] += v;
                    } else if v < 0.0 {
                        *c += v * hi_max[k];
                    }
                }
                nu
            }
            Relax::Scalar { lin, lo, hi } => {
                let mut mu = vec![0.0; lam.len()];
                for (k, &v) in lam.iter().enumerate() {
                    let (s, o) = if v > 0.0 {
                        lo[k]
                    } else if v < 0.0 {
                        hi[k]
                    } else {
                        continue;
                    };
                    *c += v * o;
                    mu[k] = v * s;
                }
                lin.transpose_apply(&mu, n_in, c)
            }
        }
    }

    /// Symbolic pre-activation bounds of `lin`, met with the exact interval ones.
    /// Neurons whose output is already constant on the interval range (`settled`) keep it.
    fn pre_bounds(
        &self,
        i: usize,
        lin: &Lin,
        n_out: usize,
        exact: &[Interval],
        settled: impl Fn(usize) -> bool,
    ) -> Vec<Interval> {
        if i == 0 {
            return exact.to_vec(); // directly over the box, intervals are exact
        }
        let n_in = self.mag[i].len();
        (0..n_out)
            .map(|k| {
                if settled(k) {
                    return exact[k];
                }
                let (row, c) = lin.row(k, n_in);
                let (lo, hi) = self.range(i, &row, c);
                let sym = Interval { lo: lo.unwrap_or(exact[k].lo), hi: hi.unwrap_or(exact[k].hi) };
                sym.meet(&exact[k]).unwrap_or(exact[k])
            })
            .collect()
    }

    fn push_layer(&mut self, net: &Network, i: usize, plain: &LayerBounds) {
        let input = &net.tensors()[i];
        let out = &net.tensors()[i + 1];
        let x = self.bounds.tensor(i).to_vec();
        let ilay = interval::layer(net, i, &x);
        let meet_plain = |v: Vec<Interval>| -> Vec<Interval> {
            v.iter().zip(&plain.out).map(|(a, b)| a.meet(b).unwrap_or(*b)).collect()
        };
        let lin = lin_of(net, i);
        let (lb, relax) = match (&net.layers()[i], lin) {
            (Layer::Dense(_) | Layer::Conv2d(_), Some(lin)) => {
                let requant = match &net.layers()[i] {
                    Layer::Dense(d) => &d.requant,
                    Layer::Conv2d(c) => &c.requant,
                    _ => unreachable!("matched above"),
                };
                let n = out.len();
                let per_ch = n / requant.rescale.len().max(1);
                let exact_acc = ilay.acc.clone().unwrap_or_default();
                let (clo, chi) = out_clamp(out, requant.relu);
                let z = out.quant.zero_point;
                let acc = self.pre_bounds(i, &lin, n, &exact_acc, |k| ilay.out[k].lo == ilay.out[k].hi);
                let mut outs = Vec::with_capacity(n);
                let (mut rlo, mut rhi) = (Vec::with_capacity(n), Vec::with_capacity(n));
                for (k, a) in acc.iter().enumerate() {
                    let r = requant.rescale_for(if requant.rescale.len() == 1 { 0 } else { k / per_ch.max(1) });
                    let f = |p: i64| requantize(p, r, z, clo, chi);
                    outs.push(Interval::new(f(a.lo), f(a.hi)));
                    let (l, h) = relax_scalar(&f, rescale_band(r, z, a.lo, a.hi), a.lo, a.hi);
                    rlo.push(l);
                    rhi.push(h);
                }
                (LayerBounds { acc: Some(acc), out: meet_plain(outs) }, Relax::Scalar { lin, lo: rlo, hi: rhi })
            }
            (Layer::AvgPool2d(p), Some(lin)) => {
                let wins = windows(p.window(), &input.shape, &out.shape);
                let z = out.quant.zero_point;
                let t = out.quant.dtype;
                let area = (p.kernel[0] * p.kernel[1]) as i64;
                let exact: Vec<Interval> = wins
                    .iter()
                    .map(|w| {
                        let lo: i64 = w.iter().map(|&j| x[j].lo - z).sum();
                        let hi: i64 = w.iter().map(|&j| x[j].hi - z).sum();
                        Interval::new(lo, hi)
                    })
                    .collect();
                let sums = self.pre_bounds(i, &lin, wins.len(), &exact, |k| ilay.out[k].lo == ilay.out[k].hi);
                let (mut outs, mut rlo, mut rhi) = (Vec::new(), Vec::new(), Vec::new());
                for (s, w) in sums.iter().zip(&wins) {
                    let n = if p.count_include_pad { area } else { w.len() as i64 };
                    let f = |v: i64| t.saturate(round_div(i128::from(v), i128::from(n), p.rounding) as i64 + z);
                    outs.push(Interval::new(f(s.lo), f(s.hi)));
                    let pmax = (s.lo as f64).abs().max((s.hi as f64).abs());
                    // sum/n is a multiple of 1/n; 1/n itself is rounded.
                    let (elo, ehi) = round_err(Some(1.0 / n as f64), p.rounding, s.lo, s.hi);
                    let fe = pmax / n as f64 * 1e-15;
                    let band = Band { s: 1.0 / n as f64, o: z as f64, elo: elo + fe, ehi: ehi + fe };
                    let (l, h) = relax_scalar(&f, Some(band), s.lo, s.hi);
                    rlo.push(l);
                    rhi.push(h);
                }
                (LayerBounds { acc: None, out: meet_plain(outs) }, Relax::Scalar { lin, lo: rlo, hi: rhi })
            }
            (Layer::Relu, Some(lin)) => {
                let zx = input.quant.zero_point;
                let f = |p: i64| p.max(zx);
                let band = Band { s: 1.0, o: 0.0, elo: 0.0, ehi: 0.0 };
                let (rlo, rhi): (Vec<_>, Vec<_>) = x.iter().map(|v| relax_scalar(&f, Some(band), v.lo, v.hi)).unzip();
                (LayerBounds { acc: None, out: meet_plain(ilay.out) }, Relax::Scalar { lin, lo: rlo, hi: rhi })
            }
            (Layer::MaxPool2d(p), _) => {
                let wins = windows(p.window(), &input.shape, &out.shape);
                let (mut pick, mut dominant, mut hi_max) = (Vec::new(), Vec::new(), Vec::new());
                for w in &wins {
                    let best = w.iter().copied().max_by_key(|&j| x[j].lo).unwrap_or(0);
                    let others_hi = w.iter().filter(|&&j| j != best).map(|&j| x[j].hi).max();
                    pick.push(best);
                    dominant.push(others_hi.is_none_or(|h| h <= x[best].lo));
                    hi_max.push(w.iter().map(|&j| x[j].hi).max().unwrap_or(0) as f64);
                }
                (LayerBounds { acc: None, out: meet_plain(ilay.out) }, Relax::MaxPool { pick, dominant, hi_max })
            }
            _ => (LayerBounds { acc: None, out: meet_plain(ilay.out) }, Relax::Same),
        };
        // Magnitudes of the new tensor's relaxations.
        let prev = &self.mag[i];
        let mag = match &relax {
            Relax::Same => prev.clone(),
            Relax::MaxPool { pick, dominant, hi_max } => pick
                .iter()
                .zip(dominant)
                .zip(hi_max)
                .map(|((&j, &d), &h)| if d { prev[j] } else { prev[j].max(h.abs()) })
                .collect(),
            Relax::Scalar { lin, lo, hi } => {
                let pre = lin.magnitude(prev, lo.len());
                pre.iter()
                    .zip(lo.iter().zip(hi))
                    .map(|(p, (l, h))| (l.0.abs().max(h.0.abs()) * p + l.1.abs().max(h.1.abs())) * (1.0 + 1e-9))
                    .collect()
            }
        };
        self.mag.push(mag);
        self.relax.push(relax);
        self.bounds.layers.push(lb);
    }

    /// Sound lower bound of `Σ c·y` over the outputs (`upper`: of `−Σ c·y`, negated back),
    /// back-substituted and met with the output ranges.
    fn linear_bound(&self, terms: &[(usize, i64)], upper: bool) -> i128 {
        let (ilo, ihi) = self.bounds.atom_range(terms);
        let t = self.relax.len();
        let sign = if upper { -1.0 } else { 1.0 };
        let mut lam = vec![0.0; self.mag[t].len()];
        for &(j, c) in terms {
            lam[j] += sign * c as f64;
        }
        let margin = self.margin(t, &lam, 0.0);
        let v = self.backsub(t, lam, 0.0);
        match (upper, int_lo(v, margin)) {
            (false, Some(lo)) => i128::from(lo).clamp(ilo, ihi),
            (true, Some(lo)) => (-i128::from(lo)).clamp(ilo, ihi),
            (false, None) => ilo,
            (true, None) => ihi,
        }
    }

    /// Sound range of `Σ c·y` over the outputs: back-substituted, met with the output ranges.
    pub fn linear_range(&self, terms: &[(usize, i64)]) -> (i128, i128) {
        (self.linear_bound(terms, false), self.linear_bound(terms, true))
    }

    /// Decide the spec's unsafe condition with back-substituted atom bounds (upper bounds only
    /// where they can matter).
    pub fn spec_status(&self, spec: &Spec) -> SpecStatus {
        super::status_with(spec, |terms| self.linear_bound(terms, false), |terms| self.linear_bound(terms, true))
    }
}

/// Symbolic bounds over `input`.
pub fn propagate(net: &Network, input: &InputBox) -> NetBounds {
    Symbolic::new(net, input).into_bounds()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The lines of every rescale kind and rounding mode hold at every integer of wide and
    /// narrow ranges (the band path and the exact path), including clamps and fused ReLU.
    #[test]
    fn scalar_lines_hold_everywhere() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut checked = 0u64;
        for _ in 0..3000 {
            let rounding = Rounding::ALL[rng.gen_range(0..3)];
            let r = match rng.gen_range(0..3) {
                0 => Rescale::Dyadic { m: rng.gen_range(1..5000), shift: rng.gen_range(0..16), rounding },
                1 => Rescale::Float32 {
                    m: f64::from(rng.gen_range(1e-4f32..2.0)),
                    bias: if rng.gen_bool(0.5) { 0.0 } else { f64::from(rng.gen_range(-3e4f32..3e4)) },
                    rounding,
                },
                _ => Rescale::Q31 { m0: rng.gen_range(1 << 30..i32::MAX), shift: rng.gen_range(-14..=1) },
            };
            let z = rng.gen_range(-20..20);
            let (clo, chi) = if rng.gen_bool(0.5) { (z.max(-128), 127) } else { (-128, 127) };
            let f = |p: i64| requantize(p, &r, z, clo, chi);
            let w = if rng.gen_bool(0.3) { rng.gen_range(1..64) } else { rng.gen_range(64..6000) };
            let plo = rng.gen_range(-40_000..40_000);
            let phi = plo + w;
            let ((sl, cl), (su, cu)) = relax_scalar(&f, rescale_band(&r, z, plo, phi), plo, phi);
            for p in plo..=phi {
                let y = f(p) as f64;
                assert!(sl * p as f64 + cl <= y && y <= su * p as f64 + cu, "{r:?} z={z} [{plo},{phi}] p={p}");
                checked += 1;
            }
        }
        assert!(checked > 1_000_000);
    }
}
