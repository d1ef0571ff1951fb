//! Complete backends: every one reads the same IR, spec and bounds and answers through one trait.
//!
//! A backend returns a [`Verdict`]: `Verified` only from a procedure that is sound for the IR's
//! exact semantics; `Falsified` only with a [`crate::verdict::Witness`], which can only be made by
//! replaying a candidate through the reference executor (backends refine or give up on spurious
//! candidates themselves); anything else is `Unknown` with a typed reason.

pub mod bab;
pub mod smt;

pub mod milp;

use crate::bounds::NetBounds;
use crate::budget::Budget;
use crate::net::Network;
use crate::spec::Spec;
use crate::verdict::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Resource options shared by all backends.
#[derive(Clone, Debug)]
pub struct BackendOptions {
    /// Threads: the MILP backend's concurrent sub-MILPs (one HiGHS thread each when more than
    /// one). The SMT backends ignore it.
    pub threads: usize,
    /// The time left for the solve, shared with the rest of the pipeline: a backend sets its
    /// solvers' limits from [`Budget::remaining`] and registers an interrupter
    /// ([`Budget::on_stop`]) so that the watchdog stops it at the deadline.
    pub budget: Budget,
}

impl Default for BackendOptions {
    fn default() -> Self {
        BackendOptions { threads: 1, budget: Budget::unlimited() }
    }
}

impl BackendOptions {
    /// `threads` threads and a fresh budget of `limit` (`None`: unlimited).
    pub fn new(limit: Option<Duration>, threads: usize) -> BackendOptions {
        BackendOptions { threads, budget: Budget::new(limit) }
    }
}

/// Size of the encoding and solver effort, for `--json` and the experiment harness.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BackendStats {
    pub variables: usize,
    pub binaries: usize,
    pub constraints: usize,
    pub encode_seconds: f64,
    pub solve_seconds: f64,
    pub nodes: Option<u64>,
    /// Candidates that failed replay and were refined away.
    pub spurious_candidates: usize,
    /// Backend-specific figures.
    pub extra: BTreeMap<String, f64>,
}

/// One query as every backend sees it.
pub struct Query<'a> {
    pub net: &'a Network,
    pub spec: &'a Spec,
    /// Bounds over `spec.input`, from the pipeline's bound propagation.
    pub bounds: &'a NetBounds,
}

/// A complete decision procedure.
pub trait Backend {
    /// Short name, e.g. `milp`.
    fn name(&self) -> &'static str;
    fn solve(&self, query: &Query<'_>, opts: &BackendOptions) -> (Verdict, BackendStats);
}

/// The backends compiled into this build, by name (what `--backend all` runs). [`by_name`] also
/// knows the baseline `milp-whole` (see [`milp::MilpWhole`]) and the branch-and-bound variants
/// `bab:KEY=VALUE+…` (see [`bab`]).
pub fn available() -> Vec<&'static str> {
    vec!["milp", "bab", "smt-bv", "smt-lia"]
}

/// Instantiate a backend by name.
pub fn by_name(name: &str) -> Option<Box<dyn Backend>> {
    match name {
        "milp" => Some(Box::new(milp::Milp)),
        "milp-whole" => Some(Box::new(milp::MilpWhole)),
        "smt-bv" => Some(Box::new(smt::SmtBackend::new(smt::Logic::Bv))),
        "smt-lia" => Some(Box::new(smt::SmtBackend::new(smt::Logic::Lia))),
        n => bab::BabOptions::from_name(n).map(|opts| Box::new(bab::Bab { opts }) as Box<dyn Backend>),
    }
}
