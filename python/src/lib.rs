//! `quiver._quiver`: the Python binding of the quiver library (PyO3).
//!
//! Thin by design: every semantic (loading, exact execution, specs, the verification pipeline)
//! is the Rust library's; this module converts arguments, maps errors to typed Python
//! exceptions, releases the GIL while a query is solved and turns Ctrl-C into a stop of the
//! query's [`Budget`]. The user-facing API, its argument checking on numpy arrays and its
//! docstrings live in `python/quiver/__init__.py`.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use quiver::budget::Budget;
use quiver::import::onnx::{ImportOptions, U8S8};
use quiver::net::{exec, Network};
use quiver::props::equiv::{equiv, parse_delta, EquivQuery, EquivReport, Relation};
use quiver::props::radius::{radius, RadiusOptions, RadiusQuery, Strategy, Unit};
use quiver::search::SearchOptions;
use quiver::spec::real::Domain;
use quiver::spec::robust::{ball, robustness, Radius, TieRule};
use quiver::spec::{InputBox, Spec};
use quiver::verdict::Verdict;
use quiver::verify::{verify_within, Options, Report};
use std::path::{Path, PathBuf};
use std::time::Duration;

create_exception!(_quiver, QuiverError, PyException, "Base class of quiver's errors.");
create_exception!(
    _quiver,
    ModelError,
    QuiverError,
    "A model file could not be loaded or is refused (the message names the file, the place and what was expected)."
);
create_exception!(
    _quiver,
    SpecError,
    QuiverError,
    "A property (input box, label, VNN-LIB file) does not fit the network or is malformed."
);
create_exception!(
    _quiver,
    InputError,
    QuiverError,
    "An input vector does not fit the network (length or integer range)."
);
create_exception!(
    _quiver,
    OptionError,
    QuiverError,
    "An option of `verify` is invalid (unknown backend or bounds method, negative time)."
);

fn model_err(e: impl std::fmt::Display) -> PyErr {
    ModelError::new_err(e.to_string())
}
fn spec_err(e: impl std::fmt::Display) -> PyErr {
    SpecError::new_err(e.to_string())
}
fn input_err(e: impl std::fmt::Display) -> PyErr {
    InputError::new_err(e.to_string())
}
fn option_err(e: impl std::fmt::Display) -> PyErr {
    OptionError::new_err(e.to_string())
}

/// A validated quantized network (the quiver IR).
#[pyclass(module = "quiver", frozen, name = "Network")]
struct PyNetwork {
    net: Network,
}

#[pymethods]
impl PyNetwork {
    #[getter]
    fn name(&self) -> String {
        self.net.name().to_string()
    }
    #[getter]
    fn input_shape(&self) -> Vec<usize> {
        self.net.input_info().shape.clone()
    }
    #[getter]
    fn input_len(&self) -> usize {
        self.net.input_len()
    }
    #[getter]
    fn output_len(&self) -> usize {
        self.net.output_len()
    }
    /// The input's integer type, e.g. "uint8".
    #[getter]
    fn input_dtype(&self) -> String {
        self.net.input_info().quant.dtype.to_string()
    }
    #[getter]
    fn input_scale(&self) -> f64 {
        self.net.input_info().quant.scale
    }
    #[getter]
    fn input_zero_point(&self) -> i64 {
        self.net.input_info().quant.zero_point
    }
    #[getter]
    fn output_scale(&self) -> f64 {
        self.net.output_info().quant.scale
    }
    #[getter]
    fn output_zero_point(&self) -> i64 {
        self.net.output_info().quant.zero_point
    }
    /// Node names and operator kinds, in topological order.
    fn layers(&self) -> Vec<(String, String)> {
        (0..self.net.layers().len())
            .map(|i| (self.net.node_name(i).to_string(), self.net.layers()[i].kind().to_string()))
            .collect()
    }
    /// The network in quiver's JSON model format.
    fn to_json(&self) -> String {
        quiver::net::format::to_json(&self.net)
    }
    fn _run<'py>(&self, py: Python<'py>, x: PyReadonlyArray1<'py, i64>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let x = x.as_slice()?.to_vec();
        let y = exec::run(&self.net, &x).map_err(input_err)?;
        Ok(PyArray1::from_vec(py, y))
    }
    fn _quantize_input<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let input = self.net.input();
        let q = x.as_slice()?.iter().map(|&v| quiver::spec::real::quantize_input(input, v)).collect();
        Ok(PyArray1::from_vec(py, q))
    }
    fn __repr__(&self) -> String {
        format!(
            "<quiver.Network {:?}: input {:?} {}, {} nodes, {} outputs>",
            self.net.name(),
            self.net.input_info().shape,
            self.net.input_info().quant.dtype,
            self.net.layers().len(),
            self.net.output_len()
        )
    }
}

