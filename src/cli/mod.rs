//! Argument definitions and the subcommands.

pub mod exit;
mod input;
mod print;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use quiver::backend::BackendOptions;
use quiver::bounds::Method;
use quiver::net::{exec, format, Layer, Network};
use quiver::spec::real::Domain;
use quiver::spec::robust::{robustness, Radius, TieRule};
use quiver::spec::{vnnlib, Spec};
use quiver::verify::{self, Options, Verdict};
use std::path::{Path, PathBuf};

/// quiver — a formal verifier for quantized neural networks.
///
/// It proves or refutes properties (local robustness, VNN-LIB specifications) of the exact
/// integer arithmetic that int8 runtimes execute. MODEL is a quiver JSON model file, or
/// `@bundled` for the bundled PyTorch-quantized MNIST MLP.
#[derive(Parser, Debug)]
#[command(name = "quiver", version, about, long_about, after_help = exit::HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show a model's layers, shapes, bit widths and parameter counts.
    Info {
        model: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Execute a model exactly on one input and print its outputs and predicted class.
    Run {
        model: PathBuf,
        #[command(flatten)]
        input: InputArgs,
        #[arg(long)]
        json: bool,
    },
    /// Verify a property: a VNN-LIB file, or L∞ robustness around an input.
    #[command(after_help = exit::HELP)]
    Verify(VerifyArgs),
    /// Run quiver's main job on the bundled model: robustness of a few bundled MNIST inputs.
    Demo {
        /// Number of bundled inputs to check.
        #[arg(long, default_value_t = 5)]
        count: usize,
        /// Integer radii to check, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
        eps: Vec<i64>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct InputArgs {
    /// Input file: integers (the quantized input) separated by whitespace or commas, or a JSON array.
    #[arg(long)]
    input: PathBuf,
    /// The input file holds real values; quantize them with the model's input quantization.
    #[arg(long)]
    real: bool,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    model: PathBuf,
    /// A VNN-LIB property (the assertions describe a counterexample).
    #[arg(long, conflicts_with = "robust")]
    vnnlib: Option<PathBuf>,
    /// Whether the VNN-LIB variables are the real (dequantized) or the integer values.
    #[arg(long, default_value = "real", requires = "vnnlib")]
    domain: Domain,
    /// L∞ local robustness around --input (needs --eps or --eps-real).
    #[arg(long, requires = "input")]
    robust: bool,
    /// Input file (see `quiver run --help`).
    #[arg(long)]
    input: Option<PathBuf>,
    /// The input file holds real values.
    #[arg(long)]
    real: bool,
    /// Integer radius on the quantized input grid.
    #[arg(long, conflicts_with = "eps_real")]
    eps: Option<i64>,
    /// Real radius, mapped through the input quantization.
    #[arg(long)]
    eps_real: Option<f64>,
    /// The class that must win (default: the class the model predicts at --input).
    #[arg(long)]
    label: Option<usize>,
    /// Tie rule: `any` (a tie with another class is a violation) or `first-index` (argmax semantics).
    #[arg(long, default_value = "any")]
    tie: TieRule,
    /// Bound propagation method.
    #[arg(long, default_value = "interval")]
    bounds: Method,
    /// Skip replaying the box center and corners before bounds.
    #[arg(long)]
    no_probe: bool,
    /// Complete backend to run when bounds leave the query open.
    #[arg(long)]
    backend: Option<String>,
    /// Time limit of the complete backend, in seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// Solver threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long)]
    json: bool,
}

/// Load a model; `@bundled` is the embedded default.
fn load_model(path: &Path) -> Result<Network> {
    if path.as_os_str() == "@bundled" {
        return Ok(quiver::bundled::model());
    }
    Ok(format::load(path)?)
}

pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Info { model, json } => {
            let net = load_model(&model)?;
            print::info(&net, json);
            Ok(exit::VERIFIED)
        }
        Command::Run { model, input, json } => {
            let net = load_model(&model)?;
            let x = input::read(&net, &input.input, input.real)?;
            let y = exec::run(&net, &x).with_context(|| format!("{}", input.input.display()))?;
            print::run(&net, &x, &y, json);
            Ok(exit::VERIFIED)
        }
        Command::Verify(args) => verify_cmd(args),
        Command::Demo { count, eps, json } => demo(count, &eps, json),
    }
}

