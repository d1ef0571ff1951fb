//! The exact MILP backend (HiGHS).
//!
//! The query is encoded as a feasibility MILP ([`encode`]) whose integer solutions are exactly
//! the executions of the network from the input box that reach the unsafe condition — except for
//! general `Float32` rescales, encoded by a sound band that may admit extra solutions.
//!
//! The backend does not hand HiGHS the whole disjunction at once: it solves one sub-MILP per
//! disjunct of the unsafe DNF (the exported model with that disjunct's indicator fixed to 1) and
//! declares the inputs continuous ([`EncodeOptions::relax_inputs`]). Both are relaxations or
//! case splits of the exact model, so `Infeasible` for every disjunct still proves the property;
//! on the AAAI'21 network they turn 20-second timeouts into sub-second solves (see
//! `benchmarks/milp/README.md`). HiGHS's answer is mapped explicitly: `Infeasible` → that
//! disjunct is unreachable; a solution is a candidate, replayed with [`Witness::replay`]; a
//! spurious candidate first makes the inputs integer again, then makes the band neurons it
//! misuses exact (step encoding), and the disjunct is solved again, up to [`MAX_ROUNDS`];
//! anything else → `Unknown` (after the other disjuncts had their chance to yield a witness).
//!
//! Each disjunct starts with a stronger relaxation: every general integer (accumulators,
//! rounding quotients, clamp outputs) continuous, binaries kept ([`EncodeOptions::relax_integers`]),
//! with [`RELAXED_SHARE`] of the remaining time; a spurious point or a timeout there falls back
//! to the integer model. With `threads > 1` the disjuncts are solved concurrently, one HiGHS
//! instance per thread, and the first replayed witness interrupts the others.
//! The argument for soundness under floating-point tolerances is in `encodings/milp.md`.

pub mod encode;
pub mod export;
pub mod highs;
pub mod model;
pub mod tighten;

pub use encode::{encode, EncodeError, EncodeOptions, Encoding};
pub use export::{export_lp, export_mps, write_lp, write_mps};

use super::{Backend, BackendOptions, BackendStats, ExportError, Query};
use crate::verdict::{Unknown, Verdict, Witness};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most refinement rounds after spurious candidates before giving up with `Unknown`.
pub const MAX_ROUNDS: usize = 64;

/// The MILP backend (`milp`): one guided sub-MILP per disjunct, inputs relaxed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Milp;

/// The reference configuration `milp-whole`: the exported exact model as it is — one MILP with
/// the whole DNF, integer inputs, no objective — refined only for `Float32` bands. It is what
/// `quiver encode --format lp|mps` writes and what a plain ILP approach (QVIP-style) solves;
/// kept as a baseline for experiments, not included in `--backend all`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MilpWhole;

impl Backend for MilpWhole {
    fn name(&self) -> &'static str {
        "milp-whole"
    }

    fn solve(&self, query: &Query<'_>, opts: &BackendOptions) -> (Verdict, BackendStats) {
        let mut stats = BackendStats::default();
        let mut rounds = 0usize;
        let mut eopts = EncodeOptions::default();
        let ctx = Ctx { opts, threads: opts.threads, stop: opts.budget.stop_flag() };
        let verdict = match Milp.solve_one(query, query, &mut eopts, &ctx, &mut stats, &mut rounds) {
            Decision::Unreachable => Verdict::Verified,
            Decision::Witness(w) => Verdict::Falsified { witness: w },
            Decision::Unknown(reason) => Verdict::unknown(reason),
            Decision::Interrupted => Verdict::unknown(stopped(opts)),
        };
        stats.extra.insert("rounds".into(), rounds as f64);
        stats.extra.insert("subproblems".into(), 1.0);
        (verdict, stats)
    }
}

fn round_input(x: f64) -> Option<i64> {
    (x.is_finite() && x.abs() < 9e15).then(|| x.round() as i64)
}

