//! `portfolio`: per disjunct of the unsafe DNF, the MILP backend (HiGHS) and the CP-SAT backend
//! side by side on two threads; the first decisive answer for a disjunct stops the other.
//!
//! Why per disjunct and not per query: on the hard QVIP and mnistfc instances HiGHS and CP-SAT
//! close different target classes (`benchmarks/cp/`), so a race over the whole query would
//! need one solver to close every class, while this needs each class closed by either. Both
//! members are sound on their own; the portfolio adds no reasoning of its own. A witness is
//! replayed again against the whole query. If one member says `verified` and the other replays
//! a witness for the same disjunct, the verdict is `unknown` (disagreement) — a soundness bug
//! is never resolved by picking a side.

use super::{Backend, BackendOptions, BackendStats, Query};
use crate::verdict::{Unknown, Verdict, Witness};
use std::sync::mpsc;

/// The members, by backend name.
pub const MEMBERS: [&str; 2] = ["milp", "cpsat"];

/// The members that can run here: `cpsat` only when OR-Tools' library loads (it is found at run
/// time), so that the portfolio — the default backend — degrades to the MILP backend with all
/// threads instead of spending a thread on a member that can only say `unsupported`.
pub fn members() -> Vec<&'static str> {
    MEMBERS
        .iter()
        .copied()
        .filter(|&m| if m == "cpsat" { super::cpsat_loadable() } else { super::by_name(m).is_some() })
        .collect()
}

/// The per-disjunct portfolio of [`MEMBERS`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Portfolio;

impl Backend for Portfolio {
    fn name(&self) -> &'static str {
        "portfolio"
    }

    fn solve(&self, query: &Query<'_>, opts: &BackendOptions) -> (Verdict, BackendStats) {
        let mut stats = BackendStats::default();
        let members = members();
        stats.extra.insert("members".into(), members.len() as f64);
        if let [only] = members.as_slice() {
            // CP-SAT's library is not there: the MILP backend alone, with every thread (its own
            // disjunct order and concurrency); `members` = 1 in the stats says so.
            let Some(backend) = super::by_name(only) else {
                return (Verdict::unknown(Unknown::Unsupported(format!("`{only}` is not in this build"))), stats);
            };
            let (v, st) = backend.solve(query, opts);
            merge(&mut stats, only, st);
            return (v, stats);
        }
        let threads = (opts.threads / members.len().max(1)).max(1);
        let disjuncts = query.spec.unsafe_dnf.len();
        let mut wins = vec![0usize; members.len()];
        let mut open: Vec<(usize, Unknown)> = Vec::new();
        for k in 0..disjuncts {
            if opts.budget.is_stopped() {
                open.push((k, opts.budget.stop_reason("not attempted")));
                break;
            }
            match race(query, k, &members, threads, opts, &mut stats) {
                Race::Verified(i) => wins[i] += 1,
                Race::Witness(i, w) => {
                    wins[i] += 1;
                    record_wins(&mut stats, &members, &wins);
                    return (Verdict::Falsified { witness: w }, stats);
                }
                Race::Disagreement(msg) => return (Verdict::unknown(Unknown::Disagreement(msg)), stats),
                Race::Open(reason) => {
                    open.push((k, reason));
                    if opts.budget.is_stopped() {
                        break;
                    }
                }
            }
        }
        record_wins(&mut stats, &members, &wins);
        stats.extra.insert("subproblems".into(), disjuncts as f64);
        let verdict = Unknown::per_disjunct(open, disjuncts).map_or(Verdict::Verified, Verdict::unknown);
        (verdict, stats)
    }
}

/// How one disjunct's race ended.
enum Race {
    Verified(usize),
    /// Replayed against the whole query.
    Witness(usize, Witness),
    Disagreement(String),
    Open(Unknown),
}

/// Disjunct `k` of `query`, every member on its own thread with `threads` threads; the first
/// decisive answer stops the others. A witness is replayed against the whole query; `verified`
/// beside a witness is a disagreement, never resolved by picking a side.
fn race(
    query: &Query<'_>,
    k: usize,
    members: &[&'static str],
    threads: usize,
    opts: &BackendOptions,
    stats: &mut BackendStats,
) -> Race {
    let sub = query.spec.only_disjunct(k);
    let subquery = Query { net: query.net, spec: &sub, bounds: query.bounds };
    let (child, _guard) = opts.budget.child(None);
    let (tx, rx) = mpsc::channel();
    let results: Vec<(usize, Verdict, BackendStats)> = std::thread::scope(|s| {
        for (i, &m) in members.iter().enumerate() {
            let tx = tx.clone();
            let mopts = BackendOptions { threads, budget: child.clone() };
            let subquery = &subquery;
            s.spawn(move || {
                // Each thread makes its own instance (backends are not `Sync`).
                let Some(backend) = super::by_name(m) else { return };
                let (v, st) = backend.solve(subquery, &mopts);
                let _ = tx.send((i, v, st));
            });
        }
        drop(tx);
        let mut out = Vec::new();
        for r in rx.iter() {
            if matches!(r.1, Verdict::Verified | Verdict::Falsified { .. }) {
                child.stop();
            }
            out.push(r);
        }
        out
    });
    let mut verified_by = None;
    let mut witness: Option<(usize, Witness)> = None;
    let mut reasons = Vec::new();
    for (i, v, st) in results {
        merge(stats, members[i], st);
        match v {
            Verdict::Verified => verified_by = Some(i),
            Verdict::Falsified { witness: w } => witness = Some((i, w)),
            Verdict::Unknown { reason } => reasons.push(reason.prefixed(&format!("{}: ", members[i]))),
        }
    }
    match (verified_by, witness) {
        (Some(a), Some((b, _))) => Race::Disagreement(format!(
            "disjunct {k}: `{}` verified it and `{}` replayed a witness",
            members[a], members[b]
        )),
        (None, Some((i, w))) => match Witness::replay(query.net, query.spec, w.input()) {
            Some(w) => Race::Witness(i, w),
            None => {
                reasons.push(Unknown::SolverError(format!(
                    "`{}`'s witness does not replay against the whole query",
                    members[i]
                )));
                Race::Open(Unknown::combine(reasons))
            }
        },
        (Some(i), None) => Race::Verified(i),
        (None, None) => Race::Open(Unknown::combine(reasons)),
    }
}

/// `decided_by_<member>`: how many disjuncts each member closed first.
fn record_wins(stats: &mut BackendStats, members: &[&str], wins: &[usize]) {
    for (m, w) in members.iter().zip(wins) {
        stats.extra.insert(format!("decided_by_{m}"), *w as f64);
    }
}

/// Sizes of the largest member model; times, nodes and candidates summed
/// ([`BackendStats::add_run`]); every member's own figures under its name (`milp.rounds`,
/// `cpsat.conflicts`, …), summed over disjuncts.
fn merge(into: &mut BackendStats, member: &str, s: BackendStats) {
    into.add_run(&s);
    for (k, v) in s.extra {
        *into.extra.entry(format!("{member}.{k}")).or_insert(0.0) += v;
    }
}
