//! The command-line flags that describe a job, defined once: the `quiver` binary flattens these
//! groups into its subcommands, and the experiment harness uses them to tell a configuration's
//! flags (the [`VerifyOptions`]) from the flags that belong to an instance
//! ([`instance_flags`]). [`Job::to_args`] is the inverse: the flags that give back a job.

use super::{
    EquivBox, EquivJob, EquivRelation, Input, Job, Model, OrtCpu, Property, QueryError, RadiusJob, RadiusSearch,
    RadiusTarget, Switch, Tighten, VerifyOptions,
};
use crate::bounds::Method;
use crate::props::radius::Strategy;
use crate::spec::real::Domain;
use crate::spec::robust::{Radius, TieRule};
use clap::{Args, Parser};
use std::path::{Path, PathBuf};

const MODEL_HELP: &str = "Model: quiver JSON, ONNX (QOperator/QDQ int8), Keras fixed-point .h5, or `@bundled`.";
const Q_BITS_HELP: &str = "Quantization bits of a Keras fixed-point .h5 model (default: from the file name, or 6).";
const ORT_CPU_HELP: &str = "The CPU an ONNX model runs on under ONNX Runtime: x86 (any x86-64, e.g. AVX2 without VNNI; \
uint8 x int8 layers whose results differ on such CPUs are refused) or vnni (AVX-512 VNNI, AVX-VNNI or AMX: exact uint8 x int8 sums).";

/// The model of `info`, `run`, `import`, `encode`.
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    #[arg(help = MODEL_HELP)]
    pub model: PathBuf,
    #[arg(long, help = Q_BITS_HELP)]
    pub q_bits: Option<u8>,
    #[arg(long, value_enum, default_value = "x86", help = ORT_CPU_HELP)]
    pub ort_cpu: OrtCpu,
}

impl ModelArgs {
    pub fn model(&self) -> Model {
        Model { path: self.model.clone(), q_bits: self.q_bits, ort_cpu: self.ort_cpu }
    }
}

/// The class a robustness property or a radius is about, and how ties with it count.
#[derive(Args, Clone, Debug)]
pub struct ClassArgs {
    /// The class that must win (default: the label from --labels, else the predicted class).
    #[arg(long)]
    pub label: Option<usize>,
    /// IDX label file for --dataset (gives the default --label); `@bundled` with `--dataset @bundled`.
    #[arg(long, requires = "dataset")]
    pub labels: Option<PathBuf>,
    /// Tie rule: `any` (a tie with another class is a violation) or `first-index` (argmax semantics).
    #[arg(long, default_value = "any")]
    pub tie: TieRule,
}

/// Where an input vector comes from.
#[derive(Args, Clone, Debug)]
pub struct InputArgs {
    /// Input file: integers (the quantized input) separated by whitespace or commas, or a JSON array.
    #[arg(long, conflicts_with = "dataset")]
    pub input: Option<PathBuf>,
    /// The input file holds real values; quantize them with the model's input quantization.
    #[arg(long, requires = "input")]
    pub real: bool,
    /// An MNIST-style IDX image file (optionally gzipped) to take the input from, or `@bundled`
    /// for the bundled model's 200 test vectors (their labels come with them).
    #[arg(long, requires = "index")]
    pub dataset: Option<PathBuf>,
    /// Index of the image in --dataset.
    #[arg(long, requires = "dataset")]
    pub index: Option<usize>,
}

impl InputArgs {
    /// The input named; `labels` is the label file of a data set.
    pub fn input(&self, labels: Option<&Path>) -> Result<Input, QueryError> {
        if let Some(path) = &self.input {
            return Ok(Input::File { path: path.clone(), real: self.real });
        }
        match (&self.dataset, self.index) {
            (Some(path), Some(index)) => {
                Ok(Input::Dataset { path: path.clone(), index, labels: labels.map(Path::to_path_buf) })
            }
            _ => Err(QueryError::Usage("no input given: use --input FILE or --dataset FILE --index N".into())),
        }
    }
}

