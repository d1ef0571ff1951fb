//! The branch-and-bound backend (`--backend bab`) against ground truth: exhaustive enumeration
//! on random tiny networks of every node kind (sequences and graphs); the constrained symbolic
//! propagation it relies on (enumerated executions inside the split ranges stay inside the
//! bounds, and an "infeasible" answer admits no execution); exact neuron splits; coverage of the
//! box by the closed domains; agreement with the MILP backend; the time limit and interrupts.
//!
//! `QUIVER_BAB_CASES=N` runs N random instances instead of the default.

use quiver::backend::bab::domain::{self, neuron_act, pre_activations, split_neuron, Domain, PreRange};
use quiver::backend::bab::{Bab, BabOptions, Closed, Leaf};
use quiver::backend::milp::Milp;
use quiver::backend::{Backend, BackendOptions, Query};
use quiver::bounds::symbolic::Symbolic;
use quiver::bounds::{self, Interval, Method};
use quiver::budget::Budget;
use quiver::net::form::Form;
use quiver::net::{exec, Network};
use quiver::spec::{InputBox, Spec};
use quiver::testgen::{self, GenConfig};
use quiver::verdict::Verdict;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

fn cases(default: usize) -> usize {
    std::env::var("QUIVER_BAB_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn opts(threads: usize) -> BackendOptions {
    BackendOptions::new(Some(Duration::from_secs(120)), threads)
}

/// The variants exercised by the tests: the default, and each non-default choice once.
fn variants() -> Vec<(&'static str, BabOptions)> {
    [
        "bab",
        "bab:milp=none",
        "bab:milp=none+choose=widest+at=mid",
        "bab:milp=none+order=depth+tree=each",
        "bab:milp=none+outputs=yes",
        "bab:milp=1",
        "bab:sb=4+root=0.2",
        "bab:milp=none+sb=3",
        "bab:race=yes+milp=none",
        "bab:race=yes",
    ]
    .into_iter()
    .map(|n| (n, BabOptions::from_name(n).expect("a valid variant name")))
    .collect()
}

fn affine_nodes(net: &Network) -> Vec<usize> {
    (0..net.forms().len()).filter(|&i| matches!(net.form(i), Form::Affine(_))).collect()
}

fn check(net: &Network, spec: &Spec, bab: Bab, threads: usize, what: &str) -> Verdict {
    let a = bounds::analyze(net, spec, Method::Symbolic);
    let q = Query { net, spec, bounds: &a.bounds };
    let (v, stats) = bab.solve(&q, &opts(threads));
    let truth = testgen::enumerate_violation(net, spec);
    match (&v, &truth) {
        (Verdict::Verified, None) => {}
        (Verdict::Falsified { witness }, Some(_)) => {
            assert!(spec.input.contains(witness.input()), "{what}: witness outside the box");
            assert!(spec.is_unsafe(&exec::run(net, witness.input()).unwrap()), "{what}: witness does not replay");
        }
        _ => panic!(
            "{what}: bab says {v:?}, enumeration finds {truth:?}\nnet: {}\nspec: {spec:?}\nstats: {stats:?}",
            quiver::net::format::to_json(net)
        ),
    }
    v
}

/// Verdicts agree with enumeration on random tiny networks of every node kind (graphs
/// included), rescale kind, rounding mode and bit width, for every variant, on one and two
/// threads.
#[test]
fn random_networks_match_enumeration() {
    let n = cases(300);
    let mut rng = ChaCha8Rng::seed_from_u64(0xbab_0001);
    let cfg = GenConfig::default();
    let vs = variants();
    let (mut safe, mut unsafe_, mut graphs) = (0, 0, 0);
    for case in 0..n {
        let net = testgen::network(&mut rng, &cfg);
        graphs += usize::from(!net.is_sequential());
        let input = testgen::input_box(&mut rng, &net, 300);
        let spec = testgen::spec(&mut rng, &net, input);
        let (name, o) = vs[case % vs.len()];
        match check(&net, &spec, Bab { opts: o }, 1 + case % 2, &format!("case {case} ({name})")) {
            Verdict::Verified => safe += 1,
            _ => unsafe_ += 1,
        }
    }
    eprintln!("{n} cases ({graphs} graphs): {safe} verified, {unsafe_} falsified");
    assert!(safe > n / 10 && unsafe_ > n / 10, "the generator must produce both outcomes");
    assert!(graphs > n / 10, "too few graphs");
}

/// Dense-only networks with wider boxes, keeping the cases where the root bounds and the
/// candidates at the root do not decide, so the tree has to split neurons and inputs: checked
/// against enumeration until `n` such trees were seen.
#[test]
fn deeper_trees_match_enumeration() {
    let n = cases(80);
    let mut rng = ChaCha8Rng::seed_from_u64(0xbab_0002);
    let cfg = GenConfig { images: false, max_dense: 3, min_bits: 3, max_bits: 6, graphs: 0.2 };
    let vs = variants();
    let (mut trees, mut attempts) = (0, 0);
    while trees < n && attempts < 40 * n {
        attempts += 1;
        let net = testgen::network(&mut rng, &cfg);
        let input = testgen::input_box(&mut rng, &net, 4000);
        let spec = testgen::spec(&mut rng, &net, input);
        let (name, o) = vs[attempts % vs.len()];
        let a = bounds::analyze(&net, &spec, Method::Symbolic);
        let q = Query { net: &net, spec: &spec, bounds: &a.bounds };
        // (a race may be decided by the MILP before the tree grows: count trees without it)
        let probe = Bab { opts: BabOptions { race: false, ..o } };
        let (_, stats) = probe.solve(&q, &opts(1));
        if stats.extra.get("domains").copied().unwrap_or(0.0) <= 1.0 {
            continue;
        }
        trees += 1;
        check(&net, &spec, Bab { opts: o }, 1 + trees % 2, &format!("attempt {attempts} ({name})"));
    }
    assert_eq!(trees, n, "only {trees} trees in {attempts} attempts");
}

/// Random pre-activation ranges inside an affine node's computed bounds: every execution whose
/// pre-activations lie in them stays inside the constrained bounds (every tensor and
/// pre-activation), and when the propagation answers "infeasible" no execution of the box
/// satisfies them.
#[test]
fn constrained_propagation_is_sound() {
    let n = cases(400);
    let mut rng = ChaCha8Rng::seed_from_u64(0xbab_0003);
    let cfg = GenConfig::default();
    let (mut checked, mut infeasible, mut admitted_total) = (0usize, 0usize, 0usize);
    for case in 0..n {
        let net = testgen::network(&mut rng, &cfg);
        let input = testgen::input_box(&mut rng, &net, 400);
        let root = Symbolic::new(&net, &input);
        let nodes = affine_nodes(&net);
        let mut splits = Vec::new();
        for _ in 0..rng.gen_range(1..=3) {
            let Some(&l) = nodes.get(rng.gen_range(0..nodes.len().max(1))) else { break };
            let pre = root.bounds().layers[l].pre.as_ref().unwrap();
            let k = rng.gen_range(0..pre.len());
            let a = pre[k];
            let lo = rng.gen_range(a.lo..=a.hi);
            let hi = rng.gen_range(lo..=a.hi);
            splits.push(PreRange { node: l, neuron: k, range: Interval::new(lo, hi) });
        }
        let d = Domain { input: input.clone(), splits, open: vec![], depth: 0, margin: 0.0, milp_off: false };
        let sym = Symbolic::with_constraints(&net, &input, &d.constraints(&net));
        let mut admitted = 0;
        for x in testgen::points(&input) {
            let pre = pre_activations(&net, &x).unwrap();
            if !d.admits(&x, &pre) {
                continue;
            }
            admitted += 1;
            let Some(s) = &sym else {
                panic!("case {case}: infeasible, but {x:?} satisfies the ranges {:?}", d.splits)
            };
            let b = s.bounds();
            let t = exec::trace(&net, &x).unwrap();
            for (i, lb) in b.layers.iter().enumerate() {
                for (j, (&v, r)) in t[i + 1].iter().zip(&lb.out).enumerate() {
                    assert!(r.contains(v), "case {case}: node {i} value {j} = {v} outside {r:?}");
                }
                if let (Some(pb), Some(pv)) = (&lb.pre, &pre[i]) {
                    for (j, (&v, r)) in pv.iter().zip(pb).enumerate() {
                        assert!(r.contains(v), "case {case}: node {i} pre {j} = {v} outside {r:?}");
                    }
                }
            }
            // the atoms' bounds too (what closes domains)
            let y = t.last().unwrap();
            for terms in [vec![(0usize, 1i64)], vec![(0, 1), (y.len() - 1, -2)]] {
                let (lo, hi) = s.linear_range(&terms);
                let v: i128 = terms.iter().map(|&(j, c)| i128::from(c) * i128::from(y[j])).sum();
                assert!(lo <= v && v <= hi, "case {case}: {terms:?} = {v} outside [{lo}, {hi}]");
            }
            checked += 1;
        }
        admitted_total += admitted;
        infeasible += usize::from(sym.is_none());
    }
    eprintln!("{n} cases: {checked} executions checked, {infeasible} infeasible domains");
    assert!(checked > 1000 && admitted_total > 0, "too few executions inside the random ranges");
    assert!(infeasible > 0, "no random range was proven infeasible");
}

/// A neuron split divides the pre-activation range exactly: `f ≤ k` on the left part,
/// `f ≥ k + 1` on the right, and together they are the range.
#[test]
fn neuron_splits_partition_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xbab_0004);
    let cfg = GenConfig::default();
    let mut checked = 0;
    for _ in 0..300 {
        let net = testgen::network(&mut rng, &cfg);
        let root = Symbolic::new(&net, &testgen::input_box(&mut rng, &net, 1 << 40));
        for i in affine_nodes(&net) {
            let pre = root.bounds().layers[i].pre.as_ref().unwrap();
            let k = rng.gen_range(0..pre.len());
            let Some(f) = neuron_act(&net, i, k) else { continue };
            let (alo, ahi) = (pre[k].lo, pre[k].hi);
            let a = rng.gen_range(alo..=ahi);
            let b = (a + rng.gen_range(0..3000)).min(ahi);
            let range = Interval::new(a, b);
            let (ylo, yhi) = (f.apply(a), f.apply(b));
            if ylo == yhi {
                assert!(split_neuron(&net, i, k, range, ylo).is_none());
                continue;
            }
            let kk = rng.gen_range(ylo..yhi);
            let (left, right) = split_neuron(&net, i, k, range, kk).expect("k divides the range");
            assert_eq!((left.range.lo, right.range.hi), (a, b));
            assert_eq!(left.range.hi + 1, right.range.lo);
            for p in a..=b {
                let y = f.apply(p);
                assert_eq!(y <= kk, left.range.contains(p), "pre {p}: y = {y}, k = {kk}");
            }
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked}");
}

