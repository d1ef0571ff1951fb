//! SMT backends on the bundled model: L∞ robustness at several ε, smt-bv vs smt-lia (and milp
//! when that backend is compiled in), one run, Markdown table on stdout.
//!
//! `cargo run --release --example smt_table -- [INPUTS] [TIME_LIMIT_S] [EPS,EPS,...] [MODEL.json VECTORS.json]`
//! (default: the bundled model and vectors).

use quiver::backend::{self, BackendOptions, Query};
use quiver::bounds::{analyze, Method, SpecStatus};
use quiver::spec::robust::{robustness, Radius, TieRule};
use quiver::verify::Verdict;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let inputs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let limit: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let eps: Vec<i64> =
        args.get(3).map(|s| s.split(',').filter_map(|e| e.parse().ok()).collect()).unwrap_or_else(|| vec![1, 2, 4, 8]);
    let (net, vectors) = match (args.get(4), args.get(5)) {
        (Some(m), Some(v)) => {
            let text = std::fs::read_to_string(m).expect("model file");
            let net = quiver::net::format::from_json(&text, std::path::Path::new(m)).expect("valid model");
            let vectors: quiver::bundled::Vectors =
                serde_json::from_str(&std::fs::read_to_string(v).expect("vectors file")).expect("valid vectors");
            (net, vectors)
        }
        _ => (quiver::bundled::model(), quiver::bundled::vectors()),
    };
    let mut names = vec!["smt-bv", "smt-lia"];
    if backend::by_name("milp").is_some() {
        names.push("milp");
    }
    let opts = BackendOptions { time_limit: Some(Duration::from_secs(limit)), threads: 1 };
    println!(
        "model `{}` ({} parameters), time limit {limit} s per backend and instance",
        net.name(),
        net.parameter_count()
    );
    println!();
    print!("| input | label | ε | bounds |");
    for n in &names {
        print!(" {n} verdict | {n} s | {n} size |");
    }
    println!();
    print!("|---|---|---|---|");
    for _ in &names {
        print!("---|---|---|");
    }
    println!();
    let t0 = Instant::now();
    for (k, x) in vectors.inputs.iter().take(inputs).enumerate() {
        let label = vectors.labels.get(k).copied().unwrap_or_else(|| quiver::net::exec::argmax(&vectors.outputs[k]));
        for &e in &eps {
            let spec = match robustness(&net, x, Radius::Integer(e), label, TieRule::AnyTieUnsafe) {
                Ok(s) => s,
                Err(err) => {
                    println!("| {k} | {label} | {e} | spec error: {err} |");
                    continue;
                }
            };
            let a = analyze(&net, &spec, Method::Interval);
            let status = match &a.status {
                SpecStatus::Unreachable => "verified".to_string(),
                SpecStatus::AlwaysUnsafe(_) => "falsified".to_string(),
                SpecStatus::Open(o) => format!("{} open", o.len()),
            };
            print!("| {k} | {label} | {e} | {status} |");
            let query = Query { net: &net, spec: &spec, bounds: &a.bounds };
            for n in &names {
                let b = backend::by_name(n).expect("listed");
                let t = Instant::now();
                let (v, s) = b.solve(&query, &opts);
                let secs = t.elapsed().as_secs_f64();
                let verdict = match &v {
                    Verdict::Unknown { reason } => format!("unknown ({})", reason.chars().take(40).collect::<String>()),
                    other => other.name().to_string(),
                };
                let size = match s.extra.get("smt2_bytes") {
                    Some(bytes) => format!("{} asserts, {:.0} KiB", s.constraints, bytes / 1024.0),
                    None => format!("{} vars, {} cons", s.variables, s.constraints),
                };
                print!(" {verdict} | {secs:.2} | {size} |");
            }
            println!();
        }
    }
    println!();
    println!("total {:.1} s", t0.elapsed().as_secs_f64());
}
