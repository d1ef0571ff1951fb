//! The lowered description of an operator: the few mathematical forms every analysis knows.
//!
//! Each operator ([`super::ops`]) states its structure once by lowering itself to a [`Form`]:
//!
//! * [`Form::Affine`] — `y_k = act_k(Σ_i c_ki · (x_i − z) + b_k)`: an integer affine map (sparse
//!   or dense rows of `(input index, weight − weight zero point)`) followed by a monotone scalar
//!   activation ([`Act`]: requantization, integer average, clamp). Dense, Conv2d, AvgPool2d.
//! * [`Form::Map`] — `y_k = act_k(x_k)`: an elementwise activation. Relu.
//! * [`Form::Max`] — `y_k = max_{i ∈ W_k} x_i` over index windows. MaxPool2d.
//! * [`Form::Gather`] — `y_k = x_{s_k}` or a constant: Concat, Transpose, Pad.
//! * [`Form::Copy`] — `y = x` under a new shape. Flatten, Reshape.
//! * [`Form::Sum`] — `y_k = out(ta(a_k) + tb(b_k))`: element-wise addition of two tensors, each
//!   operand mapped by a monotone table onto a common integer grid, then a monotone activation
//!   of the exact integer sum. Add.
//!
//! Every analysis (execution, validation, interval and symbolic bounds, the search's surrogate,
//! the MILP and SMT encodings) implements these forms once and never sees an operator's loops:
//! adding an operator that lowers to existing forms is one file in `ops/`. A genuinely new kind
//! of arithmetic is a new form, implemented by each analysis.
//!
//! Inputs of a node are indexed as one flat vector: its input tensors, C-order each,
//! concatenated in the order the node lists them (one tensor for most operators; Add and Concat
//! read several).

use super::requant::{requantize, round_div, Rescale, Rounding};

/// The coefficient structure of an affine form. Coefficients are `weight − weight zero point`,
/// exact integers.
#[derive(Clone, Debug, PartialEq)]
pub enum Rows {
    /// Row-major `[n_out, n_in]` (Dense): every input in every row.
    Dense { n_in: usize, coef: Vec<i64> },
    /// Compressed sparse rows (Conv2d, AvgPool2d): row `k` is `idx[ptr[k]..ptr[k + 1]]` with
    /// coefficients `coef[ptr[k]..ptr[k + 1]]`.
    Sparse { ptr: Vec<usize>, idx: Vec<u32>, coef: Vec<i64> },
}

impl Rows {
    /// Number of rows (output values).
    pub fn n_out(&self) -> usize {
        match self {
            Rows::Dense { n_in, coef } => coef.len().checked_div(*n_in).unwrap_or(0),
            Rows::Sparse { ptr, .. } => ptr.len().saturating_sub(1),
        }
    }

    /// Row `k` as `(input index, coefficient)` pairs, in input order within a Dense row.
    #[inline]
    pub fn row(&self, k: usize) -> RowIter<'_> {
        match self {
            Rows::Dense { n_in, coef } => RowIter::Dense { coef: &coef[k * n_in..(k + 1) * n_in], i: 0 },
            Rows::Sparse { ptr, idx, coef } => {
                let (a, b) = (ptr[k], ptr[k + 1]);
                RowIter::Sparse { idx: idx[a..b].iter(), coef: coef[a..b].iter() }
            }
        }
    }

    /// Number of stored coefficients (a measure of the form's size).
    pub fn nnz(&self) -> usize {
        match self {
            Rows::Dense { coef, .. } => coef.len(),
            Rows::Sparse { coef, .. } => coef.len(),
        }
    }

    /// `ν_i += Σ_k μ_k · c_ki` (the transpose applied to `μ`), for any numeric type (`f64` in
    /// the back-substitution of bounds, `f32` in the surrogate's backward pass).
    pub fn transpose_add<T: Real>(&self, mu: &[T], nu: &mut [T]) {
        match self {
            Rows::Dense { n_in, coef } => {
                for (k, &m) in mu.iter().enumerate() {
                    if m != T::ZERO {
                        for (v, &c) in nu.iter_mut().zip(&coef[k * n_in..(k + 1) * n_in]) {
                            *v += m * T::from_i64(c);
                        }
                    }
                }
            }
            Rows::Sparse { ptr, idx, coef } => {
                for (k, &m) in mu.iter().enumerate() {
                    if m != T::ZERO {
                        for j in ptr[k]..ptr[k + 1] {
                            nu[idx[j] as usize] += m * T::from_i64(coef[j]);
                        }
                    }
                }
            }
        }
    }
}

