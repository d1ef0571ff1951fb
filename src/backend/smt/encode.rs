//! IR → SMT-LIB2 terms, written once over a small [`Theory`] trait with a bit-vector (QF_BV) and
//! an integer (QF_LIA) implementation, so both logics share one code path.
//!
//! Every intermediate value is a [`Val`]: a term name plus a sound integer interval computed here
//! by interval arithmetic on `i128` (every partial sum included). In QF_BV the interval fixes the
//! term's bit width, so no bit-vector operation can wrap: a value in `[lo, hi]` is stored in the
//! smallest two's-complement width that holds `[lo, hi]`, and every operation is carried out in a
//! width that holds its operands, its result and (for sums) every partial sum.

use super::Logic;
use crate::bounds::{Interval, NetBounds};
use crate::net::form::{Act, Acts, Affine, Gather, Src, Sum, Windows};
use crate::net::requant::{Rescale, Rounding};
use crate::net::walk::{walk, Analysis};
use crate::net::Network;
use crate::spec::Spec;
use num_bigint::BigInt;
use std::fmt::Write as _;
use thiserror::Error;

/// Why a query could not be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    #[error("an intermediate value of the encoding exceeds 128 bits ({0})")]
    TooWide(String),
    #[error("the spec does not fit the network: {0}")]
    Spec(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
}

type Res<T> = Result<T, EncodeError>;

fn ovf(what: &str) -> EncodeError {
    EncodeError::TooWide(what.to_string())
}

/// A term with a sound integer range. `w` is the bit width in QF_BV (0 in QF_LIA).
#[derive(Clone, Debug)]
pub struct Val {
    pub e: String,
    pub lo: i128,
    pub hi: i128,
    pub w: u32,
}

/// Smallest two's-complement width holding `[lo, hi]` (at least 2 bits).
pub fn bits_for(lo: i128, hi: i128) -> Res<u32> {
    for w in 2..=128u32 {
        let (min, max) = if w == 128 { (i128::MIN, i128::MAX) } else { (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1) };
        if lo >= min && hi <= max {
            return Ok(w);
        }
    }
    Err(ovf("range"))
}

/// The primitives whose spelling differs between the logics. Everything else is generic.
pub trait Theory {
    fn logic(&self) -> Logic;
    /// Width for a range (0 = unsized integers).
    fn width(&self, lo: i128, hi: i128) -> Res<u32>;
    fn sort(&self, w: u32) -> String;
    fn lit(&self, v: i128, w: u32) -> String;
    /// Re-express `v` at width `w` (sign extension, or truncation when `v`'s range fits `w`).
    fn resize(&self, v: &Val, w: u32) -> String;
    fn add(&self, a: &str, b: &str) -> String;
    fn mul_lit(&self, c: &str, a: &str) -> String;
    fn le(&self, a: &str, b: &str) -> String;
    fn lt(&self, a: &str, b: &str) -> String;
    /// `(q, r)` with `t = q·n + r`, `0 ≤ r < n` (floor division), `n > 0`, at the width of `t`
    /// extended to `w` (`w` holds `t`, `t + n·k` for the offset used, `q` and `r`).
    fn floor_divmod(&self, t: &Val, n: i128, w: u32) -> Res<(String, String)>;
    fn is_odd(&self, q: &Val) -> String;
}

/// QF_BV: signed two's-complement bit-vectors with widths from the ranges.
pub struct Bv;
/// QF_LIA: mathematical integers, `div`/`mod` by constants.
pub struct Lia;

fn mask(w: u32) -> u128 {
    if w >= 128 {
        u128::MAX
    } else {
        (1u128 << w) - 1
    }
}

impl Theory for Bv {
    fn logic(&self) -> Logic {
        Logic::Bv
    }
    fn width(&self, lo: i128, hi: i128) -> Res<u32> {
        bits_for(lo, hi)
    }
    fn sort(&self, w: u32) -> String {
        format!("(_ BitVec {w})")
    }
    fn lit(&self, v: i128, w: u32) -> String {
        format!("(_ bv{} {w})", (v as u128) & mask(w))
    }
    fn resize(&self, v: &Val, w: u32) -> String {
        if v.lo == v.hi {
            return self.lit(v.lo, w);
        }
        match w.cmp(&v.w) {
            std::cmp::Ordering::Equal => v.e.clone(),
            std::cmp::Ordering::Greater => format!("((_ sign_extend {}) {})", w - v.w, v.e),
            std::cmp::Ordering::Less => format!("((_ extract {} 0) {})", w - 1, v.e),
        }
    }
    fn add(&self, a: &str, b: &str) -> String {
        format!("(bvadd {a} {b})")
    }
    fn mul_lit(&self, c: &str, a: &str) -> String {
        format!("(bvmul {c} {a})")
    }
    fn le(&self, a: &str, b: &str) -> String {
        format!("(bvsle {a} {b})")
    }
    fn lt(&self, a: &str, b: &str) -> String {
        format!("(bvslt {a} {b})")
    }
    fn floor_divmod(&self, t: &Val, n: i128, w: u32) -> Res<(String, String)> {
        if n.count_ones() == 1 {
            // Arithmetic shift is floor division; the low bits are the non-negative remainder.
            let s = n.trailing_zeros();
            let te = self.resize(t, w);
            if s == 0 {
                return Ok((te, self.lit(0, w)));
            }
            let q = format!("(bvashr {te} {})", self.lit(i128::from(s), w));
            if s >= w {
                return Err(ovf("shift wider than the value"));
            }
            let r = format!("((_ zero_extend {}) ((_ extract {} 0) {te}))", w - s, s - 1);
            return Ok((q, r));
        }
        // Shift into the non-negative range by a multiple of n, then unsigned division.
        let k = if t.lo < 0 { (-t.lo + n - 1) / n } else { 0 };
        let kn = k.checked_mul(n).ok_or_else(|| ovf("divisor offset"))?;
        let te = self.resize(t, w);
        let shifted = if k == 0 { te } else { self.add(&te, &self.lit(kn, w)) };
        let q = format!("(bvsub (bvudiv {shifted} {}) {})", self.lit(n, w), self.lit(k, w));
        let r = format!("(bvurem {shifted} {})", self.lit(n, w));
        Ok((q, r))
    }
    fn is_odd(&self, q: &Val) -> String {
        format!("(= ((_ extract 0 0) {}) #b1)", q.e)
    }
}

