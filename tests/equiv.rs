//! `quiver::props::equiv` (δ-equivalence of two networks): the product network against running
//! the networks separately, every backend against enumeration on tiny random pairs, identical
//! networks, the refusals, and the `quiver equiv` command end to end.

mod common;
use common::{code, quiver, ERROR, FALSIFIED, VERIFIED};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Signed;
use quiver::bounds::Method;
use quiver::budget::Budget;
use quiver::net::ir::Layer;
use quiver::net::{exec, InputQuantize, Network, Node, Quant, Rounding};
use quiver::props::equiv::{equiv, product, EquivError, EquivQuery, EquivReport, Relation};
use quiver::spec::robust::TieRule;
use quiver::spec::InputBox;
use quiver::testgen::{self, GenConfig};
use quiver::verify::{Options, Verdict};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn cfg() -> GenConfig {
    GenConfig { images: true, max_dense: 2, min_bits: 2, max_bits: 5, graphs: 0.3 }
}

/// `net` with its operators replaced by `layers` (same input, node names and edges).
fn rebuild(net: &Network, layers: Vec<Layer>) -> Option<Network> {
    let nodes = layers
        .into_iter()
        .enumerate()
        .map(|(i, op)| Node { name: net.node_name(i).to_string(), op, inputs: net.node_inputs(i).to_vec() })
        .collect();
    Network::graph(format!("{}-b", net.name()), net.input().clone(), nodes).ok()
}

/// A small change of one Dense/Conv node of `a`: a weight or bias step, another rounding mode,
/// or another output scale or zero point (so that some pairs are equivalent and some not).
fn mutate(rng: &mut ChaCha8Rng, a: &Network) -> Option<Network> {
    let mut layers = a.layers().to_vec();
    let affine: Vec<usize> =
        (0..layers.len()).filter(|&i| matches!(layers[i], Layer::Dense(_) | Layer::Conv2d(_))).collect();
    let &i = affine.choose(rng)?;
    let kind = rng.gen_range(0..5);
    let (weights, wt, bias, requant, output) = match &mut layers[i] {
        Layer::Dense(d) => (&mut d.weights, d.weight_dtype, &mut d.bias, &mut d.requant, &mut d.output),
        Layer::Conv2d(c) => (&mut c.weights, c.weight_dtype, &mut c.bias, &mut c.requant, &mut c.output),
        _ => unreachable!(),
    };
    match kind {
        0 => {
            let k = rng.gen_range(0..weights.len());
            weights[k] = wt.saturate(weights[k] + if rng.gen_bool(0.5) { 1 } else { -1 });
        }
        1 if !bias.is_empty() => {
            let k = rng.gen_range(0..bias.len());
            bias[k] += rng.gen_range(-3..=3);
        }
        2 => {
            for r in &mut requant.rescale {
                if let quiver::net::Rescale::Dyadic { rounding, .. } | quiver::net::Rescale::Float32 { rounding, .. } =
                    r
                {
                    *rounding = *Rounding::ALL.choose(rng).expect("modes");
                }
            }
        }
        3 => output.scale = *[0.125, 0.375, 0.1, 0.25].choose(rng).expect("scales"),
        _ => output.zero_point = output.dtype.saturate(output.zero_point + rng.gen_range(-1..=1)),
    }
    rebuild(a, layers)
}

/// Another random network with `a`'s input and output length (another architecture, types,
/// rescales).
fn independent(rng: &mut ChaCha8Rng, a: &Network) -> Option<Network> {
    (0..20_000)
        .map(|_| testgen::network(rng, &cfg()))
        .find(|b| b.input() == a.input() && b.output_len() == a.output_len())
}

/// Tiny pairs: a mutation of A, an independent network on A's input, or A itself.
fn pairs(seed: u64, wanted: usize) -> Vec<(Network, Network)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    while out.len() < wanted {
        let a = testgen::network(&mut rng, &cfg());
        let b = match rng.gen_range(0..10) {
            0..=5 => mutate(&mut rng, &a),
            6..=8 => independent(&mut rng, &a),
            _ => Some(a.clone()),
        };
        if let Some(b) = b {
            out.push((a, b));
        }
    }
    out
}

