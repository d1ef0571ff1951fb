//! VNN-LIB reader, writer and the real/integer mapping: the VNN-COMP 2021 files, error positions,
//! fuzzing (never panics), writer round trips, and exact real-domain mapping.

use num_rational::BigRational;
use proptest::prelude::*;
use quiver::net::{Dense, Input, Layer, Network, QType, Quant, Requant, Rescale, Rounding};
use quiver::spec::real::{quantize_input, real_input_witness, to_spec, Domain};
use quiver::spec::vnnlib::{parse, write_integer, write_integer_with_outputs, RealAtom, Var, VnnLib, VnnLibError};
use quiver::spec::{Atom, InputBox, Spec, SpecError};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn rat(n: i64, d: i64) -> BigRational {
    BigRational::new(n.into(), d.into())
}

/// A one-layer network `n → m` (all-zero weights) with the given input and output quantization.
fn net(n: usize, m: usize, input: (QType, f64, i64), output: (f64, i64)) -> Network {
    let dense = Dense {
        in_features: n,
        out_features: m,
        weights: vec![0; n * m],
        weight_dtype: QType::INT8,
        weight_zero_point: vec![0],
        bias: vec![],
        requant: Requant {
            rescale: vec![Rescale::Dyadic { m: 1, shift: 0, rounding: Rounding::HalfEven }],
            relu: false,
        },
        output: Quant { dtype: QType::INT8, scale: output.0, zero_point: output.1 },
    };
    let (dtype, scale, zero_point) = input;
    Network::new(
        "test",
        Input { shape: vec![n], dtype, scale, zero_point, quantize: Default::default() },
        vec![Layer::Dense(dense)],
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The VNN-COMP 2021 benchmark files

fn shared_benchmarks() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/external/vnncomp2021/benchmarks");
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "the shared benchmark directory {} is missing: the VNN-COMP 2021 .vnnlib files cannot be checked \
         (set QUIVER_ALLOW_MISSING_SHARED=1 to skip)",
        dir.display()
    );
    if std::env::var("QUIVER_ALLOW_MISSING_SHARED").as_deref() == Ok("1") {
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    panic!("{msg}");
}

fn vnnlib_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            vnnlib_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "vnnlib") {
            out.push(p);
        }
    }
}

fn read(dir: &Path, rel: &str) -> VnnLib {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap();
    parse(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_vnncomp2021_file_parses() {
    let Some(dir) = shared_benchmarks() else { return };
    let mut files = Vec::new();
    vnnlib_files(&dir, &mut files);
    assert!(files.len() >= 34, "expected the 30 mnistfc and 4 test properties, found {}", files.len());
    let mut mnist = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let t0 = Instant::now();
        let v = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let dt = t0.elapsed();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("prop_") {
            continue;
        }
        mnist += 1;
        assert!(dt.as_secs_f64() < 2.0, "{name}: parsing took {dt:?}");
        // prop_<image>_<eps>.vnnlib, "; Mnist property with label: L."
        assert_eq!((v.n_inputs, v.n_outputs), (784, 10), "{name}");
        let label: usize = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("; Mnist property with label: "))
            .and_then(|l| l.trim_end_matches('.').trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}: no label comment"));
        let eps: f64 = name.trim_end_matches(".vnnlib").rsplit('_').next().unwrap().parse().unwrap();
        for (i, (l, u)) in v.input_bounds.iter().enumerate() {
            let (l, u) = (l.as_ref().unwrap(), u.as_ref().unwrap());
            let (lf, uf): (f64, f64) = (l.text.parse().unwrap(), u.text.parse().unwrap());
            assert!(0.0 <= lf && lf <= uf && uf <= 1.0, "{name}: input {i} bounds [{lf}, {uf}]");
            assert!(uf - lf <= 2.0 * eps + 1e-6, "{name}: input {i} bounds [{lf}, {uf}] wider than 2·{eps}");
        }
        assert_eq!(v.input_strict, vec![(false, false); 784]);
        // (or (and (>= Y_j Y_label)) …) for the 9 other classes: Y_label − Y_j ≤ 0.
        assert_eq!(v.output_dnf.len(), 9, "{name}");
        let others: Vec<usize> = (0..10).filter(|&j| j != label).collect();
        for (conj, &j) in v.output_dnf.iter().zip(&others) {
            let want = RealAtom {
                terms: vec![(Var::Y(label), rat(1, 1)), (Var::Y(j), rat(-1, 1))],
                rhs: rat(0, 1),
                strict: false,
            };
            assert_eq!(conj, &vec![want], "{name}");
        }
    }
    assert_eq!(mnist, 30);
    eprintln!("parsed {} VNN-COMP 2021 .vnnlib files ({mnist} mnistfc)", files.len());
}

