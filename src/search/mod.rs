//! Gradient-based counterexample search (PGD on the integer input box), and the random-sampling
//! baseline it is measured against.
//!
//! The search runs projected signed-gradient descent on a real-valued [`surrogate`] of the network
//! with straight-through gradients, minimising a margin loss of the unsafe condition: for a
//! disjunct (a conjunction of atoms `Σ c·y ≤ rhs`) the loss is `max_atoms (Σ c·y − rhs)`, which is
//! `≤ 0` exactly when the disjunct holds. Each restart either targets one disjunct or minimises
//! the smallest disjunct loss (untargeted). Iterates are projected onto the box; every step's
//! rounded point is a candidate, and a candidate counts only once
//! [`Witness::replay`](crate::verdict::Witness::replay) has confirmed it with the exact executor.
//!
//! Restarts run in lock-step batches (one matrix-matrix product per layer and step), split over
//! threads. Each restart draws from its own ChaCha8 stream derived from the seed and its index,
//! and a step's witness is the one of the lowest restart index, so results depend only on the
//! options (not on the thread count), as long as the time budget does not bind
//! ([`SearchOptions::max_evaluations`] gives a deterministic budget).
//! `benchmarks/search/README.md` records the measurements behind the defaults.

pub mod surrogate;

use crate::net::Network;
use crate::spec::{Atom, Spec};
use crate::verdict::Witness;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::time::{Duration, Instant};
pub use surrogate::{Forward, Surrogate, Workspace};

/// Which disjunct a restart descends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targeting {
    /// Minimise the smallest disjunct loss (the gradient follows whichever disjunct is closest).
    Untargeted,
    /// Restart `r` targets one disjunct; disjuncts are taken in order of their loss at the box
    /// center, closest first, cycling.
    PerDisjunct,
    /// Restart 0 and every `(K + 1)`-th restart are untargeted, the others target disjuncts as
    /// in [`Targeting::PerDisjunct`].
    Mixed,
}

/// How iterates meet the integer grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Iterate {
    /// A real iterate moves by real steps; each step's candidate is its nearest integer point.
    Real,
    /// The iterate stays on the grid: steps are rounded to whole units (at least 1).
    Integer,
}

/// Step size over a restart, as a fraction of each input's box width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    Constant,
    /// Linear decay from `step_size` to the minimum step.
    Linear,
    /// Cosine decay from `step_size` to the minimum step.
    Cosine,
}

/// Options of [`search`] and [`random_sampling`].
#[derive(Clone, Debug)]
pub struct SearchOptions {
    /// Wall-clock budget (checked once per step).
    pub budget: Duration,
    pub seed: u64,
    /// Most restarts (trajectories); restart 0 starts at the box center, the others at uniform
    /// random integer points.
    pub restarts: usize,
    /// Worker threads (0 = all available). Results do not depend on it.
    pub threads: usize,
    /// Gradient steps per restart.
    pub steps: usize,
    /// Restarts advanced together (one batched forward/backward pass per step).
    pub batch: usize,
    /// Deterministic budget: most exact executions (replays) in total; `None` = unlimited.
    pub max_evaluations: Option<u64>,
    /// A restart ends early once its candidate has not changed for this many steps.
    pub patience: usize,
    /// Initial step, as a fraction of each input's box width.
    pub step_size: f32,
    pub schedule: Schedule,
    pub targeting: Targeting,
    pub iterate: Iterate,
    pub forward: Forward,
    /// Gradient factor outside clamp/ReLU ranges (0 = plain straight-through).
    pub leak: f32,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            budget: Duration::from_secs(1),
            seed: 0,
            restarts: 1024,
            threads: 1,
            steps: 40,
            batch: 16,
            max_evaluations: None,
            patience: 8,
            step_size: 0.5,
            schedule: Schedule::Cosine,
            targeting: Targeting::Mixed,
            iterate: Iterate::Real,
            forward: Forward::Rounded,
            leak: 0.05,
        }
    }
}

/// What a search found and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    /// A replayed counterexample.
    pub witness: Option<Witness>,
    /// Exact executions (replays) of candidates.
    pub evaluations: u64,
    /// Restarts begun (for [`random_sampling`]: points drawn).
    pub restarts_run: usize,
    /// Batched surrogate gradient steps (forward + backward of one restart).
    pub gradient_steps: u64,
    /// Per disjunct of the spec, the smallest surrogate loss any iterate reached (`≤ 0`: the
    /// surrogate met the disjunct). Empty for [`random_sampling`]. A ranking hint for the
    /// complete backends — the closest disjunct is the likeliest to hold — never a verdict.
    pub best_loss: Vec<f32>,
}

