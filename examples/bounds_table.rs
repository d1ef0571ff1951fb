//! The table of `benchmarks/bounds/README.md`: interval vs symbolic bounds on L∞ robustness
//! queries around the bundled test vectors (integer ε = 1..4): mean time per query (bounds and
//! spec decision), fraction verified by bounds alone, mean unstable neurons.
//!
//! `cargo run --release --example bounds_table`

use quiver::bounds::{self, Method, SpecStatus};
use quiver::net::exec;
use quiver::spec::robust::{robustness, Radius, TieRule};
use std::time::Instant;

/// CPU time of this process in seconds (Linux `/proc/self/stat`, 100 Hz ticks), so that the
/// table is meaningful on a shared machine; `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() {
    let v = quiver::bundled::vectors();
    let path = std::path::Path::new(quiver::bundled::MODEL_PATH);
    let bundled = quiver::net::format::from_json(quiver::bundled::MODEL_JSON, path);
    if let Err(e) = &bundled {
        eprintln!("skipping the bundled model: {e}");
    }
    let aaai = quiver::testgen::aaai_like_network(1);
    let mut nets = vec![("random 784-64-32-10 (6-bit)", &aaai, false)];
    if let Ok(b) = &bundled {
        nets.insert(0, ("bundled mnist_mlp", b, true));
    }
    println!("| network | ε | method | wall time / query | CPU time / query | verified | mean unstable neurons |");
    println!("|---|---|---|---|---|---|---|");
    for (name, net, use_labels) in nets {
        for eps in 1..=4 {
            for (mname, method) in [("interval", Method::Interval), ("symbolic", Method::Symbolic)] {
                let (mut verified, mut total, mut unstable, mut secs) = (0, 0, 0usize, 0.0);
                let cpu0 = cpu_seconds();
                let reps = 5;
                for (k, x) in v.inputs.iter().enumerate() {
                    let label = match (use_labels, v.labels.get(k)) {
                        (true, Some(&l)) => l,
                        _ => exec::argmax(&exec::run(net, x).expect("valid input")),
                    };
                    let spec =
                        robustness(net, x, Radius::Integer(eps), label, TieRule::AnyTieUnsafe).expect("valid spec");
                    let t = Instant::now();
                    let mut a = bounds::analyze(net, &spec, method);
                    for _ in 1..reps {
                        a = bounds::analyze(net, &spec, method);
                    }
                    secs += t.elapsed().as_secs_f64() / f64::from(reps);
                    total += 1;
                    verified += usize::from(a.status == SpecStatus::Unreachable);
                    unstable += a.bounds.unstable_count(net);
                }
                let cpu = match (cpu0, cpu_seconds()) {
                    (Some(a), Some(b)) => format!("{:.2} ms", 1e3 * (b - a) / f64::from(reps) / total as f64),
                    _ => "n/a".into(),
                };
                println!(
                    "| {name} | {eps} | {mname} | {:.2} ms | {cpu} | {verified}/{total} | {:.1} |",
                    1e3 * secs / total as f64,
                    unstable as f64 / total as f64
                );
            }
        }
    }
}