#[test]
fn mnistfc_facts() {
    let Some(dir) = shared_benchmarks() else { return };
    // prop_0_0.03: label 8; first pixel [0.0, 0.029999999329447746] verbatim.
    let v = read(&dir, "mnistfc/prop_0_0.03.vnnlib");
    let (l, u) = (&v.input_bounds[0].0.as_ref().unwrap(), &v.input_bounds[0].1.as_ref().unwrap());
    assert_eq!((l.text.as_str(), u.text.as_str()), ("0.0", "0.029999999329447746"));
    assert_eq!(u.value, rat(29999999329447746, 1) / rat(1_000_000_000_000_000_000, 1));
    assert_eq!(v.output_dnf[0][0].to_string(), "Y_8 - Y_0 <= 0");
    assert_eq!(v.output_dnf[8][0].to_string(), "Y_8 - Y_9 <= 0");

    // Real domain through a uint8 input with scale 1/255: [0, 0.03] → [0, round(7.65)] = [0, 8].
    let n = net(784, 10, (QType::UINT8, 1.0 / 255.0, 0), (0.25, 0));
    let spec = to_spec(&v, &n, Domain::Real, "prop_0".into()).unwrap();
    assert_eq!((spec.input.lo[0], spec.input.hi[0]), (0, 8));
    assert_eq!(spec.unsafe_dnf.len(), 9);
    assert_eq!(spec.unsafe_dnf[0], vec![Atom { terms: vec![(8, 1), (0, -1)], rhs: 0 }]);
    for i in 0..784 {
        let (l, u) = (&v.input_bounds[i].0.as_ref().unwrap(), &v.input_bounds[i].1.as_ref().unwrap());
        let q = |t: &str| quantize_input(n.input(), t.parse::<f32>().unwrap());
        assert_eq!((spec.input.lo[i], spec.input.hi[i]), (q(&l.text), q(&u.text)));
    }
    // A witness for the box corner lies inside the real bounds and quantizes back.
    let w = real_input_witness(&n, &v, &spec.input.hi);
    for (i, x) in w.iter().enumerate() {
        let (l, u) = (&v.input_bounds[i].0.as_ref().unwrap(), &v.input_bounds[i].1.as_ref().unwrap());
        let xr = BigRational::from_float(*x).unwrap();
        assert!(l.value <= xr && xr <= u.value, "input {i}: {x}");
        assert_eq!(quantize_input(n.input(), *x as f32), spec.input.hi[i]);
    }
    // Integer domain: pixels boxes like [0.3, 0.36] hold no integer at all.
    let e = to_spec(&v, &n, Domain::Integer, "prop_0".into()).unwrap_err();
    assert!(matches!(e, SpecError::EmptyBox { lo, hi, .. } if lo == hi + 1), "{e}");

    // Labels checked by hand: prop_4 is a 2, prop_14 a 1.
    for (f, label) in [("mnistfc/prop_4_0.05.vnnlib", 2), ("mnistfc/prop_14_0.03.vnnlib", 1)] {
        let v = read(&dir, f);
        assert!(v.output_dnf.iter().all(|c| c.len() == 1 && c[0].terms[0] == (Var::Y(label), rat(1, 1))), "{f}");
        let others: Vec<usize> = v
            .output_dnf
            .iter()
            .map(|c| match c[0].terms[1].0 {
                Var::Y(j) => j,
                Var::X(_) => 99,
            })
            .collect();
        assert_eq!(others, (0..10).filter(|&j| j != label).collect::<Vec<_>>(), "{f}");
    }
}

