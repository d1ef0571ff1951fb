//! The exact MILP backend (HiGHS).
//!
//! The query is encoded as a feasibility MILP ([`encode`]) whose integer solutions are exactly
//! the executions of the network from the input box that reach the unsafe condition — except for
//! general `Float32` rescales, encoded by a sound band that may admit extra solutions. HiGHS's
//! answer is mapped explicitly: `Infeasible` → `Verified`; a solution is a candidate, replayed
//! with [`Witness::replay`]; a spurious candidate makes the band neurons it misuses exact (step
//! encoding) and the model is solved again, up to [`MAX_ROUNDS`]; anything else → `Unknown`.
//! The argument for soundness under floating-point tolerances is in `encodings/milp.md`.

pub mod encode;
pub mod export;
pub mod highs;
pub mod model;

pub use encode::{encode, EncodeError, EncodeOptions, Encoding};
pub use export::{export_lp, export_mps, write_lp, write_mps};

use super::{Backend, BackendOptions, BackendStats, Query};
use crate::verify::{Verdict, Witness};
use std::time::Instant;

/// Most refinement rounds after spurious candidates before giving up with `Unknown`.
pub const MAX_ROUNDS: usize = 64;

/// The MILP backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct Milp;

fn round_input(x: f64) -> Option<i64> {
    (x.is_finite() && x.abs() < 9e15).then(|| x.round() as i64)
}

impl Backend for Milp {
    fn name(&self) -> &'static str {
        "milp"
    }

    fn solve(&self, query: &Query<'_>, opts: &BackendOptions) -> (Verdict, BackendStats) {
        let start = Instant::now();
        let mut stats = BackendStats::default();
        let mut eopts = EncodeOptions::default();
        let mut rounds = 0usize;
        let unknown = |reason: String| Verdict::Unknown { reason };
        let verdict = loop {
            rounds += 1;
            let t = Instant::now();
            let enc = match encode(query, &eopts) {
                Ok(e) => e,
                Err(e) => break unknown(e.to_string()),
            };
            stats.encode_seconds += t.elapsed().as_secs_f64();
            stats.variables = enc.model.vars.len();
            stats.binaries = enc.model.binaries();
            stats.constraints = enc.model.rows.len();
            stats.extra = enc.counts.clone();
            let remaining = match opts.time_limit {
                Some(l) => {
                    let left = l.as_secs_f64() - start.elapsed().as_secs_f64();
                    if left <= 0.0 {
                        break unknown("time limit reached".into());
                    }
                    Some(left)
                }
                None => None,
            };
            let t = Instant::now();
            let run = highs::solve(&enc.model, remaining, opts.threads);
            stats.solve_seconds += t.elapsed().as_secs_f64();
            stats.nodes = match (stats.nodes, run.nodes) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            stats.extra.insert("threads".into(), run.threads as f64);
            match run.outcome {
                highs::Outcome::Infeasible => break Verdict::Verified,
                highs::Outcome::Other(s) => break unknown(s),
                highs::Outcome::Solution(x) => {
                    let input: Option<Vec<i64>> =
                        enc.inputs.iter().map(|&v| x.get(v).and_then(|&f| round_input(f))).collect();
                    if let Some(w) = input.as_deref().and_then(|p| Witness::replay(query.net, query.spec, p)) {
                        break Verdict::Falsified { witness: w };
                    }
                    stats.spurious_candidates += 1;
                    // Make exact every band neuron whose candidate value is not the runtime's.
                    let before = eopts.exact.len();
                    for b in &enc.bands {
                        let (a, r) = (b.acc.eval(&x).round(), b.r.eval(&x).round());
                        if !(a.is_finite() && a.abs() < 9e15) || b.rescale.apply(a as i64) as f64 != r {
                            eopts.exact.insert((b.layer, b.neuron));
                        }
                    }
                    if eopts.exact.len() == before {
                        // No band neuron is to blame (or none exists): make all of them exact once.
                        eopts.exact.extend(enc.bands.iter().map(|b| (b.layer, b.neuron)));
                    }
                    if eopts.exact.len() == before {
                        break unknown(
                            "HiGHS returned a candidate that does not replay although the encoding is exact \
                             (numerical trouble)"
                                .into(),
                        );
                    }
                    if rounds >= MAX_ROUNDS {
                        break unknown(format!("{rounds} refinement rounds without a decision"));
                    }
                }
            }
        };
        stats.extra.insert("rounds".into(), rounds as f64);
        (verdict, stats)
    }
}