/// A property: an integer input box and an unsafe output condition (a DNF of linear atoms).
#[pyclass(module = "quiver", frozen, name = "Spec")]
struct PySpec {
    spec: Spec,
}

#[pymethods]
impl PySpec {
    #[getter]
    fn description(&self) -> String {
        self.spec.description.clone()
    }
    #[getter]
    fn lower<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.spec.input.lo.clone())
    }
    #[getter]
    fn upper<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.spec.input.hi.clone())
    }
    #[getter]
    fn disjuncts(&self) -> usize {
        self.spec.unsafe_dnf.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "<quiver.Spec {:?}: {} inputs, {} unsafe disjuncts>",
            self.spec.description,
            self.spec.input.len(),
            self.spec.unsafe_dnf.len()
        )
    }
}

/// The result of `verify`: the verdict, the replayed witness if falsified, per-stage timings.
#[pyclass(module = "quiver", frozen, name = "Report")]
struct PyReport {
    report: Report,
}

#[pymethods]
impl PyReport {
    /// "verified", "falsified" or "unknown".
    #[getter]
    fn verdict(&self) -> &'static str {
        self.report.verdict.name()
    }
    /// Why the verdict is unknown (None otherwise).
    #[getter]
    fn reason(&self) -> Option<String> {
        match &self.report.verdict {
            Verdict::Unknown { reason } => Some(reason.to_string()),
            _ => None,
        }
    }
    /// The counterexample replayed by the exact executor (None unless falsified): a dict with
    /// `input`, `output` (int64 arrays), `input_real`, `output_real` (float64 arrays) and
    /// `disjunct` (the index of the unsafe disjunct the output satisfies).
    #[getter]
    fn witness<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Verdict::Falsified { witness } = &self.report.verdict else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("input", PyArray1::from_slice(py, witness.input()))?;
        d.set_item("output", PyArray1::from_slice(py, witness.output()))?;
        d.set_item("input_real", PyArray1::from_slice(py, witness.input_real()))?;
        d.set_item("output_real", PyArray1::from_slice(py, witness.output_real()))?;
        d.set_item("disjunct", witness.disjunct())?;
        Ok(Some(d))
    }
    /// Wall-clock seconds of the whole pipeline.
    #[getter]
    fn seconds(&self) -> f64 {
        self.report.seconds
    }
    /// Set when two procedures contradicted each other (the verdict is then unknown).
    #[getter]
    fn disagreement(&self) -> Option<String> {
        self.report.disagreement.clone()
    }
    /// The report as `quiver verify --json` writes it.
    fn _json(&self) -> PyResult<String> {
        serde_json::to_string(&self.report).map_err(|e| QuiverError::new_err(e.to_string()))
    }
    fn __repr__(&self) -> String {
        format!("<quiver.Report {} in {:.3} s>", self.report.verdict.name(), self.report.seconds)
    }
}

fn load_bytes(bytes: &[u8], options: &ImportOptions) -> PyResult<Network> {
    let text_start = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if text_start == Some(&b'{') {
        let text = std::str::from_utf8(bytes).map_err(model_err)?;
        return quiver::net::format::from_json(text, Path::new("<bytes>")).map_err(model_err);
    }
    quiver::import::onnx::from_bytes_with(bytes, "<bytes>", &[], options).map_err(model_err)
}

/// `ort_cpu`: which x86-64 CPU ONNX Runtime's results are to be reproduced for ("x86": AVX2
/// without VNNI, where uint8 × int8 products saturate in int16 pairs; "vnni": with VNNI).
fn import_options(ort_cpu: &str) -> PyResult<ImportOptions> {
    match ort_cpu {
        "x86" => Ok(ImportOptions::default()),
        "vnni" => Ok(ImportOptions { u8s8: U8S8::Vnni }),
        other => Err(option_err(format!("ort_cpu must be \"x86\" or \"vnni\", got {other:?}"))),
    }
}

