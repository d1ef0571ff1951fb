//! ONNX import conformance against the real ONNX Runtime (issue 15).
//!
//! `scripts/onnx/conformance.py` generates random small quantized ONNX graphs (QDQ and QOperator;
//! see its docstring) and runs each in ONNX Runtime (pinned in `scripts/requirements-onnx.txt`)
//! on several inputs, including saturating ones, recording the outputs and the operators of
//! ONNX Runtime's optimized graph. Here every case is imported by quiver's library and classified:
//!
//! * **bit-exact**: quiver imports it, ONNX Runtime's optimized graph has no float compute node,
//!   and the exact executor reproduces every output bit for bit;
//! * **refused**: the import fails with a typed error that names a node of the model;
//! * **ort-rejected**: ONNX Runtime cannot load or run the model (no runtime behaviour to match);
//! * **failure** (fails the test): an output differs, quiver accepts a model ONNX Runtime runs in
//!   float, a refusal names no node, or the importer panics.
//!
//! The default run is a fixed-seed slice (`QUIVER_CONFORMANCE_CASES`, default 600, seed
//! `QUIVER_CONFORMANCE_SEED`, default 15). `QUIVER_CONFORMANCE_DIR=DIR` checks an already generated
//! directory instead of running Python; `QUIVER_CONFORMANCE_REPORT=FILE` writes the tables
//! (Markdown). The Python interpreter is `QUIVER_PYTHON`, else `~/.cache/quiver-venv/bin/python`
//! (what `.ci/run` creates), else `python3`; without onnxruntime the test fails and says what to
//! install, unless `QUIVER_ALLOW_MISSING_ONNXRUNTIME=1` (then it is skipped, knowingly).

use quiver::import::onnx::{self, OnnxError};
use quiver::net::exec;
use quiver::spec::real::quantize_input;
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_CASES: usize = 600;
const DEFAULT_SEED: u64 = 15;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_num(key: &str, default: u64) -> u64 {
    match std::env::var(key) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{key}={v} is not a number")),
        Err(_) => default,
    }
}

/// The version `scripts/requirements-onnx.txt` pins for `pkg`.
fn pinned(pkg: &str) -> String {
    let text = std::fs::read_to_string(root().join("scripts/requirements-onnx.txt")).expect("requirements-onnx.txt");
    text.lines()
        .filter_map(|l| l.split_once("=="))
        .find(|(name, _)| name.trim() == pkg)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| panic!("{pkg} is not pinned in scripts/requirements-onnx.txt"))
}

/// A Python with the pinned onnxruntime and onnx, or `None` (skip) if allowed.
fn python() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("QUIVER_PYTHON") {
        candidates.push(PathBuf::from(p));
    } else {
        if let Ok(home) = std::env::var("HOME") {
            candidates.push(Path::new(&home).join(".cache/quiver-venv/bin/python"));
        }
        candidates.push(PathBuf::from("python3"));
    }
    let (ort_v, onnx_v) = (pinned("onnxruntime"), pinned("onnx"));
    let mut seen = Vec::new();
    for py in candidates {
        let out = Command::new(&py)
            .args(["-c", "import onnxruntime, onnx, numpy; print(onnxruntime.__version__, onnx.__version__)"])
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
                if v == format!("{ort_v} {onnx_v}") {
                    return Some(py);
                }
                seen.push(format!("{}: onnxruntime/onnx {v}", py.display()));
            }
            Ok(o) => seen.push(format!(
                "{}: {}",
                py.display(),
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("import failed")
            )),
            Err(e) => seen.push(format!("{}: {e}", py.display())),
        }
    }
    if std::env::var("QUIVER_ALLOW_MISSING_ONNXRUNTIME").as_deref() == Ok("1") {
        eprintln!("skipping the ONNX Runtime conformance suite (QUIVER_ALLOW_MISSING_ONNXRUNTIME=1): {seen:?}");
        return None;
    }
    panic!(
        "the ONNX import conformance suite needs Python with onnxruntime=={ort_v} and onnx=={onnx_v}: \
         `python3 -m venv ~/.cache/quiver-venv && ~/.cache/quiver-venv/bin/pip install -r scripts/requirements-onnx.txt` \
         (or set QUIVER_PYTHON to such an interpreter; QUIVER_ALLOW_MISSING_ONNXRUNTIME=1 skips the suite knowingly). \
         Tried: {seen:?}"
    );
}

#[derive(Clone, Debug, PartialEq)]
enum Class {
    Exact,
    /// A refusal naming a node, with its grouping key, and whether ONNX Runtime ran the model on
    /// integer kernels only (then the refusal is conservative: u8s8 saturation, unsupported ops, …).
    Refused(String, bool),
    /// ONNX Runtime cannot load/run the model; whether quiver imports it.
    OrtRejected(bool),
    /// The generator skipped the case (e.g. a quantize_static failure).
    Skipped,
    Failure(String),
}

