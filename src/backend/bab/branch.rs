//! Branching heuristics: which neuron (or input coordinate) to split, and where.
//!
//! Scores are heuristics only — any choice keeps the procedure sound and complete; they decide
//! how fast domains close. The BaBSR-like score of a neuron is `|λ_k| · gap_k`: `λ` is the
//! coefficient of the neuron's output in the lower-bound back-substitution of the objective (the
//! binding atom of the worst open disjunct), taken from the shared symbolic propagation
//! ([`crate::bounds::symbolic::Symbolic::backsub_coefficients`]); `gap_k` is how far the
//! neuron's map is from its chord at its clamp kinks (the height of the relaxation's triangle),
//! or 1/2 (rounding only) for a neuron whose range straddles no clamp.

use super::domain::{last_at_most, neuron_act};
use crate::bounds::{Interval, NetBounds};
use crate::net::form::{Act, Form};
use crate::net::Network;

/// How the split value of a neuron is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitAt {
    /// At the clamp kink whose relaxation gap is larger (`y ≤ lo` / `y ≥ lo + 1`, or
    /// `y ≤ hi − 1` / `y ≥ hi`): a phase split; the midpoint where no clamp lies inside.
    Kink,
    /// At the midpoint of the neuron's output range.
    Mid,
}

/// How the neuron to split is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choose {
    /// BaBSR-like: largest `|λ| · gap`.
    Babsr,
    /// Largest output range of a neuron straddling a clamp, earliest node first on ties.
    Widest,
}

/// A split decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Split {
    /// Split neuron `(node, neuron)` at output value `k`: `y ≤ k` / `y ≥ k + 1`.
    Neuron { node: usize, neuron: usize, k: i64, score: f64 },
    /// Halve input coordinate `i`.
    Input { i: usize, score: f64 },
}

/// What one neuron's map looks like over a pre-activation range.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// `f(A)`, `f(B)`.
    pub ylo: i64,
    pub yhi: i64,
    /// Largest distance from the chord at a clamp kink (1/2 for rounding only, 0 if constant).
    pub gap: f64,
    /// The split value at the larger kink, if a clamp lies inside the range.
    pub kink_k: Option<i64>,
}

/// The shape of a monotone `f` over `[A, B]`.
pub fn shape(f: &Act, pre: Interval) -> Shape {
    let (a, b) = (pre.lo, pre.hi);
    let (ylo, yhi) = (f.apply(a), f.apply(b));
    if ylo == yhi || a >= b {
        return Shape { ylo, yhi, gap: 0.0, kink_k: None };
    }
    let (clo, chi) = f.clamp_range();
    let slope = (yhi - ylo) as f64 / (b as f64 - a as f64);
    let chord = |p: i64| ylo as f64 + slope * (p as f64 - a as f64);
    let mut best: Option<(f64, i64)> = None;
    if ylo == clo {
        // the last pre-activation on the lower clamp
        if let Some(p) = last_at_most(f, clo, a, b) {
            best = Some(((chord(p) - clo as f64).abs(), clo));
        }
    }
    if yhi == chi {
        // the first pre-activation on the upper clamp
        if let Some(p) = last_at_most(f, chi - 1, a, b) {
            let g = (chord(p + 1) - chi as f64).abs();
            if best.is_none_or(|(bg, _)| g > bg) {
                best = Some((g, chi - 1));
            }
        }
    }
    match best {
        Some((g, k)) => Shape { ylo, yhi, gap: g.max(0.5), kink_k: Some(k) },
        None => Shape { ylo, yhi, gap: 0.5, kink_k: None },
    }
}

/// The `top` best neuron splits of a domain with bounds `b`, best first (empty if no neuron
/// can be split). `lam`: per tensor, the back-substitution coefficients of the objective (`None`:
/// score by width, [`Choose::Widest`]). `outputs`: also split the neurons of the output node.
pub fn candidates(
    net: &Network,
    b: &NetBounds,
    lam: Option<&[Vec<f64>]>,
    how: Choose,
    at: SplitAt,
    outputs: bool,
    top: usize,
) -> Vec<Split> {
    let mut all: Vec<(f64, usize, usize, i64)> = Vec::new();
    let last = net.forms().len().saturating_sub(1);
    for (i, form) in net.forms().iter().enumerate() {
        if !matches!(form, Form::Affine(_)) || (i == last && !outputs) {
            continue;
        }
        let Some(pre) = b.layers.get(i).and_then(|l| l.pre.as_ref()) else { continue };
        for (k, &p) in pre.iter().enumerate() {
            let Some(f) = neuron_act(net, i, k) else { continue };
            let s = shape(f, p);
            if s.ylo >= s.yhi {
                continue;
            }
            let l = lam.and_then(|l| l.get(i + 1)).and_then(|l| l.get(k)).copied();
            let score = match (how, l) {
                (Choose::Babsr, Some(l)) => l.abs() * s.gap + 1e-9 * s.gap,
                _ => (s.yhi - s.ylo) as f64 * if s.kink_k.is_some() { 1.0 } else { 1e-3 },
            };
            let k_at = match (at, s.kink_k) {
                (SplitAt::Kink, Some(kk)) => kk,
                _ => s.ylo + (s.yhi - s.ylo - 1).div_euclid(2),
            };
            all.push((score, i, k, k_at));
        }
    }
    // best first; ties keep the scan order (earlier node, lower index)
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    all.truncate(top.max(1));
    all.into_iter().map(|(score, node, neuron, k)| Split::Neuron { node, neuron, k, score }).collect()
}

/// The input coordinate with the largest `|λ_i| · width_i` (width alone without `λ`); `None`
/// when the box is one point.
pub fn input_split(b: &NetBounds, lam0: Option<&[f64]>) -> Option<Split> {
    let mut best: Option<(f64, usize)> = None;
    for (i, r) in b.input.iter().enumerate() {
        if r.lo >= r.hi {
            continue;
        }
        let w = (r.hi - r.lo) as f64;
        let score = lam0.and_then(|l| l.get(i)).map_or(w, |l| l.abs() * w + 1e-9 * w);
        if best.is_none_or(|(bs, _)| score > bs) {
            best = Some((score, i));
        }
    }
    best.map(|(score, i)| Split::Input { i, score })
}

/// The box corner that minimises `Σ λ_i·x_i`: where the linearised objective is smallest, a
/// cheap candidate counterexample.
pub fn minimizing_corner(b: &NetBounds, lam0: &[f64]) -> Vec<i64> {
    b.input
        .iter()
        .zip(lam0)
        .map(|(r, &l)| {
            if l > 0.0 {
                r.lo
            } else if l < 0.0 {
                r.hi
            } else {
                r.lo + (r.hi - r.lo) / 2
            }
        })
        .collect()
}
