//! Symbolic bound propagation (DeepPoly/CROWN style) with back-substitution.
//!
//! Every node's output `y_k` is related to a *pre-activation* `p_k` that is an exact affine
//! function of the node's input (the row of an affine form: the accumulator of Dense/Conv, the
//! window sum of AvgPool; the input itself for an elementwise map) by two lines valid on the
//! integers of `p_k`'s range: `σl·p + cl ≤ y ≤ σu·p + cu` ([`super::relax`]). MaxPool uses
//! DeepPoly's relaxation (the input with the largest lower bound below, the largest upper bound
//! above; identity when one input dominates). A linear expression over some tensor is bounded by
//! substituting these relations backwards down to the input box ([`walk_back`]: on a graph, what
//! flows back along several edges into one tensor is summed).
//!
//! Soundness in `f64`: offsets of the lines are computed with an explicit outward margin per
//! point; the back-substitution's own rounding is bounded by `γ_N · M`, where `M` is the sum of
//! the absolute values of every term the substitution expands to (bounded per neuron by a forward
//! "magnitude" pass) and `N` the longest chain of roundings. Every bound is widened by that, then
//! rounded outward to an integer and intersected with the exact interval bounds, so symbolic
//! bounds are never looser than [`super::interval`].

use super::relax::{act_lines, point_lines, Line};
use super::{interval, Interval, LayerBounds, NetBounds, SpecStatus};
use crate::net::form::{Acts, Affine, Form, Src};
use crate::net::walk::{split, walk_back};
use crate::net::Network;
use crate::spec::{InputBox, Spec};

/// Unit roundoff of `f64`.
const U: f64 = f64::EPSILON / 2.0;

/// The relaxation of one node.
enum Relax<'n> {
    /// `y_k` between two lines in its pre-activation `p_k`: row `k` of `affine` plus `beta_k`
    /// over the raw inputs (`None`: `p = x`, an elementwise map).
    Scalar { affine: Option<&'n Affine>, beta: Vec<f64>, lo: Vec<Line>, hi: Vec<Line> },
    /// `y_k = out(ta(a_k) + tb(b_k))`: lines of `out` in `p` (`lo`, `hi`) and of each table in
    /// its operand (`ta`, `tb`: lower and upper line per value).
    Sum { n: usize, ta: Vec<(Line, Line)>, tb: Vec<(Line, Line)>, lo: Vec<Line>, hi: Vec<Line> },
    /// A reshape: identity.
    Same,
    /// `y_k = x_{src_k}` or a constant: exact.
    Gather(Vec<Src>),
    /// DeepPoly max pool: `y ≥ x[pick]`; `y ≤ x[pick]` if it dominates its window, else `y ≤ hi_max`.
    MaxPool { pick: Vec<usize>, dominant: Vec<bool>, hi_max: Vec<f64> },
}

/// Symbolic bounds of a network over one input box, with the relaxations kept so that further
/// linear expressions of the output (spec atoms) can be bounded by back-substitution.
pub struct Symbolic<'n> {
    net: &'n Network,
    bounds: NetBounds,
    relax: Vec<Relax<'n>>,
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

/// `β_k`: row `k`'s constant over the raw inputs (bias minus the folded zero point).
fn betas(a: &Affine) -> Vec<f64> {
    (0..a.n_out()).map(|k| a.constant(k) as f64).collect()
}

/// Row `k` of an affine form as a dense coefficient vector over `n_in` inputs.
fn dense_row(a: &Affine, k: usize, n_in: usize) -> Vec<f64> {
    let mut r = vec![0.0; n_in];
    for (i, c) in a.rows.row(k) {
        r[i] += c as f64;
    }
    r
}

