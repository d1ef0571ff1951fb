//! Linear relaxations of the scalar activations: for a monotone non-decreasing integer map `f`
//! (requantization, integer average, clamp) on the integers of `[plo, phi]`, two lines
//! `σl·p + cl ≤ f(p) ≤ σu·p + cu`. They come from the exact map where the range is small, and
//! otherwise from a band around the real rescale that covers rounding (±1/2) and, for Float32
//! rescales, the binary32 errors of `fl(fl(fl(acc) + bias)·m)`; the exact values at the range
//! ends are always used too. Offsets carry an explicit outward margin, so the lines hold in
//! exact arithmetic although they are computed in `f64` (tested at every integer below).

use crate::net::form::Act;
use crate::net::requant::{Rescale, Rounding};

/// Unit roundoff of `f64`.
const U: f64 = f64::EPSILON / 2.0;
/// Ranges of at most this many integers are relaxed from the exact map at every point.
const EXACT_WIDTH: i128 = 64;
/// Pre-activation magnitudes beyond this fall back to constant lines (f64 stops being exact on
/// integers at 2^53; stay well below).
const MAX_EXACT: f64 = (1u64 << 50) as f64;

/// A line `(slope, offset)`.
pub type Line = (f64, f64);

/// Most integers a non-monotone table's lines are computed from exactly; wider ranges get
/// constant lines at the exact minimum and maximum.
const MAX_TABLE_POINTS: i128 = 1 << 17;

/// The lower and upper lines of `act` on the integers of `[plo, phi]`.
pub fn act_lines(act: &Act, plo: i64, phi: i64) -> (Line, Line) {
    if act.is_monotone() {
        return relax_scalar(&|p| act.apply(p), act_band(act, plo, phi), plo, phi);
    }
    // A general table: the hulls of every point (exact), or its range.
    let (ylo, yhi) = act.image(plo, phi);
    if plo >= phi || ylo == yhi || i128::from(phi) - i128::from(plo) > MAX_TABLE_POINTS {
        return ((0.0, ylo as f64), (0.0, yhi as f64));
    }
    let mut pts: Vec<(f64, f64, f64)> = (plo..=phi).map(|p| (p as f64, act.apply(p) as f64, 0.0)).collect();
    hull_lines(&mut pts.clone(), &mut pts, plo as f64, phi as f64)
}

/// Lines below `lower` and above `upper` (points `(p, value, value error)`), chosen on the hulls
/// at the midpoint of `[fl, fh]`, with offsets that hold at every point with an outward margin.
fn hull_lines(lower: &mut [(f64, f64, f64)], upper: &mut [(f64, f64, f64)], fl: f64, fh: f64) -> (Line, Line) {
    let mid = 0.5 * (fl + fh);
    let sl = hull_slope(lower, mid, true);
    let su = hull_slope(upper, mid, false);
    let margin = |p: f64, v: f64, err: f64, s: f64| err + 1e-12 * (1.0 + v.abs() + (s * p).abs());
    let cl = lower.iter().map(|&(p, v, e)| v - sl * p - margin(p, v, e, sl)).fold(f64::INFINITY, f64::min);
    let cu = upper.iter().map(|&(p, v, e)| v - su * p + margin(p, v, e, su)).fold(f64::NEG_INFINITY, f64::max);
    ((sl, cl), (su, cu))
}

/// The band of an activation before its clamp, valid on `[plo, phi]`.
fn act_band(act: &Act, plo: i64, phi: i64) -> Option<Band> {
    match *act {
        Act::Requant { ref rescale, zero_point, .. } => rescale_band(rescale, zero_point, plo, phi),
        Act::Average { n, rounding, zero_point, .. } => {
            let pmax = (plo as f64).abs().max((phi as f64).abs());
            // sum/n is a multiple of 1/n; 1/n itself is rounded.
            let (elo, ehi) = round_err(u128::try_from(n).ok(), rounding, plo, phi);
            let fe = pmax / n as f64 * 1e-15;
            Some(Band { s: 1.0 / n as f64, o: zero_point as f64, elo: elo + fe, ehi: ehi + fe })
        }
        Act::Clamp { .. } => Some(Band { s: 1.0, o: 0.0, elo: 0.0, ehi: 0.0 }),
        // A monotone table: the exact points only (wide ranges get constant lines).
        Act::Lut { .. } => None,
    }
}

/// A band `f(p) ∈ [s·p + o − elo, s·p + o + ehi]` (before the clamps) valid on the relaxed range.
#[derive(Clone, Copy, Debug)]
struct Band {
    s: f64,
    o: f64,
    elo: f64,
    ehi: f64,
}

