//! `quiver bench`: every instance of a suite under every configuration, in parallel, each run an
//! isolated `quiver verify` (for a radius suite `quiver radius`, for an equivalence suite `quiver
//! equiv`) child process, results appended to `DIR/results.jsonl`.
//!
//! Resumable: runs already recorded in `DIR` are skipped, so rerunning the same command after an
//! interruption (Ctrl-C, a killed job, a crashed machine) only does what is missing. Runs cut
//! short by an interruption are not recorded.

use super::config::Config;
use super::machine::{self, Machine};
use super::record::{self, ChildJob, Encoding, EquivResult, Level, RadiusResult, Record, StageTime, SCHEMA};
use super::runner::{self, Limits, Outcome, INTERRUPTED};
use super::store::{self, Store};
use super::suite::{self, Instance, Suite, Task};
use super::{file_component, vnncomp};
use crate::query::{EquivJob, Job, RadiusJob, VerifyOptions};
use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// Time limit used when neither the configuration, the command line nor the suite gives one.
pub const DEFAULT_TIMEOUT_S: f64 = 300.0;

/// What `bench` runs, and how.
pub struct Options {
    /// The quiver binary that runs each instance (normally the running executable).
    pub exe: PathBuf,
    pub suite: Suite,
    pub configs: Vec<Config>,
    /// The results directory.
    pub out: PathBuf,
    /// Runs in parallel.
    pub jobs: usize,
    /// Time limit per run overriding the suite's (a configuration's own `--timeout` wins).
    pub timeout_s: Option<f64>,
    /// Address-space limit per run, MiB (`None`: unlimited).
    pub memory_mb: Option<u64>,
    pub shard: Option<(usize, usize)>,
    /// Seed passed to configurations without their own `--seed`.
    pub seed: u64,
    /// Show a progress bar on stderr (drawn only when stderr is a terminal).
    pub progress: bool,
    /// Confine the runs of job slot `i` to the `i`-th CPU of [`runner::allowed_cpus`], so that
    /// every run (with all its solver threads) gets one core of its own.
    pub pin: bool,
}

/// What a `bench` invocation did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Runs of this shard: instances × configurations.
    pub planned: usize,
    /// Already recorded before this invocation.
    pub skipped: usize,
    /// Run and recorded now.
    pub ran: usize,
    /// Verdict counts of the runs recorded now.
    pub counts: BTreeMap<String, usize>,
    /// Instances on which configurations contradict each other, and soundness alarms raised
    /// inside runs (`--crosscheck`), over all records in the directory.
    pub disagreements: Vec<String>,
    pub interrupted: bool,
}

/// The effective time limit of a run.
pub fn time_limit(opts: &Options, inst: &Instance, cfg: &Config) -> f64 {
    cfg.timeout_s().or(opts.timeout_s).or(inst.timeout_s).unwrap_or(DEFAULT_TIMEOUT_S)
}

/// The grace period after the time limit before the harness kills a run: the limit applies to
/// the pipeline (a radius run's: the whole search), and loading and the solvers' reaction to
/// the watchdog come on top.
pub fn grace(limit: f64) -> f64 {
    5.0 + 0.1 * limit
}

/// The job of one run: the instance's model and property (or radius target, or second model,
/// box and relation) under the configuration's options, with the effective time limit (a radius
/// run's: the whole search) and seed.
pub fn child_job(inst: &Instance, cfg: &Config, limit: f64, seed: u64) -> ChildJob {
    let options = VerifyOptions { timeout: Some(limit), seed: Some(cfg.seed().unwrap_or(seed)), ..cfg.options.clone() };
    let model = inst.model.clone();
    match &inst.task {
        Task::Verify { property, .. } => ChildJob::Verify(Job { model, property: property.clone(), options }),
        Task::Radius { target, .. } => {
            ChildJob::Radius(RadiusJob { model, target: target.clone(), options, search: cfg.search.clone() })
        }
        Task::Equiv { model_b, inputs, relation, .. } => ChildJob::Equiv(EquivJob {
            model_a: model,
            model_b: model_b.clone(),
            inputs: inputs.clone(),
            relation: relation.clone(),
            options,
        }),
    }
}