fn build_spec(net: &Network, a: &VerifyArgs) -> Result<Spec> {
    if let Some(path) = &a.vnnlib {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let v = vnnlib::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let spec = quiver::spec::real::to_spec(&v, net, a.domain, format!("VNN-LIB {}", path.display()))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok(spec);
    }
    if !a.robust {
        bail!("nothing to verify: give --vnnlib FILE or --robust --input FILE --eps N");
    }
    let path = a.input.as_ref().context("--robust needs --input FILE")?;
    let x = input::read(net, path, a.real)?;
    let radius = match (a.eps, a.eps_real) {
        (Some(e), None) => Radius::Integer(e),
        (None, Some(e)) => Radius::Real(e),
        _ => bail!("--robust needs exactly one of --eps N or --eps-real X"),
    };
    let label = match a.label {
        Some(l) => l,
        None => exec::argmax(&exec::run(net, &x).with_context(|| format!("{}", path.display()))?),
    };
    Ok(robustness(net, &x, radius, label, a.tie).with_context(|| format!("{}", path.display()))?)
}

fn verify_cmd(a: VerifyArgs) -> Result<u8> {
    let net = load_model(&a.model)?;
    let spec = build_spec(&net, &a)?;
    spec.check(&net).with_context(|| "the specification does not fit the model")?;
    if let Some(t) = a.timeout {
        if !(t.is_finite() && t > 0.0) {
            bail!("--timeout must be a positive number of seconds, got {t}");
        }
    }
    let opts = Options {
        bounds: a.bounds,
        probe: !a.no_probe,
        backend: a.backend.clone(),
        backend_options: BackendOptions {
            time_limit: a.timeout.map(std::time::Duration::from_secs_f64),
            threads: a.threads.max(1),
        },
    };
    let report = verify::verify(&net, &spec, &opts);
    print::report(&net, &spec, &a.model, &report, a.json);
    Ok(exit_code(&report.verdict))
}

fn exit_code(v: &Verdict) -> u8 {
    match v {
        Verdict::Verified => exit::VERIFIED,
        Verdict::Falsified { .. } => exit::FALSIFIED,
        Verdict::Unknown { .. } => exit::UNKNOWN,
    }
}

fn demo(count: usize, eps: &[i64], json: bool) -> Result<u8> {
    let net = quiver::bundled::model();
    let vectors = quiver::bundled::vectors();
    if eps.iter().any(|&e| e < 0) {
        bail!("--eps values must be >= 0");
    }
    let dense = net.layers().iter().filter(|l| matches!(l, Layer::Dense(_))).count();
    if !json {
        println!(
            "quiver demo: L∞ robustness of the bundled model `{}` ({} layers, {} dense; {} parameters; {})",
            net.name(),
            net.layers().len(),
            dense,
            net.parameter_count(),
            vectors.source
        );
    }
    let mut rows = Vec::new();
    for (k, x) in vectors.inputs.iter().take(count).enumerate() {
        let y = exec::run(&net, x)?;
        let label = vectors.labels.get(k).copied().unwrap_or_else(|| exec::argmax(&y));
        for &e in eps {
            let spec = robustness(&net, x, Radius::Integer(e), label, TieRule::AnyTieUnsafe)?;
            let report = verify::verify(&net, &spec, &Options::default());
            rows.push((k, label, e, report));
        }
    }
    print::demo(&rows, json);
    Ok(exit::VERIFIED)
}
