//! The exact MILP model ([`MilpModel`]) as a CP-SAT model, with integer arithmetic only.
//!
//! The MILP encoder already writes an exact integer model when nothing is relaxed and every
//! `Float32` band neuron uses the step encoding: integer or binary variables with finite bounds,
//! rows with integer coefficients. This translation checks that instead of assuming it — any
//! continuous variable, fractional coefficient, or magnitude CP-SAT could overflow on is a typed
//! refusal, never a rounding — and rounds only right-hand sides, which is exact for integer rows
//! (`Σ c·x ≤ r` ⟺ `Σ c·x ≤ ⌊r⌋`).

use super::proto::{ConstraintProto, CpModelProto, IntegerVariableProto, LinearConstraintProto};
use crate::backend::milp::model::{MilpModel, Sense, VarKind};

/// Largest magnitude of a bound, coefficient or row activity passed to CP-SAT (it rejects
/// models whose linear expressions could overflow `i64`; staying below `2^62` keeps a margin).
const LIMIT: i128 = 1 << 62;

/// Why a model has no exact CP-SAT form, or needs none.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Translate {
    #[error("variable `{0}` is continuous (CP-SAT models integers only)")]
    Continuous(String),
    #[error("row `{row}` has the non-integer coefficient {coef}")]
    NonInteger { row: String, coef: f64 },
    #[error("`{0}`: a bound, coefficient or activity beyond 2^62")]
    Overflow(String),
    /// Some variable has no integer in its bounds, or some row cannot hold for any values in the
    /// bounds: the model is infeasible as it stands (named by the culprit).
    #[error("`{0}` cannot be satisfied within the variables' bounds")]
    Infeasible(String),
}

fn int(x: f64, what: &str) -> Result<i128, Translate> {
    if !x.is_finite() || x.abs() >= LIMIT as f64 {
        return Err(Translate::Overflow(what.to_string()));
    }
    Ok(x as i128)
}

/// Translate `m`; the CP-SAT variable `i` is the model's variable `i`.
pub fn to_cp_model(m: &MilpModel) -> Result<CpModelProto, Translate> {
    let mut bounds = Vec::with_capacity(m.vars.len());
    let mut variables = Vec::with_capacity(m.vars.len());
    for v in &m.vars {
        if v.kind == VarKind::Continuous {
            return Err(Translate::Continuous(v.name.clone()));
        }
        let (lo, hi) = (int(v.lb.ceil(), &v.name)?, int(v.ub.floor(), &v.name)?);
        if lo > hi {
            return Err(Translate::Infeasible(v.name.clone()));
        }
        bounds.push((lo, hi));
        variables.push(IntegerVariableProto { name: v.name.clone(), domain: vec![lo as i64, hi as i64] });
    }
    let mut constraints = Vec::with_capacity(m.rows.len());
    for r in &m.rows {
        let (mut act_lo, mut act_hi, mut magnitude) = (0i128, 0i128, 0i128);
        let mut vars = Vec::with_capacity(r.terms.len());
        let mut coeffs = Vec::with_capacity(r.terms.len());
        for &(v, c) in &r.terms {
            if c.fract() != 0.0 {
                return Err(Translate::NonInteger { row: r.name.clone(), coef: c });
            }
            let c = int(c, &r.name)?;
            let (lo, hi) = bounds[v];
            act_lo += (c * lo).min(c * hi);
            act_hi += (c * lo).max(c * hi);
            magnitude += c.abs() * lo.abs().max(hi.abs());
            if magnitude >= LIMIT {
                return Err(Translate::Overflow(r.name.clone()));
            }
            vars.push(i32::try_from(v).map_err(|_| Translate::Overflow(r.name.clone()))?);
            coeffs.push(c as i64);
        }
        // The row as `act ∈ [lo, hi]`, intersected with what the bounds allow.
        let (lo, hi) = match r.sense {
            Sense::Le => (act_lo, act_hi.min(int(r.rhs.floor(), &r.name)?)),
            Sense::Ge => (act_lo.max(int(r.rhs.ceil(), &r.name)?), act_hi),
        };
        if lo > hi {
            return Err(Translate::Infeasible(r.name.clone()));
        }
        if lo <= act_lo && hi >= act_hi {
            continue; // implied by the bounds
        }
        constraints.push(ConstraintProto {
            name: r.name.clone(),
            linear: Some(LinearConstraintProto { vars, coeffs, domain: vec![lo as i64, hi as i64] }),
        });
    }
    Ok(CpModelProto { name: "quiver".into(), variables, constraints })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::milp::model::MilpModel;

    #[test]
    fn rows_become_integer_domains_and_implied_rows_are_dropped() {
        let mut m = MilpModel::default();
        let x = m.var("x", VarKind::Integer, -3.0, 5.0);
        let b = m.var("b", VarKind::Binary, 0.0, 1.0);
        m.row("r", vec![(x, 2.0), (b, -4.0)], Sense::Le, 3.5);
        m.row("implied", vec![(x, 1.0)], Sense::Ge, -10.0);
        let p = to_cp_model(&m).unwrap();
        assert_eq!(p.variables[0].domain, vec![-3, 5]);
        assert_eq!(p.variables[1].domain, vec![0, 1]);
        assert_eq!(p.constraints.len(), 1);
        let lin = p.constraints[0].linear.as_ref().unwrap();
        assert_eq!((lin.vars.clone(), lin.coeffs.clone()), (vec![0, 1], vec![2, -4]));
        // 2x − 4b ∈ [−10, 10] by the bounds; ≤ 3.5 becomes ≤ 3.
        assert_eq!(lin.domain, vec![-10, 3]);
    }

    #[test]
    fn inexact_models_are_refused_by_name() {
        let mut m = MilpModel::default();
        let x = m.var("x", VarKind::Integer, 0.0, 5.0);
        m.row("band", vec![(x, 0.5)], Sense::Le, 1.0);
        assert!(matches!(to_cp_model(&m), Err(Translate::NonInteger { .. })));
        let mut m = MilpModel::default();
        m.var("y", VarKind::Continuous, 0.0, 1.0);
        assert_eq!(to_cp_model(&m), Err(Translate::Continuous("y_0".into())));
        let mut m = MilpModel::default();
        let x = m.var("x", VarKind::Integer, 0.0, 5.0);
        m.row("never", vec![(x, 1.0)], Sense::Ge, 6.0);
        assert_eq!(to_cp_model(&m), Err(Translate::Infeasible("never_0".into())));
        let mut m = MilpModel::default();
        m.var("z", VarKind::Integer, 0.2, 0.8);
        assert_eq!(to_cp_model(&m), Err(Translate::Infeasible("z_0".into())));
    }
}