/// On verified queries the closed domains cover the box: every execution is admitted by a
/// closed domain (the tree's leaves), and domains closed as infeasible admit none. Runs until
/// `n` verified queries with more than one leaf were checked.
#[test]
fn closed_domains_cover_the_box() {
    let n = cases(40);
    let mut rng = ChaCha8Rng::seed_from_u64(0xbab_0005);
    let cfg = GenConfig { images: false, max_dense: 3, min_bits: 3, max_bits: 6, graphs: 0.2 };
    // (a race may be won by the MILP before the tree is complete)
    let vs: Vec<_> = variants().into_iter().filter(|(_, o)| !o.race).collect();
    let (mut trees, mut attempts, mut leaves_seen, mut infeasible) = (0, 0, 0, 0);
    while trees < n && attempts < 100 * n {
        attempts += 1;
        let (name, o) = vs[attempts % vs.len()];
        let net = testgen::network(&mut rng, &cfg);
        let input = testgen::input_box(&mut rng, &net, 2000);
        let spec = testgen::spec(&mut rng, &net, input);
        let a = bounds::analyze(&net, &spec, Method::Symbolic);
        let q = Query { net: &net, spec: &spec, bounds: &a.bounds };
        let (v, _, leaves) = Bab { opts: o }.run(&q, &opts(1), true);
        if !matches!(v, Verdict::Verified) || leaves.len() < 2 {
            continue;
        }
        trees += 1;
        leaves_seen += leaves.len();
        infeasible += leaves.iter().filter(|l| l.why == Closed::Infeasible).count();
        for x in testgen::points(&spec.input) {
            let pre = pre_activations(&net, &x).unwrap();
            let holders: Vec<&Leaf> = leaves.iter().filter(|l| l.domain.admits(&x, &pre)).collect();
            assert!(!holders.is_empty(), "attempt {attempts} ({name}): {x:?} is in no closed domain");
            for l in holders {
                assert_ne!(
                    l.why,
                    Closed::Infeasible,
                    "attempt {attempts} ({name}): {x:?} is in an 'infeasible' domain"
                );
            }
        }
    }
    eprintln!("{trees} trees, {leaves_seen} leaves ({infeasible} infeasible) in {attempts} attempts");
    assert_eq!(trees, n, "only {trees} verified trees in {attempts} attempts");
}

