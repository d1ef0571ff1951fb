//! One result line of `results.jsonl`: what ran, what it answered, what it cost, and where.

use super::machine::Machine;
use crate::query::Job;
use serde::{Deserialize, Serialize};

/// Schema version of a record (bumped on incompatible changes). 2: the child reads a typed job
/// ([`Record::job`]) instead of a command line.
pub const SCHEMA: u32 = 2;

/// One pipeline stage as the child reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageTime {
    pub name: String,
    pub seconds: f64,
    #[serde(default)]
    pub outcome: String,
}

/// The size of one backend's encoding and its effort.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    pub backend: String,
    pub verdict: String,
    pub variables: u64,
    pub binaries: u64,
    pub constraints: u64,
    pub encode_seconds: f64,
    pub solve_seconds: f64,
}

/// One run: an instance under a configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema: u32,
    pub instance: String,
    pub config: String,
    /// `verified`, `falsified`, `unknown` or `error`.
    pub verdict: String,
    /// Why `unknown` or `error` (the child's reason, or what the harness saw).
    #[serde(default)]
    pub reason: Option<String>,
    /// Which resource limit ended the run, if one did: `time` or `memory`.
    #[serde(default)]
    pub limit: Option<String>,
    /// The suite's expected verdict, if any.
    #[serde(default)]
    pub expected: Option<String>,
    /// Wall-clock time of the child process as measured by the harness (process start to exit,
    /// including model loading): the time used by reports.
    pub wall_seconds: f64,
    /// The pipeline's own total time, as reported by the child.
    #[serde(default)]
    pub verify_seconds: Option<f64>,
    /// The time limit this run had (the backend's `--timeout`; the harness kills at this plus a grace).
    pub time_limit_s: f64,
    /// The address-space limit of the child (MiB), if any.
    #[serde(default)]
    pub memory_limit_mb: Option<u64>,
    /// Peak resident set size of the child (MiB), from `wait4`'s `ru_maxrss`.
    pub peak_rss_mb: f64,
    #[serde(default)]
    pub stages: Vec<StageTime>,
    #[serde(default)]
    pub encodings: Vec<Encoding>,
    /// The witness file (relative to the results directory) of a `falsified` run.
    #[serde(default)]
    pub witness: Option<String>,
    /// The child's own soundness alarm (`--crosscheck`), if it raised one.
    #[serde(default)]
    pub disagreement: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    /// The configuration's flags as written.
    pub flags: String,
    /// The configuration's position on the bench command line (reports list configurations in
    /// this order).
    #[serde(default)]
    pub config_order: usize,
    /// The child's full argument list: rerunning `quiver` with it reproduces the run. Since
    /// schema 2 it names the job file (`verify --job DIR/jobs/CONFIG/ID.json`, [`Record::job`]);
    /// schema-1 records hold the whole `quiver verify` command line.
    pub args: Vec<String>,
    /// The job the child ran (model, property, options with the effective time limit and seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    /// Suite file and line of the instance.
    pub suite: String,
    pub line: usize,
    /// VNN-COMP rows: the onnx and vnnlib fields as written in the suite.
    #[serde(default)]
    pub vnncomp: Option<(String, String)>,
    /// The VNN-COMP result file written by the child (relative to the results directory).
    #[serde(default)]
    pub vnncomp_result: Option<String>,
    pub seed: u64,
    pub quiver_version: String,
    pub git_revision: String,
    pub machine: Machine,
    /// Start time, seconds since the Unix epoch.
    pub started_unix: f64,
    /// `K/N` when run with `--shard`.
    #[serde(default)]
    pub shard: Option<String>,
}

impl Record {
    /// `verified` or `falsified`.
    pub fn solved(&self) -> bool {
        matches!(self.verdict.as_str(), "verified" | "falsified")
    }

    /// PAR-2 contribution: the wall time if solved, twice the time limit otherwise.
    pub fn par2(&self) -> f64 {
        if self.solved() {
            self.wall_seconds
        } else {
            2.0 * self.time_limit_s
        }
    }

    /// Does the verdict contradict the expected one (verified vs falsified/misclassified)?
    pub fn contradicts(&self, expected: &str) -> bool {
        matches!(
            (expected, self.verdict.as_str()),
            ("verified", "falsified") | ("falsified" | "misclassified", "verified")
        )
    }
}
