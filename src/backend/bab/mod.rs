//! Branch and bound inside quiver's own bound propagation (`--backend bab`), β-CROWN-style but
//! on the integer semantics: see `encodings/bab.md` for the procedure and why each step is sound.
//!
//! A domain is the input box with pre-activation ranges of split neurons ([`domain`]). Each
//! domain is bounded by the shared symbolic propagation with its ranges intersected in
//! ([`Symbolic::with_constraints`]); a disjunct of the unsafe condition is ruled out in a domain
//! when some atom's sound lower bound exceeds its right side, and the domain is closed when every
//! disjunct is. Otherwise cheap candidates (the box centre, the corners minimising the
//! linearised objectives) are replayed, and the domain is split on a neuron's integer output
//! value (`y ≤ k` / `y ≥ k + 1`, stated exactly on its pre-activation) or, when no neuron can be
//! split, on an input coordinate; a domain whose box is one point is decided by replaying it. By
//! default a domain three splits deep is handed to the MILP backend with the domain's box and
//! bounds (sound for the domain's executions, so an infeasible MILP rules the domain out); a leaf
//! whose MILP runs out of its share of the time is split further. `verified` therefore comes
//! only from sound bounds or infeasible MILPs over a set of domains that covers the box, and
//! `falsified` only from [`Witness::replay`].
//!
//! Works on every network the symbolic propagation does (sequences and graphs): only
//! affine nodes with a monotone activation are split; everything else is covered by input splits,
//! which end at single points.
//!
//! Variants for experiments: `bab:KEY=VALUE+KEY=VALUE…` with `choose=babsr|widest`,
//! `at=kink|mid`, `order=best|depth`, `tree=joint|each` (one tree for all open disjuncts, or one
//! per disjunct), `outputs=yes|no` (split the output node's neurons too), `milp=D|none` (MILP
//! leaves at depth `D`, or none: branch and bound in the bounds alone), `sb=K` (strong branching
//! over the `K` best-scored splits; 0 or 1: off), `root=F` (a first MILP on the whole query with
//! the share `F` of the time), `race=yes` (the MILP on the whole query in a thread of its own next
//! to the tree; first decisive answer wins and stops the other). Default: `milp=3`, no strong
//! branching, best-first, one joint tree, BaBSR scores, kink splits.

pub mod branch;
pub mod domain;

use super::{Backend, BackendOptions, BackendStats, Query};
use crate::bounds::symbolic::Symbolic;
use crate::bounds::NetBounds;
use crate::budget::Budget;
use crate::spec::{InputBox, Spec};
use crate::verdict::{Unknown, Verdict, Witness};
use branch::{Choose, Split, SplitAt};
use domain::{split_input, split_neuron, Domain, PreRange};
use rayon::prelude::*;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Share of the time limit that strong branching may spend on one domain: `sb=K` is cut to the
/// number of candidates whose children can be bounded in that time (measured by the domain's
/// own propagation), so that it stays cheap on wide layers.
pub const SB_SHARE: f64 = 0.01;

/// Most domains kept open at once; beyond it the backend gives up with `Unknown`.
pub const MAX_OPEN_DOMAINS: usize = 1 << 21;

/// Boxes with at most this many integer points are split on inputs rather than neurons.
pub const SMALL_BOX: u128 = 4096;

/// Shortest time given to a MILP leaf (seconds), so that leaves deep in a re-split tree are not
/// starved into immediate time-outs.
pub const MIN_LEAF_SECONDS: f64 = 0.5;

/// Which open domain is processed next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Smallest margin first (the domain furthest from being closed): β-CROWN's order.
    Best,
    /// Deepest first (a stack): little memory, reaches leaves (and witnesses) quickly.
    Depth,
}

