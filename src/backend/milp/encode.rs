//! The IR → MILP encoding. See `encodings/milp.md` for every constraint and why it is exact (or,
//! for general `Float32` rescales, a sound band that replay and refinement make exact).
//!
//! Every value of the network is an affine integer expression ([`Lin`]) over integer variables.
//! All rows except the `Float32` bands have integer coefficients over integer variables, so their
//! activity is an integer at every integer point: each such row is relaxed by [`INT_MARGIN`]
//! (`≤ rhs + 1/4`, `≥ rhs − 1/4`), which changes no integer solution but leaves every true
//! execution strictly inside the row, with slack far above the solver's tolerances.

use super::model::{MilpModel, Sense, VarKind};
use crate::backend::Query;
use crate::bounds::{Interval, NetBounds};
use crate::net::form::{Act, Acts, Affine, Gather, Src, Sum, Windows};
use crate::net::requant::{requantize, round_div, Rescale, Rounding};
use crate::net::walk::{walk, Analysis};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Slack added to every integer row (see the module documentation).
pub const INT_MARGIN: f64 = 0.25;
/// Conditioning limit of an integer row: `M · c_max ≤ 2^40`, where `M = Σ |c|·max|x| + |rhs|`
/// bounds the activity and `c_max` is the largest coefficient. A solver deriving a bound on a
/// variable with coefficient `c` from the row makes an error of about `M·2^-52`, while the true
/// point's slack in that variable is `INT_MARGIN / c`: the limit keeps the error `2^10` times
/// below the slack. Rounding rows beyond it are replaced by the step encoding; other rows make
/// the encoding fail (`unknown`). Found necessary by experiment: a Q31 row with `c = 2^31` and
/// `M ≈ 2^38` made HiGHS report a feasible model infeasible.
pub const MAX_ROW_CONDITION: f64 = (1u64 << 40) as f64;
/// Most output levels (binaries) of one step-encoded neuron.
pub const MAX_STEP_LEVELS: i64 = 4096;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EncodeError {
    #[error("MILP encoding unsupported: {0}")]
    Unsupported(String),
    #[error("inconsistent bounds: {0}")]
    Bounds(String),
}

type Res<T> = Result<T, EncodeError>;

/// An affine integer expression `Σ coef·var + c`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lin {
    pub terms: Vec<(usize, i128)>,
    pub c: i128,
}

impl Lin {
    pub fn constant(c: i128) -> Lin {
        Lin { terms: Vec::new(), c }
    }
    pub fn var(v: usize) -> Lin {
        Lin { terms: vec![(v, 1)], c: 0 }
    }
    /// `self += k · other`.
    pub fn add_scaled(&mut self, other: &Lin, k: i128) {
        if k == 0 {
            return;
        }
        self.terms.extend(other.terms.iter().map(|&(v, c)| (v, c * k)));
        self.c += other.c * k;
    }
    pub fn scaled(&self, k: i128) -> Lin {
        let mut l = Lin::default();
        l.add_scaled(self, k);
        l
    }
    pub fn plus(&self, c: i128) -> Lin {
        Lin { terms: self.terms.clone(), c: self.c + c }
    }
    pub fn as_const(&self) -> Option<i128> {
        self.terms.iter().all(|t| t.1 == 0).then_some(self.c)
    }
    /// The variable `v` if the expression is exactly `1·v + 0`.
    pub fn as_var(&self) -> Option<usize> {
        match self.terms.as_slice() {
            [(v, 1)] if self.c == 0 => Some(*v),
            _ => None,
        }
    }
    /// Value at an (integer) assignment.
    pub fn eval(&self, x: &[f64]) -> f64 {
        self.terms.iter().map(|&(v, c)| c as f64 * x[v]).sum::<f64>() + self.c as f64
    }
}

/// A tensor element: its expression and sound bounds.
#[derive(Clone, Debug)]
struct Val {
    lin: Lin,
    lo: i64,
    hi: i64,
}

/// A `Float32` neuron encoded by a band: the refinement loop checks `r = R(acc)` on candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct BandNeuron {
    pub layer: usize,
    pub neuron: usize,
    pub acc: Lin,
    pub r: Lin,
    pub rescale: Rescale,
}

/// Encoding choices. The default is the exact model (integer inputs; bands only where a
/// `Float32` rescale allows no exact integer form).
#[derive(Clone, Debug, Default)]
pub struct EncodeOptions {
    /// Neurons that use the exact step encoding (the refinement of bands).
    pub exact: BTreeSet<(usize, usize)>,
    /// Declare the inputs continuous instead of integer: a relaxation (every integer execution
    /// stays feasible), which spares the solver from branching on hundreds of input variables
    /// whose integrality rarely matters; a candidate that does not replay after rounding its
    /// inputs is refined by solving again with integer inputs.
    pub relax_inputs: bool,
    /// Declare every general integer variable other than the inputs (accumulators, rounding
    /// quotients, clamp outputs) continuous; binaries stay binary. Also a relaxation: what is
    /// left is a real-valued network with a ±1/2 band per rounding, so `Infeasible` still proves
    /// the disjunct unreachable, and the solver no longer branches on a few hundred general
    /// integers. Measured on QVIP's 784-64-32-10 network: 3x fewer seconds to infeasibility.
    pub relax_integers: bool,
    /// With a single disjunct, minimise the sum of its atoms' left-hand sides (an objective only;
    /// the feasible set is the same).
    pub guide: bool,
}

/// The result of encoding a query.
#[derive(Clone, Debug)]
pub struct Encoding {
    pub model: MilpModel,
    /// The variable of each input component.
    pub inputs: Vec<usize>,
    pub bands: Vec<BandNeuron>,
    /// Figures for `BackendStats::extra` (counts by kind).
    pub counts: BTreeMap<String, f64>,
}

