//! The MILP backend against ground truth: exhaustive enumeration on random tiny networks of every
//! layer kind, rescale kind and rounding mode; per-kind exactness of the requantization rows;
//! the bundled PyTorch model; and LP/MPS exports re-read by HiGHS.
//!
//! `QUIVER_MILP_CASES=N` runs N random instances instead of the default.

#[path = "common/exact.rs"]
mod exact;

use exact::{market_split, scalar_net};
use quiver::backend::milp::{self, encode, export_lp, export_mps, highs, EncodeOptions, Milp};
use quiver::backend::{Backend, BackendOptions, Query};
use quiver::bounds::{self, Method};
use quiver::net::{Network, QType, Rescale, Rounding};
use quiver::spec::robust::{robustness, Radius, TieRule};
use quiver::spec::{InputBox, Spec};
use quiver::testgen;
use quiver::verify::Verdict;
use rand::SeedableRng;
use std::time::{Duration, Instant};

/// Backend options; `threads > 1` solves the disjuncts' sub-MILPs concurrently.
fn opts(threads: usize) -> BackendOptions {
    BackendOptions::new(Some(Duration::from_secs(120)), threads)
}

fn is_time_limit(v: &Verdict) -> bool {
    v.timed_out()
}

/// Run the backend and check the verdict against enumeration. Returns 1 for a time-limit unknown.
/// Odd cases run the disjuncts on two threads (concurrent HiGHS instances, interrupted once one
/// finds a witness), even cases on one.
fn check_against_enumeration(net: &Network, spec: &Spec, method: Method, case: usize) -> usize {
    let analysis = bounds::analyze(net, spec, method);
    let query = Query { net, spec, bounds: &analysis.bounds };
    let (verdict, stats) = Milp.solve(&query, &opts(1 + case % 2));
    let truth = testgen::enumerate_violation(net, spec);
    match (&verdict, &truth) {
        (Verdict::Verified, None) => {}
        (Verdict::Falsified { witness }, Some(_)) => {
            assert!(spec.input.contains(witness.input()), "case {case}: witness outside the box");
            assert!(spec.is_unsafe(witness.output()), "case {case}: witness not unsafe");
        }
        (v, _) if is_time_limit(v) => return 1,
        _ => panic!(
            "case {case} ({method:?} bounds): MILP says {verdict:?}, enumeration finds {truth:?}\nnet: {}\nspec: {spec:?}\nstats: {stats:?}",
            quiver::net::format::to_json(net)
        ),
    }
    assert!(stats.variables >= net.input_len(), "case {case}: the model must contain the inputs");
    0
}

