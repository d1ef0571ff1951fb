//! The complete backends side by side on the same robustness queries: smt-bv vs smt-lia (and
//! milp), verdict, time and size, one run, Markdown table on stdout.
//!
//! ```text
//! cargo run --release --example smt_table -- [INPUTS] [TIME_LIMIT_S] [EPS,EPS,...] [MODEL [DATA [LABELS]]]
//! ```
//!
//! `INPUTS` is a count (the first N inputs) or a comma-separated list of indices (`175,264`).
//! `MODEL` is anything `quiver` loads (quiver JSON, ONNX, Keras fixed-point .h5); `DATA` is a
//! vectors JSON (`quiver::bundled::Vectors`) or an MNIST IDX image file (optionally gzipped),
//! with the labels of the IDX label file `LABELS` (default: the predicted class). Default: the
//! bundled model and vectors.
//!
//! Each query is what `quiver verify` hands its backend: the robustness spec with only the
//! disjuncts that symbolic bounds leave open (queries that bounds decide are listed, not solved).
//! `QUIVER_TABLE_BACKENDS` (comma-separated) picks the columns; besides backend names,
//! `smt-bv-whole` / `smt-lia-whole` are the SMT backends checking the whole disjunction at once
//! instead of one disjunct at a time. Default: `smt-bv,smt-lia,milp`.

use quiver::backend::smt::{Logic, SmtBackend};
use quiver::backend::{self, Backend, BackendOptions, Query};
use quiver::bounds::{analyze, Method, SpecStatus};
use quiver::spec::robust::{robustness, Radius, TieRule};
use quiver::spec::Spec;
use quiver::verify::Verdict;
use std::path::Path;
use std::time::{Duration, Instant};

fn column(name: &str) -> Box<dyn Backend> {
    match name {
        "smt-bv-whole" | "smt-lia-whole" => {
            let logic = if name.starts_with("smt-bv") { Logic::Bv } else { Logic::Lia };
            Box::new(SmtBackend { per_disjunct: false, ..SmtBackend::new(logic) })
        }
        other => backend::by_name(other).unwrap_or_else(|| panic!("unknown backend `{other}`")),
    }
}

/// (index, input, label) of the selected inputs of the DATA argument.
fn data(
    net: &quiver::net::Network,
    data: Option<&String>,
    labels: Option<&String>,
    pick: &[usize],
) -> Vec<(usize, Vec<i64>, usize)> {
    let label_of = |x: &[i64]| quiver::net::exec::argmax(&quiver::net::exec::run(net, x).expect("input runs"));
    let (inputs, given): (Vec<Vec<i64>>, Vec<usize>) = match data {
        None => {
            let v = quiver::bundled::vectors();
            (v.inputs, v.labels)
        }
        Some(p) if p.ends_with(".json") => {
            let v: quiver::bundled::Vectors =
                serde_json::from_str(&std::fs::read_to_string(p).expect("vectors file")).expect("valid vectors");
            (v.inputs, v.labels)
        }
        Some(p) => {
            let images = quiver::import::idx::load_images(Path::new(p)).expect("IDX images");
            let l = labels.map(|l| quiver::import::idx::load_labels(Path::new(l)).expect("IDX labels"));
            let xs = (0..images.len()).map(|k| images.input(k).expect("in range")).collect();
            (xs, l.map(|l| l.into_iter().map(usize::from).collect()).unwrap_or_default())
        }
    };
    pick.iter()
        .filter(|&&k| k < inputs.len())
        .map(|&k| (k, inputs[k].clone(), given.get(k).copied().unwrap_or_else(|| label_of(&inputs[k]))))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pick: Vec<usize> = match args.get(1) {
        Some(a) if a.contains(',') => a.split(',').map(|k| k.parse().expect("an index")).collect(),
        Some(a) => (0..a.parse().expect("a count")).collect(),
        None => (0..3).collect(),
    };
    let limit: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let eps: Vec<i64> =
        args.get(3).map(|s| s.split(',').filter_map(|e| e.parse().ok()).collect()).unwrap_or_else(|| vec![1, 2, 4]);
    let net = match args.get(4) {
        Some(m) => quiver::import::load_any(Path::new(m), None).expect("model loads"),
        None => quiver::bundled::model(),
    };
    let rows = data(&net, args.get(5), args.get(6), &pick);
    let names: Vec<String> = std::env::var("QUIVER_TABLE_BACKENDS")
        .unwrap_or_else(|_| "smt-bv,smt-lia,milp".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let opts = || BackendOptions::new(Some(Duration::from_secs(limit)), 1);
    println!(
        "model `{}` ({} parameters), time limit {limit} s per backend and query, symbolic bounds, open disjuncts only",
        net.name(),
        net.parameter_count()
    );
    println!();
    print!("| input | label | ε | bounds |");
    for n in &names {
        print!(" {n} | {n} s | {n} size |");
    }
    println!();
    print!("|---|---|---|---|");
    for _ in &names {
        print!("---|---:|---|");
    }
    println!();
    let t0 = Instant::now();
    let mut totals = vec![(0usize, 0.0f64); names.len()];
    for (k, x, label) in &rows {
        for &e in &eps {
            let spec = match robustness(&net, x, Radius::Integer(e), *label, TieRule::AnyTieUnsafe) {
                Ok(s) => s,
                Err(err) => {
                    println!("| {k} | {label} | {e} | spec error: {err} |");
                    continue;
                }
            };
            let a = analyze(&net, &spec, Method::Symbolic);
            let open = match &a.status {
                SpecStatus::Unreachable => {
                    println!("| {k} | {label} | {e} | verified |");
                    continue;
                }
                SpecStatus::AlwaysUnsafe(_) => {
                    println!("| {k} | {label} | {e} | falsified |");
                    continue;
                }
                SpecStatus::Open(o) => o.clone(),
            };
            print!("| {k} | {label} | {e} | {} of {} open |", open.len(), spec.unsafe_dnf.len());
            let reduced =
                Spec { unsafe_dnf: open.iter().map(|&j| spec.unsafe_dnf[j].clone()).collect(), ..spec.clone() };
            let query = Query { net: &net, spec: &reduced, bounds: &a.bounds };
            for (c, n) in names.iter().enumerate() {
                let b = column(n);
                let t = Instant::now();
                let (v, s) = b.solve(&query, &opts());
                let secs = t.elapsed().as_secs_f64();
                let verdict = match &v {
                    Verdict::Unknown { reason } => {
                        format!("unknown ({})", reason.to_string().chars().take(40).collect::<String>())
                    }
                    other => other.name().to_string(),
                };
                if !matches!(v, Verdict::Unknown { .. }) {
                    totals[c].0 += 1;
                }
                totals[c].1 += secs;
                let size = match s.extra.get("smt2_bytes") {
                    Some(bytes) => format!("{} asserts, {:.0} KiB", s.constraints, bytes / 1024.0),
                    None => format!("{} vars ({} bin), {} rows", s.variables, s.binaries, s.constraints),
                };
                print!(" {verdict} | {secs:.2} | {size} |");
            }
            println!();
        }
    }
    println!();
    for (n, (decided, secs)) in names.iter().zip(&totals) {
        println!("- {n}: {decided} decided, {secs:.1} s in total");
    }
    println!();
    println!("total {:.1} s", t0.elapsed().as_secs_f64());
}