fn big_lit(v: &BigInt) -> String {
    if v.sign() == num_bigint::Sign::Minus {
        format!("(- {})", v.magnitude())
    } else {
        v.to_string()
    }
}

impl Theory for Lia {
    fn logic(&self) -> Logic {
        Logic::Lia
    }
    fn width(&self, _lo: i128, _hi: i128) -> Res<u32> {
        Ok(0)
    }
    fn sort(&self, _w: u32) -> String {
        "Int".into()
    }
    fn lit(&self, v: i128, _w: u32) -> String {
        if v < 0 {
            // `-v` may not fit i128 at i128::MIN; BigInt always does.
            format!("(- {})", -BigInt::from(v))
        } else {
            v.to_string()
        }
    }
    fn resize(&self, v: &Val, _w: u32) -> String {
        v.e.clone()
    }
    fn add(&self, a: &str, b: &str) -> String {
        format!("(+ {a} {b})")
    }
    fn mul_lit(&self, c: &str, a: &str) -> String {
        format!("(* {c} {a})")
    }
    fn le(&self, a: &str, b: &str) -> String {
        format!("(<= {a} {b})")
    }
    fn lt(&self, a: &str, b: &str) -> String {
        format!("(< {a} {b})")
    }
    fn floor_divmod(&self, t: &Val, n: i128, _w: u32) -> Res<(String, String)> {
        // SMT-LIB `div`/`mod` are Euclidean: for n > 0 that is floor division.
        Ok((format!("(div {} {n})", t.e), format!("(mod {} {n})", t.e)))
    }
    fn is_odd(&self, q: &Val) -> String {
        format!("(= (mod {} 2) 1)", q.e)
    }
}

/// Builds the SMT-LIB2 body (declarations, definitions, assertions) of one query.
pub struct Encoder<'t> {
    pub th: &'t dyn Theory,
    pub text: String,
    next: usize,
    pub declared: usize,
    pub defined: usize,
    pub asserted: usize,
    pub max_width: u32,
    /// False when some step is a sound over-approximation (Float32 in QF_LIA): a `sat` answer is
    /// then only a candidate.
    pub exact: bool,
    pub uses_fp: bool,
}

fn cadd(a: i128, b: i128) -> Res<i128> {
    a.checked_add(b).ok_or_else(|| ovf("sum"))
}
fn cmul(a: i128, b: i128) -> Res<i128> {
    a.checked_mul(b).ok_or_else(|| ovf("product"))
}

impl<'t> Encoder<'t> {
    pub fn new(th: &'t dyn Theory) -> Self {
        Encoder {
            th,
            text: String::new(),
            next: 0,
            declared: 0,
            defined: 0,
            asserted: 0,
            max_width: 0,
            exact: true,
            uses_fp: false,
        }
    }

    fn note_width(&mut self, w: u32) {
        self.max_width = self.max_width.max(w);
    }

    /// Declare a constant with range `[lo, hi]` (asserted).
    pub fn declare(&mut self, name: &str, lo: i128, hi: i128) -> Res<Val> {
        let w = self.th.width(lo, hi)?;
        self.note_width(w);
        let _ = writeln!(self.text, "(declare-const {name} {})", self.th.sort(w));
        self.declared += 1;
        let v = Val { e: name.to_string(), lo, hi, w };
        let c = self.konst(lo, w);
        let d = self.konst(hi, w);
        self.assert(&format!("(and {} {})", self.th.le(&c.e, name), self.th.le(name, &d.e)));
        Ok(v)
    }

    pub fn assert(&mut self, b: &str) {
        let _ = writeln!(self.text, "(assert {b})");
        self.asserted += 1;
    }

    /// Name a term: a fresh constant equal to it. (Not `define-fun`: Z3 4.8's parser expands
    /// nested 0-ary macros by substitution, quadratic in the query size — minutes on a CNN.)
    fn define(&mut self, name: &str, sort: &str, expr: &str) {
        let _ = writeln!(self.text, "(declare-const {name} {sort})\n(assert (= {name} {expr}))");
        self.defined += 1;
        self.asserted += 1;
    }

    /// Name `expr` (of width `w`) with range `[lo, hi]`.
    pub fn def(&mut self, expr: String, lo: i128, hi: i128, w: u32) -> Val {
        let name = format!("t{}", self.next);
        self.next += 1;
        self.note_width(w);
        self.define(&name, &self.th.sort(w), &expr);
        Val { e: name, lo, hi, w }
    }