fn exact(x: f64) -> BigRational {
    BigRational::from_float(x).expect("finite")
}

/// The relation's definition, evaluated directly (ground truth for enumeration).
fn violates(a: &Network, b: &Network, rel: &Relation, ya: &[i64], yb: &[i64]) -> bool {
    match rel {
        Relation::Delta(d) => ya.iter().zip(yb).any(|(x, y)| (x - y).abs() > *d),
        Relation::DeltaReal(d) => {
            let (qa, qb) = (a.output_info().quant, b.output_info().quant);
            let real = |q: &Quant, v: i64| exact(q.scale) * BigRational::from_integer(BigInt::from(v - q.zero_point));
            ya.iter().zip(yb).any(|(&x, &y)| (real(&qa, x) - real(&qb, y)).abs() > *d)
        }
        Relation::SameClass(TieRule::FirstIndex) => exec::argmax(ya) != exec::argmax(yb),
        Relation::SameClass(TieRule::AnyTieUnsafe) => {
            let winner = |y: &[i64]| {
                let m = *y.iter().max().expect("outputs");
                let at: Vec<usize> = (0..y.len()).filter(|&k| y[k] == m).collect();
                (at.len() == 1).then(|| at[0])
            };
            !matches!((winner(ya), winner(yb)), (Some(p), Some(q)) if p == q)
        }
    }
}

fn truth(a: &Network, b: &Network, rel: &Relation, input: &InputBox) -> Option<Vec<i64>> {
    testgen::points(input).find(|x| violates(a, b, rel, &exec::run(a, x).unwrap(), &exec::run(b, x).unwrap()))
}

fn relations(rng: &mut ChaCha8Rng, a: &Network, b: &Network) -> Vec<Relation> {
    let q = |n: i64, d: i64| BigRational::new(n.into(), d.into());
    let mut v = vec![
        Relation::SameClass(TieRule::FirstIndex),
        Relation::SameClass(TieRule::AnyTieUnsafe),
        Relation::DeltaReal([q(0, 1), q(1, 4), q(1, 2), q(3, 10)].choose(rng).expect("deltas").clone()),
    ];
    let (qa, qb) = (a.output_info().quant, b.output_info().quant);
    if qa.scale == qb.scale && qa.zero_point == qb.zero_point {
        v.push(Relation::Delta(rng.gen_range(0..=2)));
    }
    v
}

fn only(backend: &str) -> Options {
    Options {
        bounds: Method::None,
        probe: false,
        search: None,
        backends: vec![backend.to_string()],
        ..Options::default()
    }
}

/// A decided answer must be enumeration's, and a witness must replay on both networks.
fn check(r: &EquivReport, a: &Network, b: &Network, rel: &Relation, truth: &Option<Vec<i64>>, what: &str) -> bool {
    assert!(r.report.disagreement.is_none(), "{what}: {:?}", r.report.disagreement);
    match (&r.report.verdict, truth) {
        (Verdict::Verified, None) => true,
        (Verdict::Falsified { .. }, Some(_)) => {
            let w = r.pair.as_ref().expect("a falsified equivalence has a pair witness");
            assert_eq!(exec::run(a, &w.input).unwrap(), w.output_a, "{what}");
            assert_eq!(exec::run(b, &w.input).unwrap(), w.output_b, "{what}");
            assert!(violates(a, b, rel, &w.output_a, &w.output_b), "{what}: witness does not violate");
            true
        }
        (Verdict::Unknown { .. }, _) => false,
        (v, t) => panic!(
            "{what}: verdict {} but enumeration finds {t:?}\nA: {}\nB: {}",
            v.name(),
            quiver::net::format::to_json(a),
            quiver::net::format::to_json(b)
        ),
    }
}

