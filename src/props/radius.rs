//! Maximum robustness radius: the largest ε at which L∞ robustness around an input holds, with
//! ε + 1 falsified by a replayed witness.
//!
//! The query at level `ε` is [`robustness`] around `center` with radius `ε` grid steps
//! ([`Unit::Integer`]) or `ε · step` real units ([`Unit::Real`]); its box grows with ε (both
//! mappings are monotone), so
//!
//! * `verified` at ε proves every smaller ε (its box is a subset), and
//! * a witness `x` found at ε is a witness at every level whose box contains `x` — the smallest
//!   such level `d ≤ ε` is found by bisection and the witness is replayed there at once.
//!
//! The answer is therefore an interval: `lower` = the largest ε proved, `upper` = the smallest ε
//! with a replayed witness; the radius is decided when `upper = lower + 1`. Levels in between that
//! no procedure decided within its time limit stay open, and the report says so (`radius ≥
//! lower`, `radius < upper`) instead of guessing.
//!
//! [`Strategy::Search`] runs three phases, each reusing what the earlier ones established:
//! 1. bisection with bound propagation alone (milliseconds per level; a sound `verified` raises
//!    `lower`);
//! 2. bisection with the pipeline *without* a complete backend (probe, bounds, gradient search:
//!    about the search budget per level) for the smallest level the search falsifies (lowers
//!    `upper`; an undecided level here is only "open");
//! 3. the whole pipeline ([`verify::verify_within`]) at the lowest open level above `lower`, up
//!    to `upper`: the levels next to `lower` are the easiest to prove, and `lower + 1` falsified
//!    decides the radius. An undecided level is kept with its reason and the next one is tried.
//!
//! [`Strategy::Linear`] is the baseline a user's shell loop implements: `verify` at ε = 0, 1, 2, …
//! until the first `falsified`.
//!
//! Not reused across levels (yet): the bounds of a smaller box (tighter, but a bigger box's
//! bounds cannot be derived from them) and the search's best iterates (each pipeline run starts
//! its search afresh).

use crate::bounds::{self, Method, SpecStatus};
use crate::budget::Budget;
use crate::net::Network;
use crate::spec::robust::{robustness, Radius, TieRule};
use crate::spec::{InputBox, Spec, SpecError};
use crate::verdict::{Unknown, Verdict, Witness};
use crate::verify::{self, Options};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use thiserror::Error;

/// What one level ε of the radius means.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "step", rename_all = "snake_case")]
pub enum Unit {
    /// ε steps of the quantized input grid: `|q − q₀| ≤ ε` (clipped to the input type).
    Integer,
    /// `ε · step` in real input units around the dequantized center, mapped through the input
    /// quantization as [`Radius::Real`] does (`step` > 0, finite).
    Real(f64),
}

/// How the levels are visited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Bounds-only bisection, then the pipeline at gap midpoints, reusing every answer.
    Search,
    /// The pipeline at ε = 0, 1, 2, … until the first `falsified` (the per-ε loop baseline).
    Linear,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "search" => Ok(Strategy::Search),
            "linear" => Ok(Strategy::Linear),
            _ => Err(format!("unknown strategy `{s}` (expected `search` or `linear`)")),
        }
    }
}

/// The robustness question whose radius is sought.
#[derive(Clone, Debug)]
pub struct RadiusQuery<'a> {
    pub net: &'a Network,
    /// The integer input (length [`Network::input_len`], inside the input type).
    pub center: &'a [i64],
    /// The class that must win everywhere in the box.
    pub label: usize,
    pub tie: TieRule,
    pub unit: Unit,
}