    pub fn def_bool(&mut self, expr: String) -> String {
        let name = format!("b{}", self.next);
        self.next += 1;
        self.define(&name, "Bool", &expr);
        name
    }

    /// A literal at width `w` (or its own width if `w == 0`).
    pub fn konst(&self, v: i128, w: u32) -> Val {
        let w = if self.th.logic() == Logic::Bv && w == 0 { bits_for(v, v).unwrap_or(128) } else { w };
        Val { e: self.th.lit(v, w), lo: v, hi: v, w }
    }

    fn common(&self, vals: &[&Val]) -> Res<u32> {
        let lo = vals.iter().map(|v| v.lo).min().unwrap_or(0);
        let hi = vals.iter().map(|v| v.hi).max().unwrap_or(0);
        self.th.width(lo, hi)
    }

    /// Store `v` at the smallest width for its range.
    pub fn narrow(&mut self, v: Val) -> Res<Val> {
        let w = self.th.width(v.lo, v.hi)?;
        if w >= v.w {
            return Ok(v);
        }
        let e = self.th.resize(&v, w);
        Ok(self.def(e, v.lo, v.hi, w))
    }

    /// `Σ c·x + c0`. The width holds every product and partial sum (bounded by Σ|c|·max|x| + |c0|).
    pub fn lin(&mut self, terms: &[(i128, &Val)], c0: i128) -> Res<Val> {
        let (mut lo, mut hi, mut absb) = (c0, c0, c0.checked_abs().ok_or_else(|| ovf("constant"))?);
        for &(c, x) in terms {
            let (a, b) = (cmul(c, x.lo)?, cmul(c, x.hi)?);
            lo = cadd(lo, a.min(b))?;
            hi = cadd(hi, a.max(b))?;
            let m = x.lo.checked_abs().ok_or_else(|| ovf("term"))?.max(x.hi.checked_abs().ok_or_else(|| ovf("term"))?);
            absb = cadd(absb, cmul(c.checked_abs().ok_or_else(|| ovf("coefficient"))?, m)?)?;
        }
        let mut w = self.th.width(-absb, absb)?;
        for &(_, x) in terms {
            w = w.max(x.w);
        }
        let mut parts: Vec<String> = Vec::new();
        for &(c, x) in terms {
            if c == 0 {
                continue;
            }
            let xe = self.th.resize(x, w);
            parts.push(if c == 1 { xe } else { self.th.mul_lit(&self.th.lit(c, w), &xe) });
        }
        if c0 != 0 || parts.is_empty() {
            parts.push(self.th.lit(c0, w));
        }
        let mut e = parts[0].clone();
        for p in &parts[1..] {
            e = self.th.add(&e, p);
        }
        let v = self.def(e, lo, hi, w);
        self.narrow(v)
    }

    pub fn le(&self, a: &Val, b: &Val) -> Res<String> {
        let w = self.common(&[a, b])?.max(a.w).max(b.w);
        Ok(self.th.le(&self.th.resize(a, w), &self.th.resize(b, w)))
    }

    pub fn lt(&self, a: &Val, b: &Val) -> Res<String> {
        let w = self.common(&[a, b])?.max(a.w).max(b.w);
        Ok(self.th.lt(&self.th.resize(a, w), &self.th.resize(b, w)))
    }

    pub fn eq(&self, a: &Val, b: &Val) -> Res<String> {
        let w = self.common(&[a, b])?.max(a.w).max(b.w);
        Ok(format!("(= {} {})", self.th.resize(a, w), self.th.resize(b, w)))
    }

    /// `ite(cond, a, b)`; the range is the hull.
    pub fn ite(&mut self, cond: &str, a: &Val, b: &Val) -> Res<Val> {
        let w = self.common(&[a, b])?.max(a.w).max(b.w);
        let e = format!("(ite {cond} {} {})", self.th.resize(a, w), self.th.resize(b, w));
        let v = self.def(e, a.lo.min(b.lo), a.hi.max(b.hi), w);
        self.narrow(v)
    }

    /// `max(a, b)`, with the range of the max.
    pub fn max(&mut self, a: &Val, b: &Val) -> Res<Val> {
        if a.lo >= b.hi {
            return Ok(a.clone());
        }
        if b.lo >= a.hi {
            return Ok(b.clone());
        }
        let c = self.le(b, a)?;
        let mut v = self.ite(&c, a, b)?;
        v.lo = a.lo.max(b.lo);
        Ok(v)
    }

    /// `clamp(v, lo, hi)`, skipping sides the range rules out.
    pub fn clamp(&mut self, v: &Val, lo: i128, hi: i128) -> Res<Val> {
        let mut cur = v.clone();
        if cur.lo < lo {
            let l = self.konst(lo, 0);
            cur = if cur.hi <= lo { l } else { self.max(&cur, &l)? };
        }
        if cur.hi > hi {
            let h = self.konst(hi, 0);
            cur = if cur.lo >= hi {
                h
            } else {
                let c = self.le(&cur, &h)?;
                let mut r = self.ite(&c, &cur, &h)?;
                r.hi = hi;
                r.lo = cur.lo.min(hi);
                r
            };
        }
        Ok(cur)
    }

