//! Exact decoding of IEEE-754 binary32 and binary64 values: their bit fields, and the dyadic
//! rational `mantissa · 2^exponent` every finite value is. The one place quiver takes floats
//! apart (the VNN-LIB reader's exact comparisons, the MILP and SMT encoders' constants).

/// The three bit fields of a binary float.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    pub negative: bool,
    /// The biased exponent field (0: zero or subnormal; all ones: infinite or NaN).
    pub biased_exponent: u32,
    /// The stored fraction (without the implicit leading bit).
    pub fraction: u64,
}

/// The bit fields of a binary32 value.
pub fn fields_f32(x: f32) -> Fields {
    let b = x.to_bits();
    Fields { negative: b >> 31 == 1, biased_exponent: (b >> 23) & 0xff, fraction: u64::from(b & 0x7f_ffff) }
}

/// The bit fields of a binary64 value.
pub fn fields_f64(x: f64) -> Fields {
    let b = x.to_bits();
    Fields { negative: b >> 63 == 1, biased_exponent: ((b >> 52) & 0x7ff) as u32, fraction: b & ((1u64 << 52) - 1) }
}

/// A finite float as the exact value `mantissa · 2^exponent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dyadic {
    /// Signed; at most 53 significant bits.
    pub mantissa: i64,
    pub exponent: i32,
}

impl Dyadic {
    pub const ZERO: Dyadic = Dyadic { mantissa: 0, exponent: 0 };

    /// The same value with an odd mantissa (zero as `0 · 2^0`).
    pub fn reduced(self) -> Dyadic {
        if self.mantissa == 0 {
            return Dyadic::ZERO;
        }
        let tz = self.mantissa.trailing_zeros();
        Dyadic { mantissa: self.mantissa >> tz, exponent: self.exponent + tz as i32 }
    }
}

/// `fraction` with the implicit bit, and the unbiased exponent of its last bit, for a format with
/// `frac_bits` fraction bits and exponent bias `bias` (subnormals have no implicit bit and the
/// smallest exponent).
fn dyadic(f: Fields, frac_bits: u32, bias: i32, max_biased: u32) -> Option<Dyadic> {
    if f.biased_exponent == max_biased {
        return None;
    }
    if f.biased_exponent == 0 && f.fraction == 0 {
        return Some(Dyadic::ZERO);
    }
    let shift = bias + frac_bits as i32;
    let (m, e) = if f.biased_exponent == 0 {
        (f.fraction, 1 - shift)
    } else {
        (f.fraction | (1u64 << frac_bits), f.biased_exponent as i32 - shift)
    };
    // m < 2^53, so it fits an i64 with its sign.
    let m = m as i64;
    Some(Dyadic { mantissa: if f.negative { -m } else { m }, exponent: e })
}

/// A finite binary32 value as `mantissa · 2^exponent` (mantissa: the 24-bit significand, not
/// reduced; zeros are [`Dyadic::ZERO`]); `None` for infinities and NaN.
pub fn decode_f32(x: f32) -> Option<Dyadic> {
    dyadic(fields_f32(x), 23, 127, 0xff)
}

/// A finite binary64 value as `mantissa · 2^exponent` (mantissa: the 53-bit significand, not
/// reduced; zeros are [`Dyadic::ZERO`]); `None` for infinities and NaN.
pub fn decode_f64(x: f64) -> Option<Dyadic> {
    dyadic(fields_f64(x), 52, 1023, 0x7ff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigInt;
    use num_rational::BigRational;
    use rand::{Rng, SeedableRng};

    fn exact(d: Dyadic) -> BigRational {
        let m = BigRational::from_integer(BigInt::from(d.mantissa));
        let p = BigRational::from_integer(BigInt::from(1) << d.exponent.unsigned_abs() as usize);
        if d.exponent >= 0 {
            m * p
        } else {
            m / p
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(decode_f64(1.0), Some(Dyadic { mantissa: 1 << 52, exponent: -52 }));
        assert_eq!(decode_f64(1.0).unwrap().reduced(), Dyadic { mantissa: 1, exponent: 0 });
        assert_eq!(decode_f64(-6.0).unwrap().reduced(), Dyadic { mantissa: -3, exponent: 1 });
        assert_eq!(decode_f32(0.75).unwrap().reduced(), Dyadic { mantissa: 3, exponent: -2 });
        assert_eq!(decode_f64(0.0), Some(Dyadic::ZERO));
        assert_eq!(decode_f64(-0.0), Some(Dyadic::ZERO));
        assert_eq!(decode_f32(-0.0), Some(Dyadic::ZERO));
        // The smallest subnormals.
        assert_eq!(decode_f64(f64::from_bits(1)), Some(Dyadic { mantissa: 1, exponent: -1074 }));
        assert_eq!(decode_f32(f32::from_bits(1)), Some(Dyadic { mantissa: 1, exponent: -149 }));
        assert_eq!(decode_f32(-f32::from_bits(1)), Some(Dyadic { mantissa: -1, exponent: -149 }));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(decode_f64(bad), None);
            assert_eq!(decode_f32(bad as f32), None);
        }
        let f = fields_f32(-1.5);
        assert_eq!((f.negative, f.biased_exponent, f.fraction), (true, 127, 1 << 22));
        let f = fields_f64(2.0);
        assert_eq!((f.negative, f.biased_exponent, f.fraction), (false, 1024, 0));
    }

    /// Every decoded value is exactly the float (compared as rationals), for random bit patterns
    /// of both widths; reducing keeps the value and makes the mantissa odd.
    #[test]
    fn decoding_is_exact() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(754);
        for _ in 0..20_000 {
            let x = f64::from_bits(rng.gen());
            let y = f32::from_bits(rng.gen());
            for (d, v) in [(decode_f64(x), x), (decode_f32(y), f64::from(y))] {
                let Some(d) = d else {
                    assert!(!v.is_finite());
                    continue;
                };
                assert_eq!(exact(d), BigRational::from_float(v).unwrap(), "{v:e}");
                let r = d.reduced();
                assert_eq!(exact(r), exact(d));
                assert!(r.mantissa == 0 || r.mantissa % 2 != 0);
            }
        }
    }
}
