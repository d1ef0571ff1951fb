//! Argument definitions and the subcommands: parse the arguments into the library's types
//! ([`quiver::query`]), call the library, print, and map the outcome to an exit code.

mod bench;
mod equiv;
pub mod exit;
mod print;
mod radius;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use quiver::bounds::Method;
use quiver::net::{exec, format};
use quiver::query::args::{InputArgs, JobArgs, ModelArgs, PropertyArgs};
use quiver::query::Loaded;
use quiver::spec::robust::{robustness, Radius, TieRule};
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
    /// δ-equivalence of two networks A and B over an input box: can their outputs differ by
    /// more than δ (--delta, --delta-real), or their predicted classes (--same-class)?
    #[command(after_help = equiv::EQUIV_HELP)]
    Equiv(equiv::EquivArgs),
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
struct VerifyArgs {
    /// The job: the model, the property and the options (or --job FILE).
    #[command(flatten)]
    job: JobArgs,
    #[arg(long)]
    json: bool,
    /// Also write a VNN-COMP result file: sat (with the counterexample), unsat, timeout, unknown
    /// or error (written even when the model or property cannot be loaded).
    #[arg(long, value_name = "FILE")]
    vnncomp_result: Option<PathBuf>,
    /// Never show the live progress line (the current stage and the time against the limit; it
    /// is drawn on stderr only when stderr is a terminal).
    #[arg(long)]
    no_progress: bool,
}

#[derive(Args, Debug)]
struct EncodeArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    property: PropertyArgs,
    /// Bound propagation method whose bounds the encoding uses: none, interval or symbolic.
    #[arg(long, default_value = "symbolic")]
    bounds: Method,
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

pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Info { model, json } => {
            let net = model.model().load()?;
            print::info(&net, json);
            Ok(exit::VERIFIED)
        }
        Command::Run { model, input, json } => {
            let net = model.model().load()?;
            let (x, _) = input.input(None)?.read(&net)?;
            let y = exec::run(&net, &x)?;
            print::run(&net, &x, &y, json);
            Ok(exit::VERIFIED)
        }
        Command::Verify(args) => {
            let vnn = args.vnncomp_result.clone();
            let res = verify_cmd(args);
            if let (Some(p), Err(_)) = (&vnn, &res) {
                let _ = quiver::harness::store::write_atomic(p, quiver::harness::vnncomp::result_of(None).as_bytes());
            }
            res
        }
        Command::Bench(args) => bench::bench_cmd(args),
        Command::Report(args) => bench::report_cmd(args),
        Command::Regress(args) => bench::regress_cmd(args),
        Command::Radius(args) => radius::radius_cmd(args),
        Command::Equiv(args) => equiv::equiv_cmd(args),
        Command::Encode(args) => encode_cmd(args),
        Command::Import { model, output, force } => {
            let net = model.model().load()?;
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

fn verify_cmd(a: VerifyArgs) -> Result<u8> {
    let job = a.job.job()?;
    let bar = stage_progress(job.options.timeout, !a.no_progress);
    let observed = job.run_observed(&|e| {
        if let verify::Event::StageStarted { name } = e {
            bar.set_message(name.to_string());
        }
    });
    bar.finish_and_clear();
    let (loaded, report) = observed?;
    print::report(&loaded.net, &loaded.spec, &job.model.path, &report, a.json);
    if let Some(p) = &a.vnncomp_result {
        let text = quiver::harness::vnncomp::result_of(Some((&report, &loaded)));
        quiver::harness::store::write_atomic(p, text.as_bytes())?;
    }
    Ok(exit_code(&report))
}

/// A spinner on stderr naming the pipeline's current stage, with the time spent against the
/// limit. indicatif draws nothing when stderr is not a terminal, so scripts and `--json` pipes
/// see no escape codes.
fn stage_progress(limit: Option<f64>, show: bool) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
    let limit = limit.map_or(String::new(), |t| format!(" of {t} s"));
    let template = format!("{{spinner}} {{msg}} [{{elapsed}}{limit}]");
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
    bar.set_message("loading");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn encode_cmd(a: EncodeArgs) -> Result<u8> {
    // The backend whose exact query the format is.
    let backend = match (a.format.as_str(), a.logic.as_str()) {
        ("lp" | "mps", _) => "milp",
        ("smt2", "bv") => "smt-bv",
        ("smt2", "lia") => "smt-lia",
        ("smt2", other) => bail!("unknown --logic `{other}` (expected bv or lia)"),
        (other, _) => bail!("unknown --format `{other}` (expected lp, mps or smt2)"),
    };
    quiver::backend::check_name(backend).map_err(|e| anyhow::anyhow!("--format {}: backend {e}", a.format))?;
    let b = quiver::backend::by_name(backend).with_context(|| format!("backend `{backend}` is not available"))?;
    let loaded = Loaded::new(&a.model.model(), &a.property.property()?)?;
    let analysis = quiver::bounds::analyze(&loaded.net, &loaded.spec, a.bounds);
    let query = quiver::backend::Query { net: &loaded.net, spec: &loaded.spec, bounds: &analysis.bounds };
    let text = b.export(&query, &a.format)?;
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
    let opts = Options { time_limit: Some(quiver::query::time_limit("--timeout", timeout)?), ..Options::default() };
    let mut rows = Vec::new();
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
