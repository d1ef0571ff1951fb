//! The verification pipeline: stages that each may decide the query, timed one by one.
//!
//! Soundness is enforced by construction: a [`Verdict::Falsified`] carries a [`Witness`], and a
//! `Witness` can only be made by [`Witness::replay`], which runs the reference executor and checks
//! the input box and the unsafe condition. `Verified` comes only from sound stages (exact integer
//! bounds here; complete backends later).

mod witness;

pub use witness::Witness;

use crate::backend::{self, BackendOptions, BackendStats, Query};
use crate::bounds::{self, Method, SpecStatus};
use crate::net::Network;
use crate::spec::Spec;
use serde::Serialize;
use std::time::Instant;

/// The answer to a query.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// No input in the box violates the property.
    Verified,
    /// A replayed counterexample.
    Falsified { witness: Witness },
    /// Undecided, with the reason.
    Unknown { reason: String },
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Falsified { .. } => "falsified",
            Verdict::Unknown { .. } => "unknown",
        }
    }
}

/// One timed stage of the pipeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stage {
    pub name: String,
    pub seconds: f64,
    /// What the stage concluded, e.g. "unreachable", "3 of 9 disjuncts open".
    pub outcome: String,
}

/// Statistics about the query and the bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Default)]
pub struct Stats {
    pub inputs: usize,
    pub box_points_log2: f64,
    pub disjuncts: usize,
    pub unstable_neurons: Option<usize>,
    /// Statistics of the complete backend, if one ran.
    pub backend: Option<BackendStats>,
}

/// The full result of [`verify`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub stages: Vec<Stage>,
    pub stats: Stats,
    pub seconds: f64,
}

/// Pipeline options.
#[derive(Clone, Debug)]
pub struct Options {
    pub bounds: Method,
    /// Replay the box center and corners before anything else (cheap, finds easy violations).
    pub probe: bool,
    /// The complete backend to run when bounds leave the query open (`None`: stop at bounds).
    pub backend: Option<String>,
    pub backend_options: BackendOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options { bounds: Method::Interval, probe: true, backend: None, backend_options: BackendOptions::default() }
    }
}

struct Timer {
    stages: Vec<Stage>,
}

impl Timer {
    fn run<T>(&mut self, name: &str, f: impl FnOnce() -> (T, String)) -> T {
        let t = Instant::now();
        let (v, outcome) = f();
        self.stages.push(Stage { name: name.to_string(), seconds: t.elapsed().as_secs_f64(), outcome });
        v
    }
}

/// Candidate points for the probe stage: the center, then the two extreme corners.
fn probe_points(spec: &Spec) -> Vec<Vec<i64>> {
    let b = &spec.input;
    let center = b.lo.iter().zip(&b.hi).map(|(&l, &h)| l + (h - l) / 2).collect();
    vec![center, b.lo.clone(), b.hi.clone()]
}

/// Run the pipeline on a query. `spec` must fit `net` ([`Spec::check`]).
pub fn verify(net: &Network, spec: &Spec, opts: &Options) -> Report {
    let start = Instant::now();
    let mut timer = Timer { stages: Vec::new() };
    let mut stats = Stats {
        inputs: spec.input.len(),
        box_points_log2: spec.input.lo.iter().zip(&spec.input.hi).map(|(l, h)| ((h - l + 1) as f64).log2()).sum(),
        disjuncts: spec.unsafe_dnf.len(),
        unstable_neurons: None,
        backend: None,
    };
    let finish = |verdict, stages, stats| Report { verdict, stages, stats, seconds: start.elapsed().as_secs_f64() };

    if opts.probe {
        let found = timer.run("probe", || {
            let w = probe_points(spec).into_iter().find_map(|x| Witness::replay(net, spec, &x));
            let outcome = if w.is_some() {
                "counterexample replayed".to_string()
            } else {
                "no violation at center/corners".to_string()
            };
            (w, outcome)
        });
        if let Some(witness) = found {
            return finish(Verdict::Falsified { witness }, timer.stages, stats);
        }
    }

    let name = match opts.bounds {
        Method::None => "bounds (none)",
        Method::Interval => "bounds (interval)",
    };
    let analysis = timer.run(name, || {
        let a = bounds::analyze(net, spec, opts.bounds);
        let outcome = match &a.status {
            SpecStatus::Unreachable => "unsafe condition unreachable".to_string(),
            SpecStatus::AlwaysUnsafe(k) => format!("disjunct {k} holds on the whole box"),
            SpecStatus::Open(ks) => format!("{} of {} disjuncts open", ks.len(), spec.unsafe_dnf.len()),
        };
        (a, outcome)
    });
    stats.unstable_neurons = Some(analysis.bounds.unstable_count(net));
    let open = match analysis.status {
        SpecStatus::Unreachable => return finish(Verdict::Verified, timer.stages, stats),
        SpecStatus::AlwaysUnsafe(_) => {
            // Every input violates: replay the box's lower corner to produce the witness.
            let verdict = match Witness::replay(net, spec, &spec.input.lo) {
                Some(witness) => Verdict::Falsified { witness },
                None => {
                    Verdict::Unknown { reason: "bounds claim a violation that replay does not confirm (bug)".into() }
                }
            };
            return finish(verdict, timer.stages, stats);
        }
        SpecStatus::Open(ks) => ks.len(),
    };

    let Some(name) = &opts.backend else {
        let reason = format!(
            "bounds leave {open} of {} disjuncts open and no complete backend was requested",
            spec.unsafe_dnf.len()
        );
        return finish(Verdict::Unknown { reason }, timer.stages, stats);
    };
    let Some(b) = backend::by_name(name) else {
        let reason = format!("backend `{name}` is not available in this build (available: {:?})", backend::available());
        return finish(Verdict::Unknown { reason }, timer.stages, stats);
    };
    let query = Query { net, spec, bounds: &analysis.bounds };
    let (verdict, bstats) = timer.run(&format!("backend ({})", b.name()), || {
        let (v, s) = b.solve(&query, &opts.backend_options);
        let outcome = v.name().to_string();
        ((v, s), outcome)
    });
    stats.backend = Some(bstats);
    finish(verdict, timer.stages, stats)
}
