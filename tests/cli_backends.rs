//! End-to-end tests of the complete backends through the `quiver` binary: `verify --backend
//! smt-bv|smt-lia|milp`, `--crosscheck`, `encode --format smt2 --logic bv|lia` answered by the
//! `z3` binary, time and memory limits. Ground truth comes from exhaustive enumeration on small
//! random networks (written to JSON files) and from the bundled model.
//!
//! `QUIVER_Z3` names the `z3` binary (default: `z3` on the PATH; Debian's `z3` package).

use quiver::net::{exec, format, Network};
use quiver::spec::robust::{robustness, Radius, TieRule};
use quiver::testgen;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};
mod common;
use common::{code, quiver, FALSIFIED, UNKNOWN, VERIFIED};
use std::process::{Command, Output};
use std::time::Instant;

/// `quiver verify @bundled --robust --dataset @bundled --index 0 --eps 1` followed by `extra`:
/// the bundled model's first test image at ε = 1, which symbolic bounds verify.
fn bundled_eps1(extra: &[&str]) -> Output {
    let mut args = vec!["verify", "@bundled", "--robust", "--dataset", "@bundled", "--index", "0", "--eps", "1"];
    args.extend_from_slice(extra);
    quiver(&args)
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn z3() -> String {
    std::env::var("QUIVER_Z3").unwrap_or_else(|_| "z3".into())
}

/// `z3 -smt2 FILE`: the first line (`sat`/`unsat`/`unknown`) and the rest.
fn run_z3(path: &Path) -> (String, String) {
    let out = Command::new(z3())
        .arg("-smt2")
        .arg("-T:120")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{}` (install Debian's z3 package): {e}", z3()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let first = stdout.lines().next().unwrap_or("").trim().to_string();
    let rest = stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
    (first, rest)
}

/// The values of `x_i` in z3's `(get-value (x_0 …))` answer, in index order: bit-vector literals
/// (`#x…`/`#b…`, sign-extended from their width) or integers (`5`, `(- 5)`).
fn parse_get_value(rest: &str, n: usize) -> Vec<i64> {
    let mut vals = vec![None; n];
    let flat = rest.replace(['(', ')'], " ");
    let toks: Vec<&str> = flat.split_whitespace().collect();
    let mut i = 0;
    while i < toks.len() {
        if let Some(idx) = toks[i].strip_prefix("x_").and_then(|k| k.parse::<usize>().ok()) {
            let (v, used) = match toks[i + 1] {
                "-" => (-toks[i + 2].parse::<i64>().expect("int"), 2),
                t if t.starts_with("#x") => {
                    let w = 4 * (t.len() - 2) as u32;
                    let u = u64::from_str_radix(&t[2..], 16).expect("hex");
                    ((((u << (64 - w)) as i64) >> (64 - w)), 1)
                }
                t if t.starts_with("#b") => {
                    let w = (t.len() - 2) as u32;
                    let u = u64::from_str_radix(&t[2..], 2).expect("bin");
                    ((((u << (64 - w)) as i64) >> (64 - w)), 1)
                }
                t => (t.parse::<i64>().expect("int"), 1),
            };
            vals[idx] = Some(v);
            i += 1 + used;
        } else {
            i += 1;
        }
    }
    vals.into_iter().map(|v| v.expect("every input has a value")).collect()
}

/// A small random network with a robustness query whose box can be enumerated.
struct Instance {
    dir: tempfile::TempDir,
    net: Network,
    center: Vec<i64>,
    eps: i64,
    label: usize,
    /// Ground truth: a violating input, if any.
    truth: Option<Vec<i64>>,
}

impl Instance {
    fn model(&self) -> PathBuf {
        self.dir.path().join("model.json")
    }
    fn input(&self) -> PathBuf {
        self.dir.path().join("x.txt")
    }
    /// The common `--robust …` arguments.
    fn spec_args(&self) -> Vec<String> {
        vec![
            "--robust".into(),
            "--input".into(),
            s(&self.input()).into(),
            "--eps".into(),
            self.eps.to_string(),
            "--label".into(),
            self.label.to_string(),
        ]
    }
}

fn instance(rng: &mut ChaCha8Rng, max_points: f64) -> Option<Instance> {
    let net = testgen::network(rng, &testgen::GenConfig::default());
    let t = net.input_info().quant.dtype;
    let center: Vec<i64> = (0..net.input_len()).map(|_| rng.gen_range(t.min()..=t.max())).collect();
    let eps = rng.gen_range(1..=2);
    let label = exec::argmax(&exec::run(&net, &center).ok()?);
    let spec = robustness(&net, &center, Radius::Integer(eps), label, TieRule::AnyTieUnsafe).ok()?;
    if spec.input.volume() as f64 > max_points {
        return None;
    }
    let truth = testgen::enumerate_violation(&net, &spec);
    let dir = tempfile::tempdir().expect("tempdir");
    let inst = Instance { dir, net, center, eps, label, truth };
    std::fs::write(inst.model(), format::to_json(&inst.net)).expect("write model");
    let x: Vec<String> = inst.center.iter().map(|v| v.to_string()).collect();
    std::fs::write(inst.input(), x.join(" ")).expect("write input");
    Some(inst)
}

/// `verify --backend milp,smt-bv,smt-lia --crosscheck` (every disjunct left open with
/// `--bounds none`, no probe, no search, so that every backend really decides): all three agree
/// with enumeration, the exit code is the documented one, and the JSON carries every backend's
/// verdict and statistics. `verify --backend smt-bv` alone gives the same exit code.
#[test]
fn crosscheck_agrees_with_enumeration() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xc11_b4c4);
    let (mut sat, mut unsat) = (0, 0);
    for _ in 0..400 {
        if sat >= 3 && unsat >= 3 {
            break;
        }
        let Some(inst) = instance(&mut rng, 3000.0) else { continue };
        let expected = if inst.truth.is_some() { FALSIFIED } else { VERIFIED };
        if (expected == FALSIFIED && sat >= 3) || (expected == VERIFIED && unsat >= 3) {
            continue;
        }
        let mut args: Vec<String> = vec!["verify".into(), s(&inst.model()).into()];
        args.extend(inst.spec_args());
        args.extend(
            [
                "--no-probe",
                "--search",
                "off",
                "--bounds",
                "none",
                "--backend",
                "milp,smt-bv,smt-lia",
                "--crosscheck",
                "--timeout",
                "60",
                "--json",
            ]
            .map(String::from),
        );
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = quiver(&argv);
        assert_eq!(code(&o), expected, "truth {:?}: {}", inst.truth, text(&o));
        let v = json(&o);
        assert!(v["disagreement"].is_null(), "{v}");
        let runs = v["stats"]["backends"].as_array().expect("backend runs");
        let names: Vec<&str> = runs.iter().map(|r| r["backend"].as_str().unwrap()).collect();
        assert_eq!(names, ["milp", "smt-bv", "smt-lia"], "{v}");
        for r in runs {
            let want = if expected == VERIFIED { "verified" } else { "falsified" };
            assert_eq!(r["verdict"], want, "{r}");
            // Reported (0 is possible: the MILP's own ranges may fix every neuron of a tiny graph).
            assert!(r["stats"]["constraints"].as_u64().is_some() && r["stats"]["variables"].as_u64() > Some(0), "{r}");
            assert!(r["stats"]["solve_seconds"].as_f64().is_some(), "{r}");
            if r["backend"].as_str().unwrap().starts_with("smt") {
                assert!(r["stats"]["extra"]["smt2_bytes"].as_f64().unwrap() > 0.0, "{r}");
                assert!(r["stats"]["extra"]["subproblems"].as_f64().unwrap() >= 1.0, "{r}");
            }
        }
        if expected == FALSIFIED {
            let wx: Vec<i64> = serde_json::from_value(v["witness"]["input"].clone()).expect("witness input");
            let spec =
                robustness(&inst.net, &inst.center, Radius::Integer(inst.eps), inst.label, TieRule::AnyTieUnsafe)
                    .unwrap();
            assert!(spec.input.contains(&wx) && spec.is_unsafe(&exec::run(&inst.net, &wx).unwrap()));
            sat += 1;
        } else {
            unsat += 1;
        }
        // One backend alone, with the default pipeline in front of it: same answer.
        for backend in ["smt-bv", "smt-lia"] {
            let mut args: Vec<String> = vec!["verify".into(), s(&inst.model()).into()];
            args.extend(inst.spec_args());
            args.extend(["--backend", backend, "--timeout", "60"].map(String::from));
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = quiver(&argv);
            assert_eq!(code(&o), expected, "{backend}: {}", text(&o));
        }
    }
    assert!(sat >= 3 && unsat >= 3, "found only {sat} falsified and {unsat} verified instances");
}

