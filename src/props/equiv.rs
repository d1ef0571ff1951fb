//! δ-equivalence of two networks: for every input in a box, do networks A and B agree — their
//! outputs within δ (on the integers or on the dequantized reals), or their predicted classes?
//!
//! The question is posed as one ordinary query on a **product network** ([`product`]): a graph
//! whose shared input feeds A's nodes and B's nodes (leading nodes the two have in common are
//! computed once), and whose output is A's outputs followed by B's. The relation becomes an
//! ordinary unsafe DNF over the product's outputs ([`unsafe_dnf`]), so the whole pipeline —
//! probe, bounds, gradient search and every complete backend — answers it unchanged, and each
//! sees both networks at once over one shared input encoding.
//!
//! Soundness: a `verified` is the pipeline's (exact integer reasoning on the product, whose
//! output is exactly the two networks' outputs side by side: tested against running them
//! separately). A `falsified` needs more than the product's replayed witness: its input is
//! replayed on **each network separately** by the exact executor and the relation is checked
//! again on those two outputs by [`violation`], which is written from the relation's definition
//! (exact rationals for `--delta-real`), not from the DNF. Any mismatch is reported as a
//! disagreement (a bug), never as a verdict.

use crate::budget::Budget;
use crate::net::ir::{Concat, Dense};
use crate::net::{exec, Input, Layer, Network, Node, QType, Quant, Requant, Rescale, Rounding};
use crate::spec::real::integer_atom;
use crate::spec::robust::TieRule;
use crate::spec::{Atom, Dnf, InputBox, Spec, SpecError};
use crate::verdict::{Unknown, Verdict};
use crate::verify::{self, Options, Report};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Signed;
use serde::Serialize;
use std::fmt;
use std::time::Instant;
use thiserror::Error;

/// What "A and B agree" means at one input.
#[derive(Clone, Debug, PartialEq)]
pub enum Relation {
    /// `|yA_i − yB_i| ≤ δ` for every output `i`, on the integer outputs (δ ≥ 0). Only meaningful,
    /// and only accepted, when both outputs have one scale and zero point.
    Delta(i64),
    /// `|sA·(yA_i − zA) − sB·(yB_i − zB)| ≤ δ` for every output `i`, on the dequantized outputs,
    /// in exact rational arithmetic (each scale is the exact value of its `f64`; δ ≥ 0 exact).
    DeltaReal(BigRational),
    /// Both predict the same class: with [`TieRule::FirstIndex`] the first-index argmaxes are
    /// equal; with [`TieRule::AnyTieUnsafe`] some class is the strict maximum of both (a tie
    /// for the maximum in either network counts as a disagreement).
    SameClass(TieRule),
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Relation::Delta(d) => write!(f, "|yA_i − yB_i| ≤ {d} on the integer outputs"),
            Relation::DeltaReal(d) => write!(f, "|yA_i − yB_i| ≤ {d} on the dequantized outputs (exact)"),
            Relation::SameClass(TieRule::FirstIndex) => f.write_str("same class (first-index argmax)"),
            Relation::SameClass(TieRule::AnyTieUnsafe) => {
                f.write_str("same class (a strict maximum shared by both; ties disagree)")
            }
        }
    }
}

/// Why an equivalence query cannot be posed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EquivError {
    #[error(
        "the networks' inputs differ (A: {a}; B: {b}): equivalence feeds both one input, so shape, \
         type, scale and zero point must be equal"
    )]
    Input { a: String, b: String },
    #[error("A has {a} outputs and B has {b}: equivalence compares the outputs one by one")]
    Outputs { a: usize, b: usize },
    #[error(
        "--delta compares the integer outputs, which needs equal output scales and zero points \
         (A: {a}; B: {b}): use --delta-real for a bound on the dequantized outputs"
    )]
    DeltaQuant { a: String, b: String },
    #[error("delta must be >= 0, got {0}")]
    NegativeDelta(String),
    #[error(
        "the networks map real inputs to integers differently (A: {a:?}, B: {b:?}), so one real input \
         box can reach them as different integers: give the box on the quantized grid (--eps, an \
         integer --input, VNN-LIB --domain integer)"
    )]
    RealInput { a: crate::net::InputQuantize, b: crate::net::InputQuantize },
    #[error("the output types {a} and {b} have no common integer type of at most 16 bits")]
    OutputTypes { a: QType, b: QType },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("internal error building the product network: {0}")]
    Product(String),
}

