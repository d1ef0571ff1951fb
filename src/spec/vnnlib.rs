//! VNN-LIB 1.0 reader and writer: the subset the VNN-COMP benchmarks use.
//!
//! # What is read
//!
//! A VNN-LIB file is a sequence of SMT-LIB commands; `;` starts a comment that runs to the end of
//! the line. Supported commands:
//!
//! * `(declare-const NAME Real)` (and the equivalent `(declare-fun NAME () Real)`) for inputs
//!   `X_…` and outputs `Y_…`. Two naming styles, not mixed within one family: single-index
//!   (`X_0`, `X_1`, …: the index is the number, and every index `0..n` must be declared) and
//!   multi-index (`X_0_0_0`, …: the index is the declaration order within the family). Indices are
//!   decimal without leading zeros. Redeclarations, other sorts and other names are errors.
//! * `(assert F)`, where `F` is built from `and`, `or`, `true`, `false` and the comparisons `<=`,
//!   `>=`, `<`, `>`, `=` (chainable: `(<= a b c)` is `a <= b and b <= c`) over linear terms:
//!   numbers (`1`, `-0.5`, `.5`, `1e-3`, `2.5E+2`; exact decimals, exponent at most ±1000),
//!   declared variables, `(+ a …)`, `(- a)`, `(- a b …)`, `(* c … a)` with at most one factor
//!   containing variables, and `(/ a c …)` with constant non-zero divisors. `<` and `>` give atoms
//!   with `strict = true`; the conversion to the integer grid ([`super::real`]) handles them exactly.
//! * `set-logic`, `set-info`, `set-option`, `check-sat`, `get-model`, `get-info`, `exit` are ignored.
//!
//! # What it means
//!
//! The assertions describe a counterexample (VNN-LIB semantics). They are conjoined. Each one is
//! put in disjunctive normal form; every atom must be one of
//!
//! * a *bound* on one input: exactly one `X` variable (any non-zero coefficient, divided out) and
//!   a constant. Bounds go to [`VnnLib::input_bounds`] (the tightest one wins);
//! * an *output constraint*: only `Y` variables (or none: a constant comparison). These form
//!   [`VnnLib::output_dnf`], the product of the asserts' DNFs.
//!
//! Input bounds under an `or` are accepted only when every disjunct bounds the inputs identically
//! (as in `(or (and X-bounds Y1) (and X-bounds Y2))`, the VNN-COMP 2022+ layout, or a one-disjunct
//! `or`); then they factor out exactly. Everything else — an atom mixing `X` and `Y`, a linear
//! constraint over several inputs, disjuncts with different input boxes — is rejected as
//! "unsupported" with its line and column. No output assertion at all gives `vec![vec![]]`: every
//! output is a counterexample. An `(or)` (false) gives `vec![]`: none is.
//!
//! # Robustness
//!
//! [`parse`] never panics: the reader is iterative and caps the nesting depth at [`MAX_DEPTH`]
//! (the interpretation recurses at most that deep), the DNF at [`MAX_DISJUNCTS`] disjuncts and
//! [`MAX_DNF_ATOMS`] atoms, and number exponents at ±[`MAX_EXPONENT`]. Every error has a 1-based
//! line and column (columns count characters).
//!
//! # Writing
//!
//! [`write_integer`] writes a [`Spec`] as a VNN-LIB file whose variables are the *integer* inputs
//! and outputs of the quantized network; reading it back and converting it with
//! [`super::real::Domain::Integer`] gives the same `Spec` (for atoms whose output indices are
//! distinct and whose coefficients are non-zero, which the reader normalises to).

use super::{Atom, Spec};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use thiserror::Error;

/// Deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 1000;
/// Largest number of disjuncts in any DNF built while reading.
pub const MAX_DISJUNCTS: usize = 100_000;
/// Largest total number of atoms in any DNF built while reading.
pub const MAX_DNF_ATOMS: usize = 2_000_000;
/// Largest decimal exponent magnitude in a number (`1e1000`).
pub const MAX_EXPONENT: u32 = 1000;

/// A number from the file: its exact value, and a decimal text that `str::parse::<f32>` reads as
/// the binary32 value the real-domain conversion uses.
///
/// The text is the literal *verbatim* when the bound came straight from one (`(<= X_0 0.03)`,
/// also `(>= X_0 (- 0.5))`, which gives `-0.5`). When the bound was derived by arithmetic
/// (`(<= (* 2 X_0) 1)`, `(<= (+ X_0 1) 2)`), the text is synthesized: the shortest decimal of the
/// binary32 value nearest to the exact rational (ties to even; `inf`/`-inf` beyond the binary32
/// range), so that parsing it gives the correctly rounded value of `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Num {
    pub text: String,
    pub value: BigRational,
}

/// A variable: input `X_i` or output `Y_j` (flat index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    X(usize),
    Y(usize),
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::X(i) => write!(f, "X_{i}"),
            Var::Y(j) => write!(f, "Y_{j}"),
        }
    }
}