/// The property: a VNN-LIB file, or L∞ robustness around an input.
#[derive(Args, Clone, Debug)]
pub struct PropertyArgs {
    /// A VNN-LIB property (the assertions describe a counterexample).
    #[arg(long, conflicts_with = "robust")]
    pub vnnlib: Option<PathBuf>,
    /// Whether the VNN-LIB variables are the real (dequantized) or the integer values.
    #[arg(long, default_value = "real", requires = "vnnlib")]
    pub domain: Domain,
    /// L∞ local robustness around the input (needs --eps or --eps-real).
    #[arg(long)]
    pub robust: bool,
    #[command(flatten)]
    pub input: InputArgs,
    /// Integer radius on the quantized input grid.
    #[arg(long, conflicts_with = "eps_real")]
    pub eps: Option<i64>,
    /// Real radius, mapped through the input quantization.
    #[arg(long)]
    pub eps_real: Option<f64>,
    #[command(flatten)]
    pub class: ClassArgs,
}

impl PropertyArgs {
    pub fn property(&self) -> Result<Property, QueryError> {
        if let Some(path) = &self.vnnlib {
            return Ok(Property::Vnnlib { path: path.clone(), domain: self.domain });
        }
        if !self.robust {
            return Err(QueryError::Usage(
                "nothing to verify: give --vnnlib FILE or --robust (--input FILE | --dataset FILE --index N) --eps N"
                    .into(),
            ));
        }
        let input = self.input.input(self.class.labels.as_deref())?;
        let radius = match (self.eps, self.eps_real) {
            (Some(e), None) => Radius::Integer(e),
            (None, Some(e)) => Radius::Real(e),
            _ => return Err(QueryError::Usage("--robust needs exactly one of --eps N or --eps-real X".into())),
        };
        Ok(Property::Robust { input, radius, label: self.class.label, tie: self.class.tie })
    }
}

/// Everything `quiver verify` needs to know about a job: flags, or a job file.
#[derive(Args, Clone, Debug)]
pub struct JobArgs {
    #[arg(help = MODEL_HELP, required_unless_present = "job")]
    pub model: Option<PathBuf>,
    #[arg(long, help = Q_BITS_HELP)]
    pub q_bits: Option<u8>,
    #[arg(long, value_enum, help = ORT_CPU_HELP)]
    pub ort_cpu: Option<OrtCpu>,
    #[command(flatten)]
    pub property: PropertyArgs,
    #[command(flatten)]
    pub options: VerifyOptions,
    /// Read the whole job (model, property, options) from a JSON file (`-`: standard input)
    /// instead of the flags, as `quiver bench` hands it to each run (docs/experiments.md).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["model", "q_bits", "ort_cpu", "vnnlib", "domain", "robust", "input", "real", "dataset", "index", "eps", "eps_real", "label", "labels", "tie"]
    )]
    pub job: Option<PathBuf>,
}

/// `--job FILE` of `quiver <command>`: the file gives the options as well, so option flags beside
/// it (`options_given`) are refused; the instance flags already conflict with `--job` in clap.
fn from_job_file<T>(
    path: &Path,
    options_given: bool,
    command: &str,
    read: fn(&Path) -> Result<T, QueryError>,
) -> Result<T, QueryError> {
    if options_given {
        return Err(QueryError::Usage(format!(
            "--job {}: the job file gives the options; drop the other {command} flags",
            path.display()
        )));
    }
    read(path)
}

impl JobArgs {
    /// The job the flags (or the job file) describe; its options are not validated yet.
    pub fn job(&self) -> Result<Job, QueryError> {
        if let Some(path) = &self.job {
            return from_job_file(path, self.options != VerifyOptions::default(), "verify", Job::read);
        }
        let path = self.model.clone().ok_or_else(|| QueryError::Usage("no MODEL given".into()))?;
        Ok(Job {
            model: Model { path, q_bits: self.q_bits, ort_cpu: self.ort_cpu.unwrap_or_default() },
            property: self.property.property()?,
            options: self.options.clone(),
        })
    }
}