/// `encode --format smt2 --logic bv|lia -o FILE`, then the `z3` binary on FILE: `unsat` exactly
/// when enumeration finds no violation; for QF_BV a `sat` answer's `get-value` inputs replay to
/// a violation. (QF_LIA over-approximates float32 rescales and says so in the file: there a
/// `sat` on a robust instance is allowed, `unsat` on a non-robust one never.)
#[test]
fn exported_smt2_answered_by_z3_binary() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5e7_2b17);
    let (mut sat, mut unsat) = (0, 0);
    for _ in 0..400 {
        if sat >= 3 && unsat >= 3 {
            break;
        }
        let Some(inst) = instance(&mut rng, 3000.0) else { continue };
        if (inst.truth.is_some() && sat >= 3) || (inst.truth.is_none() && unsat >= 3) {
            continue;
        }
        let spec =
            robustness(&inst.net, &inst.center, Radius::Integer(inst.eps), inst.label, TieRule::AnyTieUnsafe).unwrap();
        for logic in ["bv", "lia"] {
            let out = inst.dir.path().join(format!("q_{logic}.smt2"));
            let mut args: Vec<String> = vec!["encode".into(), s(&inst.model()).into()];
            args.extend(inst.spec_args());
            args.extend(["--bounds", "none", "--format", "smt2", "--logic", logic, "-o", s(&out)].map(String::from));
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = quiver(&argv);
            assert_eq!(code(&o), 0, "{}", text(&o));
            let file = std::fs::read_to_string(&out).expect("written");
            let want_logic = if logic == "lia" { "(set-logic QF_LIA)" } else { "(set-logic QF_" };
            assert!(file.contains(want_logic) && file.contains("(check-sat)"), "{}", &file[..file.len().min(400)]);
            let (answer, rest) = run_z3(&out);
            match (answer.as_str(), &inst.truth) {
                ("unsat", None) => {}
                ("sat", Some(_)) | ("sat", None) if logic == "lia" && file.contains("NOTE: float32") => {}
                ("sat", Some(_)) => {
                    let x = parse_get_value(&rest, inst.net.input_len());
                    assert!(spec.input.contains(&x), "{logic}: z3's inputs {x:?} outside the box");
                    assert!(
                        spec.is_unsafe(&exec::run(&inst.net, &x).unwrap()),
                        "{logic}: z3's inputs {x:?} do not violate"
                    );
                }
                (a, t) => panic!("{logic}: z3 says `{a}`, enumeration says {t:?}\n{rest}"),
            }
        }
        if inst.truth.is_some() {
            sat += 1;
        } else {
            unsat += 1;
        }
    }
    assert!(sat >= 3 && unsat >= 3, "found only {sat} sat and {unsat} unsat instances");
}

