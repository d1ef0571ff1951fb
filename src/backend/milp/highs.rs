//! The model → HiGHS bridge and the explicit status mapping.
//!
//! Only `Infeasible` may become `Verified` (the caller's decision); a primal solution is a
//! candidate; every other status is reported as is, for an `Unknown` reason.

use super::model::{MilpModel, Sense, VarKind};
use highs::{RowProblem, Sense as Objective};
use std::cell::Cell;
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Feasibility tolerances passed to HiGHS. They only matter for candidates (which are replayed);
/// the encoding keeps every true execution strictly feasible (see `encodings/milp.md`).
pub const MIP_FEASIBILITY_TOLERANCE: f64 = 1e-7;
pub const PRIMAL_FEASIBILITY_TOLERANCE: f64 = 1e-7;

/// What one HiGHS run concluded.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Proven infeasible.
    Infeasible,
    /// A primal solution (column values): a candidate only.
    Solution(Vec<f64>),
    /// Stopped by the time limit without a feasible point: more time may decide it.
    TimeLimit,
    /// Stopped through the `stop` flag of [`solve`].
    Interrupted,
    /// Anything else, named (unbounded-or-infeasible, errors, …).
    Other(String),
}

impl Outcome {
    /// The outcome of a final model status that carries no solution.
    fn of_status(s: i32) -> Outcome {
        match s {
            highs_sys::MODEL_STATUS_INFEASIBLE => Outcome::Infeasible,
            highs_sys::MODEL_STATUS_REACHED_TIME_LIMIT => Outcome::TimeLimit,
            highs_sys::MODEL_STATUS_REACHED_INTERRUPT => Outcome::Interrupted,
            s => Outcome::Other(format!("HiGHS status: {}", status_name(s))),
        }
    }

    /// The typed reason of an undecided answer with this outcome.
    pub fn unknown(&self) -> crate::verdict::Unknown {
        use crate::verdict::Unknown;
        let d = self.describe();
        match self {
            Outcome::TimeLimit => Unknown::TimeLimit(d),
            Outcome::Interrupted => Unknown::Interrupted(d),
            Outcome::Other(s) if s.contains("memory limit") => Unknown::MemoryLimit(d),
            _ => Unknown::SolverError(d),
        }
    }

    /// A reason for an undecided answer.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Infeasible => "HiGHS status: infeasible".into(),
            Outcome::Solution(_) => "HiGHS found a solution".into(),
            Outcome::TimeLimit => format!("HiGHS status: {}", status_name(highs_sys::MODEL_STATUS_REACHED_TIME_LIMIT)),
            Outcome::Interrupted => format!("HiGHS status: {}", status_name(highs_sys::MODEL_STATUS_REACHED_INTERRUPT)),
            Outcome::Other(s) => s.clone(),
        }
    }
}

/// Result of a run.
#[derive(Clone, Debug)]
pub struct Run {
    pub outcome: Outcome,
    pub nodes: Option<u64>,
    pub threads: usize,
}

thread_local! {
    /// HiGHS (since 1.2) keeps one task scheduler per calling thread: the first solve on a thread
    /// fixes its size and a later solve there asking for another size would fail, so every solve
    /// on a thread uses that thread's first size. Solves on different threads are independent,
    /// which is what lets the MILP backend run sub-MILPs concurrently.
    static THREADS: Cell<usize> = const { Cell::new(0) };
}

/// The scheduler size for a solve on this thread (the first request wins).
fn thread_size(requested: usize) -> usize {
    THREADS.with(|t| {
        if t.get() == 0 {
            t.set(requested.max(1));
        }
        t.get()
    })
}

/// HiGHS's interrupt callback: asks the MIP solver to stop once `data` (an [`AtomicBool`]) is set.
extern "C" fn interrupt_callback(
    kind: c_int,
    _message: *const c_char,
    _out: *const highs_sys::HighsCallbackDataOut,
    data_in: *mut highs_sys::HighsCallbackDataIn,
    data: *mut c_void,
) {
    let interrupts = [
        highs_sys::kHighsCallbackMipInterrupt,
        highs_sys::kHighsCallbackSimplexInterrupt,
        highs_sys::kHighsCallbackIpmInterrupt,
    ];
    if !interrupts.iter().any(|&k| k as c_int == kind) || data.is_null() || data_in.is_null() {
        return;
    }
    // SAFETY: `data` is the `&AtomicBool` registered in `solve`, alive for the whole run, and
    // `data_in` is HiGHS's input block for this callback.
    unsafe {
        if (*(data as *const AtomicBool)).load(Ordering::Relaxed) {
            (*data_in).user_interrupt = 1;
        }
    }
}

