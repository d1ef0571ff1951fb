//! End-to-end tests of the `quiver` binary: real processes, real files, every subcommand and the
//! error paths (one-line message, the documented exit code, no panic).

use std::path::{Path, PathBuf};
mod common;
use common::{code, quiver, ERROR, FALSIFIED, UNKNOWN, VERIFIED};
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An error run: exit code 2, exactly one line on stderr starting with "error:", nothing on stdout.
fn assert_error(o: &Output, needle: &str) {
    let e = stderr(o);
    assert_eq!(code(o), ERROR, "stderr: {e}");
    assert!(e.starts_with("error: "), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "one line expected: {e}");
    assert!(e.contains(needle), "expected `{needle}` in `{e}`");
    assert!(o.stdout.is_empty(), "no output expected on error: {}", stdout(o));
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().expect("tempdir"))
    }
    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, contents).expect("write");
        p
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benchmarks/models/mnist_mlp.json")
}

fn vectors() -> quiver::bundled::Vectors {
    quiver::bundled::vectors()
}

fn input_file(d: &Dir, k: usize) -> PathBuf {
    let x = &vectors().inputs[k];
    d.file(&format!("x{k}.txt"), &x.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "))
}

#[test]
fn info_text_and_json() {
    let o = quiver(&["info", s(&model_path())]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("dense") && out.contains("parameters"), "{out}");
    let o = quiver(&["info", "@bundled", "--json"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["input_shape"], serde_json::json!([784]));
    assert_eq!(v["output_shape"], serde_json::json!([10]));
    assert_eq!(v["parameters"].as_u64().unwrap() as usize, quiver::bundled::model().parameter_count());
}

#[test]
fn run_matches_the_executor() {
    let d = Dir::new();
    let net = quiver::bundled::model();
    for k in 0..3 {
        let x = &vectors().inputs[k];
        let y = quiver::net::exec::run(&net, x).unwrap();
        let o = quiver(&["run", s(&model_path()), "--input", s(&input_file(&d, k)), "--json"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
        assert_eq!(v["output"], serde_json::json!(y));
        assert_eq!(v["class"], serde_json::json!(quiver::net::exec::argmax(&y)));
    }
    // JSON-array input gives the same result.
    let x = &vectors().inputs[0];
    let f = d.file("x.json", &serde_json::to_string(x).unwrap());
    let o = quiver(&["run", "@bundled", "--input", s(&f)]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("class"));
}

/// ε = 0 is a single point: verified iff the prediction is a strict winner.
#[test]
fn verify_robust_point_and_exit_codes() {
    let d = Dir::new();
    let net = quiver::bundled::model();
    let k = (0..vectors().inputs.len())
        .find(|&k| {
            let y = quiver::net::exec::run(&net, &vectors().inputs[k]).unwrap();
            let c = quiver::net::exec::argmax(&y);
            y.iter().enumerate().all(|(j, &v)| j == c || v < y[c])
        })
        .expect("some input has a strict winner");
    let x = input_file(&d, k);
    let o = quiver(&["verify", s(&model_path()), "--robust", "--input", s(&x), "--eps", "0", "--json"]);
    assert_eq!(code(&o), VERIFIED, "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["verdict"], "verified");
    assert!(v["stages"].as_array().unwrap().iter().any(|s| s["name"].as_str().unwrap().starts_with("bounds")));
    // Not on a terminal: the live progress line draws nothing.
    assert!(o.stderr.is_empty(), "stderr off a terminal: {}", stderr(&o));

    // Against a wrong label, the center itself is a counterexample: falsified with a witness.
    let y = quiver::net::exec::run(&net, &vectors().inputs[k]).unwrap();
    let wrong = (quiver::net::exec::argmax(&y) + 1) % y.len();
    let o = quiver(&[
        "verify",
        "@bundled",
        "--robust",
        "--input",
        s(&x),
        "--eps",
        "1",
        "--label",
        &wrong.to_string(),
        "--json",
    ]);
    assert_eq!(code(&o), FALSIFIED, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["verdict"], "falsified");
    let wx: Vec<i64> = serde_json::from_value(v["witness"]["input"].clone()).unwrap();
    let wy = quiver::net::exec::run(&net, &wx).unwrap();
    // The unsafe condition for label `wrong`: some other class j has y_j >= y_wrong.
    assert!((0..wy.len()).any(|j| j != wrong && wy[j] >= wy[wrong]), "{wy:?}");

    // A large radius cannot be decided by bounds alone: with search and backends off, unknown.
    let o = quiver(&[
        "verify",
        "@bundled",
        "--robust",
        "--input",
        s(&x),
        "--eps",
        "255",
        "--no-probe",
        "--bounds",
        "none",
        "--search",
        "off",
        "--backend",
        "none",
    ]);
    assert_eq!(code(&o), UNKNOWN, "{}", stdout(&o));
    assert!(stdout(&o).contains("unknown: "), "{}", stdout(&o));
}

#[test]
fn verify_vnnlib_integer_domain() {
    let d = Dir::new();
    // Inputs pinned to one bundled vector; the unsafe condition "Y_c <= -1" is impossible for
    // uint8 outputs, so the property holds (exactly decided by bounds).
    let x = &vectors().inputs[0];
    let mut text = String::new();
    for i in 0..x.len() {
        text += &format!("(declare-const X_{i} Real)\n");
    }
    for j in 0..10 {
        text += &format!("(declare-const Y_{j} Real)\n");
    }
    for (i, v) in x.iter().enumerate() {
        text += &format!("(assert (>= X_{i} {v}))\n(assert (<= X_{i} {v}))\n");
    }
    let net = quiver::bundled::model();
    let lo = net.output_info().quant.dtype.min();
    text += &format!("(assert (<= Y_3 {}))\n", lo - 1);
    let f = d.file("p.vnnlib", &text);
    let o = quiver(&["verify", "@bundled", "--vnnlib", s(&f), "--domain", "integer"]);
    assert_eq!(code(&o), VERIFIED, "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn demo_runs_on_the_bundled_model() {
    let o = quiver(&["demo", "--count", "2", "--eps", "0,1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("4 queries"), "{out}");
    let o = quiver(&["demo", "--count", "1", "--eps", "1,2,16", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v.as_array().unwrap().len(), 3);
}

#[test]
fn errors_are_one_line_with_the_file() {
    let d = Dir::new();
    assert_error(&quiver(&["info", "/nonexistent/m.json"]), "/nonexistent/m.json: cannot read");
    let bad = d.file("bad.json", "{\"format\": \"quiver-qnn\", \"version\": 1,");
    assert_error(&quiver(&["info", s(&bad)]), "bad.json:1:");
    let truncated = std::fs::read_to_string(model_path()).unwrap();
    let t = d.file("trunc.json", &truncated[..truncated.len() / 2]);
    assert_error(&quiver(&["info", s(&t)]), "trunc.json:");

    let short = d.file("short.txt", "1 2 3");
    assert_error(&quiver(&["run", "@bundled", "--input", s(&short)]), "3 values, but the model takes 784 inputs");
    let x = input_file(&d, 0);
    let words = d.file("words.txt", "1 2 x");
    assert_error(&quiver(&["run", "@bundled", "--input", s(&words)]), "value 3 (`x`) is not a number");
    let big = d.file("big.txt", &vec!["300"; 784].join(" "));
    assert_error(&quiver(&["run", "@bundled", "--input", s(&big)]), "is not a uint8 integer");
    assert_error(&quiver(&["verify", "@bundled", "--robust", "--input", s(&x), "--eps=-1"]), "epsilon must be >= 0");
    assert_error(
        &quiver(&["verify", "@bundled", "--robust", "--input", s(&x), "--eps", "1", "--label", "10"]),
        "label 10 out of range",
    );
    let vnn = d.file("bad.vnnlib", "(declare-const X_0 Real)\n(assert (<= X_0 ");
    let e = quiver(&["verify", "@bundled", "--vnnlib", s(&vnn)]);
    assert_error(&e, "bad.vnnlib: line ");
    assert_error(&quiver(&["verify", "@bundled"]), "nothing to verify");
    assert_error(
        &quiver(&["verify", "@bundled", "--robust", "--input", s(&x), "--eps", "1", "--timeout=-3"]),
        "--timeout must be a positive",
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = quiver(&["verify", "@bundled", "--robust"]);
    assert_eq!(code(&o), ERROR);
    let o = quiver(&["frobnicate"]);
    assert_eq!(code(&o), ERROR);
    let o = quiver(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Exit codes"));
}