impl ChildJob {
    /// The job as one line of JSON (a job file).
    pub fn to_json(&self) -> String {
        match self {
            ChildJob::Verify(j) => j.to_json(),
            ChildJob::Radius(j) => j.to_json(),
            ChildJob::Equiv(j) => j.to_json(),
        }
    }

    /// The `quiver` subcommand that runs it.
    pub fn command(&self) -> &'static str {
        match self {
            ChildJob::Verify(_) => "verify",
            ChildJob::Radius(_) => "radius",
            ChildJob::Equiv(_) => "equiv",
        }
    }
}

/// The child's arguments for one run: `command` (`verify`, `radius` or `equiv`) reads its job from
/// `job_file` (JSON) and reports as JSON (`vnncomp_out`: where `verify` writes its VNN-COMP
/// result file).
pub fn child_args(command: &str, job_file: &Path, vnncomp_out: Option<&Path>) -> Vec<String> {
    let mut a: Vec<String> =
        vec![command.into(), "--job".into(), job_file.to_string_lossy().into_owned(), "--json".into()];
    if let Some(p) = vnncomp_out {
        a.extend(["--vnncomp-result".to_string(), p.to_string_lossy().into_owned()]);
    }
    a
}

/// The informative part of a child's stderr: its first few lines without backtrace noise,
/// joined with ` | ` (an error message and its detail lines, or a panic's location and message).
fn stderr_summary(s: &str) -> String {
    let lines: Vec<&str> = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note:") && !l.starts_with("stack backtrace"))
        .filter(|l| !l.starts_with("at ") && l.split_once(':').is_none_or(|(n, _)| n.parse::<u32>().is_err()))
        .take(4)
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    lines.join(" | ").chars().take(600).collect()
}

/// What the harness makes of a finished child.
struct Interpreted {
    verdict: String,
    reason: Option<String>,
    limit: Option<String>,
    verify_seconds: Option<f64>,
    stages: Vec<StageTime>,
    encodings: Vec<Encoding>,
    witness: Option<Value>,
    disagreement: Option<String>,
    radius: Option<RadiusResult>,
    /// An equivalence child's counterexample: the input replayed on A and on B (`pair`).
    pair: Option<Value>,
}

/// The limit a typed reason (`reason_kind`) names: a time-out of any backend, stage or level is
/// a time-out, a backend that stopped at its own memory limit (e.g. Z3's) a memory limit.
fn limit_of(kind: Option<&str>) -> Option<String> {
    match kind {
        Some("time_limit") => Some("time".into()),
        Some("memory_limit") => Some("memory".into()),
        _ => None,
    }
}

/// A radius child's `--json` report: the fields of [`crate::props::radius::RadiusReport`] the
/// record keeps, read back as plain data (the witness stays JSON: reading it replays nothing).
#[derive(serde::Deserialize)]
struct RadiusReply {
    radius: Option<i64>,
    lower: i64,
    upper: Option<i64>,
    unbounded: bool,
    max_eps: i64,
    label: usize,
    strategy: String,
    runs: Vec<Level>,
    reason: Option<crate::verdict::Unknown>,
    disagreement: Option<String>,
    seconds: f64,
    witness: Option<Value>,
}

fn interpret_radius(v: RadiusReply, r: &mut Interpreted) {
    let result = RadiusResult {
        radius: v.radius,
        lower: v.lower,
        upper: v.upper,
        unbounded: v.unbounded,
        max_eps: v.max_eps,
        label: v.label,
        strategy: v.strategy,
        levels: v.runs,
    };
    r.verdict = if result.decided() { "decided" } else { "unknown" }.into();
    r.limit = if result.decided() { None } else { limit_of(v.reason.as_ref().map(|u| u.kind())) };
    r.reason = v.reason.map(|u| u.to_string());
    r.verify_seconds = Some(v.seconds);
    r.disagreement = v.disagreement;
    r.witness = v.witness.filter(Value::is_object);
    r.radius = Some(result);
}

