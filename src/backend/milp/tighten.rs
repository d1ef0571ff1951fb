//! LP bound tightening (optimisation-based bound tightening, OBBT) of unstable accumulators.
//!
//! Symbolic propagation bounds a hidden accumulator by one linear relaxation per neuron below it;
//! the LP relaxation of the exact encoding of everything below ([`encode_below`]: the same rows
//! the MILP solves, integrality dropped) couples those neurons and is tighter — the tightening
//! MIPVerify (Tjeng et al., ICLR 2019) found decisive for MILP verification. For every affine
//! node that reads something other than the input box (whose accumulators are exact already),
//! each *unstable* accumulator (its range straddles a clamp of its requantization) is minimised
//! and maximised over that LP; the new ranges go back into symbolic propagation as constraints
//! ([`Symbolic::with_constraints`]), so every later node's relaxation — and the next LP — uses
//! them.
//!
//! **Soundness does not rest on the LP solver.** HiGHS only proposes row duals `y`; the bound is
//! re-derived from them by weak duality (the "safe bound" of Neumaier and Shcherbina, Math.
//! Program. 99, 2004): for rows `a_r·x ≥ b_r` with `y_r ≥ 0` and `a_r·x ≤ b_r` with `y_r ≤ 0`,
//! every point of the LP — so every execution from the box — has
//! `c·x ≥ Σ_r y_r·b_r + Σ_j min(d_j·l_j, d_j·u_j)` with `d = c − Aᵀy`, whatever `y` is. That
//! expression is evaluated in `f64` with a rigorous error margin (`γ_n` times the sum of the
//! absolute values of every term, as in [`crate::bounds::symbolic`]) and then rounded *up* to the
//! integer grid: accumulators are integers, which the LP does not know. A wrong or inaccurate
//! dual only gives a weaker bound; a failed LP leaves the symbolic range as it was.

use super::encode::{encode_below, EncodeError, EncodeOptions, Lin};
use super::model::{MilpModel, Sense};
use crate::bounds::symbolic::Symbolic;
use crate::bounds::{interval, Interval};
use crate::budget::Budget;
use crate::net::form::Form;
use crate::net::Network;
use crate::spec::InputBox;
use highs::{Col, HighsModelStatus, Sense as Objective};
use std::time::{Duration, Instant};

/// Unit roundoff of `f64`.
const U: f64 = f64::EPSILON / 2.0;

/// Figures of one tightening run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TightenStats {
    /// LPs solved (two per unstable accumulator visited).
    pub lps: usize,
    /// Accumulator bounds the LPs moved (each side counted).
    pub narrowed: usize,
    /// Unstable accumulators before and after (per [`interval::unstable_count`]).
    pub unstable_before: usize,
    pub unstable_after: usize,
    /// The budget (or `max_time`) ran out before every unstable accumulator was visited.
    pub truncated: bool,
    pub seconds: f64,
}

