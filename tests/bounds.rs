//! Soundness and precision of bound propagation (interval and symbolic) on random networks of
//! every layer kind, rescale kind, rounding mode and 2..8-bit types, checked against the
//! reference executor on sampled and enumerated points.

use quiver::bounds::symbolic::Symbolic;
use quiver::bounds::{self, interval, Interval, Method, NetBounds, SpecStatus};
use quiver::net::exec;
use quiver::net::{Dense, Input, Layer, Network, QType, Quant, Requant, Rescale, Rounding};
use quiver::spec::{Atom, InputBox, Spec};
use quiver::testgen::{self, GenConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn cfg() -> GenConfig {
    GenConfig { max_bits: 8, ..GenConfig::default() }
}

/// Accumulators of a Dense/Conv layer for input `x` (`None` for other layers).
fn accumulators(net: &Network, i: usize, x: &[i64]) -> Option<Vec<i64>> {
    let input = &net.tensors()[net.node_inputs(i)[0]];
    let zx = input.quant.zero_point;
    match &net.layers()[i] {
        Layer::Dense(d) => Some(
            (0..d.out_features)
                .map(|j| {
                    let zw = d.weight_zero_point[if d.weight_zero_point.len() == 1 { 0 } else { j }];
                    let row = &d.weights[j * d.in_features..(j + 1) * d.in_features];
                    row.iter().zip(x).map(|(&w, &v)| (w - zw) * (v - zx)).sum::<i64>()
                        + d.bias.get(j).copied().unwrap_or(0)
                })
                .collect(),
        ),
        Layer::Conv2d(c) => {
            let out = &net.tensors()[i + 1];
            let (h, w) = (input.shape[1], input.shape[2]);
            let (oh, ow) = (out.shape[1], out.shape[2]);
            let win = c.window();
            let (cg_in, cg_out) = (c.in_channels / c.groups, c.out_channels / c.groups);
            let [kh, kw] = c.kernel;
            let mut accs = Vec::new();
            for o in 0..c.out_channels {
                let g = o / cg_out;
                let zw = c.weight_zero_point[if c.weight_zero_point.len() == 1 { 0 } else { o }];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = c.bias.get(o).copied().unwrap_or(0);
                        for ci in 0..cg_in {
                            let ch = g * cg_in + ci;
                            for (ky, iy) in win.taps(0, oy, h) {
                                for (kx, ix) in win.taps(1, ox, w) {
                                    acc += (c.weights[((o * cg_in + ci) * kh + ky) * kw + kx] - zw)
                                        * (x[(ch * h + iy) * w + ix] - zx);
                                }
                            }
                        }
                        accs.push(acc);
                    }
                }
            }
            Some(accs)
        }
        _ => None,
    }
}

/// Every value of the execution on `x` lies in `b`; panics with the location otherwise.
fn check_point(net: &Network, b: &NetBounds, x: &[i64], what: &str) {
    let t = exec::trace(net, x).expect("sampled points are valid inputs");
    for (k, v) in t.iter().enumerate() {
        for (j, (&val, iv)) in v.iter().zip(b.tensor(k)).enumerate() {
            assert!(iv.contains(val), "{what}: tensor {k} value {j} = {val} outside {iv:?} at x = {x:?}\n{net:?}");
        }
    }
    for i in 0..net.layers().len() {
        if let quiver::net::form::Form::Sum(s) = net.form(i) {
            // The exact pre-activation of an Add (its operand tables summed) within its bounds.
            let x: Vec<i64> = net.node_inputs(i).iter().flat_map(|&u| t[u].iter().copied()).collect();
            let bounds = b.layers[i].pre.as_ref().expect("sums have pre-activation bounds");
            for (j, iv) in bounds.iter().enumerate() {
                let p = s.pre(j, &x);
                assert!(iv.contains(p), "{what}: layer {i} sum {j} = {p} outside {iv:?} at x = {x:?}\n{net:?}");
            }
        }
        if let Some(accs) = accumulators(net, i, &t[net.node_inputs(i)[0]]) {
            let bounds = b.layers[i].pre.as_ref().expect("dense/conv layers have accumulator bounds");
            for (j, (a, iv)) in accs.iter().zip(bounds).enumerate() {
                assert!(iv.contains(*a), "{what}: layer {i} acc {j} = {a} outside {iv:?} at x = {x:?}\n{net:?}");
            }
        }
    }
}