fn describe_input(i: &Input) -> String {
    format!("shape {:?}, {}, scale {}, zero point {}", i.shape, i.dtype, i.scale, i.zero_point)
}

fn describe_quant(q: &Quant) -> String {
    format!("{}, scale {}, zero point {}", q.dtype, q.scale, q.zero_point)
}

/// Check that `a` and `b` can be compared: one input (shape, type, scale, zero point) and equal
/// output lengths. With `real_input` (the box was stated on real inputs), their real→integer
/// maps must agree too.
///
/// # Errors
/// [`EquivError::Input`], [`EquivError::Outputs`], [`EquivError::RealInput`].
pub fn check_pair(a: &Network, b: &Network, real_input: bool) -> Result<(), EquivError> {
    let (ia, ib) = (a.input(), b.input());
    if ia.shape != ib.shape || ia.dtype != ib.dtype || ia.scale != ib.scale || ia.zero_point != ib.zero_point {
        return Err(EquivError::Input { a: describe_input(ia), b: describe_input(ib) });
    }
    if a.output_len() != b.output_len() {
        return Err(EquivError::Outputs { a: a.output_len(), b: b.output_len() });
    }
    if real_input && ia.quantize != ib.quantize {
        return Err(EquivError::RealInput { a: ia.quantize, b: ib.quantize });
    }
    Ok(())
}

/// The product of two networks: `net`'s output `i` is A's output `i` and output `outputs + i`
/// is B's (both as the integers the networks compute).
#[derive(Clone, Debug)]
pub struct Product {
    pub net: Network,
    /// Outputs of each network.
    pub outputs: usize,
    /// Leading nodes of A and B that are identical (same operator, same inputs) and computed
    /// once in the product.
    pub shared_nodes: usize,
}

/// The smallest integer type holding both `a`'s and `b`'s ranges.
fn common_type(a: QType, b: QType) -> Option<QType> {
    let (lo, hi) = (a.min().min(b.min()), a.max().max(b.max()));
    let signed = lo < 0;
    (2..=16u8).filter_map(|bits| QType::new(bits, signed)).find(|t| t.min() <= lo && hi <= t.max())
}

/// `y = x` from `x`'s quantization to `to`, as a Dense layer: identity weights, the bias `zx`
/// cancels the input zero point, so the accumulator is `x` and a rescale of 1 with zero point
/// 0 keeps it (`to`'s range holds `x`'s, so the clamp never acts). Exact in every analysis.
fn identity(n: usize, from: &Quant, to: Quant) -> Layer {
    let mut weights = vec![0; n * n];
    for i in 0..n {
        weights[i * n + i] = 1;
    }
    Layer::Dense(Dense {
        in_features: n,
        out_features: n,
        weights,
        weight_dtype: QType::new(2, true).expect("2 bits"),
        weight_zero_point: vec![0],
        bias: vec![from.zero_point; n],
        requant: Requant {
            rescale: vec![Rescale::Dyadic { m: 1, shift: 0, rounding: Rounding::HalfEven }],
            relu: false,
        },
        output: to,
    })
}

