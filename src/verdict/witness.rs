//! Witnesses: counterexamples that the reference executor has replayed.

use crate::net::{exec, Network};
use crate::spec::Spec;
use serde::Serialize;

/// A replayed counterexample. Fields are private: the only constructor is [`Witness::replay`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Witness {
    input: Vec<i64>,
    output: Vec<i64>,
    input_real: Vec<f64>,
    output_real: Vec<f64>,
    /// Index of the unsafe disjunct the outputs satisfy.
    disjunct: usize,
}

impl Witness {
    /// Execute `x` exactly and keep it iff it lies in the spec's box and its outputs satisfy the
    /// unsafe condition.
    pub fn replay(net: &Network, spec: &Spec, x: &[i64]) -> Option<Witness> {
        if !spec.input.contains(x) {
            return None;
        }
        let y = exec::run(net, x).ok()?;
        let disjunct = spec.unsafe_dnf.iter().position(|conj| conj.iter().all(|a| a.holds(&y)))?;
        let qi = net.input_info().quant;
        let qo = net.output_info().quant;
        Some(Witness {
            input_real: x.iter().map(|&v| qi.dequantize(v)).collect(),
            output_real: y.iter().map(|&v| qo.dequantize(v)).collect(),
            input: x.to_vec(),
            output: y,
            disjunct,
        })
    }

    pub fn input(&self) -> &[i64] {
        &self.input
    }
    pub fn output(&self) -> &[i64] {
        &self.output
    }
    pub fn input_real(&self) -> &[f64] {
        &self.input_real
    }
    pub fn output_real(&self) -> &[f64] {
        &self.output_real
    }
    pub fn disjunct(&self) -> usize {
        self.disjunct
    }
}
