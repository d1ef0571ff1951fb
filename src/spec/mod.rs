//! Specifications: an integer input box and an unsafe condition over the integer outputs.
//!
//! The unsafe condition is a disjunction of conjunctions of linear atoms `Σ c_j·y_j ≤ rhs` with
//! integer coefficients (VNN-LIB semantics: the assertions describe a counterexample). A property
//! is `falsified` iff some input in the box makes some disjunct true. Real-valued statements
//! (VNN-LIB over real inputs/outputs, real ε) are mapped to this integer form exactly, through the
//! network's input quantization and output dequantization (see [`real`]).

pub mod real;
pub mod robust;
pub mod vnnlib;

use crate::net::Network;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Per-component integer bounds on the network input (inclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputBox {
    pub lo: Vec<i64>,
    pub hi: Vec<i64>,
}

impl InputBox {
    pub fn len(&self) -> usize {
        self.lo.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lo.is_empty()
    }
    pub fn contains(&self, x: &[i64]) -> bool {
        x.len() == self.lo.len() && x.iter().zip(self.lo.iter().zip(&self.hi)).all(|(v, (l, h))| l <= v && v <= h)
    }
    /// Number of integer points, saturating at `u128::MAX`.
    pub fn volume(&self) -> u128 {
        self.lo
            .iter()
            .zip(&self.hi)
            .try_fold(1u128, |acc, (l, h)| acc.checked_mul((h - l + 1).max(0) as u128))
            .unwrap_or(u128::MAX)
    }
}

/// A real-valued input box: the statement an integer [`InputBox`] was derived from (VNN-LIB bounds
/// over the real inputs, or a real radius around the dequantized center). Per input, the lower
/// and upper bound (`None`: unbounded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealBox {
    pub lo: Vec<Option<f64>>,
    pub hi: Vec<Option<f64>>,
}

impl RealBox {
    /// `x` clamped into the box, component by component (components beyond the box's length
    /// stay as they are).
    ///
    /// A dequantized witness clamped this way is a real input in the box that quantizes to the
    /// same integer input: the box meets that integer's quantization cell (the integer box is the
    /// box's image under quantization), and the dequantized value lies in the cell, so clamping
    /// stays in both.
    pub fn clamp(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .enumerate()
            .map(|(i, &xi)| {
                let mut y = xi;
                if let Some(l) = self.lo.get(i).copied().flatten() {
                    y = y.max(l);
                }
                if let Some(h) = self.hi.get(i).copied().flatten() {
                    y = y.min(h);
                }
                y
            })
            .collect()
    }
}

/// `Σ coeff·y[index] ≤ rhs` over the integer outputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Atom {
    pub terms: Vec<(usize, i64)>,
    pub rhs: i64,
}

impl Atom {
    /// `Σ c·y`, in i128 so that no output vector can overflow it.
    pub fn lhs(&self, y: &[i64]) -> i128 {
        self.terms.iter().map(|&(j, c)| i128::from(c) * i128::from(y[j])).sum()
    }
    pub fn holds(&self, y: &[i64]) -> bool {
        self.lhs(y) <= i128::from(self.rhs)
    }
}

/// A disjunction of conjunctions of atoms: the outputs a counterexample must produce.
pub type Dnf = Vec<Vec<Atom>>;

/// A verification query on the integer network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub input: InputBox,
    /// Unsafe outputs. An empty disjunction is unsatisfiable (the property holds trivially).
    pub unsafe_dnf: Dnf,
    /// Human-readable summary, e.g. "L∞ robustness, label 3, ε = 2".
    pub description: String,
}

impl Spec {
    /// The same property restricted to disjunct `k` of its unsafe DNF (what the complete
    /// backends solve one at a time: every disjunct unreachable proves the whole property).
    /// Panics if `k` is out of range (callers iterate over `unsafe_dnf`).
    pub fn only_disjunct(&self, k: usize) -> Spec {
        Spec { unsafe_dnf: vec![self.unsafe_dnf[k].clone()], ..self.clone() }
    }

    /// Do these outputs violate the property (satisfy some disjunct)?
    pub fn is_unsafe(&self, y: &[i64]) -> bool {
        self.unsafe_dnf.iter().any(|conj| conj.iter().all(|a| a.holds(y)))
    }

    /// Check that the spec fits the network: box size and range, output indices.
    pub fn check(&self, net: &Network) -> Result<(), SpecError> {
        let n = net.input_len();
        if self.input.lo.len() != n || self.input.hi.len() != n {
            return Err(SpecError::InputLength { got: self.input.lo.len().max(self.input.hi.len()), expected: n });
        }
        let t = net.input_info().quant.dtype;
        for (i, (&l, &h)) in self.input.lo.iter().zip(&self.input.hi).enumerate() {
            if l > h {
                return Err(SpecError::EmptyBox { index: i, lo: l, hi: h });
            }
            if l < t.min() || h > t.max() {
                return Err(SpecError::BoxRange { index: i, lo: l, hi: h, dtype: t.to_string() });
            }
        }
        let m = net.output_len();
        for conj in &self.unsafe_dnf {
            for a in conj {
                if let Some(&(j, _)) = a.terms.iter().find(|(j, _)| *j >= m) {
                    return Err(SpecError::OutputIndex { index: j, outputs: m });
                }
            }
        }
        Ok(())
    }
}

/// Problems with a specification (the CLI adds the file name).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SpecError {
    #[error("the input box has {got} components; the model has {expected} inputs")]
    InputLength { got: usize, expected: usize },
    #[error("input {index}: empty range [{lo}, {hi}]")]
    EmptyBox { index: usize, lo: i64, hi: i64 },
    #[error("input {index}: range [{lo}, {hi}] lies outside the input type {dtype}")]
    BoxRange { index: usize, lo: i64, hi: i64, dtype: String },
    #[error("output index {index} out of range: the model has {outputs} outputs")]
    OutputIndex { index: usize, outputs: usize },
    #[error("label {label} out of range: the model has {outputs} outputs")]
    Label { label: usize, outputs: usize },
    #[error("epsilon must be >= 0, got {0}")]
    NegativeEps(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    NotRepresentable(String),
}