/// Error bounds `(below, above)` of rounding a value `v` that is a multiple of `1/n` (`None`: no
/// such structure) to an integer, for `v` of the sign of `[plo, phi]`. `round(v) − v` is a
/// multiple of `1/n` in `[−1/2, 1/2]`. For even `n` the value `±1/2` (a tie) is such a multiple,
/// and the tie side the mode never takes is excluded (the next multiple is `1/2 − 1/n`); for odd
/// `n` no tie exists and both sides are at most `1/2 − 1/(2n)`.
fn round_err(n: Option<u128>, mode: Rounding, plo: i64, phi: i64) -> (f64, f64) {
    let Some(n) = n else { return (0.5, 0.5) };
    if n <= 1 {
        return (0.0, 0.0); // v is an integer
    }
    let d = 1.0 / n as f64;
    if n % 2 == 1 {
        let e = 0.5 - 0.5 * d;
        return (e, e);
    }
    let (lo_tie, hi_tie) = match mode {
        Rounding::HalfEven => (true, true),
        Rounding::HalfUp => (false, true),
        // Ties go up for positive values and down for negative ones.
        Rounding::HalfAwayFromZero => (plo < 0, phi > 0),
    };
    let side = |tie: bool| if tie { 0.5 } else { 0.5 - d };
    (side(lo_tie), side(hi_tie))
}

/// Band of `R(acc) + z` for a rescale, valid for `acc ∈ [plo, phi]`.
fn rescale_band(r: &Rescale, z: i64, plo: i64, phi: i64) -> Option<Band> {
    let z = z as f64;
    let pmax = (plo as f64).abs().max((phi as f64).abs());
    let u32_ = 2f64.powi(-24);
    let band = match *r {
        Rescale::Dyadic { m, shift, rounding } => {
            let s = m as f64 / 2f64.powi(shift as i32);
            // m·acc/2^shift is a multiple of 2^-shift; s itself may be inexact if m > 2^53.
            let (elo, ehi) = round_err(1u128.checked_shl(shift), rounding, plo, phi);
            let fe = s * pmax * 1e-15;
            Band { s, o: z, elo: elo + fe, ehi: ehi + fe }
        }
        Rescale::Float32 { m, bias, .. } => {
            // fl(acc), fl(· + bias), fl(· · m): |result − (acc + bias)·m| ≤ m·(3|acc| + 2|bias|)·u(1 + O(u)),
            // plus absolute subnormal errors; then rounding adds 1/2.
            if (pmax + bias.abs()) * m > 1e30 {
                return None;
            }
            let o = m * bias + z;
            let e = 0.5 + m * (3.01 * u32_ * pmax + 2.01 * u32_ * bias.abs()) + o.abs() * 1e-15 + 1e-40;
            Band { s: m, o, elo: e, ehi: e }
        }
        Rescale::Q31 { m0, shift } => {
            let (left, right) = (shift.max(0), (-shift).max(0));
            let s = f64::from(m0) * 2f64.powi(left - 31 - right);
            // SRDHM rounds to within 1/2 + 2^-31 of acc·m0/2^31 (in 2^left units), then the rounding
            // right shift adds 1/2.
            let e = (0.5 + 1e-9) * 2f64.powi(-right) + 0.5 + s * pmax * 1e-15;
            Band { s, o: z, elo: e, ehi: e }
        }
    };
    (band.s.is_finite() && band.s > 0.0 && band.o.is_finite() && band.elo.is_finite() && band.ehi.is_finite())
        .then_some(band)
}

/// Lower and upper lines `(slope, offset)` of a monotone non-decreasing integer map `f` on the
/// integers of `[plo, phi]`. `band` relates `f` to a line where the range is too wide to
/// enumerate; `None` there gives constant lines.
fn relax_scalar(f: &dyn Fn(i64) -> i64, band: Option<Band>, plo: i64, phi: i64) -> ((f64, f64), (f64, f64)) {
    let (ylo, yhi) = (f(plo), f(phi));
    let constant = ((0.0, ylo as f64), (0.0, yhi as f64));
    if ylo == yhi || plo >= phi {
        return constant;
    }
    if (plo as f64).abs() > MAX_EXACT || (phi as f64).abs() > MAX_EXACT || (ylo as f64).abs() > MAX_EXACT {
        return constant;
    }
    let (fl, fh) = (plo as f64, phi as f64);
    let (yl, yh) = (ylo as f64, yhi as f64);
    // Candidate points (p, value, value error bound) for the lower and the upper hull.
    let mut lower: Vec<(f64, f64, f64)> = Vec::new();
    let mut upper: Vec<(f64, f64, f64)> = Vec::new();
    if i128::from(phi) - i128::from(plo) <= EXACT_WIDTH {
        for p in plo..=phi {
            let v = f(p) as f64;
            lower.push((p as f64, v, 0.0));
            upper.push((p as f64, v, 0.0));
        }
    } else {
        let Some(b) = band else { return constant };
        lower.push((fl, yl, 0.0));
        lower.push((fh, yh, 0.0));
        upper.push((fl, yl, 0.0));
        upper.push((fh, yh, 0.0));
        // Between consecutive candidates the envelope clamp(s·p + o ∓ e, ylo, yhi) is linear; its
        // breakpoints are where the line meets ylo or yhi. The exact end values only hold at the
        // ends, so the envelope is also sampled next to them.
        let (a, z) = (fl + 1.0, fh - 1.0);
        let add = |pts: &mut Vec<(f64, f64, f64)>, e: f64| {
            let mut qs = vec![a, z];
            for y in [yl, yh] {
                let q = (y - b.o - e) / b.s;
                if q.is_finite() {
                    for d in [-1.0, 0.0, 1.0, 2.0] {
                        qs.push((q.floor() + d).clamp(a, z));
                    }
                }
            }
            for q in qs {
                let raw = b.s * q + b.o + e;
                let err = 4.0 * U * ((b.s * q).abs() + b.o.abs() + e.abs());
                pts.push((q, raw.clamp(yl, yh), err));
            }
        };
        add(&mut lower, -b.elo);
        add(&mut upper, b.ehi);
    }
    let ((sl, cl), (su, cu)) = hull_lines(&mut lower, &mut upper, fl, fh);
    if !(cl.is_finite() && cu.is_finite()) {
        return constant;
    }
    ((sl, cl), (su, cu))
}