/// Load a model from a path (JSON, ONNX, Keras fixed-point .h5, "@bundled") or from the bytes
/// of a JSON or ONNX model.
#[pyfunction]
#[pyo3(signature = (source, q_bits=None, ort_cpu="x86"))]
fn _load(py: Python<'_>, source: &Bound<'_, PyAny>, q_bits: Option<u8>, ort_cpu: &str) -> PyResult<PyNetwork> {
    let options = import_options(ort_cpu)?;
    if source.is_instance_of::<pyo3::types::PyBytes>() || source.is_instance_of::<pyo3::types::PyByteArray>() {
        let b: Vec<u8> = source.extract()?;
        return Ok(PyNetwork { net: py.detach(|| load_bytes(&b, &options))? });
    }
    let path: PathBuf = source.extract()?;
    if path.as_os_str() == "@bundled" {
        return Ok(PyNetwork { net: quiver::bundled::model() });
    }
    let is_onnx = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    let net = if is_onnx {
        py.detach(|| quiver::import::onnx::load_with(&path, &options)).map_err(model_err)?
    } else {
        py.detach(|| quiver::import::load_any(&path, q_bits)).map_err(model_err)?
    };
    Ok(PyNetwork { net })
}

/// L∞ robustness around the integer input `x`: exactly one of `eps` (integer steps) and
/// `eps_real` (real units, mapped through the input quantization).
#[pyfunction]
#[pyo3(signature = (net, x, label, eps=None, eps_real=None, tie="any"))]
fn _robustness(
    net: &PyNetwork,
    x: PyReadonlyArray1<'_, i64>,
    label: usize,
    eps: Option<i64>,
    eps_real: Option<f64>,
    tie: &str,
) -> PyResult<PySpec> {
    let radius = match (eps, eps_real) {
        (Some(e), None) => Radius::Integer(e),
        (None, Some(e)) => Radius::Real(e),
        _ => return Err(spec_err("give exactly one of eps (integer steps) and eps_real (real units)")),
    };
    let tie = tie_rule(tie)?;
    let spec = robustness(&net.net, x.as_slice()?, radius, label, tie).map_err(spec_err)?;
    spec.check(&net.net).map_err(spec_err)?;
    Ok(PySpec { spec })
}

/// A VNN-LIB property over `net`'s real (dequantized) or integer inputs and outputs.
#[pyfunction]
#[pyo3(signature = (path, net, integer=false))]
fn _vnnlib(path: PathBuf, net: &PyNetwork, integer: bool) -> PyResult<PySpec> {
    let text = std::fs::read_to_string(&path).map_err(|e| spec_err(format!("{}: cannot read: {e}", path.display())))?;
    let v = quiver::spec::vnnlib::parse(&text).map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
    let domain = if integer { Domain::Integer } else { Domain::Real };
    let spec = quiver::spec::real::to_spec(&v, &net.net, domain, format!("VNN-LIB {}", path.display()))
        .map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
    spec.check(&net.net).map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
    Ok(PySpec { spec })
}

/// The pipeline's options from `verify`'s keyword arguments, checked.
#[allow(clippy::too_many_arguments)]
fn pipeline_options(
    backends: Option<Vec<String>>,
    bounds: &str,
    search: bool,
    search_budget: f64,
    timeout: Option<f64>,
    threads: usize,
    crosscheck: bool,
    probe: bool,
    seed: u64,
    tighten: bool,
) -> PyResult<Options> {
    let bounds = bounds.parse().map_err(option_err)?;
    // `None`: the CLI's default backend, so that a script and `quiver verify` run the same query.
    let backends: Vec<String> =
        backends.unwrap_or_else(quiver::backend::default_backends).into_iter().filter(|b| b != "none").collect();
    for b in &backends {
        if b != "all" && quiver::backend::by_name(b).is_none() {
            return Err(option_err(format!(
                "unknown backend `{b}` (available: {}, milp-whole, all, none)",
                quiver::backend::available().join(", ")
            )));
        }
    }
    let time_limit = match timeout {
        Some(t) if t <= 0.0 => {
            return Err(option_err(format!("timeout must be a positive number of seconds, got {t}")))
        }
        Some(t) => Some(seconds("timeout", t)?),
        None => None,
    };
    let threads = match threads {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let search = match search {
        true => Some(SearchOptions {
            budget: seconds("search_budget", search_budget)?,
            seed,
            threads,
            ..SearchOptions::default()
        }),
        false => None,
    };
    Ok(Options { bounds, probe, search, backends, crosscheck, time_limit, threads, tighten })
}

fn seconds(name: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| option_err(format!("{name} must be a non-negative number of seconds, got {s}")))
}