/// Map a raw HiGHS model status. Named explicitly so that a status added by a future HiGHS
/// falls into `Other`, never into `Infeasible`.
fn status_name(s: i32) -> &'static str {
    use highs_sys::*;
    match s {
        MODEL_STATUS_NOTSET => "not set",
        MODEL_STATUS_LOAD_ERROR => "load error",
        MODEL_STATUS_MODEL_ERROR => "model error",
        MODEL_STATUS_PRESOLVE_ERROR => "presolve error",
        MODEL_STATUS_SOLVE_ERROR => "solve error",
        MODEL_STATUS_POSTSOLVE_ERROR => "postsolve error",
        MODEL_STATUS_MODEL_EMPTY => "model empty",
        MODEL_STATUS_INFEASIBLE => "infeasible",
        MODEL_STATUS_UNBOUNDED_OR_INFEASIBLE => "unbounded or infeasible",
        MODEL_STATUS_UNBOUNDED => "unbounded",
        MODEL_STATUS_OPTIMAL => "optimal",
        MODEL_STATUS_OBJECTIVE_BOUND => "objective bound",
        MODEL_STATUS_OBJECTIVE_TARGET => "objective target",
        MODEL_STATUS_REACHED_TIME_LIMIT => "time limit reached",
        MODEL_STATUS_REACHED_ITERATION_LIMIT => "iteration limit reached",
        MODEL_STATUS_UNKNOWN => "unknown",
        MODEL_STATUS_REACHED_SOLUTION_LIMIT => "solution limit reached",
        MODEL_STATUS_REACHED_INTERRUPT => "interrupted",
        MODEL_STATUS_REACHED_MEMORY_LIMIT => "memory limit reached",
        _ => "unrecognized status",
    }
}

/// The model as a HiGHS problem: one column per variable in model order (with its objective
/// cost), one row per row. `relax` declares every column continuous: the LP relaxation.
pub(crate) fn row_problem(model: &MilpModel, relax: bool) -> (RowProblem, Vec<highs::Col>) {
    let mut p = RowProblem::default();
    let cols: Vec<_> = model
        .vars
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let cost = model.objective.iter().find(|t| t.0 == i).map_or(0.0, |t| t.1);
            match v.kind {
                _ if relax => p.add_column(cost, v.lb..=v.ub),
                VarKind::Continuous => p.add_column(cost, v.lb..=v.ub),
                VarKind::Integer | VarKind::Binary => p.add_integer_column(cost, v.lb..=v.ub),
            }
        })
        .collect();
    for r in &model.rows {
        let terms = r.terms.iter().map(|&(v, c)| (cols[v], c));
        match r.sense {
            Sense::Le => p.add_row(..=r.rhs, terms),
            Sense::Ge => p.add_row(r.rhs.., terms),
        }
    }
    (p, cols)
}

