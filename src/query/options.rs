//! How a job is verified: the pipeline's options as data, validated in one place.
//!
//! [`VerifyOptions`] is at once the `quiver verify` flags (a `clap` argument group: the binary
//! and the experiment harness's configurations parse exactly these), the options of a serialized
//! job, and — after [`VerifyOptions::pipeline`] — the [`verify::Options`] of a run.

use super::QueryError;
use crate::bounds::Method;
use crate::search::SearchOptions;
use crate::verify;
use clap::{ArgAction, Args, ValueEnum};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Switch {
    On,
    Off,
}

/// The options of one verification run. Every field has a default (the `quiver verify`
/// defaults); [`VerifyOptions::validate`] checks the ranges.
#[derive(Args, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyOptions {
    /// Bound propagation method: none, interval or symbolic.
    #[arg(long, default_value = "symbolic")]
    pub bounds: Method,
    /// Replay the box center and corners before bounds (`--no-probe` skips it).
    #[arg(long = "no-probe", action = ArgAction::SetFalse)]
    pub probe: bool,
    /// Gradient-based counterexample search (on/off).
    #[arg(long, value_enum, default_value = "on")]
    pub search: Switch,
    /// Time budget of the search, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub search_budget: f64,
    /// Seed of the search (results are deterministic for a seed and thread count) [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Complete backend(s), comma-separated: milp, bab (branch and bound in the bound propagation
    /// with MILP leaves; variants `bab:KEY=VALUE+…`, see encodings/bab.md), smt-bv, smt-lia,
    /// cpsat (OR-Tools' CP-SAT on the exact integer model; needs its library, see
    /// encodings/cpsat.md), portfolio (milp and cpsat side by side per disjunct on two threads
    /// that share --threads; the default; the MILP alone when CP-SAT's library is missing), all,
    /// or none (also milp-whole: the exported one-model MILP as is, a baseline).
    #[arg(long = "backend", value_delimiter = ',', default_value = crate::backend::DEFAULT_BACKEND)]
    pub backends: Vec<String>,
    /// Run every listed backend (and bounds) on the query and report any contradiction (exit 3).
    #[arg(long)]
    pub crosscheck: bool,
    /// Time limit of the whole pipeline (probe, bounds, search and every backend), in seconds;
    /// for `radius`, of the whole radius search (--eps-timeout limits one level). A watchdog
    /// stops the solvers when it passes; the answer is then `unknown` (time limit).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Threads (0 = all cores): the MILP backend solves up to this many disjuncts' sub-MILPs at
    /// once (one HiGHS thread each; the first witness stops the others), the search runs its
    /// restarts on this many threads (the SMT backends use one).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Memory limit of the SMT backends in MiB (Z3's process-wide `memory_max_size`; Z3 then
    /// answers unknown with the reason). Not applied to HiGHS.
    #[arg(long, value_name = "MIB")]
    pub memory_mb: Option<u32>,
    /// Before the complete backend, tighten the symbolic bounds of unstable hidden accumulators
    /// by LP (lp: one LP per side and neuron over the relaxed exact encoding below it, bounds
    /// re-derived from the LP duals in checked arithmetic; at most a third of the time left;
    /// see encodings/tighten.md) or not (off). Only with --bounds symbolic.
    #[arg(long, value_enum, default_value = "lp")]
    pub tighten: Tighten,
}

/// Bound tightening before the complete backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tighten {
    Off,
    Lp,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            bounds: Method::Symbolic,
            probe: true,
            search: Switch::On,
            search_budget: 1.0,
            seed: None,
            backends: vec![crate::backend::DEFAULT_BACKEND.to_string()],
            crosscheck: false,
            timeout: None,
            threads: 1,
            memory_mb: None,
            tighten: Tighten::Lp,
        }
    }
}

/// A time limit in seconds, checked: positive and finite. The one check behind `verify
/// --timeout`, `bench --timeout`, `demo --timeout` and a configuration's `--timeout`.
pub fn time_limit(flag: &'static str, seconds: f64) -> Result<Duration, QueryError> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(QueryError::option(flag, format!("must be a positive number of seconds, got {seconds}")));
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl VerifyOptions {
    /// Check every option's range and that every backend named is compiled into this build.
    pub fn validate(&self) -> Result<(), QueryError> {
        if let Some(t) = self.timeout {
            time_limit("--timeout", t)?;
        }
        if !(self.search_budget.is_finite() && self.search_budget >= 0.0) {
            return Err(QueryError::option(
                "--search-budget",
                format!("must be a non-negative number of seconds, got {}", self.search_budget),
            ));
        }
        for b in &self.backends {
            crate::backend::check_name(b).map_err(|e| QueryError::option("--backend", e))?;
        }
        Ok(())
    }

    /// The backends to run (`none` dropped).
    pub fn backend_names(&self) -> Vec<String> {
        self.backends.iter().filter(|b| b.as_str() != "none").cloned().collect()
    }

    /// The seed (0 unless given).
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    /// Validate, and build the pipeline's options (`threads` 0 becomes the number of cores).
    pub fn pipeline(&self) -> Result<verify::Options, QueryError> {
        self.validate()?;
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        let search = (self.search == Switch::On).then(|| SearchOptions {
            budget: Duration::from_secs_f64(self.search_budget),
            seed: self.seed(),
            threads,
            ..SearchOptions::default()
        });
        Ok(verify::Options {
            bounds: self.bounds,
            probe: self.probe,
            search,
            backends: self.backend_names(),
            crosscheck: self.crosscheck,
            time_limit: self.timeout.map(Duration::from_secs_f64),
            threads,
            tighten: self.tighten == Tighten::Lp,
        })
    }

    /// Apply the options that are process-wide rather than per run: Z3's memory limit
    /// (`memory_mb`), for every later SMT solve in this process.
    pub fn apply_process_limits(&self) {
        #[cfg(feature = "smt")]
        if let Some(mb) = self.memory_mb {
            crate::backend::smt::set_memory_limit_mb(mb);
        }
    }
}
