//! A verification report as data that can be read back: what `quiver verify --json` prints and
//! what the experiment harness reads from each child.
//!
//! [`verify::Report`] itself only serializes: its [`Witness`] can only be made by replaying an
//! input through the exact executor, so a report read from text must not pass for one.
//! [`ReportRecord`] mirrors it field by field with plain data (the witness as numbers), and
//! `ReportRecord::from(&report)` serializes to exactly what the report serializes to (tested).

use crate::verdict::{Verdict, Witness};
use crate::verify::{self, Stage, Stats};
use serde::{Deserialize, Serialize};

/// The verdict's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictName {
    Verified,
    Falsified,
    Unknown,
}

impl VerdictName {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictName::Verified => "verified",
            VerdictName::Falsified => "falsified",
            VerdictName::Unknown => "unknown",
        }
    }
}

/// A replayed witness as reported (plain numbers: reading it back replays nothing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WitnessRecord {
    pub input: Vec<i64>,
    pub output: Vec<i64>,
    pub input_real: Vec<f64>,
    pub output_real: Vec<f64>,
    /// Index of the unsafe disjunct the outputs satisfy.
    pub disjunct: usize,
}

impl From<&Witness> for WitnessRecord {
    fn from(w: &Witness) -> Self {
        WitnessRecord {
            input: w.input().to_vec(),
            output: w.output().to_vec(),
            input_real: w.input_real().to_vec(),
            output_real: w.output_real().to_vec(),
            disjunct: w.disjunct(),
        }
    }
}

/// [`verify::Report`] as data, plus what `quiver verify --json` adds (model, network, property).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub verdict: VerdictName,
    /// Why `unknown`, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why `unknown`, as its kind: `time_limit`, `memory_limit`, `interrupted`, `incomplete`,
    /// `unsupported`, `solver_error`, `disagreement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<WitnessRecord>,
    pub stages: Vec<Stage>,
    pub stats: Stats,
    pub seconds: f64,
    #[serde(default)]
    pub disagreement: Option<String>,
    #[serde(default)]
    pub time_limit_s: Option<f64>,
    /// The model as given (`quiver verify --json` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The network's name (`quiver verify --json` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The property's description (`quiver verify --json` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

impl ReportRecord {
    /// The resource limit that left the run undecided, if one did: `time` or `memory`.
    pub fn limit(&self) -> Option<&'static str> {
        match (self.verdict, self.reason_kind.as_deref()) {
            (VerdictName::Unknown, Some("time_limit")) => Some("time"),
            (VerdictName::Unknown, Some("memory_limit")) => Some("memory"),
            _ => None,
        }
    }
}

impl From<&verify::Report> for ReportRecord {
    fn from(r: &verify::Report) -> Self {
        let (verdict, reason, reason_kind, witness) = match &r.verdict {
            Verdict::Verified => (VerdictName::Verified, None, None, None),
            Verdict::Falsified { witness } => (VerdictName::Falsified, None, None, Some(witness.into())),
            Verdict::Unknown { reason } => {
                (VerdictName::Unknown, Some(reason.to_string()), Some(reason.kind().to_string()), None)
            }
        };
        ReportRecord {
            verdict,
            reason,
            reason_kind,
            witness,
            stages: r.stages.clone(),
            stats: r.stats.clone(),
            seconds: r.seconds,
            disagreement: r.disagreement.clone(),
            time_limit_s: r.time_limit_s,
            model: None,
            network: None,
            property: None,
        }
    }
}