/// Slope of the edge of the lower (or upper) convex hull of `pts` above `mid`: the line that
/// maximizes (minimizes) its value at the midpoint, i.e. the smallest-area relaxation.
fn hull_slope(pts: &mut [(f64, f64, f64)], mid: f64, lower: bool) -> f64 {
    let sgn = if lower { 1.0 } else { -1.0 };
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then((sgn * a.1).total_cmp(&(sgn * b.1))));
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    for &(p, v, _) in pts.iter() {
        if hull.last().is_some_and(|h| h.0 == p) {
            continue; // same abscissa: the first is the binding one
        }
        while hull.len() >= 2 {
            let (o, a) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            let cross = (a.0 - o.0) * (v - o.1) - (a.1 - o.1) * (p - o.0);
            if sgn * cross <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push((p, v));
    }
    for w in hull.windows(2) {
        if w[0].0 <= mid && mid <= w[1].0 {
            return (w[1].1 - w[0].1) / (w[1].0 - w[0].0);
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::requant::requantize;
    use rand::{Rng, SeedableRng};

    /// The lines of every rescale kind and rounding mode hold at every integer of wide and
    /// narrow ranges (the band path and the exact path), including clamps and fused ReLU.
    #[test]
    fn scalar_lines_hold_everywhere() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut checked = 0u64;
        for _ in 0..3000 {
            let rounding = Rounding::ALL[rng.gen_range(0..3)];
            let r = match rng.gen_range(0..3) {
                0 => Rescale::Dyadic { m: rng.gen_range(1..5000), shift: rng.gen_range(0..16), rounding },
                1 => Rescale::Float32 {
                    m: f64::from(rng.gen_range(1e-4f32..2.0)),
                    bias: if rng.gen_bool(0.5) { 0.0 } else { f64::from(rng.gen_range(-3e4f32..3e4)) },
                    rounding,
                },
                _ => Rescale::Q31 { m0: rng.gen_range(1 << 30..i32::MAX), shift: rng.gen_range(-14..=1) },
            };
            let z = rng.gen_range(-20..20);
            let (clo, chi) = if rng.gen_bool(0.5) { (z.max(-128), 127) } else { (-128, 127) };
            let f = |p: i64| requantize(p, &r, z, clo, chi);
            let w = if rng.gen_bool(0.3) { rng.gen_range(1..64) } else { rng.gen_range(64..6000) };
            let plo = rng.gen_range(-40_000..40_000);
            let phi = plo + w;
            let ((sl, cl), (su, cu)) = relax_scalar(&f, rescale_band(&r, z, plo, phi), plo, phi);
            for p in plo..=phi {
                let y = f(p) as f64;
                assert!(sl * p as f64 + cl <= y && y <= su * p as f64 + cu, "{r:?} z={z} [{plo},{phi}] p={p}");
                checked += 1;
            }
        }
        assert!(checked > 1_000_000);
    }

    /// The lines of the integer average and of clamps (ReLU) hold at every integer too.
    #[test]
    fn average_and_clamp_lines_hold_everywhere() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6);
        let mut checked = 0u64;
        for _ in 0..2000 {
            let act = if rng.gen_bool(0.5) {
                let z = rng.gen_range(-20..20);
                Act::Average {
                    n: rng.gen_range(1..50),
                    rounding: Rounding::ALL[rng.gen_range(0..3)],
                    zero_point: z,
                    lo: -128,
                    hi: 127,
                }
            } else {
                let lo = rng.gen_range(-200..100);
                Act::Clamp { lo, hi: lo + rng.gen_range(0..300) }
            };
            let w = if rng.gen_bool(0.3) { rng.gen_range(1..64) } else { rng.gen_range(64..3000) };
            let plo = rng.gen_range(-6000..6000);
            let phi = plo + w;
            let ((sl, cl), (su, cu)) = act_lines(&act, plo, phi);
            for p in plo..=phi {
                let y = act.apply(p) as f64;
                assert!(sl * p as f64 + cl <= y && y <= su * p as f64 + cu, "{act:?} [{plo},{phi}] p={p}");
                checked += 1;
            }
        }
        assert!(checked > 500_000);
    }
}