#[test]
fn random_networks_match_enumeration() {
    let cases: usize = std::env::var("QUIVER_MILP_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_0003);
    let cfg = testgen::GenConfig::default();
    let (mut timeouts, mut falsified, mut verified) = (0, 0, 0);
    for case in 0..cases {
        let net = testgen::network(&mut rng, &cfg);
        let input = testgen::input_box(&mut rng, &net, 200);
        let spec = testgen::spec(&mut rng, &net, input);
        timeouts += check_against_enumeration(&net, &spec, Method::Interval, case);
        // Every third case again with bounds over the whole input type (large big-M constants).
        if case % 3 == 0 {
            timeouts += check_against_enumeration(&net, &spec, Method::None, case);
        }
        if testgen::enumerate_violation(&net, &spec).is_some() {
            falsified += 1;
        } else {
            verified += 1;
        }
    }
    eprintln!("{cases} cases: {verified} safe, {falsified} unsafe, {timeouts} time-limit unknowns");
    assert_eq!(timeouts, 0, "tiny instances must not time out");
    assert!(falsified > cases / 10 && verified > cases / 10, "the generator must produce both outcomes");
}

/// Every third input value of `net`'s int8 range pinned down by the MILP backend.
fn exact_milp(net: &Network) -> usize {
    exact::check_exact_scalar(&Milp, net, 3)
}

#[test]
fn every_rescale_kind_is_exact_on_scalars() {
    let mut solves = 0;
    let i8t = QType::INT8;
    for rounding in Rounding::ALL {
        // Many ties: acc/4 and 3·acc/8.
        solves += exact_milp(&scalar_net(1, 0, Rescale::Dyadic { m: 1, shift: 2, rounding }, 0, i8t, false));
        solves += exact_milp(&scalar_net(5, -3, Rescale::Dyadic { m: 3, shift: 3, rounding }, 3, i8t, true));
        // Odd divisor via a large shift and multiplier.
        solves += exact_milp(&scalar_net(
            7,
            11,
            Rescale::Dyadic { m: 1_234_567, shift: 26, rounding },
            -5,
            QType::new(4, true).expect("int4"),
            false,
        ));
        // Float32: exactly representable (m = 0.25, bias 0.5) and general (m = 0.3, bias 0.1).
        solves += exact_milp(&scalar_net(1, 0, Rescale::Float32 { m: 0.25, bias: 0.5, rounding }, 0, i8t, false));
        let m = f64::from(0.3f32);
        let bias = f64::from(0.1f32);
        solves += exact_milp(&scalar_net(3, 1, Rescale::Float32 { m, bias, rounding }, 2, i8t, false));
    }
    // Q31: srdhm then a rounding right shift, and a left shift.
    solves += exact_milp(&scalar_net(9, 0, Rescale::Q31 { m0: 1_500_000_000, shift: -3 }, 0, i8t, false));
    solves += exact_milp(&scalar_net(1, 0, Rescale::Q31 { m0: 1 << 30, shift: 0 }, 0, i8t, false));
    solves += exact_milp(&scalar_net(3, 0, Rescale::Q31 { m0: 1_717_986_918, shift: 1 }, 0, i8t, false));
    assert!(solves > 1000, "{solves} scalar solves");
}

fn bundled_label(i: usize) -> (Network, Vec<i64>, usize) {
    let net = quiver::bundled::model();
    let v = quiver::bundled::vectors();
    let x = v.inputs[i].clone();
    let label = v.labels.get(i).copied().unwrap_or_else(|| quiver::net::exec::argmax(&v.outputs[i]));
    (net, x, label)
}

#[test]
fn bundled_model_robustness_is_decided() {
    let mut decided = 0;
    for i in 0..2 {
        let (net, x, label) = bundled_label(i);
        for eps in [1, 2, 4] {
            let spec = robustness(&net, &x, Radius::Integer(eps), label, TieRule::AnyTieUnsafe).expect("valid spec");
            let analysis = bounds::analyze(&net, &spec, Method::Interval);
            let query = Query { net: &net, spec: &spec, bounds: &analysis.bounds };
            let limit = BackendOptions::new(Some(Duration::from_secs(20)), 1);
            let (verdict, stats) = Milp.solve(&query, &limit);
            eprintln!("input {i} ε = {eps}: {} ({stats:?})", verdict.name());
            match verdict {
                Verdict::Verified => decided += 1,
                Verdict::Falsified { witness } => {
                    assert!(spec.input.contains(witness.input()));
                    decided += 1;
                }
                // Known limitation (see the issue note): on this per-channel float32 model the MILP
                // hits its time limit from ε = 2 on, although the encoding has few binaries.
                // ε = 1 must be decided; larger radii may time out but must never be wrong.
                Verdict::Unknown { reason } if eps > 1 => eprintln!("input {i} ε = {eps}: unknown: {reason}"),
                Verdict::Unknown { reason } => panic!("input {i} ε = {eps}: unknown: {reason}"),
            }
        }
    }
    assert!(decided >= 2, "only {decided} of 6 decided");
}

/// A box over a few pixels of a bundled input (the rest fixed): small enough to enumerate.
fn pixel_box(x: &[i64], pixels: &[(usize, i64)]) -> InputBox {
    let (mut lo, mut hi) = (x.to_vec(), x.to_vec());
    for &(p, eps) in pixels {
        lo[p] = (x[p] - eps).max(0);
        hi[p] = (x[p] + eps).min(255);
    }
    InputBox { lo, hi }
}

#[test]
fn bundled_model_matches_enumeration_on_pixel_boxes() {
    let (mut safe, mut unsafe_) = (0, 0);
    for i in 0..3 {
        let (net, x, label) = bundled_label(i);
        // The pixels whose first-layer weights are largest in magnitude for the label path are a
        // natural target; any choice works for the differential check. Use central pixels.
        let sets: [&[(usize, i64)]; 3] = [
            &[(14 * 28 + 14, 255)],
            &[(13 * 28 + 13, 8), (15 * 28 + 15, 8)],
            &[(12 * 28 + 14, 255), (16 * 28 + 14, 255)],
        ];
        for px in sets {
            for tie in [TieRule::AnyTieUnsafe, TieRule::FirstIndex] {
                let input = pixel_box(&x, px);
                let unsafe_dnf = quiver::spec::robust::not_label_dnf(net.output_len(), label, tie);
                let spec = Spec { input, unsafe_dnf, description: "pixels".into() };
                let analysis = bounds::analyze(&net, &spec, Method::Interval);
                let query = Query { net: &net, spec: &spec, bounds: &analysis.bounds };
                let threads = if tie == TieRule::FirstIndex { 2 } else { 1 };
                let (verdict, _) = Milp.solve(&query, &opts(threads));
                let truth = testgen::enumerate_violation(&net, &spec);
                match (&verdict, &truth) {
                    (Verdict::Verified, None) => safe += 1,
                    (Verdict::Falsified { .. }, Some(_)) => unsafe_ += 1,
                    _ => panic!("input {i} pixels {px:?}: {verdict:?} vs enumeration {truth:?}"),
                }
            }
        }
    }
    eprintln!("pixel boxes: {safe} safe, {unsafe_} unsafe");
    assert_eq!(safe + unsafe_, 18);
}

fn outcome_kind(o: &highs::Outcome) -> &'static str {
    match o {
        highs::Outcome::Infeasible => "infeasible",
        highs::Outcome::Solution(_) => "feasible",
        highs::Outcome::TimeLimit | highs::Outcome::Interrupted | highs::Outcome::Other(_) => "other",
    }
}

