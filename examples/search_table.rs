//! Measurements for `benchmarks/search/README.md`.
//!
//! `cargo run --release --example search_table -- table [budget_ms]`: gradient search against
//! random sampling on the bundled model, robustness (untargeted) and per-class (targeted)
//! instances at ε ∈ {4, 8, 16, 32}, same time budget, one thread each.
//!
//! `cargo run --release --example search_table -- variants [testgen_instances]`: the search
//! variants (targeting, rounding, schedule, leak, forward rounding) on falsifiable
//! `testgen` instances and on the bundled model, under a fixed evaluation budget.

use quiver::net::{exec, Network};
use quiver::search::{random_sampling, search, Forward, Iterate, Schedule, SearchOptions, SearchResult, Targeting};
use quiver::spec::robust::{robustness, Radius, TieRule};
use quiver::spec::{Atom, Spec};
use quiver::testgen::{self, GenConfig};
use rand::SeedableRng;
use std::time::{Duration, Instant};

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let k = v.len();
    Some(if k % 2 == 1 { v[k / 2] } else { (v[k / 2 - 1] + v[k / 2]) / 2.0 })
}

fn fmt_ms(m: Option<f64>) -> String {
    m.map_or("–".into(), |s| format!("{:.1} ms", s * 1e3))
}

/// Robustness specs (one per vector, label = the model's own prediction) and targeted specs
/// (one per vector and other class: "class t scores at least the label").
fn bundled_instances(net: &Network, eps: i64) -> (Vec<Spec>, Vec<Spec>) {
    let v = vectors();
    let limit = std::env::var("QUIVER_LIMIT").ok().and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
    let (mut robust, mut targeted) = (Vec::new(), Vec::new());
    for x in v.inputs.iter().take(limit) {
        let Ok(y) = exec::run(net, x) else { continue };
        let label = exec::argmax(&y);
        let Ok(spec) = robustness(net, x, Radius::Integer(eps), label, TieRule::AnyTieUnsafe) else { continue };
        for t in (0..net.output_len()).filter(|&t| t != label) {
            let mut s = spec.clone();
            s.unsafe_dnf = vec![vec![Atom { terms: vec![(label, 1), (t, -1)], rhs: 0 }]];
            s.description = format!("targeted {label} → {t}, ε = {eps}");
            targeted.push(s);
        }
        robust.push(spec);
    }
    (robust, targeted)
}

/// The model: `$QUIVER_MODEL` (a JSON IR file) if set, else the bundled one.
fn model() -> Network {
    match std::env::var("QUIVER_MODEL") {
        Ok(p) => quiver::net::format::load(std::path::Path::new(&p)).expect("QUIVER_MODEL loads"),
        Err(_) => quiver::bundled::model(),
    }
}

/// Its vectors: `$QUIVER_VECTORS` if set, else the bundled ones.
fn vectors() -> quiver::bundled::Vectors {
    match std::env::var("QUIVER_VECTORS") {
        Ok(p) => {
            serde_json::from_str(&std::fs::read_to_string(p).expect("QUIVER_VECTORS readable")).expect("vectors JSON")
        }
        Err(_) => quiver::bundled::vectors(),
    }
}