    /// `q + 1` if `cond`, else `q`.
    fn add_if(&mut self, q: &Val, cond: &str) -> Res<Val> {
        let q1 = self.lin(&[(1, q)], 1)?;
        let mut v = self.ite(cond, &q1, q)?;
        v.lo = q.lo;
        v.hi = q1.hi;
        Ok(v)
    }

    /// Floor division and remainder by a constant `n > 0`.
    pub fn divmod(&mut self, t: &Val, n: i128) -> Res<(Val, Val)> {
        let (qlo, qhi) = (t.lo.div_euclid(n), t.hi.div_euclid(n));
        let (rlo, rhi) = if qlo == qhi { (t.lo.rem_euclid(n), t.hi.rem_euclid(n)) } else { (0, n - 1) };
        let k = if t.lo < 0 { (-t.lo + n - 1) / n } else { 0 };
        let shifted_hi = cadd(t.hi, cmul(k, n)?)?;
        let w = self.th.width(t.lo.min(qlo).min(-n), shifted_hi.max(n).max(t.hi))?.max(t.w);
        let (qe, re) = self.th.floor_divmod(t, n, w)?;
        let q = self.def(qe, qlo, qhi, w);
        let r = self.def(re, rlo, rhi, w);
        Ok((self.narrow(q)?, self.narrow(r)?))
    }

    /// `round(t / n)` with the tie rule of `mode` (see [`crate::net::requant::round_div`]).
    pub fn round_div(&mut self, t: &Val, n: i128, mode: Rounding) -> Res<Val> {
        if n == 1 {
            return Ok(t.clone());
        }
        let (q, r) = self.divmod(t, n)?;
        let half = self.konst(n / 2, 0);
        let above = self.lt(&half, &r)?;
        let up = if n % 2 == 1 {
            above
        } else {
            let tie = self.eq(&r, &half)?;
            let rule = match mode {
                Rounding::HalfUp => "true".to_string(),
                Rounding::HalfEven => self.th.is_odd(&q),
                Rounding::HalfAwayFromZero => {
                    let z = self.konst(0, 0);
                    self.le(&z, &q)?
                }
            };
            format!("(or {above} (and {tie} {rule}))")
        };
        let up = self.def_bool(up);
        self.add_if(&q, &up)
    }

    /// Division truncating towards zero (C++ `/`) by a constant `n > 0`.
    pub fn trunc_div(&mut self, t: &Val, n: i128) -> Res<Val> {
        let (q, r) = self.divmod(t, n)?;
        let z = self.konst(0, 0);
        let neg = self.lt(t, &z)?;
        let rz = self.eq(&r, &z)?;
        let c = self.def_bool(format!("(and {neg} (not {rz}))"));
        self.add_if(&q, &c)
    }

    /// gemmlowp `SaturatingRoundingDoublingHighMul(a, b)` for a constant `b`.
    pub fn srdhm(&mut self, a: &Val, b: i32) -> Res<Val> {
        let ab = self.lin(&[(i128::from(b), a)], 0)?;
        let z = self.konst(0, 0);
        let nonneg = self.le(&z, &ab)?;
        let pos = self.lin(&[(1, &ab)], 1 << 30)?;
        let neg = self.lin(&[(1, &ab)], 1 - (1 << 30))?;
        let nudged = self.ite(&nonneg, &pos, &neg)?;
        let mut v = self.trunc_div(&nudged, 1 << 31)?;
        if b == i32::MIN && a.lo <= i128::from(i32::MIN) {
            let min = self.konst(i128::from(i32::MIN), 0);
            let c = self.eq(a, &min)?;
            let max = self.konst(i128::from(i32::MAX), 0);
            v = self.ite(&c, &max, &v)?;
        }
        // The true result is an i32; the conservative range may say more.
        v.lo = v.lo.max(i128::from(i32::MIN));
        v.hi = v.hi.min(i128::from(i32::MAX));
        self.narrow_checked(v)
    }

    /// Re-narrow a value whose range was tightened by reasoning the interval arithmetic missed.
    fn narrow_checked(&mut self, v: Val) -> Res<Val> {
        if v.lo > v.hi {
            return Err(EncodeError::Unsupported("empty range".into()));
        }
        self.narrow(v)
    }

    /// gemmlowp `RoundingDivideByPOT(x, e)`: ties away from zero.
    pub fn rounding_divide_by_pot(&mut self, x: &Val, e: u32) -> Res<Val> {
        if e == 0 {
            return Ok(x.clone());
        }
        let m = (1i128 << e) - 1;
        let (q, r) = self.divmod(x, 1i128 << e)?;
        let z = self.konst(0, 0);
        let neg = self.lt(x, &z)?;
        let t1 = self.konst(m / 2 + 1, 0);
        let t0 = self.konst(m / 2, 0);
        let thr = self.ite(&neg, &t1, &t0)?;
        let c = self.lt(&thr, &r)?;
        let c = self.def_bool(c);
        self.add_if(&q, &c)
    }

