//! Solving through the `z3` crate: parse the encoder's SMT-LIB2 body, check, read the inputs
//! back from the model, replay them.
//!
//! Only crate functions that exist in Z3 4.8.12 (Debian's `libz3-dev`) are used: the solver is
//! fed text (`Z3_solver_from_string`), so no term-building API beyond constants is needed.

use super::encode::{encode, EncodeError, Encoder, Theory, Val};
use super::{Logic, SmtBackend};
use crate::backend::{BackendOptions, BackendStats, Query};
use crate::budget::{Budget, StopGuard};
use crate::net::requant::Rescale;
use crate::verdict::{Unknown, Verdict, Witness};
use ::z3::ast::{Bool, Int, BV};
use ::z3::{Model, Params, SatResult, Solver};
use std::time::{Duration, Instant};

fn new_solver(logic: &str) -> Solver {
    Solver::new_for_logic(logic).unwrap_or_default()
}

fn read_int(model: &Model, name: &str, w: u32) -> Option<i64> {
    if w == 0 {
        return model.eval(&Int::new_const(name), true)?.as_i64();
    }
    // The crate returns the unsigned value of a bit-vector: sign-extend it ourselves.
    let u = model.eval(&BV::new_const(name, w), true)?.as_u64()?;
    let shift = 64 - w.min(64);
    Some(((u << shift) as i64) >> shift)
}

/// The calling thread's Z3 context, sendable to the watchdog. `Z3_interrupt` is the one Z3 call
/// made to be used from another thread.
struct Interruptible(z3_sys::Z3_context);
// SAFETY: the pointer is only passed to `Z3_interrupt`, which Z3 documents as callable from any
// thread; the guard that holds it is dropped before the context can go away (the context is the
// thread-local one of the solving thread, alive for the whole solve).
unsafe impl Send for Interruptible {}
unsafe impl Sync for Interruptible {}

/// Interrupt the current thread's Z3 context when the budget stops, while the guard lives.
fn interrupt_on_stop(budget: &Budget) -> StopGuard {
    let ctx = Interruptible(::z3::Context::thread_local().get_z3_context());
    budget.on_stop(move || {
        let c = &ctx;
        // SAFETY: see `Interruptible`.
        unsafe { z3_sys::Z3_interrupt(c.0) };
    })
}

/// The typed reason of Z3's `unknown`: a stop of the budget (a time-out, or an explicit stop)
/// wins over what Z3 says; otherwise Z3's own reason.
fn z3_unknown(why: &str, budget: &Budget) -> Unknown {
    let text = format!("z3: {why}");
    if budget.timed_out() {
        Unknown::TimeLimit(format!("z3 stopped at the deadline ({why})"))
    } else if budget.is_stopped() {
        Unknown::Interrupted(format!("z3 stopped ({why})"))
    } else if why.contains("timeout") {
        Unknown::TimeLimit(text)
    } else if why.contains("memory") || why.contains("memout") {
        Unknown::MemoryLimit(text)
    } else if why.contains("canceled") || why.contains("interrupted") {
        Unknown::Interrupted(text)
    } else {
        Unknown::Incomplete(text)
    }
}

fn set_timeout(s: &Solver, left: Option<Duration>) {
    if let Some(left) = left {
        let mut p = Params::new();
        p.set_u32("timeout", u32::try_from(left.as_millis()).unwrap_or(u32::MAX).max(1));
        s.set_params(&p);
    }
}

/// How one check (the whole DNF, or one disjunct) ended.
enum Decision {
    Unreachable,
    Witness(Witness),
    Unknown(Unknown),
}