/// `lp` and `mps`: the exact model before any refinement ([`export`]).
fn export_milp(query: &Query<'_>, format: &str) -> Option<Result<String, EncodeError>> {
    match format {
        "lp" => Some(export_lp(query)),
        "mps" => Some(export_mps(query)),
        _ => None,
    }
}

impl Backend for Milp {
    fn name(&self) -> &'static str {
        "milp"
    }

    fn export_formats(&self) -> &'static [&'static str] {
        &["lp", "mps"]
    }

    fn export(&self, query: &Query<'_>, format: &str) -> Result<String, ExportError> {
        match export_milp(query, format) {
            Some(r) => r.map_err(|e| ExportError::Encode(e.to_string())),
            None => {
                Err(ExportError::Format { backend: self.name(), format: format.into(), formats: self.export_formats() })
            }
        }
    }

    fn solve(&self, query: &Query<'_>, opts: &BackendOptions) -> (Verdict, BackendStats) {
        let disjuncts = query.spec.unsafe_dnf.len();
        let workers = opts.threads.max(1).min(disjuncts.max(1));
        // With one worker HiGHS gets the threads; with several, each sub-MILP runs on one.
        let highs_threads = if workers > 1 { 1 } else { opts.threads };
        let shared = Shared {
            next: AtomicUsize::new(0),
            stop: Arc::new(AtomicBool::new(false)),
            exact: Mutex::new(BTreeSet::new()),
            decisions: Mutex::new(vec![None; disjuncts]),
            stats: Mutex::new((BackendStats::default(), 0)),
        };
        // The budget's deadline (or an explicit stop) interrupts every worker's HiGHS run.
        let flag = shared.stop.clone();
        let _guard = opts.budget.on_stop(move || flag.store(true, Ordering::SeqCst));
        let work = || self.worker(query, opts, highs_threads, &shared);
        if workers > 1 {
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(work);
                }
            });
        } else {
            work();
        }
        let decisions = shared.decisions.into_inner().unwrap_or_else(|e| e.into_inner());
        let (mut stats, rounds) = shared.stats.into_inner().unwrap_or_else(|e| e.into_inner());
        // The lowest-index witness, else every disjunct unreachable, else the reasons.
        let mut unknowns = Vec::new();
        let mut verdict = None;
        for (k, d) in decisions.into_iter().enumerate() {
            match d {
                Some(Decision::Witness(w)) => {
                    verdict = Some(Verdict::Falsified { witness: w });
                    break;
                }
                Some(Decision::Unreachable) => {}
                Some(Decision::Unknown(reason)) => unknowns.push((k, reason)),
                // Interrupted by another disjunct's witness (this reason is then never shown),
                // or by the budget.
                None | Some(Decision::Interrupted) => unknowns.push((k, stopped(opts))),
            }
        }
        let verdict = verdict.unwrap_or_else(|| match Unknown::per_disjunct(unknowns, disjuncts) {
            None => Verdict::Verified,
            Some(u) => Verdict::unknown(u),
        });
        stats.extra.insert("rounds".into(), rounds as f64);
        stats.extra.insert("subproblems".into(), disjuncts as f64);
        stats.extra.insert("workers".into(), workers as f64);
        (verdict, stats)
    }
}

/// State shared by the workers of [`Milp`]: they take disjuncts in order from `next`.
struct Shared {
    next: AtomicUsize,
    /// Set once a witness is replayed, or when the budget stops: the workers' HiGHS runs are
    /// interrupted and no further disjunct is taken.
    stop: Arc<AtomicBool>,
    /// Band neurons made exact stay exact for the disjuncts taken later.
    exact: Mutex<BTreeSet<(usize, usize)>>,
    decisions: Mutex<Vec<Option<Decision>>>,
    stats: Mutex<(BackendStats, usize)>,
}

