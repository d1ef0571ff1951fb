//! Interval vs symbolic bound propagation time: the bundled MNIST MLP and a random AAAI'21-shaped
//! 784-64-32-10 network (uint8 input, int6 weights, uint6 hidden with ReLU, int6 output), each on
//! an L∞ ball of integer radius 2 around a bundled test input, including the spec decision.

use criterion::{criterion_group, criterion_main, Criterion};
use quiver::bounds::{self, Method};
use quiver::net::{Dense, Input, Layer, Network, QType, Quant, Requant, Rescale, Rounding};
use quiver::spec::robust::{robustness, Radius, TieRule};
use rand::{Rng, SeedableRng};
use std::hint::black_box;

/// A random 784-64-32-10 network at 6 bits with Dyadic half-up rescales, scaled so that the
/// accumulators of typical inputs spread over the output range instead of saturating.
fn aaai_net(seed: u64) -> Network {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let int6 = QType::new(6, true).expect("6 bits");
    let uint6 = QType::new(6, false).expect("6 bits");
    let input = Input {
        shape: vec![784],
        dtype: QType::UINT8,
        scale: 1.0 / 255.0,
        zero_point: 0,
        quantize: Default::default(),
    };
    let sizes = [784, 64, 32, 10];
    // RMS of each layer's input values (uint8 images ≈ 100, uint6 activations ≈ 20).
    let rms = [100.0, 20.0, 20.0];
    let mut layers = Vec::new();
    for l in 0..3 {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let last = l == 2;
        let weights: Vec<i64> = (0..n_in * n_out).map(|_| rng.gen_range(-32..=31)).collect();
        let acc_std = (n_in as f64).sqrt() * 18.5 * rms[l];
        let target = if last { 12.0 } else { 24.0 } / acc_std;
        let shift = 20;
        let m = ((target * f64::from(1u32 << shift)).round() as i64).max(1);
        let out_t = if last { int6 } else { uint6 };
        layers.push(Layer::Dense(Dense {
            in_features: n_in,
            out_features: n_out,
            weights,
            weight_dtype: int6,
            weight_zero_point: vec![0],
            bias: (0..n_out).map(|_| rng.gen_range(-200..=200)).collect(),
            requant: Requant { rescale: vec![Rescale::Dyadic { m, shift, rounding: Rounding::HalfUp }], relu: !last },
            output: Quant { dtype: out_t, scale: 1.0 / 16.0, zero_point: 0 },
        }));
    }
    Network::new("aaai_784_64_32_10", input, layers).expect("valid network")
}

fn bench(c: &mut Criterion) {
    let vectors = quiver::bundled::vectors();
    let center = &vectors.inputs[0];
    let mut nets = vec![("aaai_784_64_32_10", aaai_net(1))];
    // The bundled model is replaced from time to time; time it whenever it loads.
    match quiver::net::format::from_json(quiver::bundled::MODEL_JSON, std::path::Path::new(quiver::bundled::MODEL_PATH))
    {
        Ok(net) => nets.insert(0, ("bundled", net)),
        Err(e) => eprintln!("skipping the bundled model: {e}"),
    }
    let mut g = c.benchmark_group("bounds");
    for (name, net) in &nets {
        let y = quiver::net::exec::run(net, center).expect("valid input");
        let label = quiver::net::exec::argmax(&y);
        let spec = robustness(net, center, Radius::Integer(2), label, TieRule::AnyTieUnsafe).expect("valid spec");
        for (mname, method) in [("interval", Method::Interval), ("symbolic", Method::Symbolic)] {
            g.bench_function(format!("{name}/{mname}"), |b| {
                b.iter(|| black_box(bounds::analyze(net, black_box(&spec), method)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
