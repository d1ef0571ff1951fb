//! Requantization: the scalar map from an integer accumulator to an output integer.
//!
//! `y = clamp(R(acc) + zero_point, lo, hi)`, where the rescale `R` is one of three kinds that
//! cover what deployed runtimes compute (see `docs/model-format.md`):
//!
//! * [`Rescale::Dyadic`] — `round(m · acc / 2^shift)`, an exact rational (fixed-point networks
//!   such as the AAAI'21/QVIP benchmarks; any exact-real semantics);
//! * [`Rescale::Float32`] — `round(fl(fl(fl(acc) + bias) · m))` in IEEE binary32 (PyTorch/FBGEMM,
//!   ONNX Runtime's MLAS requantization);
//! * [`Rescale::Q31`] — gemmlowp/TFLite fixed point: saturating rounding doubling high multiply by
//!   a Q31 multiplier, then a rounding right shift.
//!
//! Everything here is exact: integers in `i64`/`i128`, binary32 steps in Rust's `f32`, whose
//! arithmetic is IEEE round-to-nearest-even on every supported target.

use serde::{Deserialize, Serialize};

/// How a value exactly halfway between two integers is rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Ties to even (`nearbyint` in the default FP mode): ONNX, PyTorch, NumPy.
    HalfEven,
    /// `floor(x + 1/2)`: ties towards +∞ (TF fake-quant, the AAAI'21 benchmark networks).
    HalfUp,
    /// Ties away from zero (C `round`).
    HalfAwayFromZero,
}

impl Rounding {
    pub const ALL: [Rounding; 3] = [Rounding::HalfEven, Rounding::HalfUp, Rounding::HalfAwayFromZero];
}

/// The rescale step of a requantization. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rescale {
    /// `round(m · acc / 2^shift)` with `m > 0`.
    Dyadic { m: i64, shift: u32, rounding: Rounding },
    /// `round(fl(fl(fl(acc) + bias) · m))`, every step in IEEE binary32. `m` and `bias` must be
    /// binary32 values (checked on load); `bias` is in accumulator units (PyTorch's float bias
    /// divided by `input_scale · weight_scale`, as FBGEMM does), 0 where the bias is integer.
    Float32 {
        m: f64,
        #[serde(default)]
        bias: f64,
        rounding: Rounding,
    },
    /// gemmlowp/TFLite `MultiplyByQuantizedMultiplier(acc, m0, shift)`; `m0 > 0` is a Q31
    /// multiplier, `shift > 0` shifts left before the multiply, `shift < 0` right after it.
    Q31 { m0: i32, shift: i32 },
}

/// Round the rational `num / den` (with `den > 0`) to an integer.
pub fn round_div(num: i128, den: i128, mode: Rounding) -> i128 {
    debug_assert!(den > 0);
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den); // 0 <= r < den, num = q·den + r
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => match mode {
            Rounding::HalfUp => q + 1,
            Rounding::HalfEven => q + (q & 1),
            // The value is q + 1/2: away from zero is up iff it is positive, i.e. q >= 0.
            Rounding::HalfAwayFromZero => {
                if q >= 0 {
                    q + 1
                } else {
                    q
                }
            }
        },
    }
}

/// Round a finite binary32 value to an integer (saturating to the `i64` range, which callers
/// clamp further). `f32 → f64` is exact, and so are `floor` and `x - floor(x)` on it.
pub fn round_f32(x: f32, mode: Rounding) -> i64 {
    let x = f64::from(x);
    let fl = x.floor();
    let frac = x - fl;
    let up = if frac > 0.5 {
        true
    } else if frac < 0.5 {
        false
    } else {
        match mode {
            Rounding::HalfUp => true,
            Rounding::HalfEven => fl.rem_euclid(2.0) == 1.0,
            Rounding::HalfAwayFromZero => fl >= 0.0,
        }
    };
    // `as` saturates; NaN cannot reach here from validated models (it maps to 0).
    (if up { fl + 1.0 } else { fl }) as i64
}