/// Solve a model with HiGHS (quiet), reading the raw status and the primal solution. Setting
/// `stop` interrupts the run (status "interrupted"); `deadline` (`None`: none) becomes HiGHS's
/// time limit once the model is passed, so building it counts against the deadline too.
///
/// HiGHS checks its time limit and interrupt only at some points: in the root node's separation
/// rounds of a MIP with wide general-integer domains it was measured to run 7 s past both (see
/// benchmarks/timelimits/). [`solve_within`] holds the deadline regardless.
pub fn solve(model: &MilpModel, deadline: Option<Instant>, threads: usize, stop: Option<&AtomicBool>) -> Run {
    let (p, _) = row_problem(model, false);
    let threads = thread_size(threads);
    let mut m = match p.try_optimise(Objective::Minimise) {
        Ok(m) => m,
        Err(e) => {
            return Run { outcome: Outcome::Other(format!("HiGHS rejected the model: {e:?}")), nodes: None, threads }
        }
    };
    m.make_quiet();
    let mut opts: Vec<(&str, f64)> = vec![
        ("mip_feasibility_tolerance", MIP_FEASIBILITY_TOLERANCE),
        ("primal_feasibility_tolerance", PRIMAL_FEASIBILITY_TOLERANCE),
    ];
    // HiGHS's time limit counts from its own start (`run`), so it is set from the deadline only
    // now that the model is built and passed: building it is inside the caller's budget too.
    if let Some(d) = deadline {
        opts.push(("time_limit", d.saturating_duration_since(Instant::now()).as_secs_f64().max(1e-3)));
    }
    for (k, v) in opts {
        if let Err(e) = m.try_set_option(k, v) {
            return Run { outcome: Outcome::Other(format!("HiGHS option {k}: {e:?}")), nodes: None, threads };
        }
    }
    if let Err(e) = m.try_set_option("threads", threads as i32) {
        return Run { outcome: Outcome::Other(format!("HiGHS option threads: {e:?}")), nodes: None, threads };
    }
    // A feasibility question: the first feasible point is a candidate, no need to optimise it.
    if let Err(e) = m.try_set_option("mip_max_improving_sols", 1) {
        return Run {
            outcome: Outcome::Other(format!("HiGHS option mip_max_improving_sols: {e:?}")),
            nodes: None,
            threads,
        };
    }
    if let Some(flag) = stop {
        let data = flag as *const AtomicBool as *mut c_void;
        // SAFETY: `m` owns a live Highs instance; `flag` outlives the solve below, the only time
        // HiGHS calls the callback.
        // The MIP interrupt is polled between nodes; the simplex and IPM ones inside the LP
        // solves (the root LP of a large model can take seconds).
        let ok = unsafe {
            highs_sys::Highs_setCallback(m.as_mut_ptr(), Some(interrupt_callback), data) == highs_sys::STATUS_OK
                && [
                    highs_sys::kHighsCallbackMipInterrupt,
                    highs_sys::kHighsCallbackSimplexInterrupt,
                    highs_sys::kHighsCallbackIpmInterrupt,
                ]
                .iter()
                .all(|&k| highs_sys::Highs_startCallback(m.as_mut_ptr(), k) == highs_sys::STATUS_OK)
        };
        if !ok {
            return Run {
                outcome: Outcome::Other("HiGHS refused the interrupt callback".into()),
                nodes: None,
                threads,
            };
        }
    }
    if stop.is_some_and(|f| f.load(Ordering::SeqCst)) {
        return Run { outcome: Outcome::Interrupted, nodes: None, threads };
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Run { outcome: Outcome::TimeLimit, nodes: None, threads };
    }
    let solved = m.try_solve();
    let solved = match solved {
        Ok(s) => s,
        Err(e) => return Run { outcome: Outcome::Other(format!("HiGHS run failed: {e:?}")), nodes: None, threads },
    };
    let ptr = solved.as_ptr();
    let (status, nodes) = raw_status(ptr);
    let outcome = match status {
        highs_sys::MODEL_STATUS_OPTIMAL => Outcome::Solution(solved.get_solution().columns().to_vec()),
        s => {
            // A time or solution limit may come with a feasible point: keep it as a candidate.
            let has_point = solved.int_info_value(c"primal_solution_status").map(|v| v == 2).unwrap_or(false);
            let stopped = [highs_sys::MODEL_STATUS_REACHED_TIME_LIMIT, highs_sys::MODEL_STATUS_REACHED_SOLUTION_LIMIT];
            if has_point && stopped.contains(&s) {
                Outcome::Solution(solved.get_solution().columns().to_vec())
            } else {
                Outcome::of_status(s)
            }
        }
    };
    // An interrupted run's conclusions are not trusted: only a point (replayed by the caller)
    // survives a stop; "infeasible" from a run cut short in some LP is not a proof.
    let outcome = match outcome {
        Outcome::Solution(_) | Outcome::Interrupted => outcome,
        _ if stop.is_some_and(|f| f.load(Ordering::SeqCst)) => Outcome::Interrupted,
        o => o,
    };
    Run { outcome, nodes, threads }
}

/// Helper threads of [`solve_within`] still inside HiGHS (abandoned ones included).
static RUNNING_HELPERS: AtomicUsize = AtomicUsize::new(0);

/// How many HiGHS solves [`solve_within`] started on a helper thread are still running — after
/// the caller stopped waiting for them, they end only at HiGHS's next poll of its interrupt flag.
///
/// A process must not exit normally while one runs: `exit` runs the C++ static destructors, and
/// HiGHS's global task scheduler freed under a running solve aborts the process ("double free
/// detected", seen at a 60 s deadline in a benchmark). The `quiver` binary therefore ends with
/// `_exit` (no destructors) when this is not zero.
pub fn running_helper_solves() -> usize {
    RUNNING_HELPERS.load(Ordering::SeqCst)
}

/// Counts a helper thread as running from its creation until it returns (or unwinds).
struct HelperRunning;

impl HelperRunning {
    fn enter() -> HelperRunning {
        RUNNING_HELPERS.fetch_add(1, Ordering::SeqCst);
        HelperRunning
    }
}

