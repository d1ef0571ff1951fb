//! Whole disjunction vs one check per disjunct in the SMT backends, on random networks
//! (`quiver::testgen`) with robustness queries (all disjuncts open: interval bounds, full DNF).
//! Prints per-logic totals: decided, agreement, solve seconds.
//!
//! `cargo run --release --example smt_split -- [CASES] [MAX_POINTS] [TIME_LIMIT_S] [SEED]`

use quiver::backend::smt::{Logic, SmtBackend};
use quiver::backend::{Backend, BackendOptions, Query};
use quiver::bounds::{analyze, Method};
use quiver::spec::robust::{robustness, Radius, TieRule};
use quiver::testgen;
use quiver::verify::Verdict;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cases: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(40);
    let max_points: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1e9);
    let limit: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let opts = || BackendOptions::new(Some(Duration::from_secs(limit)), 1);
    let cfg = testgen::GenConfig { images: true, max_dense: 3, min_bits: 4, max_bits: 8, graphs: 0.0 };
    // [logic][whole, split] = (decided, seconds)
    let mut tot = [[(0usize, 0.0f64); 2]; 2];
    let mut disagree = 0;
    let mut n = 0;
    let mut kinds = [0usize; 2];
    while n < cases {
        let net = testgen::network(&mut rng, &cfg);
        if net.output_len() < 3 {
            continue;
        }
        let t = net.input_info().quant.dtype;
        let center: Vec<i64> = (0..net.input_len()).map(|_| rng.gen_range(t.min()..=t.max())).collect();
        let eps = rng.gen_range(1..=((t.max() - t.min()) / 4).max(1));
        let Ok(y) = quiver::net::exec::run(&net, &center) else { continue };
        let label = quiver::net::exec::argmax(&y);
        let Ok(spec) = robustness(&net, &center, Radius::Integer(eps), label, TieRule::AnyTieUnsafe) else { continue };
        if spec.input.volume() as f64 > max_points || (spec.input.volume() as f64) < 1e4 {
            continue;
        }
        n += 1;
        let a = analyze(&net, &spec, Method::Interval);
        let query = Query { net: &net, spec: &spec, bounds: &a.bounds };
        let mut line = format!(
            "case {n}: {} inputs, {} disjuncts, 2^{:.1} points:",
            net.input_len(),
            spec.unsafe_dnf.len(),
            (spec.input.volume() as f64).log2()
        );
        for (li, logic) in [Logic::Bv, Logic::Lia].into_iter().enumerate() {
            let mut verdicts = Vec::new();
            for (si, per_disjunct) in [false, true].into_iter().enumerate() {
                let b = SmtBackend { per_disjunct, ..SmtBackend::new(logic) };
                let t0 = Instant::now();
                let (v, _) = b.solve(&query, &opts());
                let s = t0.elapsed().as_secs_f64();
                if !matches!(v, Verdict::Unknown { .. }) {
                    tot[li][si].0 += 1;
                }
                tot[li][si].1 += s;
                line += &format!(" {logic:?}/{}={} {s:.2}s", if per_disjunct { "split" } else { "whole" }, v.name());
                verdicts.push(v.name());
            }
            if verdicts[0] != verdicts[1] && !verdicts.contains(&"unknown") {
                disagree += 1;
            }
            if li == 0 {
                match verdicts[0] {
                    "verified" => kinds[0] += 1,
                    "falsified" => kinds[1] += 1,
                    _ => {}
                }
            }
        }
        println!("{line}");
    }
    println!();
    println!(
        "{n} cases ({} verified, {} falsified by Bv/whole), time limit {limit} s, verdict contradictions: {disagree}",
        kinds[0], kinds[1]
    );
    for (li, name) in ["smt-bv", "smt-lia"].iter().enumerate() {
        for (si, mode) in ["whole", "per disjunct"].iter().enumerate() {
            println!("- {name} {mode}: {} decided, {:.1} s", tot[li][si].0, tot[li][si].1);
        }
    }
}
