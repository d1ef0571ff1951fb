//! The Z3 backends (`smt-bv`, `smt-lia`) against exhaustive enumeration, the exported SMT-LIB2
//! against the `z3` binary, and the rescale circuits against reference values.
//!
//! `QUIVER_SMT_CASES=N` sets the number of random instances (default 250).

use quiver::backend::smt::z3::{eval_rescale, eval_rounding_divide_by_pot, eval_srdhm};
use quiver::backend::smt::{export_smt2, Logic, SmtBackend};
use quiver::backend::{Backend, BackendOptions, Query};
use quiver::bounds::{analyze, Method};
use quiver::net::requant::{rounding_divide_by_pot, srdhm};
use quiver::net::{Layer, Network, Rescale, Rounding};
use quiver::testgen;
use quiver::verify::Verdict;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

fn cases() -> usize {
    std::env::var("QUIVER_SMT_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(250)
}

fn opts() -> BackendOptions {
    // Generous: these instances solve in milliseconds; a limit only guards against hangs.
    BackendOptions::new(Some(Duration::from_secs(120)), 1)
}

fn rescale_kinds(net: &Network) -> Vec<&'static str> {
    let mut v = Vec::new();
    for l in net.layers() {
        let rq = match l {
            Layer::Dense(d) => &d.requant,
            Layer::Conv2d(c) => &c.requant,
            _ => continue,
        };
        for r in &rq.rescale {
            v.push(match r {
                Rescale::Dyadic { .. } => "dyadic",
                Rescale::Float32 { .. } => "float32",
                Rescale::Q31 { .. } => "q31",
            });
        }
    }
    v
}

#[test]
fn verdicts_equal_enumeration() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_5317);
    let n = cases();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for case in 0..n {
        let net = testgen::network(&mut rng, &testgen::GenConfig::default());
        let b = testgen::input_box(&mut rng, &net, 200);
        let spec = testgen::spec(&mut rng, &net, b);
        let bounds = analyze(&net, &spec, Method::Interval).bounds;
        let truth = testgen::enumerate_violation(&net, &spec);
        let query = Query { net: &net, spec: &spec, bounds: &bounds };
        for logic in [Logic::Bv, Logic::Lia] {
            let mut backend = SmtBackend::new(logic);
            // Blocking one spurious point per round terminates on a finite box.
            backend.max_candidates = usize::try_from(spec.input.volume()).unwrap_or(usize::MAX);
            let (v, stats) = backend.solve(&query, &opts());
            let ok = match (&v, &truth) {
                (Verdict::Verified, None) => true,
                (Verdict::Falsified { witness }, Some(_)) => spec.input.contains(witness.input()),
                _ => false,
            };
            assert!(
                ok,
                "case {case} {logic:?}: backend says {v:?}, enumeration says {truth:?}\nnet = {net:#?}\nspec = {spec:?}"
            );
            *tally.entry(format!("{logic:?} {}", v.name())).or_default() += 1;
            if case % 4 == 0 {
                // One check per disjunct: the same verdicts.
                backend.per_disjunct = true;
                let (v, _) = backend.solve(&query, &opts());
                let ok = match (&v, &truth) {
                    (Verdict::Verified, None) => true,
                    (Verdict::Falsified { witness }, Some(_)) => spec.input.contains(witness.input()),
                    _ => false,
                };
                assert!(ok, "case {case} {logic:?} per disjunct: backend says {v:?}, enumeration says {truth:?}");
                *tally.entry(format!("{logic:?} per-disjunct {}", v.name())).or_default() += 1;
            }
            if stats.spurious_candidates > 0 {
                *tally.entry("lia spurious rounds".into()).or_default() += stats.spurious_candidates;
            }
        }
        for k in rescale_kinds(&net) {
            *tally.entry(k.to_string()).or_default() += 1;
        }
        for l in net.layers() {
            *tally.entry(l.kind().to_string()).or_default() += 1;
        }
    }
    eprintln!("{n} instances: {tally:?}");
    // The suite must exercise both answers and every construct.
    for k in ["Bv verified", "Bv falsified", "Lia verified", "Lia falsified", "dyadic", "float32", "q31"] {
        assert!(tally.get(k).copied().unwrap_or(0) > 0 || n < 50, "never saw {k}: {tally:?}");
    }
    for k in ["dense", "conv2d", "max_pool2d", "avg_pool2d", "relu", "flatten"] {
        assert!(tally.get(k).copied().unwrap_or(0) > 0 || n < 50, "never saw layer {k}");
    }
}