#[test]
fn exports_reread_by_highs_give_the_same_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0xe4_0003);
    let cfg = testgen::GenConfig::default();
    let mut kinds = std::collections::BTreeMap::new();
    let queries: Vec<(Network, Spec)> = (0..60)
        .map(|_| {
            let net = testgen::network(&mut rng, &cfg);
            let input = testgen::input_box(&mut rng, &net, 200);
            let spec = testgen::spec(&mut rng, &net, input);
            (net, spec)
        })
        .collect();
    for (k, (net, spec)) in queries.iter().enumerate() {
        let analysis = bounds::analyze(net, spec, Method::Interval);
        let query = Query { net, spec, bounds: &analysis.bounds };
        let enc = encode(&query, &EncodeOptions::default()).expect("encodes");
        let direct = highs::solve(&enc.model, Some(Instant::now() + Duration::from_secs(60)), 1, None).outcome;
        let (verdict, _) = Milp.solve(&query, &opts(1));
        if enc.bands.is_empty() {
            // Without bands the model is exact: feasible ⟺ falsified.
            let want = if matches!(verdict, Verdict::Verified) { "infeasible" } else { "feasible" };
            assert_eq!(outcome_kind(&direct), want, "query {k}: direct solve vs verdict {verdict:?}");
        }
        for (ext, text) in [("lp", export_lp(&query).expect("lp")), ("mps", export_mps(&query).expect("mps"))] {
            let path = dir.path().join(format!("q{k}.{ext}"));
            std::fs::write(&path, &text).expect("write");
            let reread = highs::solve_file(&path, Some(60.0));
            assert_eq!(
                outcome_kind(&reread),
                outcome_kind(&direct),
                "query {k}: {ext} file answers {reread:?}, the in-memory model {direct:?}\n{}",
                &text[..text.len().min(4000)]
            );
            if let highs::Outcome::Solution(cols) = &reread {
                assert_eq!(cols.len(), enc.model.vars.len(), "query {k}: {ext} column count");
            }
            *kinds.entry(outcome_kind(&direct)).or_insert(0) += 1;
        }
    }
    eprintln!("export round trips: {kinds:?}");
    assert!(kinds.get("infeasible").copied().unwrap_or(0) > 0 && kinds.get("feasible").copied().unwrap_or(0) > 0);
}

#[test]
fn registered_by_name() {
    assert!(quiver::backend::available().contains(&"milp"));
    let b = quiver::backend::by_name("milp").expect("milp backend");
    assert_eq!(b.name(), "milp");
    let _ = milp::MAX_ROUNDS;
}

#[test]
fn a_set_stop_flag_interrupts_highs() {
    use std::sync::atomic::AtomicBool;
    let model = market_split(4, 40, 7);
    // Without the flag the instance outlasts a short time limit (so the check below means
    // something) ...
    let free = highs::solve(&model, Some(Instant::now() + Duration::from_secs(1)), 1, None).outcome;
    assert_eq!(free, highs::Outcome::TimeLimit, "instance too easy");
    // ... with the flag set while it runs, HiGHS stops at its next interrupt check, long
    // before 30 s.
    let stop = AtomicBool::new(false);
    let t = std::time::Instant::now();
    let run = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        highs::solve(&model, Some(Instant::now() + Duration::from_secs(30)), 1, Some(&stop)).outcome
    });
    assert_eq!(run, highs::Outcome::Interrupted);
    assert!(t.elapsed() < Duration::from_secs(10), "interrupt took {:?}", t.elapsed());
    // A flag set before the run, or a deadline already passed: HiGHS does not start.
    assert_eq!(highs::solve(&model, None, 1, Some(&stop)).outcome, highs::Outcome::Interrupted);
    assert_eq!(highs::solve(&model, Some(Instant::now()), 1, None).outcome, highs::Outcome::TimeLimit);
}

/// `solve_within` answers by its deadline (plus the grace) even if HiGHS would run on: here
/// HiGHS's own limit stops it, and the answer is a time limit either way.
#[test]
fn solve_within_answers_by_the_deadline() {
    use std::sync::atomic::AtomicBool;
    let model = market_split(4, 40, 7);
    let stop = AtomicBool::new(false);
    let t = std::time::Instant::now();
    let run = highs::solve_within(&model, Some(t + Duration::from_millis(500)), 1, &stop, Duration::from_millis(200));
    assert_eq!(run.outcome, highs::Outcome::TimeLimit);
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    // A stop flag set from outside: interrupted.
    let stop = AtomicBool::new(true);
    let run = highs::solve_within(
        &model,
        Some(Instant::now() + Duration::from_secs(30)),
        1,
        &stop,
        Duration::from_millis(200),
    );
    assert_eq!(run.outcome, highs::Outcome::Interrupted);
}
