//! Shared by the complete backends' tests (`tests/milp.rs`, `tests/cpsat.rs`): scalar networks
//! whose exact output a backend must pin down, and a tiny hard MILP for interrupt tests.

use quiver::backend::milp::model::{MilpModel, Sense, VarKind};
use quiver::backend::{Backend, BackendOptions, Query};
use quiver::bounds::{self, Method};
use quiver::net::{Dense, Input, Layer, Network, QType, Quant, Requant, Rescale};
use quiver::spec::{Atom, InputBox, Spec};
use quiver::verify::Verdict;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// A 1 → 1 dense network `y = clamp(R(w·x + b) + zp)` with an int8 input.
pub fn scalar_net(w: i64, b: i64, rescale: Rescale, zp: i64, out: QType, relu: bool) -> Network {
    let input = Input { shape: vec![1], dtype: QType::INT8, scale: 1.0, zero_point: 0, quantize: Default::default() };
    let layer = Layer::Dense(Dense {
        in_features: 1,
        out_features: 1,
        weights: vec![w],
        weight_dtype: QType::INT8,
        weight_zero_point: vec![0],
        bias: vec![b],
        requant: Requant { rescale: vec![rescale], relu },
        output: Quant { dtype: out, scale: 1.0, zero_point: zp },
    });
    Network::new("scalar", input, vec![layer]).expect("valid scalar network")
}

/// For every `step`-th input value, `y ≤ v − 1` and `y ≥ v + 1` must be verified and `y = v`
/// falsified by `backend`, where `v` is the executor's output: its encoding admits exactly the
/// runtime value. Bounds are over the whole input type, so the neuron stays open and the
/// encoding's rows decide. Returns the number of solves.
pub fn check_exact_scalar(backend: &dyn Backend, net: &Network, step: usize) -> usize {
    let mut solves = 0;
    let t = net.input_info().quant.dtype;
    let whole = bounds::compute(net, &InputBox { lo: vec![t.min()], hi: vec![t.max()] }, Method::Interval);
    for x in (t.min()..=t.max()).step_by(step) {
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
            let (verdict, _) = backend.solve(&query, &BackendOptions::new(Some(Duration::from_secs(120)), 1));
            match (&verdict, unsafe_expected) {
                (Verdict::Verified, false) | (Verdict::Falsified { .. }, true) => {}
                _ => panic!(
                    "{}: x = {x}, runtime y = {v}, spec {:?}: {verdict:?} for {net:?}",
                    backend.name(),
                    spec.unsafe_dnf
                ),
            }
            solves += 1;
        }
    }
    solves
}

/// A market-split instance (Cornuéjols–Dawande): `m` equality rows over `n` binaries with random
/// coefficients in 0..100 and right-hand sides half the row sums. Tiny, yet hard for branch and
/// bound and for CP-SAT, so a solver is still searching when it is interrupted.
pub fn market_split(m: usize, n: usize, seed: u64) -> MilpModel {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
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
