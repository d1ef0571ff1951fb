//! Property tests of the scalar requantization functions against straightforward exact
//! references: arbitrary-precision rationals for the rounding definitions, f64 (which has more
//! than 2·24 + 2 bits, so rounding its exact-enough results to binary32 is innocuous) for the
//! binary32 pipeline, and the integer definitions for gemmlowp's fixed point.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use proptest::prelude::*;
use quiver::net::requant::{requantize, round_div, round_f32, rounding_divide_by_pot, srdhm, Rescale, Rounding};

/// Round an exact rational by the definition of each mode.
fn round_ref(r: &BigRational, mode: Rounding) -> BigInt {
    let fl = r.floor();
    let frac = r - &fl;
    let half = BigRational::new(BigInt::one(), BigInt::from(2));
    let fl = fl.to_integer();
    if frac > half {
        fl + 1
    } else if frac < half {
        fl
    } else {
        match mode {
            Rounding::HalfUp => fl + 1,
            Rounding::HalfEven => {
                if (&fl % BigInt::from(2)).is_zero() {
                    fl
                } else {
                    fl + 1
                }
            }
            Rounding::HalfAwayFromZero => {
                if r.is_positive() {
                    fl + 1
                } else {
                    fl
                }
            }
        }
    }
}

fn rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![Just(Rounding::HalfEven), Just(Rounding::HalfUp), Just(Rounding::HalfAwayFromZero)]
}

