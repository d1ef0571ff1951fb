//! Executor throughput on the bundled model (inputs per second = elements / time).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use quiver::net::exec;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let net = quiver::bundled::model();
    let inputs = quiver::bundled::vectors().inputs;
    let mut g = c.benchmark_group("exec");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function("bundled_model_vectors", |b| {
        b.iter(|| {
            for x in &inputs {
                black_box(exec::run(&net, black_box(x)).expect("valid input"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