impl Shared {
    /// The band neurons made exact so far (a copy: the worker's encoding extends its own).
    fn exact_snapshot(&self) -> BTreeSet<(usize, usize)> {
        self.exact.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Milp {
    /// Take disjuncts from `shared.next` until none is left, a witness is found or time is up.
    fn worker(&self, query: &Query<'_>, opts: &BackendOptions, threads: usize, shared: &Shared) {
        loop {
            let k = shared.next.fetch_add(1, Ordering::SeqCst);
            if k >= query.spec.unsafe_dnf.len() || shared.stop.load(Ordering::SeqCst) || opts.budget.is_stopped() {
                return;
            }
            let sub = query.spec.only_disjunct(k);
            let subquery = Query { net: query.net, spec: &sub, bounds: query.bounds };
            let mut eopts =
                EncodeOptions { exact: shared.exact_snapshot(), relax_inputs: true, relax_integers: true, guide: true };
            let mut stats = BackendStats::default();
            let mut rounds = 0usize;
            let ctx = Ctx { opts, threads, stop: &shared.stop };
            let d = self.solve_one(&subquery, query, &mut eopts, &ctx, &mut stats, &mut rounds);
            if matches!(d, Decision::Witness(_)) {
                shared.stop.store(true, Ordering::SeqCst);
            }
            shared.exact.lock().unwrap_or_else(|e| e.into_inner()).extend(eopts.exact);
            {
                let mut g = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
                merge_stats(&mut g.0, stats);
                g.1 += rounds;
            }
            shared.decisions.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(d);
        }
    }
}

/// Fold one sub-MILP's statistics into the backend's: sizes of the largest, times and nodes
/// summed, the largest one's extra figures.
fn merge_stats(into: &mut BackendStats, s: BackendStats) {
    if into.add_run(&s) {
        into.extra.extend(s.extra);
    }
}

/// Replay a candidate's inputs rounded to the nearest integers; for a relaxed (continuous-input)
/// candidate, also up to [`ROUNDING_TRIES`] random floor/ceil roundings of its fractional inputs
/// (seeded, so runs are reproducible) — much cheaper than solving again with integer inputs.
fn replay_roundings(q: &Query<'_>, x: &[f64], relaxed: bool) -> Option<Witness> {
    use rand::{Rng, SeedableRng};
    let nearest: Vec<i64> = x.iter().map(|&f| round_input(f)).collect::<Option<_>>()?;
    if let Some(w) = Witness::replay(q.net, q.spec, &nearest) {
        return Some(w);
    }
    let fractional: Vec<usize> = (0..x.len()).filter(|&i| (x[i] - x[i].round()).abs() > 1e-6).collect();
    if !relaxed || fractional.is_empty() {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let mut p = nearest;
    for _ in 0..ROUNDING_TRIES {
        for &i in &fractional {
            let lo = x[i].floor() as i64;
            p[i] = if rng.gen_bool((x[i] - x[i].floor()).clamp(0.0, 1.0)) { lo + 1 } else { lo };
        }
        if let Some(w) = Witness::replay(q.net, q.spec, &p) {
            return Some(w);
        }
    }
    None
}

/// Random roundings tried on a relaxed candidate before re-solving with integer inputs.
pub const ROUNDING_TRIES: usize = 256;

/// How one disjunct's sub-MILP ended.
#[derive(Clone)]
enum Decision {
    Unreachable,
    Witness(Witness),
    Unknown(Unknown),
    /// Stopped through [`Ctx::stop`]: another disjunct gave a witness, or the budget stopped.
    Interrupted,
}

/// Why a disjunct was stopped or never attempted: the budget's time limit, an explicit stop, or
/// (when neither) another disjunct's witness.
fn stopped(opts: &BackendOptions) -> Unknown {
    if opts.budget.timed_out() {
        Unknown::TimeLimit("not finished within the time limit".into())
    } else if opts.budget.is_stopped() {
        Unknown::Interrupted("stopped".into())
    } else {
        Unknown::Incomplete("not attempted".into())
    }
}

/// How long past its deadline a HiGHS run is waited for before it is abandoned
/// ([`highs::solve_within`]).
pub const HIGHS_GRACE: Duration = Duration::from_millis(200);

/// Share of the remaining time given to the first, fully relaxed tier of a disjunct
/// ([`EncodeOptions::relax_integers`]); a timeout there hands the rest to the exact tiers.
pub const RELAXED_SHARE: f64 = 0.5;

/// What a sub-MILP solve needs besides the query.
struct Ctx<'a> {
    opts: &'a BackendOptions,
    /// HiGHS threads of each run.
    threads: usize,
    stop: &'a AtomicBool,
}

impl Milp {
    /// Decide one disjunct (`sub`), refining spurious candidates; witnesses are replayed against
    /// the whole query's spec. Sizes in `stats` are those of the largest sub-MILP.
    fn solve_one(
        &self,
        sub: &Query<'_>,
        whole: &Query<'_>,
        eopts: &mut EncodeOptions,
        ctx: &Ctx<'_>,
        stats: &mut BackendStats,
        rounds: &mut usize,
    ) -> Decision {
        let opts = ctx.opts;
        loop {
            // Every round (a first encoding, a refinement) starts only within the budget.
            if opts.budget.is_stopped() || ctx.stop.load(Ordering::SeqCst) {
                return Decision::Interrupted;
            }
            *rounds += 1;
            let t = Instant::now();
            let enc = match encode(sub, eopts) {
                Ok(e) => e,
                Err(e @ EncodeError::Unsupported(_)) => return Decision::Unknown(Unknown::Unsupported(e.to_string())),
                Err(e) => return Decision::Unknown(Unknown::SolverError(e.to_string())),
            };
            stats.encode_seconds += t.elapsed().as_secs_f64();
            if enc.model.vars.len() >= stats.variables {
                stats.variables = enc.model.vars.len();
                stats.binaries = enc.model.binaries();
                stats.constraints = enc.model.rows.len();
                for (k, v) in &enc.counts {
                    stats.extra.insert(k.clone(), *v);
                }
            }
            let remaining = match opts.budget.remaining() {
                Some(left) if left.is_zero() => return Decision::Interrupted,
                left => left,
            };
            // The relaxed tier may not take all the time: the exact one must get its chance.
            let relaxed = eopts.relax_integers;
            let t = Instant::now();
            let share = if relaxed { RELAXED_SHARE } else { 1.0 };
            let deadline = remaining.map(|r| t + r.mul_f64(share));
            let run = highs::solve_within(&enc.model, deadline, ctx.threads, ctx.stop, HIGHS_GRACE);
            stats.solve_seconds += t.elapsed().as_secs_f64();
            stats.nodes = match (stats.nodes, run.nodes) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            stats.extra.insert("threads".into(), run.threads as f64);
            let x = match run.outcome {
                highs::Outcome::Infeasible => return Decision::Unreachable,
                highs::Outcome::Interrupted => return Decision::Interrupted,
                highs::Outcome::TimeLimit | highs::Outcome::Other(_) if relaxed => {
                    // Out of its share of time (or any other trouble): solve exactly.
                    eopts.relax_integers = false;
                    continue;
                }
                o @ (highs::Outcome::TimeLimit | highs::Outcome::Other(_)) => return Decision::Unknown(o.unknown()),
                highs::Outcome::Solution(x) => x,
            };
            let values: Option<Vec<f64>> = enc.inputs.iter().map(|&v| x.get(v).copied()).collect();
            if let Some(w) = values.and_then(|v| replay_roundings(whole, &v, eopts.relax_inputs)) {
                return Decision::Witness(w);
            }
            stats.spurious_candidates += 1;
            if *rounds >= MAX_ROUNDS {
                return Decision::Unknown(Unknown::Incomplete(format!(
                    "{rounds} refinement rounds without a decision"
                )));
            }
            if eopts.relax_integers {
                // The real-valued relaxation admitted a point no integer execution matches.
                eopts.relax_integers = false;
                continue;
            }
            if eopts.relax_inputs {
                // The relaxation admitted fractional inputs: solve this disjunct exactly.
                eopts.relax_inputs = false;
                continue;
            }
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
                return Decision::Unknown(Unknown::SolverError(
                    "HiGHS returned a candidate that does not replay although the encoding is exact \
                     (numerical trouble)"
                        .into(),
                ));
            }
        }
    }
}