impl SearchResult {
    fn empty() -> SearchResult {
        SearchResult { witness: None, evaluations: 0, restarts_run: 0, gradient_steps: 0, best_loss: Vec::new() }
    }
}

/// The RNG of restart (or sampling round) `stream` under `seed`.
fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

fn with_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    let n = if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
    if n <= 1 {
        // A one-thread pool keeps `par_iter` on this thread without spawning workers.
        if let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(1).use_current_thread().build() {
            return pool.install(f);
        }
        return f();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

/// Loss of one disjunct on surrogate outputs `y`: `max_a (Σ c·y − rhs)` and the maximising atom.
fn disjunct_loss<'a>(conj: &'a [Atom], y: &[f32]) -> (f32, Option<&'a Atom>) {
    let mut best = (f32::NEG_INFINITY, None);
    for a in conj {
        let v: f32 = a.terms.iter().map(|&(j, c)| c as f32 * y[j]).sum::<f32>() - a.rhs as f32;
        if v > best.0 {
            best = (v, Some(a));
        }
    }
    if conj.is_empty() {
        // An empty conjunction always holds.
        best.0 = f32::NEG_INFINITY;
    }
    best
}

/// One trajectory in a batch slot.
struct Slot {
    restart: usize,
    target: Option<usize>,
    step: usize,
    x: Vec<f32>,
    cand: Vec<i64>,
    last: Vec<i64>,
    unchanged: usize,
    active: bool,
}

/// A contiguous chunk of slots with its own workspace (one unit of parallel work).
struct Chunk {
    slots: Vec<Slot>,
    ws: Workspace,
    /// Smallest loss per disjunct over this chunk's iterates so far.
    best_loss: Vec<f32>,
}

struct Ctx<'a> {
    spec: &'a Spec,
    sur: &'a Surrogate,
    opts: &'a SearchOptions,
    lo: Vec<f32>,
    hi: Vec<f32>,
}

impl Ctx<'_> {
    /// Step size for input `i` at step `t`.
    fn step(&self, t: usize, i: usize) -> f32 {
        let w = self.hi[i] - self.lo[i];
        let min = match self.opts.iterate {
            Iterate::Real => 0.5,
            Iterate::Integer => 1.0,
        };
        let frac = t as f32 / self.opts.steps.max(1) as f32;
        let a0 = self.opts.step_size * w;
        let a = match self.opts.schedule {
            Schedule::Constant => a0,
            Schedule::Linear => min + (a0 - min) * (1.0 - frac),
            Schedule::Cosine => min + (a0 - min) * 0.5 * (1.0 + (std::f32::consts::PI * frac).cos()),
        };
        let a = a.max(min);
        match self.opts.iterate {
            Iterate::Real => a,
            Iterate::Integer => a.round(),
        }
    }

    /// Round the iterate of a slot to its candidate grid point.
    fn candidate(&self, s: &mut Slot) {
        for (i, c) in s.cand.iter_mut().enumerate() {
            *c = (s.x[i].round().clamp(self.lo[i], self.hi[i])) as i64;
        }
    }

    /// One batched gradient step of every active slot in the chunk.
    fn grad_step(&self, ch: &mut Chunk) {
        let n = self.sur.input_len();
        let m = self.sur.output_len();
        let b = ch.slots.len();
        {
            let inp = ch.ws.input_mut();
            for (k, s) in ch.slots.iter().enumerate() {
                inp[k * n..(k + 1) * n].copy_from_slice(&s.x);
            }
        }
        self.sur.forward(&mut ch.ws, b);
        let out: Vec<f32> = ch.ws.output()[..b * m].to_vec();
        let g = ch.ws.output_grad_mut(m);
        g.fill(0.0);
        for (k, s) in ch.slots.iter().enumerate() {
            if !s.active {
                continue;
            }
            let y = &out[k * m..(k + 1) * m];
            // One pass over the disjuncts: record each one's loss, and pick the atom to descend
            // on (the target's, or the closest disjunct's when untargeted).
            let mut chosen = (f32::INFINITY, None);
            for (d, (best, conj)) in ch.best_loss.iter_mut().zip(&self.spec.unsafe_dnf).enumerate() {
                let l = disjunct_loss(conj, y);
                *best = best.min(l.0);
                if s.target == Some(d) || (s.target.is_none() && l.0 < chosen.0) {
                    chosen = l;
                }
            }
            if let Some(a) = chosen.1 {
                for &(j, c) in &a.terms {
                    g[k * m + j] += c as f32;
                }
            }
        }
        self.sur.backward(&mut ch.ws, b);
        let gx = ch.ws.input_grad(n);
        for (k, s) in ch.slots.iter_mut().enumerate() {
            if !s.active {
                continue;
            }
            let gs = &gx[k * n..(k + 1) * n];
            for (i, &g) in gs.iter().enumerate() {
                let d = if g > 0.0 {
                    -self.step(s.step, i)
                } else if g < 0.0 {
                    self.step(s.step, i)
                } else {
                    0.0
                };
                s.x[i] = (s.x[i] + d).clamp(self.lo[i], self.hi[i]);
            }
            s.step += 1;
        }
    }
}

