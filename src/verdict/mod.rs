//! What a query's answer is: the verdict, the replayed witness behind every `falsified`, and the
//! typed reason behind every `unknown`. This sits right above the IR and the specs; the search,
//! the backends and the pipeline all produce these types and none of them is imported back.

mod witness;

pub use witness::Witness;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a procedure, or the whole pipeline, left a query undecided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Unknown {
    /// The time limit passed (the detail says where).
    TimeLimit(String),
    /// A memory limit was reached.
    MemoryLimit(String),
    /// Stopped from outside (Ctrl-C), not by a limit.
    Interrupted(String),
    /// The procedure ended without deciding: an incomplete stage, refinement rounds exhausted,
    /// a solver that answered "unknown", no complete backend requested.
    Incomplete(String),
    /// The query uses something the procedure cannot encode exactly.
    Unsupported(String),
    /// The solver failed (an error status, numerical trouble, a rejected model).
    SolverError(String),
    /// Two procedures contradict each other: one `verified`, another a replayed witness — a
    /// soundness bug, never resolved silently.
    Disagreement(String),
}

impl Unknown {
    /// The kind as written in JSON (`time_limit`, `memory_limit`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Unknown::TimeLimit(_) => "time_limit",
            Unknown::MemoryLimit(_) => "memory_limit",
            Unknown::Interrupted(_) => "interrupted",
            Unknown::Incomplete(_) => "incomplete",
            Unknown::Unsupported(_) => "unsupported",
            Unknown::SolverError(_) => "solver_error",
            Unknown::Disagreement(_) => "disagreement",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Unknown::TimeLimit(d)
            | Unknown::MemoryLimit(d)
            | Unknown::Interrupted(d)
            | Unknown::Incomplete(d)
            | Unknown::Unsupported(d)
            | Unknown::SolverError(d)
            | Unknown::Disagreement(d) => d,
        }
    }

    /// The same kind with the detail prefixed (`"milp: "`, `"disjunct 3: "`).
    pub fn prefixed(self, prefix: &str) -> Unknown {
        self.map(
            |d| if d.is_empty() { prefix.trim_end_matches([':', ' ']).to_string() } else { format!("{prefix}{d}") },
        )
    }

    fn map(self, f: impl FnOnce(String) -> String) -> Unknown {
        match self {
            Unknown::TimeLimit(d) => Unknown::TimeLimit(f(d)),
            Unknown::MemoryLimit(d) => Unknown::MemoryLimit(f(d)),
            Unknown::Interrupted(d) => Unknown::Interrupted(f(d)),
            Unknown::Incomplete(d) => Unknown::Incomplete(f(d)),
            Unknown::Unsupported(d) => Unknown::Unsupported(f(d)),
            Unknown::SolverError(d) => Unknown::SolverError(f(d)),
            Unknown::Disagreement(d) => Unknown::Disagreement(f(d)),
        }
    }

    /// Which of several reasons names the run: a disagreement first, then the limits (a time-out
    /// anywhere means more time might decide), then the rest.
    fn rank(&self) -> u8 {
        match self {
            Unknown::Disagreement(_) => 0,
            Unknown::TimeLimit(_) => 1,
            Unknown::MemoryLimit(_) => 2,
            Unknown::Interrupted(_) => 3,
            Unknown::SolverError(_) => 4,
            Unknown::Unsupported(_) => 5,
            Unknown::Incomplete(_) => 6,
        }
    }

    /// Several procedures' reasons as one: the most telling kind (see [`Unknown::rank`]), with
    /// every detail joined by `"; "`.
    pub fn combine(reasons: Vec<Unknown>) -> Unknown {
        let Some(kind) = reasons.iter().min_by_key(|r| r.rank()).cloned() else {
            return Unknown::Incomplete("undecided".into());
        };
        if reasons.len() == 1 {
            return kind;
        }
        let text = reasons.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("; ");
        kind.map(|_| text)
    }

    /// The reasons a backend left some of a query's `disjuncts` undecided, as one: equal
    /// reasons are said once with the disjuncts they hold for (`"disjuncts 0–3, 5: time limit:
    /// …"`), in the order first seen; with a single disjunct, without a prefix. `None` if there
    /// is no reason (every disjunct decided).
    pub fn per_disjunct(reasons: Vec<(usize, Unknown)>, disjuncts: usize) -> Option<Unknown> {
        if reasons.is_empty() {
            return None;
        }
        if disjuncts <= 1 {
            return Some(Unknown::combine(reasons.into_iter().map(|(_, r)| r).collect()));
        }
        let mut groups: Vec<(Unknown, Vec<usize>)> = Vec::new();
        for (k, r) in reasons {
            match groups.iter_mut().find(|(g, _)| *g == r) {
                Some((_, ks)) => ks.push(k),
                None => groups.push((r, vec![k])),
            }
        }
        let grouped = groups
            .into_iter()
            .map(|(r, ks)| {
                let noun = if ks.len() == 1 { "disjunct" } else { "disjuncts" };
                r.prefixed(&format!("{noun} {}: ", index_ranges(&ks)))
            })
            .collect();
        Some(Unknown::combine(grouped))
    }
}