/// Solve `query` with `backend`'s logic. See the module documentation of [`super`].
pub fn solve(query: &Query<'_>, backend: &SmtBackend, opts: &BackendOptions) -> (Verdict, BackendStats) {
    let start = Instant::now();
    let budget = &opts.budget;
    let mut stats = BackendStats::default();
    // Neither encoding nor Z3's parser polls the budget: start neither once it is used up.
    let out_of_time = || (Verdict::unknown(z3_unknown("not started: no time left", budget)), BackendStats::default());
    if budget.is_stopped() {
        return out_of_time();
    }
    let enc = match encode(query.net, query.spec, query.bounds, backend.logic) {
        Ok(e) => e,
        Err(e) => {
            stats.encode_seconds = start.elapsed().as_secs_f64();
            return (Verdict::unknown(Unknown::Unsupported(format!("smt encoding: {e}"))), stats);
        }
    };
    stats.encode_seconds = start.elapsed().as_secs_f64();
    stats.variables = enc.declared;
    stats.constraints = enc.asserted;
    stats.extra.insert("definitions".into(), enc.defined as f64);
    stats.extra.insert("max_bit_width".into(), f64::from(enc.max_width));
    stats.extra.insert("smt2_bytes".into(), enc.body.len() as f64);
    if budget.is_stopped() {
        let (v, _) = out_of_time();
        return (v, stats);
    }
    let t = Instant::now();
    // Per disjunct: the network is parsed once; each disjunct gets a fresh (non-incremental)
    // solver holding those assertions plus its own Boolean.
    let split = backend.per_disjunct && enc.disjuncts.len() > 1;
    let (text, expected) =
        if split { (&enc.body[..enc.prefix_len], enc.prefix_asserted) } else { (enc.body.as_str(), enc.asserted) };
    let base = new_solver(enc.logic_name());
    base.from_string(text);
    // A parse error stops Z3's parser silently; fewer assertions would mean a weaker query.
    let parsed = base.get_assertions();
    if parsed.len() != expected {
        stats.solve_seconds = t.elapsed().as_secs_f64();
        let reason = format!("BUG: z3 parsed {} of {expected} assertions of the encoding", parsed.len());
        return (Verdict::unknown(Unknown::SolverError(reason)), stats);
    }
    let verdict = if !split {
        stats.extra.insert("subproblems".into(), 1.0);
        match decide(&base, &enc, query, backend, budget, &mut stats) {
            Decision::Unreachable => Verdict::Verified,
            Decision::Witness(witness) => Verdict::Falsified { witness },
            Decision::Unknown(reason) => Verdict::unknown(reason),
        }
    } else {
        let mut unknowns = Vec::new();
        let mut found = None;
        let mut solved = 0usize;
        for (k, d) in enc.disjuncts.iter().enumerate() {
            solved += 1;
            let s = new_solver(enc.logic_name());
            for a in &parsed {
                s.assert(a);
            }
            s.assert(Bool::new_const(d.as_str()));
            match decide(&s, &enc, query, backend, budget, &mut stats) {
                Decision::Unreachable => {}
                Decision::Witness(w) => {
                    found = Some(w);
                    break;
                }
                Decision::Unknown(reason) => {
                    unknowns.push((k, reason));
                    if budget.is_stopped() {
                        break;
                    }
                }
            }
        }
        stats.extra.insert("subproblems".into(), solved as f64);
        match found {
            Some(witness) => Verdict::Falsified { witness },
            None if unknowns.is_empty() => Verdict::Verified,
            None => {
                let n = enc.disjuncts.len();
                unknowns.extend((solved..n).map(|k| (k, Unknown::Incomplete("not tried".into()))));
                Unknown::per_disjunct(unknowns, n).map_or(Verdict::Verified, Verdict::unknown)
            }
        }
    };
    stats.solve_seconds = t.elapsed().as_secs_f64();
    (verdict, stats)
}

/// Check `solver` (the network plus the whole DNF or one disjunct) until it is decided: `unsat`
/// → unreachable; a replayed model → witness; a spurious model of an inexact (QF_LIA float
/// band) encoding is blocked and the check repeated.
fn decide(
    solver: &Solver,
    enc: &super::encode::Encoded,
    query: &Query<'_>,
    backend: &SmtBackend,
    budget: &Budget,
    stats: &mut BackendStats,
) -> Decision {
    let _interrupt = interrupt_on_stop(budget);
    loop {
        let left = budget.remaining();
        if left == Some(Duration::ZERO) {
            return Decision::Unknown(z3_unknown("not started: no time left", budget));
        }
        set_timeout(solver, left);
        let result = match super::memory_limit_mb(backend) {
            // The limit covers exactly the check, which turns running out into `unknown`. (Under
            // the limit, other API calls — creating a context, reading assertions — return null,
            // on which the `z3` crate panics.)
            Some(mb) => {
                ::z3::set_global_param("memory_max_size", &mb.to_string());
                let r = solver.check();
                ::z3::set_global_param("memory_max_size", "0");
                r
            }
            None => solver.check(),
        };
        match result {
            SatResult::Unsat => return Decision::Unreachable,
            SatResult::Unknown => {
                let why = solver.get_reason_unknown().unwrap_or_default();
                let why = if why.is_empty() { "no reason given".to_string() } else { why };
                return Decision::Unknown(z3_unknown(&why, budget));
            }
            SatResult::Sat => {
                let Some(model) = solver.get_model() else {
                    return Decision::Unknown(Unknown::SolverError("z3 answered sat without a model".into()));
                };
                let x: Option<Vec<i64>> = enc.inputs.iter().map(|(n, w)| read_int(&model, n, *w)).collect();
                let Some(x) = x else {
                    return Decision::Unknown(Unknown::SolverError("could not read the inputs from z3's model".into()));
                };
                if let Some(witness) = Witness::replay(query.net, query.spec, &x) {
                    return Decision::Witness(witness);
                }
                if enc.exact {
                    return Decision::Unknown(Unknown::SolverError(format!(
                        "BUG: the exact {} encoding produced a counterexample {x:?} that replay rejects",
                        enc.logic_name()
                    )));
                }
                // The float band admitted a spurious point: exclude it and ask again.
                stats.spurious_candidates += 1;
                if stats.spurious_candidates > backend.max_candidates {
                    return Decision::Unknown(Unknown::Incomplete(format!(
                        "{} spurious candidates from the float32 band of QF_LIA (use smt-bv for exact float32)",
                        stats.spurious_candidates
                    )));
                }
                let eqs: Vec<String> = enc
                    .inputs
                    .iter()
                    .zip(&x)
                    .map(|((n, _), v)| format!("(= {n} {})", super::encode::Lia.lit(i128::from(*v), 0)))
                    .collect();
                let before = solver.get_assertions().len();
                // Each parse has its own scope: re-declare the inputs (same name and sort denote
                // the same constants in the context).
                let th: &dyn Theory = match backend.logic {
                    Logic::Bv => &super::encode::Bv,
                    Logic::Lia => &super::encode::Lia,
                };
                let decls: String =
                    enc.inputs.iter().map(|(n, w)| format!("(declare-const {n} {})", th.sort(*w))).collect();
                solver.from_string(format!("{decls}(assert (not (and true {})))", eqs.join(" ")));
                if solver.get_assertions().len() != before + 1 {
                    return Decision::Unknown(Unknown::SolverError("BUG: z3 rejected a blocking clause".into()));
                }
            }
        }
    }
}

