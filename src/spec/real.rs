//! From a parsed VNN-LIB property to an integer [`Spec`], exactly.
//!
//! Two readings of the VNN-LIB variables ([`Domain`]):
//!
//! * **Integer**: `X_i` and `Y_j` *are* the integer input and output values of the quantized
//!   network. A bound `l ≤ X_i ≤ u` becomes `⌈l⌉ ≤ q_i ≤ ⌊u⌋` (strict: `⌊l⌋ + 1`, `⌈u⌉ − 1`),
//!   intersected with the input type's range. An output atom `Σ c_j·Y_j ≤ r` is multiplied by the
//!   lcm of the coefficients' denominators and its right-hand side floored (strict `<`: the
//!   largest integer strictly below). Over integer outputs both steps are equivalences.
//!
//! * **Real**: `X_i` are the real inputs that the network quantizes with ONNX `QuantizeLinear`
//!   ([`quantize_input`]), and `Y_j = scale·(q_j − zero_point)` the dequantized outputs.
//!
//!   *Inputs.* A real input `x ∈ [l, u]` reaches the network as the binary32 value `fl(x)`, and
//!   rounding to nearest is monotone, so `fl(l) ≤ fl(x) ≤ fl(u)`; [`quantize_input`] is monotone
//!   too (a binary32 division by a positive constant, rounding, clamping). Hence every real input
//!   in `[l, u]` quantizes into `[quantize(fl(l)), quantize(fl(u))]`, which is the box used: a
//!   sound enclosure. It is the exact image whenever consecutive binary32 values never skip a
//!   quantization level, i.e. when the scale is far above the binary32 precision of the inputs
//!   (any practical scale: 8-bit grids have steps of ~1e-2, f32 resolution near 1 is ~1e-7), since
//!   then every level between the two ends is hit by some binary32 value in `[fl(l), fl(u)]`.
//!   `fl(l)` is `num.text.parse::<f32>()` (correctly rounded; see [`super::vnnlib::Num`]).
//!   Strict input bounds are read as non-strict here (still sound; `fl` may map `x < u` to `fl(u)`
//!   anyway). A missing bound is the type's end.
//!
//!   *Outputs.* `Σ c_j·Y_j ≤ r` is `Σ c_j·s·q_j ≤ r + s·z·Σ c_j` with the exact rational `s` of the
//!   output scale (an `f64`) and zero point `z`; it is scaled by a positive common denominator to
//!   integer coefficients, divided by their gcd, and the right-hand side floored (strict: the
//!   largest integer strictly below) — again an equivalence over integer outputs.
//!
//! Coefficients or right-hand sides outside `i64` give [`SpecError::NotRepresentable`].

use super::vnnlib::{f32_at_least, f32_at_most, f32_from_key, f32_key, f32_nearest, first_key, Num, Var, VnnLib};
use super::{Atom, InputBox, RealBox, Spec, SpecError};
use crate::net::requant::{round_f32, Rounding};
use crate::net::{Input, Network};
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::fmt;
use std::str::FromStr;

/// How the VNN-LIB variables relate to the quantized network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Real (dequantized) inputs and outputs, mapped through the network's quantization.
    #[default]
    Real,
    /// The integer inputs and outputs themselves.
    Integer,
}

impl FromStr for Domain {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "real" => Ok(Domain::Real),
            "integer" | "int" => Ok(Domain::Integer),
            _ => Err(format!("unknown domain `{s}` (expected `real` or `integer`)")),
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Domain::Real => "real",
            Domain::Integer => "integer",
        })
    }
}

/// ONNX `QuantizeLinear` of one real input: `clamp(round_half_even(x / scale) + zero_point)`,
/// the division in binary32 (`x / (scale as f32)`). Monotone (non-decreasing) in `x`; `±∞`
/// saturate to the type's ends, NaN maps to the zero point.
pub fn quantize_input(input: &Input, x: f32) -> i64 {
    let s = input.scale as f32;
    // Both rules are monotone in x (s > 0): binary32 division and multiplication round monotonically.
    let v = match input.quantize {
        crate::net::InputQuantize::Divide => x / s,
        crate::net::InputQuantize::MultiplyReciprocal => x * (1.0f32 / s),
    };
    input.dtype.saturate(round_f32(v, Rounding::HalfEven).saturating_add(input.zero_point))
}