/// The float types analyses compute in (coefficients are exact in both: `|c| < 2^17`).
pub trait Real: Copy + PartialEq + std::ops::AddAssign + std::ops::Mul<Output = Self> {
    const ZERO: Self;
    fn from_i64(v: i64) -> Self;
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    #[inline]
    fn from_i64(v: i64) -> f64 {
        v as f64
    }
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    #[inline]
    fn from_i64(v: i64) -> f32 {
        v as f32
    }
}

/// Iterator over one row of [`Rows`].
pub enum RowIter<'a> {
    Dense { coef: &'a [i64], i: usize },
    Sparse { idx: std::slice::Iter<'a, u32>, coef: std::slice::Iter<'a, i64> },
}

impl Iterator for RowIter<'_> {
    type Item = (usize, i64);
    #[inline]
    fn next(&mut self) -> Option<(usize, i64)> {
        match self {
            RowIter::Dense { coef, i } => {
                let c = *coef.get(*i)?;
                *i += 1;
                Some((*i - 1, c))
            }
            RowIter::Sparse { idx, coef } => Some((*idx.next()? as usize, *coef.next()?)),
        }
    }
}

/// A monotone non-decreasing scalar map from an integer pre-activation to an output integer.
#[derive(Clone, Debug, PartialEq)]
pub enum Act {
    /// `clamp(R(p) + zero_point, lo, hi)`: requantization ([`Rescale`]; a fused ReLU raises `lo`
    /// to the zero point).
    Requant { rescale: Rescale, zero_point: i64, lo: i64, hi: i64 },
    /// `clamp(round(p / n) + zero_point, lo, hi)`: the integer mean of a pooling window whose
    /// sum of `(x − zero_point)` is `p` (`n` the window size, or its in-bounds count).
    Average { n: i64, rounding: Rounding, zero_point: i64, lo: i64, hi: i64 },
    /// `clamp(p, lo, hi)`: ReLU (`lo` = the zero point) and clipping.
    Clamp { lo: i64, hi: i64 },
    /// `table[p − offset]`: any integer function of one integer (a quantized sigmoid, hardswish,
    /// leaky ReLU, a requantization between two scales …), exactly as its runtime tabulates it.
    /// The only activation that need not be monotone. Validation checks that every input the
    /// types allow has an entry.
    Lut { table: std::sync::Arc<[i64]>, offset: i64 },
}

impl Act {
    /// The exact output for pre-activation `p` (the reference semantics).
    #[inline]
    pub fn apply(&self, p: i64) -> i64 {
        match *self {
            Act::Requant { ref rescale, zero_point, lo, hi } => requantize(p, rescale, zero_point, lo, hi),
            Act::Average { n, rounding, zero_point, lo, hi } => {
                (round_div(i128::from(p), i128::from(n), rounding) as i64).saturating_add(zero_point).clamp(lo, hi)
            }
            Act::Clamp { lo, hi } => p.clamp(lo, hi),
            Act::Lut { ref table, offset } => {
                // Validation guarantees the index is in range for every reachable `p`; the
                // clamp keeps this total for others.
                let i = (p.saturating_sub(offset)).clamp(0, table.len() as i64 - 1);
                table[i as usize]
            }
        }
    }