/// Where the MILP backend and bab both decide, on dense networks too large to enumerate, they
/// agree; witnesses replay.
#[test]
fn agrees_with_milp() {
    let n = cases(60);
    let mut rng = ChaCha8Rng::seed_from_u64(0xbab_0006);
    let cfg = GenConfig { images: false, max_dense: 3, min_bits: 4, max_bits: 8, graphs: 0.2 };
    let mut both = 0;
    for case in 0..n {
        let net = testgen::network(&mut rng, &cfg);
        let t = net.input_info().quant.dtype;
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        for _ in 0..net.input_len() {
            let c = rng.gen_range(t.min()..=t.max());
            let e = rng.gen_range(0..=6);
            lo.push((c - e).max(t.min()));
            hi.push((c + e).min(t.max()));
        }
        let spec = testgen::spec(&mut rng, &net, InputBox { lo, hi });
        let a = bounds::analyze(&net, &spec, Method::Symbolic);
        let q = Query { net: &net, spec: &spec, bounds: &a.bounds };
        let o = BackendOptions::new(Some(Duration::from_secs(20)), 1);
        let (vb, _) = Bab::default().solve(&q, &o);
        let o = BackendOptions::new(Some(Duration::from_secs(20)), 1);
        let (vm, _) = Milp.solve(&q, &o);
        match (&vb, &vm) {
            (Verdict::Verified, Verdict::Falsified { .. }) | (Verdict::Falsified { .. }, Verdict::Verified) => {
                panic!("case {case}: bab {vb:?} vs milp {vm:?}")
            }
            (Verdict::Unknown { .. }, _) | (_, Verdict::Unknown { .. }) => {}
            _ => both += 1,
        }
        if let Verdict::Falsified { witness } = &vb {
            assert!(spec.is_unsafe(&exec::run(&net, witness.input()).unwrap()));
        }
    }
    assert!(both > n / 2, "only {both} of {n} decided by both");
}