/// The product network computes exactly A's outputs followed by B's, on random points, and
/// shares the leading nodes the two have in common (all of them for identical networks).
#[test]
fn product_output_is_both_networks_outputs() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut converted = 0;
    for (k, (a, b)) in pairs(1, 150).into_iter().enumerate() {
        let p = product(&a, &b).expect("product");
        assert_eq!(p.net.output_len(), 2 * a.output_len());
        if a == b {
            assert_eq!(p.shared_nodes, a.layers().len(), "pair {k}");
        }
        converted += usize::from(a.output_info().quant != b.output_info().quant);
        let t = a.input_info().quant.dtype;
        for _ in 0..30 {
            let x: Vec<i64> = (0..a.input_len()).map(|_| rng.gen_range(t.min()..=t.max())).collect();
            let mut both = exec::run(&a, &x).unwrap();
            both.extend(exec::run(&b, &x).unwrap());
            assert_eq!(exec::run(&p.net, &x).unwrap(), both, "pair {k}, input {x:?}");
        }
    }
    assert!(converted > 20, "too few pairs with different output quantizations: {converted}");
    // Networks whose outputs are images ([C, H, W]: the layers before a Flatten) are flattened.
    let mut images = 0;
    for (k, (a, b)) in pairs(4, 200).into_iter().enumerate() {
        let cut = |n: &Network| -> Option<Network> {
            let f = n.layers().iter().position(|l| matches!(l, Layer::Flatten))?;
            (f > 0 && n.is_sequential())
                .then(|| Network::new("cut", n.input().clone(), n.layers()[..f].to_vec()).ok())?
        };
        let (Some(a), Some(b)) = (cut(&a), cut(&b)) else { continue };
        if a.output_info().shape != b.output_info().shape {
            continue;
        }
        images += 1;
        let p = product(&a, &b).expect("product");
        let t = a.input_info().quant.dtype;
        for _ in 0..10 {
            let x: Vec<i64> = (0..a.input_len()).map(|_| rng.gen_range(t.min()..=t.max())).collect();
            let mut both = exec::run(&a, &x).unwrap();
            both.extend(exec::run(&b, &x).unwrap());
            assert_eq!(exec::run(&p.net, &x).unwrap(), both, "image pair {k}");
        }
    }
    assert!(images >= 5, "too few pairs with image outputs: {images}");
}