/// Accumulators biased towards exact ties and small magnitudes, plus the full i32 range.
fn acc() -> impl Strategy<Value = i64> {
    prop_oneof![-64i64..64, any::<i32>().prop_map(i64::from), (-1000i64..1000).prop_map(|k| k * 2 + 1)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn round_div_matches_rational(num in any::<i64>(), den in 1i64..1_000_000, mode in rounding()) {
        let r = BigRational::new(BigInt::from(num), BigInt::from(den));
        prop_assert_eq!(BigInt::from(round_div(num.into(), den.into(), mode)), round_ref(&r, mode));
    }

    #[test]
    fn dyadic_matches_rational(a in acc(), m in 1i64..(1 << 31), shift in 0u32..40, mode in rounding()) {
        let r = BigRational::new(BigInt::from(m) * BigInt::from(a), BigInt::one() << shift);
        let got = Rescale::Dyadic { m, shift, rounding: mode }.apply(a);
        prop_assert_eq!(BigInt::from(got), round_ref(&r, mode));
    }

    #[test]
    fn round_f32_matches_rational(bits in 0u32..0x5880_0000, neg in any::<bool>(), mode in rounding()) {
        // Every finite binary32 of magnitude below 2^50, of either sign (subnormals included).
        let x = f32::from_bits(bits | if neg { 0x8000_0000 } else { 0 });
        let r = BigRational::from_float(x).unwrap();
        prop_assert_eq!(BigInt::from(round_f32(x, mode)), round_ref(&r, mode));
    }

    #[test]
    fn round_f32_near_ties(k in -100_000i32..100_000, ulps in -2i32..=2, mode in rounding()) {
        // k + 1/2 and its binary32 neighbours.
        let tie = k as f32 + 0.5;
        let x = f32::from_bits((tie.to_bits() as i32 + ulps) as u32);
        let r = BigRational::from_float(x).unwrap();
        prop_assert_eq!(BigInt::from(round_f32(x, mode)), round_ref(&r, mode));
    }

    #[test]
    fn float32_pipeline_matches_f64_reference(a in acc(), mbits in 0x3000_0000u32..0x3f80_0000, bias in -1000.0f32..1000.0, mode in rounding()) {
        let m = f32::from_bits(mbits);
        // fl32(fl32(fl32(a) + bias) · m) computed through exact-enough f64 steps.
        let fa = a as f64 as f32; // i64 -> f64 exact for |a| < 2^53, then one rounding
        let sum = (f64::from(fa) + f64::from(bias)) as f32;
        let prod = (f64::from(sum) * f64::from(m)) as f32;
        let expect = round_ref(&BigRational::from_float(prod).unwrap(), mode);
        let got = Rescale::Float32 { m: f64::from(m), bias: f64::from(bias), rounding: mode }.apply(a);
        prop_assert_eq!(BigInt::from(got), expect);
    }

    #[test]
    fn q31_matches_integer_definition(x in any::<i32>(), m0 in (1i32 << 30)..i32::MAX, shift in -31i32..=0) {
        // SRDHM: floor(x·m0 / 2^31 + 1/2) (ties towards +∞); RDBPOT: ties away from zero.
        let prod = BigRational::new(BigInt::from(x) * BigInt::from(m0), BigInt::one() << 31);
        let high = round_ref(&prod, Rounding::HalfUp);
        let high = i32::try_from(high).unwrap();
        prop_assert_eq!(srdhm(x, m0), high);
        let e = (-shift) as u32;
        let q = BigRational::new(BigInt::from(high), BigInt::one() << e);
        let expect = round_ref(&q, Rounding::HalfAwayFromZero);
        prop_assert_eq!(BigInt::from(rounding_divide_by_pot(high, e)), expect.clone());
        prop_assert_eq!(BigInt::from(Rescale::Q31 { m0, shift }.apply(i64::from(x))), expect);
    }

    #[test]
    fn q31_left_shift(x in -(1i64 << 20)..(1i64 << 20), m0 in (1i32 << 30)..i32::MAX, shift in 0i32..=10) {
        let shifted = (x << shift) as i32;
        prop_assert_eq!(Rescale::Q31 { m0, shift }.apply(x), i64::from(srdhm(shifted, m0)));
    }

    /// Interval bounds rely on every rescale being monotone non-decreasing in the accumulator.
    #[test]
    fn rescales_are_monotone(a in acc(), d in 0i64..1000, m in 1i64..(1 << 20), shift in 0u32..30,
                             mbits in 0x3000_0000u32..0x3f80_0000, bias in -100.0f32..100.0,
                             m0 in (1i32 << 30)..i32::MAX, qs in -31i32..=0, mode in rounding()) {
        let b = a.saturating_add(d).min(i64::from(i32::MAX));
        let a = a.min(b);
        for r in [
            Rescale::Dyadic { m, shift, rounding: mode },
            Rescale::Float32 { m: f64::from(f32::from_bits(mbits)), bias: f64::from(bias), rounding: mode },
            Rescale::Q31 { m0, shift: qs },
        ] {
            prop_assert!(r.apply(a) <= r.apply(b), "{:?} not monotone at {} <= {}", r, a, b);
        }
    }

    #[test]
    fn requantize_clamps(a in acc(), zp in -10i64..10, relu in any::<bool>()) {
        let (lo, hi) = (if relu { zp } else { -128 }, 127);
        let r = Rescale::Dyadic { m: 3, shift: 4, rounding: Rounding::HalfEven };
        let y = requantize(a, &r, zp, lo, hi);
        prop_assert!((lo..=hi).contains(&y));
    }
}

/// gemmlowp's own examples (from its documentation of RoundingDivideByPOT and the fixed-point
/// tests).
#[test]
fn gemmlowp_reference_values() {
    // SaturatingRoundingDoublingHighMul(2^30, 2^30) = 2^29 (0.5 · 0.5 = 0.25 in Q31).
    assert_eq!(srdhm(1 << 30, 1 << 30), 1 << 29);
    // x · (Q31 of 0.5): 2^31·0.5 rounding; 3 · 0.5 = 1.5 → 2, −3 · 0.5 = −1.5 → −1 (ties towards +∞).
    assert_eq!(srdhm(3, 1 << 30), 2);
    assert_eq!(srdhm(-3, 1 << 30), -1);
    assert_eq!(rounding_divide_by_pot(-3, 1), -2);
    assert_eq!(rounding_divide_by_pot(3, 1), 2);
}