/// Options of the branch-and-bound backend (see the module documentation for the names).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BabOptions {
    pub choose: Choose,
    pub at: SplitAt,
    pub order: Order,
    /// One tree for all open disjuncts (`true`) or one per disjunct.
    pub joint: bool,
    /// Also split the output node's neurons.
    pub outputs: bool,
    /// Hand a domain to the MILP backend (with the domain's bounds) once it is this deep
    /// (`None`: never — pure branch and bound in the bound propagation). A leaf whose MILP runs
    /// out of its share of time is split again.
    pub milp_depth: Option<usize>,
    /// Share of the time limit for a first MILP on the whole query (the root domain).
    pub root: f64,
    /// Race the MILP backend on the whole query in a thread of its own, next to the tree.
    pub race: bool,
    /// Strong branching: bound both children of the `sb` best-scored neuron splits and take the
    /// one whose worse child has the fewest unstable neurons (0 or 1: off).
    pub sb: usize,
}

impl Default for BabOptions {
    fn default() -> Self {
        BabOptions {
            choose: Choose::Babsr,
            at: SplitAt::Kink,
            order: Order::Best,
            joint: true,
            outputs: false,
            milp_depth: Some(3),
            sb: 0,
            root: 0.0,
            race: false,
        }
    }
}

impl BabOptions {
    /// Parse a backend name `bab` or `bab:KEY=VALUE+…` (see the module documentation); `None`
    /// for anything else.
    pub fn from_name(name: &str) -> Option<BabOptions> {
        let mut o = BabOptions::default();
        if name == "bab" {
            return Some(o);
        }
        let rest = name.strip_prefix("bab:")?;
        for kv in rest.split('+').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=')?;
            match (k, v) {
                ("choose", "babsr") => o.choose = Choose::Babsr,
                ("choose", "widest") => o.choose = Choose::Widest,
                ("at", "kink") => o.at = SplitAt::Kink,
                ("at", "mid") => o.at = SplitAt::Mid,
                ("order", "best") => o.order = Order::Best,
                ("order", "depth") => o.order = Order::Depth,
                ("tree", "joint") => o.joint = true,
                ("tree", "each") => o.joint = false,
                ("outputs", "yes") => o.outputs = true,
                ("outputs", "no") => o.outputs = false,
                ("sb", k) => o.sb = k.parse().ok()?,
                ("race", "yes") => o.race = true,
                ("race", "no") => o.race = false,
                ("root", f) => o.root = f.parse().ok().filter(|f: &f64| (0.0..=1.0).contains(f))?,
                ("milp", "none") => o.milp_depth = None,
                ("milp", d) => o.milp_depth = Some(d.parse().ok()?),
                _ => return None,
            }
        }
        Some(o)
    }
}

/// The branch-and-bound backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bab {
    pub opts: BabOptions,
}

/// A closed domain, for tests: the domain and why it was closed.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub domain: Domain,
    pub why: Closed,
}

/// Why a domain was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Bounds rule out every disjunct.
    Bounds,
    /// The pre-activation ranges contradict the bounds: no execution is in the domain.
    Infeasible,
    /// The box is one point, replayed without violation.
    Point,
    /// The domain's MILP is infeasible.
    Milp,
}

/// Counters of one run.
#[derive(Clone, Debug, Default)]
struct Counters {
    domains: u64,
    neuron_splits: u64,
    input_splits: u64,
    closed_bounds: u64,
    closed_infeasible: u64,
    closed_point: u64,
    closed_milp: u64,
    milp_leaves: u64,
    max_depth: usize,
    replays: u64,
}

/// What processing one domain gave.
enum Outcome {
    Closed(Closed),
    Witness(Witness),
    Children(Vec<Domain>),
    /// A leaf MILP failed for a reason other than its time share (unsupported, solver error).
    Failed(Unknown),
}

struct Node(Domain, Order, u64);

impl PartialEq for Node {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Node {}
impl PartialOrd for Node {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Node {
    /// The heap pops the greatest: the smallest margin (best-first) or the deepest (depth-first),
    /// then the latest pushed.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        let key = match self.1 {
            Order::Best => o.0.margin.total_cmp(&self.0.margin),
            Order::Depth => self.0.depth.cmp(&o.0.depth),
        };
        key.then(self.2.cmp(&o.2))
    }
}