/// Run `job` on a thread with the GIL released; Ctrl-C stops `budget` (the watchdog interrupts
/// the solvers), waits for the job and re-raises KeyboardInterrupt.
fn cancellable<T: Send>(py: Python<'_>, budget: &Budget, job: impl FnOnce() -> T + Send) -> PyResult<T> {
    std::thread::scope(|s| {
        let job = s.spawn(job);
        loop {
            if job.is_finished() {
                break;
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
            if let Err(e) = py.check_signals() {
                budget.stop();
                let _ = py.detach(|| job.join());
                return Err(e);
            }
        }
        job.join().map_err(|_| QuiverError::new_err("internal error: the verification thread panicked"))
    })
}

fn tie_rule(tie: &str) -> PyResult<TieRule> {
    match tie {
        "any" => Ok(TieRule::AnyTieUnsafe),
        t => t.parse::<TieRule>().map_err(spec_err),
    }
}

/// Run the verification pipeline with the GIL released; Ctrl-C stops it (KeyboardInterrupt).
#[pyfunction]
#[pyo3(signature = (net, spec, backends=None, bounds="symbolic", search=true, search_budget=1.0, timeout=None, threads=1, crosscheck=false, probe=true, seed=0, tighten=true))]
#[allow(clippy::too_many_arguments)]
fn _verify(
    py: Python<'_>,
    net: &PyNetwork,
    spec: &PySpec,
    backends: Option<Vec<String>>,
    bounds: &str,
    search: bool,
    search_budget: f64,
    timeout: Option<f64>,
    threads: usize,
    crosscheck: bool,
    probe: bool,
    seed: u64,
    tighten: bool,
) -> PyResult<PyReport> {
    spec.spec.check(&net.net).map_err(spec_err)?;
    let opts =
        pipeline_options(backends, bounds, search, search_budget, timeout, threads, crosscheck, probe, seed, tighten)?;
    let budget = Budget::new(opts.time_limit);
    let (net, spec) = (&net.net, &spec.spec);
    let report = cancellable(py, &budget, || verify_within(net, spec, &opts, &budget))?;
    Ok(PyReport { report })
}

/// The result of `equiv`: the verdict on the product network and, when falsified, the
/// counterexample replayed on both networks.
#[pyclass(module = "quiver", frozen, name = "EquivReport")]
struct PyEquivReport {
    report: EquivReport,
}

#[pymethods]
impl PyEquivReport {
    /// "verified" (equivalent on the box), "falsified" or "unknown".
    #[getter]
    fn verdict(&self) -> &'static str {
        self.report.report.verdict.name()
    }
    /// Why the verdict is unknown (None otherwise).
    #[getter]
    fn reason(&self) -> Option<String> {
        match &self.report.report.verdict {
            Verdict::Unknown { reason } => Some(reason.to_string()),
            _ => None,
        }
    }
    /// The counterexample (None unless falsified), replayed on each network by the exact
    /// executor: a dict with `input`, `output_a`, `output_b` (int64 arrays), `input_real`,
    /// `output_a_real`, `output_b_real` (float64 arrays) and `violation` (what disagrees).
    #[getter]
    fn witness<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(w) = &self.report.pair else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("input", PyArray1::from_slice(py, &w.input))?;
        d.set_item("output_a", PyArray1::from_slice(py, &w.output_a))?;
        d.set_item("output_b", PyArray1::from_slice(py, &w.output_b))?;
        d.set_item("input_real", PyArray1::from_slice(py, &w.input_real))?;
        d.set_item("output_a_real", PyArray1::from_slice(py, &w.output_a_real))?;
        d.set_item("output_b_real", PyArray1::from_slice(py, &w.output_b_real))?;
        d.set_item("violation", &w.violation)?;
        Ok(Some(d))
    }
    /// The relation checked, in words.
    #[getter]
    fn relation(&self) -> String {
        self.report.relation.clone()
    }
    /// Leading nodes A and B have in common (computed once in the product network).
    #[getter]
    fn shared_nodes(&self) -> usize {
        self.report.shared_nodes
    }
    #[getter]
    fn seconds(&self) -> f64 {
        self.report.report.seconds
    }
    /// Set when two procedures contradicted each other (the verdict is then unknown).
    #[getter]
    fn disagreement(&self) -> Option<String> {
        self.report.report.disagreement.clone()
    }
    /// The report as `quiver equiv --json` writes it (without the file names).
    fn _json(&self) -> PyResult<String> {
        serde_json::to_string(&self.report).map_err(|e| QuiverError::new_err(e.to_string()))
    }
    fn __repr__(&self) -> String {
        format!("<quiver.EquivReport {} in {:.3} s>", self.verdict(), self.report.report.seconds)
    }
}

