//! The experiment subcommands: `bench`, `report`, `regress` (the harness lives in
//! `quiver::harness`), and `verify --vnncomp-result`.

use super::exit;
use anyhow::{bail, Context, Result};
use clap::Args;
use console::style;
use quiver::harness::{bench, config, store, suite};
use quiver::spec::robust::TieRule;
use std::path::{Path, PathBuf};

/// Exit code of `bench` after an interruption (Ctrl-C / SIGTERM): 128 + SIGINT.
pub const INTERRUPTED: u8 = 130;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A configuration: NAME=FLAGS, where FLAGS are `quiver verify` option flags, split like a
    /// POSIX shell would (e.g. full="--backend milp", bounds-only="--backend none --search off",
    /// milp-4t="--threads 4"); the model and property flags belong to the suite. On a radius
    /// suite FLAGS may also give `--strategy search|linear` and `--eps-timeout S` (per level;
    /// `--timeout` limits the whole radius search).
    /// Repeat for several; none given means one configuration `default` (the default pipeline).
    /// `--timeout S` in FLAGS sets that configuration's own time limit.
    #[arg(long = "config", value_name = "NAME=FLAGS")]
    pub configs: Vec<String>,
    /// Read configurations from a file: TOML `[configs]` NAME = "FLAGS" or NAME = { backends =
    /// ["smt-bv"], timeout = 60, … }, or JSON {"NAME": "FLAGS" or {options}, …}.
    #[arg(long = "configs", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Runs in parallel (each run is one child process; solver threads come on top).
    #[arg(short, long, default_value_t = 1)]
    pub jobs: usize,
    /// Give each of the --jobs parallel runs a CPU of its own (Linux sched_setaffinity): a run
    /// and all its solver threads share that one core, so configurations that start more threads
    /// (e.g. `--backend portfolio`) get no more CPU than single-threaded ones running beside them.
    /// The CPU is recorded with each run. Needs --jobs <= the CPUs this process may use.
    #[arg(long)]
    pub pin: bool,
    /// Time limit per run in seconds, overriding the suite's timeout column (a configuration's
    /// own --timeout wins). The backend gets it as --timeout; the harness kills the run at
    /// limit + 5 s + 10 %.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Address-space limit per run in MiB (setrlimit RLIMIT_AS); 0 means unlimited.
    #[arg(long, default_value_t = 8192)]
    pub memory_mb: u64,
    /// Run only shard K of N (1-based): instances K, K+N, K+2N, … in suite order.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Tie rule for robustness rows without a `tie` column: `any` or `first-index` (the
    /// AAAI'21/QVIP suites' property is first-index argmax robustness).
    #[arg(long, default_value = "any")]
    pub tie: TieRule,
    /// Seed passed to configurations without their own --seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Never show the progress bar (it is shown only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The suite: a quiver suite CSV (model,images,labels,index,eps,timeout_s,expected[,tie]), a
    /// radius suite (model,images,labels,index,max_eps,timeout_s,expected_radius[,tie]: one
    /// `quiver radius` search per row), an equivalence suite
    /// (model_a,model_b,images,labels,index,eps,relation,timeout_s,expected[,tie]: one `quiver
    /// equiv` query per row; relation same-class, delta:N or delta-real:X) or a VNN-COMP
    /// instances.csv (onnx,vnnlib,timeout[,expected]).
    pub suite: PathBuf,
    /// Results directory: results.jsonl (append-only), witnesses/, jobs/ (the job of every run), vnncomp/. Rerunning the same
    /// command skips the runs already recorded there.
    #[arg(long, required_unless_present = "list")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the suite's instance ids (of this shard) and exit.
    #[arg(long)]
    pub list: bool,
}

/// The configurations named on the command line and in `--configs`, each validated as it is read
/// (typed options; see `quiver::harness::config`).
pub fn configs(a: &RunArgs) -> Result<Vec<config::Config>> {
    let mut out = Vec::new();
    if let Some(f) = &a.config_file {
        out.extend(config::load_file(f)?);
    }
    for c in &a.configs {
        out.push(config::parse_arg(c)?);
    }
    if out.is_empty() {
        out.push(config::new("default", "")?);
    }
    config::check_unique(&out)?;
    Ok(out)
}

fn options(suite_path: &Path, out: &Path, a: &RunArgs) -> Result<bench::Options> {
    let suite = suite::load(suite_path, a.tie)?;
    let configs = configs(a)?;
    if let Some(t) = a.timeout {
        quiver::query::time_limit("--timeout", t)?;
    }
    let shard = a.shard.as_deref().map(suite::parse_shard).transpose().map_err(anyhow::Error::msg)?;
    Ok(bench::Options {
        exe: std::env::current_exe().context("cannot locate the quiver executable")?,
        suite,
        configs,
        out: out.to_path_buf(),
        jobs: a.jobs.max(1),
        timeout_s: a.timeout,
        memory_mb: (a.memory_mb > 0).then_some(a.memory_mb),
        shard,
        seed: a.seed,
        progress: !a.no_progress,
        pin: a.pin,
    })
}

