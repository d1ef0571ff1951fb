//! Branch-and-bound domains: an input box and pre-activation ranges of split neurons, and the
//! splits that divide a domain into two that cover it exactly.
//!
//! A domain stands for the executions from its input box whose pre-activations lie in its
//! ranges. A neuron of an affine node ([`Form::Affine`]: Dense, Conv2d, AvgPool2d) computes
//! `y = f(p)` from its pre-activation `p` (the accumulator, or the window sum) with a monotone
//! non-decreasing activation `f` ([`Act::is_monotone`]: requantization, integer average, clamp,
//! a monotone table — every rescale kind has a positive multiplier; rounding and clamping are
//! monotone). A split `y ≤ k` / `y ≥ k + 1` is therefore stated exactly on `p`: with
//! `a* = max{a ∈ [A, B] : f(a) ≤ k}` the two children are `p ∈ [A, a*]` and `p ∈ [a* + 1, B]`,
//! where `[A, B]` is a sound range of `p` over the parent domain. `a*` is found by binary search
//! with the executor's own [`Act::apply`]. Neurons with a non-monotone table are never split.
//! An input split halves one coordinate's integer range.

use crate::bounds::Interval;
use crate::net::form::{Act, Form};
use crate::net::Network;
use crate::spec::InputBox;

/// One pre-activation range of a split neuron: `pre[node][neuron] ∈ range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreRange {
    /// Index of an affine node.
    pub node: usize,
    pub neuron: usize,
    pub range: Interval,
}

/// A branch-and-bound domain.
#[derive(Clone, Debug)]
pub struct Domain {
    pub input: InputBox,
    /// Pre-activation ranges of split neurons; a later entry for the same neuron is tighter.
    pub splits: Vec<PreRange>,
    /// Indices (into the spec's disjuncts) that this domain has not ruled out yet.
    pub open: Vec<usize>,
    /// Number of splits from the root.
    pub depth: usize,
    /// Priority: the parent's smallest disjunct margin (more negative = further from closed).
    pub margin: f64,
    /// No MILP leaves in this subtree (an ancestor's MILP returned only candidates outside its
    /// domain). A heuristic: it changes which procedure closes the domains, never an answer.
    pub milp_off: bool,
}

impl Domain {
    /// The pre-activation constraints, per node, as
    /// [`crate::bounds::symbolic::Symbolic::with_constraints`] takes them.
    pub fn constraints(&self, net: &Network) -> Vec<Option<Vec<Interval>>> {
        let mut c: Vec<Option<Vec<Interval>>> = vec![None; net.forms().len()];
        for s in &self.splits {
            let Some(slot) = c.get_mut(s.node) else { continue };
            let n = net.tensors()[s.node + 1].len();
            let v = slot.get_or_insert_with(|| vec![Interval { lo: i64::MIN, hi: i64::MAX }; n]);
            if let Some(r) = v.get_mut(s.neuron) {
                // Splits only narrow: an empty meet cannot arise from the tree's own splits; if
                // it did, keeping the later range would be wrong, so keep an empty-proof range.
                *r = r.meet(&s.range).unwrap_or(Interval { lo: 1, hi: 0 });
            }
        }
        c
    }

    /// Does the execution with pre-activations `pre` (from [`pre_activations`]) from input `x`
    /// belong to this domain?
    pub fn admits(&self, x: &[i64], pre: &[Option<Vec<i64>>]) -> bool {
        self.input.contains(x)
            && self.splits.iter().all(|s| {
                pre.get(s.node)
                    .and_then(Option::as_ref)
                    .and_then(|p| p.get(s.neuron))
                    .is_some_and(|v| s.range.contains(*v))
            })
    }
}

/// The activation of neuron `k` of node `node` if the node is affine and the activation monotone
/// (the neurons a split may be stated on).
pub fn neuron_act(net: &Network, node: usize, k: usize) -> Option<&Act> {
    let Form::Affine(a) = net.forms().get(node)? else { return None };
    (k < a.n_out()).then(|| a.acts.of(k)).filter(|f| f.is_monotone())
}

/// `max{a ∈ [lo, hi] : f(a) ≤ k}`, or `None` if `f(lo) > k`. Exact for a monotone
/// non-decreasing `f`: binary search on the executor's map.
pub fn last_at_most(f: &Act, k: i64, lo: i64, hi: i64) -> Option<i64> {
    if f.apply(lo) > k {
        return None;
    }
    let (mut a, mut b) = (lo, hi); // invariant: f(a) ≤ k; the answer is in [a, b]
    while a < b {
        let m = a + (b - a + 1) / 2;
        if f.apply(m) <= k {
            a = m;
        } else {
            b = m - 1;
        }
    }
    Some(a)
}

/// Split neuron `(node, neuron)` with pre-activation range `pre` at output value `k`
/// (`f(pre.lo) ≤ k < f(pre.hi)`): the ranges `[pre.lo, a*]` (`y ≤ k`) and `[a* + 1, pre.hi]`
/// (`y ≥ k + 1`). `None` if `k` does not divide the range or the neuron cannot be split.
pub fn split_neuron(net: &Network, node: usize, neuron: usize, pre: Interval, k: i64) -> Option<(PreRange, PreRange)> {
    let f = neuron_act(net, node, neuron)?;
    let a = last_at_most(f, k, pre.lo, pre.hi)?;
    if a >= pre.hi {
        return None;
    }
    Some((
        PreRange { node, neuron, range: Interval::new(pre.lo, a) },
        PreRange { node, neuron, range: Interval::new(a + 1, pre.hi) },
    ))
}

/// Halve input coordinate `i` of a box (`lo < hi` there).
pub fn split_input(b: &InputBox, i: usize) -> (InputBox, InputBox) {
    let (l, h) = (b.lo[i], b.hi[i]);
    let m = l + (h - l).div_euclid(2);
    let (mut left, mut right) = (b.clone(), b.clone());
    left.hi[i] = m;
    right.lo[i] = m + 1;
    (left, right)
}

/// The exact pre-activations of every affine node of the execution from `x` (`None` for other
/// nodes, and for an invalid input). For tests and leaf checks.
pub fn pre_activations(net: &Network, x: &[i64]) -> Option<Vec<Option<Vec<i64>>>> {
    let t = crate::net::exec::trace(net, x).ok()?;
    Some(
        net.forms()
            .iter()
            .enumerate()
            .map(|(i, form)| {
                let Form::Affine(a) = form else { return None };
                let input: Vec<i64> = net.node_inputs(i).iter().flat_map(|&j| t[j].iter().copied()).collect();
                Some((0..a.n_out()).map(|k| a.pre(k, &input)).collect())
            })
            .collect(),
    )
}
