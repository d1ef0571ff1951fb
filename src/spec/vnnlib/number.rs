//! VNN-LIB numerals as exact rationals.

use super::MAX_EXPONENT;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Zero;

pub(super) fn looks_numeric(t: &str) -> bool {
    let s = t.strip_prefix(['-', '+']).unwrap_or(t);
    s.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// Exact value of a decimal `[sign] digits [. digits] [(e|E) [sign] digits]`.
pub fn parse_number(t: &str) -> Result<BigRational, String> {
    let bad = || format!("invalid number `{t}`");
    let (neg, s) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mant.find('.') {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, ""),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || int.len() + frac.len() == 0 {
        return Err(bad());
    }
    let e: i64 = match exp {
        None => 0,
        Some(x) => {
            let (eneg, d) = match x.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, x.strip_prefix('+').unwrap_or(x)),
            };
            if d.is_empty() || !digits(d) {
                return Err(bad());
            }
            let v = d.trim_start_matches('0');
            let v: u32 = if v.is_empty() { 0 } else { v.parse().unwrap_or(u32::MAX) };
            if v > MAX_EXPONENT {
                return Err(format!("number `{t}`: exponent out of range (at most ±{MAX_EXPONENT})"));
            }
            if eneg {
                -i64::from(v)
            } else {
                i64::from(v)
            }
        }
    };
    // value = digits · 10^shift. Strip trailing zeros: then the last digit is non-zero, so
    // gcd(digits, 10^k) is a power of 2 (even) or of 5 (last digit 5), and the fraction can be
    // reduced without a general gcd (which is slow in unoptimized builds).
    let all = format!("{int}{frac}");
    let trimmed = all.trim_end_matches('0');
    let digits = trimmed.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(BigRational::zero());
    }
    let shift = e - frac.len() as i64 + (all.len() - trimmed.len()) as i64;
    let mut m = BigInt::parse_bytes(digits.as_bytes(), 10).ok_or_else(bad)?;
    let pow = |b: u32, k: i64| num_traits::pow(BigInt::from(b), usize::try_from(k).unwrap_or(0));
    let v = if shift >= 0 {
        BigRational::from_integer(m * pow(10, shift))
    } else {
        let k = -shift;
        let den = if digits.ends_with(['2', '4', '6', '8']) {
            let a = i64::try_from(m.trailing_zeros().unwrap_or(0)).unwrap_or(0).min(k);
            m >>= a as usize;
            pow(5, k) << (k - a) as usize
        } else if digits.ends_with('5') {
            let (five, mut b) = (BigInt::from(5u32), 0);
            while b < k && (&m % &five).is_zero() {
                m /= &five;
                b += 1;
            }
            pow(5, k - b) << k as usize
        } else {
            pow(10, k)
        };
        BigRational::new_raw(m, den)
    };
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0.5"), Ok(q(1, 2)));
        assert_eq!(parse_number("-0.5"), Ok(q(-1, 2)));
        assert_eq!(parse_number("+.25"), Ok(q(1, 4)));
        assert_eq!(parse_number("5."), Ok(q(5, 1)));
        assert_eq!(parse_number("1e-3"), Ok(q(1, 1000)));
        assert_eq!(parse_number("2.5E+2"), Ok(q(250, 1)));
        assert_eq!(parse_number("-0"), Ok(q(0, 1)));
        assert_eq!(parse_number("0.029999999329447746"), Ok(q(29999999329447746, 1_000_000_000_000_000_000)));
        for bad in ["1.2.3", "1e", "1e+", ".", "-.", "1x", "0x10", "1e5.0", "--1", "1e1001"] {
            assert!(parse_number(bad).is_err(), "{bad}");
        }
        assert!(parse_number("1e1000").is_ok());
        // Every accepted form is one Rust's f32 parser accepts too.
        for t in ["5.", ".5", "-.5", "+1", "1E5", "-0.0", "2.5e+2", "1e-3"] {
            assert!(t.parse::<f32>().is_ok(), "{t}");
        }
    }
}