/// Symbolic bounds of `net` over `input`, tightened by LPs within `budget` and at most
/// `max_time`. The result is sound for every execution from `input`, like symbolic propagation
/// itself. Errors only where the encoding is refused.
pub fn tighten<'n>(
    net: &'n Network,
    input: &InputBox,
    budget: &Budget,
    max_time: Duration,
) -> Result<(Symbolic<'n>, TightenStats), EncodeError> {
    let start = Instant::now();
    let mut sym = Symbolic::new(net, input);
    let stop_at = budget.deadline().map_or(start + max_time, |d| d.min(start + max_time));
    let out_of_time = || budget.is_stopped() || Instant::now() >= stop_at;
    let mut stats = TightenStats { unstable_before: sym.bounds().unstable_count(net), ..TightenStats::default() };
    let mut constraints: Vec<Option<Vec<Interval>>> = vec![None; net.layers().len()];
    let opts = EncodeOptions { relax_inputs: true, relax_integers: true, ..EncodeOptions::default() };
    for (i, form) in net.forms().iter().enumerate() {
        let Form::Affine(a) = form else { continue };
        if !a.accumulator || net.node_inputs(i) == [0] {
            continue; // over the box itself, interval bounds are exact
        }
        let Some(pre) = sym.bounds().layers[i].pre.clone() else { continue };
        let unstable: Vec<usize> =
            (0..pre.len()).filter(|&k| interval::straddles_clamp(a.acts.of(k), pre[k])).collect();
        if unstable.is_empty() {
            continue;
        }
        if out_of_time() {
            stats.truncated = true;
            break;
        }
        let (model, lins) = encode_below(net, sym.bounds(), input, i, &opts)?;
        let mut lp = Lp::new(&model);
        let mut new_pre = pre.clone();
        for &k in &unstable {
            if out_of_time() {
                stats.truncated = true;
                break;
            }
            let p = &lins[k];
            let lo = lp.minimum(&model, p, stop_at);
            let hi = lp.minimum(&model, &p.scaled(-1), stop_at).map(|v| -v);
            stats.lps += 2;
            if let Some(lo) = lo.filter(|&v| v > new_pre[k].lo) {
                stats.narrowed += 1;
                new_pre[k].lo = lo;
            }
            if let Some(hi) = hi.filter(|&v| v < new_pre[k].hi) {
                stats.narrowed += 1;
                new_pre[k].hi = hi;
            }
            if new_pre[k].lo > new_pre[k].hi {
                // Impossible for sound bounds over a non-empty box: keep the symbolic range.
                new_pre[k] = pre[k];
            }
        }
        constraints[i] = Some(new_pre);
        match Symbolic::with_constraints(net, input, &constraints) {
            Some(s) => sym = s,
            None => {
                // Also impossible for sound ranges; drop this node's ranges rather than guess.
                constraints[i] = None;
            }
        }
        if stats.truncated {
            break;
        }
    }
    stats.unstable_after = sym.bounds().unstable_count(net);
    stats.seconds = start.elapsed().as_secs_f64();
    Ok((sym, stats))
}

/// The LP relaxation of a model in HiGHS, re-solved for one objective after another (warm start
/// from the previous basis).
struct Lp {
    model: Option<highs::Model>,
    cols: Vec<Col>,
    /// Columns with a non-zero cost in the current objective.
    costed: Vec<usize>,
}

impl Lp {
    /// `m` has no objective (the encoder sets none without `guide`); each [`Lp::minimum`] sets
    /// its own.
    fn new(m: &MilpModel) -> Lp {
        let (p, cols) = super::highs::row_problem(m, true);
        let model = p.try_optimise(Objective::Minimise).ok().and_then(|mut h| {
            h.make_quiet();
            h.try_set_option("threads", 1).ok()?;
            Some(h)
        });
        Lp { model, cols, costed: Vec::new() }
    }

    /// A sound integer lower bound of `p` over the model's points, or `None` if the LP gave
    /// nothing usable.
    fn minimum(&mut self, m: &MilpModel, p: &Lin, stop_at: Instant) -> Option<i64> {
        let mut h = self.model.take()?;
        for &j in &self.costed {
            h.change_column_cost(self.cols[j], 0.0);
        }
        self.costed.clear();
        for &(j, c) in &p.terms {
            h.change_column_cost(self.cols[j], c as f64);
            self.costed.push(j);
        }
        let left = stop_at.saturating_duration_since(Instant::now()).as_secs_f64();
        if left <= 0.0 || h.try_set_option("time_limit", left).is_err() {
            self.model = Some(h);
            return None;
        }
        let solved = h.try_solve().ok()?;
        let bound = (solved.status() == HighsModelStatus::Optimal)
            .then(|| safe_lower_bound(m, p, solved.get_solution().dual_rows()))
            .flatten();
        self.model = Some(highs::Model::from(solved));
        let b = bound?;
        let v = b.ceil();
        (v.is_finite() && v.abs() < 9.0e15).then_some(v as i64)
    }
}