/// Points to check: the whole box if small, else its corners (up to 2^10) and random points.
fn sample(rng: &mut ChaCha8Rng, b: &InputBox, random: usize) -> Vec<Vec<i64>> {
    if b.volume() <= 400 {
        return testgen::points(b).collect();
    }
    let n = b.len();
    let mut pts = Vec::new();
    if n <= 10 {
        for mask in 0..(1u32 << n) {
            pts.push((0..n).map(|i| if mask >> i & 1 == 1 { b.hi[i] } else { b.lo[i] }).collect());
        }
    }
    for _ in 0..random {
        pts.push((0..n).map(|i| rng.gen_range(b.lo[i]..=b.hi[i])).collect());
    }
    pts
}

fn assert_within(sym: &[Interval], int: &[Interval], what: &str) {
    assert_eq!(sym.len(), int.len());
    for (j, (s, i)) in sym.iter().zip(int).enumerate() {
        assert!(i.lo <= s.lo && s.hi <= i.hi, "{what}: value {j}: symbolic {s:?} looser than interval {i:?}");
    }
}

/// Symbolic bounds are per neuron inside the interval bounds, with the same shape.
fn check_not_looser(net: &Network, sym: &NetBounds, int: &NetBounds) {
    assert_eq!(sym.layers.len(), int.layers.len());
    assert_eq!(sym.input, int.input);
    for (i, (s, b)) in sym.layers.iter().zip(&int.layers).enumerate() {
        assert_within(&s.out, &b.out, &format!("layer {i} ({}) out", net.layers()[i].kind()));
        assert_eq!(s.pre.is_some(), b.pre.is_some());
        if let (Some(sa), Some(ba)) = (&s.pre, &b.pre) {
            assert_within(sa, ba, &format!("layer {i} acc"));
        }
    }
}

/// One random query: soundness of both methods at sampled points, for every neuron and atom.
fn check_query(rng: &mut ChaCha8Rng, net: &Network, b: InputBox, random: usize) -> usize {
    let spec = testgen::spec(rng, net, b);
    let int = interval::propagate(net, &spec.input);
    let sym = Symbolic::new(net, &spec.input);
    check_not_looser(net, sym.bounds(), &int);
    let atoms: Vec<&Atom> = spec.unsafe_dnf.iter().flatten().collect();
    let ranges: Vec<_> = atoms.iter().map(|a| (int.atom_range(&a.terms), sym.linear_range(&a.terms))).collect();
    for ((ilo, ihi), (slo, shi)) in &ranges {
        assert!(ilo <= slo && shi <= ihi, "atom range: symbolic [{slo}, {shi}] looser than interval [{ilo}, {ihi}]");
    }
    let pts = sample(rng, &spec.input, random);
    for x in &pts {
        check_point(net, &int, x, "interval");
        check_point(net, sym.bounds(), x, "symbolic");
        let y = exec::run(net, x).expect("valid input");
        for (a, ((ilo, ihi), (slo, shi))) in atoms.iter().zip(&ranges) {
            let v = a.lhs(&y);
            assert!(*ilo <= v && v <= *ihi, "interval atom {a:?} = {v} outside [{ilo}, {ihi}] at {x:?}\n{net:?}");
            assert!(*slo <= v && v <= *shi, "symbolic atom {a:?} = {v} outside [{slo}, {shi}] at {x:?}\n{net:?}");
        }
    }
    pts.len()
}

#[test]
fn sound_on_small_boxes() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xB0);
    let mut points = 0;
    for _ in 0..400 {
        let net = testgen::network(&mut rng, &cfg());
        for _ in 0..3 {
            let b = testgen::input_box(&mut rng, &net, 300);
            points += check_query(&mut rng, &net, b, 60);
        }
    }
    assert!(points > 30_000, "too few points checked: {points}");
}

/// Whole-type and wide boxes: wide accumulator ranges exercise the band relaxations (not the
/// exact enumeration of narrow ranges).
#[test]
fn sound_on_wide_boxes() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xB1);
    for k in 0..300 {
        let net = testgen::network(&mut rng, &cfg());
        let b = if k % 2 == 0 { interval::type_box(&net) } else { testgen::input_box(&mut rng, &net, 1 << 40) };
        check_query(&mut rng, &net, b, 200);
    }
}

/// Random networks with a single 16-bit input and wide types: accumulator ranges are wide.
#[test]
fn sound_with_wide_types() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xB2);
    let wide = GenConfig { images: true, max_dense: 3, min_bits: 8, max_bits: 12, graphs: 0.3 };
    for _ in 0..200 {
        let net = testgen::network(&mut rng, &wide);
        let b = testgen::input_box(&mut rng, &net, 1 << 30);
        check_query(&mut rng, &net, b, 100);
    }
}