/// The integer box of `x ± eps` (or `± eps_real` real units), or `lower`..`upper`, and whether
/// it was stated on real inputs.
fn equiv_box(
    net: &Network,
    x: Option<PyReadonlyArray1<'_, i64>>,
    eps: Option<i64>,
    eps_real: Option<f64>,
    lower: Option<PyReadonlyArray1<'_, i64>>,
    upper: Option<PyReadonlyArray1<'_, i64>>,
) -> PyResult<(InputBox, bool)> {
    match (x, lower, upper) {
        (Some(x), None, None) => {
            let radius = match (eps, eps_real) {
                (Some(e), None) => Radius::Integer(e),
                (None, Some(e)) => Radius::Real(e),
                _ => return Err(spec_err("give exactly one of eps (integer steps) and eps_real (real units)")),
            };
            let (b, _) = ball(net, x.as_slice()?, radius).map_err(spec_err)?;
            Ok((b, eps_real.is_some()))
        }
        (None, Some(lo), Some(hi)) if eps.is_none() && eps_real.is_none() => {
            Ok((InputBox { lo: lo.as_slice()?.to_vec(), hi: hi.as_slice()?.to_vec() }, false))
        }
        _ => Err(spec_err("give the box as x with eps (or eps_real), or as lower and upper")),
    }
}

/// δ-equivalence of `a` and `b` on a box, with the GIL released; Ctrl-C stops it.
#[pyfunction]
#[pyo3(signature = (a, b, x=None, eps=None, eps_real=None, lower=None, upper=None, delta=None, delta_real=None, same_class=false, tie="any", backends=None, bounds="symbolic", search=true, search_budget=1.0, timeout=None, threads=1, crosscheck=false, probe=true, seed=0, tighten=true))]
#[allow(clippy::too_many_arguments)]
fn _equiv(
    py: Python<'_>,
    a: &PyNetwork,
    b: &PyNetwork,
    x: Option<PyReadonlyArray1<'_, i64>>,
    eps: Option<i64>,
    eps_real: Option<f64>,
    lower: Option<PyReadonlyArray1<'_, i64>>,
    upper: Option<PyReadonlyArray1<'_, i64>>,
    delta: Option<i64>,
    delta_real: Option<String>,
    same_class: bool,
    tie: &str,
    backends: Option<Vec<String>>,
    bounds: &str,
    search: bool,
    search_budget: f64,
    timeout: Option<f64>,
    threads: usize,
    crosscheck: bool,
    probe: bool,
    seed: u64,
    tighten: bool,
) -> PyResult<PyEquivReport> {
    let relation = match (delta, delta_real, same_class) {
        (Some(d), None, false) => Relation::Delta(d),
        (None, Some(t), false) => Relation::DeltaReal(parse_delta(&t).map_err(spec_err)?),
        (None, None, true) => Relation::SameClass(tie_rule(tie)?),
        _ => return Err(spec_err("give exactly one of delta, delta_real and same_class=True")),
    };
    let (input, real_input) = equiv_box(&a.net, x, eps, eps_real, lower, upper)?;
    let opts =
        pipeline_options(backends, bounds, search, search_budget, timeout, threads, crosscheck, probe, seed, tighten)?;
    let q = EquivQuery { a: &a.net, b: &b.net, input, real_input, relation };
    let budget = Budget::new(opts.time_limit);
    let report = cancellable(py, &budget, || equiv(&q, &opts, &budget))?.map_err(spec_err)?;
    Ok(PyEquivReport { report })
}