/// Replace backquoted names and numbers by placeholders, so that refusals of one kind group.
fn shape_of(msg: &str) -> String {
    let mut out = String::new();
    let mut in_tick = false;
    let mut last_digit = false;
    for c in msg.chars() {
        if c == '`' {
            if !in_tick {
                out.push_str("`…`");
            }
            in_tick = !in_tick;
            continue;
        }
        if in_tick {
            continue;
        }
        let digit = c.is_ascii_digit() || ((c == '.' || c == '-' || c == 'e') && last_digit);
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
        } else if !digit {
            out.push(c);
        }
        last_digit = digit;
    }
    out.chars().take(140).collect()
}

/// Does the error name one of the model's nodes? Its grouping key if so.
fn named_refusal(e: &OnnxError, nodes: &[String]) -> Option<String> {
    let names = |s: &str| nodes.iter().any(|n| s.contains(&format!("`{n}`")));
    match e.inner() {
        OnnxError::NotReproducible { node, rule, .. } if nodes.contains(node) => Some(rule.id().to_string()),
        OnnxError::Node { node, op, message } if nodes.contains(node) => Some(format!("{op}: {}", shape_of(message))),
        OnnxError::Unsupported(list) if list.iter().any(|s| names(s)) => {
            let first = list.iter().find(|s| names(s)).map(String::as_str).unwrap_or("");
            Some(format!("unsupported: {}", shape_of(first)))
        }
        _ => None,
    }
}

fn ints(v: &J) -> Vec<i64> {
    v.as_array().expect("array").iter().map(|x| x.as_i64().expect("integer")).collect()
}

fn floats(v: &J) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