/// The radius target of `quiver radius`: the input, the class, how far and in which unit.
#[derive(Args, Clone, Debug)]
pub struct RadiusTargetArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub class: ClassArgs,
    /// Largest level tried (default: the level whose box is the whole input range).
    #[arg(long, value_name = "N")]
    pub max_eps: Option<i64>,
    /// Levels are multiples of this real radius (mapped through the input quantization) instead
    /// of integer steps of the quantized input.
    #[arg(long, value_name = "X")]
    pub eps_real_step: Option<f64>,
}

impl RadiusTargetArgs {
    pub fn target(&self) -> Result<RadiusTarget, QueryError> {
        Ok(RadiusTarget {
            input: self.input.input(self.class.labels.as_deref())?,
            label: self.class.label,
            tie: self.class.tie,
            max_eps: self.max_eps,
            eps_real_step: self.eps_real_step,
        })
    }
}

/// Everything `quiver radius` needs to know about a job: flags, or a job file. The options are
/// `quiver verify`'s own group (run at every level; `--timeout` limits the whole search) plus
/// [`RadiusSearch`] (`--strategy`, `--eps-timeout`).
#[derive(Args, Clone, Debug)]
pub struct RadiusJobArgs {
    #[arg(help = MODEL_HELP, required_unless_present = "job")]
    pub model: Option<PathBuf>,
    #[arg(long, help = Q_BITS_HELP)]
    pub q_bits: Option<u8>,
    #[arg(long, value_enum, help = ORT_CPU_HELP)]
    pub ort_cpu: Option<OrtCpu>,
    #[command(flatten)]
    pub target: RadiusTargetArgs,
    #[command(flatten)]
    pub options: VerifyOptions,
    #[command(flatten)]
    pub search: RadiusSearch,
    /// Read the whole radius job (model, target, options) from a JSON file (`-`: standard input)
    /// instead of the flags, as `quiver bench` hands it to each radius run.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["model", "q_bits", "ort_cpu", "input", "real", "dataset", "index", "label", "labels", "tie", "max_eps", "eps_real_step"]
    )]
    pub job: Option<PathBuf>,
}

impl RadiusJobArgs {
    /// The radius job the flags (or the job file) describe; its options are not validated yet.
    pub fn job(&self) -> Result<RadiusJob, QueryError> {
        if let Some(path) = &self.job {
            let flags = self.options != VerifyOptions::default() || self.search != RadiusSearch::default();
            return from_job_file(path, flags, "radius", RadiusJob::read);
        }
        let path = self.model.clone().ok_or_else(|| QueryError::Usage("no MODEL given".into()))?;
        Ok(RadiusJob {
            model: Model { path, q_bits: self.q_bits, ort_cpu: self.ort_cpu.unwrap_or_default() },
            target: self.target.target()?,
            options: self.options.clone(),
            search: self.search.clone(),
        })
    }
}

/// The instance part of `quiver equiv`: the input box and the relation.
#[derive(Args, Clone, Debug)]
#[command(group(clap::ArgGroup::new("relation").args(["delta", "delta_real", "same_class"])))]
pub struct EquivTargetArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Integer radius of the box around the input, on the quantized grid.
    #[arg(long, conflicts_with_all = ["eps_real", "vnnlib"])]
    pub eps: Option<i64>,
    /// Real radius of the box around the input, mapped through the input quantization.
    #[arg(long, conflicts_with = "vnnlib")]
    pub eps_real: Option<f64>,
    /// The input box of a VNN-LIB file (its output constraints are not used).
    #[arg(long, conflicts_with_all = ["input", "dataset"])]
    pub vnnlib: Option<PathBuf>,
    /// Whether the VNN-LIB bounds are on the real or on the integer inputs.
    #[arg(long, default_value = "real", requires = "vnnlib")]
    pub domain: Domain,
    /// Largest difference allowed between the integer outputs (needs equal output scales and zero points).
    // A negative δ is read as a value, so that it is refused with its own message.
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub delta: Option<i64>,
    /// Largest difference allowed between the dequantized outputs (a decimal, taken exactly).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub delta_real: Option<String>,
    /// Both networks must predict the same class (under --tie).
    #[arg(long)]
    pub same_class: bool,
    /// Tie rule of --same-class: `first-index` (argmax, first index on ties) or `any` (a tie for
    /// the maximum is a disagreement).
    #[arg(long, default_value = "any", requires = "same_class")]
    pub tie: TieRule,
}

