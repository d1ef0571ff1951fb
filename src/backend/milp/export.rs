//! LP (CPLEX format) and free-MPS writers for exactly the model the backend solves first (before
//! any refinement round), so that other MILP solvers can be compared on identical encodings.
//!
//! The model is a feasibility problem: feasible ⟺ some input of the box reaches the unsafe
//! condition (for `Float32` band neurons, feasible may also be spurious; see `encodings/milp.md`).

use super::encode::{encode, EncodeError, EncodeOptions, Encoding};
use super::model::{MilpModel, Sense, VarKind};
use crate::backend::Query;
use std::fmt::Write;

/// A number as LP/MPS text: integers without a fraction, others in Rust's shortest round-trip
/// form (so the file carries the same doubles the backend passes to HiGHS).
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

fn header(enc: &Encoding, query: &Query<'_>, comment: &str) -> String {
    let mut s = String::new();
    let m = &enc.model;
    let _ =
        writeln!(s, "{comment} quiver MILP encoding (feasibility problem: feasible iff a counterexample may exist)");
    let _ = writeln!(s, "{comment} model: {}; spec: {}", query.net.name(), query.spec.description.replace('\n', " "));
    let _ = writeln!(s, "{comment} {} variables ({} binary), {} constraints", m.vars.len(), m.binaries(), m.rows.len());
    let _ = writeln!(
        s,
        "{comment} network inputs, in order: {}",
        enc.inputs.iter().map(|&v| m.vars[v].name.as_str()).collect::<Vec<_>>().join(" ")
    );
    if !enc.bands.is_empty() {
        let _ = writeln!(
            s,
            "{comment} {} float32 neurons are encoded by a sound band: a solution is a candidate to replay",
            enc.bands.len()
        );
    }
    s
}

/// Write a model in CPLEX LP format.
pub fn write_lp(m: &MilpModel, header: &str) -> String {
    let mut s = String::from(header);
    s.push_str("minimize\n obj:");
    match (m.objective.is_empty(), m.vars.first()) {
        (false, _) => {
            for &(v, c) in &m.objective {
                let _ = write!(s, " {} {} {}", if c < 0.0 { '-' } else { '+' }, num(c.abs()), m.vars[v].name);
            }
            s.push('\n');
        }
        (true, Some(v)) => {
            let _ = writeln!(s, " 0 {}", v.name);
        }
        (true, None) => s.push('\n'),
    }
    s.push_str("subject to\n");
    for r in &m.rows {
        let _ = write!(s, " {}:", r.name);
        if r.terms.is_empty() {
            if let Some(v) = m.vars.first() {
                let _ = write!(s, " 0 {}", v.name);
            }
        }
        for (k, &(v, c)) in r.terms.iter().enumerate() {
            if k > 0 && k % 8 == 0 {
                s.push_str("\n  ");
            }
            let sign = if c < 0.0 { '-' } else { '+' };
            let _ = write!(s, " {sign} {} {}", num(c.abs()), m.vars[v].name);
        }
        let op = match r.sense {
            Sense::Le => "<=",
            Sense::Ge => ">=",
        };
        let _ = writeln!(s, " {op} {}", num(r.rhs));
    }
    s.push_str("bounds\n");
    for v in &m.vars {
        if v.lb == v.ub {
            let _ = writeln!(s, " {} = {}", v.name, num(v.lb));
        } else {
            let _ = writeln!(s, " {} <= {} <= {}", num(v.lb), v.name, num(v.ub));
        }
    }
    let is_bin = |v: &&super::model::Var| v.kind == VarKind::Binary && v.lb == 0.0 && v.ub == 1.0;
    let general: Vec<&str> =
        m.vars.iter().filter(|v| v.kind != VarKind::Continuous && !is_bin(v)).map(|v| v.name.as_str()).collect();
    let binary: Vec<&str> = m.vars.iter().filter(is_bin).map(|v| v.name.as_str()).collect();
    for (title, list) in [("general", general), ("binary", binary)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "{title}");
        for chunk in list.chunks(10) {
            let _ = writeln!(s, " {}", chunk.join(" "));
        }
    }
    s.push_str("end\n");
    s
}

/// Write a model in free MPS format (every bound explicit, integers between markers).
pub fn write_mps(m: &MilpModel, header: &str) -> String {
    let mut s = String::from(header);
    s.push_str("NAME quiver\nROWS\n N obj\n");
    for r in &m.rows {
        let t = match r.sense {
            Sense::Le => 'L',
            Sense::Ge => 'G',
        };
        let _ = writeln!(s, " {t} {}", r.name);
    }
    let mut cols: Vec<Vec<(usize, f64)>> = vec![Vec::new(); m.vars.len()];
    for (ri, r) in m.rows.iter().enumerate() {
        for &(v, c) in &r.terms {
            cols[v].push((ri, c));
        }
    }
    s.push_str("COLUMNS\n");
    let mut in_int = false;
    for (vi, v) in m.vars.iter().enumerate() {
        let int = v.kind != VarKind::Continuous;
        if int != in_int {
            let _ = writeln!(s, "    MARKER 'MARKER' '{}'", if int { "INTORG" } else { "INTEND" });
            in_int = int;
        }
        let cost = m.objective.iter().find(|t| t.0 == vi).map_or(0.0, |t| t.1);
        let _ = writeln!(s, "    {} obj {}", v.name, num(cost));
        for &(ri, c) in &cols[vi] {
            let _ = writeln!(s, "    {} {} {}", v.name, m.rows[ri].name, num(c));
        }
    }
    if in_int {
        s.push_str("    MARKER 'MARKER' 'INTEND'\n");
    }
    s.push_str("RHS\n");
    for r in &m.rows {
        if r.rhs != 0.0 {
            let _ = writeln!(s, "    rhs {} {}", r.name, num(r.rhs));
        }
    }
    s.push_str("BOUNDS\n");
    for v in &m.vars {
        if v.lb == v.ub {
            let _ = writeln!(s, " FX bnd {} {}", v.name, num(v.lb));
        } else {
            let _ = writeln!(s, " LO bnd {} {}", v.name, num(v.lb));
            let _ = writeln!(s, " UP bnd {} {}", v.name, num(v.ub));
        }
    }
    s.push_str("ENDATA\n");
    s
}

/// The query's MILP in CPLEX LP format: the model [`super::Milp`] hands to HiGHS first.
pub fn export_lp(query: &Query<'_>) -> Result<String, EncodeError> {
    let enc = encode(query, &EncodeOptions::default())?;
    Ok(write_lp(&enc.model, &header(&enc, query, "\\")))
}

/// The query's MILP in free MPS format: the model [`super::Milp`] hands to HiGHS first.
pub fn export_mps(query: &Query<'_>) -> Result<String, EncodeError> {
    let enc = encode(query, &EncodeOptions::default())?;
    Ok(write_mps(&enc.model, &header(&enc, query, "*")))
}
