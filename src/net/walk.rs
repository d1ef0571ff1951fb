//! The one traversal of a network, written once for every analysis.
//!
//! An analysis says what a value of a tensor is in its domain (integers for the executor,
//! intervals for interval bounds, affine expressions over solver variables for the encodings, …)
//! and how each [`Form`] maps input values to output values; [`walk`] visits the nodes in
//! topological order and hands each form its input values. [`walk_back`] is the reverse visit
//! that back-substitution and gradients use, merging what flows back along every edge (a tensor
//! read by several nodes receives the sum).

use super::form::{Acts, Affine, Form, Gather, Sum, Windows};
use super::ir::Network;

/// An analysis of the forms. `node` is the node's index (for naming and per-node state).
pub trait Analysis {
    /// What the analysis knows about one tensor.
    type Value;
    type Error;
    fn affine(&mut self, node: usize, a: &Affine, x: &Self::Value) -> Result<Self::Value, Self::Error>;
    fn map(&mut self, node: usize, acts: &Acts, x: &Self::Value) -> Result<Self::Value, Self::Error>;
    fn max(&mut self, node: usize, w: &Windows, x: &Self::Value) -> Result<Self::Value, Self::Error>;
    fn gather(&mut self, node: usize, g: &Gather, x: &Self::Value) -> Result<Self::Value, Self::Error>;
    /// Element-wise addition of the two halves of `x` ([`Sum`]).
    fn sum(&mut self, node: usize, s: &Sum, x: &Self::Value) -> Result<Self::Value, Self::Error>;
    /// A reshape: the same values.
    fn copy(&mut self, node: usize, x: &Self::Value) -> Result<Self::Value, Self::Error>;
    /// The values of several tensors as one (a node that reads several inputs sees their
    /// concatenation, in the order it lists them).
    fn concat(&mut self, parts: &[&Self::Value]) -> Result<Self::Value, Self::Error>;
}

/// Run `a` over every node; returns the value of every tensor (`[0]` is `input`).
pub fn walk<A: Analysis>(net: &Network, a: &mut A, input: A::Value) -> Result<Vec<A::Value>, A::Error> {
    walk_prefix(net, a, input, net.forms().len())
}

/// [`walk`] over the first `nodes` nodes only (a prefix of the topological order is a
/// sub-network): the values of the input and of those nodes' outputs. LP bound tightening
/// encodes the part of a network below the node it bounds this way.
pub fn walk_prefix<A: Analysis>(
    net: &Network,
    a: &mut A,
    input: A::Value,
    nodes: usize,
) -> Result<Vec<A::Value>, A::Error> {
    let mut values = Vec::with_capacity(nodes + 1);
    values.push(input);
    for (i, form) in net.forms().iter().enumerate().take(nodes) {
        let joined;
        let x = match net.node_inputs(i) {
            [t] => &values[*t],
            ts => {
                let parts: Vec<&A::Value> = ts.iter().map(|&t| &values[t]).collect();
                joined = a.concat(&parts)?;
                &joined
            }
        };
        let y = match form {
            Form::Affine(f) => a.affine(i, f, x)?,
            Form::Map(f) => a.map(i, f, x)?,
            Form::Max(f) => a.max(i, f, x)?,
            Form::Gather(f) => a.gather(i, f, x)?,
            Form::Copy => a.copy(i, x)?,
            Form::Sum(f) => a.sum(i, f, x)?,
        };
        values.push(y);
    }
    Ok(values)
}

/// Split a value over a node's concatenated input into one part per input tensor, for the
/// reverse visit (`lens`: the lengths of the tensors it reads, in order).
pub fn split<T>(v: Vec<T>, inputs: &[usize], lens: impl Fn(usize) -> usize) -> Vec<(usize, Vec<T>)> {
    if let [t] = inputs {
        return vec![(*t, v)];
    }
    let mut out = Vec::with_capacity(inputs.len());
    let mut rest = v.into_iter();
    for &t in inputs {
        out.push((t, rest.by_ref().take(lens(t)).collect()));
    }
    out
}

/// The reverse visit: `seed` sits on tensor `from`; for every node below it, in reverse
/// topological order, `step(node, value on its output)` returns what flows to each tensor it
/// reads, and `merge` adds it to what that tensor already received. Returns what reaches the
/// input (tensor 0), if anything does.
pub fn walk_back<T>(
    from: usize,
    seed: T,
    mut step: impl FnMut(usize, T) -> Vec<(usize, T)>,
    mut merge: impl FnMut(&mut T, T),
) -> Option<T> {
    let mut pending: Vec<Option<T>> = (0..=from).map(|_| None).collect();
    pending[from] = Some(seed);
    for node in (0..from).rev() {
        let Some(v) = pending[node + 1].take() else { continue };
        for (t, contribution) in step(node, v) {
            match &mut pending[t] {
                Some(acc) => merge(acc, contribution),
                slot @ None => *slot = Some(contribution),
            }
        }
    }
    pending[0].take()
}