/// Every backend alone (no bounds, probe or search) and the default pipeline agree with
/// enumeration on every relation.
#[test]
fn every_backend_agrees_with_enumeration() {
    let mut backends: Vec<String> = quiver::backend::available().iter().map(|s| s.to_string()).collect();
    if backends.iter().any(|b| b == "cpsat") {
        backends.push("portfolio".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut decided, mut total, mut falsified, mut verified) = (0, 0, 0, 0);
    for (k, (a, b)) in pairs(2, 36).into_iter().enumerate() {
        let input = testgen::input_box(&mut rng, &a, 120);
        for rel in relations(&mut rng, &a, &b) {
            let t = truth(&a, &b, &rel, &input);
            if t.is_some() {
                falsified += 1;
            } else {
                verified += 1;
            }
            let q = EquivQuery { a: &a, b: &b, input: input.clone(), real_input: false, relation: rel.clone() };
            let r = equiv(&q, &Options::default(), &Budget::unlimited()).expect("equiv");
            assert!(check(&r, &a, &b, &rel, &t, &format!("pair {k}, {rel}, pipeline")), "pair {k}: undecided");
            for be in &backends {
                let r = equiv(&q, &only(be), &Budget::unlimited()).expect("equiv");
                total += 1;
                decided += usize::from(check(&r, &a, &b, &rel, &t, &format!("pair {k}, {rel}, {be}")));
            }
        }
    }
    eprintln!("{decided} of {total} backend runs decided; {verified} equivalent, {falsified} not");
    assert!(verified >= 15 && falsified >= 15, "{verified} equivalent, {falsified} not: too one-sided");
    // The MILP may refuse a row with huge coefficients (non-dyadic scales), the others decide.
    assert!(decided * 10 >= total * 9, "only {decided} of {total} backend runs decided");
}

/// A network is δ = 0 equivalent to itself on the whole input range (the bounds alone prove it:
/// every node is shared, so both outputs are one tensor), and has the same class (first index;
/// a conjunction the MILP refutes) on the whole range of tiny networks and on a box of an
/// MNIST-sized one.
#[test]
fn identical_networks_are_delta_zero_equivalent() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut nets: Vec<Network> = (0..10).map(|_| testgen::network(&mut rng, &cfg())).collect();
    nets.push(testgen::aaai_like_network(5));
    for (k, a) in nets.iter().enumerate() {
        let t = a.input_info().quant.dtype;
        let full = InputBox { lo: vec![t.min(); a.input_len()], hi: vec![t.max(); a.input_len()] };
        let bounds_only = Options { backends: vec![], search: None, ..Options::default() };
        let q = EquivQuery { a, b: a, input: full.clone(), real_input: false, relation: Relation::Delta(0) };
        let r = equiv(&q, &bounds_only, &Budget::unlimited()).expect("equiv");
        assert_eq!(r.report.verdict, Verdict::Verified, "net {k}: {:?}", r.report.verdict);
        assert_eq!(r.shared_nodes, a.layers().len());
        let input = if a.input_len() > 100 {
            let center: Vec<i64> = (0..a.input_len()).map(|_| rng.gen_range(t.min()..=t.max())).collect();
            InputBox {
                lo: center.iter().map(|&c| (c - 2).max(t.min())).collect(),
                hi: center.iter().map(|&c| (c + 2).min(t.max())).collect(),
            }
        } else {
            full
        };
        let rel = Relation::SameClass(TieRule::FirstIndex);
        let q = EquivQuery { a, b: a, input, real_input: false, relation: rel };
        let r = equiv(&q, &Options::default(), &Budget::unlimited()).expect("equiv");
        assert_eq!(r.report.verdict, Verdict::Verified, "net {k}, same class: {:?}", r.report.verdict);
    }
}

/// A pair whose outputs differ by exactly one step somewhere: δ = 0 is falsified with a witness
/// on both networks, δ = 1 is verified.
#[test]
fn one_step_apart() {
    let a = testgen::aaai_like_network(9);
    let mut layers = a.layers().to_vec();
    let last = layers.len() - 1;
    if let Layer::Dense(d) = &mut layers[last] {
        if d.bias.is_empty() {
            d.bias = vec![0; d.out_features];
        }
        // One more unit of output 0's accumulator moves its value by at most one step.
        d.bias[0] += 1;
    }
    let b = rebuild(&a, layers).expect("valid");
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let center: Vec<i64> = (0..a.input_len()).map(|_| rng.gen_range(0..=255)).collect();
    let input = InputBox {
        lo: center.iter().map(|&c| (c - 3).max(0)).collect(),
        hi: center.iter().map(|&c| (c + 3).min(255)).collect(),
    };
    let run = |rel: Relation| {
        let q = EquivQuery { a: &a, b: &b, input: input.clone(), real_input: false, relation: rel };
        equiv(&q, &Options::default(), &Budget::unlimited()).expect("equiv")
    };
    let r1 = run(Relation::Delta(1));
    assert_eq!(r1.report.verdict, Verdict::Verified, "{:?}", r1.report.verdict);
    let r0 = run(Relation::Delta(0));
    if let Verdict::Falsified { .. } = r0.report.verdict {
        let w = r0.pair.expect("pair");
        assert_eq!((w.output_a[0] - w.output_b[0]).abs(), 1);
        assert!(w.violation.contains("output 0"), "{}", w.violation);
    } else {
        // The bias step may never change a rounded output in this box; then δ = 0 holds.
        assert_eq!(r0.report.verdict, Verdict::Verified);
    }
}