fn interpret(out: &Outcome, limit_s: f64, memory_mb: Option<u64>, is_radius: bool) -> Interpreted {
    let mut r = Interpreted {
        verdict: "error".into(),
        reason: None,
        limit: None,
        verify_seconds: None,
        stages: Vec::new(),
        encodings: Vec::new(),
        witness: None,
        disagreement: None,
        radius: None,
        pair: None,
    };
    if out.killed_for_time {
        r.verdict = "unknown".into();
        r.limit = Some("time".into());
        r.reason = Some(format!("killed at the wall-clock limit ({limit_s} s + {} s grace)", grace(limit_s)));
        return r;
    }
    let json: Option<Value> = serde_json::from_str(out.stdout.trim()).ok();
    let reported = matches!(out.exit_code, Some(0 | 10 | 20 | 3));
    if let (true, true, Some(v)) = (is_radius, reported, &json) {
        match serde_json::from_value::<RadiusReply>(v.clone()) {
            Ok(reply) => interpret_radius(reply, &mut r),
            Err(e) => r.reason = Some(format!("the radius child's report could not be read: {e}")),
        }
        return r;
    }
    if let (true, Some(v)) = (reported && !is_radius, json.filter(|v| v.get("verdict").is_some())) {
        r.verdict = v["verdict"].as_str().unwrap_or("error").to_string();
        r.reason = v.get("reason").and_then(Value::as_str).map(str::to_string);
        r.verify_seconds = v.get("seconds").and_then(Value::as_f64);
        r.disagreement = v.get("disagreement").and_then(Value::as_str).map(str::to_string);
        r.witness = v.get("witness").filter(|w| w.is_object()).cloned();
        r.pair = v.get("pair").filter(|w| w.is_object()).cloned();
        if let Some(st) = v.get("stages").and_then(Value::as_array) {
            r.stages = st
                .iter()
                .map(|s| StageTime {
                    name: s["name"].as_str().unwrap_or("").into(),
                    seconds: s["seconds"].as_f64().unwrap_or(0.0),
                    outcome: s["outcome"].as_str().unwrap_or("").into(),
                })
                .collect();
        }
        if let Some(bs) = v.pointer("/stats/backends").and_then(Value::as_array) {
            r.encodings = bs
                .iter()
                .map(|b| {
                    let s = &b["stats"];
                    Encoding {
                        backend: b["backend"].as_str().unwrap_or("").into(),
                        verdict: b["verdict"].as_str().unwrap_or("").into(),
                        variables: s["variables"].as_u64().unwrap_or(0),
                        binaries: s["binaries"].as_u64().unwrap_or(0),
                        constraints: s["constraints"].as_u64().unwrap_or(0),
                        encode_seconds: s["encode_seconds"].as_f64().unwrap_or(0.0),
                        solve_seconds: s["solve_seconds"].as_f64().unwrap_or(0.0),
                    }
                })
                .collect();
        }
        if r.verdict == "unknown" {
            r.limit = limit_of(v.get("reason_kind").and_then(Value::as_str));
        }
        if !matches!(r.verdict.as_str(), "verified" | "falsified" | "unknown") {
            r.reason = Some(format!("unexpected verdict `{}` in the child's report", r.verdict));
            r.verdict = "error".into();
        }
        return r;
    }
    if out.signal.is_some() || out.exit_code.is_some_and(|c| c != 2) {
        if let Some(line) = runner::out_of_memory(&out.stderr) {
            r.verdict = "unknown".into();
            r.limit = Some("memory".into());
            let lim = memory_mb.map(|m| format!(" (limit {m} MiB)")).unwrap_or_default();
            r.reason = Some(format!("out of memory{lim}: {line}"));
            return r;
        }
        let how = match (out.exit_code, out.signal) {
            (_, Some(s)) => format!("killed by signal {s}"),
            (Some(c), _) => format!("exit code {c}"),
            _ => "no exit status".into(),
        };
        r.reason = Some(format!("{how}: {}", stderr_summary(&out.stderr)));
        return r;
    }
    r.reason = Some(stderr_summary(&out.stderr));
    r
}

/// The equivalence part of an equivalence instance's record: the pair, relation and ε from the
/// suite, the deciding stage (the last one run, when decided) and the violation from the child.
fn equiv_result(inst: &Instance, it: &Interpreted) -> Option<EquivResult> {
    let Task::Equiv { relation, pair, eps, .. } = &inst.task else { return None };
    let decided = matches!(it.verdict.as_str(), "verified" | "falsified");
    Some(EquivResult {
        pair: pair.clone(),
        relation: relation.to_string(),
        eps: *eps,
        decided_by: it.stages.last().filter(|_| decided).map(|s| s.name.clone()),
        violation: it.pair.as_ref().and_then(|p| p.get("violation")).and_then(Value::as_str).map(str::to_string),
    })
}