struct Enc<'a> {
    m: MilpModel,
    bounds: &'a NetBounds,
    opts: &'a EncodeOptions,
    bands: Vec<BandNeuron>,
    counts: BTreeMap<String, f64>,
}

fn f(v: i128) -> f64 {
    v as f64
}

/// `m = k · 2^e` with `k` odd (or `(0, 0)`), for a finite double.
fn dyadic_parts(x: f64) -> Option<(i128, i32)> {
    let d = crate::numeric::decode_f64(x)?.reduced();
    Some((i128::from(d.mantissa), d.exponent))
}

/// If `Rescale::Float32 { m, bias }` computes exactly `round((a·acc + c) / D)` for every
/// accumulator in `[lo, hi]` (no binary32 step rounds), return `(a, c, D)`.
fn float_as_rational(m: f64, bias: f64, lo: i64, hi: i64) -> Option<(i128, i128, i128)> {
    let (k, em) = dyadic_parts(m)?;
    let (bk, eb) = dyadic_parts(bias)?;
    let amax = i128::from(lo.unsigned_abs().max(hi.unsigned_abs()));
    // fl(acc) = acc.
    if amax > 1 << 24 {
        return None;
    }
    // acc + bias = M / 2^fb with M = acc·2^fb + B, an integer; exact if |M| ≤ 2^24.
    let fb = (-eb).max(0);
    if fb > 60 {
        return None;
    }
    let bint = if eb >= 0 { bk.checked_mul(1i128.checked_shl(eb as u32)?)? } else { bk };
    let mmax = amax.checked_mul(1i128 << fb)?.checked_add(bint.abs())?;
    if mmax > 1 << 24 {
        return None;
    }
    // (acc + bias)·m = (M·k) · 2^(em − fb); exact if |M·k| ≤ 2^24 and the exponent stays on the
    // binary32 grid (≥ −149).
    if mmax.checked_mul(k.abs())? > 1 << 24 {
        return None;
    }
    let e = em - fb;
    if e < -149 {
        return None;
    }
    let a = k.checked_mul(1i128 << fb)?;
    let c = k.checked_mul(bint)?;
    if e >= 0 {
        let s = 1i128.checked_shl(e as u32)?;
        Some((a.checked_mul(s)?, c.checked_mul(s)?, 1))
    } else if e >= -100 {
        Some((a, c, 1i128 << (-e)))
    } else {
        None
    }
}

impl<'a> Enc<'a> {
    fn count(&mut self, key: &str, n: usize) {
        *self.counts.entry(key.to_string()).or_insert(0.0) += n as f64;
    }

    fn int_var(&mut self, role: &str, lo: i128, hi: i128) -> Lin {
        let kind = if self.opts.relax_integers { VarKind::Continuous } else { VarKind::Integer };
        Lin::var(self.m.var(role, kind, f(lo), f(hi)))
    }

    fn bin_var(&mut self, role: &str, kind: &str) -> usize {
        self.count(kind, 1);
        self.m.var(role, VarKind::Binary, 0.0, 1.0)
    }

    /// `lhs (≤|≥) rhs` over integers, relaxed by [`INT_MARGIN`].
    fn int_row(&mut self, role: &str, lhs: &Lin, sense: Sense, rhs: i128) -> Res<()> {
        let rhs = rhs - lhs.c;
        let limit = 1i128 << 53;
        if rhs.abs() > limit || lhs.terms.iter().any(|t| t.1.abs() > limit) {
            return Err(EncodeError::Unsupported(format!("integer row `{role}` has a coefficient beyond 2^53")));
        }
        if self.condition(lhs, rhs) > MAX_ROW_CONDITION {
            return Err(EncodeError::Unsupported(format!(
                "integer row `{role}` is numerically unsafe (activity × largest coefficient exceeds 2^40)"
            )));
        }
        let terms = lhs.terms.iter().map(|&(v, c)| (v, f(c))).collect();
        let rhs = match sense {
            Sense::Le => f(rhs) + INT_MARGIN,
            Sense::Ge => f(rhs) - INT_MARGIN,
        };
        self.m.row(role, terms, sense, rhs);
        Ok(())
    }

    fn int_eq(&mut self, role: &str, lhs: &Lin, rhs: i128) -> Res<()> {
        self.int_row(role, lhs, Sense::Ge, rhs)?;
        self.int_row(role, lhs, Sense::Le, rhs)
    }

    /// Largest `|Σ coef·x| + |c|` over the variables' bounds.
    fn magnitude(&self, l: &Lin) -> f64 {
        l.terms
            .iter()
            .map(|&(v, c)| {
                let var = &self.m.vars[v];
                f(c).abs() * var.lb.abs().max(var.ub.abs())
            })
            .sum::<f64>()
            + f(l.c).abs()
    }

    /// `M · c_max` of the row `lhs ≤ rhs` (see [`MAX_ROW_CONDITION`]).
    fn condition(&self, lhs: &Lin, rhs: i128) -> f64 {
        let cmax = lhs.terms.iter().map(|t| f(t.1).abs()).fold(0.0, f64::max);
        let lin = Lin { terms: lhs.terms.clone(), c: 0 };
        (self.magnitude(&lin) + f(rhs).abs()) * cmax
    }

    /// A variable equal to `lin` (or `lin` itself when it already is a variable or a constant).
    fn materialize(&mut self, role: &str, lin: &Lin, lo: i64, hi: i64) -> Res<Lin> {
        if lin.as_const().is_some() || lin.as_var().is_some() {
            return Ok(lin.clone());
        }
        if lo == hi {
            return Ok(Lin::constant(i128::from(lo)));
        }
        let v = self.int_var(role, i128::from(lo), i128::from(hi));
        let mut d = v.clone();
        d.add_scaled(lin, -1);
        self.int_eq(role, &d, 0)?;
        Ok(v)
    }