/// Build the product network of `a` and `b` (which must pass [`check_pair`]).
///
/// Nodes are named `shared/…` (leading nodes identical in both), `a/…` and `b/…`. Each
/// network's output is flattened if it is not a vector; when the two outputs are quantized
/// differently, each is copied exactly into a common type (scale 1, zero point 0) by an
/// identity Dense node, since a concatenation needs one quantization; then both are
/// concatenated.
///
/// # Errors
/// [`EquivError`] when the pair does not fit or the output types have no common type.
pub fn product(a: &Network, b: &Network) -> Result<Product, EquivError> {
    check_pair(a, b, false)?;
    let n = a.output_len();
    let mut nodes: Vec<Node> = Vec::new();
    // Tensor t of A (of B) is tensor map_a[t] (map_b[t]) of the product.
    let mut map_a = vec![0usize];
    let mut map_b = vec![0usize];
    let mut shared = 0;
    while shared < a.layers().len()
        && shared < b.layers().len()
        && a.layers()[shared] == b.layers()[shared]
        && a.node_inputs(shared) == b.node_inputs(shared)
    {
        let inputs = a.node_inputs(shared).iter().map(|&t| map_a[t]).collect();
        nodes.push(Node { name: format!("shared/{}", a.node_name(shared)), op: a.layers()[shared].clone(), inputs });
        map_a.push(nodes.len());
        map_b.push(nodes.len());
        shared += 1;
    }
    for (side, net, map) in [("a", a, &mut map_a), ("b", b, &mut map_b)] {
        for i in shared..net.layers().len() {
            let inputs = net.node_inputs(i).iter().map(|&t| map[t]).collect();
            nodes.push(Node { name: format!("{side}/{}", net.node_name(i)), op: net.layers()[i].clone(), inputs });
            map.push(nodes.len());
        }
    }
    let (qa, qb) = (a.output_info().quant, b.output_info().quant);
    let common = if qa == qb {
        None
    } else {
        let dtype = common_type(qa.dtype, qb.dtype).ok_or(EquivError::OutputTypes { a: qa.dtype, b: qb.dtype })?;
        Some(Quant { dtype, scale: 1.0, zero_point: 0 })
    };
    let mut outs = Vec::new();
    for (side, net, map) in [("a", a, &map_a), ("b", b, &map_b)] {
        let mut t = *map.last().expect("the input tensor at least");
        if net.output_info().shape.len() != 1 {
            nodes.push(Node { name: format!("{side}/output_flat"), op: Layer::Flatten, inputs: vec![t] });
            t = nodes.len();
        }
        if let Some(to) = common {
            let from = net.output_info().quant;
            nodes.push(Node { name: format!("{side}/output_as_common"), op: identity(n, &from, to), inputs: vec![t] });
            t = nodes.len();
        }
        outs.push(t);
    }
    nodes.push(Node { name: "outputs".into(), op: Layer::Concat(Concat { axis: 0 }), inputs: outs });
    let name = format!("{} × {}", a.name(), b.name());
    let net = Network::graph(name, a.input().clone(), nodes).map_err(|e| EquivError::Product(e.to_string()))?;
    Ok(Product { net, outputs: n, shared_nodes: shared })
}

/// `Σ c·y ≤ rhs` over the product's outputs.
fn atom(terms: Vec<(usize, i64)>, rhs: i64) -> Atom {
    Atom { terms, rhs }
}

/// The exact rational value of a finite `f64` (a scale).
fn exact(x: f64) -> Result<BigRational, EquivError> {
    BigRational::from_float(x)
        .ok_or_else(|| EquivError::Spec(SpecError::NotRepresentable(format!("the scale {x} is not a finite number"))))
}

