//! The verification pipeline: stages that each may decide the query, timed one by one, under
//! one [`Budget`] for the whole run.
//!
//! Soundness is enforced by construction: a [`Verdict::Falsified`] carries a [`Witness`], and a
//! `Witness` can only be made by [`Witness::replay`], which runs the reference executor and checks
//! the input box and the unsafe condition. `Verified` comes only from sound stages (exact integer
//! bounds, complete backends). The verdict types live in [`crate::verdict`], below every stage.

pub use crate::verdict::{Unknown, Verdict, Witness};

use crate::backend::{self, BackendOptions, BackendStats, Query};
use crate::bounds::{self, Method, SpecStatus};
use crate::budget::Budget;
use crate::net::Network;
use crate::search::SearchOptions;
use crate::spec::Spec;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// One timed stage of the pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub seconds: f64,
    /// What the stage concluded, e.g. "unreachable", "3 of 9 disjuncts open".
    pub outcome: String,
}

/// Statistics about the query and the bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Stats {
    pub inputs: usize,
    pub box_points_log2: f64,
    pub disjuncts: usize,
    pub unstable_neurons: Option<usize>,
    /// Exact executions spent by the counterexample search, if it ran.
    pub search_evaluations: Option<u64>,
    /// The spec's disjuncts handed to the complete backends, in the order given (bounds drop
    /// the unreachable ones; the search's closest come first). A backend's "disjunct k" is the
    /// k-th entry here. `None`: the whole spec as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_disjuncts: Option<Vec<usize>>,
    /// Statistics of each complete backend that ran, by name.
    pub backends: Vec<BackendRun>,
}

/// One complete backend's answer and effort.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendRun {
    pub backend: String,
    pub verdict: String,
    /// Why `unknown`, as text and as its kind (`time_limit`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_kind: Option<String>,
    pub stats: BackendStats,
}

/// The full result of [`verify`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub stages: Vec<Stage>,
    pub stats: Stats,
    pub seconds: f64,
    /// Set when two procedures contradict each other (one `verified`, another a replayed
    /// `falsified`): a soundness bug, never resolved silently. The verdict is then `unknown`.
    pub disagreement: Option<String>,
    /// The run's time limit, if any (`--timeout`: the whole pipeline).
    pub time_limit_s: Option<f64>,
}

/// Pipeline options.
#[derive(Clone, Debug)]
pub struct Options {
    pub bounds: Method,
    /// Replay the box center and corners before anything else (cheap, finds easy violations).
    pub probe: bool,
    /// Gradient counterexample search before bounds (`None`: off).
    pub search: Option<SearchOptions>,
    /// Complete backends to run when earlier stages leave the query open (empty: stop at bounds).
    /// Without `crosscheck` only the first is used.
    pub backends: Vec<String>,
    /// Run every listed backend on the query, even if an earlier stage decided it, and compare
    /// all decided answers.
    pub crosscheck: bool,
    /// Wall-clock limit of the whole pipeline (`None`: none). Every stage sees what is left;
    /// a watchdog interrupts the solvers when it runs out.
    pub time_limit: Option<Duration>,
    /// Threads of the complete backends (the search has its own in [`SearchOptions`]).
    pub threads: usize,
    /// Before a complete backend, tighten the unstable hidden accumulators' symbolic bounds by
    /// LP ([`crate::backend::milp::tighten`]), spending at most a third of the time left. Only
    /// with [`Method::Symbolic`] (other methods are kept as asked, e.g. for baselines).
    pub tighten: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bounds: Method::Symbolic,
            probe: true,
            search: Some(SearchOptions::default()),
            backends: backend::default_backends(),
            crosscheck: false,
            time_limit: None,
            threads: 1,
            tighten: true,
        }
    }
}