    /// The rescale `R(acc)` of [`Rescale::apply`].
    pub fn rescale(&mut self, r: &Rescale, acc: &Val) -> Res<Val> {
        match *r {
            Rescale::Dyadic { m, shift, rounding } => {
                let t = self.lin(&[(i128::from(m), acc)], 0)?;
                self.round_div(&t, 1i128 << shift, rounding)
            }
            Rescale::Q31 { m0, shift } => {
                let left = shift.max(0) as u32;
                let right = (-shift).max(0) as u32;
                let x = self.lin(&[(1i128 << left, acc)], 0)?;
                if x.lo < i128::from(i32::MIN) || x.hi > i128::from(i32::MAX) {
                    return Err(EncodeError::Unsupported(
                        "q31 input exceeds int32 (the model failed validation?)".into(),
                    ));
                }
                let y = self.srdhm(&x, m0)?;
                self.rounding_divide_by_pot(&y, right)
            }
            Rescale::Float32 { m, bias, rounding } => match self.th.logic() {
                Logic::Bv => self.float_exact(acc, m, bias, rounding, r),
                Logic::Lia => self.float_band(acc, m, bias, r),
            },
        }
    }

    /// `round(fl(fl(fl(acc) + bias) · m))` exactly in Z3's binary32 theory.
    fn float_exact(&mut self, acc: &Val, m: f64, bias: f64, rounding: Rounding, r: &Rescale) -> Res<Val> {
        if acc.lo < i128::from(i32::MIN) || acc.hi > i128::from(i32::MAX) {
            return Err(EncodeError::Unsupported("float32 accumulator exceeds int32".into()));
        }
        self.uses_fp = true;
        let a32 = self.th.resize(acc, 32.max(acc.w));
        let a32 = if acc.w > 32 { format!("((_ extract 31 0) {a32})") } else { a32 };
        let fp = "(_ FloatingPoint 8 24)";
        let mut x = format!("((_ to_fp 8 24) RNE {a32})");
        if bias != 0.0 {
            x = format!("(fp.add RNE {x} {})", fp_lit(bias as f32));
        }
        x = format!("(fp.mul RNE {x} {})", fp_lit(m as f32));
        let xn = format!("f{}", self.next);
        self.next += 1;
        self.define(&xn, fp, &x);
        // R is monotone non-decreasing in acc, so the endpoint images bound it.
        let (lo, hi) = (i128::from(r.apply(acc.lo as i64)), i128::from(r.apply(acc.hi as i64)));
        // The integral binary32 `f` as a 32-bit integer. Below 2^24 in magnitude this is a fresh
        // constant `t` with `fp.eq (to_fp t) f` (lemma `proofs/smt_fp_to_int_eq.smt2`: then
        // `t = fp.to_sbv f`): `fp.to_sbv` makes Z3 4.8 introduce an uninterpreted function for
        // its unspecified cases, which sends the bit-blasted query to the SMT core instead of the
        // SAT solver — much slower, and deaf to the timeout for minutes.
        let small = lo.abs().max(hi.abs()) < (1 << 23);
        let to_int = |enc: &mut Self, f: String| -> String {
            if small {
                let t = format!("t{}", enc.next);
                enc.next += 1;
                let _ = writeln!(enc.text, "(declare-const {t} (_ BitVec 32))");
                enc.declared += 1;
                enc.assert(&format!("(fp.eq ((_ to_fp 8 24) RNE {t}) {f})"));
                t
            } else {
                format!("((_ fp.to_sbv 32) RTZ {f})")
            }
        };
        let e = match rounding {
            Rounding::HalfEven => to_int(self, format!("(fp.roundToIntegral RNE {xn})")),
            Rounding::HalfAwayFromZero => to_int(self, format!("(fp.roundToIntegral RNA {xn})")),
            Rounding::HalfUp => {
                // floor(x + 1/2) without rounding the addition: f = floor(x); up iff x ≠ f and
                // x ≥ f + 1/2. When x ≠ f, |x| < 2^23, so f + 1/2 is exact in binary32.
                let f = format!("(fp.roundToIntegral RTN {xn})");
                let half = fp_lit(0.5);
                let fi = to_int(self, f.clone());
                format!("(ite (and (not (fp.eq {xn} {f})) (fp.geq {xn} (fp.add RNE {f} {half}))) (bvadd {fi} (_ bv1 32)) {fi})")
            }
        };
        let v = self.def(e, lo, hi, 32);
        self.narrow(v)
    }

    /// A sound band for the float rescale in QF_LIA: `|R(acc) − (acc + bias)·m| ≤ 1/2 + E` with
    /// `E = m·(|acc| + |bias|)·2^-22 + 2^-148` bounding the three binary32 rounding errors.
    fn float_band(&mut self, acc: &Val, m: f64, bias: f64, r: &Rescale) -> Res<Val> {
        self.exact = false;
        let (mm, em) = dyadic(m)?;
        let (mb, eb) = dyadic(bias)?;
        let big = |v: i128| BigInt::from(v);
        let amax = acc.lo.abs().max(acc.hi.abs());
        let d = BigInt::from(1) << (em + eb);
        // v·D = N = acc·2^eb·Mm + Mb·Mm
        let ca = (big(1) << eb) * &mm;
        let c0 = &mb * &mm;
        let e_rel = (&mm * ((big(amax) << eb) + BigInt::from(mb.magnitude().clone())) + ((big(1) << 22) - 1)) >> 22;
        let e_abs = if em + eb > 148 { big(1) << (em + eb - 148) } else { big(1) };
        let ed = e_rel + e_abs;
        let (lo, hi) = (i128::from(r.apply(acc.lo as i64)), i128::from(r.apply(acc.hi as i64)));
        let name = format!("r{}", self.next);
        self.next += 1;
        let rv = self.declare(&name, lo, hi)?;
        // 2N − D − 2E ≤ 2D·r ≤ 2N + D + 2E
        let two_n = format!("(+ (* {} {}) {})", big_lit(&(&ca * 2)), acc.e, big_lit(&(&c0 * 2)));
        let lhs = format!("(* {} {})", big_lit(&(&d * 2)), rv.e);
        let slack = &d + &ed * 2;
        self.assert(&format!("(<= (- {two_n} {}) {lhs})", big_lit(&slack)));
        self.assert(&format!("(<= {lhs} (+ {two_n} {}))", big_lit(&slack)));
        Ok(rv)
    }

