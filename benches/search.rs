//! Throughput of batched evaluation on the bundled model: the exact executor (what every replay
//! costs) against the surrogate's forward and forward + backward passes at several batch sizes.
//! Run with `cargo bench --bench search`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use quiver::net::exec;
use quiver::search::{Forward, Surrogate};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let net = quiver::bundled::model();
    let v = quiver::bundled::vectors();
    let x0 = v.inputs[0].clone();
    let n = net.input_len();
    let m = net.output_len();

    let mut g = c.benchmark_group("search_throughput");
    g.throughput(Throughput::Elements(1));
    g.bench_function("executor", |b| b.iter(|| black_box(exec::run(&net, black_box(&x0)).expect("valid input"))));

    let sur = Surrogate::new(&net, Forward::Rounded, 0.05);
    for batch in [1usize, 16, 64] {
        let mut ws = sur.workspace(batch);
        for k in 0..batch {
            for (i, &v) in x0.iter().enumerate() {
                ws.input_mut()[k * n + i] = ((v + k as i64) % 256) as f32;
            }
        }
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("surrogate_forward", batch), &batch, |b, &batch| {
            b.iter(|| {
                sur.forward(&mut ws, batch);
                black_box(ws.output()[0])
            })
        });
        g.bench_with_input(BenchmarkId::new("surrogate_forward_backward", batch), &batch, |b, &batch| {
            b.iter(|| {
                sur.forward(&mut ws, batch);
                let gr = ws.output_grad_mut(m);
                gr.fill(0.0);
                for k in 0..batch {
                    gr[k * m] = 1.0;
                    gr[k * m + 1] = -1.0;
                }
                sur.backward(&mut ws, batch);
                black_box(ws.input_grad(n)[0])
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