/// Ground truth by enumeration: whatever symbolic bounds decide is right; and symbolic decides
/// strictly more queries than interval on this fixed seed.
#[test]
fn decisions_match_enumeration() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xB3);
    let (mut sym_unreachable, mut int_unreachable, mut only_sym, mut always) = (0, 0, 0, 0);
    for _ in 0..600 {
        let net = testgen::network(&mut rng, &cfg());
        let b = testgen::input_box(&mut rng, &net, 300);
        let spec = testgen::spec(&mut rng, &net, b);
        let sym = bounds::analyze(&net, &spec, Method::Symbolic);
        let int = bounds::analyze(&net, &spec, Method::Interval);
        let violation = testgen::enumerate_violation(&net, &spec);
        match &sym.status {
            SpecStatus::Unreachable => {
                assert!(
                    violation.is_none(),
                    "symbolic says unreachable, but {violation:?} violates\n{net:?}\n{spec:?}"
                );
                sym_unreachable += 1;
                only_sym += usize::from(int.status != SpecStatus::Unreachable);
            }
            SpecStatus::AlwaysUnsafe(k) => {
                always += 1;
                for x in testgen::points(&spec.input) {
                    let y = exec::run(&net, &x).expect("valid input");
                    assert!(spec.unsafe_dnf[*k].iter().all(|a| a.holds(&y)), "disjunct {k} does not hold at {x:?}");
                }
            }
            SpecStatus::Open(_) => {}
        }
        if int.status == SpecStatus::Unreachable {
            int_unreachable += 1;
            assert_eq!(sym.status, SpecStatus::Unreachable, "interval decides but symbolic does not");
        }
    }
    eprintln!("unreachable: symbolic {sym_unreachable}, interval {int_unreachable}, only symbolic {only_sym}; always unsafe {always}");
    assert!(only_sym > 0, "symbolic never decided more than interval");
    assert!(sym_unreachable > int_unreachable);
}

/// `y_A = round(fl(fl(x + 2^25) − 2^25)·m)`: binary32 holds `x + 2^25` only to a multiple of 4
/// (ties to even), so `y_A` differs from the real `x·m` by up to `2m`, far outside the rounding
/// band `±1/2`; `y_B = x` exactly; the output `y_A/m − y_B` cancels the linear part. A band that
/// ignores the binary32 errors proves the output is 0; it is in `[−2, 2]`.
fn float32_net(rounding: Rounding, m: f64) -> Network {
    let input = Input {
        shape: vec![1],
        dtype: QType::new(12, false).unwrap(),
        scale: 1.0,
        zero_point: 0,
        quantize: Default::default(),
    };
    let int16 = Quant { dtype: QType::new(16, true).unwrap(), scale: 1.0, zero_point: 0 };
    let int8 = QType::INT8;
    let big = 1i64 << 25;
    let l1 = Dense {
        in_features: 1,
        out_features: 2,
        weights: vec![1, 1],
        weight_dtype: int8,
        weight_zero_point: vec![0],
        bias: vec![big, 0],
        requant: Requant {
            rescale: vec![
                Rescale::Float32 { m, bias: -(big as f64), rounding },
                Rescale::Dyadic { m: 1, shift: 0, rounding },
            ],
            relu: false,
        },
        output: int16,
    };
    let l2 = Dense {
        in_features: 2,
        out_features: 1,
        weights: vec![(1.0 / m) as i64, -1],
        weight_dtype: int8,
        weight_zero_point: vec![0],
        bias: vec![],
        requant: Requant { rescale: vec![Rescale::Dyadic { m: 1, shift: 0, rounding }], relu: false },
        output: int16,
    };
    Network::new("float32_ties", input, vec![Layer::Dense(l1), Layer::Dense(l2)]).expect("valid")
}