    /// Whether `apply` is non-decreasing (everything but a general lookup table).
    pub fn is_monotone(&self) -> bool {
        match self {
            Act::Lut { table, .. } => table.windows(2).all(|w| w[0] <= w[1]),
            _ => true,
        }
    }

    /// The exact range of `apply` over the integers of `[lo, hi]`.
    pub fn image(&self, lo: i64, hi: i64) -> (i64, i64) {
        match self {
            Act::Lut { table, offset } if !self.is_monotone() => {
                let (a, b) = ((lo - offset).max(0) as usize, (hi - offset).max(0) as usize);
                let vals = &table[a.min(table.len() - 1)..=b.min(table.len() - 1)];
                let min = vals.iter().copied().min().unwrap_or(table[0]);
                let max = vals.iter().copied().max().unwrap_or(table[0]);
                (min, max)
            }
            _ => (self.apply(lo), self.apply(hi)),
        }
    }

    /// The output clamp `[lo, hi]` (for a table: its smallest and largest entry).
    pub fn clamp_range(&self) -> (i64, i64) {
        match *self {
            Act::Requant { lo, hi, .. } | Act::Average { lo, hi, .. } | Act::Clamp { lo, hi } => (lo, hi),
            Act::Lut { ref table, .. } => {
                (table.iter().copied().min().unwrap_or(0), table.iter().copied().max().unwrap_or(0))
            }
        }
    }

    /// The value before the clamp, `R(p) + zero_point` (saturating), for stability analysis.
    pub fn unclamped(&self, p: i64) -> i64 {
        match *self {
            Act::Requant { ref rescale, zero_point, .. } => rescale.apply(p).saturating_add(zero_point),
            Act::Average { n, rounding, zero_point, .. } => {
                (round_div(i128::from(p), i128::from(n), rounding) as i64).saturating_add(zero_point)
            }
            Act::Clamp { .. } | Act::Lut { .. } => p,
        }
    }
}

/// Per-row activations: one shared by all rows, or one per group of `per` consecutive rows
/// (per output channel), or one per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Acts {
    acts: Vec<Act>,
    /// Rows per entry of `acts`.
    per: usize,
}

impl Acts {
    /// One activation for every row.
    pub fn uniform(a: Act) -> Acts {
        Acts { acts: vec![a], per: usize::MAX }
    }
    /// Activation `acts[k / per]` for row `k` (`per` rows per channel).
    pub fn per_channel(acts: Vec<Act>, per: usize) -> Acts {
        Acts { acts, per: per.max(1) }
    }
    /// The activation of row `k`.
    #[inline]
    pub fn of(&self, k: usize) -> &Act {
        if self.acts.len() == 1 {
            &self.acts[0]
        } else {
            &self.acts[k / self.per]
        }
    }
    /// The index of row `k`'s activation (its output channel, for per-channel requantization).
    pub fn channel_of(&self, k: usize) -> usize {
        if self.acts.len() == 1 {
            0
        } else {
            k / self.per
        }
    }
    /// The distinct activations.
    pub fn distinct(&self) -> &[Act] {
        &self.acts
    }
}

/// `y_k = act_k(Σ_i c_ki · (x_i − zero_point) + bias_k)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Affine {
    pub rows: Rows,
    /// The input zero point, subtracted from every input.
    pub zero_point: i64,
    /// `b_k` in accumulator units, one per row.
    pub bias: Vec<i64>,
    pub acts: Acts,
    /// Whether the pre-activation is a requantization accumulator (Dense/Conv): reported as
    /// such (`acc` bounds, unstable-neuron counts); false for pooling sums.
    pub accumulator: bool,
}

impl Affine {
    pub fn n_out(&self) -> usize {
        self.rows.n_out()
    }

