//! Argument definitions and the subcommands.

mod bench;
pub mod exit;
mod input;
mod print;
mod radius;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use quiver::bounds::Method;
use quiver::net::{exec, format, Network};
use quiver::search::SearchOptions;
use quiver::spec::real::Domain;
use quiver::spec::robust::{robustness, Radius, TieRule};
use quiver::spec::{vnnlib, Spec};
use quiver::verify::{self, Options, Report, Verdict};
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
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long)]
        json: bool,
    },
    /// Execute a model exactly on one input and print its outputs and predicted class.
    Run {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        input: InputArgs,
        #[arg(long)]
        json: bool,
    },
    /// Verify a property: a VNN-LIB file, or L∞ robustness around an input.
    #[command(after_help = exit::HELP)]
    Verify(VerifyArgs),
    /// The maximum robustness radius around an input: the largest ε verified, with ε + 1
    /// falsified by a replayed witness (or the honest interval when some ε stays undecided).
    #[command(after_help = radius::RADIUS_HELP)]
    Radius(radius::RadiusArgs),
    /// Write the exact query a backend solves, for third-party solvers (LP/MPS, SMT-LIB2).
    Encode(EncodeArgs),
    /// Convert a model (ONNX, Keras fixed-point .h5) into quiver's JSON IR.
    Import {
        #[command(flatten)]
        model: ModelArgs,
        /// Output JSON file (not overwritten unless --force).
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Run every instance of a suite under every configuration (isolated child processes, time
    /// and memory limits, resumable JSON-lines results).
    #[command(after_help = bench::BENCH_HELP)]
    Bench(bench::BenchArgs),
    /// Tables (Markdown, CSV, LaTeX), cactus and scatter plots (SVG) from results directories
    /// (several: shards are merged); contradicting configurations are flagged first, in red.
    #[command(after_help = bench::REPORT_HELP)]
    Report(bench::ReportArgs),
    /// Run a suite and compare the verdicts with expected ones; exits 1 on any contradiction
    /// (for CI).
    #[command(after_help = bench::REGRESS_HELP)]
    Regress(bench::RegressArgs),
    /// Run quiver's main job on the bundled model: robustness of a few bundled MNIST inputs.
    Demo {
        /// Number of bundled inputs to check.
        #[arg(long, default_value_t = 5)]
        count: usize,
        /// Integer radii to check, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2,8")]
        eps: Vec<i64>,
        /// Time limit of the complete backend per query, in seconds.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct ModelArgs {
    /// Model: quiver JSON, ONNX (QOperator/QDQ int8), Keras fixed-point .h5, or `@bundled`.
    model: PathBuf,
    /// Quantization bits of a Keras fixed-point .h5 model (default: from the file name, or 6).
    #[arg(long)]
    q_bits: Option<u8>,
}

#[derive(Args, Debug)]
struct InputArgs {
    /// Input file: integers (the quantized input) separated by whitespace or commas, or a JSON array.
    #[arg(long, conflicts_with = "dataset")]
    input: Option<PathBuf>,
    /// The input file holds real values; quantize them with the model's input quantization.
    #[arg(long, requires = "input")]
    real: bool,
    /// An MNIST-style IDX image file (optionally gzipped) to take the input from, or `@bundled`
    /// for the bundled model's 200 test vectors (their labels come with them).
    #[arg(long, requires = "index")]
    dataset: Option<PathBuf>,
    /// Index of the image in --dataset.
    #[arg(long, requires = "dataset")]
    index: Option<usize>,
}

#[derive(Args, Debug)]
struct SpecArgs {
    /// A VNN-LIB property (the assertions describe a counterexample).
    #[arg(long, conflicts_with = "robust")]
    vnnlib: Option<PathBuf>,
    /// Whether the VNN-LIB variables are the real (dequantized) or the integer values.
    #[arg(long, default_value = "real", requires = "vnnlib")]
    domain: Domain,
    /// L∞ local robustness around the input (needs --eps or --eps-real).
    #[arg(long)]
    robust: bool,
    #[command(flatten)]
    input: InputArgs,
    /// Integer radius on the quantized input grid.
    #[arg(long, conflicts_with = "eps_real")]
    eps: Option<i64>,
    /// Real radius, mapped through the input quantization.
    #[arg(long)]
    eps_real: Option<f64>,
    /// The class that must win (default: the label from --labels, else the predicted class).
    #[arg(long)]
    label: Option<usize>,
    /// IDX label file for --dataset (gives the default --label); `@bundled` with `--dataset @bundled`.
    #[arg(long, requires = "dataset")]
    labels: Option<PathBuf>,
    /// Tie rule: `any` (a tie with another class is a violation) or `first-index` (argmax semantics).
    #[arg(long, default_value = "any")]
    tie: TieRule,
    /// Bound propagation method: none, interval or symbolic.
    #[arg(long, default_value = "symbolic")]
    bounds: Method,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    spec: SpecArgs,
    /// Skip replaying the box center and corners before bounds.
    #[arg(long)]
    no_probe: bool,
    /// Gradient-based counterexample search (on/off).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    search: String,
    /// Time budget of the search, in seconds.
    #[arg(long, default_value_t = 1.0)]
    search_budget: f64,
    /// Seed of the search (results are deterministic for a seed and thread count).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Complete backend(s), comma-separated: milp, bab (branch and bound in the bound propagation
    /// with MILP leaves; variants `bab:KEY=VALUE+…`, see encodings/bab.md), smt-bv, smt-lia, all,
    /// or none (also milp-whole: the exported one-model MILP as is, a baseline for experiments).
    #[arg(long, value_delimiter = ',', default_value = "milp")]
    backend: Vec<String>,
    /// Run every listed backend (and bounds) on the query and report any contradiction (exit 3).
    #[arg(long)]
    crosscheck: bool,
    /// Time limit of the whole pipeline (probe, bounds, search and every backend), in seconds.
    /// A watchdog stops the solvers when it passes; the answer is then `unknown` (time limit).
    #[arg(long)]
    timeout: Option<f64>,
    /// Threads (0 = all cores): the MILP backend solves up to this many disjuncts' sub-MILPs at
    /// once (one HiGHS thread each; the first witness stops the others), the search runs its
    /// restarts on this many threads (the SMT backends use one).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Memory limit of the SMT backends in MiB (Z3's process-wide `memory_max_size`; Z3 then
    /// answers unknown with the reason). Not applied to HiGHS.
    #[arg(long, value_name = "MIB")]
    memory_mb: Option<u32>,
    #[arg(long)]
    json: bool,
    /// Also write a VNN-COMP result file: sat (with the counterexample), unsat, timeout, unknown
    /// or error (written even when the model or property cannot be loaded).
    #[arg(long, value_name = "FILE")]
    vnncomp_result: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct EncodeArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    spec: SpecArgs,
    /// Output format: lp or mps (the MILP backend's model), smt2 (the SMT backend's query).
    #[arg(long)]
    format: String,
    /// SMT logic for --format smt2: bv (QF_BV, bit-exact) or lia (QF_LIA).
    #[arg(long, default_value = "bv")]
    logic: String,
    /// Output file (not overwritten unless --force).
    #[arg(short, long)]
    output: PathBuf,
    #[arg(long)]
    force: bool,
}

/// Load a model by extension; `@bundled` is the embedded default.
fn load_model(m: &ModelArgs) -> Result<Network> {
    let path = &m.model;
    if path.as_os_str() == "@bundled" {
        return Ok(quiver::bundled::model());
    }
    Ok(quiver::import::load_any(path, m.q_bits)?)
}

/// The integer input named by the arguments, and its dataset label if known.
fn read_input(net: &Network, a: &InputArgs, labels: Option<&Path>) -> Result<(Vec<i64>, Option<usize>)> {
    if let Some(path) = &a.input {
        return Ok((input::read(net, path, a.real)?, None));
    }
    let (Some(path), Some(index)) = (&a.dataset, a.index) else {
        bail!("no input given: use --input FILE or --dataset FILE --index N");
    };
    if path.as_os_str() == quiver::bundled::DATASET {
        // The bundled test vectors (inputs of the bundled model) and their labels.
        let v = quiver::bundled::vectors();
        let x = v.inputs.get(index).cloned().with_context(|| {
            format!("{}: index {index} out of range ({} vectors)", quiver::bundled::DATASET, v.inputs.len())
        })?;
        quiver::net::exec::check_input(net, &x)
            .with_context(|| format!("{} vector {index}", quiver::bundled::DATASET))?;
        let label = match labels {
            Some(lp) if lp.as_os_str() != quiver::bundled::DATASET => {
                bail!(
                    "--labels {}: the labels of --dataset @bundled come with it (use --labels @bundled or omit it)",
                    lp.display()
                )
            }
            _ => v.labels.get(index).copied(),
        };
        return Ok((x, label));
    }
    let (x, _) = quiver::import::idx::load_image(path, index)?;
    quiver::net::exec::check_input(net, &x).with_context(|| format!("{} image {index}", path.display()))?;
    let label = match labels {
        Some(lp) => {
            let l = quiver::import::idx::load_labels(lp)?;
            let v = l
                .get(index)
                .with_context(|| format!("{}: index {index} out of range ({} labels)", lp.display(), l.len()))?;
            Some(usize::from(*v))
        }
        None => None,
    };
    Ok((x, label))
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
            let (x, _) = read_input(&net, &input, None)?;
            let y = exec::run(&net, &x)?;
            print::run(&net, &x, &y, json);
            Ok(exit::VERIFIED)
        }
        Command::Verify(args) => {
            let vnn = args.vnncomp_result.clone();
            let res = verify_cmd(args);
            if let (Some(p), Err(_)) = (&vnn, &res) {
                let _ = bench::write_vnncomp_result(p, None, None, false);
            }
            res
        }
        Command::Bench(args) => bench::bench_cmd(args),
        Command::Report(args) => bench::report_cmd(args),
        Command::Regress(args) => bench::regress_cmd(args),
        Command::Radius(args) => radius::radius_cmd(args),
        Command::Encode(args) => encode_cmd(args),
        Command::Import { model, output, force } => {
            let net = load_model(&model)?;
            write_new(&output, &format::to_json(&net), force)?;
            eprintln!(
                "wrote {} ({} layers, {} parameters)",
                output.display(),
                net.layers().len(),
                net.parameter_count()
            );
            Ok(exit::VERIFIED)
        }
        Command::Demo { count, eps, timeout, json } => demo(count, &eps, timeout, json),
    }
}