/// The order in which targeted restarts take disjuncts: by surrogate loss at `center`.
fn disjunct_order(sur: &Surrogate, spec: &Spec, center: &[f32]) -> Vec<usize> {
    let mut ws = sur.workspace(1);
    ws.input_mut().copy_from_slice(center);
    sur.forward(&mut ws, 1);
    let y = ws.output();
    let mut order: Vec<(f32, usize)> =
        spec.unsafe_dnf.iter().enumerate().map(|(k, conj)| (disjunct_loss(conj, y).0, k)).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    order.into_iter().map(|(_, k)| k).collect()
}

fn target_of(t: Targeting, restart: usize, order: &[usize]) -> Option<usize> {
    let k = order.len();
    match t {
        Targeting::Untargeted => None,
        Targeting::PerDisjunct => Some(order[restart % k]),
        Targeting::Mixed => {
            let r = restart % (k + 1);
            if r == 0 {
                None
            } else {
                Some(order[(restart / (k + 1) * k + r - 1) % k])
            }
        }
    }
}

/// Projected gradient search for a counterexample to `spec` on `net`. Returns a witness only if
/// the exact executor replayed it; an invalid spec (see [`Spec::check`]) or an empty unsafe
/// condition yields no witness.
pub fn search(net: &Network, spec: &Spec, opts: &SearchOptions) -> SearchResult {
    if spec.check(net).is_err() || spec.unsafe_dnf.is_empty() || opts.restarts == 0 {
        return SearchResult::empty();
    }
    with_pool(opts.threads, || search_in_pool(net, spec, opts))
}

