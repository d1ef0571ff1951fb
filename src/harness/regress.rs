//! `quiver regress`: compare verdicts with expected ones. A `verified` where `falsified` (or
//! `misclassified`) is expected, or the reverse, is a contradiction and fails; `unknown` against
//! an expected verdict is reported separately and fails unless allowed; errors always fail.

use super::record::Record;
use super::store;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// Expected verdicts by instance id: `verified`, `falsified` or `misclassified`.
pub type Expected = HashMap<String, String>;

/// Read expected verdicts from a CSV with a header `instance,expected` (VNN-COMP words such as
/// `holds`/`violated`/`sat`/`unsat` are accepted), or from a results directory / `.jsonl` file
/// of an earlier run (its decided verdicts become the expected ones: a golden run).
pub fn load_expected(path: &Path) -> Result<Expected> {
    let is_results = path.is_dir() || path.extension().is_some_and(|e| e == "jsonl");
    let mut out = Expected::new();
    if is_results {
        let l = store::read(path)?;
        for r in l.records {
            if !r.solved() {
                continue;
            }
            if let Some(prev) = out.get(&r.instance) {
                if *prev != r.verdict {
                    bail!(
                        "{}: the golden results contradict themselves on {} ({prev} and {})",
                        path.display(),
                        r.instance,
                        r.verdict
                    );
                }
            }
            out.insert(r.instance.clone(), r.verdict.clone());
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
        let e = super::suite::parse_expected(&e).map_err(|m| anyhow::anyhow!("{}:{line}: {m}", path.display()))?;
        if let Some(e) = e {
            out.insert(f.join(","), e.as_str().to_string());
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
    for r in records {
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
        let Some(e) = expected.get(&r.instance) else {
            o.without_expected += 1;
            continue;
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
    between.sort();
    o.alarms.extend(between);
    o
}
