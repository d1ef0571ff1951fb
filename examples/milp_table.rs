//! Encoding size and solve time of the MILP backend on the bundled model's robustness queries,
//! with symbolic bounds, interval bounds, and no bounds (whole input type) feeding the big-M
//! constants and the stability detection. Prints a Markdown table.
//!
//! `cargo run --release --example milp_table -- [INPUTS] [TIME_LIMIT_SECONDS] [MODEL.json VECTORS.json]`
//! (default: the bundled model and its vectors).

use quiver::backend::milp::Milp;
use quiver::backend::{Backend, BackendOptions, Query};
use quiver::bounds::{self, Method};
use quiver::spec::robust::{robustness, Radius, TieRule};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let inputs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let limit: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let (net, v) = match (args.get(3), args.get(4)) {
        (Some(m), Some(vp)) => (
            quiver::net::format::load(std::path::Path::new(m)).expect("model loads"),
            serde_json::from_str::<quiver::bundled::Vectors>(&std::fs::read_to_string(vp).expect("vectors file"))
                .expect("vectors parse"),
        ),
        _ => (quiver::bundled::model(), quiver::bundled::vectors()),
    };
    let opts = || BackendOptions::new(Some(Duration::from_secs(limit)), 1);
    println!(
        "| input | ε | bounds | verdict | variables | binaries | constraints | encode s | solve s | nodes | rounds |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut ratio = Vec::new();
    for i in 0..inputs.min(v.inputs.len()) {
        let label = v.labels.get(i).copied().unwrap_or_else(|| quiver::net::exec::argmax(&v.outputs[i]));
        for eps in [1, 2, 4, 8] {
            let spec =
                robustness(&net, &v.inputs[i], Radius::Integer(eps), label, TieRule::AnyTieUnsafe).expect("valid spec");
            let mut bins = [0usize; 3];
            for (k, method) in [Method::Symbolic, Method::Interval, Method::None].into_iter().enumerate() {
                let a = bounds::analyze(&net, &spec, method);
                let query = Query { net: &net, spec: &spec, bounds: &a.bounds };
                let (verdict, s) = Milp.solve(&query, &opts());
                bins[k] = s.binaries;
                println!(
                    "| {i} | {eps} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {} | {} |",
                    match method {
                        Method::Symbolic => "symbolic",
                        Method::Interval => "interval",
                        Method::None => "none",
                    },
                    verdict.name(),
                    s.variables,
                    s.binaries,
                    s.constraints,
                    s.encode_seconds,
                    s.solve_seconds,
                    s.nodes.map_or("-".into(), |n| n.to_string()),
                    s.extra.get("rounds").copied().unwrap_or(0.0),
                );
            }
            if bins[1] > 0 {
                ratio.push((bins[2] as f64 / bins[1] as f64, bins[2] as f64 / bins[0].max(1) as f64));
            }
        }
    }
    if !ratio.is_empty() {
        let n = ratio.len() as f64;
        let (a, b) = ratio.iter().fold((0.0, 0.0), |(a, b), r| (a + r.0, b + r.1));
        println!(
            "\nbinaries of the largest sub-MILP, mean ratio over {} queries: none / interval {:.2}, none / symbolic {:.2}",
            ratio.len(),
            a / n,
            b / n
        );
    }
}