#[test]
fn test_properties() {
    let Some(dir) = shared_benchmarks() else { return };
    let v = read(&dir, "test/test_prop.vnnlib");
    assert_eq!((v.n_inputs, v.n_outputs), (5, 5));
    let b = |i: usize| {
        let (l, u) = &v.input_bounds[i];
        (l.as_ref().unwrap().text.clone(), u.as_ref().unwrap().text.clone())
    };
    assert_eq!(b(0), ("-0.30353115613746867".to_string(), "-0.29855281193475053".to_string()));
    assert_eq!(b(4), ("0.3".to_string(), "0.5".to_string()));
    assert_eq!(v.output_dnf.len(), 1);
    let atoms: Vec<String> = v.output_dnf[0].iter().map(|a| a.to_string()).collect();
    assert_eq!(atoms, ["Y_0 - Y_1 <= 0", "Y_0 - Y_2 <= 0", "Y_0 - Y_3 <= 0", "Y_0 - Y_4 <= 0"]);

    // X bounds inside a one-disjunct `or`.
    for f in ["test/test_tiny.vnnlib", "test/test_small.vnnlib"] {
        let v = read(&dir, f);
        assert_eq!((v.n_inputs, v.n_outputs), (1, 1));
        assert_eq!(v.input_bounds[0].0.as_ref().unwrap().value, rat(-1, 1));
        assert_eq!(v.input_bounds[0].1.as_ref().unwrap().value, rat(1, 1));
        assert_eq!(v.output_dnf.len(), 1);
        assert_eq!(v.output_dnf[0][0].to_string(), "-Y_0 <= -100");
    }
    let v = read(&dir, "test/test_nano.vnnlib");
    assert_eq!(v.output_dnf[0][0].to_string(), "Y_0 <= -1");
    assert_eq!(v.input_bounds[0].0.as_ref().unwrap().text, "-1");
}

// ---------------------------------------------------------------------------------------------
// Errors, with positions