/// How a tree ended.
enum TreeEnd {
    /// Every domain closed.
    Closed,
    Witness(Witness),
    Unknown(Unknown),
    /// The racing MILP decided first.
    RaceWon(Verdict),
}

impl Backend for Bab {
    fn name(&self) -> &'static str {
        "bab"
    }

    fn solve(&self, query: &Query<'_>, opts: &BackendOptions) -> (Verdict, BackendStats) {
        let (v, stats, _) = self.run(query, opts, false);
        (v, stats)
    }
}

/// Why the tree stopped early, as the budget says.
fn stopped(budget: &Budget, c: &Counters, open: usize) -> Unknown {
    budget.stop_reason(format!("{} domains processed, {open} open", c.domains))
}

impl Bab {
    /// Run, and with `keep_leaves` also return every closed domain (for tests of coverage).
    pub fn run(
        &self,
        query: &Query<'_>,
        opts: &BackendOptions,
        keep_leaves: bool,
    ) -> (Verdict, BackendStats, Vec<Leaf>) {
        let start = Instant::now();
        let threads = opts.threads.max(1);
        if !self.opts.race {
            let (v, c, leaves) = self.trees(query, opts, threads, None, keep_leaves);
            return (v, stats_of(&c.counters, start, threads, false), leaves);
        }
        // The racing MILP gets its own budget, stopped when the tree decides first (and by the
        // parent's deadline); the tree polls the MILP's answer between batches.
        let (race_budget, _guard) = opts.budget.child(None);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let mopts = BackendOptions { threads: 1, budget: race_budget.clone() };
            s.spawn(move || {
                let _ = tx.send(super::milp::Milp.solve(query, &mopts).0);
            });
            let (v, c, leaves) = self.trees(query, opts, threads, Some(&rx), keep_leaves);
            let (v, won) = match v {
                Verdict::Unknown { reason } => {
                    // The tree gave up (time, open-domain cap): the MILP, on the same deadline,
                    // answers about now; wait for it (its budget stops at the deadline).
                    match rx.recv() {
                        Ok(m @ (Verdict::Verified | Verdict::Falsified { .. })) => (m, true),
                        Ok(Verdict::Unknown { reason: r }) => {
                            (Verdict::unknown(Unknown::combine(vec![reason, r.prefixed("milp: ")])), false)
                        }
                        Err(_) => (Verdict::unknown(reason), false),
                    }
                }
                v => {
                    // A racing answer that arrived unseen must not contradict the tree's.
                    let contradicts = matches!(
                        (&v, rx.try_recv()),
                        (Verdict::Verified, Ok(Verdict::Falsified { .. }))
                            | (Verdict::Falsified { .. }, Ok(Verdict::Verified))
                    );
                    if contradicts {
                        let msg = "bab: the tree and the racing MILP contradict each other (a soundness bug)";
                        (Verdict::unknown(Unknown::Disagreement(msg.into())), false)
                    } else {
                        (v, c.race_won)
                    }
                }
            };
            race_budget.stop();
            (v, stats_of(&c.counters, start, threads, won), leaves)
        })
    }

    /// The trees (one joint, or one per disjunct), stopped by the budget or a race answer.
    fn trees(
        &self,
        query: &Query<'_>,
        opts: &BackendOptions,
        threads: usize,
        race: Option<&std::sync::mpsc::Receiver<Verdict>>,
        keep_leaves: bool,
    ) -> (Verdict, RunCounters, Vec<Leaf>) {
        let n = query.spec.unsafe_dnf.len();
        let groups: Vec<Vec<usize>> =
            if self.opts.joint { vec![(0..n).collect()] } else { (0..n).map(|k| vec![k]).collect() };
        let mut c = Counters::default();
        let mut leaves = Vec::new();
        let pool = if threads > 1 { rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok() } else { None };
        let mut race_won = false;
        let mut verdict = Verdict::Verified;
        for open in groups {
            if open.is_empty() {
                continue;
            }
            let root = Domain {
                input: query.spec.input.clone(),
                splits: Vec::new(),
                open,
                depth: 0,
                margin: f64::NEG_INFINITY,
                milp_off: false,
            };
            match self.tree(query, opts, root, threads, pool.as_ref(), &mut c, keep_leaves.then_some(&mut leaves), race)
            {
                TreeEnd::Closed => {}
                TreeEnd::Witness(w) => {
                    verdict = Verdict::Falsified { witness: w };
                    break;
                }
                TreeEnd::Unknown(u) => {
                    verdict = Verdict::unknown(u);
                    break;
                }
                TreeEnd::RaceWon(v) => {
                    verdict = v;
                    race_won = true;
                    break;
                }
            }
        }
        (verdict, RunCounters { counters: c, race_won }, leaves)
    }

    #[allow(clippy::too_many_arguments)]
    fn tree(
        &self,
        q: &Query<'_>,
        opts: &BackendOptions,
        root: Domain,
        threads: usize,
        pool: Option<&rayon::ThreadPool>,
        c: &mut Counters,
        mut leaves: Option<&mut Vec<Leaf>>,
        race: Option<&std::sync::mpsc::Receiver<Verdict>>,
    ) -> TreeEnd {
        let budget = &opts.budget;
        // The time limit at the start of the tree, for the leaves' shares.
        let total = budget.remaining();
        let mut heap = BinaryHeap::new();
        let mut seq = 0u64;
        heap.push(Node(root, self.opts.order, seq));
        while !heap.is_empty() {
            if let Some(Ok(v @ (Verdict::Verified | Verdict::Falsified { .. }))) = race.map(|r| r.try_recv()) {
                return TreeEnd::RaceWon(v);
            }
            if budget.is_stopped() {
                return TreeEnd::Unknown(stopped(budget, c, heap.len()));
            }
            if heap.len() > MAX_OPEN_DOMAINS {
                return TreeEnd::Unknown(Unknown::MemoryLimit(format!(
                    "bab: more than {MAX_OPEN_DOMAINS} open domains"
                )));
            }
            let batch: Vec<Domain> = (0..threads).map_while(|_| heap.pop().map(|n| n.0)).collect();
            // A MILP leaf's share of the remaining time: the time left over the leaves still to
            // come, counting 2^(D − depth) for an open domain above the leaf depth D; at least a
            // leaf's share of the whole tree, so that re-split leaves do not starve.
            let share = match (budget.remaining(), total, self.opts.milp_depth) {
                (Some(left), Some(total), Some(dd)) => {
                    let est = |d: &Domain| 1u64 << dd.saturating_sub(d.depth).min(20);
                    let n: u64 = heap.iter().map(|n| est(&n.0)).chain(batch.iter().map(est)).sum();
                    let share = left.as_secs_f64() / n.max(1) as f64 * batch.len() as f64;
                    let floor = total.as_secs_f64() / f64::from(1u32 << dd.min(20));
                    Some(Duration::from_secs_f64(share.max(floor).max(MIN_LEAF_SECONDS)).min(left))
                }
                (left, _, _) => left,
            };
            let root_share = total.map(|t| t.mul_f64(self.opts.root));
            let work = |d: &Domain| {
                let root_milp = d.depth == 0 && self.opts.root > 0.0;
                self.process(q, d, budget, if root_milp { root_share } else { share }, root_milp, total)
            };
            let outs: Vec<(Outcome, u64)> = match (pool, batch.len() > 1) {
                (Some(p), true) => p.install(|| batch.par_iter().map(work).collect()),
                _ => batch.iter().map(work).collect(),
            };
            for (d, (out, replays)) in batch.into_iter().zip(outs) {
                c.domains += 1;
                c.replays += replays;
                c.max_depth = c.max_depth.max(d.depth);
                match out {
                    Outcome::Witness(w) => return TreeEnd::Witness(w),
                    Outcome::Failed(u) => return TreeEnd::Unknown(u),
                    Outcome::Closed(why) => {
                        match why {
                            Closed::Bounds => c.closed_bounds += 1,
                            Closed::Infeasible => c.closed_infeasible += 1,
                            Closed::Point => c.closed_point += 1,
                            Closed::Milp => c.closed_milp += 1,
                        }
                        if let Some(l) = leaves.as_deref_mut() {
                            l.push(Leaf { domain: d, why });
                        }
                    }
                    Outcome::Children(ch) => {
                        if ch.first().is_some_and(|x| x.input != d.input) {
                            c.input_splits += 1;
                        } else {
                            c.neuron_splits += 1;
                        }
                        if self.opts.milp_depth.is_some_and(|m| d.depth >= m) {
                            c.milp_leaves += 1;
                        }
                        for x in ch {
                            seq += 1;
                            heap.push(Node(x, self.opts.order, seq));
                        }
                    }
                }
            }
        }
        // A stop while the last batch was processed may have cut a leaf MILP short: its domain
        // was then split (not closed), so an empty heap still means every domain closed.
        TreeEnd::Closed
    }

    /// Bound one domain; close it, find a witness, or split it. Also returns the replays made.
    fn process(
        &self,
        q: &Query<'_>,
        d: &Domain,
        budget: &Budget,
        share: Option<Duration>,
        root_milp: bool,
        total: Option<Duration>,
    ) -> (Outcome, u64) {
        let net = q.net;
        let spec: &Spec = q.spec;
        let t_prop = Instant::now();
        let Some(sym) = Symbolic::with_constraints(net, &d.input, &d.constraints(net)) else {
            return (Outcome::Closed(Closed::Infeasible), 0);
        };
        let t_prop = t_prop.elapsed().as_secs_f64();
        // Per open disjunct: its margin (the largest atom lower bound minus the right side; > 0
        // rules it out) and its binding atom.
        let mut open = Vec::new();
        let mut binding = Vec::new();
        let mut worst: Option<(i128, usize, usize)> = None; // (margin, disjunct, atom)
        for &k in &d.open {
            let Some(conj) = spec.unsafe_dnf.get(k) else { continue };
            let mut best: Option<(i128, usize)> = None;
            for (ai, a) in conj.iter().enumerate() {
                let lo = sym.linear_range(&a.terms).0 - i128::from(a.rhs);
                if best.is_none_or(|(m, _)| lo > m) {
                    best = Some((lo, ai));
                }
            }
            // An empty conjunction is always true: margin 0, never ruled out.
            let (m, ai) = best.unwrap_or((0, 0));
            if conj.is_empty() || m <= 0 {
                open.push(k);
                binding.push(ai);
                if worst.is_none_or(|(wm, _, _)| m < wm) {
                    worst = Some((m, k, ai));
                }
            }
        }
        let Some((margin, worst_k, atom)) = worst else {
            return (Outcome::Closed(Closed::Bounds), 0);
        };
        let b = sym.bounds();
        let terms: &[(usize, i64)] = spec.unsafe_dnf[worst_k].get(atom).map_or(&[], |a| &a.terms[..]);
        let lam = sym.backsub_coefficients(terms);
        // Cheap candidates: the box centre and, per open disjunct, the corner minimising its
        // binding atom's linearised left side.
        let mut replays = 0;
        let centre: Vec<i64> = d.input.lo.iter().zip(&d.input.hi).map(|(&l, &h)| l + (h - l).div_euclid(2)).collect();
        let mut cands = vec![centre, branch::minimizing_corner(b, &lam[0])];
        for (&k, &ai) in open.iter().zip(&binding) {
            if k == worst_k {
                continue;
            }
            let Some(a) = spec.unsafe_dnf[k].get(ai) else { continue };
            let x = branch::minimizing_corner(b, &sym.backsub_coefficients(&a.terms)[0]);
            if !cands.contains(&x) {
                cands.push(x);
            }
        }
        for x in &cands {
            replays += 1;
            if let Some(w) = Witness::replay(net, spec, x) {
                return (Outcome::Witness(w), replays);
            }
        }
        let mut milp_off = d.milp_off;
        if !d.milp_off && (root_milp || self.opts.milp_depth.is_some_and(|m| d.depth >= m)) {
            match self.leaf_milp(q, d, &open, b, budget, share) {
                LeafEnd::Closed => return (Outcome::Closed(Closed::Milp), replays),
                LeafEnd::Witness(w) => return (Outcome::Witness(w), replays + 1),
                LeafEnd::Failed(u) => return (Outcome::Failed(u), replays),
                LeafEnd::OutOfTime => {}
                LeafEnd::Spurious => milp_off = true,
            }
        }
        if d.input.lo == d.input.hi {
            // One input point: its execution is the only one in the domain, and it is safe
            // (the centre was replayed above).
            return (Outcome::Closed(Closed::Point), replays);
        }
        // strong branching within its share of the time: two propagations per candidate
        let sb = match total {
            Some(l) => self.opts.sb.min((l.as_secs_f64() * SB_SHARE / (2.0 * t_prop.max(1e-6))) as usize),
            None => self.opts.sb,
        };
        let how = self.opts.choose;
        let split = if d.input.volume() <= SMALL_BOX {
            // Few inputs left: halving the box ends the branch within 2·volume domains, where
            // neuron splits may not (a split range is not propagated back to the inputs, so
            // jointly infeasible ranges of several neurons can go unnoticed for long).
            None
        } else if sb > 1 {
            self.strong(q, d, b, &lam, how, sb)
        } else {
            branch::candidates(net, b, Some(&lam), how, self.opts.at, self.opts.outputs, 1).into_iter().next()
        };
        let child = |input: InputBox, splits: Vec<PreRange>| Domain {
            input,
            splits,
            open: open.clone(),
            depth: d.depth + 1,
            margin: margin as f64,
            milp_off,
        };
        let neuron_children = match split {
            Some(Split::Neuron { node, neuron, k, .. }) => {
                let pre = b.layers.get(node).and_then(|l| l.pre.as_ref()).and_then(|p| p.get(neuron)).copied();
                pre.and_then(|p| split_neuron(net, node, neuron, p, k)).map(|(l, r)| {
                    let (mut sl, mut sr) = (d.splits.clone(), d.splits.clone());
                    sl.push(l);
                    sr.push(r);
                    vec![child(d.input.clone(), sl), child(d.input.clone(), sr)]
                })
            }
            _ => None,
        };
        let children = neuron_children.unwrap_or_else(|| {
            // No neuron can be split: halve the input coordinate that matters most. The box is
            // not a point (checked above), so some coordinate has lo < hi.
            let i = match branch::input_split(b, Some(&lam[0])) {
                Some(Split::Input { i, .. }) => i,
                _ => (0..d.input.len()).find(|&i| d.input.lo[i] < d.input.hi[i]).unwrap_or(0),
            };
            let (l, r) = split_input(&d.input, i);
            vec![child(l, d.splits.clone()), child(r, d.splits.clone())]
        });
        (Outcome::Children(children), replays)
    }

    /// The domain's own MILP over its open disjuncts, with its box and bounds: the bounds are
    /// sound for the domain's executions, so an infeasible MILP rules the domain out (see
    /// `encodings/bab.md`). Runs on a budget of `share` that also stops with `budget`.
    fn leaf_milp(
        &self,
        q: &Query<'_>,
        d: &Domain,
        open: &[usize],
        b: &NetBounds,
        budget: &Budget,
        share: Option<Duration>,
    ) -> LeafEnd {
        let sub = Spec {
            input: d.input.clone(),
            unsafe_dnf: open.iter().map(|&k| q.spec.unsafe_dnf[k].clone()).collect(),
            description: q.spec.description.clone(),
        };
        let sq = Query { net: q.net, spec: &sub, bounds: b };
        let (leaf_budget, _guard) = budget.child(share);
        let bo = BackendOptions { threads: 1, budget: leaf_budget };
        match super::milp::Milp.solve(&sq, &bo).0 {
            Verdict::Verified => LeafEnd::Closed,
            Verdict::Falsified { witness } => match Witness::replay(q.net, q.spec, witness.input()) {
                Some(w) => LeafEnd::Witness(w),
                // A leaf witness is replayed against the leaf's spec, whose box lies inside the
                // query's: it always replays against the whole spec too. Never trust it blindly.
                None => LeafEnd::OutOfTime,
            },
            // Something the MILP cannot encode will not change deeper in the tree.
            Verdict::Unknown { reason: reason @ Unknown::Unsupported(_) } => {
                LeafEnd::Failed(reason.prefixed("bab leaf milp: "))
            }
            // Out of its share of time or stopped. Otherwise a candidate that did not replay: the
            // leaf's encoding is exact only for executions inside the domain's bounds, and it
            // does not pin every pre-activation to its range (a neuron that is stable on the
            // domain is encoded by its constant or linear piece alone), so a solution may be an
            // input whose real execution leaves the domain. Splitting further is always sound.
            Verdict::Unknown { reason: Unknown::TimeLimit(_) | Unknown::Interrupted(_) } => LeafEnd::OutOfTime,
            Verdict::Unknown { .. } => LeafEnd::Spurious,
        }
    }

    /// Strong branching over the `sb` best-scored neuron splits: bound both children of each
    /// and take the split whose worse child has the fewest unstable neurons (an infeasible child
    /// counts 0); ties keep the BaBSR order.
    fn strong(
        &self,
        q: &Query<'_>,
        d: &Domain,
        b: &NetBounds,
        lam: &[Vec<f64>],
        how: Choose,
        sb: usize,
    ) -> Option<Split> {
        let net = q.net;
        let cands = branch::candidates(net, b, Some(lam), how, self.opts.at, self.opts.outputs, sb);
        let mut best: Option<(usize, Split)> = None;
        for c in cands {
            let Split::Neuron { node, neuron, k, .. } = c else { continue };
            let Some(pre) = b.layers.get(node).and_then(|l| l.pre.as_ref()).and_then(|p| p.get(neuron)).copied() else {
                continue;
            };
            let Some((l, r)) = split_neuron(net, node, neuron, pre, k) else { continue };
            let worst = [l, r]
                .into_iter()
                .map(|s| {
                    let mut ch = d.clone();
                    ch.splits.push(s);
                    Symbolic::with_constraints(net, &d.input, &ch.constraints(net))
                        .map_or(0, |sym| sym.bounds().unstable_count(net))
                })
                .max()
                .unwrap_or(0);
            if best.as_ref().is_none_or(|(w, _)| worst < *w) {
                best = Some((worst, c));
            }
        }
        best.map(|(_, c)| c)
    }
}

