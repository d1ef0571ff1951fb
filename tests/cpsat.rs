//! The CP-SAT backend and the MILP/CP-SAT portfolio: against enumeration on random networks,
//! exact on every rescale kind, stopped by the budget, and refusing cleanly without OR-Tools.
//!
//! These tests need OR-Tools' native library (`scripts/setup.sh` installs it into
//! `~/.cache/quiver-ortools`); without it they fail and say so (CI has it), unless
//! `QUIVER_ALLOW_MISSING_ORTOOLS=1` skips them knowingly.
#![cfg(feature = "cpsat")]

mod common;

use quiver::backend::cpsat::{ffi, model, proto, CpSat};
use quiver::backend::milp::model::{MilpModel, Sense, VarKind};
use quiver::backend::portfolio::Portfolio;
use quiver::backend::{Backend, BackendOptions, Query};
use quiver::bounds::{self, Method};
use quiver::budget::Budget;
use quiver::net::{Dense, Input, Layer, Network, QType, Quant, Requant, Rescale, Rounding};
use quiver::spec::{Atom, InputBox, Spec};
use quiver::testgen;
use quiver::verify::Verdict;
use rand::SeedableRng;
use std::time::{Duration, Instant};

/// The library, or `None` (the test returns) when it is missing and that is allowed.
fn lib() -> Option<&'static ffi::CpSatLib> {
    match ffi::library() {
        Ok(l) => Some(l),
        Err(e) if std::env::var_os("QUIVER_ALLOW_MISSING_ORTOOLS").is_some() => {
            eprintln!("SKIPPED (QUIVER_ALLOW_MISSING_ORTOOLS is set): {e}");
            None
        }
        Err(e) => panic!("the cpsat tests need OR-Tools (run scripts/setup.sh, or set QUIVER_ALLOW_MISSING_ORTOOLS=1 to skip them knowingly): {e}"),
    }
}

fn opts(threads: usize) -> BackendOptions {
    BackendOptions::new(Some(Duration::from_secs(120)), threads)
}

/// The verdict of `backend` must be enumeration's; a witness must be in the box and unsafe.
fn check(backend: &dyn Backend, net: &Network, spec: &Spec, method: Method, case: usize) {
    let analysis = bounds::analyze(net, spec, method);
    let query = Query { net, spec, bounds: &analysis.bounds };
    let (verdict, stats) = backend.solve(&query, &opts(1 + case % 2));
    let truth = testgen::enumerate_violation(net, spec);
    match (&verdict, &truth) {
        (Verdict::Verified, None) => {}
        (Verdict::Falsified { witness }, Some(_)) => {
            assert!(spec.input.contains(witness.input()), "case {case}: witness outside the box");
            assert!(spec.is_unsafe(witness.output()), "case {case}: witness not unsafe");
        }
        _ => panic!(
            "case {case} ({method:?} bounds): {} says {verdict:?}, enumeration finds {truth:?}\nnet: {}\nspec: {spec:?}\nstats: {stats:?}",
            backend.name(),
            quiver::net::format::to_json(net)
        ),
    }
}