/// A rigorous lower bound of `p = Σ c_j·x_j + c₀` over `{x : l ≤ x ≤ u, rows of m}` from any row
/// multipliers `y` (signs are clamped to the valid ones; see the module documentation). `None`
/// if some value is not finite.
pub(crate) fn safe_lower_bound(m: &MilpModel, p: &Lin, y: &[f64]) -> Option<f64> {
    if y.len() != m.rows.len() {
        return None;
    }
    let n = m.vars.len();
    // d = c − Aᵀy, with mag_j ≥ Σ |terms| of d_j's sum.
    let mut d = vec![0.0f64; n];
    let mut mag = vec![0.0f64; n];
    let mut count = vec![1usize; n];
    for &(j, c) in &p.terms {
        let c = c as f64;
        d[j] += c;
        mag[j] += c.abs();
    }
    let (mut total, mut abs_total) = (p.c as f64, (p.c as f64).abs());
    for (r, &yr) in m.rows.iter().zip(y) {
        let yr = match r.sense {
            Sense::Ge => yr.max(0.0),
            Sense::Le => yr.min(0.0),
        };
        if yr == 0.0 {
            continue;
        }
        if !yr.is_finite() {
            return None;
        }
        let t = yr * r.rhs;
        total += t;
        abs_total += t.abs();
        for &(j, a) in &r.terms {
            let t = yr * a;
            d[j] -= t;
            mag[j] += t.abs();
            count[j] += 1;
        }
    }
    let longest = count.iter().copied().max().unwrap_or(1) + m.rows.len() + n + 8;
    let gamma = 2.0 * longest as f64 * U;
    for j in 0..n {
        let (l, u) = (m.vars[j].lb, m.vars[j].ub);
        let t = (d[j] * l).min(d[j] * u);
        // |d_j − d*_j| ≤ γ·mag_j, so d*_j·x_j ≥ d_j·x_j − γ·mag_j·max(|l|, |u|).
        let err = gamma * mag[j] * l.abs().max(u.abs());
        total += t - err;
        abs_total += t.abs() + err;
    }
    let bound = total - gamma * abs_total;
    bound.is_finite().then_some(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::milp::model::VarKind;

    /// x, y ∈ [0, 4], x + y ≥ 3, x − y ≤ 1: min x + 2y = 4 at (2, 1). The optimal duals give
    /// that bound; any other multipliers a weaker but still valid one.
    #[test]
    fn dual_bound_is_valid_for_any_multipliers() {
        let mut m = MilpModel::default();
        let x = m.var("x", VarKind::Continuous, 0.0, 4.0);
        let y = m.var("y", VarKind::Continuous, 0.0, 4.0);
        m.row("a", vec![(x, 1.0), (y, 1.0)], Sense::Ge, 3.0);
        m.row("b", vec![(x, 1.0), (y, -1.0)], Sense::Le, 1.0);
        let p = Lin { terms: vec![(x, 1), (y, 2)], c: 0 };
        // Optimum at x = 2, y = 1: value 4; duals y_a = 1.5, y_b = -0.5 make d = 0.
        let best = safe_lower_bound(&m, &p, &[1.5, -0.5]).unwrap();
        assert!(best <= 4.0 && best > 4.0 - 1e-9, "{best}");
        // Any multipliers give a bound below the optimum; wrong signs are clamped to zero.
        for ys in [[0.0, 0.0], [1.0, 0.0], [3.0, -2.0], [-1.0, 1.0], [1.5, 0.5]] {
            let b = safe_lower_bound(&m, &p, &ys).unwrap();
            assert!(b <= 4.0, "{ys:?}: {b}");
        }
        // With no multipliers the bound is the box's: 0.
        assert!(safe_lower_bound(&m, &p, &[0.0, 0.0]).unwrap() <= 0.0);
    }

    #[test]
    fn lp_minimum_rounds_up_to_the_integer_grid() {
        let mut m = MilpModel::default();
        let x = m.var("x", VarKind::Continuous, 0.0, 10.0);
        let y = m.var("y", VarKind::Continuous, 0.0, 10.0);
        m.row("a", vec![(x, 2.0), (y, 2.0)], Sense::Ge, 5.0);
        let p = Lin { terms: vec![(x, 1), (y, 1)], c: 0 };
        let mut lp = Lp::new(&m);
        let far = Instant::now() + Duration::from_secs(10);
        // LP minimum 2.5, so every integer value of x + y is ≥ 3.
        assert_eq!(lp.minimum(&m, &p, far), Some(3));
        // Re-solved with another objective on the same model: max x + y = 20.
        assert_eq!(lp.minimum(&m, &p.scaled(-1), far), Some(-20));
    }
}