    /// The exact pre-activation of row `k` for input `x`.
    #[inline]
    pub fn pre(&self, k: usize, x: &[i64]) -> i64 {
        let z = self.zero_point;
        let dot: i64 = match &self.rows {
            Rows::Dense { n_in, coef } => {
                coef[k * n_in..(k + 1) * n_in].iter().zip(x).map(|(&c, &v)| c * (v - z)).sum()
            }
            Rows::Sparse { ptr, idx, coef } => {
                let r = ptr[k]..ptr[k + 1];
                idx[r.clone()].iter().zip(&coef[r]).map(|(&i, &c)| c * (x[i as usize] - z)).sum()
            }
        };
        dot + self.bias[k]
    }

    /// Row `k` written over the raw inputs: `Σ c_ki · x_i + constant` (the zero point folded
    /// into the constant), in `i128`.
    pub fn constant(&self, k: usize) -> i128 {
        let s: i128 = self.rows.row(k).map(|(_, c)| i128::from(c)).sum();
        i128::from(self.bias[k]) - i128::from(self.zero_point) * s
    }
}

/// Index windows: output `k` reads inputs `idx[ptr[k]..ptr[k + 1]]` (never empty).
#[derive(Clone, Debug, PartialEq)]
pub struct Windows {
    pub ptr: Vec<usize>,
    pub idx: Vec<u32>,
}

impl Windows {
    pub fn n_out(&self) -> usize {
        self.ptr.len().saturating_sub(1)
    }
    #[inline]
    pub fn window(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        self.idx[self.ptr[k]..self.ptr[k + 1]].iter().map(|&i| i as usize)
    }
    pub fn len_of(&self, k: usize) -> usize {
        self.ptr[k + 1] - self.ptr[k]
    }
}

/// Where a gathered value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// Value `i` of the (concatenated) input.
    In(u32),
    /// A constant (a padding value).
    Const(i64),
}

/// `y_k = src_k`: values picked from the input (concatenation, transposition) or constants
/// (padding).
#[derive(Clone, Debug, PartialEq)]
pub struct Gather {
    pub src: Vec<Src>,
}

/// `y_k = out(ta(x_k) + tb(x_{n+k}))` for `k < n`: the node reads two tensors of `n` values
/// each (concatenated: `a = x[..n]`, `b = x[n..]`). `ta` and `tb` are monotone non-decreasing
/// (validated at lowering) and map each operand exactly onto a common integer grid (e.g. the
/// operand's binary32 contribution times `2^S`); `out` is monotone and maps the exact integer
/// sum to the output. Every analysis treats `ta`/`tb` like elementwise activations and the sum
/// like a two-term affine row.
#[derive(Clone, Debug, PartialEq)]
pub struct Sum {
    pub n: usize,
    pub ta: Act,
    pub tb: Act,
    pub out: Act,
}

impl Sum {
    /// The exact pre-activation `ta(a_k) + tb(b_k)` (`i64`: validation bounds the tables).
    #[inline]
    pub fn pre(&self, k: usize, x: &[i64]) -> i64 {
        self.ta.apply(x[k]) + self.tb.apply(x[self.n + k])
    }
}

/// The lowered description of one node. See the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub enum Form {
    Affine(Affine),
    /// `y_k = act_k(x_k)`.
    Map(Acts),
    Max(Windows),
    Gather(Gather),
    Copy,
    Sum(Sum),
}

/// The least `x` in `lo..=hi` with `g(x) >= v` for a non-decreasing `g`, or `hi + 1` if there is
/// none: the threshold on one operand at which a monotone two-operand form (e.g. a quantized
/// [`Sum`]) reaches output level `v`, which the MILP and SMT encodings turn into one indicator.
pub fn least_reaching<T>(lo: T, hi: T, v: T, g: impl Fn(T) -> T) -> T
where
    T: Copy + Ord + std::ops::Add<Output = T> + std::ops::Sub<Output = T> + std::ops::Div<Output = T> + From<i8>,
{
    let (mut l, mut h) = (lo, hi + T::from(1));
    while l < h {
        let mid = l + (h - l) / T::from(2);
        if g(mid) >= v {
            h = mid;
        } else {
            l = mid + T::from(1);
        }
    }
    l
}