#[test]
fn random_networks_match_enumeration() {
    let Some(_) = lib() else { return };
    let cases: usize = std::env::var("QUIVER_CPSAT_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_00c5);
    let cfg = testgen::GenConfig::default();
    let (mut falsified, mut verified) = (0, 0);
    for case in 0..cases {
        let net = testgen::network(&mut rng, &cfg);
        let input = testgen::input_box(&mut rng, &net, 200);
        let spec = testgen::spec(&mut rng, &net, input);
        check(&CpSat, &net, &spec, Method::Interval, case);
        // Every third case with bounds over the whole input type, and through the portfolio.
        if case % 3 == 0 {
            check(&CpSat, &net, &spec, Method::None, case);
            check(&Portfolio, &net, &spec, Method::Symbolic, case);
        }
        if testgen::enumerate_violation(&net, &spec).is_some() {
            falsified += 1;
        } else {
            verified += 1;
        }
    }
    eprintln!("{cases} cases: {verified} safe, {falsified} unsafe");
    assert!(falsified > cases / 10 && verified > cases / 10, "the generator must produce both outcomes");
}

/// A 1 → 1 dense network `y = clamp(R(w·x + b) + zp)` with an int8 input.
fn scalar_net(w: i64, b: i64, rescale: Rescale, zp: i64, relu: bool) -> Network {
    let input = Input { shape: vec![1], dtype: QType::INT8, scale: 1.0, zero_point: 0, quantize: Default::default() };
    let layer = Layer::Dense(Dense {
        in_features: 1,
        out_features: 1,
        weights: vec![w],
        weight_dtype: QType::INT8,
        weight_zero_point: vec![0],
        bias: vec![b],
        requant: Requant { rescale: vec![rescale], relu },
        output: Quant { dtype: QType::INT8, scale: 1.0, zero_point: zp },
    });
    Network::new("scalar", input, vec![layer]).expect("valid scalar network")
}

/// For sampled inputs, `y ≤ v − 1` and `y ≥ v + 1` are verified and `y = v` falsified, where `v`
/// is the executor's output: the CP-SAT model admits exactly the runtime value (general
/// `Float32` rescales included, which the MILP only brackets by a band).
fn check_exact_scalar(net: &Network) -> usize {
    let t = net.input_info().quant.dtype;
    let whole = bounds::compute(net, &InputBox { lo: vec![t.min()], hi: vec![t.max()] }, Method::Interval);
    let mut solves = 0;
    for x in (t.min()..=t.max()).step_by(11) {
        let v = quiver::net::exec::run(net, &[x]).expect("in range")[0];
        for (atom, unsafe_expected) in [
            (Atom { terms: vec![(0, 1)], rhs: v - 1 }, false),
            (Atom { terms: vec![(0, -1)], rhs: -v - 1 }, false),
            (Atom { terms: vec![(0, 1)], rhs: v }, true),
        ] {
            let spec = Spec {
                input: InputBox { lo: vec![x], hi: vec![x] },
                unsafe_dnf: vec![vec![atom]],
                description: "scalar".into(),
            };
            let query = Query { net, spec: &spec, bounds: &whole };
            let (verdict, _) = CpSat.solve(&query, &opts(1));
            match (&verdict, unsafe_expected) {
                (Verdict::Verified, false) | (Verdict::Falsified { .. }, true) => {}
                _ => panic!("x = {x}, runtime y = {v}, spec {:?}: {verdict:?} for {net:?}", spec.unsafe_dnf),
            }
            solves += 1;
        }
    }
    solves
}

#[test]
fn every_rescale_kind_is_exact_on_scalars() {
    let Some(_) = lib() else { return };
    let mut solves = 0;
    for rounding in Rounding::ALL {
        solves += check_exact_scalar(&scalar_net(1, 0, Rescale::Dyadic { m: 1, shift: 2, rounding }, 0, false));
        solves += check_exact_scalar(&scalar_net(5, -3, Rescale::Dyadic { m: 3, shift: 3, rounding }, 3, true));
        let (m, bias) = (f64::from(0.3f32), f64::from(0.1f32));
        solves += check_exact_scalar(&scalar_net(3, 1, Rescale::Float32 { m, bias, rounding }, 2, false));
    }
    solves += check_exact_scalar(&scalar_net(9, 0, Rescale::Q31 { m0: 1_500_000_000, shift: -3 }, 0, false));
    assert!(solves > 300, "{solves} scalar solves");
}

/// Market split (Cornuéjols–Dawande): tiny and hard, so CP-SAT is still searching when stopped.
fn market_split(m: usize, n: usize) -> MilpModel {
    use rand::Rng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut model = MilpModel::default();
    let x: Vec<usize> = (0..n).map(|_| model.var("x", VarKind::Binary, 0.0, 1.0)).collect();
    for _ in 0..m {
        let a: Vec<f64> = (0..n).map(|_| rng.gen_range(0..100) as f64).collect();
        let rhs = (a.iter().sum::<f64>() / 2.0).floor();
        let terms: Vec<(usize, f64)> = x.iter().copied().zip(a).collect();
        model.row("split_le", terms.clone(), Sense::Le, rhs);
        model.row("split_ge", terms, Sense::Ge, rhs);
    }
    model
}

#[test]
fn the_budget_stops_a_running_solve() {
    let Some(lib) = lib() else { return };
    let cp = model::to_cp_model(&market_split(5, 50)).expect("integer model");
    let params = proto::SatParameters { num_workers: Some(1), ..Default::default() };
    // No CP-SAT time limit: only the budget's stop (its watchdog at 0.5 s) can end the solve.
    let budget = Budget::new(Some(Duration::from_millis(500)));
    let t = Instant::now();
    let res = lib.solve(&cp, &params, &budget).expect("a response");
    assert_eq!(res.status, proto::CpSolverStatus::Unknown as i32, "instance too easy: {res:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "stop took {:?}", t.elapsed());
}

#[test]
fn registered_by_name_and_in_all() {
    let Some(_) = lib() else { return };
    assert!(quiver::backend::available().contains(&"cpsat"));
    assert_eq!(quiver::backend::by_name("cpsat").map(|b| b.name()), Some("cpsat"));
    assert_eq!(quiver::backend::by_name("portfolio").map(|b| b.name()), Some("portfolio"));
}

/// Without the library the backend answers `unknown` (unsupported) and says how to install it;
/// the portfolio still answers through the MILP.
#[test]
fn a_missing_library_is_an_unsupported_unknown() {
    let args = ["verify", "@bundled", "--robust", "--dataset", "@bundled", "--index", "0", "--eps", "1", "--json"];
    let run = |backend: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_quiver"))
            .args(args)
            .args(["--backend", backend, "--search", "off", "--bounds", "none"])
            .env("QUIVER_ORTOOLS_LIB", "/nonexistent/libortools.so.9")
            .output()
            .expect("run quiver");
        (common::code(&out), String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (code, json) = run("cpsat");
    assert_eq!(code, common::UNKNOWN, "{json}");
    assert!(json.contains("unsupported") && json.contains("QUIVER_ORTOOLS_LIB"), "{json}");
    let (code, json) = run("portfolio");
    assert_ne!(code, common::UNKNOWN, "the MILP member decides: {json}");
}