fn check(dir: &Path, case: &J) -> Class {
    let ort_status = case["ort"]["status"].as_str().unwrap_or("?");
    let Some(file) = case["file"].as_str() else { return Class::Skipped };
    let nodes: Vec<String> = case["nodes"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let path = dir.join(file);
    let imported = match std::panic::catch_unwind(|| onnx::load(&path)) {
        Ok(r) => r,
        Err(_) => return Class::Failure("the importer panicked".into()),
    };
    if ort_status != "ok" {
        return Class::OrtRejected(imported.is_ok());
    }
    let net = match imported {
        Ok(net) => net,
        Err(e) => {
            let all_integer = case["ort"]["float_ops"].as_array().is_some_and(|a| a.is_empty());
            return match named_refusal(&e, &nodes) {
                Some(key) => Class::Refused(key, all_integer),
                None => Class::Failure(format!("a refusal that names no node: {e}")),
            };
        }
    };
    let float_ops: Vec<&str> =
        case["ort"]["float_ops"].as_array().map(|a| a.iter().filter_map(J::as_str).collect()).unwrap_or_default();
    if !float_ops.is_empty() {
        return Class::Failure(format!(
            "imported, but ONNX Runtime's optimized graph computes {float_ops:?} in float (ops {})",
            case["ort"]["ops"]
        ));
    }
    let float_in = case["input"]["kind"] == "float";
    let float_out = case["output"]["kind"] == "float";
    let outputs = case["outputs"].as_array().expect("outputs");
    for (k, (x, want)) in case["input"]["values"].as_array().expect("inputs").iter().zip(outputs).enumerate() {
        let q: Vec<i64> =
            if float_in { floats(x).iter().map(|&v| quantize_input(net.input(), v)).collect() } else { ints(x) };
        let run = std::panic::catch_unwind(|| exec::run(&net, &q));
        let got = match run {
            Ok(Ok(y)) => y,
            Ok(Err(e)) => return Class::Failure(format!("input {k}: the executor failed: {e}")),
            Err(_) => return Class::Failure(format!("input {k}: the executor panicked")),
        };
        if float_out {
            let oq = net.output_info().quant;
            let got_f: Vec<f32> = got.iter().map(|&y| (y - oq.zero_point) as f32 * oq.scale as f32).collect();
            let want_f = floats(want);
            if got_f.iter().map(|v| v.to_bits()).ne(want_f.iter().map(|v| v.to_bits())) {
                return Class::Failure(format!(
                    "input {k}: outputs {got_f:?} (integers {got:?}), ONNX Runtime {want_f:?}"
                ));
            }
        } else {
            let want_i = ints(want);
            if got != want_i {
                let diff = got.iter().zip(&want_i).map(|(a, b)| (a - b).abs()).max().unwrap_or(0);
                return Class::Failure(format!(
                    "input {k}: outputs {got:?}, ONNX Runtime {want_i:?} (max difference {diff})"
                ));
            }
        }
    }
    Class::Exact
}

#[derive(Default)]
struct Row {
    cases: usize,
    exact: usize,
    refused: usize,
    refused_integer: usize,
    ort_rejected: usize,
    ort_rejected_imported: usize,
    skipped: usize,
    failures: usize,
}

fn generate(py: &Path, dir: &Path, seed: u64, first: u64, cases: u64) {
    let t0 = std::time::Instant::now();
    let out = Command::new(py)
        .arg(root().join("scripts/onnx/conformance.py"))
        .args(["--seed", &seed.to_string(), "--first", &first.to_string(), "--cases", &cases.to_string(), "--out"])
        .arg(dir)
        .output()
        .expect("run the generator");
    assert!(
        out.status.success(),
        "scripts/onnx/conformance.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr).lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    eprintln!("generated {cases} cases (seed {seed}, first {first}) in {:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn onnx_runtime_conformance() {
    let given = std::env::var("QUIVER_CONFORMANCE_DIR").ok().map(PathBuf::from);
    let tmp;
    let dir = match &given {
        Some(d) => d.clone(),
        None => {
            let Some(py) = python() else { return };
            tmp = tempfile::Builder::new().prefix("quiver-onnx-conformance-").tempdir().expect("tempdir");
            let seed = env_num("QUIVER_CONFORMANCE_SEED", DEFAULT_SEED);
            let first = env_num("QUIVER_CONFORMANCE_FIRST", 0);
            let cases = env_num("QUIVER_CONFORMANCE_CASES", DEFAULT_CASES as u64);
            generate(&py, tmp.path(), seed, first, cases);
            tmp.path().to_path_buf()
        }
    };
    let t0 = std::time::Instant::now();
    let text = std::fs::read_to_string(dir.join("cases.jsonl")).expect("cases.jsonl");
    let cases: Vec<J> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON case")).collect();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());

    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let mut refusals: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let family = case["family"].as_str().unwrap_or("?").to_string();
        let class = check(&dir, case);
        let row = rows.entry(family.clone()).or_default();
        row.cases += 1;
        match &class {
            Class::Exact => row.exact += 1,
            Class::Refused(key, all_integer) => {
                row.refused += 1;
                row.refused_integer += usize::from(*all_integer);
                let e = refusals.entry(key.clone()).or_insert((0, String::new()));
                e.0 += 1;
                if e.1.is_empty() {
                    if let Some(f) = case["file"].as_str() {
                        e.1 = onnx::load(&dir.join(f)).err().map(|e| e.inner().to_string()).unwrap_or_default();
                    }
                }
            }
            Class::OrtRejected(imported) => {
                row.ort_rejected += 1;
                row.ort_rejected_imported += usize::from(*imported);
            }
            Class::Skipped => row.skipped += 1,
            Class::Failure(why) => {
                row.failures += 1;
                failures.push(format!(
                    "case {} [{family}] {}: {why}\n    {}",
                    case["id"],
                    case["file"].as_str().unwrap_or("-"),
                    case["desc"].as_str().unwrap_or("")
                ));
            }
        }
    }
    let mut table = String::new();
    let total = rows.values().fold(Row::default(), |a, r| Row {
        cases: a.cases + r.cases,
        exact: a.exact + r.exact,
        refused: a.refused + r.refused,
        refused_integer: a.refused_integer + r.refused_integer,
        ort_rejected: a.ort_rejected + r.ort_rejected,
        ort_rejected_imported: a.ort_rejected_imported + r.ort_rejected_imported,
        skipped: a.skipped + r.skipped,
        failures: a.failures + r.failures,
    });
    let _ = writeln!(
        table,
        "| family | cases | bit-exact | refused by name (of which ONNX Runtime ran on integer kernels only) | ONNX \
         Runtime rejects (quiver imports) | skipped | mismatches |"
    );
    let _ = writeln!(table, "|---|---:|---:|---:|---:|---:|---:|");
    for (f, r) in rows.iter().chain(std::iter::once((&"**total**".to_string(), &total))) {
        let _ = writeln!(
            table,
            "| {f} | {} | {} | {} ({}) | {} ({}) | {} | {} |",
            r.cases,
            r.exact,
            r.refused,
            r.refused_integer,
            r.ort_rejected,
            r.ort_rejected_imported,
            r.skipped,
            r.failures
        );
    }
    let mut reasons = String::new();
    let _ = writeln!(reasons, "| refusal (rule or operator: message shape) | cases | example |");
    let _ = writeln!(reasons, "|---|---:|---|");
    for (k, (n, ex)) in &refusals {
        let _ =
            writeln!(reasons, "| {} | {n} | {} |", k.replace('|', "\\|"), ex.replace('|', "\\|").replace('\n', " "));
    }
    println!("{table}\n{reasons}");
    eprintln!("checked {} cases in {:.1} s", cases.len(), t0.elapsed().as_secs_f64());
    if let Ok(p) = std::env::var("QUIVER_CONFORMANCE_REPORT") {
        std::fs::write(&p, format!("{table}\n{reasons}")).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    if !failures.is_empty() {
        // keep the generated models for inspection
        if given.is_none() {
            let kept = std::env::temp_dir().join("quiver-onnx-conformance-failed");
            let _ = std::fs::remove_dir_all(&kept);
            let _ = std::fs::rename(&dir, &kept);
            eprintln!("the generated cases are kept in {}", kept.display());
        }
        panic!(
            "{} of {} ONNX conformance cases fail (an output differs from ONNX Runtime, a float group was imported, a \
             refusal names no node, or the importer panicked):\n{}",
            failures.len(),
            cases.len(),
            failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
        );
    }
    assert!(total.exact > 0 && total.refused > 0, "the slice exercised nothing: {total:?}", total = total.cases);
}