    /// `y = act(p)`: requantization `clamp(R(p) + zp, lo, hi)`, the integer average
    /// `clamp(round(p / n) + zp, lo, hi)`, or a clamp.
    pub fn act(&mut self, act: &Act, p: &Val) -> Res<Val> {
        match *act {
            Act::Requant { ref rescale, zero_point, lo, hi } => {
                let r = self.rescale(rescale, p)?;
                let t = self.lin(&[(1, &r)], i128::from(zero_point))?;
                self.clamp(&t, i128::from(lo), i128::from(hi))
            }
            Act::Average { n, rounding, zero_point, lo, hi } => {
                let r = self.round_div(p, i128::from(n), rounding)?;
                let v = self.lin(&[(1, &r)], i128::from(zero_point))?;
                self.clamp(&v, i128::from(lo), i128::from(hi))
            }
            Act::Clamp { lo, hi } => self.clamp(p, i128::from(lo), i128::from(hi)),
            Act::Lut { .. } => {
                // An `ite` chain over the values of `p`'s range (the last one needs no test).
                let (lo, hi) = (p.lo, p.hi);
                if hi - lo > 1 << 16 {
                    return Err(EncodeError::Unsupported(format!("lookup table over {} values", hi - lo + 1)));
                }
                let at = |v: i128| i128::from(act.apply(v as i64));
                let mut y = self.konst(at(hi), 0);
                for v in (lo..hi).rev() {
                    let kv = self.konst(v, 0);
                    let c = self.eq(p, &kv)?;
                    let t = self.konst(at(v), 0);
                    y = self.ite(&c, &t, &y)?;
                }
                Ok(y)
            }
        }
    }

    /// Encode every node; returns the output values. Every value's range (and so its bit
    /// width) is met with the shared bounds of the query, which hold for every input of the box:
    /// narrowing a term to them changes no execution from the box.
    pub fn network(&mut self, net: &Network, bounds: &NetBounds, inputs: Vec<Val>) -> Res<Vec<Val>> {
        if bounds.layers.len() != net.layers().len() {
            return Err(EncodeError::Spec("bounds do not match the network's layers".into()));
        }
        let mut values = walk(net, &mut Bounded { enc: self, bounds }, inputs)?;
        Ok(values.pop().expect("the output tensor"))
    }

    /// `v` with its range met with `b` (a constant when `b` is a point), re-narrowed.
    fn tighten(&mut self, v: Val, b: Interval) -> Res<Val> {
        let (lo, hi) = (v.lo.max(i128::from(b.lo)), v.hi.min(i128::from(b.hi)));
        if lo > hi {
            return Err(EncodeError::Spec(format!("value range [{}, {}] and bounds {b:?} do not meet", v.lo, v.hi)));
        }
        if lo == hi {
            return Ok(self.konst(lo, 0));
        }
        if (lo, hi) == (v.lo, v.hi) {
            return Ok(v);
        }
        self.narrow(Val { lo, hi, ..v })
    }
}

/// The encoder walking the network with the query's bounds at hand.
struct Bounded<'a, 't> {
    enc: &'a mut Encoder<'t>,
    bounds: &'a NetBounds,
}

impl Bounded<'_, '_> {
    fn out(&mut self, node: usize, ys: Vec<Val>) -> Res<Vec<Val>> {
        let b = &self.bounds.layers[node].out;
        ys.into_iter().zip(b).map(|(y, &b)| self.enc.tighten(y, b)).collect()
    }
}

impl Analysis for Bounded<'_, '_> {
    type Value = Vec<Val>;
    type Error = EncodeError;

    fn affine(&mut self, node: usize, a: &Affine, x: &Vec<Val>) -> Res<Vec<Val>> {
        let pre = self.bounds.layers[node].pre.as_deref();
        let out = &self.bounds.layers[node].out;
        let mut y = Vec::with_capacity(a.n_out());
        for k in 0..a.n_out() {
            if let Some(b) = out.get(k).filter(|b| b.lo == b.hi) {
                // Stable: the bounds fix the value on the whole box; no term is needed.
                y.push(self.enc.konst(i128::from(b.lo), 0));
                continue;
            }
            let (terms, c0) = row_terms(a, k, x);
            let mut p = self.enc.lin(&terms, c0)?;
            if let Some(b) = pre.and_then(|pre| pre.get(k)) {
                p = self.enc.tighten(p, *b)?;
            }
            y.push(self.enc.act(a.acts.of(k), &p)?);
        }
        self.out(node, y)
    }

    fn map(&mut self, node: usize, acts: &Acts, x: &Vec<Val>) -> Res<Vec<Val>> {
        let y = self.enc.map(node, acts, x)?;
        self.out(node, y)
    }

    fn max(&mut self, node: usize, w: &Windows, x: &Vec<Val>) -> Res<Vec<Val>> {
        let y = Analysis::max(&mut *self.enc, node, w, x)?;
        self.out(node, y)
    }