/// `Σ c·v ≤ rhs` (or `<` if `strict`). Variables are distinct, coefficients non-zero, in order of
/// first appearance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealAtom {
    pub terms: Vec<(Var, BigRational)>,
    pub rhs: BigRational,
    pub strict: bool,
}

impl fmt::Display for RealAtom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.terms.is_empty() {
            f.write_str("0")?;
        }
        for (k, (v, c)) in self.terms.iter().enumerate() {
            let (neg, mag) = (c.is_negative(), c.abs());
            match (k, neg) {
                (0, true) => f.write_str("-")?,
                (0, false) => {}
                (_, true) => f.write_str(" - ")?,
                (_, false) => f.write_str(" + ")?,
            }
            if !mag.is_one() {
                write!(f, "{mag}·")?;
            }
            write!(f, "{v}")?;
        }
        write!(f, " {} {}", if self.strict { "<" } else { "<=" }, self.rhs)
    }
}

/// A parsed VNN-LIB property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VnnLib {
    pub n_inputs: usize,
    pub n_outputs: usize,
    /// `(lower, upper)` per input, from single-input constraints (the tightest of each side).
    pub input_bounds: Vec<(Option<Num>, Option<Num>)>,
    /// Whether the `(lower, upper)` bound of [`VnnLib::input_bounds`] is strict (`<`, `>`), per
    /// input. Same length as `input_bounds`.
    pub input_strict: Vec<(bool, bool)>,
    /// The counterexample condition over the outputs: a disjunction of conjunctions of atoms over
    /// `Y` only. `vec![vec![]]` = every output; `vec![]` = none.
    pub output_dnf: Vec<Vec<RealAtom>>,
}

/// A parse error, with a 1-based line and column (in characters).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {message}")]
pub struct VnnLibError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

type Res<T> = Result<T, VnnLibError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pos {
    line: usize,
    column: usize,
}

fn err<T>(pos: Pos, message: impl Into<String>) -> Res<T> {
    Err(VnnLibError { line: pos.line, column: pos.column, message: message.into() })
}

// ---------------------------------------------------------------------------------------------
// S-expressions

enum Sexp {
    Atom(String, Pos),
    List(Vec<Sexp>, Pos),
}

impl Sexp {
    fn pos(&self) -> Pos {
        match self {
            Sexp::Atom(_, p) | Sexp::List(_, p) => *p,
        }
    }
}

/// `(head args…)`: the operator name and the arguments of a non-empty list.
fn split_head<'a>(items: &'a [Sexp], pos: Pos, what: &str) -> Res<(&'a str, Pos, &'a [Sexp])> {
    match items.split_first() {
        None => err(pos, format!("empty list `()` where {what} was expected")),
        Some((Sexp::Atom(h, hp), rest)) => Ok((h.as_str(), *hp, rest)),
        Some((Sexp::List(_, p), _)) => {
            err(*p, format!("expected an operator name at the start of {what}, found a list"))
        }
    }
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl Lexer<'_> {
    fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.column }
    }
    fn next(&mut self) -> Option<(char, Pos)> {
        let c = self.chars.next()?;
        let p = self.pos();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some((c, p))
    }
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == ';'
}

/// Read all top-level S-expressions (iteratively); also returns the end-of-input position.
fn read_sexps(text: &str) -> Res<(Vec<Sexp>, Pos, usize)> {
    let mut lx = Lexer { chars: text.chars().peekable(), line: 1, column: 1 };
    let mut top: Vec<Sexp> = Vec::new();
    let mut stack: Vec<(Vec<Sexp>, Pos)> = Vec::new();
    let mut max_depth = 0;
    fn push(stack: &mut [(Vec<Sexp>, Pos)], top: &mut Vec<Sexp>, e: Sexp) {
        match stack.last_mut() {
            Some((items, _)) => items.push(e),
            None => top.push(e),
        }
    }
    while let Some((c, p)) = lx.next() {
        match c {
            ';' => {
                while let Some(&d) = lx.chars.peek() {
                    if d == '\n' {
                        break;
                    }
                    lx.next();
                }
            }
            '(' => {
                if stack.len() >= MAX_DEPTH {
                    return err(p, format!("parentheses nested deeper than {MAX_DEPTH} levels"));
                }
                stack.push((Vec::new(), p));
                max_depth = max_depth.max(stack.len());
            }
            ')' => match stack.pop() {
                Some((items, open)) => push(&mut stack, &mut top, Sexp::List(items, open)),
                None => return err(p, "unexpected `)` without a matching `(`"),
            },
            '"' | '|' => {
                // SMT-LIB string literal ("" escapes a quote) or quoted symbol |…|.
                let mut tok = String::new();
                if c == '"' {
                    tok.push('"');
                }
                loop {
                    match lx.next() {
                        None => {
                            let what = if c == '"' { "string literal" } else { "quoted symbol `|…|`" };
                            return err(p, format!("unterminated {what}"));
                        }
                        Some((d, _)) if d == c => {
                            if c == '"' && lx.chars.peek() == Some(&'"') {
                                lx.next();
                                tok.push_str("\"\"");
                                continue;
                            }
                            break;
                        }
                        Some((d, _)) => tok.push(d),
                    }
                }
                if c == '"' {
                    tok.push('"');
                }
                push(&mut stack, &mut top, Sexp::Atom(tok, p));
            }
            c if c.is_whitespace() => {}
            c => {
                let mut tok = String::from(c);
                while let Some(&d) = lx.chars.peek() {
                    if is_delimiter(d) {
                        break;
                    }
                    tok.push(d);
                    lx.next();
                }
                push(&mut stack, &mut top, Sexp::Atom(tok, p));
            }
        }
    }
    let eof = lx.pos();
    if let Some((_, open)) = stack.last() {
        let n = stack.len();
        return err(
            eof,
            format!(
                "unexpected end of input: {n} unclosed `(` (the innermost opened at line {}, column {})",
                open.line, open.column
            ),
        );
    }
    Ok((top, eof, max_depth))
}