/// Write `text` to `path` atomically (a temporary file renamed into place), refusing to replace
/// an existing file unless `force`: a failed run never leaves a partial file or loses one.
fn write_new(path: &Path, text: &str, force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!("{}: already exists (use --force to replace it)", path.display());
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.quiver-tmp-{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("{}: cannot write: {e}", path.display())
    })
}

fn build_spec(net: &Network, a: &SpecArgs) -> Result<Spec> {
    if let Some(path) = &a.vnnlib {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let v = vnnlib::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let spec = quiver::spec::real::to_spec(&v, net, a.domain, format!("VNN-LIB {}", path.display()))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        spec.check(net).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok(spec);
    }
    if !a.robust {
        bail!("nothing to verify: give --vnnlib FILE or --robust (--input FILE | --dataset FILE --index N) --eps N");
    }
    let where_ =
        a.input.input.as_ref().or(a.input.dataset.as_ref()).map(|p| p.display().to_string()).unwrap_or_default();
    let (x, dataset_label) = read_input(net, &a.input, a.labels.as_deref())?;
    let radius = match (a.eps, a.eps_real) {
        (Some(e), None) => Radius::Integer(e),
        (None, Some(e)) => Radius::Real(e),
        _ => bail!("--robust needs exactly one of --eps N or --eps-real X"),
    };
    let label = match a.label.or(dataset_label) {
        Some(l) => l,
        None => exec::argmax(&exec::run(net, &x).with_context(|| where_.clone())?),
    };
    let spec = robustness(net, &x, radius, label, a.tie).with_context(|| where_.clone())?;
    spec.check(net).with_context(|| where_)?;
    Ok(spec)
}

