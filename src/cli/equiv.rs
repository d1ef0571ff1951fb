//! `quiver equiv A B`: δ-equivalence of two networks over an input box.

use super::exit;
use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args};
use quiver::budget::Budget;
use quiver::props::equiv::{equiv, parse_delta, EquivQuery, EquivReport, Relation};
use quiver::query::args::InputArgs;
use quiver::query::{Model, OrtCpu, VerifyOptions};
use quiver::spec::real::{self, Domain};
use quiver::spec::robust::{ball, Radius, TieRule};
use quiver::spec::vnnlib;
use quiver::spec::InputBox;
use quiver::verify::Verdict;
use serde_json::json;
use std::path::PathBuf;

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
#[command(group(ArgGroup::new("relation").required(true).args(["delta", "delta_real", "same_class"])))]
pub struct EquivArgs {
    /// Model A: quiver JSON, ONNX (QOperator/QDQ int8), Keras fixed-point .h5, or `@bundled`.
    a: PathBuf,
    /// Model B (same kinds as A).
    b: PathBuf,
    /// Quantization bits of a Keras fixed-point .h5 model A (default: from the file name, or 6).
    #[arg(long)]
    q_bits: Option<u8>,
    /// Quantization bits of a Keras fixed-point .h5 model B (default: from its file name, or 6).
    #[arg(long)]
    q_bits_b: Option<u8>,
    /// The CPU ONNX Runtime runs an ONNX model A on: x86 (any x86-64) or vnni (see `quiver verify --help`).
    #[arg(long, value_enum, default_value = "x86")]
    ort_cpu: OrtCpu,
    /// The CPU for an ONNX model B (default: as --ort-cpu).
    #[arg(long, value_enum)]
    ort_cpu_b: Option<OrtCpu>,
    #[command(flatten)]
    input: InputArgs,
    /// Integer radius of the box around the input, on the quantized grid.
    #[arg(long, conflicts_with_all = ["eps_real", "vnnlib"])]
    eps: Option<i64>,
    /// Real radius of the box around the input, mapped through the input quantization.
    #[arg(long, conflicts_with = "vnnlib")]
    eps_real: Option<f64>,
    /// The input box of a VNN-LIB file (its output constraints are not used).
    #[arg(long, conflicts_with_all = ["input", "dataset"])]
    vnnlib: Option<PathBuf>,
    /// Whether the VNN-LIB bounds are on the real or on the integer inputs.
    #[arg(long, default_value = "real", requires = "vnnlib")]
    domain: Domain,
    /// Largest difference allowed between the integer outputs (needs equal output scales and zero points).
    #[arg(long, value_name = "D")]
    delta: Option<i64>,
    /// Largest difference allowed between the dequantized outputs (a decimal, taken exactly).
    #[arg(long, value_name = "X")]
    delta_real: Option<String>,
    /// Both networks must predict the same class (under --tie).
    #[arg(long)]
    same_class: bool,
    /// Tie rule of --same-class: `first-index` (argmax, first index on ties) or `any` (a tie for
    /// the maximum is a disagreement).
    #[arg(long, default_value = "any", requires = "same_class")]
    tie: TieRule,
    #[command(flatten)]
    options: VerifyOptions,
    #[arg(long)]
    json: bool,
}

/// The integer input box and whether it was stated on real inputs.
fn input_box(a: &EquivArgs, net: &quiver::net::Network) -> Result<(InputBox, bool, String)> {
    if let Some(path) = &a.vnnlib {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let v = vnnlib::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // Only the input bounds: the outputs are the relation's.
        let inputs_only = vnnlib::VnnLib { output_dnf: vec![], n_outputs: net.output_len(), ..v };
        let spec = real::to_spec(&inputs_only, net, a.domain, String::new())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok((spec.input, a.domain == Domain::Real, format!("input box of {}", path.display())));
    }
    let input = a.input.input(None)?;
    let where_ = input.path().display().to_string();
    let (x, _) = input.read(net)?;
    let radius = match (a.eps, a.eps_real) {
        (Some(e), None) => Radius::Integer(e),
        (None, Some(e)) => Radius::Real(e),
        _ => bail!("the input box needs exactly one of --eps N or --eps-real X (or --vnnlib FILE)"),
    };
    let (b, what) = ball(net, &x, radius).map_err(|e| anyhow::anyhow!("{where_}: {e}"))?;
    let real = a.input.real || matches!(radius, Radius::Real(_));
    Ok((b, real, format!("L∞ ball around {where_}, {what}")))
}

pub fn equiv_cmd(a: EquivArgs) -> Result<u8> {
    let opts = a.options.pipeline()?;
    let model_a = Model { path: a.a.clone(), q_bits: a.q_bits, ort_cpu: a.ort_cpu };
    let model_b = Model { path: a.b.clone(), q_bits: a.q_bits_b, ort_cpu: a.ort_cpu_b.unwrap_or(a.ort_cpu) };
    let (net_a, net_b) = (model_a.load()?, model_b.load()?);
    let relation = match (a.delta, &a.delta_real, a.same_class) {
        (Some(d), None, false) => Relation::Delta(d),
        (None, Some(x), false) => Relation::DeltaReal(parse_delta(x).context("--delta-real")?),
        (None, None, true) => Relation::SameClass(a.tie),
        _ => bail!("give exactly one of --delta D, --delta-real X, --same-class"),
    };
    let (input, real_input, box_desc) = input_box(&a, &net_a)?;
    let q = EquivQuery { a: &net_a, b: &net_b, input, real_input, relation };
    a.options.apply_process_limits();
    let budget = Budget::new(opts.time_limit);
    let names = format!("{} vs {}", a.a.display(), a.b.display());
    let report = equiv(&q, &opts, &budget).with_context(|| names)?;
    print(&a, &net_a, &net_b, &box_desc, &report);
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

fn print(a: &EquivArgs, na: &quiver::net::Network, nb: &quiver::net::Network, box_desc: &str, r: &EquivReport) {
    if a.json {
        let mut v = serde_json::to_value(r).expect("json");
        v["model_a"] = json!(a.a.display().to_string());
        v["model_b"] = json!(a.b.display().to_string());
        v["network_a"] = json!(na.name());
        v["network_b"] = json!(nb.name());
        v["input_box"] = json!(box_desc);
        println!("{}", serde_json::to_string(&v).expect("json"));
        return;
    }
    let rep = &r.report;
    println!("model A  {} ({})", a.a.display(), na.name());
    println!("model B  {} ({})", a.b.display(), nb.name());
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