fn search_in_pool(net: &Network, spec: &Spec, opts: &SearchOptions) -> SearchResult {
    let start = Instant::now();
    let sur = Surrogate::new(net, opts.forward, opts.leak);
    let n = sur.input_len();
    let ctx = Ctx {
        spec,
        sur: &sur,
        opts,
        lo: spec.input.lo.iter().map(|&v| v as f32).collect(),
        hi: spec.input.hi.iter().map(|&v| v as f32).collect(),
    };
    let center: Vec<f32> = spec.input.lo.iter().zip(&spec.input.hi).map(|(&l, &h)| (l + (h - l) / 2) as f32).collect();
    let order = disjunct_order(&sur, spec, &center);

    let batch = opts.batch.clamp(1, opts.restarts);
    let threads = rayon::current_num_threads().max(1);
    let per = batch.div_ceil(threads);
    let mut chunks: Vec<Chunk> = (0..batch)
        .step_by(per)
        .map(|s0| {
            let len = per.min(batch - s0);
            let slots = (0..len)
                .map(|_| Slot {
                    restart: 0,
                    target: None,
                    step: 0,
                    x: vec![0.0; n],
                    cand: vec![0; n],
                    last: vec![0; n],
                    unchanged: 0,
                    active: false,
                })
                .collect();
            Chunk { slots, ws: sur.workspace(len), best_loss: vec![f32::INFINITY; spec.unsafe_dnf.len()] }
        })
        .collect();

    let mut res = SearchResult::empty();
    loop {
        // Refill finished slots with new restarts, in slot order.
        for s in chunks.iter_mut().flat_map(|c| c.slots.iter_mut()) {
            if s.active || res.restarts_run >= opts.restarts {
                continue;
            }
            let r = res.restarts_run;
            res.restarts_run += 1;
            s.restart = r;
            s.target = target_of(opts.targeting, r, &order);
            s.step = 0;
            s.unchanged = 0;
            s.active = true;
            if r == 0 {
                s.x.copy_from_slice(&center);
            } else {
                let mut rng = rng_for(opts.seed, r as u64);
                for (i, v) in s.x.iter_mut().enumerate() {
                    *v = rng.gen_range(spec.input.lo[i]..=spec.input.hi[i]) as f32;
                }
            }
        }
        if !chunks.iter().any(|c| c.slots.iter().any(|s| s.active)) {
            break;
        }
        if start.elapsed() >= opts.budget || opts.max_evaluations.is_some_and(|m| res.evaluations >= m) {
            break;
        }

        // Candidates; a slot whose candidate did not change needs no replay.
        let mut todo: Vec<(usize, usize)> = Vec::new();
        for (ci, c) in chunks.iter_mut().enumerate() {
            for (si, s) in c.slots.iter_mut().enumerate() {
                if !s.active {
                    continue;
                }
                ctx.candidate(s);
                if s.step > 0 && s.cand == s.last {
                    s.unchanged += 1;
                } else {
                    s.unchanged = 0;
                    todo.push((ci, si));
                }
                std::mem::swap(&mut s.cand, &mut s.last);
            }
        }
        if let Some(m) = opts.max_evaluations {
            todo.truncate(m.saturating_sub(res.evaluations).min(usize::MAX as u64) as usize);
        }
        res.evaluations += todo.len() as u64;
        let found = todo
            .par_iter()
            .filter_map(|&(ci, si)| {
                let s = &chunks[ci].slots[si];
                Witness::replay(net, spec, &s.last).map(|w| (s.restart, w))
            })
            .min_by_key(|(r, _)| *r);
        if let Some((_, w)) = found {
            res.witness = Some(w);
            break;
        }

        // Retire finished or stalled restarts, then one gradient step for the rest.
        for s in chunks.iter_mut().flat_map(|c| c.slots.iter_mut()) {
            if s.active && (s.step >= opts.steps || s.unchanged >= opts.patience.max(1)) {
                s.active = false;
            }
        }
        res.gradient_steps += chunks.iter().flat_map(|c| &c.slots).filter(|s| s.active).count() as u64;
        chunks.par_iter_mut().for_each(|c| {
            if c.slots.iter().any(|s| s.active) {
                ctx.grad_step(c)
            }
        });
    }
    res.best_loss = vec![f32::INFINITY; spec.unsafe_dnf.len()];
    for c in &chunks {
        for (b, &l) in res.best_loss.iter_mut().zip(&c.best_loss) {
            *b = b.min(l);
        }
    }
    res
}

/// The baseline: uniform random integer points of the box, replayed exactly, under the same
/// budget as [`search`] (time, [`SearchOptions::max_evaluations`], and at most
/// `restarts · (steps + 1)` points, the most [`search`] could evaluate).
pub fn random_sampling(net: &Network, spec: &Spec, opts: &SearchOptions) -> SearchResult {
    if spec.check(net).is_err() || spec.unsafe_dnf.is_empty() {
        return SearchResult::empty();
    }
    with_pool(opts.threads, || {
        let start = Instant::now();
        let cap = (opts.restarts as u64).saturating_mul(opts.steps as u64 + 1);
        let cap = opts.max_evaluations.map_or(cap, |m| m.min(cap));
        let batch = (opts.batch.max(1) * 4) as u64;
        let mut res = SearchResult::empty();
        let mut round = 0u64;
        while res.evaluations < cap && start.elapsed() < opts.budget {
            let k = batch.min(cap - res.evaluations);
            let mut rng = rng_for(opts.seed, round);
            round += 1;
            let points: Vec<Vec<i64>> = (0..k)
                .map(|_| spec.input.lo.iter().zip(&spec.input.hi).map(|(&l, &h)| rng.gen_range(l..=h)).collect())
                .collect();
            res.evaluations += k;
            res.restarts_run += k as usize;
            let found = points
                .par_iter()
                .enumerate()
                .filter_map(|(i, x)| Witness::replay(net, spec, x).map(|w| (i, w)))
                .min_by_key(|(i, _)| *i);
            if let Some((_, w)) = found {
                res.witness = Some(w);
                break;
            }
        }
        res
    })
}