fn verify_cmd(a: VerifyArgs) -> Result<u8> {
    let net = load_model(&a.model)?;
    let spec = build_spec(&net, &a.spec)?;
    if let Some(t) = a.timeout {
        if !(t.is_finite() && t > 0.0) {
            bail!("--timeout must be a positive number of seconds, got {t}");
        }
    }
    if !(a.search_budget.is_finite() && a.search_budget >= 0.0) {
        bail!("--search-budget must be a non-negative number of seconds, got {}", a.search_budget);
    }
    let backends: Vec<String> = a.backend.iter().filter(|b| b.as_str() != "none").cloned().collect();
    for b in &backends {
        if b != "all" && quiver::backend::by_name(b).is_none() {
            bail!(
                "unknown backend `{b}` (available: {}, milp-whole, bab:KEY=VALUE+…, all, none)",
                quiver::backend::available().join(", ")
            );
        }
    }
    let threads = match a.threads {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let search = (a.search == "on").then(|| SearchOptions {
        budget: std::time::Duration::from_secs_f64(a.search_budget),
        seed: a.seed,
        threads,
        ..SearchOptions::default()
    });
    let opts = Options {
        bounds: a.spec.bounds,
        probe: !a.no_probe,
        search,
        backends,
        crosscheck: a.crosscheck,
        time_limit: a.timeout.map(std::time::Duration::from_secs_f64),
        threads,
    };
    if let Some(mb) = a.memory_mb {
        quiver::backend::smt::set_memory_limit_mb(mb);
    }
    let report = verify::verify(&net, &spec, &opts);
    print::report(&net, &spec, &a.model.model, &report, a.json);
    if let Some(p) = &a.vnncomp_result {
        bench::write_vnncomp_result(p, Some(&report), a.spec.vnnlib.as_deref(), a.spec.domain == Domain::Integer)?;
    }
    Ok(exit_code(&report))
}

fn encode_cmd(a: EncodeArgs) -> Result<u8> {
    let net = load_model(&a.model)?;
    let spec = build_spec(&net, &a.spec)?;
    let analysis = quiver::bounds::analyze(&net, &spec, a.spec.bounds);
    let query = quiver::backend::Query { net: &net, spec: &spec, bounds: &analysis.bounds };
    let text = match a.format.as_str() {
        "lp" => quiver::backend::milp::export::export_lp(&query)?,
        "mps" => quiver::backend::milp::export::export_mps(&query)?,
        "smt2" => {
            let logic = match a.logic.as_str() {
                "bv" => quiver::backend::smt::Logic::Bv,
                "lia" => quiver::backend::smt::Logic::Lia,
                other => bail!("unknown --logic `{other}` (expected bv or lia)"),
            };
            quiver::backend::smt::smt2::export_smt2(&query, logic)?
        }
        other => bail!("unknown --format `{other}` (expected lp, mps or smt2)"),
    };
    write_new(&a.output, &text, a.force)?;
    eprintln!("wrote {} ({} bytes)", a.output.display(), text.len());
    Ok(exit::VERIFIED)
}

fn exit_code(r: &Report) -> u8 {
    if r.disagreement.is_some() {
        return exit::SOUNDNESS;
    }
    match r.verdict {
        Verdict::Verified => exit::VERIFIED,
        Verdict::Falsified { .. } => exit::FALSIFIED,
        Verdict::Unknown { .. } => exit::UNKNOWN,
    }
}

fn demo(count: usize, eps: &[i64], timeout: f64, json: bool) -> Result<u8> {
    let net = quiver::bundled::model();
    let vectors = quiver::bundled::vectors();
    if eps.iter().any(|&e| e < 0) {
        bail!("--eps values must be >= 0");
    }
    if !json {
        println!(
            "quiver demo: L∞ robustness of the bundled model `{}` ({} layers, {} parameters; {})",
            net.name(),
            net.layers().len(),
            net.parameter_count(),
            vectors.source
        );
        println!("pipeline: probe → symbolic bounds → gradient search → MILP (HiGHS); falsified = replayed witness");
    }
    if !(timeout.is_finite() && timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds, got {timeout}");
    }
    let mut rows = Vec::new();
    let opts = Options { time_limit: Some(std::time::Duration::from_secs_f64(timeout)), ..Options::default() };
    for (k, x) in vectors.inputs.iter().take(count).enumerate() {
        let y = exec::run(&net, x)?;
        let label = vectors.labels.get(k).copied().unwrap_or_else(|| exec::argmax(&y));
        for &e in eps {
            let spec = robustness(&net, x, Radius::Integer(e), label, TieRule::AnyTieUnsafe)?;
            let report = verify::verify(&net, &spec, &opts);
            rows.push((k, label, e, report));
        }
    }
    print::demo(&rows, json);
    Ok(exit::VERIFIED)
}