    /// `r = round_mode(n / d)` for an integer expression `n ∈ [n_lo, n_hi]` and `d ≥ 1`.
    /// `None` if the rows would exceed [`MAX_ROW_CONDITION`] (the caller falls back).
    fn round_div(
        &mut self,
        role: &str,
        n: &Lin,
        n_lo: i128,
        n_hi: i128,
        d: i128,
        mode: Rounding,
    ) -> Res<Option<(Lin, i128, i128)>> {
        let r_lo = round_div(n_lo, d, mode);
        let r_hi = round_div(n_hi, d, mode);
        if d == 1 {
            return Ok(Some((n.clone(), n_lo, n_hi)));
        }
        if r_lo == r_hi {
            return Ok(Some((Lin::constant(r_lo), r_lo, r_lo)));
        }
        // Divide n and d by their common factor: same quotient, smaller coefficients.
        let g = n.terms.iter().fold(num_integer::Integer::gcd(&d, &n.c), |g, t| num_integer::Integer::gcd(&g, &t.1));
        let (n, n_lo, n_hi, d) = if g > 1 {
            let mut r = Lin { terms: n.terms.iter().map(|&(v, c)| (v, c / g)).collect(), c: n.c / g };
            r.terms.retain(|t| t.1 != 0);
            (r, n_lo / g, n_hi / g, d / g)
        } else {
            (n.clone(), n_lo, n_hi, d)
        };
        let n = &n;
        if d == 1 {
            return Ok(Some((n.clone(), n_lo, n_hi)));
        }
        let rmax = f(r_lo.abs().max(r_hi.abs()));
        let cmax = n.terms.iter().map(|t| f(t.1).abs()).fold(f(d), f64::max);
        if (self.magnitude(n) + f(d) * rmax + f(d)) * cmax > MAX_ROW_CONDITION {
            return Ok(None);
        }
        let r = self.int_var(role, r_lo, r_hi);
        // e = d·r − n.
        let mut e = r.scaled(d);
        e.add_scaled(n, -1);
        if d % 2 == 1 {
            // No ties: every mode is round-to-nearest, d·r − n ∈ [−(d−1)/2, (d−1)/2].
            self.int_row(role, &e, Sense::Ge, -(d / 2))?;
            self.int_row(role, &e, Sense::Le, d / 2)?;
            return Ok(Some((r, r_lo, r_hi)));
        }
        let h = d / 2;
        match mode {
            Rounding::HalfUp => {
                // n/d ∈ [r − 1/2, r + 1/2)  ⟺  d·r − n ∈ [−h + 1, h].
                self.int_row(role, &e, Sense::Ge, -h + 1)?;
                self.int_row(role, &e, Sense::Le, h)?;
            }
            Rounding::HalfEven => {
                // r = 2q + p, p the parity: an odd r must lie strictly inside the band.
                let p = self.bin_var(&format!("{role}_par"), "rounding_binaries");
                let q = self.int_var(&format!("{role}_half"), r_lo.div_euclid(2), r_hi.div_euclid(2));
                let mut def = r.clone();
                def.add_scaled(&q, -2);
                def.terms.push((p, -1));
                self.int_eq(role, &def, 0)?;
                let mut up = e.clone();
                up.terms.push((p, 1));
                self.int_row(role, &up, Sense::Le, h)?;
                let mut dn = e.clone();
                dn.terms.push((p, -1));
                self.int_row(role, &dn, Sense::Ge, -h)?;
            }
            Rounding::HalfAwayFromZero => {
                if n_lo >= 0 {
                    // Ties up.
                    self.int_row(role, &e, Sense::Ge, -h + 1)?;
                    self.int_row(role, &e, Sense::Le, h)?;
                } else if n_hi <= 0 {
                    // Ties down: n/d ∈ (r − 1/2, r + 1/2]  ⟺  d·r − n ∈ [−h, h − 1].
                    self.int_row(role, &e, Sense::Ge, -h)?;
                    self.int_row(role, &e, Sense::Le, h - 1)?;
                } else {
                    // s = 1 ⇒ n ≥ 0 (ties up), s = 0 ⇒ n ≤ 0 (ties down): e − s ∈ [−h, h − 1].
                    let s = self.bin_var(&format!("{role}_sgn"), "rounding_binaries");
                    let mut es = e.clone();
                    es.terms.push((s, -1));
                    self.int_row(role, &es, Sense::Le, h - 1)?;
                    self.int_row(role, &es, Sense::Ge, -h)?;
                    let mut pos = n.clone();
                    pos.terms.push((s, n_lo));
                    self.int_row(role, &pos, Sense::Ge, n_lo)?;
                    let mut neg = n.clone();
                    neg.terms.push((s, -n_hi));
                    self.int_row(role, &neg, Sense::Le, 0)?;
                }
            }
        }
        Ok(Some((r, r_lo, r_hi)))
    }