/// gemmlowp `SaturatingRoundingDoublingHighMul`.
pub fn srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // C++ integer division truncates towards zero; so does Rust's `/`.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp `RoundingDivideByPOT` (`0 <= exponent <= 31`).
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    debug_assert!(exponent <= 31);
    let mask: i64 = (1i64 << exponent) - 1;
    let x64 = i64::from(x);
    let remainder = x64 & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x64 >> exponent) + i64::from(remainder > threshold)) as i32
}

impl Rescale {
    /// Apply the rescale to an accumulator. Validation guarantees the preconditions (an `acc`
    /// inside the layer's proven accumulator range); outside them the result is still defined
    /// (saturating) but may not match a runtime.
    pub fn apply(&self, acc: i64) -> i64 {
        match *self {
            Rescale::Dyadic { m, shift, rounding } => {
                let den = 1i128 << shift;
                let v = round_div(i128::from(m) * i128::from(acc), den, rounding);
                v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
            }
            Rescale::Float32 { m, bias, rounding } => {
                let x = (acc as f32 + bias as f32) * m as f32;
                round_f32(x, rounding)
            }
            Rescale::Q31 { m0, shift } => {
                let left = shift.max(0) as u32;
                let right = (-shift).max(0) as u32;
                let x = (acc << left) as i32;
                i64::from(rounding_divide_by_pot(srdhm(x, m0), right))
            }
        }
    }

    /// The real number this rescale approximates: `R(acc) ≈ factor · acc (+ offset)`.
    /// Used for reporting and by relaxations; never for exact semantics.
    pub fn real_factor(&self) -> f64 {
        match *self {
            Rescale::Dyadic { m, shift, .. } => m as f64 / 2f64.powi(shift as i32),
            Rescale::Float32 { m, .. } => m,
            Rescale::Q31 { m0, shift } => m0 as f64 / 2f64.powi(31) * 2f64.powi(shift),
        }
    }
}

/// A requantization step: per-tensor (one rescale) or per-output-channel rescales, plus an
/// optional fused ReLU, which raises the lower clamp to the output zero point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requant {
    pub rescale: Vec<Rescale>,
    #[serde(default)]
    pub relu: bool,
}

impl Requant {
    /// The rescale of output channel `c`.
    pub fn rescale_for(&self, c: usize) -> &Rescale {
        if self.rescale.len() == 1 {
            &self.rescale[0]
        } else {
            &self.rescale[c]
        }
    }
}

/// `clamp(R(acc) + zero_point, lo, hi)`, where `[lo, hi]` is the output range.
#[inline]
pub fn requantize(acc: i64, rescale: &Rescale, zero_point: i64, lo: i64, hi: i64) -> i64 {
    rescale.apply(acc).saturating_add(zero_point).clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_div_modes() {
        use Rounding::*;
        // 5/2 = 2.5, -5/2 = -2.5, 7/2 = 3.5
        assert_eq!(round_div(5, 2, HalfEven), 2);
        assert_eq!(round_div(7, 2, HalfEven), 4);
        assert_eq!(round_div(-5, 2, HalfEven), -2);
        assert_eq!(round_div(5, 2, HalfUp), 3);
        assert_eq!(round_div(-5, 2, HalfUp), -2);
        assert_eq!(round_div(5, 2, HalfAwayFromZero), 3);
        assert_eq!(round_div(-5, 2, HalfAwayFromZero), -3);
        assert_eq!(round_div(-7, 4, HalfEven), -2);
        assert_eq!(round_div(-5, 4, HalfUp), -1);
    }

    #[test]
    fn round_f32_modes() {
        use Rounding::*;
        assert_eq!(round_f32(2.5, HalfEven), 2);
        assert_eq!(round_f32(-2.5, HalfEven), -2);
        assert_eq!(round_f32(-2.5, HalfUp), -2);
        assert_eq!(round_f32(-2.5, HalfAwayFromZero), -3);
        assert_eq!(round_f32(0.49999997, HalfUp), 0);
        assert_eq!(round_f32(-0.5, HalfAwayFromZero), -1);
    }

    /// gemmlowp's documented examples for RoundingDivideByPOT: ties away from zero.
    #[test]
    fn rdbpot_examples() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(6, 2), 2);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot(-7, 0), -7);
    }

    #[test]
    fn srdhm_saturates() {
        assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(srdhm(1 << 30, 1 << 30), 1 << 29);
    }
}