/// The pipeline's `--backend all --crosscheck` runs bab next to the other backends; no
/// contradictions on random networks.
#[test]
fn crosscheck_includes_bab() {
    use quiver::verify::{verify, Options};
    assert!(quiver::backend::available().contains(&"bab"));
    let mut rng = ChaCha8Rng::seed_from_u64(0xbab_0007);
    let cfg = GenConfig::default();
    let o = Options {
        backends: vec!["all".into()],
        crosscheck: true,
        time_limit: Some(Duration::from_secs(60)),
        ..Options::default()
    };
    for case in 0..30 {
        let net = testgen::network(&mut rng, &cfg);
        let input = testgen::input_box(&mut rng, &net, 200);
        let spec = testgen::spec(&mut rng, &net, input);
        let r = verify(&net, &spec, &o);
        assert!(r.disagreement.is_none(), "case {case}: {:?}", r.disagreement);
        assert!(r.stats.backends.iter().any(|b| b.backend == "bab"), "case {case}: bab did not run");
    }
}

fn hard_query(net: &Network) -> Spec {
    let x: Vec<i64> = (0..784).map(|i| ((i * 37) % 256) as i64).collect();
    let label = exec::argmax(&exec::run(net, &x).unwrap());
    quiver::spec::robust::robustness(
        net,
        &x,
        quiver::spec::robust::Radius::Integer(40),
        label,
        quiver::spec::robust::TieRule::FirstIndex,
    )
    .unwrap()
}