fn timed(f: impl FnOnce() -> SearchResult) -> (SearchResult, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

fn table(budget_ms: u64) {
    let net = model();
    let v = vectors();
    let opts = SearchOptions { budget: Duration::from_millis(budget_ms), threads: 1, ..SearchOptions::default() };
    println!(
        "model: {} ({} vectors, source: {}), budget {budget_ms} ms per instance and method, 1 thread\n",
        net.name(),
        v.inputs.len(),
        v.source
    );
    println!("| ε | kind | instances | search found | search median time | search median evals | random found | random median time |");
    println!("|---|---|---|---|---|---|---|---|");
    for eps in [4, 8, 16, 32] {
        let (robust, targeted) = bundled_instances(&net, eps);
        let kinds: Vec<(&str, &Vec<Spec>)> = if std::env::var("QUIVER_TARGETED").is_ok() {
            vec![("robustness", &robust), ("targeted", &targeted)]
        } else {
            vec![("robustness", &robust)]
        };
        for (kind, specs) in kinds {
            let (mut fs, mut fr) = (0, 0);
            let (mut ts, mut tr, mut es) = (Vec::new(), Vec::new(), Vec::new());
            for spec in specs.iter() {
                let (r, t) = timed(|| search(&net, spec, &opts));
                if r.witness.is_some() {
                    fs += 1;
                    ts.push(t);
                    es.push(r.evaluations as f64);
                }
                let (r, t) = timed(|| random_sampling(&net, spec, &opts));
                if r.witness.is_some() {
                    fr += 1;
                    tr.push(t);
                }
            }
            let n = specs.len();
            println!(
                "| {eps} | {kind} | {n} | {fs} ({:.0}%) | {} | {} | {fr} ({:.0}%) | {} |",
                100.0 * fs as f64 / n.max(1) as f64,
                fmt_ms(median(&mut ts)),
                median(&mut es).map_or("–".into(), |e| format!("{e:.0}")),
                100.0 * fr as f64 / n.max(1) as f64,
                fmt_ms(median(&mut tr)),
            );
        }
    }
}

fn variants(instances: usize) {
    let base = SearchOptions {
        budget: Duration::from_secs(3600),
        restarts: 64,
        threads: 1,
        max_evaluations: Some(60),
        ..SearchOptions::default()
    };
    let d = SearchOptions::default();
    let mut list: Vec<(&str, SearchOptions)> = vec![
        ("default", base.clone()),
        ("untargeted", SearchOptions { targeting: Targeting::Untargeted, ..base.clone() }),
        ("per-disjunct", SearchOptions { targeting: Targeting::PerDisjunct, ..base.clone() }),
        ("integer iterate", SearchOptions { iterate: Iterate::Integer, ..base.clone() }),
        ("constant step", SearchOptions { schedule: Schedule::Constant, step_size: 0.25, ..base.clone() }),
        ("linear step", SearchOptions { schedule: Schedule::Linear, ..base.clone() }),
        ("step 0.25", SearchOptions { step_size: 0.25, ..base.clone() }),
        ("step 1.0", SearchOptions { step_size: 1.0, ..base.clone() }),
        ("leak 0", SearchOptions { leak: 0.0, ..base.clone() }),
        ("leak 0.2", SearchOptions { leak: 0.2, ..base.clone() }),
        ("real forward", SearchOptions { forward: Forward::Real, ..base.clone() }),
        ("steps 15", SearchOptions { steps: 15, ..base.clone() }),
        ("steps 100", SearchOptions { steps: 100, ..base.clone() }),
        ("patience 1000", SearchOptions { patience: 1000, ..base.clone() }),
    ];
    let _ = d;
    // Falsifiable testgen instances.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let mut tg = Vec::new();
    while tg.len() < instances {
        let net = testgen::network(&mut rng, &GenConfig::default());
        let b = testgen::input_box(&mut rng, &net, 2000);
        let spec = testgen::spec(&mut rng, &net, b);
        if testgen::enumerate_violation(&net, &spec).is_some() {
            tg.push((net, spec));
        }
    }
    // Bundled model, targeted instances at ε = 8 and 16 (falsifiable ones are not known in
    // advance; the counts compare variants on the same set).
    let net = model();
    let mut bm = Vec::new();
    for eps in [8, 16] {
        let (r, _) = bundled_instances(&net, eps);
        bm.extend(r);
    }
    println!("testgen: {} falsifiable instances (boxes of ≤ 2000 points); bundled: {} instances (ε 8, 16); budget 60 evaluations (testgen) / 400 (bundled)\n", tg.len(), bm.len());
    println!("| variant | testgen found | testgen mean evals (found) | bundled found | bundled mean evals (found) |");
    println!("|---|---|---|---|---|");
    let rand_row = |name: &str, f: &dyn Fn(&Network, &Spec, &SearchOptions) -> SearchResult, o: &SearchOptions| {
        let (mut f1, mut e1) = (0, 0u64);
        for (k, (net, spec)) in tg.iter().enumerate() {
            let r = f(net, spec, &SearchOptions { seed: k as u64, ..o.clone() });
            if r.witness.is_some() {
                f1 += 1;
                e1 += r.evaluations;
            }
        }
        let (mut f2, mut e2) = (0, 0u64);
        let o2 = SearchOptions { max_evaluations: Some(400), ..o.clone() };
        for (k, spec) in bm.iter().enumerate() {
            let r = f(&net, spec, &SearchOptions { seed: k as u64, ..o2.clone() });
            if r.witness.is_some() {
                f2 += 1;
                e2 += r.evaluations;
            }
        }
        println!(
            "| {name} | {f1}/{} | {:.1} | {f2}/{} | {:.1} |",
            tg.len(),
            e1 as f64 / f1.max(1) as f64,
            bm.len(),
            e2 as f64 / f2.max(1) as f64
        );
    };
    for (name, o) in list.drain(..) {
        rand_row(name, &search, &o);
    }
    rand_row("random sampling", &random_sampling, &base);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("variants") => variants(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300)),
        _ => table(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000)),
    }
}