impl<'n> Symbolic<'n> {
    /// Propagate over `input` (which must fit the network, see [`Spec::check`]).
    pub fn new(net: &'n Network, input: &InputBox) -> Symbolic<'n> {
        // Without constraints no range can become empty.
        Symbolic::build(net, input, &[]).unwrap_or_else(|| unreachable!("no constraints, no empty range"))
    }

    /// Propagate over `input` under extra constraints, for branch and bound
    /// (`crate::backend::bab`): `pre[i]`, where present, holds one integer range per
    /// pre-activation of affine node `i` (the accumulators of Dense/Conv, the window sums of
    /// pooling), intersected into that node's pre-activation bounds before its relaxation is
    /// built, so that every later bound uses it (entries of other nodes are ignored; `pre` may be
    /// shorter than the network). The result is sound for the executions from `input` whose
    /// pre-activations lie in the given ranges — the only ones the caller's branch admits.
    /// `None` if an intersection is empty: no such execution exists.
    pub fn with_constraints(net: &'n Network, input: &InputBox, pre: &[Option<Vec<Interval>>]) -> Option<Symbolic<'n>> {
        Symbolic::build(net, input, pre)
    }

    fn build(net: &'n Network, input: &InputBox, constraints: &[Option<Vec<Interval>>]) -> Option<Symbolic<'n>> {
        let plain = interval::propagate(net, input);
        let x: Vec<Interval> = plain.input.clone();
        let total: usize = net.tensors().iter().map(|t| t.len()).sum();
        let n_rounding = 2 * total + 4 * net.layers().len() + 16;
        let gamma = 2.0 * n_rounding as f64 * U;
        let mut s = Symbolic {
            net,
            bounds: NetBounds { input: x.clone(), layers: Vec::with_capacity(net.layers().len()) },
            relax: Vec::with_capacity(net.layers().len()),
            mag: vec![x.iter().map(|v| (v.lo as f64).abs().max((v.hi as f64).abs())).collect()],
            gamma,
        };
        for i in 0..net.layers().len() {
            s.push_node(i, &plain.layers[i], constraints.get(i).and_then(Option::as_deref))?;
        }
        Some(s)
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
    fn backsub(&self, t: usize, lam: Vec<f64>, mut c: f64) -> f64 {
        let net = self.net;
        let at_input = walk_back(
            t,
            lam,
            |node, lam| split(self.step(node, &lam, &mut c), net.node_inputs(node), |t| self.mag[t].len()),
            |acc, v| acc.iter_mut().zip(v).for_each(|(a, b)| *a += b),
        );
        for (v, b) in at_input.iter().flatten().zip(&self.bounds.input) {
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

    /// Substitute an expression over node `l`'s output into one over its input (lower-bound
    /// side).
    fn step(&self, l: usize, lam: &[f64], c: &mut f64) -> Vec<f64> {
        let n_in: usize = self.net.node_inputs(l).iter().map(|&t| self.mag[t].len()).sum();
        match &self.relax[l] {
            Relax::Same => lam.to_vec(),
            Relax::Gather(src) => {
                let mut nu = vec![0.0; n_in];
                for (&v, s) in lam.iter().zip(src) {
                    match *s {
                        Src::In(i) => nu[i as usize] += v,
                        Src::Const(k) => *c += v * k as f64,
                    }
                }
                nu
            }
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
            Relax::Sum { n, ta, tb, lo, hi } => {
                let mut nu = vec![0.0; n_in];
                for (k, &v) in lam.iter().enumerate() {
                    // v > 0: a lower bound of y is needed (y ≥ σ·p + o); v < 0: an upper one.
                    let Some((s, o)) = line_for(v, lo[k], hi[k]) else { continue };
                    // σ·p is bounded below by σ·(lower lines of p) when σ·v ≥ 0, else by the upper.
                    let low_p = (s >= 0.0) == (v > 0.0);
                    let pick = |l: &(Line, Line)| if low_p { l.0 } else { l.1 };
                    let ((sa, ca), (sb, cb)) = (pick(&ta[k]), pick(&tb[k]));
                    *c += v * (o + s * (ca + cb));
                    nu[k] += v * s * sa;
                    nu[n + k] += v * s * sb;
                }
                nu
            }
            Relax::Scalar { affine, beta, lo, hi } => {
                let mut mu = vec![0.0; lam.len()];
                for (k, &v) in lam.iter().enumerate() {
                    let Some((s, o)) = line_for(v, lo[k], hi[k]) else { continue };
                    *c += v * o;
                    mu[k] = v * s;
                }
                match affine {
                    None => mu,
                    Some(a) => {
                        for (&m, &b) in mu.iter().zip(beta) {
                            if m != 0.0 {
                                *c += m * b;
                            }
                        }
                        let mut nu = vec![0.0; n_in];
                        a.rows.transpose_add(&mu, &mut nu);
                        nu
                    }
                }
            }
        }
    }

    /// Symbolic pre-activation bounds of an affine node reading tensor `t`, met with the exact
    /// interval ones. Rows whose output is already constant on the interval range (`settled`)
    /// keep it.
    fn pre_bounds(
        &self,
        t: usize,
        a: &Affine,
        beta: &[f64],
        exact: &[Interval],
        settled: impl Fn(usize) -> bool,
    ) -> Vec<Interval> {
        if t == 0 {
            return exact.to_vec(); // directly over the box, intervals are exact
        }
        let n_in = self.mag[t].len();
        (0..a.n_out())
            .map(|k| {
                if settled(k) {
                    return exact[k];
                }
                let row = dense_row(a, k, n_in);
                let (lo, hi) = self.range(t, &row, beta[k]);
                let sym = Interval { lo: lo.unwrap_or(exact[k].lo), hi: hi.unwrap_or(exact[k].hi) };
                sym.meet(&exact[k]).unwrap_or(exact[k])
            })
            .collect()
    }

    /// `None` iff `constraint` (pre-activation ranges, affine nodes only) leaves a range empty.
    fn push_node(&mut self, i: usize, plain: &LayerBounds, constraint: Option<&[Interval]>) -> Option<()> {
        let net = self.net;
        let inputs = net.node_inputs(i);
        let t = inputs[0];
        let x: Vec<Interval> = inputs.iter().flat_map(|&t| self.bounds.tensor(t).iter().copied()).collect();
        let prev: Vec<f64> = inputs.iter().flat_map(|&t| self.mag[t].iter().copied()).collect();
        let ilay = interval::node(net, i, &x);
        let meet_plain = |v: Vec<Interval>| -> Vec<Interval> {
            v.iter().zip(&plain.out).map(|(a, b)| a.meet(b).unwrap_or(*b)).collect()
        };
        let (lb, relax) = match net.form(i) {
            Form::Affine(a) => {
                let beta = betas(a);
                let exact = ilay.pre.clone().unwrap_or_default();
                let mut pre = if inputs.len() == 1 {
                    self.pre_bounds(t, a, &beta, &exact, |k| ilay.out[k].lo == ilay.out[k].hi)
                } else {
                    // Back-substitution starts from one tensor; several inputs keep the exact
                    // interval pre-activations (sound, possibly looser).
                    exact
                };
                if let Some(c) = constraint {
                    for (p, r) in pre.iter_mut().zip(c) {
                        *p = p.meet(r)?;
                    }
                }
                let mut outs = Vec::with_capacity(pre.len());
                let (mut lo, mut hi) = (Vec::with_capacity(pre.len()), Vec::with_capacity(pre.len()));
                for (k, p) in pre.iter().enumerate() {
                    outs.push(interval::image(a.acts.of(k), *p));
                    let (l, h) = act_lines(a.acts.of(k), p.lo, p.hi);
                    lo.push(l);
                    hi.push(h);
                }
                (LayerBounds { pre: Some(pre), out: meet_plain(outs) }, Relax::Scalar { affine: Some(a), beta, lo, hi })
            }
            Form::Map(acts) => {
                let (lo, hi) = map_lines(acts, &x);
                (
                    LayerBounds { pre: None, out: meet_plain(ilay.out) },
                    Relax::Scalar { affine: None, beta: Vec::new(), lo, hi },
                )
            }
            Form::Max(w) => {
                let (mut pick, mut dominant, mut hi_max) = (Vec::new(), Vec::new(), Vec::new());
                for k in 0..w.n_out() {
                    let best = w.window(k).max_by_key(|&j| x[j].lo).unwrap_or(0);
                    let others_hi = w.window(k).filter(|&j| j != best).map(|j| x[j].hi).max();
                    pick.push(best);
                    dominant.push(others_hi.is_none_or(|h| h <= x[best].lo));
                    hi_max.push(w.window(k).map(|j| x[j].hi).max().unwrap_or(0) as f64);
                }
                (LayerBounds { pre: None, out: meet_plain(ilay.out) }, Relax::MaxPool { pick, dominant, hi_max })
            }
            Form::Gather(g) => (LayerBounds { pre: None, out: meet_plain(ilay.out) }, Relax::Gather(g.src.clone())),
            Form::Copy => (LayerBounds { pre: None, out: meet_plain(ilay.out) }, Relax::Same),
            Form::Sum(f) => {
                let pre = ilay.pre.clone().unwrap_or_default();
                let n = f.n;
                let ta = (0..n).map(|k| point_lines(&|v| f.ta.apply(v), x[k].lo, x[k].hi)).collect();
                let tb = (0..n).map(|k| point_lines(&|v| f.tb.apply(v), x[n + k].lo, x[n + k].hi)).collect();
                let (lo, hi) = pre.iter().map(|p| act_lines(&f.out, p.lo, p.hi)).unzip();
                (LayerBounds { pre: Some(pre), out: meet_plain(ilay.out) }, Relax::Sum { n, ta, tb, lo, hi })
            }
        };
        // Magnitudes of the new tensor's relaxations.
        let prev = &prev;
        let mag = match &relax {
            Relax::Same => prev.clone(),
            Relax::Gather(src) => src
                .iter()
                .map(|s| match *s {
                    Src::In(i) => prev[i as usize],
                    Src::Const(k) => (k as f64).abs(),
                })
                .collect(),
            Relax::MaxPool { pick, dominant, hi_max } => pick
                .iter()
                .zip(dominant)
                .zip(hi_max)
                .map(|((&j, &d), &h)| if d { prev[j] } else { prev[j].max(h.abs()) })
                .collect(),
            Relax::Sum { n, ta, tb, lo, hi } => (0..*n)
                .map(|k| {
                    let m =
                        |l: &(Line, Line), x: f64| l.0 .0.abs().max(l.1 .0.abs()) * x + l.0 .1.abs().max(l.1 .1.abs());
                    let p = m(&ta[k], prev[k]) + m(&tb[k], prev[n + k]);
                    (lo[k].0.abs().max(hi[k].0.abs()) * p + lo[k].1.abs().max(hi[k].1.abs())) * (1.0 + 1e-9)
                })
                .collect(),
            Relax::Scalar { affine, beta, lo, hi } => {
                let pre: Vec<f64> = match affine {
                    None => prev.clone(),
                    Some(a) => (0..a.n_out())
                        .map(|k| a.rows.row(k).map(|(i, c)| (c as f64).abs() * prev[i]).sum::<f64>() + beta[k].abs())
                        .collect(),
                };
                pre.iter()
                    .zip(lo.iter().zip(hi))
                    .map(|(p, (l, h))| (l.0.abs().max(h.0.abs()) * p + l.1.abs().max(h.1.abs())) * (1.0 + 1e-9))
                    .collect()
            }
        };
        self.mag.push(mag);
        self.relax.push(relax);
        self.bounds.layers.push(lb);
        Some(())
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

    /// The coefficients of the lower-bound back-substitution of `Σ c·y` (over the outputs) on
    /// every tensor: `[t]` is the linear function of tensor `t`'s values that the substitution
    /// reached on its way down (`[0]`: over the input box; zeros where nothing flowed). A
    /// heuristic signal only (which neurons and inputs the bound depends on, for branching and
    /// for candidate corners) — no bound is derived from it, so its floating-point rounding is
    /// irrelevant to soundness. Lengths: each tensor's length.
    pub fn backsub_coefficients(&self, terms: &[(usize, i64)]) -> Vec<Vec<f64>> {
        let net = self.net;
        let t = self.relax.len();
        let mut out: Vec<Vec<f64>> = self.mag.iter().map(|m| vec![0.0; m.len()]).collect();
        let mut lam = vec![0.0; self.mag[t].len()];
        for &(j, c) in terms {
            if let Some(l) = lam.get_mut(j) {
                *l += c as f64;
            }
        }
        let mut c = 0.0;
        let at_input = walk_back(
            t,
            lam,
            |node, lam| {
                out[node + 1].clone_from(&lam);
                split(self.step(node, &lam, &mut c), net.node_inputs(node), |t| self.mag[t].len())
            },
            |acc, v| acc.iter_mut().zip(v).for_each(|(a, b)| *a += b),
        );
        if let Some(v) = at_input {
            out[0] = v;
        }
        out
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

/// The lines of an elementwise map over the input bounds `x`.
fn map_lines(acts: &Acts, x: &[Interval]) -> (Vec<Line>, Vec<Line>) {
    x.iter().enumerate().map(|(k, v)| act_lines(acts.of(k), v.lo, v.hi)).unzip()
}

/// Symbolic bounds over `input`.
pub fn propagate(net: &Network, input: &InputBox) -> NetBounds {
    Symbolic::new(net, input).into_bounds()
}

/// The relaxation line back-substitution uses for a neuron with multiplier `v`: a lower bound of
/// the neuron when `v > 0`, an upper one when `v < 0`, none when `v = 0` (the neuron drops out).
fn line_for(v: f64, lo: Line, hi: Line) -> Option<Line> {
    if v > 0.0 {
        Some(lo)
    } else if v < 0.0 {
        Some(hi)
    } else {
        None
    }
}