/// What the pipeline is doing, for a progress display ([`verify_observed`]).
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A stage starts: `probe`, `bounds (symbolic)`, `search`, `backend (milp)`, ….
    StageStarted { name: &'a str },
    /// A stage ended.
    StageFinished { stage: &'a Stage },
}

struct Timer<'a> {
    stages: Vec<Stage>,
    observe: &'a dyn Fn(&Event<'_>),
}

impl Timer<'_> {
    fn run<T>(&mut self, name: &str, f: impl FnOnce() -> (T, String)) -> T {
        (self.observe)(&Event::StageStarted { name });
        let t = Instant::now();
        let (v, outcome) = f();
        self.stages.push(Stage { name: name.to_string(), seconds: t.elapsed().as_secs_f64(), outcome });
        if let Some(stage) = self.stages.last() {
            (self.observe)(&Event::StageFinished { stage });
        }
        v
    }
}

/// Candidate points for the probe stage: the center, then the two extreme corners.
fn probe_points(spec: &Spec) -> Vec<Vec<i64>> {
    let b = &spec.input;
    let center = b.lo.iter().zip(&b.hi).map(|(&l, &h)| l + (h - l) / 2).collect();
    vec![center, b.lo.clone(), b.hi.clone()]
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::None => "bounds (none)",
        Method::Interval => "bounds (interval)",
        Method::Symbolic => "bounds (symbolic)",
    }
}

/// Run the pipeline on a query under a fresh budget of [`Options::time_limit`]. `spec` must fit
/// `net` ([`Spec::check`]). See [`verify_within`].
pub fn verify(net: &Network, spec: &Spec, opts: &Options) -> Report {
    verify_within(net, spec, opts, &Budget::new(opts.time_limit))
}

/// Run the pipeline on a query within `budget` (which the caller may stop, e.g. on Ctrl-C).
///
/// Stages: probe → bounds → search → complete backend(s); each is optional and timed. Bounds run
/// before the search (unlike the seed paper's order) because they cost milliseconds and decide
/// most robust instances, on which a search would spend its whole budget in vain. The first
/// stage that decides ends the run, except with `crosscheck`, where every listed backend also
/// runs and any contradiction between decided answers is reported in [`Report::disagreement`].
pub fn verify_within(net: &Network, spec: &Spec, opts: &Options, budget: &Budget) -> Report {
    verify_observed(net, spec, opts, budget, &|_| {})
}