/// Evaluate a circuit of the encoder on constant inputs through Z3: declare `a_i` with the given
/// ranges, fix them to `values`, build the circuit and read its value from the model. Checks
/// that the value is unique (the circuit is a function of its inputs). For tests and proofs.
pub fn eval_circuit(
    logic: Logic,
    ranges: &[(i128, i128)],
    values: &[i128],
    build: impl FnOnce(&mut Encoder<'_>, &[Val]) -> Result<Val, EncodeError>,
) -> Result<i128, String> {
    let th: &dyn Theory = match logic {
        Logic::Bv => &super::encode::Bv,
        Logic::Lia => &super::encode::Lia,
    };
    let mut enc = Encoder::new(th);
    let mut args = Vec::new();
    for (i, (&(lo, hi), &v)) in ranges.iter().zip(values).enumerate() {
        let a = enc.declare(&format!("a_{i}"), lo, hi).map_err(|e| e.to_string())?;
        let c = enc.konst(v, a.w);
        let eq = enc.eq(&a, &c).map_err(|e| e.to_string())?;
        enc.assert(&eq);
        args.push(a);
    }
    let out = build(&mut enc, &args).map_err(|e| e.to_string())?;
    if !enc.exact {
        return Err("the circuit over-approximates (float32 band in QF_LIA)".into());
    }
    let r = enc.declare("out", i128::from(i64::MIN), i128::from(i64::MAX)).map_err(|e| e.to_string())?;
    let w = r.w;
    let eq = enc.eq(&r, &out).map_err(|e| e.to_string())?;
    enc.assert(&eq);
    let logic_name = match (logic, enc.uses_fp) {
        (Logic::Bv, false) => "QF_BV",
        (Logic::Bv, true) => "QF_FPBV",
        (Logic::Lia, _) => "QF_LIA",
    };
    let s = new_solver(logic_name);
    s.from_string(enc.text.as_str());
    if s.get_assertions().len() != enc.asserted {
        return Err("z3 failed to parse the circuit".into());
    }
    if s.check() != SatResult::Sat {
        return Err(format!("circuit query not sat: {:?}", s.get_reason_unknown()));
    }
    let m = s.get_model().ok_or("no model")?;
    let v = read_int(&m, "out", w).ok_or("no value for out")?;
    s.from_string(format!("(declare-const out {})(assert (not (= out {})))", th.sort(w), th.lit(i128::from(v), w)));
    if s.get_assertions().len() != enc.asserted + 1 {
        return Err("z3 failed to parse the uniqueness check".into());
    }
    if s.check() != SatResult::Unsat {
        return Err("the circuit's value is not unique".into());
    }
    Ok(i128::from(v))
}

/// `R(acc)` computed by the encoding (Z3), for an accumulator range `acc_range ∋ acc`.
pub fn eval_rescale(r: &Rescale, acc: i64, acc_range: (i64, i64), logic: Logic) -> Result<i64, String> {
    let v = eval_circuit(logic, &[(i128::from(acc_range.0), i128::from(acc_range.1))], &[i128::from(acc)], |e, a| {
        e.rescale(r, &a[0])
    })?;
    i64::try_from(v).map_err(|e| e.to_string())
}

/// gemmlowp `SaturatingRoundingDoublingHighMul(a, b)` computed by the encoding (`a` a variable
/// over the whole int32 range, `b` a constant).
pub fn eval_srdhm(a: i32, b: i32, logic: Logic) -> Result<i32, String> {
    let v = eval_circuit(logic, &[(i128::from(i32::MIN), i128::from(i32::MAX))], &[i128::from(a)], |e, x| {
        e.srdhm(&x[0], b)
    })?;
    i32::try_from(v).map_err(|e| e.to_string())
}

/// gemmlowp `RoundingDivideByPOT(x, e)` computed by the encoding.
pub fn eval_rounding_divide_by_pot(x: i32, exponent: u32, logic: Logic) -> Result<i32, String> {
    let v = eval_circuit(logic, &[(i128::from(i32::MIN), i128::from(i32::MAX))], &[i128::from(x)], |e, a| {
        e.rounding_divide_by_pot(&a[0], exponent)
    })?;
    i32::try_from(v).map_err(|e| e.to_string())
}