/// The counterexample condition of `relation` over the product's outputs (`n` per network:
/// A's output `i` is `i`, B's is `n + i`), for the networks `a` and `b` whose output
/// quantization it needs.
///
/// * δ on integers: `yA_i − yB_i ≥ δ + 1` or `yB_i − yA_i ≥ δ + 1`, one disjunct each (2n).
/// * δ on reals: `d_i > δ` or `−d_i > δ` with `d_i = sA(yA_i − zA) − sB(yB_i − zB)`, each scaled
///   to integer coefficients exactly (an equivalence over integer outputs).
/// * same class: one disjunct per pair `c ≠ j`: "A's class is `c`" (under the tie rule: `yA_c`
///   beats every other output — with first-index ties an earlier output must be strictly
///   smaller; with any-tie-unsafe `c` need only be a maximum) and "B's output `j` beats `c`"
///   (exactly robustness's atom for label `c`). Their union is exactly "the classes differ".
///
/// # Errors
/// [`EquivError::DeltaQuant`] for an integer δ on differently quantized outputs,
/// [`EquivError::NegativeDelta`], or a number that does not fit in 64 bits.
pub fn unsafe_dnf(a: &Network, b: &Network, relation: &Relation) -> Result<Dnf, EquivError> {
    let n = a.output_len();
    let (qa, qb) = (a.output_info().quant, b.output_info().quant);
    match relation {
        Relation::Delta(d) => {
            if *d < 0 {
                return Err(EquivError::NegativeDelta(d.to_string()));
            }
            if qa.scale != qb.scale || qa.zero_point != qb.zero_point {
                return Err(EquivError::DeltaQuant { a: describe_quant(&qa), b: describe_quant(&qb) });
            }
            let rhs = d
                .checked_add(1)
                .and_then(i64::checked_neg)
                .ok_or_else(|| EquivError::Spec(SpecError::NotRepresentable(format!("delta {d} is too large"))))?;
            Ok((0..n)
                .flat_map(|i| [vec![atom(vec![(i, 1), (n + i, -1)], rhs)], vec![atom(vec![(i, -1), (n + i, 1)], rhs)]])
                .collect())
        }
        Relation::DeltaReal(d) => {
            if d.is_negative() {
                return Err(EquivError::NegativeDelta(d.to_string()));
            }
            let (sa, sb) = (exact(qa.scale)?, exact(qb.scale)?);
            let za = BigRational::from_integer(BigInt::from(qa.zero_point));
            let zb = BigRational::from_integer(BigInt::from(qb.zero_point));
            // sA·yA − sB·yB  vs  the constant sA·zA − sB·zB.
            let offset = &sa * &za - &sb * &zb;
            let mut dnf = Vec::with_capacity(2 * n);
            for i in 0..n {
                // d_i > δ  ⇔  −sA·yA + sB·yB < −δ − offset
                let what = format!("yA_{i} − yB_{i} > {d} (dequantized)");
                let up = integer_atom(vec![(i, -sa.clone()), (n + i, sb.clone())], -d - &offset, true, true, &what)?;
                // −d_i > δ  ⇔  sA·yA − sB·yB < −δ + offset
                let what = format!("yB_{i} − yA_{i} > {d} (dequantized)");
                let down = integer_atom(vec![(i, sa.clone()), (n + i, -sb.clone())], -d + &offset, true, true, &what)?;
                dnf.push(vec![up]);
                dnf.push(vec![down]);
            }
            Ok(dnf)
        }
        Relation::SameClass(tie) => {
            let first = *tie == TieRule::FirstIndex;
            let mut dnf = Vec::with_capacity(n * n.saturating_sub(1));
            for c in 0..n {
                // A's class is c: yA_k − yA_c ≤ 0, or ≤ −1 for an earlier k under first-index.
                let class_a: Vec<Atom> = (0..n)
                    .filter(|&k| k != c)
                    .map(|k| atom(vec![(k, 1), (c, -1)], if first && k < c { -1 } else { 0 }))
                    .collect();
                for j in (0..n).filter(|&j| j != c) {
                    // B's output j beats c: yB_c − yB_j ≤ 0, or ≤ −1 for a later j under first-index.
                    let beats = atom(vec![(n + c, 1), (n + j, -1)], if first && j > c { -1 } else { 0 });
                    let mut conj = class_a.clone();
                    conj.push(beats);
                    dnf.push(conj);
                }
            }
            Ok(dnf)
        }
    }
}