impl EquivTargetArgs {
    /// The input box and the relation the flags describe.
    pub fn target(&self) -> Result<(EquivBox, EquivRelation), QueryError> {
        let relation = match (self.delta, &self.delta_real, self.same_class) {
            (Some(delta), None, false) => EquivRelation::Delta { delta },
            (None, Some(x), false) => EquivRelation::DeltaReal { delta: x.trim().to_string() },
            (None, None, true) => EquivRelation::SameClass { tie: self.tie },
            _ => return Err(QueryError::Usage("give exactly one of --delta D, --delta-real X, --same-class".into())),
        };
        if let Some(path) = &self.vnnlib {
            return Ok((EquivBox::Vnnlib { path: path.clone(), domain: self.domain }, relation));
        }
        let input = self.input.input(None)?;
        let radius = match (self.eps, self.eps_real) {
            (Some(e), None) => Radius::Integer(e),
            (None, Some(e)) => Radius::Real(e),
            _ => {
                return Err(QueryError::Usage(
                    "the input box needs exactly one of --eps N or --eps-real X (or --vnnlib FILE)".into(),
                ))
            }
        };
        Ok((EquivBox::Ball { input, radius }, relation))
    }
}

/// The two models of `quiver equiv`.
#[derive(Args, Clone, Debug)]
pub struct EquivModelArgs {
    /// Model A: quiver JSON, ONNX (QOperator/QDQ int8), Keras fixed-point .h5, or `@bundled`.
    #[arg(required_unless_present = "job")]
    pub a: Option<PathBuf>,
    /// Model B (same kinds as A).
    #[arg(required_unless_present = "job")]
    pub b: Option<PathBuf>,
    /// Quantization bits of a Keras fixed-point .h5 model A (default: from the file name, or 6).
    #[arg(long)]
    pub q_bits: Option<u8>,
    /// Quantization bits of a Keras fixed-point .h5 model B (default: from its file name, or 6).
    #[arg(long)]
    pub q_bits_b: Option<u8>,
    /// The CPU ONNX Runtime runs an ONNX model A on: x86 (any x86-64) or vnni (see `quiver verify --help`).
    #[arg(long, value_enum)]
    pub ort_cpu: Option<OrtCpu>,
    /// The CPU for an ONNX model B (default: as --ort-cpu).
    #[arg(long, value_enum)]
    pub ort_cpu_b: Option<OrtCpu>,
}

/// Everything `quiver equiv` needs to know about a job: flags, or a job file. The options are
/// `quiver verify`'s own group, run on the product network.
#[derive(Args, Clone, Debug)]
pub struct EquivJobArgs {
    #[command(flatten)]
    pub models: EquivModelArgs,
    #[command(flatten)]
    pub target: EquivTargetArgs,
    #[command(flatten)]
    pub options: VerifyOptions,
    /// Read the whole equivalence job (models, box, relation, options) from a JSON file (`-`:
    /// standard input) instead of the flags, as `quiver bench` hands it to each equivalence run.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["a", "b", "q_bits", "q_bits_b", "ort_cpu", "ort_cpu_b", "input", "real", "dataset", "index", "eps", "eps_real", "vnnlib", "domain", "delta", "delta_real", "same_class", "tie"]
    )]
    pub job: Option<PathBuf>,
}

impl EquivJobArgs {
    /// The equivalence job the flags (or the job file) describe; its options are not validated yet.
    pub fn job(&self) -> Result<EquivJob, QueryError> {
        if let Some(path) = &self.job {
            return from_job_file(path, self.options != VerifyOptions::default(), "equiv", EquivJob::read);
        }
        let m = &self.models;
        let (Some(a), Some(b)) = (m.a.clone(), m.b.clone()) else {
            return Err(QueryError::Usage("give two models A and B".into()));
        };
        let ort_a = m.ort_cpu.unwrap_or_default();
        let (inputs, relation) = self.target.target()?;
        Ok(EquivJob {
            model_a: Model { path: a, q_bits: m.q_bits, ort_cpu: ort_a },
            model_b: Model { path: b, q_bits: m.q_bits_b, ort_cpu: m.ort_cpu_b.unwrap_or(ort_a) },
            inputs,
            relation,
            options: self.options.clone(),
        })
    }
}