    /// `clamp(u, lo, hi)` for `u ∈ [u_lo, u_hi]`, with a binary only on a straddled side.
    fn clamp(&mut self, role: &str, u: &Lin, u_lo: i128, u_hi: i128, lo: i128, hi: i128) -> Res<(Lin, i128, i128)> {
        if u_hi <= lo {
            self.count("stable_neurons", 1);
            return Ok((Lin::constant(lo), lo, lo));
        }
        if u_lo >= hi {
            self.count("stable_neurons", 1);
            return Ok((Lin::constant(hi), hi, hi));
        }
        let (mut v, mut v_lo, v_hi) = (u.clone(), u_lo, u_hi);
        let mut unstable = false;
        if u_lo < lo {
            unstable = true;
            // v = max(u, lo): v ≥ u, v ≥ lo, v ≤ u + (lo − u_lo)·b, v ≤ lo + (u_hi − lo)·(1 − b).
            let b = self.bin_var(&format!("{role}_lo"), "clamp_binaries");
            let nv = self.int_var(&format!("{role}_max"), lo, u_hi);
            let mut d = nv.clone();
            d.add_scaled(u, -1);
            self.int_row(role, &d, Sense::Ge, 0)?;
            let mut d2 = d.clone();
            d2.terms.push((b, -(lo - u_lo)));
            self.int_row(role, &d2, Sense::Le, 0)?;
            let mut d3 = nv.clone();
            d3.terms.push((b, u_hi - lo));
            self.int_row(role, &d3, Sense::Le, u_hi)?;
            v = nv;
            v_lo = lo;
        }
        if v_hi > hi {
            unstable = true;
            // y = min(v, hi): y ≤ v, y ≤ hi, y ≥ v − (v_hi − hi)·b, y ≥ hi − (hi − v_lo)·(1 − b).
            let b = self.bin_var(&format!("{role}_hi"), "clamp_binaries");
            let y = self.int_var(&format!("{role}_min"), v_lo, hi);
            let mut d = y.clone();
            d.add_scaled(&v, -1);
            self.int_row(role, &d, Sense::Le, 0)?;
            let mut d2 = d.clone();
            d2.terms.push((b, v_hi - hi));
            self.int_row(role, &d2, Sense::Ge, 0)?;
            let mut d3 = y.clone();
            d3.terms.push((b, -(hi - v_lo)));
            self.int_row(role, &d3, Sense::Ge, v_lo)?;
            self.count(if unstable { "unstable_neurons" } else { "stable_neurons" }, 1);
            return Ok((y, v_lo, hi));
        }
        self.count(if unstable { "unstable_neurons" } else { "stable_neurons" }, 1);
        Ok((v, v_lo, v_hi.min(hi)))
    }

    /// Exact encoding of any monotone map `acc ↦ y` on `[a_lo, a_hi]`: `y = y_lo + Σ z_v` with
    /// `z_v = [acc ≥ T_v]`, `T_v` the least accumulator whose output reaches `v`.
    fn step(&mut self, role: &str, a: &Lin, a_lo: i64, a_hi: i64, g: impl Fn(i64) -> i64) -> Res<Lin> {
        let (y_lo, y_hi) = (g(a_lo), g(a_hi));
        if y_hi - y_lo > MAX_STEP_LEVELS {
            return Err(EncodeError::Unsupported(format!(
                "neuron `{role}` needs {} output levels in the step encoding (limit {MAX_STEP_LEVELS})",
                y_hi - y_lo
            )));
        }
        self.count("step_neurons", 1);
        let y = self.int_var(&format!("{role}_y"), i128::from(y_lo), i128::from(y_hi));
        let mut sum = y.plus(0);
        let mut prev: Option<usize> = None;
        for v in y_lo + 1..=y_hi {
            // Least t in [a_lo, a_hi] with g(t) ≥ v (exists since g(a_hi) = y_hi ≥ v).
            let (mut l, mut h) = (a_lo, a_hi);
            while l < h {
                let mid = l + (h - l) / 2;
                if g(mid) >= v {
                    h = mid;
                } else {
                    l = mid + 1;
                }
            }
            let t = i128::from(l);
            let z = self.bin_var(&format!("{role}_z"), "step_binaries");
            // z = 1 ⇒ acc ≥ t;  z = 0 ⇒ acc ≤ t − 1.
            let mut ge = a.clone();
            ge.terms.push((z, -(t - i128::from(a_lo))));
            self.int_row(role, &ge, Sense::Ge, i128::from(a_lo))?;
            let mut le = a.clone();
            le.terms.push((z, -(i128::from(a_hi) - t + 1)));
            self.int_row(role, &le, Sense::Le, t - 1)?;
            if let Some(p) = prev {
                self.int_row(role, &Lin { terms: vec![(p, 1), (z, -1)], c: 0 }, Sense::Ge, 0)?;
            }
            prev = Some(z);
            sum.terms.push((z, -1));
        }
        self.int_eq(role, &sum, i128::from(y_lo))?;
        Ok(y)
    }

    /// The exact rational form of a rescale where integer rows can express it:
    /// `r = R(acc)` as an expression with bounds, or `None`.
    fn rescale_rows(
        &mut self,
        role: &str,
        a: &Lin,
        a_lo: i64,
        a_hi: i64,
        r: &Rescale,
    ) -> Res<Option<(Lin, i128, i128)>> {
        let (lo, hi) = (i128::from(a_lo), i128::from(a_hi));
        match *r {
            Rescale::Dyadic { m, shift, rounding } => {
                if shift > 100 {
                    return Ok(None);
                }
                let m = i128::from(m);
                self.round_div(role, &a.scaled(m), m * lo, m * hi, 1i128 << shift, rounding)
            }
            Rescale::Float32 { m, bias, rounding } => match float_as_rational(m, bias, a_lo, a_hi) {
                Some((k, c, d)) => {
                    self.count("float32_exact_neurons", 1);
                    let n = a.scaled(k).plus(c);
                    self.round_div(role, &n, k * lo + c, k * hi + c, d, rounding)
                }
                None => Ok(None),
            },
            Rescale::Q31 { m0, shift } => {
                // srdhm(x, m0) = floor((x·m0 + 2^30) / 2^31) = round_half_up(x·m0 / 2^31) for m0 > 0,
                // then RoundingDivideByPOT = round_half_away_from_zero(t / 2^right).
                let left = shift.max(0) as u32;
                let right = (-shift).max(0) as u32;
                let k = i128::from(m0) << left;
                let Some((t, t_lo, t_hi)) =
                    self.round_div(&format!("{role}_q"), &a.scaled(k), k * lo, k * hi, 1i128 << 31, Rounding::HalfUp)?
                else {
                    return Ok(None);
                };
                self.round_div(role, &t, t_lo, t_hi, 1i128 << right, Rounding::HalfAwayFromZero)
            }
        }
    }