fn parse_err(text: &str) -> VnnLibError {
    match parse(text) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

fn check_err(text: &str, line: usize, column: usize, needle: &str) {
    let e = parse_err(text);
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(e.message.contains(needle), "`{}` does not mention `{needle}`", e.message);
    assert!(e.to_string().starts_with(&format!("line {line}, column {column}: ")));
}

const DECL: &str = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n";

#[test]
fn error_positions() {
    // Truncated: end of input at line 3, column 16.
    check_err(&format!("{DECL}(assert (<= X_0"), 3, 16, "end of input");
    check_err(&format!("{DECL}(assert (<= X_0 1)"), 3, 19, "unclosed");
    // Unbalanced.
    check_err(&format!("{DECL}(assert (<= X_0 1)))"), 3, 20, "unexpected `)`");
    // Unknown variable.
    check_err(&format!("{DECL}(assert (<= X_1 1))"), 3, 13, "undeclared variable `X_1`");
    check_err(&format!("{DECL}(assert (<= Y_0 foo))"), 3, 17, "unknown symbol `foo`");
    // Non-linear.
    check_err(&format!("{DECL}(assert (<= (* Y_0 Y_0) 1))"), 3, 13, "non-linear");
    check_err(&format!("{DECL}(assert (<= (/ 1 Y_0) 1))"), 3, 18, "non-linear");
    check_err(&format!("{DECL}(assert (<= (/ Y_0 0) 1))"), 3, 20, "division by zero");
    // Bad numbers.
    check_err(&format!("{DECL}(assert (<= Y_0 1.2.3))"), 3, 17, "invalid number `1.2.3`");
    check_err(&format!("{DECL}(assert (<= Y_0 1e))"), 3, 17, "invalid number");
    check_err(&format!("{DECL}(assert (<= Y_0 1e99999))"), 3, 17, "exponent out of range");
    // Mixed X/Y, general X constraints, X under a real `or`.
    check_err(&format!("{DECL}(assert (<= X_0 Y_0))"), 3, 9, "mixes inputs");
    let two = "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n";
    check_err(&format!("{two}(assert (<= (+ X_0 X_1) 1))"), 4, 9, "several inputs");
    check_err(&format!("{two}(assert (or (<= X_0 1) (<= X_1 1)))"), 4, 24, "constrain the inputs differently");
    check_err(&format!("{two}(assert (or (and (<= X_0 1) (<= Y_0 0)) (<= Y_0 5)))"), 4, 18, "differently");
    // Empty input and missing declarations.
    check_err("", 1, 1, "no input variables");
    check_err("; only a comment\n", 2, 1, "no input variables");
    check_err("(declare-const X_0 Real)", 1, 25, "no output variables");
    check_err("(declare-const X_0 Real)\n(declare-const X_2 Real)(declare-const Y_0 Real)", 2, 16, "X_1 is not");
    // Declarations.
    check_err(&format!("{DECL}(declare-const X_0 Real)"), 3, 16, "already declared");
    check_err("(declare-const X_0 Int)", 1, 20, "unknown sort `Int`");
    check_err("(declare-const Z Real)", 1, 16, "unsupported variable name");
    check_err("(declare-const X_01 Real)", 1, 16, "leading zeros");
    check_err("(declare-const X_0 Real)(declare-const X_0_1 Real)", 1, 40, "mixes single-index");
    // Commands and formulas.
    check_err(&format!("{DECL}(push 1)"), 3, 2, "unsupported command `push`");
    check_err(&format!("{DECL}(assert (not (<= Y_0 1)))"), 3, 10, "unsupported: `not`");
    check_err(&format!("{DECL}(assert Y_0)"), 3, 9, "expected a formula");
    check_err(&format!("{DECL}(assert (<= Y_0))"), 3, 9, "at least two arguments");
    check_err(&format!("{DECL}(assert ())"), 3, 9, "empty list");
    check_err(&format!("{DECL}X_0"), 3, 1, "expected a command");
    check_err(&format!("{DECL}(assert (<= (exp Y_0) 1))"), 3, 14, "unsupported function `exp`");
    check_err("(set-info :source |unterminated", 1, 19, "unterminated");
}

#[test]
fn resource_caps() {
    // Deep nesting: an error, not a stack overflow.
    let deep = format!("{DECL}(assert {}", "(".repeat(200_000));
    check_err(&deep, 3, 1008, "nested deeper");
    let deep_ok = format!("{DECL}(assert (<= Y_0 {}1{}))", "(+ ".repeat(900), ")".repeat(900));
    assert_eq!(parse(&deep_ok).unwrap().output_dnf[0][0].rhs, rat(1, 1));
    // DNF blow-up: 2^20 disjuncts.
    let ors = "(or (<= Y_0 1) (<= Y_0 2))".repeat(20);
    let e = parse_err(&format!("{DECL}(assert (and {ors}))"));
    assert!(e.message.contains("disjunctive normal form"), "{e}");
    // 2^12 is fine, also as a product of separate asserts; 2^17 across asserts is not.
    let ors = "(or (<= Y_0 1) (<= Y_0 2))".repeat(12);
    assert_eq!(parse(&format!("{DECL}(assert (and {ors}))")).unwrap().output_dnf.len(), 1 << 12);
    let asserts = "(assert (or (<= Y_0 1) (<= Y_0 2)))".repeat(12);
    assert_eq!(parse(&format!("{DECL}{asserts}")).unwrap().output_dnf.len(), 1 << 12);
    let asserts = "(assert (or (<= Y_0 1) (<= Y_0 2) (<= Y_0 3) (<= Y_0 4)))".repeat(9);
    let e = parse_err(&format!("{DECL}{asserts}"));
    assert!(e.message.contains("disjunctive normal form") && e.line == 3, "{e}");
    // A false conjunct short-circuits.
    assert!(parse(&format!("{DECL}(assert (and {} (or)))", "(or (<= Y_0 1) (<= Y_0 2))".repeat(30)))
        .unwrap()
        .output_dnf
        .is_empty());
}

#[test]
fn max_depth_fits_a_small_stack() {
    // Nesting at the cap (1000 open parentheses), in terms and in formulas, within a 2 MiB stack
    // (the default for spawned threads; the main thread has 8 MiB).
    let d = quiver::spec::vnnlib::MAX_DEPTH - 2;
    let term = format!("{DECL}(assert (<= Y_0 {}1{}))", "(- ".repeat(d), ")".repeat(d));
    let formula = format!("{DECL}(assert {}(<= Y_0 1){})", "(and ".repeat(d), ")".repeat(d));
    let mixed = format!("{DECL}(assert {}(<= Y_0 1){})", "(or (and ".repeat(d / 2), "))".repeat(d / 2));
    let h = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let sign = if d.is_multiple_of(2) { 1 } else { -1 };
            assert_eq!(parse(&term).unwrap().output_dnf[0][0].rhs, rat(sign, 1));
            assert_eq!(parse(&formula).unwrap().output_dnf.len(), 1);
            assert_eq!(parse(&mixed).unwrap().output_dnf.len(), 1);
            assert!(parse(&format!("{term})")).is_err());
        })
        .unwrap();
    h.join().unwrap();
}

