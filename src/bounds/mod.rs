//! Bound propagation: per-neuron integer ranges over an input box, shared by every backend.
//!
//! A [`NetBounds`] holds, for every node, the range of each output value and (for affine nodes)
//! of each pre-activation. It is the one bounds object that encodings read for big-M constants,
//! stable-neuron detection and bit widths. Every method must be *sound*: each concrete execution
//! from the box stays inside the bounds (tested by sampling in `tests/bounds.rs`).

pub mod interval;
pub mod relax;
pub mod symbolic;

use crate::net::Network;
use crate::spec::{InputBox, Spec};
use serde::{Deserialize, Serialize};

/// An inclusive integer range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: i64,
    pub hi: i64,
}

impl Interval {
    pub fn new(lo: i64, hi: i64) -> Interval {
        debug_assert!(lo <= hi);
        Interval { lo, hi }
    }
    pub fn point(v: i64) -> Interval {
        Interval { lo: v, hi: v }
    }
    pub fn contains(&self, v: i64) -> bool {
        self.lo <= v && v <= self.hi
    }
    pub fn width(&self) -> u64 {
        self.hi.abs_diff(self.lo)
    }
    /// The intersection, or `None` if empty.
    pub fn meet(&self, o: &Interval) -> Option<Interval> {
        let (lo, hi) = (self.lo.max(o.lo), self.hi.min(o.hi));
        (lo <= hi).then_some(Interval { lo, hi })
    }
}

/// Bounds of one node's output tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerBounds {
    /// Pre-activation ranges of affine nodes (the accumulators of Dense/Conv, the window sums of
    /// average pooling), one per output value; `None` for other nodes.
    pub pre: Option<Vec<Interval>>,
    /// Output value ranges.
    pub out: Vec<Interval>,
}

/// Bounds for a whole network over one input box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetBounds {
    pub input: Vec<Interval>,
    pub layers: Vec<LayerBounds>,
}

/// What the bounds say about a spec's unsafe condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecStatus {
    /// No disjunct can be satisfied by any output inside the bounds: the property holds.
    Unreachable,
    /// Some disjunct is satisfied by *every* output inside the bounds (so by every input).
    AlwaysUnsafe(usize),
    /// Undecided; the indices of the disjuncts the bounds could not rule out.
    Open(Vec<usize>),
}

impl NetBounds {
    /// Bounds of tensor `i` (0 is the input, `i + 1` the output of node `i`).
    pub fn tensor(&self, i: usize) -> &[Interval] {
        if i == 0 {
            &self.input
        } else {
            &self.layers[i - 1].out
        }
    }

    pub fn output(&self) -> &[Interval] {
        self.tensor(self.layers.len())
    }

    /// Range of `Σ c·y` over the output bounds, in i128.
    pub fn atom_range(&self, terms: &[(usize, i64)]) -> (i128, i128) {
        let out = self.output();
        terms.iter().fold((0i128, 0i128), |(lo, hi), &(j, c)| {
            let (a, b) = (i128::from(c) * i128::from(out[j].lo), i128::from(c) * i128::from(out[j].hi));
            (lo + a.min(b), hi + a.max(b))
        })
    }

    /// Decide the spec's unsafe condition from the output bounds alone, where possible.
    pub fn spec_status(&self, spec: &Spec) -> SpecStatus {
        status_with(spec, |terms| self.atom_range(terms).0, |terms| self.atom_range(terms).1)
    }

    /// Number of values whose output range straddles a clamp of its requantization
    /// (an "unstable neuron"); see [`interval::unstable_count`].
    pub fn unstable_count(&self, net: &Network) -> usize {
        interval::unstable_count(net, self)
    }
}

/// Decide a spec's unsafe condition from sound bounds `lower(terms)`, `upper(terms)` of its
/// atoms' left sides. Upper bounds are only asked for in disjuncts no atom rules out.
pub(crate) fn status_with(
    spec: &Spec,
    lower: impl Fn(&[(usize, i64)]) -> i128,
    upper: impl Fn(&[(usize, i64)]) -> i128,
) -> SpecStatus {
    let mut open = Vec::new();
    for (k, conj) in spec.unsafe_dnf.iter().enumerate() {
        if conj.iter().any(|a| lower(&a.terms) > i128::from(a.rhs)) {
            continue; // some atom can never hold
        }
        if conj.iter().all(|a| upper(&a.terms) <= i128::from(a.rhs)) {
            return SpecStatus::AlwaysUnsafe(k);
        }
        open.push(k);
    }
    if open.is_empty() {
        SpecStatus::Unreachable
    } else {
        SpecStatus::Open(open)
    }
}

/// The bound propagation methods; each returns sound bounds for a box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// No propagation beyond the input types' ranges (for experiments).
    None,
    /// Exact integer intervals through every layer.
    Interval,
    /// Back-substituted linear relaxations (DeepPoly/CROWN style), met with the intervals;
    /// spec atoms are bounded directly. See [`symbolic`].
    Symbolic,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Method::None),
            "interval" => Ok(Method::Interval),
            "symbolic" => Ok(Method::Symbolic),
            _ => Err(format!("unknown bounds method `{s}` (expected none, interval or symbolic)")),
        }
    }
}

/// Compute bounds with `method` over `input` (which must fit the network; see [`Spec::check`]).
pub fn compute(net: &Network, input: &InputBox, method: Method) -> NetBounds {
    match method {
        Method::None => interval::propagate(net, &interval::type_box(net)),
        Method::Interval => interval::propagate(net, input),
        Method::Symbolic => symbolic::propagate(net, input),
    }
}

/// Bounds for a query together with what they decide about its unsafe condition.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub bounds: NetBounds,
    pub status: SpecStatus,
}

/// Compute bounds for `spec` and decide what they can. Methods that bound the spec's atoms
/// directly (rather than from the output ranges) do so here; the pipeline only calls this.
pub fn analyze(net: &Network, spec: &Spec, method: Method) -> Analysis {
    if method == Method::Symbolic {
        let s = symbolic::Symbolic::new(net, &spec.input);
        let status = s.spec_status(spec);
        return Analysis { bounds: s.into_bounds(), status };
    }
    let bounds = compute(net, &spec.input, method);
    let status = bounds.spec_status(spec);
    Analysis { bounds, status }
}