    /// One requantized neuron: `y = clamp(R(acc) + zp, lo, hi)`.
    #[allow(clippy::too_many_arguments)]
    fn requant(
        &mut self,
        layer: usize,
        j: usize,
        acc: &Lin,
        acc_iv: Interval,
        r: &Rescale,
        zp: i64,
        lo: i64,
        hi: i64,
    ) -> Res<Val> {
        let role = format!("l{layer}n{j}");
        let (a_lo, a_hi) = (acc_iv.lo, acc_iv.hi);
        let g = |v: i64| requantize(v, r, zp, lo, hi);
        let (y_lo, y_hi) = (g(a_lo), g(a_hi));
        if y_lo == y_hi {
            self.count("stable_neurons", 1);
            return Ok(Val { lin: Lin::constant(i128::from(y_lo)), lo: y_lo, hi: y_lo });
        }
        let a = self.materialize(&format!("{role}_acc"), acc, a_lo, a_hi)?;
        if self.opts.exact.contains(&(layer, j)) {
            let y = self.step(&role, &a, a_lo, a_hi, g)?;
            return Ok(Val { lin: y, lo: y_lo, hi: y_hi });
        }
        // A rounding row refused as numerically unsafe falls back to the step encoding; rows
        // already added are satisfied by every true execution, so they stay sound.
        let rows = match self.rescale_rows(&format!("{role}_r"), &a, a_lo, a_hi, r) {
            Err(EncodeError::Unsupported(_)) => None,
            other => other?,
        };
        let (rv, r_lo, r_hi) = match rows {
            Some(x) => x,
            None => match *r {
                Rescale::Float32 { m, bias, .. } => {
                    let (r_lo, r_hi) = (i128::from(r.apply(a_lo)), i128::from(r.apply(a_hi)));
                    let rv = self.float_band(&format!("{role}_r"), &a, a_lo, a_hi, m, bias, r_lo, r_hi);
                    self.bands.push(BandNeuron { layer, neuron: j, acc: a.clone(), r: rv.clone(), rescale: *r });
                    (rv, r_lo, r_hi)
                }
                _ => {
                    let y = self.step(&role, &a, a_lo, a_hi, g)?;
                    return Ok(Val { lin: y, lo: y_lo, hi: y_hi });
                }
            },
        };
        let zp = i128::from(zp);
        let (y, l, h) = self.clamp(&role, &rv.plus(zp), r_lo + zp, r_hi + zp, i128::from(lo), i128::from(hi))?;
        debug_assert_eq!((l, h), (i128::from(y_lo), i128::from(y_hi)));
        Ok(Val { lin: y, lo: y_lo, hi: y_hi })
    }

    /// Sound band for `r = round(fl(fl(fl(acc) + b)·m))`: `|r − m·(acc + b)| ≤ 1/2 + δ + μ`, with
    /// `δ = 4·2^-24·m·(max|acc| + |b|) + 2^-140` bounding the three binary32 roundings and `μ`
    /// covering the solver's tolerances (see `encodings/milp.md`).
    #[allow(clippy::too_many_arguments)]
    fn float_band(&mut self, role: &str, a: &Lin, a_lo: i64, a_hi: i64, m: f64, b: f64, r_lo: i128, r_hi: i128) -> Lin {
        self.count("band_neurons", 1);
        let amax = (a_lo.unsigned_abs().max(a_hi.unsigned_abs())) as f64;
        let delta = 4.0 * 2f64.powi(-24) * m * (amax + b.abs()) + 2f64.powi(-140);
        let mu = 1e-5 + 1e-9 * m * (amax + b.abs());
        let r = self.int_var(role, r_lo, r_hi);
        let rv = r.as_var().expect("fresh variable");
        let center = m * b;
        let mut terms = vec![(rv, 1.0)];
        let mut rhs_shift = 0.0;
        for &(v, c) in &a.terms {
            terms.push((v, -m * c as f64));
        }
        rhs_shift += m * a.c as f64;
        let w = 0.5 + delta + mu;
        self.m.row(role, terms.clone(), Sense::Ge, center + rhs_shift - w);
        self.m.row(role, terms, Sense::Le, center + rhs_shift + w);
        r
    }
}

/// Encode a query. The model is feasible iff (up to the `Float32` bands, which only add
/// behaviours) some input of the box reaches some unsafe disjunct.
pub fn encode(query: &Query<'_>, opts: &EncodeOptions) -> Res<Encoding> {
    let net = query.net;
    let bounds = query.bounds;
    if bounds.layers.len() != net.layers().len() || bounds.input.len() != net.input_len() {
        return Err(EncodeError::Bounds("bounds do not match the network's layers".into()));
    }
    let mut e = Enc { m: MilpModel::default(), bounds, opts, bands: Vec::new(), counts: BTreeMap::new() };
    let (inputs, vals) = e.inputs(&query.spec.input)?;
    let mut values = walk(net, &mut e, vals)?;
    let out = values.pop().expect("the output tensor");
    e.dnf(query, &out)?;
    let counts = std::mem::take(&mut e.counts);
    Ok(Encoding { model: e.m, inputs, bands: e.bands, counts })
}