#[test]
fn semantics_of_asserts() {
    // No output assertion: every output is a counterexample.
    let v = parse(&format!("{DECL}(assert (<= X_0 1))")).unwrap();
    assert_eq!(v.output_dnf, vec![Vec::<RealAtom>::new()]);
    // `(or)` is false: nothing is.
    let v = parse(&format!("{DECL}(assert (or))")).unwrap();
    assert!(v.output_dnf.is_empty());
    // Conjoined asserts distribute over the disjunctions.
    let v = parse(&format!("{DECL}(assert (or (<= Y_0 1) (>= Y_0 5)))(assert (or (<= Y_0 2) (> Y_0 3)))")).unwrap();
    let s: Vec<Vec<String>> = v.output_dnf.iter().map(|c| c.iter().map(|a| a.to_string()).collect()).collect();
    assert_eq!(
        s,
        [["Y_0 <= 1", "Y_0 <= 2"], ["Y_0 <= 1", "-Y_0 < -3"], ["-Y_0 <= -5", "Y_0 <= 2"], ["-Y_0 <= -5", "-Y_0 < -3"]]
    );
    // Identical input boxes under an `or` factor out (VNN-COMP 2022 layout).
    let v = parse(&format!(
        "{DECL}(assert (or (and (>= X_0 -1) (<= X_0 1) (<= Y_0 0)) (and (<= X_0 1) (>= X_0 -1.0) (>= Y_0 9))))"
    ))
    .unwrap();
    assert_eq!(v.output_dnf.len(), 2);
    assert_eq!(v.input_bounds[0].1.as_ref().unwrap().value, rat(1, 1));
    // Derived bounds: (* 4 X_0) <= 1 → X_0 <= 1/4 (text synthesized), (- 2 X_0) <= 0 → X_0 >= 2.
    let v =
        parse(&format!("{DECL}(assert (<= (* 4 X_0) 1))(assert (<= (- 2 X_0) 0))(assert (= Y_0 (/ 1 3)))")).unwrap();
    let (l, u) = (v.input_bounds[0].0.as_ref().unwrap(), v.input_bounds[0].1.as_ref().unwrap());
    assert_eq!((l.value.clone(), l.text.as_str()), (rat(2, 1), "2"));
    assert_eq!((u.value.clone(), u.text.as_str()), (rat(1, 4), "0.25"));
    assert_eq!(v.output_dnf[0].len(), 2);
    assert_eq!(v.output_dnf[0][0].rhs, rat(1, 3));
    // Derived non-decimal bound: text is the nearest binary32.
    let v = parse(&format!("{DECL}(assert (<= (* 3 X_0) 1))")).unwrap();
    let u = v.input_bounds[0].1.as_ref().unwrap();
    assert_eq!((u.value.clone(), u.text.parse::<f32>().unwrap()), (rat(1, 3), 1.0f32 / 3.0));
    // Ignored commands, declare-fun, quoted symbols and strings.
    let v = parse(
        "(set-logic QF_LRA)(set-info :source \"a (weird) \"\" string\")(declare-fun |X_0| () Real)\
         (declare-const Y_0 Real)(assert (<= |X_0| 1))(check-sat)(get-model)(exit)",
    )
    .unwrap();
    assert_eq!(v.input_bounds[0].1.as_ref().unwrap().text, "1");
}

// ---------------------------------------------------------------------------------------------
// Fuzzing: never panic

const SAMPLE: &str = "; test property\n\
(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const X_2 Real)\n\
(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n(declare-const Y_2 Real)\n\
(assert (<= X_0 -0.29855281193475053))\n(assert (>= X_0 -0.30353115613746867))\n\
(assert (and (<= X_1 0.5) (>= X_1 (- 0.25))))\n(assert (<= (* 2 X_2) 1e-1))\n\
(assert (or\n    (and (>= Y_0 Y_1) (< (+ Y_0 (* -0.5 Y_2)) 3))\n    (and (>= Y_2 Y_1))\n))\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
    }

    #[test]
    fn random_tokens_never_panic(toks in proptest::collection::vec(prop::sample::select(vec![
        "(", ")", "assert", "declare-const", "X_0", "Y_0", "X_1", "Real", "<=", ">=", "<", "and", "or", "+", "-", "*",
        "/", "0", "-1.5e3", "1e-400", ";", "\n", "|", "\"", "=", "true", "false", "X_0_0",
    ]), 0..80)) {
        let text = toks.join(" ");
        let _ = parse(&text);
    }

    #[test]
    fn mutations_never_panic(edits in proptest::collection::vec((0usize..3, any::<prop::sample::Index>(), any::<char>()), 1..8)) {
        let mut chars: Vec<char> = SAMPLE.chars().collect();
        for (kind, at, c) in edits {
            match kind {
                0 if !chars.is_empty() => { let i = at.index(chars.len()); chars.remove(i); }
                1 => { let i = at.index(chars.len() + 1); chars.insert(i, c); }
                _ if !chars.is_empty() => { let i = at.index(chars.len()); chars[i] = c; }
                _ => {}
            }
        }
        let text: String = chars.into_iter().collect();
        let _ = parse(&text);
    }

    #[test]
    fn structural_mutations_never_panic(edits in proptest::collection::vec((0usize..3, any::<prop::sample::Index>(), prop_oneof![
        Just('('), Just(')'), Just(' '), Just('-'), Just('.'), Just('e'), Just('0'), Just(';'), Just('\n'), Just('_'),
    ]), 1..6)) {
        let mut chars: Vec<char> = SAMPLE.chars().collect();
        for (kind, at, c) in edits {
            match kind {
                0 => { let i = at.index(chars.len()); chars.remove(i); }
                1 => { let i = at.index(chars.len() + 1); chars.insert(i, c); }
                _ => { let i = at.index(chars.len()); chars[i] = c; }
            }
        }
        let text: String = chars.into_iter().collect();
        if let Ok(v) = parse(&text) {
            // Anything accepted converts (or fails cleanly) in both domains.
            if v.n_inputs == 3 && v.n_outputs == 3 {
                let n = net(3, 3, (QType::INT8, 0.01, 0), (0.5, 3));
                let _ = to_spec(&v, &n, Domain::Real, String::new());
                let _ = to_spec(&v, &n, Domain::Integer, String::new());
            }
        }
    }
}