fn floor(r: &BigRational) -> BigInt {
    r.floor().to_integer()
}

fn ceil(r: &BigRational) -> BigInt {
    r.ceil().to_integer()
}

fn sat_i64(b: &BigInt) -> i64 {
    b.to_i64().unwrap_or(if b.is_negative() { i64::MIN } else { i64::MAX })
}

/// The binary32 value of a bound: its text parsed (correctly rounded), else the exact value rounded.
fn bound_f32(n: &Num) -> f32 {
    n.text.trim().parse::<f32>().ok().filter(|x| !x.is_nan()).unwrap_or_else(|| f32_nearest(&n.value))
}

/// `Σ c_j·q_j ≤ rhs` (or `<`) with rational coefficients → an integer [`Atom`], equivalent over
/// integer `q`: scaled by the lcm of the denominators, divided by the gcd of the coefficients
/// when `reduce`, the right-hand side floored (strict: the largest integer strictly below).
/// `what` names the constraint in the error when a number does not fit in 64 bits.
pub(crate) fn integer_atom(
    coeffs: Vec<(usize, BigRational)>,
    rhs: BigRational,
    strict: bool,
    reduce: bool,
    what: &dyn fmt::Display,
) -> Result<Atom, SpecError> {
    let l = coeffs.iter().fold(BigInt::one(), |acc, (_, c)| acc.lcm(c.denom()));
    let lr = BigRational::from_integer(l);
    let mut ints: Vec<(usize, BigInt)> = coeffs.into_iter().map(|(j, c)| (j, (c * &lr).to_integer())).collect();
    let mut r = rhs * &lr;
    if reduce {
        let g = ints.iter().fold(BigInt::zero(), |g, (_, a)| g.gcd(a));
        if !g.is_zero() && !g.is_one() {
            for t in &mut ints {
                t.1 /= &g;
            }
            r /= BigRational::from_integer(g);
        }
    }
    let bound = if strict { ceil(&r) - 1 } else { floor(&r) };
    let too_big = |x: &BigInt| {
        SpecError::NotRepresentable(format!(
            "the output constraint `{what}` needs the integer {x}, which does not fit in 64 bits"
        ))
    };
    let mut terms = Vec::with_capacity(ints.len());
    for (j, a) in ints {
        terms.push((j, a.to_i64().ok_or_else(|| too_big(&a))?));
    }
    // With no terms only the sign of the bound matters, so saturating keeps the atom's truth.
    let rhs = if terms.is_empty() { sat_i64(&bound) } else { bound.to_i64().ok_or_else(|| too_big(&bound))? };
    Ok(Atom { terms, rhs })
}