impl RadiusQuery<'_> {
    /// The robustness spec at level `eps` (≥ 0).
    ///
    /// # Errors
    /// [`SpecError`] for a bad center or label, or a radius that cannot be represented.
    pub fn spec_at(&self, eps: i64) -> Result<Spec, SpecError> {
        let radius = match self.unit {
            Unit::Integer => Radius::Integer(eps),
            Unit::Real(step) => Radius::Real(eps as f64 * step),
        };
        let mut spec = robustness(self.net, self.center, radius, self.label, self.tie)?;
        if let Unit::Real(step) = self.unit {
            spec.description = format!("{} (level {eps} × {step})", spec.description);
        }
        Ok(spec)
    }

    /// The smallest level whose box is the whole input type range (every larger level poses the
    /// same query).
    fn saturation(&self) -> Result<i64, RadiusError> {
        let t = self.net.input_info().quant.dtype;
        if self.unit == Unit::Integer {
            return Ok(self.center.iter().map(|&c| (c - t.min()).max(t.max() - c)).max().unwrap_or(0).max(0));
        }
        let n = self.net.input_len();
        let full = InputBox { lo: vec![t.min(); n], hi: vec![t.max(); n] };
        let mut hi = 1i64;
        while self.spec_at(hi)?.input != full {
            if hi >= 1 << 40 {
                return Err(RadiusError::NoSaturation);
            }
            hi *= 2;
        }
        // Smallest saturated level in (lo, hi]; the box is monotone in the level.
        let mut lo = -1i64;
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.spec_at(mid)?.input == full {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    /// The smallest level in `0..=at` whose box contains `x` (`x` lies in the box at `at`).
    fn level_of(&self, x: &[i64], at: i64) -> i64 {
        let (mut lo, mut hi) = (-1i64, at);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match self.spec_at(mid) {
                Ok(s) if s.input.contains(x) => hi = mid,
                _ => lo = mid,
            }
        }
        hi
    }
}

/// Options of [`radius`].
#[derive(Clone, Debug)]
pub struct RadiusOptions {
    /// The pipeline run at each level; its `time_limit` is the limit **per level**.
    pub verify: Options,
    /// The largest level tried (`None`: the saturation level, where the box is the whole input
    /// range). Clamped to the saturation level.
    pub max_eps: Option<i64>,
    pub strategy: Strategy,
}

/// Why a radius query cannot be posed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RadiusError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("the real step must be a positive finite number, got {0}")]
    Step(f64),
    #[error("the largest level must be >= 0, got {0}")]
    MaxEps(i64),
    #[error("the box does not reach the whole input range below level 2^40: use a larger step")]
    NoSaturation,
}

/// One level's answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpsRun {
    pub eps: i64,
    /// `bounds` (bound propagation alone), `search` (the pipeline without a complete backend),
    /// `pipeline` (the whole verify pipeline) or `witness` (a witness of a larger level replayed
    /// at the smallest level containing it).
    pub method: &'static str,
    /// `verified`, `falsified`, `unknown`, or `open` (bounds or the search alone did not decide;
    /// not a verdict, the pipeline may still decide the level).
    pub verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_kind: Option<String>,
    pub seconds: f64,
}

/// The answer of [`radius`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RadiusReport {
    /// The maximum robustness radius when decided (`upper = lower + 1`); `-1` when the input
    /// itself violates the property (e.g. it is misclassified). `None`: undecided or unbounded.
    pub radius: Option<i64>,
    /// The largest level proved robust (`-1`: none).
    pub lower: i64,
    /// The smallest level with a replayed witness (`None`: none found up to `max_eps`).
    pub upper: Option<i64>,
    /// Robust on the whole input range (`lower` is the saturation level): no radius exists.
    pub unbounded: bool,
    /// The largest level tried and the saturation level (box = whole input range).
    pub max_eps: i64,
    pub saturation_eps: i64,
    pub label: usize,
    pub unit: Unit,
    pub strategy: Strategy,
    /// The witness at level `upper`, replayed against that level's spec.
    pub witness: Option<Witness>,
    /// Every level's answer, in the order they were obtained.
    pub runs: Vec<EpsRun>,
    /// Why the radius is undecided.
    pub reason: Option<Unknown>,
    /// A contradiction between levels (`verified` at ε, a replayed witness at a level ≤ ε) or
    /// inside one pipeline run: a soundness bug, never resolved silently.
    pub disagreement: Option<String>,
    pub seconds: f64,
    /// The per-level time limit, in seconds.
    pub eps_time_limit_s: Option<f64>,
}

struct State<'q, 'a> {
    q: &'q RadiusQuery<'a>,
    lower: i64,
    upper: Option<i64>,
    witness: Option<Witness>,
    unknown: BTreeMap<i64, Unknown>,
    runs: Vec<EpsRun>,
    disagreement: Option<String>,
}

impl State<'_, '_> {
    fn record(&mut self, eps: i64, method: &'static str, verdict: &str, reason: Option<&Unknown>, seconds: f64) {
        self.runs.push(EpsRun {
            eps,
            method,
            verdict: verdict.to_string(),
            reason: reason.map(|r| r.to_string()),
            reason_kind: reason.map(|r| r.kind().to_string()),
            seconds,
        });
    }