#[test]
fn refusals_name_the_problem() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let a = testgen::network(&mut rng, &GenConfig { images: false, graphs: 0.0, ..cfg() });
    let t = a.input_info().quant.dtype;
    let full = InputBox { lo: vec![t.min(); a.input_len()], hi: vec![t.max(); a.input_len()] };
    let q = |b: &Network, rel: Relation, real: bool| {
        let q = EquivQuery { a: &a, b, input: full.clone(), real_input: real, relation: rel };
        equiv(&q, &Options::default(), &Budget::unlimited())
    };
    // Another input quantization.
    let mut other = a.input().clone();
    other.scale *= 2.0;
    let layers = a.layers().to_vec();
    let b = Network::new("b", other, layers.clone()).expect("valid");
    let e = q(&b, Relation::Delta(0), false).unwrap_err();
    assert!(matches!(e, EquivError::Input { .. }), "{e}");
    assert!(e.to_string().contains("scale"), "{e}");
    // Another real→integer map: fine on the integer grid, refused for a real box.
    let mut recip = a.input().clone();
    recip.quantize = InputQuantize::MultiplyReciprocal;
    let b = Network::new("b", recip, layers.clone()).expect("valid");
    assert!(q(&b, Relation::Delta(0), false).is_ok());
    let e = q(&b, Relation::Delta(0), true).unwrap_err();
    assert!(matches!(e, EquivError::RealInput { .. }), "{e}");
    assert!(e.to_string().contains("--eps"), "{e}");
    // Another output scale: --delta is refused and points at --delta-real, which works.
    let mut layers2 = layers.clone();
    if let Some(Layer::Dense(d)) = layers2.last_mut() {
        d.output.scale *= 2.0;
    }
    let b = Network::new("b", a.input().clone(), layers2).expect("valid");
    let e = q(&b, Relation::Delta(1), false).unwrap_err();
    assert!(matches!(e, EquivError::DeltaQuant { .. }), "{e}");
    assert!(e.to_string().contains("--delta-real"), "{e}");
    assert!(q(&b, Relation::DeltaReal(BigRational::new(1.into(), 2.into())), false).is_ok());
    // Negative deltas.
    assert!(matches!(q(&a, Relation::Delta(-1), false), Err(EquivError::NegativeDelta(_))));
    assert!(matches!(
        q(&a, Relation::DeltaReal(BigRational::new((-1).into(), 2.into())), false),
        Err(EquivError::NegativeDelta(_))
    ));
    // Another output length.
    let b = loop {
        let b = testgen::network(&mut rng, &GenConfig { images: false, graphs: 0.0, ..cfg() });
        if b.input() == a.input() && b.output_len() != a.output_len() {
            break b;
        }
    };
    let e = q(&b, Relation::SameClass(TieRule::FirstIndex), false).unwrap_err();
    assert!(matches!(e, EquivError::Outputs { .. }), "{e}");
    // A box that does not fit.
    let bad = EquivQuery {
        a: &a,
        b: &a,
        input: InputBox { lo: vec![0], hi: vec![0, 0] },
        real_input: false,
        relation: Relation::Delta(0),
    };
    assert!(matches!(equiv(&bad, &Options::default(), &Budget::unlimited()), Err(EquivError::Spec(_))));
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    })
}