/// Convert a parsed VNN-LIB property to an integer [`Spec`] for `net` (see the module
/// documentation for both domains). The result passes [`Spec::check`].
pub fn to_spec(v: &VnnLib, net: &Network, domain: Domain, description: String) -> Result<Spec, SpecError> {
    let n = net.input_len();
    if v.n_inputs != n || v.input_bounds.len() != n {
        return Err(SpecError::InputLength { got: v.n_inputs, expected: n });
    }
    let m = net.output_len();
    if v.n_outputs != m {
        return Err(SpecError::Unsupported(format!(
            "the property declares {} outputs (Y_0 …); the model has {m}",
            v.n_outputs
        )));
    }
    let input = net.input();
    let t = input.dtype;
    let mut lo = Vec::with_capacity(n);
    let mut hi = Vec::with_capacity(n);
    for (i, (lb, ub)) in v.input_bounds.iter().enumerate() {
        let (sl, su) = v.input_strict.get(i).copied().unwrap_or((false, false));
        let (l, h) = match domain {
            Domain::Integer => {
                let l = match lb {
                    Some(b) => (if sl { floor(&b.value) + 1 } else { ceil(&b.value) }).max(BigInt::from(t.min())),
                    None => BigInt::from(t.min()),
                };
                let h = match ub {
                    Some(b) => (if su { ceil(&b.value) - 1 } else { floor(&b.value) }).min(BigInt::from(t.max())),
                    None => BigInt::from(t.max()),
                };
                (sat_i64(&l), sat_i64(&h))
            }
            Domain::Real => {
                if let (Some(a), Some(b)) = (lb, ub) {
                    if a.value > b.value || (a.value == b.value && (sl || su)) {
                        return Err(SpecError::Unsupported(format!(
                            "input {i}: the VNN-LIB bounds [{}, {}] are empty",
                            a.text, b.text
                        )));
                    }
                }
                let l = lb.as_ref().map_or(t.min(), |b| quantize_input(input, bound_f32(b)));
                let h = ub.as_ref().map_or(t.max(), |b| quantize_input(input, bound_f32(b)));
                (l, h)
            }
        };
        if l > h {
            return Err(SpecError::EmptyBox { index: i, lo: l, hi: h });
        }
        lo.push(l);
        hi.push(h);
    }

    let out = net.output_info().quant;
    let scale = match domain {
        Domain::Integer => None,
        Domain::Real => Some(BigRational::from_float(out.scale).ok_or_else(|| {
            SpecError::NotRepresentable(format!("the output scale {} is not a finite number", out.scale))
        })?),
    };
    let z = BigRational::from_integer(BigInt::from(out.zero_point));
    let mut dnf = Vec::with_capacity(v.output_dnf.len());
    for conj in &v.output_dnf {
        let mut atoms = Vec::with_capacity(conj.len());
        for a in conj {
            let mut coeffs = Vec::with_capacity(a.terms.len());
            for (var, c) in &a.terms {
                match *var {
                    Var::Y(j) if j < m => coeffs.push((j, c.clone())),
                    Var::Y(j) => return Err(SpecError::OutputIndex { index: j, outputs: m }),
                    Var::X(i) => {
                        return Err(SpecError::Unsupported(format!(
                            "the output constraint `{a}` mentions the input X_{i}"
                        )))
                    }
                }
            }
            let atom = match &scale {
                None => integer_atom(coeffs, a.rhs.clone(), a.strict, false, a)?,
                Some(s) => {
                    // Σ c_j·s·(q_j − z) ≤ r  ⇔  Σ (c_j·s)·q_j ≤ r + s·z·Σ c_j
                    let sum: BigRational = coeffs.iter().map(|(_, c)| c).sum();
                    let rhs = &a.rhs + s * &z * sum;
                    let coeffs = coeffs.into_iter().map(|(j, c)| (j, c * s)).collect();
                    integer_atom(coeffs, rhs, a.strict, true, a)?
                }
            };
            atoms.push(atom);
        }
        dnf.push(atoms);
    }
    let spec = Spec { input: InputBox { lo, hi }, unsafe_dnf: dnf, description };
    spec.check(net)?;
    Ok(spec)
}

/// The real-valued input box of a VNN-LIB property read in the real domain: each input's bounds
/// as the nearest `f64` of their exact values (`None`: unbounded). Kept beside the integer
/// [`Spec`] so that a witness can be reported inside the file's box without reading it again.
pub fn real_box(v: &VnnLib) -> RealBox {
    let f = |b: &Option<Num>| b.as_ref().and_then(|n| n.value.to_f64());
    RealBox {
        lo: v.input_bounds.iter().map(|(l, _)| f(l)).collect(),
        hi: v.input_bounds.iter().map(|(_, h)| f(h)).collect(),
    }
}

