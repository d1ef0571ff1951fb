//! `quiver::props::radius` against enumeration on tiny random networks, against a per-ε verify
//! loop, and the `quiver radius` command end to end.

mod common;
use common::{code, quiver, ERROR, UNKNOWN, VERIFIED};
use quiver::bounds::interval::type_box;
use quiver::budget::Budget;
use quiver::net::{exec, Network};
use quiver::props::radius::{radius, RadiusError, RadiusOptions, RadiusQuery, RadiusReport, Strategy, Unit};
use quiver::spec::robust::TieRule;
use quiver::testgen::{self, GenConfig};
use quiver::verdict::Witness;
use quiver::verify::{self, Options, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tiny networks whose whole input range can be enumerated.
fn instances(seed: u64, wanted: usize) -> Vec<(Network, Vec<i64>, usize, TieRule)> {
    let cfg = GenConfig { images: false, max_dense: 2, min_bits: 2, max_bits: 5, graphs: 0.3 };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    while out.len() < wanted {
        let net = testgen::network(&mut rng, &cfg);
        if type_box(&net).volume() > 5000 {
            continue;
        }
        let t = net.input_info().quant.dtype;
        let center: Vec<i64> = (0..net.input_len()).map(|_| rng.gen_range(t.min()..=t.max())).collect();
        let Ok(y) = exec::run(&net, &center) else { continue };
        // Mostly the predicted class; sometimes another (radius -1).
        let label = if rng.gen_bool(0.85) { exec::argmax(&y) } else { rng.gen_range(0..net.output_len()) };
        let tie = if rng.gen_bool(0.5) { TieRule::AnyTieUnsafe } else { TieRule::FirstIndex };
        out.push((net, center, label, tie));
    }
    out
}

/// Ground truth: the smallest level with a violating point in its box, by enumeration (levels
/// 0..=`max`), or `None`.
fn first_violation(q: &RadiusQuery, max: i64) -> Option<i64> {
    (0..=max).find(|&e| testgen::enumerate_violation(q.net, &q.spec_at(e).expect("spec")).is_some())
}

fn options(strategy: Strategy, backend: &str) -> RadiusOptions {
    let verify = Options { backends: vec![backend.to_string()], ..Options::default() };
    RadiusOptions { verify, max_eps: None, strategy }
}

/// A decided report must match the truth, and its witness must replay at `upper`.
fn check_decided(q: &RadiusQuery, r: &RadiusReport, truth: Option<i64>, what: &str) {
    assert!(r.disagreement.is_none(), "{what}: {:?}", r.disagreement);
    match truth {
        Some(t) => {
            assert_eq!(r.radius, Some(t - 1), "{what}: {r:?}");
            assert_eq!(r.upper, Some(t), "{what}");
            let w = r.witness.as_ref().expect("witness at upper");
            let spec = q.spec_at(t).expect("spec");
            assert!(Witness::replay(q.net, &spec, w.input()).is_some(), "{what}: witness does not replay at {t}");
            assert!(!r.unbounded);
        }
        None => {
            assert!(r.unbounded, "{what}: {r:?}");
            assert_eq!(r.radius, None);
            assert_eq!(r.lower, r.saturation_eps, "{what}");
        }
    }
    assert!(r.reason.is_none(), "{what}: {:?}", r.reason);
}

#[test]
fn integer_radius_equals_the_first_enumerated_violation_minus_one() {
    let mut seen_minus_one = 0;
    let mut seen_positive = 0;
    for (k, (net, center, label, tie)) in instances(19, 40).into_iter().enumerate() {
        let q = RadiusQuery { net: &net, center: &center, label, tie, unit: Unit::Integer };
        let r = radius(&q, &options(Strategy::Search, "milp"), &Budget::unlimited()).expect("radius");
        let truth = first_violation(&q, r.saturation_eps);
        check_decided(&q, &r, truth, &format!("instance {k}"));
        seen_minus_one += usize::from(truth == Some(0));
        seen_positive += usize::from(truth.is_some_and(|t| t > 1));
    }
    // The instances exercise both the degenerate and the interesting cases.
    assert!(seen_minus_one > 0 && seen_positive > 5, "{seen_minus_one} {seen_positive}");
}

#[test]
fn real_step_radius_and_the_smt_backend_agree_with_enumeration() {
    for (k, (net, center, label, tie)) in instances(7, 15).into_iter().enumerate() {
        let step = net.input().scale * 0.75;
        let q = RadiusQuery { net: &net, center: &center, label, tie, unit: Unit::Real(step) };
        let r = radius(&q, &options(Strategy::Search, "smt-bv"), &Budget::unlimited()).expect("radius");
        let truth = first_violation(&q, r.saturation_eps);
        check_decided(&q, &r, truth, &format!("instance {k}"));
    }
}

#[test]
fn search_agrees_with_the_linear_loop_and_a_per_eps_verify_loop() {
    for (k, (net, center, label, tie)) in instances(3, 12).into_iter().enumerate() {
        let q = RadiusQuery { net: &net, center: &center, label, tie, unit: Unit::Integer };
        let s = radius(&q, &options(Strategy::Search, "milp"), &Budget::unlimited()).expect("search");
        let l = radius(&q, &options(Strategy::Linear, "milp"), &Budget::unlimited()).expect("linear");
        assert_eq!((s.radius, s.unbounded), (l.radius, l.unbounded), "instance {k}");
        // The loop a user writes: `verify` at ε = 0, 1, … until the first `falsified`.
        let opts = Options { backends: vec!["milp".into()], ..Options::default() };
        let mut first = None;
        for e in 0..=s.saturation_eps {
            match verify::verify(&net, &q.spec_at(e).expect("spec"), &opts).verdict {
                Verdict::Falsified { .. } => {
                    first = Some(e);
                    break;
                }
                Verdict::Verified => {}
                Verdict::Unknown { reason } => panic!("instance {k}: ε = {e} undecided: {reason}"),
            }
        }
        assert_eq!(s.radius, first.map(|f| f - 1), "instance {k}");
        // The search reuses answers: never more pipeline runs than the loop.
        let runs = |r: &RadiusReport| r.runs.iter().filter(|x| x.method == "pipeline").count();
        assert!(runs(&s) <= runs(&l).max(1) + 8, "instance {k}: {} vs {}", runs(&s), runs(&l));
    }
}

#[test]
fn undecided_levels_give_an_honest_interval() {
    // Without a complete backend, and without the search, some levels stay open: the interval
    // must still contain the truth, and no radius is claimed unless it is decided.
    let mut open = 0;
    for (k, (net, center, label, tie)) in instances(11, 30).into_iter().enumerate() {
        let q = RadiusQuery { net: &net, center: &center, label, tie, unit: Unit::Integer };
        let mut o = options(Strategy::Search, "milp");
        o.verify.backends.clear();
        o.verify.search = None;
        let r = radius(&q, &o, &Budget::unlimited()).expect("radius");
        let truth = first_violation(&q, r.saturation_eps);
        let truth_radius = truth.map_or(r.saturation_eps, |t| t - 1);
        assert!(r.lower <= truth_radius, "instance {k}: lower {} > {truth_radius}", r.lower);
        if let Some(u) = r.upper {
            assert!(truth.is_some_and(|t| t <= u), "instance {k}: upper {u}, truth {truth:?}");
        }
        match r.radius {
            Some(v) => assert_eq!(Some(v + 1), truth, "instance {k}"),
            None if !r.unbounded => {
                open += 1;
                assert!(r.reason.is_some(), "instance {k}");
            }
            None => assert_eq!(truth, None),
        }
    }
    assert!(open > 0, "no instance left a level open: the test does not exercise intervals");
}

#[test]
fn max_eps_and_the_overall_budget_bound_the_search() {
    let (net, center, label, tie) = instances(5, 40)
        .into_iter()
        .find(|(net, c, l, t)| {
            let q = RadiusQuery { net, center: c, label: *l, tie: *t, unit: Unit::Integer };
            first_violation(&q, 1).is_none()
        })
        .expect("an instance robust at ε = 1");
    let q = RadiusQuery { net: &net, center: &center, label, tie, unit: Unit::Integer };
    let mut o = options(Strategy::Search, "milp");
    o.max_eps = Some(1);
    let r = radius(&q, &o, &Budget::unlimited()).expect("radius");
    assert_eq!((r.radius, r.lower, r.upper, r.max_eps), (None, 1, None, 1));
    assert_eq!(r.reason.as_ref().map(|u| u.kind()), Some("incomplete"));
    // A stopped budget: nothing runs, nothing is claimed.
    let b = Budget::unlimited();
    b.stop();
    let r = radius(&q, &options(Strategy::Search, "milp"), &b).expect("radius");
    assert_eq!((r.radius, r.lower, r.upper), (None, -1, None));
    assert_eq!(r.reason.as_ref().map(|u| u.kind()), Some("interrupted"));
}

#[test]
fn bad_queries_are_typed_errors() {
    let (net, center, _, tie) = instances(1, 1).remove(0);
    let q = |unit, label| RadiusQuery { net: &net, center: &center, label, tie, unit };
    let o = options(Strategy::Search, "milp");
    let b = Budget::unlimited();
    assert!(matches!(radius(&q(Unit::Real(0.0), 0), &o, &b), Err(RadiusError::Step(_))));
    assert!(matches!(radius(&q(Unit::Real(f64::NAN), 0), &o, &b), Err(RadiusError::Step(_))));
    assert!(matches!(radius(&q(Unit::Integer, 99), &o, &b), Err(RadiusError::Spec(_))));
    let mut neg = o.clone();
    neg.max_eps = Some(-1);
    assert!(matches!(radius(&q(Unit::Integer, 0), &neg, &b), Err(RadiusError::MaxEps(-1))));
}

#[test]
fn cli_radius_json_and_exit_codes() {
    let o = quiver(&[
        "radius",
        "@bundled",
        "--dataset",
        "@bundled",
        "--index",
        "3",
        "--max-eps",
        "2",
        "--backend",
        "none",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    for key in ["radius", "lower", "upper", "runs", "unbounded", "seconds"] {
        assert!(v.get(key).is_some(), "missing `{key}`: {v}");
    }
    let runs = v["runs"].as_array().expect("runs");
    assert!(runs.iter().all(|r| r["eps"].is_i64() && r["seconds"].is_f64() && r["verdict"].is_string()));
    let decided = v["radius"].is_i64();
    assert_eq!(code(&o), if decided { VERIFIED } else { UNKNOWN }, "{v}");
    if !decided {
        assert!(v["reason"]["kind"].is_string(), "{v}");
    }
    let o = quiver(&["radius", "@bundled", "--dataset", "@bundled", "--index", "0", "--eps-real-step=-1"]);
    assert_eq!(code(&o), ERROR);
    assert!(String::from_utf8_lossy(&o.stderr).contains("real step"));
    let o = quiver(&["radius", "@bundled", "--dataset", "@bundled", "--index", "0", "--backend", "nope"]);
    assert_eq!(code(&o), ERROR);
}