/// Start time, seconds since the epoch.
fn now_unix() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

struct Run<'a> {
    inst: &'a Instance,
    cfg: &'a Config,
    /// Position of `cfg` in the configuration list.
    order: usize,
}

/// Run one instance under one configuration and build its record (`None`: interrupted).
fn run_one(opts: &Options, machine: &Machine, job: &Run<'_>, cpu: Option<usize>) -> Result<Option<Record>> {
    let (inst, cfg) = (job.inst, job.cfg);
    let limit = time_limit(opts, inst, cfg);
    let stem = file_component(&inst.id);
    let vnn_rel = inst.vnncomp.as_ref().map(|_| format!("vnncomp/{}/{stem}.txt", file_component(&cfg.name)));
    let vnn_abs = vnn_rel.as_ref().map(|r| opts.out.join(r));
    if let Some(p) = &vnn_abs {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        let _ = std::fs::remove_file(p);
    }
    let seed = cfg.seed().unwrap_or(opts.seed);
    let job_spec = child_job(inst, cfg, limit, seed);
    // The job file stays in the results directory: `quiver verify --job FILE` (or `quiver radius
    // --job FILE`) reruns the run.
    let job_file = opts.out.join(format!("jobs/{}/{stem}.json", file_component(&cfg.name)));
    store::write_atomic(&job_file, (job_spec.to_json() + "\n").as_bytes())?;
    let args = child_args(job_spec.command(), &job_file, vnn_abs.as_deref());
    let limits = Limits {
        wall: Duration::from_secs_f64(limit + grace(limit)),
        memory_bytes: opts.memory_mb.map(|m| m.saturating_mul(1 << 20)),
        cpu,
    };
    let started_unix = now_unix();
    let out = runner::run(&opts.exe, &args, limits)
        .map_err(|e| anyhow::anyhow!("{}: cannot run: {e} (is --memory-mb too small?)", opts.exe.display()))?;
    // Runs cut short by an interruption are not results: the harness was interrupted (and
    // killed its runs), or the child itself got the terminal's SIGINT or a job manager's SIGTERM.
    let interrupted_child = matches!(out.signal, Some(libc::SIGINT | libc::SIGTERM));
    if out.killed_for_interrupt || interrupted_child || (INTERRUPTED.load(Ordering::SeqCst) && out.signal.is_some()) {
        return Ok(None);
    }
    let mut it = interpret(&out, limit, opts.memory_mb, inst.is_radius());
    if matches!(inst.task, Task::Equiv { .. }) && it.verdict == "falsified" && it.pair.is_none() {
        // An equivalence counterexample counts only as the input replayed on both networks.
        it.verdict = "error".into();
        it.reason = Some("the equiv child reported `falsified` without the pair replayed on A and B".into());
    }
    let mut witness = None;
    // A falsified run's witness (an equivalence run's: the input with both networks' outputs),
    // or the one at a radius run's `upper`.
    let upper = it.radius.as_ref().and_then(|r| r.upper);
    let equiv = equiv_result(inst, &it);
    let w = if equiv.is_some() { &it.pair } else { &it.witness };
    if let (Some(w), true) = (w, it.verdict == "falsified" || upper.is_some()) {
        let rel = format!("witnesses/{}/{stem}.json", file_component(&cfg.name));
        let mut doc = serde_json::json!({"instance": inst.id, "config": cfg.name, "witness": w});
        if let Some(u) = upper {
            doc["eps"] = u.into();
        }
        store::write_atomic(&opts.out.join(&rel), (serde_json::to_string(&doc)? + "\n").as_bytes())?;
        witness = Some(rel);
    }
    if let (Some(p), Some(_)) = (&vnn_abs, &vnn_rel) {
        // The child writes its own result file; if it could not (killed, crashed), the harness does.
        if !p.exists() {
            store::write_atomic(p, vnncomp::result_file(&it.verdict, it.limit.as_deref(), None).as_bytes())?;
        }
    }
    Ok(Some(Record {
        schema: SCHEMA,
        instance: inst.id.clone(),
        config: cfg.name.clone(),
        verdict: it.verdict,
        reason: it.reason,
        limit: it.limit,
        expected: inst.expected().map(|e| e.as_str().to_string()),
        expected_radius: inst.expected_radius(),
        radius: it.radius,
        equiv,
        wall_seconds: out.wall_seconds,
        verify_seconds: it.verify_seconds,
        time_limit_s: limit,
        memory_limit_mb: opts.memory_mb,
        peak_rss_mb: out.peak_rss_kib as f64 / 1024.0,
        stages: it.stages,
        encodings: it.encodings,
        witness,
        disagreement: it.disagreement,
        exit_code: out.exit_code,
        signal: out.signal,
        flags: cfg.flags_text.clone(),
        config_order: job.order,
        args,
        job: Some(job_spec),
        suite: opts.suite.path.display().to_string(),
        line: inst.line,
        vnncomp: inst.vnncomp.clone(),
        vnncomp_result: vnn_rel,
        seed,
        quiver_version: machine::VERSION.into(),
        git_revision: machine::git_revision().into(),
        machine: machine.clone(),
        started_unix,
        shard: opts.shard.map(|(k, n)| format!("{k}/{n}")),
        cpu,
    }))
}

