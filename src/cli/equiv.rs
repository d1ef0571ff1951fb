//! `quiver equiv A B`: δ-equivalence of two networks over an input box.

use super::exit;
use anyhow::Result;
use clap::Args;
use quiver::query::args::EquivJobArgs;
use quiver::query::{EquivJob, EquivRun};
use quiver::verify::Verdict;
use serde_json::json;

pub const EQUIV_HELP: &str = "A and B must take the same input (shape, integer type, scale, zero point) \
and have as many outputs. The question is posed as one query on their product network (one input \
feeding both, outputs side by side), so every backend, the bounds and the search answer it. \
`falsified` comes with an input that the exact executor replayed on A and on B separately, both \
outputs and what disagrees. --delta compares the integer outputs and needs equal output scales and \
zero points; --delta-real compares the dequantized outputs exactly (rational arithmetic on the \
scales' exact values). --same-class --tie first-index: the first-index argmaxes are equal; --tie any: \
some class is the strict maximum of both (a tie in either network is a disagreement). \
--json prints verify's report on the product network plus `pair` {input, output_a, output_b, \
output_a_real, output_b_real, violation}, `relation`, `product_nodes`, `shared_nodes`.\n\n\
Exit codes: 0 equivalent (verified), 10 not equivalent (a replayed counterexample), 20 unknown, \
2 bad input or usage, 3 soundness alarm.";

#[derive(Args, Debug)]
pub struct EquivArgs {
    /// The job: the two models, the input box, the relation and the options (or --job FILE).
    #[command(flatten)]
    job: EquivJobArgs,
    #[arg(long)]
    json: bool,
}

pub fn equiv_cmd(a: EquivArgs) -> Result<u8> {
    let job = a.job.job()?;
    let run = job.run()?;
    print(&job, a.json, &run);
    let report = &run.report;
    Ok(if report.report.disagreement.is_some() {
        exit::SOUNDNESS
    } else {
        match report.verdict() {
            Verdict::Verified => exit::VERIFIED,
            Verdict::Falsified { .. } => exit::FALSIFIED,
            Verdict::Unknown { .. } => exit::UNKNOWN,
        }
    })
}

fn print(job: &EquivJob, as_json: bool, run: &EquivRun) {
    let (na, nb, box_desc, r) = (&run.a, &run.b, &run.box_description, &run.report);
    let (pa, pb) = (job.model_a.path.display(), job.model_b.path.display());
    if as_json {
        let mut v = serde_json::to_value(r).expect("json");
        v["model_a"] = json!(pa.to_string());
        v["model_b"] = json!(pb.to_string());
        v["network_a"] = json!(na.name());
        v["network_b"] = json!(nb.name());
        v["input_box"] = json!(box_desc);
        println!("{}", serde_json::to_string(&v).expect("json"));
        return;
    }
    let rep = &r.report;
    println!("model A  {pa} ({})", na.name());
    println!("model B  {pb} ({})", nb.name());
    println!("relation {}", r.relation);
    println!("inputs   {box_desc}");
    println!(
        "product  {} nodes ({} shared), {} outputs; {} inputs, 2^{:.1} points, {} unsafe disjuncts",
        r.product_nodes,
        r.shared_nodes,
        2 * na.output_len(),
        rep.stats.inputs,
        rep.stats.box_points_log2,
        rep.stats.disjuncts
    );
    for s in &rep.stages {
        println!("  {:<20} {:>9.3} ms  {}", s.name, s.seconds * 1e3, s.outcome);
    }
    for b in &rep.stats.backends {
        let why = b.reason.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
        println!(
            "  {}: {}{why} — {} variables ({} binary), {} constraints, solve {:.3} s",
            b.backend, b.verdict, b.stats.variables, b.stats.binaries, b.stats.constraints, b.stats.solve_seconds
        );
    }
    if let Some(d) = &rep.disagreement {
        println!("\x1b[31m{d}\x1b[0m");
    }
    let result = match &rep.verdict {
        Verdict::Verified => "verified: equivalent on the whole box".to_string(),
        Verdict::Falsified { .. } => "falsified: not equivalent (witness replayed on A and on B)".to_string(),
        Verdict::Unknown { reason } => format!("unknown: {reason}"),
    };
    println!("result   {result}  ({:.3} s)", rep.seconds);
    if let Some(w) = &r.pair {
        println!("witness input    {:?}", w.input);
        println!("output A         {:?}", w.output_a);
        println!("output B         {:?}", w.output_b);
        println!("disagreement     {}", w.violation);
    }
}