    fn verified(&mut self, eps: i64) {
        self.lower = self.lower.max(eps);
        if let Some(u) = self.upper.filter(|&u| u <= eps) {
            self.alarm(format!("SOUNDNESS ALARM: verified at ε = {eps} but a replayed witness exists at ε = {u}"));
        }
    }

    /// A replayed witness found at `eps`: move it to the smallest level containing it.
    fn falsified(&mut self, eps: i64, witness: Witness, reduce: bool) {
        let t = Instant::now();
        let mut at = eps;
        let mut witness = witness;
        if reduce {
            let d = self.q.level_of(witness.input(), eps);
            if d < eps {
                if let Some(w) = self.q.spec_at(d).ok().and_then(|s| Witness::replay(self.q.net, &s, witness.input())) {
                    self.record(d, "witness", "falsified", None, t.elapsed().as_secs_f64());
                    at = d;
                    witness = w;
                }
            }
        }
        if self.upper.is_none_or(|u| at < u) {
            self.upper = Some(at);
            self.witness = Some(witness);
        }
        if at <= self.lower {
            let lower = self.lower;
            self.alarm(format!("SOUNDNESS ALARM: verified at ε = {lower} but a replayed witness exists at ε = {at}"));
        }
    }

    fn alarm(&mut self, msg: String) {
        if self.disagreement.is_none() {
            self.disagreement = Some(msg);
        }
    }

    /// The whole pipeline at `eps`; an `unknown` is kept as the level's reason.
    fn pipeline(&mut self, eps: i64, opts: &RadiusOptions, budget: &Budget, reduce: bool) -> Result<(), RadiusError> {
        if let Some(reason) = self.run(eps, opts, budget, reduce, "pipeline")? {
            self.unknown.insert(eps, reason);
        }
        Ok(())
    }