/// `[0, 1, 2, 5, 7, 8]` as `"0–2, 5, 7, 8"` (runs of three or more as ranges).
fn index_ranges(ks: &[usize]) -> String {
    let mut sorted = ks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            parts.push(format!("{}–{}", sorted[i], sorted[j]));
        } else {
            parts.extend(sorted[i..=j].iter().map(|k| k.to_string()));
        }
        i = j + 1;
    }
    parts.join(", ")
}

impl fmt::Display for Unknown {
    /// The detail, prefixed with the kind where the detail does not already say it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.detail();
        let label = match self {
            Unknown::TimeLimit(_) => "time limit",
            Unknown::MemoryLimit(_) => "memory limit",
            Unknown::Interrupted(_) => "interrupted",
            Unknown::Incomplete(_) => "",
            Unknown::Unsupported(_) => "unsupported",
            Unknown::SolverError(_) => "solver error",
            Unknown::Disagreement(_) => "",
        };
        if label.is_empty() || d.to_ascii_lowercase().contains(label) {
            f.write_str(d)
        } else if d.is_empty() {
            f.write_str(label)
        } else {
            write!(f, "{label}: {d}")
        }
    }
}

/// The answer to a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// No input in the box violates the property.
    Verified,
    /// A replayed counterexample.
    Falsified { witness: Witness },
    /// Undecided, with the typed reason.
    Unknown { reason: Unknown },
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Falsified { .. } => "falsified",
            Verdict::Unknown { .. } => "unknown",
        }
    }

    /// Shorthand for an `unknown` verdict.
    pub fn unknown(reason: Unknown) -> Verdict {
        Verdict::Unknown { reason }
    }

    /// Whether the verdict is `unknown` because a time limit passed.
    pub fn timed_out(&self) -> bool {
        matches!(self, Verdict::Unknown { reason: Unknown::TimeLimit(_) })
    }
}

/// JSON: `{"verdict": "verified"}`, `{"verdict": "falsified", "witness": {…}}`, or
/// `{"verdict": "unknown", "reason": "<text>", "reason_kind": "time_limit"}` — the text for
/// people, the kind for scripts.
impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("verdict", self.name())?;
        match self {
            Verdict::Verified => {}
            Verdict::Falsified { witness } => m.serialize_entry("witness", witness)?,
            Verdict::Unknown { reason } => {
                m.serialize_entry("reason", &reason.to_string())?;
                m.serialize_entry("reason_kind", reason.kind())?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_reasons_keep_the_most_telling_kind_and_every_detail() {
        let r = Unknown::combine(vec![
            Unknown::Incomplete("search found nothing".into()),
            Unknown::TimeLimit("milp: disjunct 2".into()),
            Unknown::SolverError("z3: bad".into()),
        ]);
        assert_eq!(r.kind(), "time_limit");
        assert_eq!(r.detail(), "search found nothing; time limit: milp: disjunct 2; solver error: z3: bad");
        assert_eq!(Unknown::combine(vec![]).kind(), "incomplete");
        let one = Unknown::MemoryLimit("z3: out of memory".into());
        assert_eq!(Unknown::combine(vec![one.clone()]), one);
        assert_eq!(one.to_string(), "memory limit: z3: out of memory");
    }

    #[test]
    fn per_disjunct_reasons_are_grouped_once_each() {
        let t = || Unknown::TimeLimit("not finished within the time limit".into());
        let reasons = (0..9).map(|k| (k, t())).chain([(9, Unknown::SolverError("bad".into()))]).collect();
        let r = Unknown::per_disjunct(reasons, 12).expect("a reason");
        assert_eq!(r.kind(), "time_limit");
        assert_eq!(r.detail(), "disjuncts 0–8: not finished within the time limit; solver error: disjunct 9: bad");
        let r = Unknown::per_disjunct(vec![(0, t()), (1, t()), (4, t())], 5).expect("a reason");
        assert_eq!(r.detail(), "disjuncts 0, 1, 4: not finished within the time limit");
        assert_eq!(Unknown::per_disjunct(vec![(0, t())], 1), Some(t()));
        assert_eq!(Unknown::per_disjunct(Vec::new(), 3), None);
    }

    #[test]
    fn unknown_verdicts_serialize_a_text_and_a_kind() {
        let v = Verdict::unknown(Unknown::TimeLimit("milp".into()));
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["verdict"], "unknown");
        assert_eq!(j["reason"], "time limit: milp");
        assert_eq!(j["reason_kind"], "time_limit");
        assert!(v.timed_out());
        let j = serde_json::to_value(Verdict::Verified).unwrap();
        assert_eq!(j, serde_json::json!({"verdict": "verified"}));
    }
}