/// The `z3` binary on the exported file gives the backend's answer.
#[test]
fn export_matches_backend() {
    let z3 = std::env::var("QUIVER_Z3").unwrap_or_else(|_| "z3".into());
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut compared = 0;
    for case in 0..40 {
        let net = testgen::network(&mut rng, &testgen::GenConfig::default());
        let b = testgen::input_box(&mut rng, &net, 200);
        let spec = testgen::spec(&mut rng, &net, b);
        let bounds = analyze(&net, &spec, Method::Interval).bounds;
        let query = Query { net: &net, spec: &spec, bounds: &bounds };
        let exact_float = rescale_kinds(&net).contains(&"float32");
        for logic in [Logic::Bv, Logic::Lia] {
            let text = export_smt2(&query, logic).unwrap();
            assert!(text.contains("(check-sat)") && text.contains("(set-logic"));
            let path = dir.path().join(format!("q{case}_{logic:?}.smt2"));
            std::fs::write(&path, &text).unwrap();
            let out = std::process::Command::new(&z3)
                .arg("-smt2")
                .arg("-T:60")
                .arg(&path)
                .output()
                .unwrap_or_else(|e| panic!("cannot run `{z3}` (install Debian's z3 package): {e}"));
            let stdout = String::from_utf8_lossy(&out.stdout);
            let answer = stdout.lines().next().unwrap_or("").trim().to_string();
            let (v, _) = SmtBackend::new(logic).solve(&query, &opts());
            let backend_sat = match v {
                Verdict::Verified => false,
                Verdict::Falsified { .. } => true,
                Verdict::Unknown { ref reason } => {
                    // Only the over-approximate float band may leave a query open.
                    assert!(logic == Logic::Lia && exact_float, "case {case}: unknown: {reason}");
                    continue;
                }
            };
            if logic == Logic::Lia && exact_float {
                // The band over-approximates: unsat must agree; sat may be spurious.
                if answer == "unsat" {
                    assert!(!backend_sat, "case {case}");
                }
            } else {
                assert_eq!(answer, if backend_sat { "sat" } else { "unsat" }, "case {case} {logic:?}:\n{stdout}");
            }
            compared += 1;
        }
    }
    assert!(compared >= 60, "only {compared} comparisons");
}

#[test]
fn time_limit_zero_gives_unknown() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let net = testgen::network(&mut rng, &testgen::GenConfig::default());
    let b = testgen::input_box(&mut rng, &net, 200);
    let spec = testgen::spec(&mut rng, &net, b);
    let bounds = analyze(&net, &spec, Method::Interval).bounds;
    let query = Query { net: &net, spec: &spec, bounds: &bounds };
    let o = BackendOptions::new(Some(Duration::ZERO), 1);
    let (v, _) = SmtBackend::new(Logic::Bv).solve(&query, &o);
    match v {
        Verdict::Unknown { reason } => assert_eq!(reason.kind(), "time_limit", "{reason}"),
        other => panic!("expected unknown, got {other:?}"),
    }
}

#[test]
fn registered_by_name() {
    for name in ["smt-bv", "smt-lia"] {
        assert!(quiver::backend::available().contains(&name));
        assert_eq!(quiver::backend::by_name(name).map(|b| b.name()), Some(name));
    }
}

/// gemmlowp's published examples, through the SMT circuits (both logics).
#[test]
fn q31_reference_values() {
    for logic in [Logic::Bv, Logic::Lia] {
        assert_eq!(eval_srdhm(1 << 30, 1 << 30, logic), Ok(1 << 29));
        assert_eq!(eval_srdhm(i32::MIN, i32::MIN, logic), Ok(i32::MAX), "saturation");
        assert_eq!(eval_srdhm(i32::MIN, i32::MAX, logic), Ok(-i32::MAX));
        assert_eq!(eval_srdhm(-(1 << 30), 1 << 30, logic), Ok(-(1 << 29)));
        assert_eq!(eval_srdhm(1, 1 << 30, logic), Ok(1)); // 0.5 rounds up (nudge)
        assert_eq!(eval_srdhm(-1, 1 << 30, logic), Ok(0)); // −0.5 truncates towards zero after the nudge
                                                           // RoundingDivideByPOT: ties away from zero.
        for (x, e, want) in [(5, 1, 3), (-5, 1, -3), (6, 2, 2), (-6, 2, -2), (-7, 0, -7), (3, 1, 2), (-3, 1, -2)] {
            assert_eq!(eval_rounding_divide_by_pot(x, e, logic), Ok(want), "rdbpot({x}, {e})");
        }
        assert_eq!(eval_rounding_divide_by_pot(i32::MIN, 31, logic), Ok(-1));
        assert_eq!(eval_rounding_divide_by_pot(i32::MAX, 31, logic), Ok(1));
    }
    // And against the Rust reference on random operands.
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    for _ in 0..40 {
        let a: i32 = rng.gen();
        let b: i32 = rng.gen_range(1..=i32::MAX);
        let x: i32 = rng.gen();
        let e = rng.gen_range(0..=31);
        for logic in [Logic::Bv, Logic::Lia] {
            assert_eq!(eval_srdhm(a, b, logic), Ok(srdhm(a, b)), "srdhm({a}, {b})");
            assert_eq!(eval_rounding_divide_by_pot(x, e, logic), Ok(rounding_divide_by_pot(x, e)), "rdbpot({x}, {e})");
        }
    }
}

