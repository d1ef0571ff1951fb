//! The CP-SAT backend and the MILP/CP-SAT portfolio: against enumeration on random networks,
//! exact on every rescale kind, stopped by the budget, and refusing cleanly without OR-Tools.
//!
//! These tests need OR-Tools' native library (`scripts/setup.sh` installs it into
//! `~/.cache/quiver-ortools`); without it they fail and say so (CI has it), unless
//! `QUIVER_ALLOW_MISSING_ORTOOLS=1` skips them knowingly.
#![cfg(feature = "cpsat")]

mod common;
#[path = "common/exact.rs"]
mod exact;

use exact::{market_split, scalar_net};

use quiver::backend::cpsat::{ffi, model, proto, CpSat};
use quiver::backend::portfolio::Portfolio;
use quiver::backend::{Backend, BackendOptions, Query};
use quiver::bounds::{self, Method};
use quiver::budget::Budget;
use quiver::net::{Network, QType, Rescale, Rounding};
use quiver::spec::Spec;
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

/// Every 11th input value of `net`'s int8 range pinned down by CP-SAT (general `Float32`
/// rescales included, which the MILP only brackets by a band).
fn exact_cpsat(net: &Network) -> usize {
    exact::check_exact_scalar(&CpSat, net, 11)
}

#[test]
fn every_rescale_kind_is_exact_on_scalars() {
    let Some(_) = lib() else { return };
    let mut solves = 0;
    for rounding in Rounding::ALL {
        solves += exact_cpsat(&scalar_net(1, 0, Rescale::Dyadic { m: 1, shift: 2, rounding }, 0, QType::INT8, false));
        solves += exact_cpsat(&scalar_net(5, -3, Rescale::Dyadic { m: 3, shift: 3, rounding }, 3, QType::INT8, true));
        let (m, bias) = (f64::from(0.3f32), f64::from(0.1f32));
        solves += exact_cpsat(&scalar_net(3, 1, Rescale::Float32 { m, bias, rounding }, 2, QType::INT8, false));
    }
    solves += exact_cpsat(&scalar_net(9, 0, Rescale::Q31 { m0: 1_500_000_000, shift: -3 }, 0, QType::INT8, false));
    assert!(solves > 300, "{solves} scalar solves");
}

#[test]
fn the_budget_stops_a_running_solve() {
    let Some(lib) = lib() else { return };
    let cp = model::to_cp_model(&market_split(5, 50, 7)).expect("integer model");
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
    // The default backend is the portfolio; without CP-SAT it is the MILP alone (one member,
    // every thread), not a MILP on half the threads beside a member that cannot run.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args(args)
        .args(["--search", "off", "--bounds", "none", "--threads", "2"])
        .env("QUIVER_ORTOOLS_LIB", "/nonexistent/libortools.so.9")
        .output()
        .expect("run quiver");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let run = &v["stats"]["backends"][0];
    assert_eq!(run["backend"], quiver::backend::DEFAULT_BACKEND, "{v}");
    assert_eq!(run["stats"]["extra"]["members"], 1.0, "{v}");
    assert_eq!(run["stats"]["extra"]["milp.workers"], 2.0, "two disjuncts at once: {v}");
    assert_ne!(common::code(&out), common::UNKNOWN, "{v}");
}