#[test]
fn float32_rounding_errors_are_covered() {
    for rounding in Rounding::ALL {
        for m in [1.0, 0.5] {
            let net = float32_net(rounding, m);
            for (lo, hi) in [(600, 1000), (641, 701), (606, 606), (3000, 4095)] {
                let b = InputBox { lo: vec![lo], hi: vec![hi] };
                let ys: Vec<i64> = testgen::points(&b).map(|x| exec::run(&net, &x).unwrap()[0]).collect();
                let (min, max) = (*ys.iter().min().unwrap(), *ys.iter().max().unwrap());
                if lo != hi {
                    assert_eq!(
                        (min, max),
                        (-2, 2),
                        "the construction exercises the binary32 error ({rounding:?}, m = {m})"
                    );
                }
                let sym = Symbolic::new(&net, &b);
                for x in testgen::points(&b) {
                    check_point(&net, sym.bounds(), &x, "symbolic float32");
                }
                for (terms, rhs) in [(vec![(0, -1)], -max), (vec![(0, 1)], min)] {
                    let spec = Spec {
                        input: b.clone(),
                        unsafe_dnf: vec![vec![Atom { terms, rhs }]],
                        description: "f32".into(),
                    };
                    let (lo_r, hi_r) = sym.linear_range(&spec.unsafe_dnf[0][0].terms);
                    assert!(lo_r <= i128::from(rhs) && i128::from(rhs) <= hi_r);
                    assert_ne!(bounds::analyze(&net, &spec, Method::Symbolic).status, SpecStatus::Unreachable);
                }
                // Symbolic is far tighter than interval here, so the band is what is being tested.
                let out = sym.bounds().output()[0];
                let int = interval::propagate(&net, &b).output()[0];
                if hi - lo > 64 {
                    assert!(out.hi - out.lo <= 60 && int.hi - int.lo >= 400, "symbolic {out:?}, interval {int:?}");
                }
            }
        }
    }
}

#[test]
fn symbolic_parses() {
    assert_eq!("symbolic".parse::<Method>(), Ok(Method::Symbolic));
    assert_eq!("interval".parse::<Method>(), Ok(Method::Interval));
    assert_eq!("none".parse::<Method>(), Ok(Method::None));
    assert!("deeppoly".parse::<Method>().is_err());
}

/// The bundled model: symbolic bounds hold at the PyTorch vectors and sampled points of ε-balls.
#[test]
fn bundled_model_sound() {
    // The bundled model is replaced from time to time; its validity is tested elsewhere.
    let path = std::path::Path::new(quiver::bundled::MODEL_PATH);
    let Ok(net) = quiver::net::format::from_json(quiver::bundled::MODEL_JSON, path) else {
        eprintln!("bundled model does not load; skipped");
        return;
    };
    let v = quiver::bundled::vectors();
    let mut rng = ChaCha8Rng::seed_from_u64(0xB4);
    for x0 in v.inputs.iter().take(5) {
        let t = net.input_info().quant.dtype;
        let b = InputBox {
            lo: x0.iter().map(|&c| (c - 3).max(t.min())).collect(),
            hi: x0.iter().map(|&c| (c + 3).min(t.max())).collect(),
        };
        let int = interval::propagate(&net, &b);
        let sym = Symbolic::new(&net, &b);
        check_not_looser(&net, sym.bounds(), &int);
        for x in sample(&mut rng, &b, 50).iter().chain([x0]) {
            check_point(&net, sym.bounds(), x, "symbolic bundled");
        }
    }
}

/// LP tightening (`backend::milp::tighten`) keeps every execution inside the bounds, is never
/// looser than the symbolic bounds it starts from, and does narrow some.
#[cfg(feature = "milp")]
#[test]
fn lp_tightening_is_sound_and_narrows() {
    use quiver::backend::milp::tighten::tighten;
    use quiver::budget::Budget;
    use std::time::Duration;
    let mut rng = ChaCha8Rng::seed_from_u64(0xB7);
    let cfg = GenConfig { max_dense: 3, graphs: 0.2, ..cfg() };
    let (mut narrowed, mut points) = (0, 0);
    for case in 0..250 {
        let net = testgen::network(&mut rng, &cfg);
        let b = testgen::input_box(&mut rng, &net, 300);
        let sym = Symbolic::new(&net, &b);
        let (tight, stats) = tighten(&net, &b, &Budget::unlimited(), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        check_not_looser(&net, tight.bounds(), sym.bounds());
        assert!(stats.unstable_after <= stats.unstable_before, "case {case}: {stats:?}");
        narrowed += stats.narrowed;
        for x in testgen::points(&b) {
            check_point(&net, tight.bounds(), &x, &format!("case {case}: lp-tightened"));
            points += 1;
        }
    }
    assert!(points > 5_000, "too few points checked: {points}");
    assert!(narrowed >= 20, "LP tightening narrowed only {narrowed} bounds in 250 cases");
}