/// Whether the outputs `ya` of A and `yb` of B violate `relation`, decided from its definition
/// (not from [`unsafe_dnf`]); `Some` describes the violation. The independent check behind
/// every `falsified`.
pub fn violation(a: &Network, b: &Network, relation: &Relation, ya: &[i64], yb: &[i64]) -> Option<String> {
    if ya.len() != yb.len() {
        return Some(format!("A has {} outputs and B {}", ya.len(), yb.len()));
    }
    match relation {
        Relation::Delta(d) => ya.iter().zip(yb).enumerate().find_map(|(i, (&x, &y))| {
            let diff = (i128::from(x) - i128::from(y)).abs();
            (diff > i128::from(*d)).then(|| format!("output {i}: A {x}, B {y}, |difference| {diff} > {d}"))
        }),
        Relation::DeltaReal(d) => {
            let (qa, qb) = (a.output_info().quant, b.output_info().quant);
            let (sa, sb) = (exact(qa.scale).ok()?, exact(qb.scale).ok()?);
            ya.iter().zip(yb).enumerate().find_map(|(i, (&x, &y))| {
                let ra = &sa * BigRational::from_integer(BigInt::from(x - qa.zero_point));
                let rb = &sb * BigRational::from_integer(BigInt::from(y - qb.zero_point));
                let diff = (&ra - &rb).abs();
                (diff > *d).then(|| {
                    format!(
                        "output {i}: A {x} (real {}), B {y} (real {}), |difference| {} > {d}",
                        qa.dequantize(x),
                        qb.dequantize(y),
                        decimal(&diff)
                    )
                })
            })
        }
        Relation::SameClass(TieRule::FirstIndex) => {
            let (ca, cb) = (exec::argmax(ya), exec::argmax(yb));
            (ca != cb).then(|| format!("A's class {ca}, B's class {cb} (first-index argmax)"))
        }
        Relation::SameClass(TieRule::AnyTieUnsafe) => {
            // The strict maximum of each, if there is one.
            let strict = |y: &[i64]| {
                let c = exec::argmax(y);
                y.iter().enumerate().all(|(k, &v)| k == c || v < y[c]).then_some(c)
            };
            match (strict(ya), strict(yb)) {
                (Some(ca), Some(cb)) if ca == cb => None,
                (Some(ca), Some(cb)) => Some(format!("A's class {ca}, B's class {cb}")),
                (None, _) => Some(format!("A has a tie for its largest output ({})", ya[exec::argmax(ya)])),
                (_, None) => Some(format!("B has a tie for its largest output ({})", yb[exec::argmax(yb)])),
            }
        }
    }
}

/// A rational as a decimal for messages (about 10 significant digits).
fn decimal(r: &BigRational) -> String {
    use num_traits::ToPrimitive;
    r.to_f64().map_or_else(|| r.to_string(), |v| format!("{v:.10}"))
}

/// A counterexample to equivalence: one input, replayed on each network by the exact executor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairWitness {
    pub input: Vec<i64>,
    pub input_real: Vec<f64>,
    pub output_a: Vec<i64>,
    pub output_b: Vec<i64>,
    pub output_a_real: Vec<f64>,
    pub output_b_real: Vec<f64>,
    /// What disagrees (from [`violation`]).
    pub violation: String,
}

/// An equivalence question: two networks, an integer input box, a relation.
#[derive(Clone, Debug)]
pub struct EquivQuery<'a> {
    pub a: &'a Network,
    pub b: &'a Network,
    pub input: InputBox,
    /// The box was stated on real inputs (the networks' real→integer maps must then agree).
    pub real_input: bool,
    pub relation: Relation,
}

/// The answer of [`equiv`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EquivReport {
    /// The pipeline's report on the product network (its witness, if any, is the product's).
    #[serde(flatten)]
    pub report: Report,
    /// The relation, in words.
    pub relation: String,
    /// The counterexample replayed on both networks, when `falsified`.
    pub pair: Option<PairWitness>,
    /// Nodes of the product network, and how many of them are shared by A and B.
    pub product_nodes: usize,
    pub shared_nodes: usize,
}

impl EquivReport {
    pub fn verdict(&self) -> &Verdict {
        &self.report.verdict
    }
}

/// The integer spec of `q` on its product network.
///
/// # Errors
/// As [`check_pair`], [`product`], [`unsafe_dnf`], and a box that does not fit the input.
pub fn spec(q: &EquivQuery, p: &Product) -> Result<Spec, EquivError> {
    check_pair(q.a, q.b, q.real_input)?;
    let spec = Spec {
        input: q.input.clone(),
        unsafe_dnf: unsafe_dnf(q.a, q.b, &q.relation)?,
        description: format!("equivalence: {}", q.relation),
    };
    spec.check(&p.net)?;
    Ok(spec)
}