#[test]
fn sample_parses() {
    let v = parse(SAMPLE).unwrap();
    assert_eq!((v.n_inputs, v.n_outputs), (3, 3));
    assert_eq!(v.output_dnf.len(), 2);
    assert_eq!(v.output_dnf[0][1].to_string(), "Y_0 - 1/2·Y_2 < 3");
    assert_eq!(v.input_bounds[2].1.as_ref().unwrap().value, rat(1, 20));
    assert_eq!(v.input_bounds[1].0.as_ref().unwrap().text, "-0.25");
}

// ---------------------------------------------------------------------------------------------
// Writer round trip

const TYPES: [(u8, bool); 6] = [(8, true), (8, false), (4, true), (2, false), (16, true), (3, true)];

fn arb_case() -> impl Strategy<Value = (Spec, usize, usize)> {
    (1usize..6, 1usize..5, 0usize..TYPES.len()).prop_flat_map(|(n, m, t)| {
        let ty = QType::new(TYPES[t].0, TYPES[t].1).unwrap();
        let bounds = proptest::collection::vec((ty.min()..=ty.max(), ty.min()..=ty.max()), n);
        let coeff = prop_oneof![
            4 => (-5i64..=5).prop_filter("non-zero", |c| *c != 0),
            1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(1_000_000_007i64), Just(-3i64)],
        ];
        let rhs = prop_oneof![4 => -300i64..300, 1 => any::<i64>()];
        let atom = (
            Just(m).prop_flat_map(|m| Just((0..m).collect::<Vec<_>>()).prop_shuffle()),
            0usize..=m,
            proptest::collection::vec(coeff, m),
            rhs,
        )
            .prop_map(|(perm, k, cs, rhs)| Atom { terms: perm.into_iter().take(k).zip(cs).collect(), rhs });
        let dnf = proptest::collection::vec(proptest::collection::vec(atom, 0..4), 0..4);
        (bounds, dnf, "[a-z ]{0,12}").prop_map(move |(b, dnf, d)| {
            let lo = b.iter().map(|(x, y)| *x.min(y)).collect();
            let hi = b.iter().map(|(x, y)| *x.max(y)).collect();
            (Spec { input: InputBox { lo, hi }, unsafe_dnf: dnf, description: d }, t, m)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn writer_round_trip((spec, t, m) in arb_case()) {
        let ty = QType::new(TYPES[t].0, TYPES[t].1).unwrap();
        let n = spec.input.lo.len();
        let network = net(n, m, (ty, 0.1, 0), (0.5, 3));
        let text = write_integer_with_outputs(&spec, m, &format!("round trip\n{}", spec.description));
        let v = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let back = to_spec(&v, &network, Domain::Integer, spec.description.clone())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &spec);
        // Same truth on random outputs, also through the inferred-output writer when it declares m.
        let y: Vec<i64> = (0..m as i64).map(|j| j * 7 - 9).collect();
        prop_assert_eq!(back.is_unsafe(&y), spec.is_unsafe(&y));
        let mentions_last = spec.unsafe_dnf.iter().flatten().any(|a| a.terms.iter().any(|t| t.0 == m - 1));
        if mentions_last || m == 1 {
            let v2 = parse(&write_integer(&spec, "")).unwrap();
            prop_assert_eq!(v2, v);
        }
    }
}

#[test]
fn writer_round_trip_robustness() {
    let network = net(4, 3, (QType::INT8, 0.1, 0), (0.5, 3));
    let spec = quiver::spec::robust::robustness(
        &network,
        &[1, -2, 3, 127],
        quiver::spec::robust::Radius::Integer(2),
        1,
        quiver::spec::robust::TieRule::FirstIndex,
    )
    .unwrap();
    let text = write_integer(&spec, "robustness");
    let back = to_spec(&parse(&text).unwrap(), &network, Domain::Integer, spec.description.clone()).unwrap();
    assert_eq!(back, spec);
}

// ---------------------------------------------------------------------------------------------
// Real-domain mapping

#[test]
fn real_domain_exact() {
    // Output scale 0.5, zero point 3: Y = 0.5·(q − 3).
    let n = net(2, 2, (QType::INT8, 0.25, 1), (0.5, 3));
    let v = parse(
        "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)\
         (assert (>= X_0 -0.3))(assert (<= X_0 0.3))(assert (<= X_1 100))\
         (assert (or (and (<= Y_0 1.0)) (and (>= Y_0 Y_1)) (and (< Y_0 1.0)) (and (<= (* 3 Y_0) 1)) (and (> Y_1 -0.5))))",
    )
    .unwrap();
    let spec = to_spec(&v, &n, Domain::Real, "real".into()).unwrap();
    // X_0 ∈ [−0.3, 0.3] → round(−1.2) + 1 = 0, round(1.2) + 1 = 2; X_1 ≤ 100 → clamp 127; no lower → −128.
    assert_eq!(spec.input, InputBox { lo: vec![0, -128], hi: vec![2, 127] });
    let a = |terms: Vec<(usize, i64)>, rhs| vec![Atom { terms, rhs }];
    // 0.5(q0 − 3) ≤ 1 ⇔ q0 ≤ 5.
    assert_eq!(spec.unsafe_dnf[0], a(vec![(0, 1)], 5));
    // Y0 ≥ Y1 ⇔ q1 − q0 ≤ 0.
    assert_eq!(spec.unsafe_dnf[1], a(vec![(1, 1), (0, -1)], 0));
    // 0.5(q0 − 3) < 1 ⇔ q0 < 5 ⇔ q0 ≤ 4.
    assert_eq!(spec.unsafe_dnf[2], a(vec![(0, 1)], 4));
    // 1.5(q0 − 3) ≤ 1 ⇔ 3 q0 ≤ 11 ⇔ (dividing by the gcd 3 and flooring) q0 ≤ 3.
    assert_eq!(spec.unsafe_dnf[3], a(vec![(0, 1)], 3));
    // 0.5(q1 − 3) > −0.5 ⇔ −q1 < −2 ⇔ −q1 ≤ −3.
    assert_eq!(spec.unsafe_dnf[4], a(vec![(1, -1)], -3));
    // Exactness against the real semantics, on every integer output.
    for q0 in -128..=127i64 {
        for q1 in [-128, -1, 0, 1, 2, 3, 4, 5, 127] {
            let y = |q: i64| 0.5 * (q - 3) as f64;
            let real = [y(q0) <= 1.0, y(q0) >= y(q1), y(q0) < 1.0, 3.0 * y(q0) <= 1.0, y(q1) > -0.5];
            for (k, want) in real.iter().enumerate() {
                assert_eq!(spec.unsafe_dnf[k][0].holds(&[q0, q1]), *want, "atom {k} at ({q0}, {q1})");
            }
        }
    }
    // Integer domain on the same file: X_0 ∈ [−0.3, 0.3] → [0, 0]; Y atoms over integers.
    let spec = to_spec(&v, &n, Domain::Integer, "int".into()).unwrap();
    assert_eq!(spec.input, InputBox { lo: vec![0, -128], hi: vec![0, 100] });
    assert_eq!(spec.unsafe_dnf[0], a(vec![(0, 1)], 1));
    assert_eq!(spec.unsafe_dnf[2], a(vec![(0, 1)], 0));
    assert_eq!(spec.unsafe_dnf[3], a(vec![(0, 3)], 1));
    assert_eq!(spec.unsafe_dnf[4], a(vec![(1, -1)], 0));

    // Witness: q = (2, 127) inside [−0.3, 0.3] × (−∞, 100].
    let w = real_input_witness(&n, &v, &[2, 127]);
    assert_eq!(quantize_input(n.input(), w[0] as f32), 2);
    assert!((-0.3..=0.3).contains(&w[0]));
    assert_eq!(quantize_input(n.input(), w[1] as f32), 127);
    assert!(w[1] <= 100.0);
    // The grid point itself when it is inside: 0.25·(1 − 1) = 0.
    assert_eq!(real_input_witness(&n, &v, &[1, 0])[0], 0.0);
}

#[test]
fn real_domain_errors() {
    let n = net(2, 2, (QType::INT8, 0.25, 1), (0.5, 3));
    let head = "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)";
    // Wrong counts.
    let v = parse("(declare-const X_0 Real)(declare-const Y_0 Real)").unwrap();
    assert_eq!(to_spec(&v, &n, Domain::Real, String::new()), Err(SpecError::InputLength { got: 1, expected: 2 }));
    let v = parse("(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)").unwrap();
    let e = to_spec(&v, &n, Domain::Real, String::new()).unwrap_err();
    assert!(e.to_string().contains("declares 1 outputs"), "{e}");
    // Empty boxes.
    let v = parse(&format!("{head}(assert (>= X_0 2))(assert (<= X_0 1))")).unwrap();
    assert!(matches!(to_spec(&v, &n, Domain::Real, String::new()), Err(SpecError::Unsupported(_))));
    assert!(matches!(to_spec(&v, &n, Domain::Integer, String::new()), Err(SpecError::EmptyBox { index: 0, .. })));
    let v = parse(&format!("{head}(assert (>= X_0 100))")).unwrap(); // above int8 in the integer domain
    assert_eq!(to_spec(&v, &n, Domain::Real, String::new()).unwrap().input.lo[0], 127);
    let v = parse(&format!("{head}(assert (>= X_0 1000))")).unwrap();
    assert!(matches!(
        to_spec(&v, &n, Domain::Integer, String::new()),
        Err(SpecError::EmptyBox { index: 0, lo: 1000, hi: 127 })
    ));
    let v = parse(&format!("{head}(assert (> X_1 0.5))(assert (< X_1 1))")).unwrap();
    assert!(matches!(
        to_spec(&v, &n, Domain::Integer, String::new()),
        Err(SpecError::EmptyBox { index: 1, lo: 1, hi: 0 })
    ));
    // Not representable.
    let v = parse(&format!("{head}(assert (<= Y_0 1e40))")).unwrap();
    assert!(matches!(to_spec(&v, &n, Domain::Real, String::new()), Err(SpecError::NotRepresentable(_))));
    let v = parse(&format!("{head}(assert (<= (* 1e-30 Y_0) 1))")).unwrap();
    assert!(matches!(to_spec(&v, &n, Domain::Integer, String::new()), Err(SpecError::NotRepresentable(_))));
    // A constant atom keeps its truth value however large.
    let v = parse(&format!("{head}(assert (<= 0 1e40))")).unwrap();
    let s = to_spec(&v, &n, Domain::Real, String::new()).unwrap();
    assert!(s.is_unsafe(&[0, 0]));
}

#[test]
fn real_domain_scale_not_dyadic() {
    // Output scale 0.1 (not exact in binary): the atom uses the exact rational of the f64 scale,
    // and the gcd reduction keeps Y_0 ≥ Y_1 as q1 − q0 ≤ 0.
    let n = net(1, 2, (QType::UINT8, 1.0 / 255.0, 0), (0.1, -5));
    let v = parse("(declare-const X_0 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)(assert (or (>= Y_0 Y_1) (<= Y_1 0.3)))")
        .unwrap();
    let s = to_spec(&v, &n, Domain::Real, String::new()).unwrap();
    assert_eq!(s.input, InputBox { lo: vec![0], hi: vec![255] });
    assert_eq!(s.unsafe_dnf[0], vec![Atom { terms: vec![(1, 1), (0, -1)], rhs: 0 }]);
    // 0.1·(q1 + 5) ≤ 0.3 with the f64 0.1 (slightly above 1/10): q1 + 5 ≤ 2.9999… ⇒ q1 ≤ −3.
    assert_eq!(s.unsafe_dnf[1], vec![Atom { terms: vec![(1, 1)], rhs: -3 }]);
    for q1 in -128..=127i64 {
        let exact = BigRational::from_float(0.1f64).unwrap() * BigRational::from_integer((q1 + 5).into());
        assert_eq!(s.unsafe_dnf[1][0].holds(&[0, q1]), exact <= rat(3, 10), "q1 = {q1}");
    }
}