/// How a leaf MILP ended.
enum LeafEnd {
    Closed,
    Witness(Witness),
    /// Out of its time share (or stopped): split the domain further.
    OutOfTime,
    /// The MILP's candidates did not replay (they lie outside the domain): split further, and
    /// give the subtree no more MILPs (they would likely loop the same way).
    Spurious,
    Failed(Unknown),
}

struct RunCounters {
    counters: Counters,
    race_won: bool,
}

fn stats_of(c: &Counters, start: Instant, threads: usize, race_won: bool) -> BackendStats {
    let mut stats =
        BackendStats { solve_seconds: start.elapsed().as_secs_f64(), nodes: Some(c.domains), ..Default::default() };
    for (k, v) in [
        ("domains", c.domains as f64),
        ("neuron_splits", c.neuron_splits as f64),
        ("input_splits", c.input_splits as f64),
        ("closed_bounds", c.closed_bounds as f64),
        ("closed_infeasible", c.closed_infeasible as f64),
        ("closed_point", c.closed_point as f64),
        ("closed_milp", c.closed_milp as f64),
        ("milp_leaves_resplit", c.milp_leaves as f64),
        ("max_depth", c.max_depth as f64),
        ("replays", c.replays as f64),
        ("threads", threads as f64),
        ("race_won_by_milp", f64::from(u8::from(race_won))),
    ] {
        stats.extra.insert(k.into(), v);
    }
    stats
}
