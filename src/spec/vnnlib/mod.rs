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
//! [`write_integer`] writes a [`Spec`](crate::spec::Spec) as a VNN-LIB file whose variables are the *integer* inputs
//! and outputs of the quantized network; reading it back and converting it with
//! [`super::real::Domain::Integer`] gives the same `Spec` (for atoms whose output indices are
//! distinct and whose coefficients are non-zero, which the reader normalises to).

mod binary32;
mod number;
mod reader;
mod sexp;
mod writer;

pub use binary32::{f32_at_least, f32_at_most, f32_nearest, f32_text};
pub(crate) use binary32::{f32_from_key, f32_key, first_key};
pub use number::parse_number;
pub use reader::parse;
pub use writer::{write_integer, write_integer_with_outputs};

use num_rational::BigRational;
use num_traits::{One, Signed};
use std::fmt;
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

/// A 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pos {
    line: usize,
    column: usize,
}

fn err<T>(pos: Pos, message: impl Into<String>) -> Res<T> {
    Err(VnnLibError { line: pos.line, column: pos.column, message: message.into() })
}