/// The encoding of the nodes before affine node `node` over the box `input` (no spec), with the
/// pre-activation of each of `node`'s rows as an expression over its variables: what LP bound
/// tightening minimises and maximises ([`super::tighten`]). Every execution from the box is a
/// feasible point (the model of [`encode`] without its last nodes and without the spec).
pub fn encode_below(
    net: &crate::net::Network,
    bounds: &NetBounds,
    input: &crate::spec::InputBox,
    node: usize,
    opts: &EncodeOptions,
) -> Res<(MilpModel, Vec<Lin>)> {
    if bounds.layers.len() != net.layers().len() || bounds.input.len() != net.input_len() {
        return Err(EncodeError::Bounds("bounds do not match the network's layers".into()));
    }
    let crate::net::form::Form::Affine(a) = net.form(node) else {
        return Err(EncodeError::Unsupported(format!("node {node} is not affine")));
    };
    let mut e = Enc { m: MilpModel::default(), bounds, opts, bands: Vec::new(), counts: BTreeMap::new() };
    let (_, vals) = e.inputs(input)?;
    let values = crate::net::walk::walk_prefix(net, &mut e, vals, node)?;
    let x: Vec<Val> = net.node_inputs(node).iter().flat_map(|&t| values[t].iter().cloned()).collect();
    let pre = (0..a.n_out()).map(|k| pre_lin(a, k, &x)).collect();
    Ok((e.m, pre))
}

/// Row `k` of an affine form over its input values: `bias_k + Σ c·(x − zero_point)`.
fn pre_lin(a: &Affine, k: usize, x: &[Val]) -> Lin {
    let z = i128::from(a.zero_point);
    let mut p = Lin::constant(i128::from(a.bias[k]));
    for (i, c) in a.rows.row(k) {
        let c = i128::from(c);
        p.add_scaled(&x[i].lin, c);
        p.c -= c * z;
    }
    p
}

impl Enc<'_> {
    /// One variable per input component, its range the box met with the input bounds.
    fn inputs(&mut self, input: &crate::spec::InputBox) -> Res<(Vec<usize>, Vec<Val>)> {
        let n = self.bounds.input.len();
        if input.lo.len() != n || input.hi.len() != n {
            return Err(EncodeError::Bounds(format!("the input box has {} values, the network {n}", input.lo.len())));
        }
        let (mut inputs, mut vals) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (i, iv) in self.bounds.input.iter().enumerate() {
            let (l, h) = match iv.meet(&Interval { lo: input.lo[i], hi: input.hi[i] }) {
                Some(x) => (x.lo, x.hi),
                None => return Err(EncodeError::Bounds(format!("input {i}: bounds and box do not meet"))),
            };
            let kind = if self.opts.relax_inputs { VarKind::Continuous } else { VarKind::Integer };
            let v = self.m.var("x", kind, l as f64, h as f64);
            inputs.push(v);
            vals.push(Val { lin: Lin::var(v), lo: l, hi: h });
        }
        Ok((inputs, vals))
    }

    /// Bounds of node `node`'s output value `k`.
    fn out_bound(&self, node: usize, k: usize) -> Res<Interval> {
        self.bounds.layers[node]
            .out
            .get(k)
            .copied()
            .ok_or_else(|| EncodeError::Bounds(format!("layer {node}: out {k}")))
    }

    /// `y = act(p)` for an integer expression `p ∈ iv` (value `k` of node `node`).
    fn act(&mut self, node: usize, k: usize, p: &Lin, iv: Interval, act: &Act) -> Res<Val> {
        let role = format!("l{node}n{k}");
        match *act {
            Act::Requant { ref rescale, zero_point, lo, hi } => {
                self.requant(node, k, p, iv, rescale, zero_point, lo, hi)
            }
            Act::Average { n, rounding, zero_point, lo, hi } => {
                let (s_lo, s_hi) = (i128::from(iv.lo), i128::from(iv.hi));
                let s = self.materialize(&format!("{role}_sum"), p, iv.lo, iv.hi)?;
                let (r, r_lo, r_hi) = self
                    .round_div(&format!("{role}_r"), &s, s_lo, s_hi, i128::from(n), rounding)?
                    .ok_or_else(|| EncodeError::Unsupported(format!("{role}: average too large")))?;
                let z = i128::from(zero_point);
                let (y, l, h) = self.clamp(&role, &r.plus(z), r_lo + z, r_hi + z, i128::from(lo), i128::from(hi))?;
                Ok(Val { lin: y, lo: l as i64, hi: h as i64 })
            }
            Act::Clamp { lo, hi } => {
                let (y, l, h) =
                    self.clamp(&role, p, i128::from(iv.lo), i128::from(iv.hi), i128::from(lo), i128::from(hi))?;
                Ok(Val { lin: y, lo: l as i64, hi: h as i64 })
            }
            Act::Lut { .. } => self.table(&role, p, iv, act),
        }
    }

    /// `y = table[p]` exactly: a one-hot `δ_v` over the values `v` of `p`'s range, with
    /// `Σ δ_v = 1`, `p = Σ v·δ_v` and `y = Σ table(v)·δ_v`.
    fn table(&mut self, role: &str, p: &Lin, iv: Interval, act: &Act) -> Res<Val> {
        if iv.lo == iv.hi {
            let y = act.apply(iv.lo);
            return Ok(Val { lin: Lin::constant(i128::from(y)), lo: y, hi: y });
        }
        let levels = i128::from(iv.hi) - i128::from(iv.lo) + 1;
        if levels > i128::from(MAX_STEP_LEVELS) {
            return Err(EncodeError::Unsupported(format!(
                "lookup table `{role}` over {levels} input values (limit {MAX_STEP_LEVELS})"
            )));
        }
        let (mut one, mut x, mut y) = (Lin::default(), Lin::default(), Lin::default());
        for v in iv.lo..=iv.hi {
            let d = self.bin_var(&format!("{role}_at"), "table_binaries");
            one.terms.push((d, 1));
            x.terms.push((d, i128::from(v)));
            y.terms.push((d, i128::from(act.apply(v))));
        }
        self.int_eq(role, &one, 1)?;
        let mut diff = x;
        diff.add_scaled(p, -1);
        self.int_eq(role, &diff, 0)?;
        let (lo, hi) = act.image(iv.lo, iv.hi);
        Ok(Val { lin: y, lo, hi })
    }
}