/// A time limit is honoured and reported as a typed time-out, with and without the race.
#[test]
fn time_limit_is_reported() {
    let net = testgen::aaai_like_network(3);
    let spec = hard_query(&net);
    let a = bounds::analyze(&net, &spec, Method::Symbolic);
    let q = Query { net: &net, spec: &spec, bounds: &a.bounds };
    for name in ["bab", "bab:race=yes", "bab:milp=none"] {
        let bab = Bab { opts: BabOptions::from_name(name).unwrap() };
        let t = Instant::now();
        let (v, _) = bab.solve(&q, &BackendOptions::new(Some(Duration::from_millis(300)), 1));
        assert!(t.elapsed() < Duration::from_secs(3), "{name} took {:?}", t.elapsed());
        match v {
            Verdict::Unknown { reason } => assert_eq!(reason.kind(), "time_limit", "{name}: {reason}"),
            Verdict::Falsified { .. } => {} // decided quickly: nothing to time out
            Verdict::Verified => panic!("{name}: a 784-input box of radius 40 should not verify in 0.3 s"),
        }
    }
}

/// An explicit stop of the budget (Ctrl-C, a portfolio's first answer) ends the run promptly as
/// `interrupted`, the leaf MILPs included.
#[test]
fn an_explicit_stop_interrupts() {
    let net = testgen::aaai_like_network(3);
    let spec = hard_query(&net);
    let a = bounds::analyze(&net, &spec, Method::Symbolic);
    let q = Query { net: &net, spec: &spec, bounds: &a.bounds };
    for name in ["bab:milp=0", "bab:race=yes"] {
        let bab = Bab { opts: BabOptions::from_name(name).unwrap() };
        let budget = Budget::unlimited();
        let b = budget.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            b.stop();
        });
        let t = Instant::now();
        let (v, _) = bab.solve(&q, &BackendOptions { threads: 1, budget });
        stopper.join().unwrap();
        assert!(t.elapsed() < Duration::from_secs(3), "{name} took {:?}", t.elapsed());
        match v {
            Verdict::Unknown { reason } => assert_eq!(reason.kind(), "interrupted", "{name}: {reason}"),
            Verdict::Falsified { .. } => {}
            Verdict::Verified => panic!("{name}: verified a hard query in 0.3 s"),
        }
    }
}

#[test]
fn variant_names_parse() {
    assert_eq!(BabOptions::from_name("bab"), Some(BabOptions::default()));
    assert!(BabOptions::from_name("bab:choose=widest+order=depth").is_some());
    assert!(BabOptions::from_name("bab:nonsense=1").is_none());
    assert!(BabOptions::from_name("bab:root=2").is_none());
    assert!(BabOptions::from_name("babx").is_none());
    assert!(quiver::backend::by_name("bab:at=mid").is_some());
    assert!(quiver::backend::by_name("bab:milp=x").is_none());
    let _ = domain::split_input;
}