    fn gather(&mut self, node: usize, g: &Gather, x: &Vec<Val>) -> Res<Vec<Val>> {
        let y = self.enc.gather(node, g, x)?;
        self.out(node, y)
    }

    fn copy(&mut self, _: usize, x: &Vec<Val>) -> Res<Vec<Val>> {
        Ok(x.clone())
    }

    fn sum(&mut self, node: usize, s: &Sum, x: &Vec<Val>) -> Res<Vec<Val>> {
        let out = &self.bounds.layers[node].out;
        let mut y = Vec::with_capacity(s.n);
        for k in 0..s.n {
            if let Some(b) = out.get(k).filter(|b| b.lo == b.hi) {
                y.push(self.enc.konst(i128::from(b.lo), 0));
                continue;
            }
            y.push(self.enc.sum_out(s, k, x)?);
        }
        self.out(node, y)
    }

    fn concat(&mut self, parts: &[&Vec<Val>]) -> Res<Vec<Val>> {
        Ok(parts.iter().flat_map(|p| p.iter().cloned()).collect())
    }
}

impl Encoder<'_> {
    /// `y_k = out(ta(a_k) + tb(b_k))` of a sum, exactly: `y = y_lo + Σ_v [B_v(a) ≤ b]` over the
    /// output levels `v`, where `B_v(u)` is the least `b` with `f(u, b) ≥ v` (an `ite` chain over
    /// the values of `a`, the operand with fewer values). `f` is non-decreasing in both operands,
    /// so no term ever holds the runtime's internal fixed-point grid.
    fn sum_out(&mut self, s: &Sum, k: usize, x: &[Val]) -> Res<Val> {
        let f = |u: i128, v: i128| i128::from(s.out.apply(s.ta.apply(u as i64) + s.tb.apply(v as i64)));
        let (a, b) = (&x[k], &x[s.n + k]);
        if a.hi - a.lo <= b.hi - b.lo {
            self.monotone2(&f, a, b)
        } else {
            self.monotone2(&|u, v| f(v, u), b, a)
        }
    }

    fn monotone2(&mut self, f: &dyn Fn(i128, i128) -> i128, a: &Val, b: &Val) -> Res<Val> {
        let (y_lo, y_hi) = (f(a.lo, b.lo), f(a.hi, b.hi));
        if y_lo == y_hi {
            return Ok(self.konst(y_lo, 0));
        }
        if (a.hi - a.lo + 1) * (y_hi - y_lo) > 1 << 16 {
            return Err(EncodeError::Unsupported(format!(
                "sum over {} operand values and {} output levels",
                a.hi - a.lo + 1,
                y_hi - y_lo
            )));
        }
        let (one, zero) = (self.konst(1, 0), self.konst(0, 0));
        let mut y = self.konst(y_lo, 0);
        for v in y_lo + 1..=y_hi {
            let beta = |u: i128| crate::net::form::least_reaching(b.lo, b.hi, v, |m| f(u, m));
            let mut bv = self.konst(beta(a.hi), 0);
            for u in (a.lo..a.hi).rev() {
                let ku = self.konst(u, 0);
                let c = self.eq(a, &ku)?;
                let t = self.konst(beta(u), 0);
                bv = self.ite(&c, &t, &bv)?;
            }
            let cond = self.le(&bv, b)?;
            let z = self.ite(&cond, &one, &zero)?;
            y = self.lin(&[(1, &y), (1, &z)], 0)?;
        }
        Ok(y)
    }
}

impl Analysis for Encoder<'_> {
    type Value = Vec<Val>;
    type Error = EncodeError;

    fn affine(&mut self, _: usize, a: &Affine, x: &Vec<Val>) -> Res<Vec<Val>> {
        let mut y = Vec::with_capacity(a.n_out());
        for k in 0..a.n_out() {
            let (terms, c0) = row_terms(a, k, x);
            let p = self.lin(&terms, c0)?;
            y.push(self.act(a.acts.of(k), &p)?);
        }
        Ok(y)
    }

    fn map(&mut self, _: usize, acts: &Acts, x: &Vec<Val>) -> Res<Vec<Val>> {
        x.iter().enumerate().map(|(k, v)| self.act(acts.of(k), v)).collect()
    }

    fn max(&mut self, _: usize, w: &Windows, x: &Vec<Val>) -> Res<Vec<Val>> {
        (0..w.n_out())
            .map(|k| {
                let mut taps = w.window(k).map(|i| &x[i]);
                let mut m = taps
                    .next()
                    .cloned()
                    .ok_or_else(|| EncodeError::Unsupported("max-pool window with no input (invalid model)".into()))?;
                for v in taps {
                    m = self.max(&m, v)?;
                }
                Ok(m)
            })
            .collect()
    }

    fn gather(&mut self, _: usize, g: &Gather, x: &Vec<Val>) -> Res<Vec<Val>> {
        Ok(g.src
            .iter()
            .map(|s| match *s {
                Src::In(i) => x[i as usize].clone(),
                Src::Const(c) => self.konst(i128::from(c), 0),
            })
            .collect())
    }

    fn copy(&mut self, _: usize, x: &Vec<Val>) -> Res<Vec<Val>> {
        Ok(x.clone())
    }

    fn sum(&mut self, _: usize, s: &Sum, x: &Vec<Val>) -> Res<Vec<Val>> {
        (0..s.n).map(|k| self.sum_out(s, k, x)).collect()
    }

    fn concat(&mut self, parts: &[&Vec<Val>]) -> Res<Vec<Val>> {
        Ok(parts.iter().flat_map(|p| p.iter().cloned()).collect())
    }
}

