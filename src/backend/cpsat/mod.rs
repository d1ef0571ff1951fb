//! The CP-SAT backend (`cpsat`): the exact integer model of the MILP encoder, decided by OR-Tools'
//! CP-SAT — lazy clause generation with an LP relaxation inside the learning search.
//!
//! Why a second solver on the same model: on the hard instances of issue 16 the LP-based
//! branch and bound of HiGHS and the conflict-driven search of CP-SAT close *different*
//! disjuncts (a measured study in `benchmarks/cp/`), so the [`crate::backend::portfolio`]
//! runs both. The model is the MILP encoder's with nothing relaxed and every `Float32` band
//! neuron in the exact step encoding, so every integer solution is an execution and every
//! execution a solution ([`model`] refuses, by name, anything that is not integer); CP-SAT
//! computes over integers, so `INFEASIBLE` proves the disjunct unreachable without floating-point
//! tolerances. A solution's inputs are still replayed by the executor before `falsified`.
//!
//! One solve per disjunct of the unsafe DNF, in order, each with the time left;
//! `--threads N` gives CP-SAT N workers (its own portfolio of strategies).

pub mod ffi;
pub mod model;
pub mod proto;

use super::milp::{encode, EncodeError, EncodeOptions};
use super::{Backend, BackendOptions, BackendStats, Query};
use crate::verdict::{Unknown, Verdict, Witness};
use proto::{CpSolverStatus, SatParameters};
use std::time::Instant;

/// The CP-SAT backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpSat;

/// The answer for one disjunct.
enum Decision {
    Unreachable,
    Witness(Witness),
    Unknown(Unknown),
}

impl Backend for CpSat {
    fn name(&self) -> &'static str {
        "cpsat"
    }

    fn solve(&self, query: &Query<'_>, opts: &BackendOptions) -> (Verdict, BackendStats) {
        let mut stats = BackendStats::default();
        let lib = match ffi::library() {
            Ok(l) => l,
            Err(e) => return (Verdict::unknown(Unknown::Unsupported(e.to_string())), stats),
        };
        let disjuncts = query.spec.unsafe_dnf.len();
        let mut unknowns = Vec::new();
        for k in 0..disjuncts {
            let sub = query.spec.only_disjunct(k);
            let subquery = Query { net: query.net, spec: &sub, bounds: query.bounds };
            match solve_disjunct(lib, &subquery, query, opts, &mut stats) {
                Decision::Unreachable => {}
                Decision::Witness(w) => {
                    stats.extra.insert("subproblems".into(), (k + 1) as f64);
                    return (Verdict::Falsified { witness: w }, stats);
                }
                Decision::Unknown(u) => {
                    let stop = matches!(u, Unknown::TimeLimit(_) | Unknown::Interrupted(_));
                    unknowns.push((k, u));
                    // Out of time: the later disjuncts cannot be attempted either.
                    if stop {
                        break;
                    }
                }
            }
        }
        stats.extra.insert("subproblems".into(), disjuncts as f64);
        let verdict = Unknown::per_disjunct(unknowns, disjuncts).map_or(Verdict::Verified, Verdict::unknown);
        (verdict, stats)
    }
}

/// Encode one disjunct exactly, solve it, replay a solution against the whole query.
fn solve_disjunct(
    lib: &ffi::CpSatLib,
    sub: &Query<'_>,
    whole: &Query<'_>,
    opts: &BackendOptions,
    stats: &mut BackendStats,
) -> Decision {
    if opts.budget.is_stopped() {
        return Decision::Unknown(opts.budget.stop_reason("not started"));
    }
    let t = Instant::now();
    let mut eopts = EncodeOptions { relax_inputs: false, relax_integers: false, guide: false, ..Default::default() };
    let enc = loop {
        let enc = match encode(sub, &eopts) {
            Ok(e) => e,
            Err(e @ EncodeError::Unsupported(_)) => return Decision::Unknown(Unknown::Unsupported(e.to_string())),
            Err(e) => return Decision::Unknown(Unknown::SolverError(e.to_string())),
        };
        // Band neurons (general `Float32` rescales) are not exact: re-encode them as steps.
        let before = eopts.exact.len();
        eopts.exact.extend(enc.bands.iter().map(|b| (b.layer, b.neuron)));
        if eopts.exact.len() == before {
            break enc;
        }
    };
    let cp = match model::to_cp_model(&enc.model) {
        Ok(cp) => cp,
        Err(model::Translate::Infeasible(_)) => return Decision::Unreachable,
        Err(e) => return Decision::Unknown(Unknown::Unsupported(e.to_string())),
    };
    stats.encode_seconds += t.elapsed().as_secs_f64();
    if enc.model.vars.len() >= stats.variables {
        stats.variables = enc.model.vars.len();
        stats.binaries = enc.model.binaries();
        stats.constraints = cp.constraints.len();
    }
    let remaining = opts.budget.remaining();
    if remaining.is_some_and(|r| r.is_zero()) {
        return Decision::Unknown(opts.budget.stop_reason("not started"));
    }
    let params = SatParameters {
        random_seed: Some(0),
        max_time_in_seconds: remaining.map(|r| r.as_secs_f64()),
        log_search_progress: Some(false),
        linearization_level: None,
        num_workers: Some(i32::try_from(opts.threads.max(1)).unwrap_or(1)),
    };
    let t = Instant::now();
    let res = match lib.solve(&cp, &params, &opts.budget) {
        Ok(r) => r,
        Err(e) => return Decision::Unknown(Unknown::SolverError(e.to_string())),
    };
    stats.solve_seconds += t.elapsed().as_secs_f64();
    stats.nodes = Some(stats.nodes.unwrap_or(0) + u64::try_from(res.num_branches).unwrap_or(0));
    *stats.extra.entry("conflicts".into()).or_insert(0.0) += res.num_conflicts as f64;
    *stats.extra.entry("lp_iterations".into()).or_insert(0.0) += res.num_lp_iterations as f64;
    stats.extra.insert("workers".into(), opts.threads.max(1) as f64);
    match CpSolverStatus::try_from(res.status) {
        Ok(CpSolverStatus::Infeasible) => Decision::Unreachable,
        Ok(CpSolverStatus::Feasible | CpSolverStatus::Optimal) => {
            let x: Option<Vec<i64>> = enc.inputs.iter().map(|&v| res.solution.get(v).copied()).collect();
            match x.and_then(|x| Witness::replay(whole.net, whole.spec, &x)) {
                Some(w) => Decision::Witness(w),
                None => {
                    stats.spurious_candidates += 1;
                    Decision::Unknown(Unknown::SolverError(
                        "a CP-SAT solution does not replay through the executor although the \
                         model is exact (an encoding bug: please report it)"
                            .into(),
                    ))
                }
            }
        }
        Ok(CpSolverStatus::ModelInvalid) => {
            Decision::Unknown(Unknown::SolverError(format!("CP-SAT rejected the model: {}", res.solution_info)))
        }
        Ok(CpSolverStatus::Unknown) | Err(_) => {
            Decision::Unknown(if opts.budget.is_stopped() && !opts.budget.timed_out() {
                Unknown::Interrupted("stopped".into())
            } else if remaining.is_some() {
                Unknown::TimeLimit("no answer within the time limit".into())
            } else {
                Unknown::Incomplete("CP-SAT stopped without an answer".into())
            })
        }
    }
}