/// The bundled model at ε = 1 (bounds verify it), every SMT backend cross-checking with a 2 s
/// limit: the backends cannot decide the full query that fast, and an `unknown` next to a
/// decided answer is not a disagreement, so the verdict is `verified` (exit 0). The backends'
/// stages say why they are undecided (Z3's `timeout`), and stop close to the limit.
#[test]
fn bundled_crosscheck_unknown_is_not_a_disagreement() {
    let t = Instant::now();
    let o = bundled_eps1(&["--backend", "smt-bv,smt-lia", "--crosscheck", "--timeout", "2", "--json"]);
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(code(&o), VERIFIED, "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["verdict"], "verified");
    assert!(v["disagreement"].is_null(), "{v}");
    let runs = v["stats"]["backends"].as_array().expect("backend runs");
    assert_eq!(runs.len(), 2, "{v}");
    for r in runs {
        assert!(r["verdict"] == "unknown" || r["verdict"] == "verified", "{r}");
    }
    for st in v["stages"].as_array().unwrap() {
        let name = st["name"].as_str().unwrap();
        if name.starts_with("backend") {
            let outcome = st["outcome"].as_str().unwrap();
            assert!(outcome == "verified" || outcome.contains("timeout") || outcome.contains("time limit"), "{st}");
            // Z3 4.8.12 checks its timeout between steps: allow a margin on a loaded machine.
            assert!(st["seconds"].as_f64().unwrap() < 2.0 + 8.0, "{st}");
        }
    }
    assert!(wall < 60.0, "{wall} s");
}

/// `--memory-mb`: a limit far below what the bundled model's bit-blasted query needs makes Z3
/// answer unknown with the reason (no crash); the pipeline goes on (bounds verified it).
#[test]
fn memory_limit_gives_unknown_with_reason() {
    let o = bundled_eps1(&["--backend", "smt-bv", "--crosscheck", "--timeout", "60", "--memory-mb", "8", "--json"]);
    assert_eq!(code(&o), VERIFIED, "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["stats"]["backends"][0]["verdict"], "unknown", "{v}");
    let stage = v["stages"].as_array().unwrap().iter().find(|s| s["name"] == "backend (smt-bv)").expect("stage");
    assert!(stage["outcome"].as_str().unwrap().contains("memory"), "{stage}");

    // Without bounds to fall back on, the verdict is unknown (exit 20) and says why.
    let o =
        bundled_eps1(&["--no-probe", "--search", "off", "--bounds", "none", "--backend", "smt-bv", "--memory-mb", "8"]);
    assert_eq!(code(&o), UNKNOWN, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("memory"), "{}", text(&o));
}

/// An unknown backend name is a usage error (exit 2) that lists the available ones.
#[test]
fn unknown_backend_is_a_usage_error() {
    let o = bundled_eps1(&["--backend", "smt"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("smt-bv") && e.contains("smt-lia") && e.contains("milp") && e.contains("bab"), "{e}");
    // a branch-and-bound variant with an unknown key, too
    let o = bundled_eps1(&["--backend", "bab:nonsense=1"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

/// The backends number the disjuncts they were given (the open ones, the search's closest
/// first); the report says which of the spec's those are, in text and in JSON.
#[test]
fn the_report_maps_backend_disjuncts_to_the_spec() {
    let flags = ["--bounds", "interval", "--backend", "milp", "--crosscheck"];
    let o = bundled_eps1(&flags);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("backend disjuncts 0, 1, … are the spec's ["), "{}", text(&o));
    let o = bundled_eps1(&[&flags[..], &["--json"]].concat());
    let v = json(&o);
    let order: Vec<u64> = v["stats"]["backend_disjuncts"]
        .as_array()
        .unwrap_or_else(|| panic!("no backend_disjuncts: {}", text(&o)))
        .iter()
        .map(|k| k.as_u64().expect("an index"))
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), order.len(), "repeated disjunct: {order:?}");
    assert!(!order.is_empty() && order.len() < 9 && order.iter().all(|&k| k < 9), "{order:?}");
}