/// The long flags (with `--`) that describe an instance — the model's, the property's, a
/// radius target's and an equivalence target's — as opposed to how it is verified.
pub fn instance_flags() -> Vec<String> {
    let verify = PropertyArgs::augment_args(ModelArgs::augment_args(clap::Command::new("instance")));
    let radius = RadiusTargetArgs::augment_args(clap::Command::new("radius"));
    let equiv = EquivTargetArgs::augment_args(clap::Command::new("equiv"));
    let equiv_models = EquivModelArgs::augment_args(clap::Command::new("equiv-models"));
    let mut flags: Vec<String> = verify
        .get_arguments()
        .chain(radius.get_arguments())
        .chain(equiv.get_arguments())
        .chain(equiv_models.get_arguments())
        .filter_map(|a| a.get_long())
        .map(|l| format!("--{l}"))
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

/// Parses a configuration's flags: exactly the [`VerifyOptions`].
#[derive(Parser, Debug)]
#[command(no_binary_name = true, disable_help_flag = true)]
struct OptionFlags {
    #[command(flatten)]
    options: VerifyOptions,
}

/// Parses a configuration's flags: the [`VerifyOptions`] and the [`RadiusSearch`] flags.
#[derive(Parser, Debug)]
#[command(no_binary_name = true, disable_help_flag = true)]
struct ConfigFlags {
    #[command(flatten)]
    options: VerifyOptions,
    #[command(flatten)]
    search: RadiusSearch,
}

fn first_line(e: clap::Error) -> String {
    let msg = e.to_string();
    msg.lines().next().unwrap_or("").trim_start_matches("error: ").to_string()
}

/// Parse a configuration's flags (already split into words): `quiver verify` option flags, and
/// for radius suites also `--strategy` and `--eps-timeout`. The error is clap's first line.
pub fn parse_config_flags(words: &[String]) -> Result<(VerifyOptions, RadiusSearch), String> {
    ConfigFlags::try_parse_from(words).map(|f| (f.options, f.search)).map_err(first_line)
}

/// The flags of the radius search options that differ from the defaults.
pub fn search_args(s: &RadiusSearch) -> Vec<String> {
    let mut a = Vec::new();
    if s.strategy != RadiusSearch::default().strategy {
        let name = match s.strategy {
            Strategy::Search => "search",
            Strategy::Linear => "linear",
        };
        push(&mut a, "--strategy", name);
    }
    if let Some(t) = s.eps_timeout {
        push(&mut a, "--eps-timeout", t);
    }
    a
}

/// Parse `quiver verify` option flags (already split into words) into [`VerifyOptions`]; the
/// error is clap's first line (e.g. "unexpected argument '--x' found").
pub fn parse_options(words: &[String]) -> Result<VerifyOptions, String> {
    OptionFlags::try_parse_from(words).map(|f| f.options).map_err(first_line)
}

fn tie_flag(t: TieRule) -> &'static str {
    match t {
        TieRule::AnyTieUnsafe => "any",
        TieRule::FirstIndex => "first-index",
    }
}

fn method_flag(m: Method) -> &'static str {
    match m {
        Method::None => "none",
        Method::Interval => "interval",
        Method::Symbolic => "symbolic",
    }
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn push(a: &mut Vec<String>, flag: &str, value: impl ToString) {
    a.push(flag.to_string());
    a.push(value.to_string());
}