/// [`verify_within`], calling `observe` (on the calling thread) when each stage starts and ends:
/// the hook behind `quiver verify`'s progress line. Observing changes nothing in the run.
pub fn verify_observed(
    net: &Network,
    spec: &Spec,
    opts: &Options,
    budget: &Budget,
    observe: &dyn Fn(&Event<'_>),
) -> Report {
    let start = Instant::now();
    let mut timer = Timer { stages: Vec::new(), observe };
    let mut stats = Stats {
        inputs: spec.input.len(),
        box_points_log2: spec.input.lo.iter().zip(&spec.input.hi).map(|(l, h)| ((h - l + 1) as f64).log2()).sum(),
        disjuncts: spec.unsafe_dnf.len(),
        ..Stats::default()
    };
    // Every decided answer, by the procedure that gave it.
    let mut answers: Vec<(String, Verdict)> = Vec::new();
    let mut unknowns: Vec<Unknown> = Vec::new();

    if opts.probe {
        let found = timer.run("probe", || {
            let w = probe_points(spec).into_iter().find_map(|x| Witness::replay(net, spec, &x));
            let outcome = if w.is_some() { "counterexample replayed" } else { "no violation at center/corners" };
            (w, outcome.to_string())
        });
        if let Some(witness) = found {
            answers.push(("probe".into(), Verdict::Falsified { witness }));
        }
    }

    let mut analysis = None;
    if answers.is_empty() || opts.crosscheck {
        let a = timer.run(method_name(opts.bounds), || {
            let a = bounds::analyze(net, spec, opts.bounds);
            let outcome = match &a.status {
                SpecStatus::Unreachable => "unsafe condition unreachable".to_string(),
                SpecStatus::AlwaysUnsafe(k) => format!("disjunct {k} holds on the whole box"),
                SpecStatus::Open(ks) => format!("{} of {} disjuncts open", ks.len(), spec.unsafe_dnf.len()),
            };
            (a, outcome)
        });
        stats.unstable_neurons = Some(a.bounds.unstable_count(net));
        match &a.status {
            SpecStatus::Unreachable => answers.push(("bounds".into(), Verdict::Verified)),
            SpecStatus::AlwaysUnsafe(_) => {
                // Every input violates: replay the box's lower corner to produce the witness.
                if let Some(witness) = Witness::replay(net, spec, &spec.input.lo) {
                    answers.push(("bounds".into(), Verdict::Falsified { witness }));
                }
            }
            SpecStatus::Open(_) => {}
        }
        analysis = Some(a);
    }

    // Per disjunct, the search's closest approach: the backends take the closest first.
    let mut search_loss: Option<Vec<f32>> = None;
    if answers.is_empty() && !budget.is_stopped() {
        if let Some(so) = &opts.search {
            let so = SearchOptions { budget: budget.remaining_or(so.budget), ..so.clone() };
            let r = timer.run("search", || {
                let r = crate::search::search(net, spec, &so);
                let outcome = match &r.witness {
                    Some(_) => format!("counterexample replayed after {} executions", r.evaluations),
                    None => format!("none found in {} executions", r.evaluations),
                };
                (r, outcome)
            });
            stats.search_evaluations = Some(r.evaluations);
            if r.best_loss.len() == spec.unsafe_dnf.len() {
                search_loss = Some(r.best_loss);
            }
            if let Some(witness) = r.witness {
                answers.push(("search".into(), Verdict::Falsified { witness }));
            }
        }
    }

    let tighten = opts.tighten && opts.bounds == Method::Symbolic && cfg!(feature = "milp");
    if let (true, true, Some(a)) = (tighten, answers.is_empty() && !opts.backends.is_empty(), analysis.as_mut()) {
        if let SpecStatus::Open(open) = &a.status {
            if !budget.is_stopped() {
                let open = open.clone();
                let decided = timer.run("tighten (lp)", || tighten_stage(net, spec, a, &open, budget));
                if decided {
                    answers.push(("bounds (lp)".into(), Verdict::Verified));
                }
                stats.unstable_neurons = Some(a.bounds.unstable_count(net));
            }
        }
    }

    if let Some(a) = &analysis {
        let names: Vec<String> = if opts.crosscheck {
            if opts.backends.iter().any(|b| b == "all") {
                backend::available().iter().map(|s| s.to_string()).collect()
            } else {
                opts.backends.clone()
            }
        } else if answers.is_empty() {
            opts.backends.iter().take(1).cloned().collect()
        } else {
            Vec::new()
        };
        // Backends see only the disjuncts the bounds left open (a sound reduction: the others
        // are unreachable), the search's closest first (order changes no answer, only which
        // disjunct a backend tries first); witnesses are replayed against the whole spec below.
        let reduced = match &a.status {
            SpecStatus::Open(ks) => {
                let mut ks = ks.clone();
                if let Some(loss) = &search_loss {
                    ks.sort_by(|&i, &j| loss[i].total_cmp(&loss[j]).then(i.cmp(&j)));
                }
                let identity = ks.iter().copied().eq(0..spec.unsafe_dnf.len());
                // Every index must name a disjunct: dropping one would make `verified` unsound,
                // so an index out of range (a bug in bounds) falls back to the whole spec.
                let dnf: Option<Vec<_>> = ks.iter().map(|&k| spec.unsafe_dnf.get(k).cloned()).collect();
                dnf.filter(|_| !identity).map(|dnf| {
                    stats.backend_disjuncts = Some(ks);
                    Spec { unsafe_dnf: dnf, ..spec.clone() }
                })
            }
            _ => None,
        };
        let query = Query { net, spec: reduced.as_ref().unwrap_or(spec), bounds: &a.bounds };
        let bopts = BackendOptions { threads: opts.threads, budget: budget.clone() };
        for name in names {
            let Some(b) = backend::by_name(&name) else {
                unknowns.push(Unknown::Unsupported(format!(
                    "backend `{name}` is not available (available: {:?})",
                    backend::available()
                )));
                continue;
            };
            let (verdict, bstats) = timer.run(&format!("backend ({})", b.name()), || {
                let (v, s) = b.solve(&query, &bopts);
                let outcome = match &v {
                    Verdict::Unknown { reason } => format!("unknown: {reason}"),
                    other => other.name().to_string(),
                };
                ((v, s), outcome)
            });
            let verdict = match verdict {
                Verdict::Falsified { witness } => match Witness::replay(net, spec, witness.input()) {
                    Some(witness) => Verdict::Falsified { witness },
                    None => Verdict::unknown(Unknown::SolverError(
                        "internal error: a backend witness does not replay against the whole spec".into(),
                    )),
                },
                other => other,
            };
            let (reason, reason_kind) = match &verdict {
                Verdict::Unknown { reason } => (Some(reason.to_string()), Some(reason.kind().to_string())),
                _ => (None, None),
            };
            stats.backends.push(BackendRun {
                backend: name.clone(),
                verdict: verdict.name().into(),
                reason,
                reason_kind,
                stats: bstats,
            });
            match verdict {
                Verdict::Unknown { reason } => unknowns.push(reason.prefixed(&format!("{name}: "))),
                decided => answers.push((name, decided)),
            }
        }
        if let (SpecStatus::Open(ks), true) = (&a.status, opts.backends.is_empty() && answers.is_empty()) {
            unknowns.push(Unknown::Incomplete(format!(
                "bounds leave {} of {} disjuncts open and no complete backend was requested",
                ks.len(),
                spec.unsafe_dnf.len()
            )));
        }
    }
    let said = unknowns.iter().any(|u| matches!(u, Unknown::TimeLimit(_) | Unknown::Interrupted(_)));
    if answers.is_empty() && budget.is_stopped() && !said {
        let detail = format!("after {:.1} s", start.elapsed().as_secs_f64());
        unknowns.push(if budget.timed_out() { Unknown::TimeLimit(detail) } else { Unknown::Interrupted(detail) });
    }

    let (verdict, disagreement) = combine(answers, unknowns);
    Report {
        verdict,
        stages: timer.stages,
        stats,
        seconds: start.elapsed().as_secs_f64(),
        disagreement,
        time_limit_s: opts.time_limit.map(|t| t.as_secs_f64()),
    }
}

#[cfg(not(feature = "milp"))]
fn tighten_stage(_: &Network, _: &Spec, _: &mut bounds::Analysis, _: &[usize], _: &Budget) -> (bool, String) {
    (false, "not applied: built without the milp feature".into())
}

/// The LP tightening stage: replaces `a`'s bounds by tightened ones and keeps open only the
/// disjuncts that both the old and the new bounds leave open. `true` when none is left (the
/// property holds). A refused encoding leaves `a` as it was.
#[cfg(feature = "milp")]
fn tighten_stage(
    net: &Network,
    spec: &Spec,
    a: &mut bounds::Analysis,
    open: &[usize],
    budget: &Budget,
) -> (bool, String) {
    let max_time = budget.remaining().map_or(Duration::from_secs(30), |r| r / 3);
    let (sym, ts) = match crate::backend::milp::tighten::tighten(net, &spec.input, budget, max_time) {
        Ok(r) => r,
        Err(e) => return (false, format!("not applied: {e}")),
    };
    let still: Vec<usize> = match sym.spec_status(spec) {
        SpecStatus::Open(ks) => open.iter().copied().filter(|k| ks.contains(k)).collect(),
        SpecStatus::Unreachable => Vec::new(),
        // Every input violates some disjunct: leave that to the backend's witness.
        SpecStatus::AlwaysUnsafe(_) => open.to_vec(),
    };
    a.bounds = sym.into_bounds();
    let outcome = format!(
        "{} LPs, unstable {} -> {}{}; {} of {} disjuncts open",
        ts.lps,
        ts.unstable_before,
        ts.unstable_after,
        if ts.truncated { " (time cap reached)" } else { "" },
        still.len(),
        spec.unsafe_dnf.len()
    );
    let done = still.is_empty();
    a.status = if done { SpecStatus::Unreachable } else { SpecStatus::Open(still) };
    (done, outcome)
}

/// Combine the decided answers of the stages and backends (by procedure name) into the run's
/// verdict. A `verified` next to a replayed `falsified` is never resolved: the verdict is
/// `unknown` ([`Unknown::Disagreement`]) and the second value carries the soundness alarm (the
/// CLI exits 3). Otherwise a witness wins, then `verified`, else `unknown` with the reasons.
pub fn combine(mut answers: Vec<(String, Verdict)>, unknowns: Vec<Unknown>) -> (Verdict, Option<String>) {
    let verified: Vec<&str> =
        answers.iter().filter(|(_, v)| *v == Verdict::Verified).map(|(n, _)| n.as_str()).collect();
    let falsified: Vec<&str> =
        answers.iter().filter(|(_, v)| matches!(v, Verdict::Falsified { .. })).map(|(n, _)| n.as_str()).collect();
    if !verified.is_empty() && !falsified.is_empty() {
        let msg = format!(
            "SOUNDNESS ALARM: verified by {verified:?} but a replayed counterexample was found by {falsified:?}"
        );
        (Verdict::unknown(Unknown::Disagreement(msg.clone())), Some(msg))
    } else if let Some(i) = answers.iter().position(|(_, v)| matches!(v, Verdict::Falsified { .. })) {
        (answers.swap_remove(i).1, None)
    } else if !verified.is_empty() {
        (Verdict::Verified, None)
    } else {
        (Verdict::unknown(Unknown::combine(unknowns)), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::robust::{robustness, Radius, TieRule};

    /// A replayed witness: robustness of a class the bundled model does not predict at input 0.
    fn witness() -> Witness {
        let net = crate::bundled::model();
        let x = crate::bundled::vectors().inputs[0].clone();
        let predicted = crate::net::exec::argmax(&crate::net::exec::run(&net, &x).expect("runs"));
        let spec = robustness(&net, &x, Radius::Integer(0), (predicted + 1) % 10, TieRule::AnyTieUnsafe).expect("spec");
        Witness::replay(&net, &spec, &x).expect("the centre violates a wrong label")
    }

    #[test]
    fn verified_next_to_a_replayed_witness_is_an_alarm_not_a_verdict() {
        let answers =
            vec![("bounds".to_string(), Verdict::Verified), ("milp".into(), Verdict::Falsified { witness: witness() })];
        let (v, alarm) = combine(answers, Vec::new());
        assert!(matches!(v, Verdict::Unknown { reason: Unknown::Disagreement(_) }), "{v:?}");
        let alarm = alarm.expect("a soundness alarm");
        assert!(alarm.contains("bounds") && alarm.contains("milp"), "{alarm}");
    }

    #[test]
    fn unknown_next_to_a_decided_answer_is_no_disagreement() {
        let timeout = || Unknown::TimeLimit("smt-bv: z3".into());
        let (v, alarm) = combine(vec![("milp".into(), Verdict::Verified)], vec![timeout()]);
        assert_eq!((v, alarm), (Verdict::Verified, None));
        let (v, alarm) = combine(
            vec![("search".into(), Verdict::Falsified { witness: witness() })],
            vec![Unknown::Incomplete("x".into())],
        );
        assert!(matches!(v, Verdict::Falsified { .. }) && alarm.is_none());
        let (v, _) = combine(Vec::new(), vec![Unknown::Incomplete("a".into()), timeout()]);
        assert_eq!(v, Verdict::unknown(Unknown::TimeLimit("a; time limit: smt-bv: z3".into())));
    }

    /// The report decides, and as enumeration over the box does.
    fn assert_matches_enumeration(case: usize, net: &Network, spec: &Spec, report: &Report) {
        let truth = crate::testgen::enumerate_violation(net, spec);
        match &report.verdict {
            Verdict::Verified => assert!(truth.is_none(), "case {case}: verified, but {truth:?} violates"),
            Verdict::Falsified { .. } => assert!(truth.is_some(), "case {case}: falsified a safe query"),
            Verdict::Unknown { reason } => panic!("case {case}: unknown ({reason})"),
        }
    }

    /// With LP tightening before the MILP, verdicts still match enumeration, and the stage does
    /// run (and decides some queries by itself) on random multi-layer networks.
    #[cfg(feature = "milp")]
    #[test]
    fn lp_tightening_stage_keeps_verdicts_exact() {
        use crate::testgen::{self, GenConfig};
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x7167);
        let cfg = GenConfig { max_dense: 3, ..GenConfig::default() };
        let opts = Options { search: None, probe: false, tighten: true, ..Options::default() };
        let mut tightened = 0;
        for case in 0..300 {
            let net = testgen::network(&mut rng, &cfg);
            let b = testgen::input_box(&mut rng, &net, 300);
            let spec = testgen::spec(&mut rng, &net, b);
            let report = verify(&net, &spec, &opts);
            assert_matches_enumeration(case, &net, &spec, &report);
            tightened += usize::from(report.stages.iter().any(|s| s.name == "tighten (lp)"));
        }
        assert!(tightened >= 10, "the tightening stage ran on only {tightened} of 300 queries");
    }

    /// The disjuncts handed to the backend, reordered by the search, are exactly the ones bounds
    /// left open (a lost disjunct would make `verified` unsound), and the pipeline's verdicts
    /// match enumeration on small random networks whose search is cut short so that the MILP
    /// backend gets the reordered queries.
    #[test]
    fn reordered_backend_disjuncts_are_the_open_ones_and_verdicts_match_enumeration() {
        use crate::testgen::{self, GenConfig};
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x0de7);
        let search = SearchOptions { max_evaluations: Some(2), restarts: 2, ..SearchOptions::default() };
        // No probe and no bound propagation: every query reaches the search, most the backend.
        let opts = Options { search: Some(search), probe: false, bounds: Method::None, ..Options::default() };
        let mut reordered = 0;
        for case in 0..300 {
            let net = testgen::network(&mut rng, &GenConfig::default());
            let b = testgen::input_box(&mut rng, &net, 300);
            // Three random DNFs joined: up to nine disjuncts for the search to rank.
            let mut spec = testgen::spec(&mut rng, &net, b);
            for _ in 0..2 {
                let more = testgen::spec(&mut rng, &net, spec.input.clone()).unsafe_dnf;
                spec.unsafe_dnf.extend(more);
            }
            let report = verify(&net, &spec, &opts);
            assert_matches_enumeration(case, &net, &spec, &report);
            if let Some(order) = &report.stats.backend_disjuncts {
                let SpecStatus::Open(open) = bounds::analyze(&net, &spec, opts.bounds).status else {
                    panic!("case {case}: a backend order without open disjuncts")
                };
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, open, "case {case}: the backend's disjuncts are not the open ones");
                reordered += usize::from(*order != open);
            }
        }
        assert!(reordered >= 5, "only {reordered} cases had their open disjuncts reordered");
    }
}
