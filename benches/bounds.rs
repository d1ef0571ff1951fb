//! Interval vs symbolic bound propagation time: the bundled MNIST MLP and a random AAAI'21-shaped
//! 784-64-32-10 network (uint8 input, int6 weights, uint6 hidden with ReLU, int6 output), each on
//! an L∞ ball of integer radius 2 around a bundled test input, including the spec decision.

use criterion::{criterion_group, criterion_main, Criterion};
use quiver::bounds::{self, Method};
use quiver::spec::robust::{robustness, Radius, TieRule};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let vectors = quiver::bundled::vectors();
    let center = &vectors.inputs[0];
    let mut nets = vec![("aaai_784_64_32_10", quiver::testgen::aaai_like_network(1))];
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