impl Analysis for Enc<'_> {
    type Value = Vec<Val>;
    type Error = EncodeError;

    fn affine(&mut self, node: usize, a: &Affine, x: &Vec<Val>) -> Res<Vec<Val>> {
        let pre = self.bounds.layers[node]
            .pre
            .clone()
            .ok_or_else(|| EncodeError::Bounds(format!("layer {node}: no accumulator bounds")))?;
        let mut ys = Vec::with_capacity(a.n_out());
        for k in 0..a.n_out() {
            let p = pre_lin(a, k, x);
            let iv = pre.get(k).copied().ok_or_else(|| EncodeError::Bounds(format!("layer {node}: acc {k}")))?;
            ys.push(self.act(node, k, &p, iv, a.acts.of(k))?);
        }
        Ok(ys)
    }

    fn map(&mut self, node: usize, acts: &Acts, x: &Vec<Val>) -> Res<Vec<Val>> {
        let mut ys = Vec::with_capacity(x.len());
        for (k, v) in x.iter().enumerate() {
            ys.push(self.act(node, k, &v.lin, Interval::new(v.lo, v.hi), acts.of(k))?);
        }
        Ok(ys)
    }

    fn max(&mut self, node: usize, w: &Windows, x: &Vec<Val>) -> Res<Vec<Val>> {
        let mut ys = Vec::with_capacity(w.n_out());
        for k in 0..w.n_out() {
            let role = format!("l{node}n{k}");
            let ob = self.out_bound(node, k)?;
            let taps: Vec<&Val> = w.window(k).map(|i| &x[i]).collect();
            if taps.is_empty() {
                return Err(EncodeError::Bounds(format!("layer {node}: empty window")));
            }
            ys.push(Enc::max(self, &role, &taps, ob)?);
        }
        Ok(ys)
    }

    fn gather(&mut self, _: usize, g: &Gather, x: &Vec<Val>) -> Res<Vec<Val>> {
        Ok(g.src
            .iter()
            .map(|s| match *s {
                Src::In(i) => x[i as usize].clone(),
                Src::Const(c) => Val { lin: Lin::constant(i128::from(c)), lo: c, hi: c },
            })
            .collect())
    }

    fn copy(&mut self, _: usize, x: &Vec<Val>) -> Res<Vec<Val>> {
        Ok(x.clone())
    }

    fn sum(&mut self, node: usize, s: &Sum, x: &Vec<Val>) -> Res<Vec<Val>> {
        let mut ys = Vec::with_capacity(s.n);
        for k in 0..s.n {
            let role = format!("l{node}n{k}");
            let (a, b) = (&x[k], &x[s.n + k]);
            let f = |u: i64, v: i64| s.out.apply(s.ta.apply(u) + s.tb.apply(v));
            // One-hot over the operand with fewer values.
            let y = if a.hi - a.lo <= b.hi - b.lo {
                self.monotone2(&role, &f, a, b)?
            } else {
                self.monotone2(&role, &|u, v| f(v, u), b, a)?
            };
            ys.push(y);
        }
        Ok(ys)
    }

    fn concat(&mut self, parts: &[&Vec<Val>]) -> Res<Vec<Val>> {
        Ok(parts.iter().flat_map(|p| p.iter().cloned()).collect())
    }
}