// ---------------------------------------------------------------------------------------------
// Numbers

fn looks_numeric(t: &str) -> bool {
    let s = t.strip_prefix(['-', '+']).unwrap_or(t);
    s.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// Exact value of a decimal `[sign] digits [. digits] [(e|E) [sign] digits]`.
fn parse_number(t: &str) -> Result<BigRational, String> {
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

// ---------------------------------------------------------------------------------------------
// binary32 helpers (exact comparisons against rationals)

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

// ---------------------------------------------------------------------------------------------
// Linear terms and formulas

#[derive(Clone)]
struct Lin {
    terms: Vec<(Var, BigRational)>,
    index: HashMap<Var, usize>,
    constant: BigRational,
    /// The literal text when this term is exactly one number (possibly negated).
    literal: Option<String>,
}

impl Lin {
    fn constant(value: BigRational, literal: Option<String>) -> Lin {
        Lin { terms: Vec::new(), index: HashMap::new(), constant: value, literal }
    }
    fn var(v: Var) -> Lin {
        Lin {
            terms: vec![(v, BigRational::one())],
            index: HashMap::from([(v, 0)]),
            constant: BigRational::zero(),
            literal: None,
        }
    }
    fn is_constant(&self) -> bool {
        self.terms.iter().all(|(_, c)| c.is_zero())
    }
    /// Exactly one variable with coefficient 1 and nothing else.
    fn is_plain_var(&self) -> bool {
        self.terms.len() == 1 && self.terms[0].1.is_one() && self.constant.is_zero() && self.literal.is_none()
    }
    /// `self += o` (or `-= o`), avoiding rational arithmetic where it is not needed.
    fn add(&mut self, o: &Lin, negate: bool) {
        let signed = |c: &BigRational| if negate { -c } else { c.clone() };
        for (v, c) in &o.terms {
            match self.index.get(v) {
                Some(&i) => {
                    if negate {
                        self.terms[i].1 -= c;
                    } else {
                        self.terms[i].1 += c;
                    }
                }
                None => {
                    self.index.insert(*v, self.terms.len());
                    self.terms.push((*v, signed(c)));
                }
            }
        }
        match (o.constant.is_zero(), self.constant.is_zero(), negate) {
            (true, _, _) => {}
            (false, true, _) => self.constant = signed(&o.constant),
            (false, false, true) => self.constant -= &o.constant,
            (false, false, false) => self.constant += &o.constant,
        }
        self.literal = None;
    }
    fn scale(&mut self, k: &BigRational) {
        for t in &mut self.terms {
            t.1 *= k;
        }
        self.constant *= k;
        self.literal = None;
    }
    fn negate(mut self) -> Lin {
        let lit = self.literal.take().map(|t| match t.strip_prefix('-') {
            Some(r) => r.to_string(),
            None => format!("-{}", t.strip_prefix('+').unwrap_or(&t)),
        });
        for t in &mut self.terms {
            t.1 = -std::mem::take(&mut t.1);
        }
        self.constant = -std::mem::take(&mut self.constant);
        self.literal = lit;
        self
    }
}

/// An atom with the position of its comparison, and the literal bound text when it has the shape
/// `var op literal` / `literal op var`.
#[derive(Clone)]
struct PAtom {
    atom: RealAtom,
    pos: Pos,
    literal: Option<String>,
}

/// `lhs ≤ rhs` (or `<`), as `Σ c·v ≤ k`.
fn make_atom(lhs: &Lin, rhs: &Lin, strict: bool, pos: Pos) -> PAtom {
    let literal = if lhs.is_plain_var() {
        rhs.literal.clone()
    } else if rhs.is_plain_var() {
        lhs.literal.clone()
    } else {
        None
    };
    let mut d = lhs.clone();
    d.add(rhs, true);
    let terms = d.terms.into_iter().filter(|(_, c)| !c.is_zero()).collect();
    PAtom { atom: RealAtom { terms, rhs: -d.constant, strict }, pos, literal }
}

fn dnf_size<T>(d: &[Vec<T>]) -> usize {
    d.iter().map(Vec::len).sum()
}

fn too_big(pos: Pos) -> VnnLibError {
    VnnLibError {
        line: pos.line,
        column: pos.column,
        message: format!(
            "the disjunctive normal form grows beyond {MAX_DISJUNCTS} disjuncts or {MAX_DNF_ATOMS} atoms \
             (too many nested `or`s under `and`)"
        ),
    }
}

/// The conjunction of two DNFs (distributing), within the size caps.
fn product<T: Clone>(a: Vec<Vec<T>>, b: Vec<Vec<T>>, pos: Pos) -> Res<Vec<Vec<T>>> {
    let (la, lb) = (a.len() as u128, b.len() as u128);
    let atoms = dnf_size(&a) as u128 * lb + dnf_size(&b) as u128 * la;
    if la * lb > MAX_DISJUNCTS as u128 || atoms > MAX_DNF_ATOMS as u128 {
        return Err(too_big(pos));
    }
    if b.len() == 1 {
        let extra = &b[0];
        return Ok(a
            .into_iter()
            .map(|mut c| {
                c.extend(extra.iter().cloned());
                c
            })
            .collect());
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in &a {
        for y in &b {
            let mut c = x.clone();
            c.extend(y.iter().cloned());
            out.push(c);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Declarations

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Unknown,
    Single,
    Multi(usize),
}

struct Family {
    letter: char,
    style: Style,
    count: usize,
    /// Single-index style: the declared indices with their positions.
    single: Vec<(usize, Pos)>,
}

impl Family {
    fn new(letter: char) -> Family {
        Family { letter, style: Style::Unknown, count: 0, single: Vec::new() }
    }

    /// Number of variables, checking that single-index declarations cover `0..n`.
    fn size(&mut self) -> Res<usize> {
        if self.style != Style::Single {
            return Ok(self.count);
        }
        self.single.sort_unstable_by_key(|(i, _)| *i);
        let Some(&(max, max_pos)) = self.single.last() else { return Ok(0) };
        if let Some(missing) = self.single.iter().enumerate().find(|(k, (i, _))| k != i).map(|(k, _)| k) {
            let l = self.letter;
            return err(
                max_pos,
                format!(
                    "{l}_{max} is declared but {l}_{missing} is not: the variables must be {l}_0 … {l}_{max} \
                     ({} of {} declared)",
                    self.single.len(),
                    max + 1
                ),
            );
        }
        Ok(max + 1)
    }
}

#[derive(Clone)]
struct Bound {
    value: BigRational,
    strict: bool,
    text: Option<String>,
}

/// Per-input `(lower, upper)` bounds.
type BoxMap = BTreeMap<usize, (Option<Bound>, Option<Bound>)>;

fn tighten(cur: &mut Option<Bound>, new: Bound, upper: bool) {
    let better = match cur {
        None => true,
        Some(c) => match new.value.cmp(&c.value) {
            Ordering::Less => upper,
            Ordering::Greater => !upper,
            Ordering::Equal => new.strict && !c.strict,
        },
    };
    if better {
        *cur = Some(new);
    }
}

fn add_bound(bx: &mut BoxMap, i: usize, b: Bound, upper: bool) {
    let e = bx.entry(i).or_insert((None, None));
    tighten(if upper { &mut e.1 } else { &mut e.0 }, b, upper);
}

fn same_box(a: &BoxMap, b: &BoxMap) -> bool {
    let same = |x: &Option<Bound>, y: &Option<Bound>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => x.value == y.value && x.strict == y.strict,
        _ => false,
    };
    a.len() == b.len() && a.iter().zip(b).all(|((i, (l, u)), (j, (m, v)))| i == j && same(l, m) && same(u, v))
}

struct Reader {
    vars: HashMap<String, Var>,
    x: Family,
    y: Family,
    bounds: BoxMap,
    output: Vec<Vec<RealAtom>>,
}

impl Reader {
    fn declare(&mut self, name: &Sexp, sort: &Sexp) -> Res<()> {
        let (name, npos) = match name {
            Sexp::Atom(t, p) => (t.as_str(), *p),
            Sexp::List(_, p) => return err(*p, "expected a variable name, found a list"),
        };
        match sort {
            Sexp::Atom(s, _) if s == "Real" => {}
            Sexp::Atom(s, p) => return err(*p, format!("unknown sort `{s}`: VNN-LIB variables are declared `Real`")),
            Sexp::List(_, p) => return err(*p, "unknown sort: VNN-LIB variables are declared `Real`"),
        }
        if self.vars.contains_key(name) {
            return err(npos, format!("`{name}` is already declared"));
        }
        let (family, rest) = if let Some(r) = name.strip_prefix("X_") {
            (&mut self.x, r)
        } else if let Some(r) = name.strip_prefix("Y_") {
            (&mut self.y, r)
        } else {
            return err(
                npos,
                format!("unsupported variable name `{name}`: inputs are X_0, X_1, … (or X_0_0_0, …) and outputs Y_0, Y_1, …"),
            );
        };
        let mut idx = Vec::new();
        for part in rest.split('_') {
            let ok =
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && (part == "0" || !part.starts_with('0'));
            if !ok {
                return err(
                    npos,
                    format!("variable `{name}`: expected decimal indices without leading zeros after `_`"),
                );
            }
            match part.parse::<usize>() {
                Ok(i) => idx.push(i),
                Err(_) => return err(npos, format!("variable `{name}`: index too large")),
            }
        }
        let l = family.letter;
        let index = if idx.len() == 1 {
            if let Style::Multi(_) = family.style {
                return err(npos, format!("`{name}` mixes single-index and multi-index names for the {l} variables"));
            }
            family.style = Style::Single;
            family.single.push((idx[0], npos));
            family.count += 1;
            idx[0]
        } else {
            match family.style {
                Style::Single => {
                    return err(
                        npos,
                        format!("`{name}` mixes single-index and multi-index names for the {l} variables"),
                    )
                }
                Style::Multi(a) if a != idx.len() => {
                    return err(npos, format!("`{name}` has {} indices; earlier {l} variables have {a}", idx.len()))
                }
                _ => {}
            }
            family.style = Style::Multi(idx.len());
            family.count += 1;
            family.count - 1
        };
        let var = if l == 'X' { Var::X(index) } else { Var::Y(index) };
        self.vars.insert(name.to_string(), var);
        Ok(())
    }

    fn term(&self, e: &Sexp) -> Res<Lin> {
        match e {
            Sexp::Atom(t, p) => {
                if looks_numeric(t) {
                    return match parse_number(t) {
                        Ok(v) => Ok(Lin::constant(v, Some(t.clone()))),
                        Err(m) => err(*p, m),
                    };
                }
                if let Some(&v) = self.vars.get(t) {
                    return Ok(Lin::var(v));
                }
                if t.starts_with("X_") || t.starts_with("Y_") {
                    err(*p, format!("undeclared variable `{t}`"))
                } else {
                    err(*p, format!("unknown symbol `{t}` (expected a number or a declared variable)"))
                }
            }
            Sexp::List(items, p) => {
                let (head, hp, args) = split_head(items, *p, "a term")?;
                match head {
                    "+" | "-" | "*" | "/" if args.is_empty() => {
                        err(*p, format!("`{head}` needs at least one argument"))
                    }
                    "+" => {
                        let mut acc = self.term(&args[0])?;
                        for a in &args[1..] {
                            acc.add(&self.term(a)?, false);
                        }
                        Ok(acc)
                    }
                    "-" => {
                        let first = self.term(&args[0])?;
                        if args.len() == 1 {
                            return Ok(first.negate());
                        }
                        let mut acc = first;
                        for a in &args[1..] {
                            acc.add(&self.term(a)?, true);
                        }
                        Ok(acc)
                    }
                    "*" => {
                        if args.len() == 1 {
                            return self.term(&args[0]);
                        }
                        let mut k = BigRational::one();
                        let mut var: Option<Lin> = None;
                        for a in args {
                            let t = self.term(a)?;
                            if t.is_constant() {
                                k *= &t.constant;
                            } else if var.is_some() {
                                return err(
                                    *p,
                                    "non-linear term: `*` multiplies two expressions with variables \
                                     (only products with constants are supported)",
                                );
                            } else {
                                var = Some(t);
                            }
                        }
                        Ok(match var {
                            Some(mut t) => {
                                t.scale(&k);
                                t
                            }
                            None => Lin::constant(k, None),
                        })
                    }
                    "/" => {
                        let mut acc = self.term(&args[0])?;
                        for a in &args[1..] {
                            let d = self.term(a)?;
                            if !d.is_constant() {
                                return err(a.pos(), "non-linear term: division by an expression with variables");
                            }
                            if d.constant.is_zero() {
                                return err(a.pos(), "division by zero");
                            }
                            acc.scale(&d.constant.recip());
                        }
                        Ok(acc)
                    }
                    _ => err(hp, format!("unsupported function `{head}` in a linear term (expected +, -, * or /)")),
                }
            }
        }
    }

    fn formula(&self, e: &Sexp) -> Res<Vec<Vec<PAtom>>> {
        match e {
            Sexp::Atom(t, p) => match t.as_str() {
                "true" => Ok(vec![vec![]]),
                "false" => Ok(vec![]),
                _ => err(*p, format!("expected a formula (and, or, <=, >=, <, >, =), found `{t}`")),
            },
            Sexp::List(items, p) => {
                let (head, hp, args) = split_head(items, *p, "a formula")?;
                match head {
                    "and" => {
                        let children = args.iter().map(|a| self.formula(a)).collect::<Res<Vec<_>>>()?;
                        if children.iter().any(Vec::is_empty) {
                            return Ok(Vec::new()); // a false conjunct
                        }
                        // Check the size of the whole product before building any of it.
                        let (mut n, mut atoms) = (1u128, 0u128);
                        for c in &children {
                            let len = c.len() as u128;
                            atoms = atoms * len + dnf_size(c) as u128 * n;
                            n *= len;
                            if n > MAX_DISJUNCTS as u128 || atoms > MAX_DNF_ATOMS as u128 {
                                return Err(too_big(*p));
                            }
                        }
                        let mut acc = vec![vec![]];
                        for c in children {
                            acc = product(acc, c, *p)?;
                        }
                        Ok(acc)
                    }
                    "or" => {
                        let mut acc = Vec::new();
                        for a in args {
                            let d = self.formula(a)?;
                            if acc.len() + d.len() > MAX_DISJUNCTS || dnf_size(&acc) + dnf_size(&d) > MAX_DNF_ATOMS {
                                return Err(too_big(*p));
                            }
                            acc.extend(d);
                        }
                        Ok(acc)
                    }
                    "<=" | "<" | ">=" | ">" | "=" => {
                        if args.len() < 2 {
                            return err(*p, format!("`{head}` needs at least two arguments"));
                        }
                        let terms = args.iter().map(|a| self.term(a)).collect::<Res<Vec<_>>>()?;
                        let mut conj = Vec::new();
                        for w in terms.windows(2) {
                            let (a, b) = (&w[0], &w[1]);
                            match head {
                                "<=" => conj.push(make_atom(a, b, false, *p)),
                                "<" => conj.push(make_atom(a, b, true, *p)),
                                ">=" => conj.push(make_atom(b, a, false, *p)),
                                ">" => conj.push(make_atom(b, a, true, *p)),
                                _ => {
                                    conj.push(make_atom(a, b, false, *p));
                                    conj.push(make_atom(b, a, false, *p));
                                }
                            }
                        }
                        Ok(vec![conj])
                    }
                    "not" | "=>" | "xor" | "ite" | "distinct" => err(
                        hp,
                        format!("unsupported: `{head}` (VNN-LIB assertions are built from and, or and comparisons)"),
                    ),
                    _ => err(hp, format!("unknown formula operator `{head}` (expected and, or, <=, >=, <, >, =)")),
                }
            }
        }
    }

    fn assert(&mut self, f: &Sexp, pos: Pos) -> Res<()> {
        let dnf = self.formula(f)?;
        let mut boxes: Vec<(BoxMap, Option<Pos>)> = Vec::with_capacity(dnf.len());
        let mut ys = Vec::with_capacity(dnf.len());
        for conj in dnf {
            let mut bx = BoxMap::new();
            let mut first_x = None;
            let mut y = Vec::new();
            for pa in conj {
                let nx = pa.atom.terms.iter().filter(|(v, _)| matches!(v, Var::X(_))).count();
                let ny = pa.atom.terms.len() - nx;
                if nx > 0 && ny > 0 {
                    return err(
                        pa.pos,
                        "unsupported: this constraint mixes inputs (X_…) and outputs (Y_…); only bounds on single \
                         inputs and constraints over outputs are supported",
                    );
                }
                if nx > 1 {
                    return err(
                        pa.pos,
                        "unsupported: a linear constraint over several inputs; only bounds on single inputs \
                         (X_i <= c, X_i >= c) are supported",
                    );
                }
                if nx == 0 {
                    y.push(pa.atom);
                    continue;
                }
                first_x.get_or_insert(pa.pos);
                let (v, c) = &pa.atom.terms[0];
                let Var::X(i) = *v else { continue };
                let value = if c.is_one() {
                    pa.atom.rhs.clone()
                } else if (-c).is_one() {
                    -&pa.atom.rhs
                } else {
                    &pa.atom.rhs / c
                };
                let b = Bound { value, strict: pa.atom.strict, text: pa.literal };
                add_bound(&mut bx, i, b, c.is_positive());
            }
            boxes.push((bx, first_x));
            ys.push(y);
        }
        if let Some(((first, first_pos), rest)) = boxes.split_first() {
            if let Some((_, p)) = rest.iter().find(|(b, _)| !same_box(first, b)) {
                return err(
                    p.or(*first_pos).unwrap_or(pos),
                    "unsupported: the disjuncts of this `or` constrain the inputs differently; quiver handles one \
                     input box per property (split it into one file per box)",
                );
            }
            for (&i, (l, u)) in first {
                if let Some(l) = l {
                    add_bound(&mut self.bounds, i, l.clone(), false);
                }
                if let Some(u) = u {
                    add_bound(&mut self.bounds, i, u.clone(), true);
                }
            }
        }
        self.output = product(std::mem::take(&mut self.output), ys, pos)?;
        Ok(())
    }

    fn command(&mut self, e: &Sexp) -> Res<()> {
        let Sexp::List(items, p) = e else {
            let Sexp::Atom(t, p) = e else { unreachable!() };
            return err(*p, format!("expected a command such as `(declare-const …)` or `(assert …)`, found `{t}`"));
        };
        let (head, hp, args) = split_head(items, *p, "a command")?;
        match head {
            "declare-const" => match args {
                [name, sort] => self.declare(name, sort),
                _ => err(*p, "expected `(declare-const NAME Real)`"),
            },
            "declare-fun" => match args {
                [name, Sexp::List(params, _), sort] if params.is_empty() => self.declare(name, sort),
                _ => err(*p, "expected `(declare-fun NAME () Real)` (functions with parameters are not supported)"),
            },
            "assert" => match args {
                [f] => self.assert(f, *p),
                _ => err(*p, "expected `(assert FORMULA)` with exactly one formula"),
            },
            "set-logic" | "set-info" | "set-option" | "check-sat" | "get-model" | "get-info" | "exit" => Ok(()),
            _ => err(hp, format!("unsupported command `{head}` (expected declare-const or assert)")),
        }
    }
}

/// Nesting depth up to which [`parse`] interprets on the caller's stack.
const INLINE_DEPTH: usize = 64;
/// Stack for interpreting deeper input: [`MAX_DEPTH`] levels take a few MiB in unoptimized builds.
const DEEP_STACK: usize = 64 << 20;

/// Parse a VNN-LIB property. See the module documentation for the accepted subset.
///
/// The interpretation recurses once per nesting level. Input nested deeper than 64 levels (no
/// real property is) is interpreted on a scoped helper thread with a 64 MiB stack, so that
/// [`MAX_DEPTH`] levels are safe whatever the caller's stack.
pub fn parse(text: &str) -> Result<VnnLib, VnnLibError> {
    let (sexps, eof, depth) = read_sexps(text)?;
    if depth <= INLINE_DEPTH {
        return interpret(&sexps, eof);
    }
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("vnnlib-parse".into())
            .stack_size(DEEP_STACK)
            .spawn_scoped(s, || interpret(&sexps, eof));
        match spawned {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => interpret(&sexps, eof),
        }
    })
}

fn interpret(sexps: &[Sexp], eof: Pos) -> Res<VnnLib> {
    let mut r = Reader {
        vars: HashMap::new(),
        x: Family::new('X'),
        y: Family::new('Y'),
        bounds: BoxMap::new(),
        output: vec![vec![]],
    };
    for e in sexps {
        r.command(e)?;
    }
    let n_inputs = r.x.size()?;
    let n_outputs = r.y.size()?;
    if n_inputs == 0 {
        return err(eof, "no input variables: declare them as `(declare-const X_0 Real)`, …");
    }
    if n_outputs == 0 {
        return err(eof, "no output variables: declare them as `(declare-const Y_0 Real)`, …");
    }
    let num = |b: &Bound| Num {
        text: b.text.clone().unwrap_or_else(|| f32_text(f32_nearest(&b.value))),
        value: b.value.clone(),
    };
    let mut input_bounds = vec![(None, None); n_inputs];
    let mut input_strict = vec![(false, false); n_inputs];
    for (i, (l, u)) in &r.bounds {
        if let (Some(slot), Some(st)) = (input_bounds.get_mut(*i), input_strict.get_mut(*i)) {
            *slot = (l.as_ref().map(num), u.as_ref().map(num));
            *st = (l.as_ref().is_some_and(|b| b.strict), u.as_ref().is_some_and(|b| b.strict));
        }
    }
    Ok(VnnLib { n_inputs, n_outputs, input_bounds, input_strict, output_dnf: r.output })
}

// ---------------------------------------------------------------------------------------------
// Writer

fn write_atom(out: &mut String, a: &Atom) {
    let term = |j: usize, c: i64| if c == 1 { format!("Y_{j}") } else { format!("(* {c} Y_{j})") };
    let lhs = match a.terms.as_slice() {
        [] => "0".to_string(),
        [(j, c)] => term(*j, *c),
        ts => format!("(+ {})", ts.iter().map(|&(j, c)| term(j, c)).collect::<Vec<_>>().join(" ")),
    };
    let _ = write!(out, "(<= {lhs} {})", a.rhs);
}

/// Write `spec` as a VNN-LIB file over the *integer* inputs `X_i` and outputs `Y_j` of the
/// quantized network (read it back with [`super::real::Domain::Integer`]). Declares
/// `Y_0 … Y_{m−1}` for the largest output index `m − 1` the spec mentions (at least one output);
/// use [`write_integer_with_outputs`] to declare exactly the network's outputs.
pub fn write_integer(spec: &Spec, header: &str) -> String {
    write_integer_with_outputs(spec, 1, header)
}

/// [`write_integer`], declaring at least `n_outputs` outputs (more if the spec mentions a larger
/// index).
pub fn write_integer_with_outputs(spec: &Spec, n_outputs: usize, header: &str) -> String {
    let needed = spec.unsafe_dnf.iter().flatten().flat_map(|a| a.terms.iter().map(|t| t.0.saturating_add(1))).max();
    let m = n_outputs.max(needed.unwrap_or(0)).max(1);
    let n = spec.input.lo.len().min(spec.input.hi.len());
    let mut out = String::from("; quiver integer-domain property\n");
    for line in header.lines() {
        let _ = writeln!(out, "; {line}");
    }
    out.push_str("; X_i and Y_j are the integer (quantized) input and output values.\n\n");
    for i in 0..n {
        let _ = writeln!(out, "(declare-const X_{i} Real)");
    }
    out.push('\n');
    for j in 0..m {
        let _ = writeln!(out, "(declare-const Y_{j} Real)");
    }
    out.push_str("\n; Input box:\n");
    for i in 0..n {
        let _ = writeln!(out, "(assert (>= X_{i} {}))\n(assert (<= X_{i} {}))", spec.input.lo[i], spec.input.hi[i]);
    }
    out.push_str("\n; Unsafe outputs:\n(assert (or");
    for conj in &spec.unsafe_dnf {
        out.push_str("\n    (and");
        for a in conj {
            out.push(' ');
            write_atom(&mut out, a);
        }
        out.push(')');
    }
    out.push_str("\n))\n");
    out
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

    #[test]
    fn small_property() {
        let v = parse(
            "; comment\n(declare-const X_0 Real)(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n\
             (assert (and (<= X_0 0.5) (>= X_0 (- 0.5)) (< (* 2 X_1) 1) (>= X_1 -1e-3)))\n\
             (assert (or (>= Y_0 Y_1) (and (< Y_1 (+ Y_0 0.25)) (<= Y_0 3))))",
        )
        .unwrap();
        assert_eq!((v.n_inputs, v.n_outputs), (2, 2));
        let (l0, u0) = &v.input_bounds[0];
        assert_eq!(l0.as_ref().unwrap().text, "-0.5");
        assert_eq!(u0.as_ref().unwrap().text, "0.5");
        let (l1, u1) = &v.input_bounds[1];
        assert_eq!(l1.as_ref().unwrap().text, "-1e-3");
        assert_eq!(u1.as_ref().unwrap().value, q(1, 2));
        assert_eq!(u1.as_ref().unwrap().text, "0.5"); // synthesized
        assert_eq!(v.input_strict, vec![(false, false), (false, true)]);
        assert_eq!(v.output_dnf.len(), 2);
        assert_eq!(v.output_dnf[0][0].terms, vec![(Var::Y(1), q(1, 1)), (Var::Y(0), q(-1, 1))]);
        assert_eq!(v.output_dnf[1][0].to_string(), "Y_1 - Y_0 < 1/4");
        assert_eq!(v.output_dnf[1][1].to_string(), "Y_0 <= 3");
    }

    #[test]
    fn tightest_bound_and_strictness() {
        let v = parse(
            "(declare-const X_0 Real)(declare-const Y_0 Real)\
             (assert (<= X_0 3))(assert (< X_0 3))(assert (<= X_0 4))(assert (>= X_0 1))(assert (> X_0 0))",
        )
        .unwrap();
        assert_eq!(v.input_bounds[0].1.as_ref().unwrap().value, q(3, 1));
        assert_eq!(v.input_strict[0], (false, true));
        assert_eq!(v.input_bounds[0].0.as_ref().unwrap().value, q(1, 1));
        assert_eq!(v.output_dnf, vec![vec![]]);
    }

    #[test]
    fn multi_index_names() {
        let v = parse(
            "(declare-const X_0_0_1 Real)(declare-const X_0_0_0 Real)(declare-const Y_0 Real)(assert (<= X_0_0_0 1))",
        )
        .unwrap();
        assert_eq!(v.n_inputs, 2);
        assert!(v.input_bounds[0].1.is_none());
        assert_eq!(v.input_bounds[1].1.as_ref().unwrap().text, "1");
    }

    #[test]
    fn writer_shape() {
        let spec = Spec {
            input: super::super::InputBox { lo: vec![-3], hi: vec![4] },
            unsafe_dnf: vec![vec![Atom { terms: vec![(1, 1), (0, -2)], rhs: -1 }], vec![]],
            description: String::new(),
        };
        let t = write_integer(&spec, "hello\nworld");
        assert!(t.starts_with("; quiver integer-domain property\n; hello\n; world\n"));
        assert!(t.contains("(declare-const Y_1 Real)"));
        assert!(t.contains("(and (<= (+ Y_1 (* -2 Y_0)) -1))"));
        assert!(t.contains("(and)"));
        let v = parse(&t).unwrap();
        assert_eq!(v.n_outputs, 2);
        assert_eq!(v.output_dnf.len(), 2);
    }
}