/// `x = mant / 2^exp` exactly, for a finite binary32 (or any finite double).
fn dyadic(x: f64) -> Res<(BigInt, u32)> {
    let Some(d) = crate::numeric::decode_f64(x) else {
        return Err(EncodeError::Unsupported(format!("non-finite float constant {x}")));
    };
    let (mant, e) = (BigInt::from(d.mantissa), d.exponent);
    if e >= 0 {
        Ok((mant << e as u32, 0))
    } else {
        Ok((mant, (-e) as u32))
    }
}

/// An SMT-LIB binary32 literal `(fp sign exponent significand)`.
pub fn fp_lit(x: f32) -> String {
    let f = crate::numeric::fields_f32(x);
    format!("(fp #b{:01b} #b{:08b} #b{:023b})", u8::from(f.negative), f.biased_exponent, f.fraction)
}

/// One encoded query: the SMT-LIB2 body plus what the solver driver needs to read a model.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub logic: Logic,
    /// Declarations, definitions and assertions (no `set-logic`, no `check-sat`). Its last
    /// assertion is the unsafe condition, `(or d_0 … d_n)` over the [`Encoded::disjuncts`].
    pub body: String,
    /// `body[..prefix_len]` is everything but that last assertion: the input box, the network
    /// and the definitions of the disjuncts' Booleans.
    pub prefix_len: usize,
    /// Number of assertions in `body[..prefix_len]`.
    pub prefix_asserted: usize,
    /// The Boolean constants naming the unsafe DNF's disjuncts, in order.
    pub disjuncts: Vec<String>,
    /// Input constants `x_i` and their widths (0 in QF_LIA), in input order.
    pub inputs: Vec<(String, u32)>,
    pub declared: usize,
    pub defined: usize,
    pub asserted: usize,
    pub max_width: u32,
    pub exact: bool,
    pub uses_fp: bool,
}

impl Encoded {
    /// The SMT-LIB logic name of the body.
    pub fn logic_name(&self) -> &'static str {
        match (self.logic, self.uses_fp) {
            (Logic::Bv, false) => "QF_BV",
            (Logic::Bv, true) => "QF_FPBV",
            (Logic::Lia, _) => "QF_LIA",
        }
    }
}

/// Encode the query: the input box, the network and the unsafe DNF.
pub fn encode(net: &Network, spec: &Spec, bounds: &NetBounds, logic: Logic) -> Res<Encoded> {
    spec.check(net).map_err(|e| EncodeError::Spec(e.to_string()))?;
    let th: &dyn Theory = match logic {
        Logic::Bv => &Bv,
        Logic::Lia => &Lia,
    };
    let mut enc = Encoder::new(th);
    let mut xs = Vec::with_capacity(spec.input.len());
    let mut inputs = Vec::with_capacity(spec.input.len());
    for (i, (&l, &h)) in spec.input.lo.iter().zip(&spec.input.hi).enumerate() {
        let name = format!("x_{i}");
        let v = enc.declare(&name, i128::from(l), i128::from(h))?;
        inputs.push((name, v.w));
        xs.push(v);
    }
    let y = enc.network(net, bounds, xs)?;
    let mut disjuncts = Vec::with_capacity(spec.unsafe_dnf.len());
    for conj in &spec.unsafe_dnf {
        let mut atoms = Vec::with_capacity(conj.len());
        for a in conj {
            let terms: Vec<(i128, &Val)> = a.terms.iter().map(|&(j, c)| (i128::from(c), &y[j])).collect();
            let lhs = enc.lin(&terms, 0)?;
            let rhs = enc.konst(i128::from(a.rhs), 0);
            atoms.push(enc.le(&lhs, &rhs)?);
        }
        let conj = if atoms.is_empty() { "true".to_string() } else { format!("(and {})", atoms.join(" ")) };
        // A named Boolean per disjunct, so that the solver can also check them one at a time.
        disjuncts.push(enc.def_bool(conj));
    }
    let prefix_len = enc.text.len();
    let prefix_asserted = enc.asserted;
    let unsafe_cond = match disjuncts.as_slice() {
        [] => "false".to_string(),
        [d] => d.clone(),
        ds => format!("(or {})", ds.join(" ")),
    };
    enc.assert(&unsafe_cond);
    Ok(Encoded {
        logic,
        body: enc.text,
        prefix_len,
        prefix_asserted,
        disjuncts,
        inputs,
        declared: enc.declared,
        defined: enc.defined,
        asserted: enc.asserted,
        max_width: enc.max_width,
        exact: enc.exact,
        uses_fp: enc.uses_fp,
    })
}

/// Row `k` of an affine form over `x` as integer terms and a constant: `Σ c·(x − z) + bias` with
/// the zero point folded into the constant.
fn row_terms<'v>(a: &Affine, k: usize, x: &'v [Val]) -> (Vec<(i128, &'v Val)>, i128) {
    let z = i128::from(a.zero_point);
    let mut c0 = i128::from(a.bias[k]);
    let mut terms = Vec::new();
    for (i, c) in a.rows.row(k) {
        let c = i128::from(c);
        c0 -= c * z;
        terms.push((c, &x[i]));
    }
    (terms, c0)
}
