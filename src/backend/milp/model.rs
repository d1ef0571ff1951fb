//! A small solver-independent MILP model: what the encoder builds, what HiGHS receives and what
//! the LP/MPS writers print. Keeping one model object is what makes the exports "exactly the model
//! the backend solves".
//!
//! Rows are one-sided (`≤` or `≥`) so that every file format represents them the same way; an
//! equality the encoder needs is written as two rows. The model is a feasibility problem; the
//! objective (minimised, usually empty) only steers the solver's search and never changes which
//! points are feasible.

/// Variable domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    Continuous,
    Integer,
    Binary,
}

/// A variable with finite bounds (every variable of the encoding is bounded).
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    /// Unique name, valid in LP and MPS files (letters, digits and `_`).
    pub name: String,
    pub kind: VarKind,
    pub lb: f64,
    pub ub: f64,
}

/// Sense of a one-sided row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sense {
    Le,
    Ge,
}

/// `Σ coef·x  (≤ | ≥)  rhs`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: String,
    pub terms: Vec<(usize, f64)>,
    pub sense: Sense,
    pub rhs: f64,
}

/// A feasibility MILP, with an optional guiding objective.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MilpModel {
    pub vars: Vec<Var>,
    pub rows: Vec<Row>,
    /// Linear objective to minimise (`(variable, coefficient)`, each variable at most once).
    pub objective: Vec<(usize, f64)>,
}

impl MilpModel {
    /// Add a variable; its name gets the index appended, which keeps names unique.
    pub fn var(&mut self, role: &str, kind: VarKind, lb: f64, ub: f64) -> usize {
        let i = self.vars.len();
        let (lb, ub) = if kind == VarKind::Binary { (lb.max(0.0), ub.min(1.0)) } else { (lb, ub) };
        self.vars.push(Var { name: format!("{role}_{i}"), kind, lb, ub });
        i
    }

    /// Add a row; terms with a zero coefficient are dropped and repeated variables merged.
    pub fn row(&mut self, role: &str, terms: Vec<(usize, f64)>, sense: Sense, rhs: f64) {
        let mut merged: Vec<(usize, f64)> = Vec::with_capacity(terms.len());
        let mut sorted = terms;
        sorted.sort_by_key(|t| t.0);
        for (v, c) in sorted {
            match merged.last_mut() {
                Some(last) if last.0 == v => last.1 += c,
                _ => merged.push((v, c)),
            }
        }
        merged.retain(|t| t.1 != 0.0);
        let i = self.rows.len();
        self.rows.push(Row { name: format!("{role}_{i}"), terms: merged, sense, rhs });
    }

    pub fn binaries(&self) -> usize {
        self.vars.iter().filter(|v| v.kind == VarKind::Binary).count()
    }

    /// Is `x` feasible within `tol` (bounds, rows, integrality)? For tests and diagnostics.
    pub fn is_feasible(&self, x: &[f64], tol: f64) -> bool {
        if x.len() != self.vars.len() {
            return false;
        }
        let vars_ok = self.vars.iter().zip(x).all(|(v, &xv)| {
            xv >= v.lb - tol && xv <= v.ub + tol && (v.kind == VarKind::Continuous || (xv - xv.round()).abs() <= tol)
        });
        vars_ok
            && self.rows.iter().all(|r| {
                let act: f64 = r.terms.iter().map(|&(v, c)| c * x[v]).sum();
                match r.sense {
                    Sense::Le => act <= r.rhs + tol,
                    Sense::Ge => act >= r.rhs - tol,
                }
            })
    }
}