impl Enc<'_> {
    /// Exact encoding of `y = f(a, b)` for `f` non-decreasing in both arguments (an Add):
    /// a one-hot `δ_u` over the values `u` of `a`, and per output level `v` a binary
    /// `z_v = [b ≥ B_v]` with `B_v = Σ_u β_v(u)·δ_u`, `β_v(u)` the least `b` with `f(u, b) ≥ v`
    /// (`b_hi + 1` if none); `y = y_lo + Σ z_v`. Every coefficient is an operand value, so the
    /// rows stay well conditioned whatever the runtime's internal grid.
    fn monotone2(&mut self, role: &str, f: &dyn Fn(i64, i64) -> i64, a: &Val, b: &Val) -> Res<Val> {
        let (y_lo, y_hi) = (f(a.lo, b.lo), f(a.hi, b.hi));
        if y_lo == y_hi {
            return Ok(Val { lin: Lin::constant(i128::from(y_lo)), lo: y_lo, hi: y_lo });
        }
        if y_hi - y_lo > MAX_STEP_LEVELS || a.hi - a.lo > MAX_STEP_LEVELS {
            return Err(EncodeError::Unsupported(format!(
                "sum `{role}` over {} operand values and {} output levels (limit {MAX_STEP_LEVELS})",
                a.hi - a.lo + 1,
                y_hi - y_lo
            )));
        }
        self.count("sum_neurons", 1);
        // δ_u for u in a's range (no variable when a is fixed).
        let mut onehot: Vec<(i64, Option<usize>)> = Vec::new();
        if a.lo == a.hi {
            onehot.push((a.lo, None));
        } else {
            let (mut one, mut val) = (Lin::default(), Lin::default());
            for u in a.lo..=a.hi {
                let d = self.bin_var(&format!("{role}_at"), "sum_binaries");
                one.terms.push((d, 1));
                val.terms.push((d, i128::from(u)));
                onehot.push((u, Some(d)));
            }
            self.int_eq(role, &one, 1)?;
            val.add_scaled(&a.lin, -1);
            self.int_eq(role, &val, 0)?;
        }
        let y = self.int_var(&format!("{role}_y"), i128::from(y_lo), i128::from(y_hi));
        let mut sum = y.plus(0);
        let mut prev: Option<usize> = None;
        for v in y_lo + 1..=y_hi {
            // B_v over the one-hot, and its range.
            let mut bv = Lin::default();
            let (mut bmin, mut bmax) = (i128::MAX, i128::MIN);
            for &(u, d) in &onehot {
                let beta = i128::from(crate::net::form::least_reaching(b.lo, b.hi, v, |m| f(u, m)));
                (bmin, bmax) = (bmin.min(beta), bmax.max(beta));
                match d {
                    Some(d) => bv.terms.push((d, beta)),
                    None => bv.c += beta,
                }
            }
            let z = self.bin_var(&format!("{role}_z"), "sum_binaries");
            let mut diff = b.lin.clone();
            diff.add_scaled(&bv, -1);
            // z = 1 ⇒ b ≥ B_v;  z = 0 ⇒ b ≤ B_v − 1.
            let m1 = bmax - i128::from(b.lo);
            let mut ge = diff.clone();
            ge.terms.push((z, -m1));
            self.int_row(role, &ge, Sense::Ge, -m1)?;
            let m2 = i128::from(b.hi) - bmin + 1;
            let mut le = diff;
            le.terms.push((z, -m2));
            self.int_row(role, &le, Sense::Le, -1)?;
            if let Some(p) = prev {
                self.int_row(role, &Lin { terms: vec![(p, 1), (z, -1)], c: 0 }, Sense::Ge, 0)?;
            }
            prev = Some(z);
            sum.terms.push((z, -1));
        }
        self.int_eq(role, &sum, i128::from(y_lo))?;
        Ok(Val { lin: y, lo: y_lo, hi: y_hi })
    }
    /// `y = max(taps)`: candidates are the taps that can reach the largest lower bound.
    fn max(&mut self, role: &str, taps: &[&Val], ob: Interval) -> Res<Val> {
        let floor = taps.iter().map(|v| v.lo).max().unwrap_or(i64::MIN);
        let cands: Vec<&Val> = taps.iter().copied().filter(|v| v.hi >= floor).collect();
        let top = cands.iter().map(|v| v.hi).max().unwrap_or(floor);
        if let [only] = cands.as_slice() {
            return Ok((*only).clone());
        }
        if floor == top {
            return Ok(Val { lin: Lin::constant(i128::from(top)), lo: top, hi: top });
        }
        let (lo, hi) = (floor.max(ob.lo), top.min(ob.hi));
        let y = self.int_var(&format!("{role}_max"), i128::from(lo), i128::from(hi));
        let mut pick = Lin::default();
        for v in &cands {
            let d = self.bin_var(&format!("{role}_arg"), "pool_binaries");
            // y ≥ x; y ≤ x + (top − x_lo)·(1 − d).
            let mut diff = y.clone();
            diff.add_scaled(&v.lin, -1);
            self.int_row(role, &diff, Sense::Ge, 0)?;
            let span = i128::from(top - v.lo);
            let mut le = diff.clone();
            le.terms.push((d, span));
            self.int_row(role, &le, Sense::Le, span)?;
            pick.terms.push((d, 1));
        }
        self.int_eq(role, &pick, 1)?;
        Ok(Val { lin: y, lo, hi })
    }

    /// The unsafe DNF: one indicator per live disjunct (none for a single one).
    fn dnf(&mut self, query: &Query<'_>, y: &[Val]) -> Res<()> {
        let mut live: Vec<Vec<(Lin, i128, i128)>> = Vec::new();
        'disj: for conj in &query.spec.unsafe_dnf {
            let mut atoms = Vec::new();
            for a in conj {
                let mut lhs = Lin::default();
                let (mut lo, mut hi) = (0i128, 0i128);
                for &(j, c) in &a.terms {
                    let v = y.get(j).ok_or_else(|| EncodeError::Bounds(format!("spec output index {j}")))?;
                    let c = i128::from(c);
                    lhs.add_scaled(&v.lin, c);
                    let (p, q) = (c * i128::from(v.lo), c * i128::from(v.hi));
                    lo += p.min(q);
                    hi += p.max(q);
                }
                let rhs = i128::from(a.rhs);
                if lo > rhs {
                    continue 'disj; // never holds
                }
                if hi > rhs {
                    atoms.push((lhs, rhs, hi));
                }
            }
            live.push(atoms);
        }
        self.count("live_disjuncts", live.len());
        match live.len() {
            0 => {
                // Nothing reachable: an explicitly infeasible model.
                let b = self.m.var("dnf_empty", VarKind::Binary, 0.0, 0.0);
                self.int_row("dnf_empty", &Lin::var(b), Sense::Ge, 1)?;
            }
            1 => {
                let mut goal = Lin::default();
                for (lhs, rhs, _) in &live[0] {
                    self.int_row("unsafe", lhs, Sense::Le, *rhs)?;
                    goal.add_scaled(lhs, 1);
                }
                if self.opts.guide {
                    // Steer towards the most violating points: on the AAAI'21 network this makes
                    // HiGHS find counterexamples it otherwise misses for minutes and prove most
                    // hard disjuncts faster (`encodings/milp.md`). Feasibility is unchanged.
                    let mut merged: BTreeMap<usize, i128> = BTreeMap::new();
                    for &(v, c) in &goal.terms {
                        *merged.entry(v).or_insert(0) += c;
                    }
                    self.m.objective = merged.into_iter().filter(|t| t.1 != 0).map(|(v, c)| (v, f(c))).collect();
                }
            }
            _ => {
                let mut any = Lin::default();
                for atoms in &live {
                    let b = self.bin_var("dnf", "dnf_binaries");
                    any.terms.push((b, 1));
                    for (lhs, rhs, hi) in atoms {
                        // lhs ≤ rhs + (hi − rhs)·(1 − b).
                        let mut l = lhs.clone();
                        l.terms.push((b, hi - rhs));
                        self.int_row("unsafe", &l, Sense::Le, *hi)?;
                    }
                }
                self.int_row("dnf_any", &any, Sense::Ge, 1)?;
            }
        }
        Ok(())
    }
}