impl Drop for HelperRunning {
    fn drop(&mut self) {
        RUNNING_HELPERS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// [`solve`] on a helper thread that the caller stops waiting for `grace` after the deadline or
/// after `stop` is set: then the answer is [`Outcome::TimeLimit`] or [`Outcome::Interrupted`]
/// and the run is left to end by itself (its interrupt flag is set, and nothing it computes is
/// used). This holds a deadline even while HiGHS is in a phase that does not poll its time limit
/// or interrupt callback.
///
/// The helper owns a copy of the model; a helper thread that cannot be spawned falls back to
/// solving on the calling thread.
pub fn solve_within(
    model: &MilpModel,
    deadline: Option<Instant>,
    threads: usize,
    stop: &AtomicBool,
    grace: std::time::Duration,
) -> Run {
    use std::sync::Arc;
    use std::time::Duration;
    let Some(d) = deadline else { return solve(model, None, threads, Some(stop)) };
    let flag = Arc::new(AtomicBool::new(stop.load(Ordering::SeqCst)));
    let (tx, rx) = std::sync::mpsc::channel();
    let (owned, helper_flag) = (model.clone(), Arc::clone(&flag));
    // Counted before the spawn, so that no exit can slip between the spawn and the count.
    let running = HelperRunning::enter();
    let spawned = std::thread::Builder::new().name("quiver-highs".into()).spawn(move || {
        let _running = running;
        let _ = tx.send(solve(&owned, Some(d), threads, Some(&helper_flag)));
    });
    if spawned.is_err() {
        return solve(model, deadline, threads, Some(stop));
    }
    let mut give_up: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(run) => return run,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Run {
                    outcome: Outcome::Other("the HiGHS thread ended without an answer".into()),
                    nodes: None,
                    threads,
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        let stopped = stop.load(Ordering::SeqCst);
        if stopped {
            flag.store(true, Ordering::SeqCst);
        }
        if give_up.is_none() && (stopped || now >= d) {
            give_up = Some(now + grace);
        }
        if give_up.is_some_and(|g| now >= g) {
            flag.store(true, Ordering::SeqCst);
            let outcome = if stopped { Outcome::Interrupted } else { Outcome::TimeLimit };
            return Run { outcome, nodes: None, threads };
        }
    }
}

/// Raw model status and node count of a solved HiGHS instance.
fn raw_status(ptr: *const c_void) -> (i32, Option<u64>) {
    // SAFETY: `ptr` is a live Highs instance owned by the caller for the duration of the call.
    let status = unsafe { highs_sys::Highs_getModelStatus(ptr as *mut c_void) };
    let mut nodes: i64 = -1;
    let key = CString::new("mip_node_count").expect("no NUL");
    // SAFETY: as above; `nodes` outlives the call.
    let rc = unsafe { highs_sys::Highs_getInt64InfoValue(ptr as *mut c_void, key.as_ptr(), &mut nodes) };
    (status as i32, (rc == highs_sys::STATUS_OK && nodes >= 0).then_some(nodes as u64))
}

/// Read an LP or MPS file with HiGHS and solve it (no options beyond quiet, tolerances and
/// `time_limit`): for checking that exported files carry the same model.
pub fn solve_file(path: &std::path::Path, time_limit: Option<f64>) -> Outcome {
    let Ok(mut m) = RowProblem::default().try_optimise(Objective::Minimise) else {
        return Outcome::Other("HiGHS could not start".into());
    };
    m.make_quiet();
    let Some(s) = path.to_str().and_then(|s| CString::new(s).ok()) else {
        return Outcome::Other("path is not valid UTF-8".into());
    };
    // SAFETY: `m` owns a live Highs instance; `s` is a NUL-terminated string.
    let rc = unsafe { highs_sys::Highs_readModel(m.as_mut_ptr(), s.as_ptr()) };
    if rc == highs_sys::STATUS_ERROR {
        return Outcome::Other(format!("HiGHS could not read {}", path.display()));
    }
    let _ = m.try_set_option("mip_feasibility_tolerance", MIP_FEASIBILITY_TOLERANCE);
    if let Some(t) = time_limit {
        let _ = m.try_set_option("time_limit", t);
    }
    let _ = m.try_set_option("threads", thread_size(1) as i32);
    match m.try_solve() {
        Ok(solved) => match raw_status(solved.as_ptr()).0 {
            highs_sys::MODEL_STATUS_OPTIMAL => Outcome::Solution(solved.get_solution().columns().to_vec()),
            s => Outcome::of_status(s),
        },
        Err(e) => Outcome::Other(format!("HiGHS run failed: {e:?}")),
    }
}