/// Decide `q` with the verification pipeline `opts` on the product network, within `budget`.
/// A witness is replayed on A and on B separately and checked by [`violation`]; if that
/// contradicts the product's answer, the verdict is `unknown` with the disagreement set.
///
/// # Errors
/// [`EquivError`] when the query cannot be posed.
pub fn equiv(q: &EquivQuery, opts: &Options, budget: &Budget) -> Result<EquivReport, EquivError> {
    let start = Instant::now();
    let p = product(q.a, q.b)?;
    let spec = spec(q, &p)?;
    let mut report = verify::verify_within(&p.net, &spec, opts, budget);
    let mut pair = None;
    if let Verdict::Falsified { witness } = &report.verdict {
        match replay_pair(q, witness.input(), witness.output()) {
            Ok(w) => pair = Some(w),
            Err(msg) => {
                let msg = format!("SOUNDNESS ALARM: {msg}");
                report.verdict = Verdict::Unknown { reason: Unknown::Disagreement(msg.clone()) };
                report.disagreement.get_or_insert(msg);
            }
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(EquivReport {
        report,
        relation: q.relation.to_string(),
        pair,
        product_nodes: p.net.layers().len(),
        shared_nodes: p.shared_nodes,
    })
}

/// Replay `x` on A and B separately; `product_output` is what the product computed.
fn replay_pair(q: &EquivQuery, x: &[i64], product_output: &[i64]) -> Result<PairWitness, String> {
    if !q.input.contains(x) {
        return Err("the witness lies outside the input box".into());
    }
    let ya = exec::run(q.a, x).map_err(|e| format!("A rejects the witness: {e}"))?;
    let yb = exec::run(q.b, x).map_err(|e| format!("B rejects the witness: {e}"))?;
    let both: Vec<i64> = ya.iter().chain(&yb).copied().collect();
    if both != product_output {
        return Err(format!(
            "the product network computed {product_output:?}, the networks separately {ya:?} and {yb:?}"
        ));
    }
    let violation = violation(q.a, q.b, &q.relation, &ya, &yb)
        .ok_or_else(|| format!("the witness's outputs A {ya:?}, B {yb:?} satisfy {}", q.relation))?;
    let (ia, oa, ob) = (q.a.input_info().quant, q.a.output_info().quant, q.b.output_info().quant);
    Ok(PairWitness {
        input: x.to_vec(),
        input_real: x.iter().map(|&v| ia.dequantize(v)).collect(),
        output_a_real: ya.iter().map(|&v| oa.dequantize(v)).collect(),
        output_b_real: yb.iter().map(|&v| ob.dequantize(v)).collect(),
        output_a: ya,
        output_b: yb,
        violation,
    })
}

/// Parse a non-negative decimal (`0.5`, `1e-2`) as an exact rational, for `--delta-real`.
///
/// # Errors
/// [`EquivError::NegativeDelta`] or a message naming the text.
pub fn parse_delta(text: &str) -> Result<BigRational, EquivError> {
    let v = crate::spec::vnnlib::parse_number(text.trim())
        .map_err(|e| EquivError::Spec(SpecError::Unsupported(format!("delta: {e}"))))?;
    if v.is_negative() {
        return Err(EquivError::NegativeDelta(text.to_string()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_traits::Zero;

    #[test]
    fn common_types() {
        let t = |b, s| QType::new(b, s).unwrap();
        assert_eq!(common_type(QType::UINT8, QType::INT8), Some(t(9, true)));
        assert_eq!(common_type(t(6, true), QType::INT8), Some(QType::INT8));
        assert_eq!(common_type(t(4, false), t(6, false)), Some(t(6, false)));
        assert_eq!(common_type(t(16, false), t(16, true)), None);
    }

    #[test]
    fn deltas_parse_exactly() {
        assert_eq!(parse_delta("0.1").unwrap(), BigRational::new(1.into(), 10.into()));
        assert!(matches!(parse_delta("-1"), Err(EquivError::NegativeDelta(_))));
        assert!(parse_delta("x").is_err());
        assert!(BigRational::zero() <= parse_delta("0").unwrap());
    }
}