impl Job {
    /// `quiver verify` arguments (after `verify`) that describe this job: `quiver verify ARGS…`
    /// runs it. Options at their default are left out; the seed and time limit are kept.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![path_arg(&self.model.path)];
        if let Some(b) = self.model.q_bits {
            push(&mut a, "--q-bits", b);
        }
        if self.model.ort_cpu != OrtCpu::default() {
            push(&mut a, "--ort-cpu", "vnni");
        }
        match &self.property {
            Property::Vnnlib { path, domain } => {
                push(&mut a, "--vnnlib", path_arg(path));
                if *domain != Domain::default() {
                    push(&mut a, "--domain", domain);
                }
            }
            Property::Robust { input, radius, label, tie } => {
                a.push("--robust".into());
                match input {
                    Input::File { path, real } => {
                        push(&mut a, "--input", path_arg(path));
                        if *real {
                            a.push("--real".into());
                        }
                    }
                    Input::Dataset { path, index, labels } => {
                        push(&mut a, "--dataset", path_arg(path));
                        push(&mut a, "--index", index);
                        if let Some(l) = labels {
                            push(&mut a, "--labels", path_arg(l));
                        }
                    }
                }
                match radius {
                    Radius::Integer(e) => push(&mut a, "--eps", e),
                    Radius::Real(e) => push(&mut a, "--eps-real", e),
                }
                if let Some(l) = label {
                    push(&mut a, "--label", l);
                }
                push(&mut a, "--tie", tie_flag(*tie));
            }
        }
        a.extend(options_args(&self.options));
        a
    }
}

/// The flags of the options that differ from the defaults (the seed and time limit when set).
pub fn options_args(o: &VerifyOptions) -> Vec<String> {
    let d = VerifyOptions::default();
    let mut a: Vec<String> = Vec::new();
    if o.bounds != d.bounds {
        push(&mut a, "--bounds", method_flag(o.bounds));
    }
    if o.search != d.search {
        push(&mut a, "--search", if o.search == Switch::On { "on" } else { "off" });
    }
    if o.search_budget != d.search_budget {
        push(&mut a, "--search-budget", o.search_budget);
    }
    if let Some(s) = o.seed {
        push(&mut a, "--seed", s);
    }
    if o.backends != d.backends {
        push(&mut a, "--backend", o.backends.join(","));
    }
    if let Some(t) = o.timeout {
        push(&mut a, "--timeout", t);
    }
    if o.threads != d.threads {
        push(&mut a, "--threads", o.threads);
    }
    if let Some(m) = o.memory_mb {
        push(&mut a, "--memory-mb", m);
    }
    if o.tighten != d.tighten {
        push(&mut a, "--tighten", if o.tighten == Tighten::Lp { "lp" } else { "off" });
    }
    if !o.probe {
        a.push("--no-probe".into());
    }
    if o.crosscheck {
        a.push("--crosscheck".into());
    }
    a
}

/// The `quiver verify` command line, for `--help`-style checks of the flag groups.
#[derive(Parser, Debug)]
#[command(name = "verify")]
struct VerifyFlags {
    #[command(flatten)]
    job: JobArgs,
}

/// The `quiver radius` command line, for checks of the flag groups.
#[cfg(test)]
#[derive(Parser, Debug)]
#[command(name = "radius")]
struct RadiusFlags {
    #[command(flatten)]
    job: RadiusJobArgs,
}

/// The `quiver equiv` command line, for checks of the flag groups.
#[cfg(test)]
#[derive(Parser, Debug)]
#[command(name = "equiv")]
struct EquivFlags {
    #[command(flatten)]
    job: EquivJobArgs,
}