/// The maximum robustness radius around `x` (as `quiver radius --json`, a JSON string), with
/// the GIL released; Ctrl-C stops it and returns nothing (KeyboardInterrupt).
#[pyfunction]
#[pyo3(signature = (net, x, label, tie="any", max_eps=None, eps_real_step=None, strategy="search", eps_timeout=None, timeout=None, backends=None, bounds="symbolic", search=true, search_budget=1.0, threads=1, probe=true, seed=0, tighten=true))]
#[allow(clippy::too_many_arguments)]
fn _radius(
    py: Python<'_>,
    net: &PyNetwork,
    x: PyReadonlyArray1<'_, i64>,
    label: usize,
    tie: &str,
    max_eps: Option<i64>,
    eps_real_step: Option<f64>,
    strategy: &str,
    eps_timeout: Option<f64>,
    timeout: Option<f64>,
    backends: Option<Vec<String>>,
    bounds: &str,
    search: bool,
    search_budget: f64,
    threads: usize,
    probe: bool,
    seed: u64,
    tighten: bool,
) -> PyResult<String> {
    let verify =
        pipeline_options(backends, bounds, search, search_budget, eps_timeout, threads, false, probe, seed, tighten)?;
    let strategy: Strategy = strategy.parse().map_err(option_err)?;
    let total = match timeout {
        Some(t) if t <= 0.0 => {
            return Err(option_err(format!("timeout must be a positive number of seconds, got {t}")))
        }
        Some(t) => Some(seconds("timeout", t)?),
        None => None,
    };
    let opts = RadiusOptions { verify, max_eps, strategy };
    let center = x.as_slice()?.to_vec();
    let q = RadiusQuery {
        net: &net.net,
        center: &center,
        label,
        tie: tie_rule(tie)?,
        unit: eps_real_step.map_or(Unit::Integer, Unit::Real),
    };
    let budget = Budget::new(total);
    let report = cancellable(py, &budget, || radius(&q, &opts, &budget))?.map_err(spec_err)?;
    serde_json::to_string(&report).map_err(|e| QuiverError::new_err(e.to_string()))
}

/// Wait at most `timeout` seconds until no HiGHS solve that a deadline abandoned on a helper
/// thread is still running (they end at HiGHS's next poll of their interrupt flag); `True` when
/// none is left. The package registers it with `atexit`: the interpreter's exit runs C++ static
/// destructors, and HiGHS's scheduler destroyed under a running solve aborts the process.
#[pyfunction]
fn _wait_for_solvers(py: Python<'_>, timeout: f64) -> bool {
    use quiver::backend::milp::highs::running_helper_solves;
    py.detach(|| {
        let end = std::time::Instant::now() + Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
        while running_helper_solves() > 0 {
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    })
}

#[pymodule]
fn _quiver(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("QuiverError", py.get_type::<QuiverError>())?;
    m.add("DEFAULT_BACKEND", quiver::backend::DEFAULT_BACKEND)?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("SpecError", py.get_type::<SpecError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("OptionError", py.get_type::<OptionError>())?;
    m.add_class::<PyNetwork>()?;
    m.add_class::<PySpec>()?;
    m.add_class::<PyReport>()?;
    m.add_class::<PyEquivReport>()?;
    m.add_function(wrap_pyfunction!(_load, m)?)?;
    m.add_function(wrap_pyfunction!(_robustness, m)?)?;
    m.add_function(wrap_pyfunction!(_vnnlib, m)?)?;
    m.add_function(wrap_pyfunction!(_verify, m)?)?;
    m.add_function(wrap_pyfunction!(_equiv, m)?)?;
    m.add_function(wrap_pyfunction!(_radius, m)?)?;
    m.add_function(wrap_pyfunction!(_wait_for_solvers, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
