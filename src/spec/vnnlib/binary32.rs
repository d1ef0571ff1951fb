//! binary32 rounding of exact rationals: correctly rounded conversions, the binary32 values just
//! above or below a rational, and the order-preserving key map used for binary searches over
//! binary32 values.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Zero;
use std::cmp::Ordering;

/// Order-preserving map from finite binary32 values to `u32` (−0 sorts just below +0).
pub(crate) fn f32_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Inverse of [`f32_key`].
pub(crate) fn f32_from_key(k: u32) -> f32 {
    if k & 0x8000_0000 != 0 {
        f32::from_bits(k & 0x7fff_ffff)
    } else {
        f32::from_bits(!k)
    }
}

/// Smallest `k` in `[lo, hi)` with `pred(k)`, or `hi`; `pred` must be monotone (false, then true)
/// and `hi <= 2^32`.
pub(crate) fn first_key(lo: u64, hi: u64, pred: impl Fn(u32) -> bool) -> u64 {
    let (mut a, mut b) = (lo, hi);
    while a < b {
        let mid = a + (b - a) / 2;
        // mid < hi <= 2^32, so it fits.
        if pred(mid as u32) {
            b = mid;
        } else {
            a = mid + 1;
        }
    }
    a
}

fn exact(x: f32) -> BigRational {
    // Finite binary32 values are exact rationals; callers only pass finite ones.
    BigRational::from_float(f64::from(x)).unwrap_or_else(BigRational::zero)
}

/// Keys of the finite binary32 values: `[-f32::MAX, f32::MAX]` as a half-open key range.
fn finite_keys() -> (u64, u64) {
    (u64::from(f32_key(-f32::MAX)), u64::from(f32_key(f32::MAX)) + 1)
}

/// Exact comparison of a finite binary32 value with a rational, in integers: with
/// `x = m·2^e` and `r = n/d` (`d > 0`), compare `m·2^e·d` with `n`.
fn cmp_f32(x: f32, r: &BigRational) -> Ordering {
    // Callers only pass finite values.
    let d = crate::numeric::decode_f32(x).unwrap_or(crate::numeric::Dyadic::ZERO);
    let (m, e) = (BigInt::from(d.mantissa), d.exponent);
    if e >= 0 {
        ((m << e as usize) * r.denom()).cmp(r.numer())
    } else {
        (m * r.denom()).cmp(&(r.numer() << (-e) as usize))
    }
}

/// The key of the first finite binary32 value `x` with `cmp_f32(x, r)` in `accept` (a monotone
/// predicate), or the end key. Starts from the `f64` approximation of `r` and falls back to a
/// full binary search.
fn first_finite(r: &BigRational, accept: impl Fn(Ordering) -> bool) -> u64 {
    let (lo, end) = finite_keys();
    let p = |k: u32| accept(cmp_f32(f32_from_key(k), r));
    if let Some(g) = num_traits::ToPrimitive::to_f64(r).map(|f| f as f32).filter(|g| g.is_finite()) {
        let k = u64::from(f32_key(g));
        let (a, b) = (k.saturating_sub(2).max(lo), (k + 2).min(end));
        // The answer lies in [a, b] if pred(a − 1) is false and pred(b) is true.
        if (a == lo || !p((a - 1) as u32)) && (b == end || p(b as u32)) {
            return first_key(a, b, p);
        }
    }
    first_key(lo, end, p)
}

/// The smallest finite binary32 value `x ≥ r` (`x > r` if `strict`), if any.
pub fn f32_at_least(r: &BigRational, strict: bool) -> Option<f32> {
    let k = first_finite(r, |o| o == Ordering::Greater || (o == Ordering::Equal && !strict));
    (k < finite_keys().1).then(|| f32_from_key(k as u32))
}

/// The largest finite binary32 value `x ≤ r` (`x < r` if `strict`), if any.
pub fn f32_at_most(r: &BigRational, strict: bool) -> Option<f32> {
    let k = first_finite(r, |o| o == Ordering::Greater || (o == Ordering::Equal && strict));
    (k > finite_keys().0).then(|| f32_from_key((k - 1) as u32))
}

/// `r` rounded to binary32, to nearest with ties to even, overflowing to ±∞ (IEEE semantics).
pub fn f32_nearest(r: &BigRational) -> f32 {
    if r.is_zero() {
        return 0.0;
    }
    // Beyond f32::MAX + ulp/2 = 2^128 − 2^103 the rounding overflows (the tie goes to ∞, since
    // f32::MAX has an odd significand).
    let overflow = || {
        let two = BigInt::from(2u32);
        BigRational::from_integer(num_traits::pow(two.clone(), 128) - num_traits::pow(two, 103))
    };
    match (f32_at_most(r, false), f32_at_least(r, false)) {
        (Some(d), Some(u)) => {
            if d == u {
                return d;
            }
            let (dd, du) = (r - exact(d), exact(u) - r);
            match dd.cmp(&du) {
                Ordering::Less => d,
                Ordering::Greater => u,
                Ordering::Equal => {
                    if d.to_bits() & 1 == 0 {
                        d
                    } else {
                        u
                    }
                }
            }
        }
        (Some(d), None) => {
            if *r >= overflow() {
                f32::INFINITY
            } else {
                d
            }
        }
        (None, Some(u)) => {
            if -r >= overflow() {
                f32::NEG_INFINITY
            } else {
                u
            }
        }
        (None, None) => 0.0, // unreachable: every rational has a neighbour on one side
    }
}

/// The shortest decimal that parses (as `f32`) back to `x`.
pub fn f32_text(x: f32) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::vnnlib::number::parse_number;

    fn q(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn f32_rounding_matches_std() {
        let samples = [
            "0.1",
            "0.029999999329447746",
            "3.4028235e38",
            "3.4028236e38",
            "340282356779733661637539395458142568448",
            "340282356779733661637539395458142568447",
            "1e-46",
            "7.006492321624085e-46",
            "7.006492321624086e-46",
            "1.401298464324817e-45",
            "-123456.789",
            "16777217",
            "0.5",
            "1e39",
            "-1e39",
        ];
        for t in samples {
            let r = parse_number(t).unwrap();
            let want: f32 = t.parse().unwrap();
            let got = f32_nearest(&r);
            assert_eq!(got.to_bits(), want.to_bits(), "{t}: {got} vs {want}");
            assert_eq!(f32_text(got).parse::<f32>().unwrap().to_bits(), got.to_bits());
        }
        // Non-decimal rationals: 1/3.
        let third = q(1, 3);
        assert_eq!(f32_nearest(&third), 1.0f32 / 3.0);
        let (d, u) = (f32_at_most(&third, false).unwrap(), f32_at_least(&third, false).unwrap());
        assert_eq!(f32::from_bits(d.to_bits() + 1), u);
        assert!(d == 1.0f32 / 3.0 || u == 1.0f32 / 3.0);
        assert_eq!(f32_at_least(&q(1, 2), true), Some(f32::from_bits(0.5f32.to_bits() + 1)));
        assert_eq!(f32_at_most(&q(1, 2), true), Some(f32::from_bits(0.5f32.to_bits() - 1)));
        assert_eq!(f32_at_least(&q(1, 2), false), Some(0.5));
    }

    #[test]
    fn key_order() {
        let xs = [-f32::MAX, -1.0, -f32::MIN_POSITIVE, -0.0, 0.0, 1e-45, 1.0, f32::MAX];
        for w in xs.windows(2) {
            assert!(f32_key(w[0]) < f32_key(w[1]));
        }
        for x in xs {
            assert_eq!(f32_from_key(f32_key(x)).to_bits(), x.to_bits());
        }
    }
}