/// The bundled model against its own JSON file: every node shared, δ = 0 verified (exit 0).
#[test]
fn cli_identical_models_are_equivalent() {
    let o = quiver(&[
        "equiv",
        "@bundled",
        "benchmarks/models/mnist_mlp.json",
        "--dataset",
        "@bundled",
        "--index",
        "3",
        "--eps",
        "2",
        "--delta",
        "0",
        "--json",
    ]);
    assert_eq!(code(&o), VERIFIED, "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    assert_eq!(v["verdict"], "verified");
    assert_eq!(v["shared_nodes"], 3);
    assert_eq!(v["model_b"], "benchmarks/models/mnist_mlp.json");
}

/// A falsified pair from files: exit 10, and the JSON pair's outputs are what A and B compute.
#[test]
fn cli_counterexample_is_replayed_on_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for (k, (a, b)) in pairs(3, 60).into_iter().enumerate() {
        let rel = Relation::SameClass(TieRule::FirstIndex);
        let t = a.input_info().quant.dtype;
        let x: Vec<i64> = (0..a.input_len()).map(|_| rng.gen_range(t.min()..=t.max())).collect();
        let input = InputBox {
            lo: x.iter().map(|&c| (c - 1).max(t.min())).collect(),
            hi: x.iter().map(|&c| (c + 1).min(t.max())).collect(),
        };
        if input.volume() > 2000 || truth(&a, &b, &rel, &input).is_none() {
            continue;
        }
        let (pa, pb, px) = (dir.path().join("a.json"), dir.path().join("b.json"), dir.path().join("x.txt"));
        std::fs::write(&pa, quiver::net::format::to_json(&a)).unwrap();
        std::fs::write(&pb, quiver::net::format::to_json(&b)).unwrap();
        std::fs::write(&px, x.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ")).unwrap();
        let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
        let (sa, sb, sx) = (s(&pa), s(&pb), s(&px));
        let o = quiver(&[
            "equiv",
            &sa,
            &sb,
            "--input",
            &sx,
            "--eps",
            "1",
            "--same-class",
            "--tie",
            "first-index",
            "--json",
        ]);
        assert_eq!(code(&o), FALSIFIED, "pair {k}: {}", String::from_utf8_lossy(&o.stderr));
        let v = json(&o);
        let get = |key: &str| -> Vec<i64> {
            v["pair"][key].as_array().expect(key).iter().map(|e| e.as_i64().expect("integer")).collect()
        };
        let w = get("input");
        assert!(input.contains(&w), "pair {k}");
        assert_eq!(get("output_a"), exec::run(&a, &w).unwrap());
        assert_eq!(get("output_b"), exec::run(&b, &w).unwrap());
        assert_ne!(exec::argmax(&get("output_a")), exec::argmax(&get("output_b")));
        return;
    }
    panic!("no falsifiable pair among 60");
}

/// A VNN-LIB input box: on the integers it is accepted for networks that round real inputs
/// differently (they see the same integers), on the reals it is refused.
#[test]
fn cli_vnnlib_box() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let a = testgen::network(&mut rng, &GenConfig { images: false, graphs: 0.0, ..cfg() });
    let mut recip = a.input().clone();
    recip.quantize = InputQuantize::MultiplyReciprocal;
    let b = Network::new("b", recip, a.layers().to_vec()).expect("valid");
    let t = a.input_info().quant.dtype;
    let mut v = String::new();
    for i in 0..a.input_len() {
        v += &format!("(declare-const X_{i} Real)\n");
    }
    for j in 0..a.output_len() {
        v += &format!("(declare-const Y_{j} Real)\n");
    }
    for i in 0..a.input_len() {
        v += &format!("(assert (>= X_{i} {}))\n(assert (<= X_{i} {}))\n", t.min(), t.max());
    }
    v += "(assert (>= Y_0 Y_0))\n";
    let (pa, pb, pv) = (dir.path().join("a.json"), dir.path().join("b.json"), dir.path().join("box.vnnlib"));
    std::fs::write(&pa, quiver::net::format::to_json(&a)).unwrap();
    std::fs::write(&pb, quiver::net::format::to_json(&b)).unwrap();
    std::fs::write(&pv, v).unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let (sa, sb, sv) = (s(&pa), s(&pb), s(&pv));
    let o = quiver(&["equiv", &sa, &sb, "--vnnlib", &sv, "--domain", "integer", "--delta", "0", "--json"]);
    assert_eq!(code(&o), VERIFIED, "{}", String::from_utf8_lossy(&o.stderr));
    let j = json(&o);
    assert_eq!(j["stats"]["box_points_log2"].as_f64().unwrap().round() as i64, {
        let per = (t.max() - t.min() + 1) as f64;
        (per.log2() * a.input_len() as f64).round() as i64
    });
    let o = quiver(&["equiv", &sa, &sb, "--vnnlib", &sv, "--delta", "0"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), ERROR, "{err}");
    assert!(err.contains("--domain integer"), "{err}");
}

