//! `quiver regress`: compare verdicts with expected ones. A `verified` where `falsified` (or
//! `misclassified`) is expected, or the reverse, is a contradiction and fails; so is a radius run
//! whose decided radius differs from the expected radius, or whose interval excludes it.
//! `unknown` against an expected verdict (an interval that still contains the expected radius) is
//! reported separately and fails unless allowed; errors always fail.

use super::record::{self, RadiusResult, Record};
use super::store;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// What is expected of an instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// A verdict: `verified`, `falsified` or `misclassified`.
    Verdict(String),
    /// A maximum robustness radius (`-1`: the input itself violates).
    Radius(i64),
}

impl std::fmt::Display for Want {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Want::Verdict(v) => write!(f, "{v}"),
            Want::Radius(r) => write!(f, "radius {r}"),
        }
    }
}

/// Expectations by instance id.
pub type Expected = HashMap<String, Want>;

/// Read expected verdicts from a CSV with a header `instance,expected` (VNN-COMP words such as
/// `holds`/`violated`/`sat`/`unsat` are accepted; an integer is an expected radius), or from a
/// results directory / `.jsonl` file of an earlier run (its decided verdicts and radii become
/// the expected ones: a golden run).
pub fn load_expected(path: &Path) -> Result<Expected> {
    let is_results = path.is_dir() || path.extension().is_some_and(|e| e == "jsonl");
    let mut out = Expected::new();
    if is_results {
        let l = store::read(path)?;
        for r in l.records {
            let want = match &r.radius {
                Some(RadiusResult { radius: Some(k), .. }) => Want::Radius(*k),
                None if r.solved() => Want::Verdict(r.verdict.clone()),
                _ => continue,
            };
            if let Some(prev) = out.get(&r.instance) {
                if *prev != want {
                    bail!(
                        "{}: the golden results contradict themselves on {} ({prev} and {want})",
                        path.display(),
                        r.instance,
                    );
                }
            }
            out.insert(r.instance.clone(), want);
        }
        return Ok(out);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut rows = crate::import::suite::read_rows(&text, path)?.into_iter();
    let header = rows.next().map(|(_, f)| f).unwrap_or_default();
    if header != ["instance", "expected"] {
        bail!("{}: the first line must be `instance,expected`, found `{}`", path.display(), header.join(","));
    }
    for (line, mut f) in rows {
        // An id with an unquoted comma keeps its commas: the verdict is the last field.
        let e = f
            .pop()
            .filter(|_| !f.is_empty())
            .with_context(|| format!("{}:{line}: expected `instance,expected`", path.display()))?;
        if let Ok(k) = e.parse::<i64>() {
            out.insert(f.join(","), Want::Radius(k));
            continue;
        }
        let e = super::suite::parse_expected(&e).map_err(|m| anyhow::anyhow!("{}:{line}: {m}", path.display()))?;
        if let Some(e) = e {
            out.insert(f.join(","), Want::Verdict(e.as_str().to_string()));
        }
    }
    Ok(out)
}

/// The outcome of a regression check.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Runs compared with an expected verdict.
    pub checked: usize,
    /// Runs that agree with it.
    pub agree: usize,
    pub contradictions: Vec<String>,
    pub unknowns: Vec<String>,
    pub errors: Vec<String>,
    /// Runs of instances without an expected verdict.
    pub without_expected: usize,
    /// Soundness alarms inside runs or between configurations.
    pub alarms: Vec<String>,
}

impl Outcome {
    /// Does the check pass?
    pub fn passed(&self, allow_unknown: bool) -> bool {
        self.contradictions.is_empty()
            && self.errors.is_empty()
            && self.alarms.is_empty()
            && (allow_unknown || self.unknowns.is_empty())
    }
}

/// Compare `records` with `expected`.
pub fn check(records: &[Record], expected: &Expected) -> Outcome {
    let mut o = Outcome::default();
    let mut decided: HashMap<&str, (Vec<&str>, Vec<&str>)> = HashMap::new();
    let mut radii: HashMap<&str, Vec<(&str, &RadiusResult)>> = HashMap::new();
    for r in records {
        if let Some(rr) = &r.radius {
            radii.entry(&r.instance).or_default().push((&r.config, rr));
        }
        if let Some(d) = &r.disagreement {
            o.alarms.push(format!("{} under {}: {d}", r.instance, r.config));
        }
        match r.verdict.as_str() {
            "verified" => decided.entry(&r.instance).or_default().0.push(&r.config),
            "falsified" => decided.entry(&r.instance).or_default().1.push(&r.config),
            _ => {}
        }
        if r.verdict == "error" {
            o.errors.push(format!("{} under {}: error: {}", r.instance, r.config, r.reason.as_deref().unwrap_or("")));
        }
        // An expectation of the other kind (a verdict for a radius run) does not apply.
        let e = match (expected.get(&r.instance), r.is_radius()) {
            (Some(Want::Verdict(e)), false) => e,
            (Some(Want::Radius(k)), true) => {
                o.checked += 1;
                check_radius(&mut o, r, *k);
                continue;
            }
            _ => {
                o.without_expected += 1;
                continue;
            }
        };
        o.checked += 1;
        let witness = r.witness.as_ref().map(|w| format!(" (witness {w})")).unwrap_or_default();
        if r.contradicts(e) {
            o.contradictions
                .push(format!("{} under {}: expected {e}, got {}{witness}", r.instance, r.config, r.verdict));
        } else if r.verdict == "unknown" {
            o.unknowns.push(format!(
                "{} under {}: expected {e}, got unknown ({})",
                r.instance,
                r.config,
                r.reason.as_deref().unwrap_or("")
            ));
        } else if r.verdict != "error" {
            o.agree += 1;
        }
    }
    let mut between: Vec<String> = decided
        .iter()
        .filter(|(_, (v, f))| !v.is_empty() && !f.is_empty())
        .map(|(i, (v, f))| {
            format!(
                "SOUNDNESS ALARM on {i}: verified by [{}] but a replayed counterexample from [{}]",
                v.join(", "),
                f.join(", ")
            )
        })
        .collect();
    between.extend(radii.iter().filter_map(|(i, runs)| record::radius_alarm(i, runs)));
    between.sort();
    o.alarms.extend(between);
    o
}

/// A radius run against the expected radius `k`: a contradiction when its interval excludes `k`
/// (a decided radius other than `k` included), unknown when the interval is wider but holds `k`.
fn check_radius(o: &mut Outcome, r: &Record, k: i64) {
    let Some(rr) = &r.radius else { return }; // an error, counted above
    let got = rr.text();
    let witness = r.witness.as_ref().filter(|_| rr.upper.is_some_and(|u| k >= u));
    let witness = witness.map(|w| format!(" (witness {w})")).unwrap_or_default();
    if rr.excludes(k) || (rr.unbounded && rr.decided()) {
        o.contradictions.push(format!("{} under {}: expected radius {k}, got {got}{witness}", r.instance, r.config));
    } else if !rr.decided() {
        o.unknowns.push(format!(
            "{} under {}: expected radius {k}, got the interval {got} ({})",
            r.instance,
            r.config,
            r.reason.as_deref().unwrap_or("")
        ));
    } else {
        o.agree += 1;
    }
}