/// Parse a full `quiver verify` argument list (after `verify`) into a job, with the flag
/// groups above; used to check [`Job::to_args`] and by tools that hold argument lists.
pub fn parse_job_args(args: &[String]) -> Result<Job, String> {
    let it = std::iter::once("verify".to_string()).chain(args.iter().cloned());
    let f = VerifyFlags::try_parse_from(it).map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?;
    f.job.job().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `--job FILE` gives the whole instance: every instance flag of verify, radius and equiv
    /// beside it is a usage error, never silently ignored (a hand-kept conflict list drifts).
    #[test]
    fn every_instance_flag_conflicts_with_job() {
        let instance = instance_flags();
        for cmd in [VerifyFlags::command(), RadiusFlags::command(), EquivFlags::command()] {
            let name = cmd.get_name().to_string();
            let mut checked = 0;
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if long == "job" || !instance.contains(&format!("--{long}")) {
                    continue;
                }
                let words = vec![name.clone(), "--job".into(), "j.json".into(), format!("--{long}")];
                // A value the flag's parser accepts, so that the only error left is the conflict.
                let values: &[&str] =
                    if arg.get_action().takes_values() { &["1", "real", "any", "x86"] } else { &[""] };
                let err = values
                    .iter()
                    .map(|v| {
                        let mut w = words.clone();
                        w.extend((!v.is_empty()).then(|| v.to_string()));
                        cmd.clone().try_get_matches_from(&w).expect_err(&w.join(" "))
                    })
                    .find(|e| {
                        e.kind() != clap::error::ErrorKind::ValueValidation
                            && e.kind() != clap::error::ErrorKind::InvalidValue
                    })
                    .unwrap_or_else(|| panic!("{}: no accepted value", words.join(" ")));
                assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict, "{}: {err}", words.join(" "));
                checked += 1;
            }
            assert!(checked >= 8, "{name}: only {checked} instance flags checked");
        }
    }

    fn jobs() -> Vec<Job> {
        let robust = |input, radius, label, tie| Property::Robust { input, radius, label, tie };
        let o = VerifyOptions::default();
        vec![
            Job {
                model: Model::bundled(),
                property: Property::Vnnlib { path: "p q.vnnlib".into(), domain: Domain::Integer },
                options: o.clone(),
            },
            Job {
                model: Model { path: "m.h5".into(), q_bits: Some(4), ort_cpu: OrtCpu::X86 },
                property: robust(
                    Input::Dataset { path: "imgs.gz".into(), index: 7, labels: Some("labels.gz".into()) },
                    Radius::Integer(3),
                    None,
                    TieRule::FirstIndex,
                ),
                options: VerifyOptions {
                    bounds: Method::Interval,
                    probe: false,
                    search: Switch::Off,
                    search_budget: 0.25,
                    seed: Some(9),
                    backends: vec!["milp".into(), "smt-bv".into()],
                    crosscheck: true,
                    timeout: Some(12.5),
                    threads: 0,
                    memory_mb: Some(100),
                    tighten: Tighten::Lp,
                },
            },
            Job {
                model: Model { ort_cpu: OrtCpu::Vnni, ..Model::new("n.onnx") },
                property: robust(
                    Input::File { path: "x.txt".into(), real: true },
                    Radius::Real(0.015),
                    Some(2),
                    TieRule::AnyTieUnsafe,
                ),
                options: VerifyOptions { timeout: Some(30.0), seed: Some(0), ..o.clone() },
            },
            Job {
                model: Model::bundled(),
                property: robust(
                    Input::Dataset { path: "@bundled".into(), index: 0, labels: None },
                    Radius::Integer(0),
                    None,
                    TieRule::AnyTieUnsafe,
                ),
                options: VerifyOptions { backends: vec!["none".into()], ..o },
            },
        ]
    }

    /// A job's argument list parses back to the same job, and its JSON reads back too.
    #[test]
    fn jobs_round_trip_through_flags_and_json() {
        VerifyFlags::command().debug_assert();
        for job in jobs() {
            let args = job.to_args();
            assert_eq!(parse_job_args(&args).unwrap(), job, "{args:?}");
            let json = job.to_json();
            assert_eq!(Job::from_json(&json, Path::new("j.json")).unwrap(), job, "{json}");
        }
    }

    /// The radius command line: verify's option group, `--timeout` the whole search,
    /// `--eps-timeout` one level; a configuration's radius flags read back from `search_args`.
    #[test]
    fn radius_flags_share_the_option_group() {
        RadiusFlags::command().debug_assert();
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let f = RadiusFlags::try_parse_from(words(
            "radius m.h5 --dataset d.gz --index 4 --max-eps 9 --tie first-index --backend none --timeout 30 --eps-timeout 5 --strategy linear",
        ))
        .unwrap();
        let job = f.job.job().unwrap();
        assert_eq!(job.options.timeout, Some(30.0));
        assert_eq!(job.options.backends, ["none"]);
        assert_eq!(job.search.eps_timeout, Some(5.0));
        assert_eq!(job.target.max_eps, Some(9));
        assert_eq!(job.target.tie, TieRule::FirstIndex);
        assert_eq!(RadiusJob::from_json(&job.to_json(), Path::new("j")).unwrap(), job);
        let (o, s) = parse_config_flags(&words("--strategy linear --eps-timeout 2.5 --threads 2")).unwrap();
        assert_eq!((o.threads, s.strategy), (2, Strategy::Linear));
        assert_eq!(parse_config_flags(&search_args(&s)).unwrap().1, s);
        assert!(parse_config_flags(&words("--max-eps 3")).unwrap_err().contains("--max-eps"));
    }

    /// The equiv command line: two models (B's CPU defaults to A's), the box, one relation, and
    /// verify's option group; its instance flags are not configuration flags.
    #[test]
    fn equiv_flags_share_the_option_group() {
        EquivFlags::command().debug_assert();
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let parse = |s: &str| {
            EquivFlags::try_parse_from(words(s))
                .map_err(first_line)
                .and_then(|f| f.job.job().map_err(|e| e.to_string()))
        };
        let job = parse("equiv a.onnx b.onnx --ort-cpu vnni --dataset d.gz --index 4 --eps 2 --same-class --tie first-index --timeout 9").unwrap();
        assert_eq!(
            (job.model_a.ort_cpu, job.model_b.ort_cpu, job.options.timeout),
            (OrtCpu::Vnni, OrtCpu::Vnni, Some(9.0))
        );
        assert_eq!(job.relation, EquivRelation::SameClass { tie: TieRule::FirstIndex });
        let job =
            parse("equiv a.h5 b.h5 --q-bits-b 6 --ort-cpu-b vnni --input x.txt --real --eps-real 0.1 --delta-real 0.5")
                .unwrap();
        assert_eq!(
            (job.model_a.q_bits, job.model_b.q_bits, job.model_a.ort_cpu, job.model_b.ort_cpu),
            (None, Some(6), OrtCpu::X86, OrtCpu::Vnni)
        );
        assert_eq!(
            job.inputs,
            EquivBox::Ball { input: Input::File { path: "x.txt".into(), real: true }, radius: Radius::Real(0.1) }
        );
        assert_eq!(EquivJob::from_json(&job.to_json(), Path::new("j")).unwrap(), job);
        assert!(parse("equiv a b --vnnlib p.vnnlib --delta 1").is_ok());
        assert!(parse("equiv a b --eps 1").unwrap_err().contains("exactly one of --delta"));
        assert!(parse("equiv a b --eps 1 --delta 1 --same-class").unwrap_err().contains("cannot be used with"));
        assert!(parse("equiv --job j.json --delta 1").unwrap_err().contains("cannot be used with"));
        let f = instance_flags();
        for x in ["--delta", "--delta-real", "--same-class", "--q-bits-b", "--ort-cpu-b", "--vnnlib", "--eps"] {
            assert!(f.iter().any(|g| g == x), "{x} missing from {f:?}");
        }
    }

    /// The options' clap defaults are their serde defaults.
    #[test]
    fn default_options_agree() {
        assert_eq!(parse_options(&[]).unwrap(), VerifyOptions::default());
        let j: VerifyOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(j, VerifyOptions::default());
        assert!(options_args(&VerifyOptions::default()).is_empty());
    }

    #[test]
    fn instance_flags_are_the_property_and_model_flags() {
        let f = instance_flags();
        for x in [
            "--vnnlib",
            "--robust",
            "--input",
            "--real",
            "--dataset",
            "--index",
            "--eps",
            "--eps-real",
            "--label",
            "--labels",
            "--tie",
            "--domain",
            "--q-bits",
            "--ort-cpu",
        ] {
            assert!(f.iter().any(|g| g == x), "{x} missing from {f:?}");
        }
        assert!(f.iter().any(|g| g == "--max-eps") && f.iter().any(|g| g == "--eps-real-step"), "{f:?}");
        assert!(!f.iter().any(|g| g == "--timeout" || g == "--backend" || g == "--strategy"), "{f:?}");
        assert!(parse_options(&["--eps".to_string(), "1".into()]).unwrap_err().contains("--eps"));
    }
}