/// Refusals exit 2 with a message naming the problem.
#[test]
fn cli_refusals() {
    let b = ["--dataset", "@bundled", "--index", "0"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Another input shape ([1, 28, 28] against [784]).
        (vec!["equiv", "@bundled", "benchmarks/models/mnist_cnn.json", "--eps", "1", "--same-class"], "inputs differ"),
        (vec!["equiv", "@bundled", "@bundled", "--eps", "1"], "--same-class"),
        (vec!["equiv", "@bundled", "@bundled", "--delta", "0"], "--eps"),
        (vec!["equiv", "@bundled", "@bundled", "--eps", "1", "--delta-real", "-1"], "delta"),
        (vec!["equiv", "@bundled", "@bundled", "--eps", "1", "--delta-real", "1/2"], "1/2"),
        (vec!["equiv", "@bundled", "@bundled", "--eps", "1", "--delta", "0", "--same-class"], "--same-class"),
    ];
    for (mut args, needle) in cases {
        args.extend(b);
        let o = quiver(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), ERROR, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// QVIP's 784-100-10 network at 8 and at 6 bits (outputs scaled 2^-6 and 2^-4): --delta is
/// refused and points at --delta-real, which decides. Needs `../shared/external` (or
/// `$QUIVER_EXTERNAL`), unless `QUIVER_ALLOW_MISSING_SHARED=1`.
#[test]
fn cli_qvip_8_against_6_bits() {
    let root = match quiver::import::suite::external_root() {
        Ok(r) => r,
        Err(e) if std::env::var("QUIVER_ALLOW_MISSING_SHARED").as_deref() == Ok("1") => {
            eprintln!("SKIPPED (QUIVER_ALLOW_MISSING_SHARED=1): {e}");
            return;
        }
        Err(e) => panic!("{e}: the QVIP networks are needed (set QUIVER_ALLOW_MISSING_SHARED=1 to skip)"),
    };
    let m = root.join("QVIP/QNN_benchmark/mnist");
    let m8 = m.join("qu_mnist_1blk_100_in_8_qu_8.h5");
    let m6 = m.join("qu_mnist_1blk_100_in_8_qu_6.h5");
    let images = root.join("mnist-test-set/t10k-images-idx3-ubyte.gz");
    let (m8, m6, images) = (m8.to_str().unwrap(), m6.to_str().unwrap(), images.to_str().unwrap());
    let box_ = ["--dataset", images, "--index", "0", "--eps", "1"];
    let mut args = vec!["equiv", m8, m6, "--delta", "1"];
    args.extend(box_);
    let o = quiver(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), ERROR, "{err}");
    assert!(err.contains("--delta-real") && err.contains("scale 0.015625"), "{err}");
    let mut args = vec!["equiv", m8, m6, "--delta-real", "0.5", "--json"];
    args.extend(box_);
    let o = quiver(&args);
    assert_eq!(code(&o), VERIFIED, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&o)["verdict"], "verified");
    // δ = 0 on reals: the two quantizations do differ somewhere in the box.
    let mut args = vec!["equiv", m8, m6, "--delta-real", "0", "--json"];
    args.extend(box_);
    let o = quiver(&args);
    assert_eq!(code(&o), FALSIFIED, "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    assert!(v["pair"]["violation"].as_str().unwrap().contains("|difference|"), "{v}");
}