/// Dyadic and Q31 rescales: the circuit equals `Rescale::apply` on ties and their neighbours.
#[test]
fn integer_rescales_match_apply() {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let mut checked = 0;
    for _ in 0..30 {
        let shift = rng.gen_range(0..=12u32);
        let m = rng.gen_range(1..=300i64);
        let rounding = Rounding::ALL[rng.gen_range(0..3)];
        let r = Rescale::Dyadic { m, shift, rounding };
        let range = (-5000i64, 5000i64);
        // Accumulators whose m·acc is a tie (odd multiple of 2^(shift-1)) when possible, and random ones.
        let mut accs: Vec<i64> = (0..3).map(|_| rng.gen_range(range.0..=range.1)).collect();
        if shift > 0 {
            for k in [-3i64, -1, 1, 5] {
                let half = 1i64 << (shift - 1);
                if (k * half) % m == 0 {
                    accs.push(k * half / m);
                }
            }
            if m % 2 == 1 {
                // m·acc ≡ 2^(shift-1) mod 2^shift has a solution; try acc = 2^(shift-1)·odd.
                accs.push(1i64 << (shift - 1));
                accs.push(-(3i64 << (shift - 1)));
            }
        }
        for acc in accs.into_iter().filter(|a| (range.0..=range.1).contains(a)) {
            for logic in [Logic::Bv, Logic::Lia] {
                assert_eq!(eval_rescale(&r, acc, range, logic), Ok(r.apply(acc)), "{r:?} acc={acc} {logic:?}");
                checked += 1;
            }
        }
    }
    for _ in 0..20 {
        let m0 = rng.gen_range(1 << 30..=i32::MAX);
        let shift = rng.gen_range(-31..=4);
        let r = Rescale::Q31 { m0, shift };
        let lim = (i64::from(i32::MAX) >> shift.max(0)) - 1;
        let acc = rng.gen_range(-lim..=lim);
        for logic in [Logic::Bv, Logic::Lia] {
            assert_eq!(eval_rescale(&r, acc, (-lim, lim), logic), Ok(r.apply(acc)), "{r:?} acc={acc}");
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
}

/// Float32 rescales in QF_BV (Z3's floating-point theory) equal `Rescale::apply` on accumulators
/// chosen so that `(acc + bias)·m` lies within an ulp or so of a half-integer (or exactly on it).
#[test]
fn float32_near_ties_match_apply() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xf1a7);
    let mut checked = 0;
    let mut exact_ties = 0;
    for round in 0..12 {
        let m: f32 = if round < 3 { [0.5, 0.25, 0.125][round] } else { rng.gen_range(0.001f32..0.9) };
        let bias: f32 = if round % 2 == 0 { 0.0 } else { rng.gen_range(-8.0f32..8.0) };
        let range = (-100_000i64, 100_000i64);
        let mut picked = Vec::new();
        for k in -60i64..60 {
            let target = (k as f64 + 0.5) / f64::from(m) - f64::from(bias);
            let c = target.round() as i64;
            for acc in c - 2..=c + 2 {
                let x = (acc as f32 + bias) * m;
                let frac = f64::from(x) - f64::from(x).floor();
                if (frac - 0.5).abs() <= f64::from(f32::EPSILON) * f64::from(x.abs().max(1.0)) {
                    picked.push(acc);
                    exact_ties += usize::from(frac == 0.5);
                }
            }
        }
        picked.truncate(20);
        picked.push(0);
        picked.push(-1);
        for acc in picked {
            for rounding in Rounding::ALL {
                let r = Rescale::Float32 { m: f64::from(m), bias: f64::from(bias), rounding };
                assert_eq!(eval_rescale(&r, acc, range, Logic::Bv), Ok(r.apply(acc)), "{r:?} acc={acc}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 120 && exact_ties >= 10, "checked {checked}, exact ties {exact_ties}");
    // QF_LIA only over-approximates float32: it refuses to evaluate the band as a function.
    let r = Rescale::Float32 { m: 0.5, bias: 0.0, rounding: Rounding::HalfEven };
    assert!(eval_rescale(&r, 3, (-10, 10), Logic::Lia).is_err());
}

/// The encoding takes its value ranges (and bit widths) from the query's bounds: symbolic bounds
/// give a strictly smaller query than none on the bundled model, and both are answered alike.
#[test]
fn shared_bounds_shrink_the_encoding() {
    let net = quiver::bundled::model();
    let x = quiver::bundled::vectors().inputs[0].clone();
    let y = quiver::net::exec::run(&net, &x).expect("runs");
    let label = quiver::net::exec::argmax(&y);
    let spec = quiver::spec::robust::robustness(
        &net,
        &x,
        quiver::spec::robust::Radius::Integer(1),
        label,
        quiver::spec::robust::TieRule::AnyTieUnsafe,
    )
    .expect("spec");
    let mut sizes = Vec::new();
    for method in [Method::None, Method::Symbolic] {
        let bounds = analyze(&net, &spec, method).bounds;
        let query = Query { net: &net, spec: &spec, bounds: &bounds };
        let text = export_smt2(&query, Logic::Bv).expect("encodes");
        sizes.push(text.len());
    }
    assert!(sizes[1] * 10 < sizes[0] * 9, "symbolic bounds should shrink the query by > 10 %: {sizes:?}");
}