/// Verdicts (and radius intervals) per instance, to spot contradictions between configurations.
#[derive(Default)]
pub struct Agreement {
    by_instance: HashMap<String, (Vec<String>, Vec<String>)>,
    radii: HashMap<String, Vec<(String, RadiusResult)>>,
}

impl Agreement {
    /// Note a record; returns a message if this record creates a new contradiction.
    pub fn add(&mut self, r: &Record) -> Option<String> {
        if let Some(rr) = &r.radius {
            let runs = self.radii.entry(r.instance.clone()).or_default();
            let alarm = |runs: &[(String, RadiusResult)]| {
                let v: Vec<(&str, &RadiusResult)> = runs.iter().map(|(c, x)| (c.as_str(), x)).collect();
                record::radius_alarm(&r.instance, &v)
            };
            let before = alarm(runs).is_some();
            runs.push((r.config.clone(), rr.clone()));
            return alarm(runs).filter(|_| !before);
        }
        let e = self.by_instance.entry(r.instance.clone()).or_default();
        let before = !e.0.is_empty() && !e.1.is_empty();
        match r.verdict.as_str() {
            "verified" => e.0.push(r.config.clone()),
            "falsified" => e.1.push(r.config.clone()),
            _ => return None,
        }
        (!before && !e.0.is_empty() && !e.1.is_empty()).then(|| disagreement_text(&r.instance, &e.0, &e.1))
    }

    /// Every contradiction, sorted by instance.
    pub fn all(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_instance
            .iter()
            .filter(|(_, (a, b))| !a.is_empty() && !b.is_empty())
            .map(|(i, (a, b))| disagreement_text(i, a, b))
            .chain(self.radii.iter().filter_map(|(i, runs)| {
                let v: Vec<(&str, &RadiusResult)> = runs.iter().map(|(c, x)| (c.as_str(), x)).collect();
                record::radius_alarm(i, &v)
            }))
            .collect();
        v.sort();
        v
    }
}

fn disagreement_text(instance: &str, verified: &[String], falsified: &[String]) -> String {
    format!(
        "SOUNDNESS ALARM on {instance}: verified by [{}] but a replayed counterexample from [{}]",
        verified.join(", "),
        falsified.join(", ")
    )
}