/// For a falsifying integer input `q`, a real input inside the VNN-LIB bounds that quantizes to
/// `q` (for reporting). Each component is a binary32 value (exact in `f64`): the one nearest to
/// the dequantized grid point `scale·(q_i − zp)` among the binary32 values in `[l, u]` that
/// quantize to `q_i`. If there is none (possible only at a rounding edge of the enclosure), the
/// grid point clamped into `[l, u]`.
pub fn real_input_witness(net: &Network, v: &VnnLib, q: &[i64]) -> Vec<f64> {
    let input = net.input();
    q.iter()
        .enumerate()
        .map(|(i, &qi)| {
            let (lb, ub) = v.input_bounds.get(i).map_or((None, None), |(a, b)| (a.as_ref(), b.as_ref()));
            let (sl, su) = v.input_strict.get(i).copied().unwrap_or((false, false));
            let grid = input.scale * qi.saturating_sub(input.zero_point) as f64;
            let a = lb.map_or(Some(-f32::MAX), |b| f32_at_least(&b.value, sl));
            let b = ub.map_or(Some(f32::MAX), |b| f32_at_most(&b.value, su));
            if let (Some(a), Some(b)) = (a, b) {
                if a <= b {
                    let (ka, kb) = (u64::from(f32_key(a)), u64::from(f32_key(b)) + 1);
                    let quant = |k: u32| quantize_input(input, f32_from_key(k));
                    let first = first_key(ka, kb, |k| quant(k) >= qi);
                    let end = first_key(ka, kb, |k| quant(k) > qi);
                    if first < end {
                        // Keys below 2^32: both fit.
                        let (x0, x1) = (f32_from_key(first as u32), f32_from_key((end - 1) as u32));
                        return f64::from((grid as f32).max(x0).min(x1));
                    }
                }
            }
            let l = lb.map_or(f64::NEG_INFINITY, |b| f64::from(f32_nearest(&b.value)));
            let u = ub.map_or(f64::INFINITY, |b| f64::from(f32_nearest(&b.value)));
            grid.max(l).min(u)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::QType;
    use crate::spec::vnnlib::RealAtom;

    fn input(dtype: QType, scale: f64, zero_point: i64) -> Input {
        Input { shape: vec![1], dtype, scale, zero_point, quantize: Default::default() }
    }

    #[test]
    fn domain_from_str() {
        assert_eq!("real".parse::<Domain>(), Ok(Domain::Real));
        assert_eq!("integer".parse::<Domain>(), Ok(Domain::Integer));
        assert!("Real".parse::<Domain>().is_err());
        assert_eq!(Domain::Integer.to_string(), "integer");
    }

    #[test]
    fn quantize_examples() {
        let inp = input(QType::UINT8, 1.0 / 255.0, 0);
        assert_eq!(quantize_input(&inp, 0.0), 0);
        assert_eq!(quantize_input(&inp, 1.0), 255);
        assert_eq!(quantize_input(&inp, 2.0), 255);
        assert_eq!(quantize_input(&inp, -1.0), 0);
        assert_eq!(quantize_input(&inp, f32::INFINITY), 255);
        assert_eq!(quantize_input(&inp, f32::NEG_INFINITY), 0);
        let s = input(QType::INT8, 0.5, 3);
        assert_eq!(quantize_input(&s, 0.25), 3); // 0.5 → ties to even 0
        assert_eq!(quantize_input(&s, 0.75), 5); // 1.5 → 2
        assert_eq!(quantize_input(&s, -0.25), 3);
        assert_eq!(quantize_input(&s, 1000.0), 127);
    }

    #[test]
    fn quantize_monotone() {
        let inp = input(QType::INT8, 0.0123, -7);
        let mut prev = i64::MIN;
        let mut x = -3.0f32;
        while x < 3.0 {
            let q = quantize_input(&inp, x);
            assert!(q >= prev);
            prev = q;
            x += 0.0007;
        }
    }

    #[test]
    fn integer_atoms() {
        let a = RealAtom { terms: vec![], rhs: BigRational::zero(), strict: false };
        let half = BigRational::new(1.into(), 2.into());
        // q0/2 ≤ 1/2 ⇒ q0 ≤ 1; q0/2 < 1/2 ⇒ q0 ≤ 0; q0/2 < 3/4 ⇒ q0 < 3/2 ⇒ q0 ≤ 1.
        let r = |rhs: BigRational, strict| integer_atom(vec![(0, half.clone())], rhs, strict, false, &a).unwrap();
        assert_eq!(r(half.clone(), false), Atom { terms: vec![(0, 1)], rhs: 1 });
        assert_eq!(r(half.clone(), true), Atom { terms: vec![(0, 1)], rhs: 0 });
        assert_eq!(r(BigRational::new(3.into(), 4.into()), true), Atom { terms: vec![(0, 1)], rhs: 1 });
        // gcd reduction: 4 q0 − 6 q1 ≤ 5 ⇒ 2 q0 − 3 q1 ≤ 2.
        let c = |x: i64| BigRational::from_integer(x.into());
        let g = integer_atom(vec![(0, c(4)), (1, c(-6))], c(5), false, true, &a).unwrap();
        assert_eq!(g, Atom { terms: vec![(0, 2), (1, -3)], rhs: 2 });
        // Too large.
        let big = BigRational::from_integer(BigInt::from(i64::MAX) + 1);
        assert!(matches!(
            integer_atom(vec![(0, big.clone())], c(0), false, false, &a),
            Err(SpecError::NotRepresentable(_))
        ));
        assert_eq!(integer_atom(vec![], big, false, false, &a).unwrap(), Atom { terms: vec![], rhs: i64::MAX });
    }
}
