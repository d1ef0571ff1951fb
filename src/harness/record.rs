//! One result line of `results.jsonl`: what ran, what it answered, what it cost, and where.

use super::machine::Machine;
use crate::query::{EquivJob, Job, RadiusJob};
use serde::{Deserialize, Serialize};

/// Schema version of a record (bumped on incompatible changes). 2: the child reads a typed job
/// ([`Record::job`]) instead of a command line. 3: radius runs ([`Record::radius`], a
/// [`ChildJob::Radius`] job); verification records are unchanged. 4: equivalence runs
/// ([`Record::equiv`], a [`ChildJob::Equiv`] job); the other records are unchanged.
pub const SCHEMA: u32 = 4;

/// The job a child ran. Untagged, so that a verification job reads and writes exactly as in
/// schema 2 (the kinds have disjoint required fields and deny unknown ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChildJob {
    Verify(Job),
    Radius(RadiusJob),
    Equiv(EquivJob),
}

/// What an equivalence run compared and how it was decided. Its verdict is the record's
/// (`verified`: equivalent on the box; `falsified`: a counterexample the child replayed on A and
/// on B separately, saved as the record's witness).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EquivResult {
    /// The pair, `A-vs-B` (the models' file stems).
    pub pair: String,
    /// The relation in the suite spelling (`same-class/first-index`, `delta:1`, `delta-real:0.5`).
    pub relation: String,
    /// The integer radius of the input box.
    pub eps: i64,
    /// The pipeline stage that decided (`bounds (symbolic)`, `search`, `probe`, `backend (milp)`,
    /// …); `None` when undecided or without an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// What disagrees at the witness, when falsified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
}

impl EquivResult {
    /// The deciding stage's kind: `bounds` (bound propagation, LP tightening included), `search`
    /// (the gradient search, or the probe of the box's center and corners), `backend`, or
    /// `other`; `None` when undecided.
    pub fn decided_kind(&self) -> Option<&'static str> {
        let s = self.decided_by.as_deref()?;
        Some(match s.split(' ').next().unwrap_or_default() {
            "bounds" | "tighten" => "bounds",
            "probe" | "search" => "search",
            "backend" => "backend",
            _ => "other",
        })
    }
}

/// One level of a radius run as the child reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Level {
    pub eps: i64,
    /// `bounds`, `search`, `pipeline` or `witness` ([`crate::props::radius::EpsRun::method`]).
    pub method: String,
    pub verdict: String,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_kind: Option<String>,
}

/// What a radius run found: the interval `lower <= radius < upper` (decided when `upper =
/// lower + 1`), every witness behind `upper` replayed by the child's exact executor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RadiusResult {
    /// The radius when decided (`-1`: the input itself violates); `None` when undecided or
    /// unbounded.
    pub radius: Option<i64>,
    /// The largest level proved (`-1`: none).
    pub lower: i64,
    /// The smallest level with a replayed witness (`None`: none found up to `max_eps`).
    pub upper: Option<i64>,
    /// Robust on the whole input range: no radius exists.
    pub unbounded: bool,
    /// The largest level tried.
    pub max_eps: i64,
    /// The class that had to win.
    pub label: usize,
    /// `search` or `linear`.
    pub strategy: String,
    /// Every level's answer, in the order obtained.
    pub levels: Vec<Level>,
}

impl RadiusResult {
    /// Decided: a radius, or none at all (robust on the whole input range).
    pub fn decided(&self) -> bool {
        self.radius.is_some() || self.unbounded
    }

    /// The width of the interval, `upper - lower`; a missing `upper` counts as `max_eps + 1`.
    pub fn width(&self) -> i64 {
        self.upper.unwrap_or(self.max_eps + 1) - self.lower
    }

    /// Does the interval rule out radius `r`?
    pub fn excludes(&self, r: i64) -> bool {
        r < self.lower || self.upper.is_some_and(|u| r >= u)
    }

    /// Runs of the whole verification pipeline.
    pub fn pipeline_runs(&self) -> usize {
        self.levels.iter().filter(|l| l.method == "pipeline").count()
    }

    /// `radius [lower, upper)` as the tables show it (`–` for what is missing).
    pub fn text(&self) -> String {
        let r = match (self.radius, self.unbounded) {
            (Some(r), _) => r.to_string(),
            (None, true) => "unbounded".into(),
            (None, false) => "–".into(),
        };
        format!("{r} [{}, {})", self.lower, self.upper.map_or("–".to_string(), |u| u.to_string()))
    }
}

/// The soundness alarm of several radius runs of one instance whose intervals do not meet: one
/// proved robustness at a level where another replayed a witness. `runs` are (configuration,
/// result) pairs.
pub fn radius_alarm(instance: &str, runs: &[(&str, &RadiusResult)]) -> Option<String> {
    let (lc, lo) = runs.iter().max_by_key(|(_, r)| r.lower)?;
    let (uc, up) = runs.iter().filter(|(_, r)| r.upper.is_some()).min_by_key(|(_, r)| r.upper)?;
    let u = up.upper?;
    (lo.lower >= u).then(|| {
        format!(
            "SOUNDNESS ALARM on {instance}: robust up to ε = {} by [{lc}] but a replayed counterexample at ε = {u} from [{uc}]",
            lo.lower
        )
    })
}

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
    /// `verified`, `falsified`, `unknown` or `error` (for an equivalence run `verified` means
    /// equivalent on the box); for a radius run `decided` (a radius, or robust on the whole
    /// input range), `unknown` (an interval) or `error`.
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
    /// A radius run: the suite's expected radius, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_radius: Option<i64>,
    /// A radius run: what the child found (`None` for verification runs, and for radius runs
    /// that gave no answer: `error`, or killed at the wall-clock limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius: Option<RadiusResult>,
    /// An equivalence run: the pair, relation and box, and the deciding stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equiv: Option<EquivResult>,
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
    /// The witness file (relative to the results directory) of a `falsified` run (an
    /// equivalence run's: the input with both networks' outputs).
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
    /// The job the child ran (model, property or radius target — or both models, box and
    /// relation —, options with the effective time limit and seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<ChildJob>,
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
    /// The CPU the run was confined to (`bench --pin`); `None`: any of the harness's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<usize>,
}

impl Record {
    /// A radius run (its job is a radius job)?
    pub fn is_radius(&self) -> bool {
        matches!(self.job, Some(ChildJob::Radius(_)))
    }

    /// An equivalence run (its job is an equivalence job)?
    pub fn is_equiv(&self) -> bool {
        matches!(self.job, Some(ChildJob::Equiv(_)))
    }

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