/// Run `bench` and print its summary on stderr; returns the summary.
pub fn run_bench(suite_path: &Path, out: &Path, a: &RunArgs) -> Result<(bench::Options, bench::Summary)> {
    let opts = options(suite_path, out, a)?;
    quiver::harness::runner::install_interrupt_handler();
    let s = bench::run(&opts)?;
    let counts: Vec<String> = s.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    eprintln!(
        "bench: {} runs planned{} ({} instances × {} configurations), {} already recorded, {} run now{}{}",
        s.planned,
        opts.shard.map(|(k, n)| format!(" in shard {k}/{n}")).unwrap_or_default(),
        s.planned / opts.configs.len().max(1),
        opts.configs.len(),
        s.skipped,
        s.ran,
        if counts.is_empty() { String::new() } else { format!(": {}", counts.join(", ")) },
        if s.interrupted { " — interrupted: rerun the same command to finish" } else { "" },
    );
    eprintln!("results: {}", store::results_file(out).display());
    Ok((opts, s))
}

pub fn bench_cmd(a: BenchArgs) -> Result<u8> {
    if a.list {
        let suite = suite::load(&a.suite, a.run.tie)?;
        let shard = a.run.shard.as_deref().map(suite::parse_shard).transpose().map_err(anyhow::Error::msg)?;
        for (pos, i) in suite.instances.iter().enumerate() {
            if suite::in_shard(pos, shard) {
                println!("{}", i.id);
            }
        }
        return Ok(exit::VERIFIED);
    }
    let out = a.out.context("--out DIR is required")?;
    let (_, s) = run_bench(&a.suite, &out, &a.run)?;
    if s.interrupted {
        return Ok(INTERRUPTED);
    }
    if !s.disagreements.is_empty() {
        for d in &s.disagreements {
            eprintln!("{}", style(d).for_stderr().red());
        }
        return Ok(exit::SOUNDNESS);
    }
    Ok(exit::VERIFIED)
}

pub const BENCH_HELP: &str = "Example:\n  quiver bench benchmarks/harness/bundled.csv --config full=\"\" --config bounds-only=\"--backend none --search off\" --jobs 2 --out results/\n\
Rerun the same command after an interruption: recorded runs are skipped. Exit codes: 0 done, 3 two configurations \
contradict each other on an instance (soundness alarm), 130 interrupted, 2 bad input.";

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Results directories (or results.jsonl files) to merge, e.g. the shards of one run.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the report files (default: DIR/report of the first DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not print the summary table on stdout.
    #[arg(long)]
    pub quiet: bool,
}

pub const REPORT_HELP: &str =
    "Writes summary.md (tables, per-instance table), summary.csv, summary.tex, instances.csv, \
report.json, cactus.svg, scatter_A_vs_B.svg, for equivalence suites equiv.csv and equiv.tex (per configuration \
and per pair, relation and eps), for radius suites radius.csv, radius.tex and radius_instances.csv, and for VNN-COMP suites \
vnncomp_CONFIG.csv (the competition scorer's table). Exit codes: 0 done, 3 soundness alarm (two configurations contradict each other; listed first, in red, in \
every output), 2 bad input.";

pub fn report_cmd(a: ReportArgs) -> Result<u8> {
    use quiver::harness::report;
    let data = report::load(&a.dirs)?;
    if data.records.is_empty() {
        bail!("{}: no results recorded yet", a.dirs[0].display());
    }
    let out = match &a.out {
        Some(o) => o.clone(),
        None if a.dirs[0].is_file() => a.dirs[0].parent().unwrap_or(Path::new(".")).join("report"),
        None => a.dirs[0].join("report"),
    };
    let files = report::write_all(&data, &out)?;
    let alarms = data.alarms();
    if !a.quiet {
        let md = report::markdown(&data, &data.stats());
        for line in md.lines() {
            if line.starts_with("> * ") {
                println!("{}", style(line).red());
            } else {
                println!("{line}");
            }
        }
    }
    if data.duplicates > 0 {
        eprintln!(
            "note: {} duplicate runs (same instance and configuration in several inputs) ignored",
            data.duplicates
        );
    }
    if data.unreadable > 0 {
        eprintln!("note: {} unreadable result lines ignored", data.unreadable);
    }
    eprintln!("wrote {} files in {}", files.len(), out.display());
    if !alarms.is_empty() {
        for al in &alarms {
            eprintln!("{}", style(al).for_stderr().red());
        }
        return Ok(exit::SOUNDNESS);
    }
    Ok(exit::VERIFIED)
}