    /// `opts.verify` at `eps` within what is left of `budget` and the per-level limit; returns
    /// the reason when undecided.
    fn run(
        &mut self,
        eps: i64,
        opts: &RadiusOptions,
        budget: &Budget,
        reduce: bool,
        method: &'static str,
    ) -> Result<Option<Unknown>, RadiusError> {
        let spec = self.q.spec_at(eps)?;
        let limit = match (opts.verify.time_limit, budget.remaining()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let child = Budget::new(limit);
        let link = child.clone();
        let _guard = budget.on_stop(move || link.stop());
        let rep = verify::verify_within(self.q.net, &spec, &opts.verify, &child);
        let reason = match &rep.verdict {
            Verdict::Unknown { reason } => Some(reason.clone()),
            _ => None,
        };
        // Without a complete backend an undecided level is open, not a verdict.
        let name = if method == "search" && reason.is_some() { "open" } else { rep.verdict.name() };
        self.record(eps, method, name, reason.as_ref(), rep.seconds);
        if let Some(d) = rep.disagreement {
            self.alarm(format!("ε = {eps}: {d}"));
        }
        Ok(match rep.verdict {
            Verdict::Verified => {
                self.verified(eps);
                None
            }
            Verdict::Falsified { witness } => {
                self.falsified(eps, witness, reduce);
                None
            }
            Verdict::Unknown { reason } => Some(reason),
        })
    }
}

/// Find the maximum robustness radius of `q` within `budget` (the whole run; each level also
/// has `opts.verify.time_limit`). Stop `budget` (e.g. on Ctrl-C) to end early: the report then
/// holds the interval established so far.
///
/// # Errors
/// [`RadiusError`] when the query cannot be posed (bad center, label, step or `max_eps`).
pub fn radius(q: &RadiusQuery, opts: &RadiusOptions, budget: &Budget) -> Result<RadiusReport, RadiusError> {
    let start = Instant::now();
    if let Unit::Real(step) = q.unit {
        if !(step.is_finite() && step > 0.0) {
            return Err(RadiusError::Step(step));
        }
    }
    if let Some(m) = opts.max_eps.filter(|&m| m < 0) {
        return Err(RadiusError::MaxEps(m));
    }
    q.spec_at(0)?.check(q.net)?;
    let saturation = q.saturation()?;
    let max_eps = opts.max_eps.map_or(saturation, |m| m.min(saturation));
    let mut st = State {
        q,
        lower: -1,
        upper: None,
        witness: None,
        unknown: BTreeMap::new(),
        runs: Vec::new(),
        disagreement: None,
    };
    match opts.strategy {
        Strategy::Linear => {
            for eps in 0..=max_eps {
                if budget.is_stopped() || st.disagreement.is_some() {
                    break;
                }
                st.pipeline(eps, opts, budget, false)?;
                if st.upper.is_some() {
                    break;
                }
            }
        }
        Strategy::Search => {
            // Bounds alone, bisecting: sound `verified` answers in milliseconds.
            if opts.verify.bounds != Method::None {
                let (mut lo, mut hi) = (-1i64, max_eps + 1);
                while hi - lo > 1 && !budget.is_stopped() {
                    let mid = lo + (hi - lo) / 2;
                    let t = Instant::now();
                    let spec = q.spec_at(mid)?;
                    let a = bounds::analyze(q.net, &spec, opts.verify.bounds);
                    let secs = t.elapsed().as_secs_f64();
                    match a.status {
                        SpecStatus::Unreachable => {
                            st.record(mid, "bounds", "verified", None, secs);
                            st.verified(mid);
                            lo = mid;
                        }
                        SpecStatus::AlwaysUnsafe(_) => match Witness::replay(q.net, &spec, &spec.input.lo) {
                            Some(w) => {
                                st.record(mid, "bounds", "falsified", None, secs);
                                st.falsified(mid, w, true);
                                hi = mid;
                            }
                            None => {
                                st.record(mid, "bounds", "open", None, secs);
                                hi = mid;
                            }
                        },
                        SpecStatus::Open(_) => {
                            st.record(mid, "bounds", "open", None, secs);
                            hi = mid;
                        }
                    }
                }
            }
            // The pipeline without a complete backend (probe, bounds, search: about the search
            // budget per level), bisecting for the smallest level the search can falsify.
            if opts.verify.search.is_some() || opts.verify.probe {
                let cheap = RadiusOptions {
                    verify: Options { backends: Vec::new(), crosscheck: false, ..opts.verify.clone() },
                    ..opts.clone()
                };
                let mut lo = st.lower;
                loop {
                    let hi = st.upper.unwrap_or(max_eps + 1);
                    if hi - lo <= 1 || budget.is_stopped() || st.disagreement.is_some() {
                        break;
                    }
                    let mid = lo + (hi - lo) / 2;
                    st.run(mid, &cheap, budget, true, "search")?;
                    if st.upper.is_none_or(|u| u > mid) {
                        // Verified (lower rises) or open: witnesses are likelier higher up.
                        lo = mid;
                    }
                }
            }
            // The whole pipeline, lowest open level first: the levels next to `lower` are the
            // easiest to prove, and `lower + 1` falsified decides the radius.
            loop {
                if budget.is_stopped() || st.disagreement.is_some() {
                    break;
                }
                let upper = st.upper.unwrap_or(max_eps + 1);
                let Some(eps) = (st.lower + 1..upper).find(|e| !st.unknown.contains_key(e)) else { break };
                st.pipeline(eps, opts, budget, true)?;
            }
        }
    }

    let decided = st.disagreement.is_none() && st.upper == Some(st.lower + 1);
    let unbounded = st.disagreement.is_none() && st.lower >= saturation;
    let reason = if decided || unbounded {
        None
    } else if let Some(d) = &st.disagreement {
        Some(Unknown::Disagreement(d.clone()))
    } else {
        let upper = st.upper.unwrap_or(max_eps + 1);
        let open: Vec<Unknown> =
            st.unknown.range(st.lower + 1..upper).map(|(e, r)| r.clone().prefixed(&format!("ε = {e}: "))).collect();
        let said = open.iter().any(|u| matches!(u, Unknown::TimeLimit(_) | Unknown::Interrupted(_)));
        let mut reasons = open;
        if budget.is_stopped() && !said {
            let detail = format!("after {:.1} s", start.elapsed().as_secs_f64());
            reasons.push(if budget.timed_out() { Unknown::TimeLimit(detail) } else { Unknown::Interrupted(detail) });
        }
        if reasons.is_empty() && st.upper.is_none() && st.lower >= max_eps {
            reasons.push(Unknown::Incomplete(format!("robust up to the largest level tried ({max_eps})")));
        }
        Some(Unknown::combine(reasons))
    };
    Ok(RadiusReport {
        radius: decided.then_some(st.lower),
        lower: st.lower,
        upper: st.upper,
        unbounded,
        max_eps,
        saturation_eps: saturation,
        label: q.label,
        unit: q.unit,
        strategy: opts.strategy,
        witness: st.witness,
        runs: st.runs,
        reason,
        disagreement: st.disagreement,
        seconds: start.elapsed().as_secs_f64(),
        eps_time_limit_s: opts.verify.time_limit.map(|t: Duration| t.as_secs_f64()),
    })
}
