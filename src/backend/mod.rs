//! Complete backends: every one reads the same IR, spec and bounds and answers through one trait.
//!
//! A backend returns a [`Verdict`]: `Verified` only from a procedure that is sound for the IR's
//! exact semantics; `Falsified` only with a [`crate::verdict::Witness`], which can only be made by
//! replaying a candidate through the reference executor (backends refine or give up on spurious
//! candidates themselves); anything else is `Unknown` with a typed reason.
//!
//! Each backend is a Cargo feature (`milp`: HiGHS, `smt`: Z3; both on by default): a build
//! without them (`cargo build --no-default-features`) has the executor, bounds, search and
//! harness and needs neither cmake nor libz3. [`available`] lists what is compiled in. Writing
//! a backend's query for third-party solvers is a capability of the backend
//! ([`Backend::export`]).

#[cfg(feature = "milp")]
pub mod bab;
#[cfg(feature = "smt")]
pub mod smt;

#[cfg(feature = "milp")]
pub mod milp;

#[cfg(feature = "cpsat")]
pub mod cpsat;
#[cfg(feature = "cpsat")]
pub mod portfolio;

use crate::bounds::NetBounds;
use crate::budget::Budget;
use crate::net::Network;
use crate::spec::Spec;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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

impl BackendStats {
    /// Fold in the figures of one more solve (a sub-problem, a portfolio member): sizes of the
    /// larger model, times, nodes and spurious candidates summed. Returns whether `s` was the
    /// larger model; `extra` is left to the caller, whose figures mean different things.
    pub fn add_run(&mut self, s: &BackendStats) -> bool {
        let larger = s.variables >= self.variables;
        if larger {
            self.variables = s.variables;
            self.binaries = s.binaries;
            self.constraints = s.constraints;
        }
        self.encode_seconds += s.encode_seconds;
        self.solve_seconds += s.solve_seconds;
        self.spurious_candidates += s.spurious_candidates;
        self.nodes = match (self.nodes, s.nodes) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        larger
    }
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

    /// The formats [`Backend::export`] writes (`lp`, `mps`, `smt2`, …); none by default.
    fn export_formats(&self) -> &'static [&'static str] {
        &[]
    }

    /// Write exactly the query this backend solves, in `format`, for third-party solvers.
    fn export(&self, query: &Query<'_>, format: &str) -> Result<String, ExportError> {
        let _ = query;
        Err(ExportError::Format { backend: self.name(), format: format.to_string(), formats: self.export_formats() })
    }
}

/// Why a query could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("backend `{backend}` does not write `{format}` (it writes: {})", if formats.is_empty() { "nothing".to_string() } else { formats.join(", ") })]
    Format { backend: &'static str, format: String, formats: &'static [&'static str] },
    /// The encoder could not encode the query.
    #[error("{0}")]
    Encode(String),
}

/// Every backend name quiver knows, with the Cargo feature that compiles it in.
const KNOWN: [(&str, &str); 7] = [
    ("milp", "milp"),
    ("milp-whole", "milp"),
    ("bab", "milp"),
    ("smt-bv", "smt"),
    ("smt-lia", "smt"),
    ("cpsat", "cpsat"),
    ("portfolio", "cpsat"),
];

/// What `--backend` defaults to: the MILP/CP-SAT `portfolio` when it is compiled in (it decides a
/// superset of what `milp` decides on every suite measured, one core per run:
/// `benchmarks/cpsat/README.md`; without OR-Tools' library at run time it is the MILP backend
/// alone), else `milp`, else `none`.
pub const DEFAULT_BACKEND: &str = if cfg!(feature = "cpsat") {
    "portfolio"
} else if cfg!(feature = "milp") {
    "milp"
} else {
    "none"
};

/// The default backends of a pipeline ([`DEFAULT_BACKEND`], `none` as no backend).
pub fn default_backends() -> Vec<String> {
    [DEFAULT_BACKEND].iter().filter(|b| **b != "none").map(|b| b.to_string()).collect()
}

/// The backends compiled into this build, by name (what `--backend all` runs). [`by_name`] also
/// knows the baseline `milp-whole` (see `milp::MilpWhole`), the branch-and-bound variants
/// `bab:KEY=VALUE+…` (see `bab`) and the MILP/CP-SAT `portfolio`. `cpsat` is listed only when
/// OR-Tools' library loads.
pub fn available() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "milp") {
        v.extend(["milp", "bab"]);
    }
    if cfg!(feature = "smt") {
        v.extend(["smt-bv", "smt-lia"]);
    }
    if cpsat_loadable() {
        v.push("cpsat");
    }
    v
}

/// Whether the `cpsat` backend is compiled in and OR-Tools' library can be loaded (it is found
/// at run time: see `cpsat::ffi`).
pub fn cpsat_loadable() -> bool {
    #[cfg(feature = "cpsat")]
    {
        cpsat::ffi::library().is_ok()
    }
    #[cfg(not(feature = "cpsat"))]
    {
        false
    }
}

/// Instantiate a backend by name (`None`: unknown, or not compiled into this build).
pub fn by_name(name: &str) -> Option<Box<dyn Backend>> {
    match name {
        #[cfg(feature = "milp")]
        "milp" => Some(Box::new(milp::Milp)),
        #[cfg(feature = "milp")]
        "milp-whole" => Some(Box::new(milp::MilpWhole)),
        #[cfg(feature = "smt")]
        "smt-bv" => Some(Box::new(smt::SmtBackend::new(smt::Logic::Bv))),
        #[cfg(feature = "smt")]
        "smt-lia" => Some(Box::new(smt::SmtBackend::new(smt::Logic::Lia))),
        #[cfg(feature = "cpsat")]
        "cpsat" => Some(Box::new(cpsat::CpSat)),
        #[cfg(feature = "cpsat")]
        "portfolio" => Some(Box::new(portfolio::Portfolio)),
        #[cfg(feature = "milp")]
        n => bab::BabOptions::from_name(n).map(|opts| Box::new(bab::Bab { opts }) as Box<dyn Backend>),
        #[cfg(not(feature = "milp"))]
        _ => None,
    }
}

/// Check a `--backend` value: a backend compiled into this build, `all` or `none`. The error
/// says whether the name is unknown or its feature was left out of this build.
pub fn check_name(name: &str) -> Result<(), String> {
    if matches!(name, "all" | "none") || by_name(name).is_some() {
        return Ok(());
    }
    let names = {
        let mut v = available();
        if cfg!(feature = "milp") {
            v.push("milp-whole");
        }
        if cfg!(feature = "cpsat") {
            v.push("portfolio");
        }
        v.extend(["all", "none"]);
        v.join(", ")
    };
    match KNOWN.iter().find(|(n, _)| *n == name) {
        Some((_, feature)) => Err(format!(
            "`{name}`: this build has no `{feature}` backend (built without the Cargo feature `{feature}`; available: {names})"
        )),
        None => Err(format!("`{name}`: unknown backend (available: {names})")),
    }
}
