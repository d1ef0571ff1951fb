//! `quiver radius`: the maximum robustness radius around one input.

use super::exit;
use anyhow::{bail, Context, Result};
use clap::Args;
use quiver::bounds::Method;
use quiver::budget::Budget;
use quiver::net::exec;
use quiver::props::radius::{radius, RadiusOptions, RadiusQuery, RadiusReport, Strategy, Unit};
use quiver::query::args::{InputArgs, ModelArgs};
use quiver::search::SearchOptions;
use quiver::spec::robust::TieRule;
use quiver::verify::Options;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

pub const RADIUS_HELP: &str = "The radius is the largest level ε at which L∞ robustness holds, \
with ε + 1 falsified by a witness the exact executor replayed (-1: the input itself violates, e.g. \
it is misclassified). When some level stays undecided, the answer is an interval: `radius >= lower` \
(the largest level proved) and `radius < upper` (the smallest level with a witness). \
--json prints {radius (integer or null), lower, upper, unbounded, runs: [{eps, method, verdict, \
seconds, …}], witness, reason, …}.\n\nExit codes: 0 radius decided (or robust on the whole input \
range), 20 undecided (an interval), 2 bad input or usage, 3 soundness alarm (two answers \
contradict each other).";

#[derive(Args, Debug)]
pub struct RadiusArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    input: InputArgs,
    /// The class that must win (default: the label from --labels, else the predicted class).
    #[arg(long)]
    label: Option<usize>,
    /// IDX label file for --dataset (gives the default --label); `@bundled` with `--dataset @bundled`.
    #[arg(long, requires = "dataset")]
    labels: Option<PathBuf>,
    /// Tie rule: `any` (a tie with another class is a violation) or `first-index` (argmax semantics).
    #[arg(long, default_value = "any")]
    tie: TieRule,
    /// Largest level tried (default: the level whose box is the whole input range).
    #[arg(long, value_name = "N")]
    max_eps: Option<i64>,
    /// Levels are multiples of this real radius (mapped through the input quantization) instead
    /// of integer steps of the quantized input.
    #[arg(long, value_name = "X")]
    eps_real_step: Option<f64>,
    /// `search` (bisection with bounds alone, then with the search alone, then the whole
    /// pipeline from the lowest open level; every answer reused) or `linear` (the pipeline at
    /// ε = 0, 1, 2, … until the first falsified: the per-ε loop).
    #[arg(long, default_value = "search")]
    strategy: Strategy,
    /// Bound propagation method: none, interval or symbolic.
    #[arg(long, default_value = "symbolic")]
    bounds: Method,
    /// Skip replaying the box center and corners before bounds (at each level).
    #[arg(long)]
    no_probe: bool,
    /// Gradient-based counterexample search (on/off), at each level.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    search: String,
    /// Time budget of the search at each level, in seconds.
    #[arg(long, default_value_t = 1.0)]
    search_budget: f64,
    /// Seed of the search.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Complete backend at each level: milp, smt-bv, smt-lia, or none.
    #[arg(long, default_value = "milp")]
    backend: String,
    /// Time limit of one level's pipeline, in seconds.
    #[arg(long, value_name = "SECONDS")]
    eps_timeout: Option<f64>,
    /// Time limit of the whole radius search, in seconds; the interval found so far is reported.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Threads of the backend and the search (0 = all cores).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long)]
    json: bool,
}

fn seconds(name: &str, v: Option<f64>) -> Result<Option<Duration>> {
    match v {
        Some(t) if !(t.is_finite() && t > 0.0) => bail!("--{name} must be a positive number of seconds, got {t}"),
        Some(t) => Ok(Some(Duration::from_secs_f64(t))),
        None => Ok(None),
    }
}

pub fn radius_cmd(a: RadiusArgs) -> Result<u8> {
    let net = a.model.model().load()?;
    let input = a.input.input(a.labels.as_deref())?;
    let where_ = input.path().display().to_string();
    let (x, dataset_label) = input.read(&net)?;
    let label = match a.label.or(dataset_label) {
        Some(l) => l,
        None => exec::argmax(&exec::run(&net, &x).with_context(|| where_.clone())?),
    };
    if !(a.search_budget.is_finite() && a.search_budget >= 0.0) {
        bail!("--search-budget must be a non-negative number of seconds, got {}", a.search_budget);
    }
    let backends = match a.backend.as_str() {
        "none" => vec![],
        b if quiver::backend::by_name(b).is_some() => vec![b.to_string()],
        b => bail!("unknown backend `{b}` (available: {}, none)", quiver::backend::available().join(", ")),
    };
    let threads = match a.threads {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let search = (a.search == "on").then(|| SearchOptions {
        budget: Duration::from_secs_f64(a.search_budget),
        seed: a.seed,
        threads,
        ..SearchOptions::default()
    });
    let verify = Options {
        bounds: a.bounds,
        probe: !a.no_probe,
        search,
        backends,
        crosscheck: false,
        time_limit: seconds("eps-timeout", a.eps_timeout)?,
        threads,
        tighten: true,
    };
    let opts = RadiusOptions { verify, max_eps: a.max_eps, strategy: a.strategy };
    let unit = a.eps_real_step.map_or(Unit::Integer, Unit::Real);
    let q = RadiusQuery { net: &net, center: &x, label, tie: a.tie, unit };
    let budget = Budget::new(seconds("timeout", a.timeout)?);
    let report = radius(&q, &opts, &budget).with_context(|| where_.clone())?;
    print(&a, net.name(), &report);
    Ok(if report.disagreement.is_some() {
        exit::SOUNDNESS
    } else if report.radius.is_some() || report.unbounded {
        exit::VERIFIED
    } else {
        exit::UNKNOWN
    })
}

fn print(a: &RadiusArgs, network: &str, r: &RadiusReport) {
    if a.json {
        let mut v = serde_json::to_value(r).expect("json");
        v["model"] = json!(a.model.model.display().to_string());
        v["network"] = json!(network);
        println!("{}", serde_json::to_string(&v).expect("json"));
        return;
    }
    let unit = match r.unit {
        Unit::Integer => "integer steps of the quantized input".to_string(),
        Unit::Real(s) => format!("multiples of {s} (real input units)"),
    };
    println!("model    {} ({network})", a.model.model.display());
    println!("property L∞ robustness of class {}, ties: {:?}; ε in {unit}", r.label, a.tie);
    println!("levels   0..={} tried (the box is the whole input range from ε = {})", r.max_eps, r.saturation_eps);
    for run in &r.runs {
        let why = run.reason.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
        println!("  ε = {:<5} {:<9} {:>10.3} ms  {}{why}", run.eps, run.method, run.seconds * 1e3, run.verdict);
    }
    if let Some(d) = &r.disagreement {
        println!("\x1b[31m{d}\x1b[0m");
    }
    let upper = r.upper.map_or("none found".to_string(), |u| u.to_string());
    match (r.radius, r.unbounded) {
        (Some(-1), _) => println!("result   radius -1: the input itself violates the property"),
        (Some(k), _) => println!("result   radius {k} (verified at {k}, witness replayed at {})", k + 1),
        (None, true) => println!("result   robust on the whole input range (no radius)"),
        (None, false) => println!(
            "result   undecided: radius >= {}, radius < {upper}{}",
            r.lower,
            r.reason.as_ref().map(|u| format!(" ({u})")).unwrap_or_default()
        ),
    }
    println!("time     {:.3} s", r.seconds);
    if let (Some(w), Some(u)) = (&r.witness, r.upper) {
        println!("witness at ε = {u}: outputs {:?} (the input is in --json)", w.output());
    }
}