#[derive(Args, Debug)]
pub struct RegressArgs {
    /// The suite (its `expected` or `expected_radius` column gives the expectations unless
    /// --expected does).
    pub suite: PathBuf,
    /// Expected verdicts: a CSV `instance,expected` (ids as `quiver bench --list` prints them;
    /// verified/falsified/misclassified or holds/violated/unsat/sat, or an integer radius), or
    /// the results directory (or .jsonl) of an earlier run, whose decided verdicts and radii
    /// become the expected ones.
    #[arg(long)]
    pub expected: Option<PathBuf>,
    /// Check the runs already recorded in this results directory instead of running the suite
    /// (all its configurations, or those given with --config/--configs).
    #[arg(long, conflicts_with = "out")]
    pub results: Option<PathBuf>,
    /// Keep the runs in this results directory (resumable, like `bench --out`); default: a
    /// temporary directory, removed afterwards.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not fail on `unknown` verdicts (time limits…) where a verdict is expected; they are
    /// still listed.
    #[arg(long)]
    pub allow_unknown: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

pub const REGRESS_HELP: &str = "Exit codes: 0 every run agrees with the expected verdicts (unknowns allowed with \
--allow-unknown), 1 regression: a contradiction (verified where falsified is expected or the reverse; a radius \
other than the expected one, or an interval that excludes it), an error run, or an unknown without --allow-unknown, 3 soundness alarm (configurations contradict each other), 2 bad input, \
130 interrupted.";

pub fn regress_cmd(a: RegressArgs) -> Result<u8> {
    use quiver::harness::regress;
    let suite = suite::load(&a.suite, a.run.tie)?;
    let mut expected: regress::Expected = suite
        .instances
        .iter()
        .filter_map(|i| match (i.expected(), i.expected_radius()) {
            (Some(e), _) => Some((i.id.clone(), regress::Want::Verdict(e.as_str().to_string()))),
            (None, Some(k)) => Some((i.id.clone(), regress::Want::Radius(k))),
            (None, None) => None,
        })
        .collect();
    if let Some(f) = &a.expected {
        expected.extend(regress::load_expected(f)?);
    }
    if expected.is_empty() {
        bail!(
            "{}: no expected verdicts (fill in the `expected` or `expected_radius` column, or give --expected FILE)",
            a.suite.display()
        );
    }
    let shard = a.run.shard.as_deref().map(suite::parse_shard).transpose().map_err(anyhow::Error::msg)?;
    let ids: std::collections::HashSet<&str> = suite
        .instances
        .iter()
        .enumerate()
        .filter(|(p, _)| suite::in_shard(*p, shard))
        .map(|(_, i)| i.id.as_str())
        .collect();
    let mut temp = None;
    let (dir, config_names) = match &a.results {
        // Recorded runs: all configurations, or those named on the command line.
        Some(d) if a.run.configs.is_empty() && a.run.config_file.is_none() => (d.clone(), None),
        Some(d) => (d.clone(), Some(configs(&a.run)?.into_iter().map(|c| c.name).collect())),
        None => {
            let dir = match &a.out {
                Some(o) => o.clone(),
                None => {
                    let t = std::env::temp_dir().join(format!("quiver-regress-{}", std::process::id()));
                    temp = Some(t.clone());
                    t
                }
            };
            let res = run_bench(&a.suite, &dir, &a.run);
            let (opts, s) = match res {
                Ok(v) => v,
                Err(e) => {
                    if let Some(t) = &temp {
                        let _ = std::fs::remove_dir_all(t);
                    }
                    return Err(e);
                }
            };
            if s.interrupted {
                if let Some(t) = &temp {
                    let _ = std::fs::remove_dir_all(t);
                }
                return Ok(INTERRUPTED);
            }
            (dir, Some(opts.configs.iter().map(|c| c.name.clone()).collect::<Vec<_>>()))
        }
    };
    let loaded = store::read(&dir);
    if let Some(t) = &temp {
        let _ = std::fs::remove_dir_all(t);
    }
    let records: Vec<_> = loaded?
        .records
        .into_iter()
        .filter(|r| ids.contains(r.instance.as_str()))
        .filter(|r| config_names.as_ref().is_none_or(|n| n.contains(&r.config)))
        .collect();
    if records.is_empty() {
        bail!("{}: no runs of this suite recorded", dir.display());
    }
    let o = regress::check(&records, &expected);
    let red = |s: String| style(s).red().to_string();
    for x in &o.alarms {
        println!("{}", red(format!("ALARM          {x}")));
    }
    for x in &o.contradictions {
        println!("{}", red(format!("CONTRADICTION  {x}")));
    }
    for x in &o.errors {
        println!("ERROR          {x}");
    }
    for x in &o.unknowns {
        println!("UNKNOWN        {x}{}", if a.allow_unknown { " (allowed)" } else { "" });
    }
    let passed = o.passed(a.allow_unknown);
    println!(
        "regress: {} — {} runs checked against expected verdicts: {} agree, {} contradictions, {} unknown{}, {} errors; {} runs without an expected verdict{}",
        if passed { "PASS" } else { "FAIL" },
        o.checked,
        o.agree,
        o.contradictions.len(),
        o.unknowns.len(),
        if a.allow_unknown { " (allowed)" } else { "" },
        o.errors.len(),
        o.without_expected,
        if o.alarms.is_empty() { String::new() } else { format!("; {} SOUNDNESS ALARMS", o.alarms.len()) },
    );
    Ok(if !o.alarms.is_empty() {
        exit::SOUNDNESS
    } else if passed {
        exit::VERIFIED
    } else {
        exit::REGRESSION
    })
}
