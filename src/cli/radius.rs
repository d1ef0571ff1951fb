//! `quiver radius`: the maximum robustness radius around one input.

use super::exit;
use anyhow::Result;
use clap::Args;
use quiver::props::radius::{RadiusReport, Unit};
use quiver::query::args::RadiusJobArgs;
use quiver::query::RadiusJob;
use serde_json::json;

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
    /// The job: the model, the target and the options (or --job FILE). The options are `quiver
    /// verify`'s, run at every level, except that --timeout limits the whole radius search (the
    /// interval found so far is reported) and --eps-timeout one level's pipeline.
    #[command(flatten)]
    job: RadiusJobArgs,
    #[arg(long)]
    json: bool,
}

pub fn radius_cmd(a: RadiusArgs) -> Result<u8> {
    let job = a.job.job()?;
    let (net, report) = job.run()?;
    print(&job, a.json, net.name(), &report);
    Ok(if report.disagreement.is_some() {
        exit::SOUNDNESS
    } else if report.radius.is_some() || report.unbounded {
        exit::VERIFIED
    } else {
        exit::UNKNOWN
    })
}

fn print(job: &RadiusJob, as_json: bool, network: &str, r: &RadiusReport) {
    if as_json {
        let mut v = serde_json::to_value(r).expect("json");
        v["model"] = json!(job.model.path.display().to_string());
        v["network"] = json!(network);
        println!("{}", serde_json::to_string(&v).expect("json"));
        return;
    }
    let unit = match r.unit {
        Unit::Integer => "integer steps of the quantized input".to_string(),
        Unit::Real(s) => format!("multiples of {s} (real input units)"),
    };
    println!("model    {} ({network})", job.model.path.display());
    println!("property L∞ robustness of class {}, ties: {:?}; ε in {unit}", r.label, job.target.tie);
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