/// Run the suite. Errors are setup problems (unreadable directory, a configuration recorded with
/// other flags, a child that cannot be started); anything a run does is recorded.
pub fn run(opts: &Options) -> Result<Summary> {
    super::config::check_unique(&opts.configs)?;
    if opts.suite.layout != "radius" {
        if let Some(c) = opts.configs.iter().find(|c| c.search != crate::query::RadiusSearch::default()) {
            bail!(
                "configuration `{}`: --strategy and --eps-timeout are radius options, but {} is a suite of the `{}` layout",
                c.name,
                opts.suite.path.display(),
                opts.suite.layout
            );
        }
    }
    let cpus = if opts.pin {
        let cpus = runner::allowed_cpus();
        if !cfg!(target_os = "linux") {
            bail!("--pin confines runs with sched_setaffinity, which only Linux has");
        }
        if opts.jobs > cpus.len() {
            bail!(
                "--pin gives each of the --jobs {} parallel runs a CPU of its own, but this process may use only {} ({:?})",
                opts.jobs,
                cpus.len(),
                cpus
            );
        }
        Some(cpus)
    } else {
        None
    };
    let mut store = Store::open(&opts.out)?;
    let loaded = store::read(&opts.out)?;
    if loaded.unreadable > 0 {
        eprintln!(
            "note: {} unreadable line(s) in {} ignored (e.g. cut short by an interruption; kept as they are)",
            loaded.unreadable,
            store::results_file(&opts.out).display()
        );
    }
    for r in &loaded.records {
        if let Some(c) = opts.configs.iter().find(|c| c.name == r.config) {
            if c.flags_text != r.flags {
                bail!(
                    "{}: configuration `{}` was recorded with flags `{}`, now given `{}`: use another name or another directory",
                    opts.out.display(),
                    c.name,
                    r.flags,
                    c.flags_text
                );
            }
        }
    }
    let mut agreement = Agreement::default();
    let mut run_alarms = Vec::new();
    for r in &loaded.records {
        agreement.add(r);
        if let Some(d) = &r.disagreement {
            run_alarms.push(format!("{} under {}: {d}", r.instance, r.config));
        }
    }
    let done: HashSet<(&str, &str)> = loaded.records.iter().map(|r| (r.instance.as_str(), r.config.as_str())).collect();
    let mut jobs = Vec::new();
    let mut summary = Summary::default();
    for (pos, inst) in opts.suite.instances.iter().enumerate() {
        if !suite::in_shard(pos, opts.shard) {
            continue;
        }
        for (order, cfg) in opts.configs.iter().enumerate() {
            summary.planned += 1;
            if done.contains(&(inst.id.as_str(), cfg.name.as_str())) {
                summary.skipped += 1;
            } else {
                jobs.push(Run { inst, cfg, order });
            }
        }
    }
    let machine = machine::current();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // The progress bar draws only on a terminal (indicatif hides it otherwise); alarm lines are
    // printed above it, in red on a terminal.
    let bar = if opts.progress {
        ProgressBar::with_draw_target(Some(summary.planned as u64), ProgressDrawTarget::stderr_with_hz(5))
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("[{pos}/{len}] {msg} | elapsed {elapsed} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(summary.skipped as u64);
    bar.reset_eta();
    let alarm = |msg: &str| bar.suspend(|| eprintln!("{}", console::style(msg).for_stderr().red()));
    let mut fatal: Option<anyhow::Error> = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Result<Option<Record>>>();
        for slot in 0..opts.jobs.max(1).min(jobs.len().max(1)) {
            let tx = tx.clone();
            let (jobs, next, stop, machine) = (&jobs, &next, &stop, &machine);
            let cpu = cpus.as_ref().map(|c| c[slot]);
            scope.spawn(move || loop {
                if INTERRUPTED.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                if tx.send(run_one(opts, machine, job, cpu)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut all_done = false;
        while !all_done {
            match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(Ok(Some(rec))) => {
                    if let Err(e) = store.append(&rec) {
                        fatal.get_or_insert(e);
                        stop.store(true, Ordering::SeqCst);
                    }
                    summary.ran += 1;
                    *summary.counts.entry(rec.verdict.clone()).or_default() += 1;
                    if let Some(msg) = agreement.add(&rec) {
                        alarm(&msg);
                    }
                    if let Some(d) = &rec.disagreement {
                        let msg = format!("{} under {}: {d}", rec.instance, rec.config);
                        alarm(&msg);
                        run_alarms.push(msg);
                    }
                    let counts: Vec<String> = summary.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
                    let dis = agreement.all().len();
                    bar.set_message(format!("{} | {dis} disagreements", counts.join(", ")));
                    bar.inc(1);
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    fatal.get_or_insert(e);
                    stop.store(true, Ordering::SeqCst);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => all_done = true,
            }
        }
        bar.finish();
    });
    if let Some(e) = fatal {
        return Err(e);
    }
    summary.interrupted = INTERRUPTED.load(Ordering::SeqCst);
    summary.disagreements = agreement.all();
    summary.disagreements.extend(run_alarms);
    Ok(summary)
}
