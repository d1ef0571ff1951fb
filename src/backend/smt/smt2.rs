//! SMT-LIB2 export of exactly the query the Z3 backend solves (the same body text).

use super::encode::{encode, EncodeError, Encoded};
use super::Logic;
use crate::backend::Query;
use std::fmt::Write as _;

/// Wrap an encoded body into a complete SMT-LIB2 script: `sat` means a counterexample exists
/// (its inputs are the `get-value` of `x_i`), `unsat` means the property holds.
pub fn script(query: &Query<'_>, enc: &Encoded) -> String {
    let mut s = String::with_capacity(enc.body.len() + 512);
    let _ = writeln!(s, "; quiver SMT-LIB2 export ({})", enc.logic_name());
    let _ = writeln!(s, "; model: {}; spec: {}", query.net.name(), query.spec.description.replace('\n', " "));
    let _ = writeln!(s, "; sat = a counterexample exists (inputs: x_i), unsat = verified");
    if !enc.exact {
        let _ = writeln!(s, "; NOTE: float32 rescales are over-approximated by a sound band: sat is only a candidate");
    }
    let _ = writeln!(s, "(set-option :produce-models true)");
    let _ = writeln!(s, "(set-logic {})", enc.logic_name());
    s.push_str(&enc.body);
    let _ = writeln!(s, "(check-sat)");
    if !enc.inputs.is_empty() {
        let names: Vec<&str> = enc.inputs.iter().map(|(n, _)| n.as_str()).collect();
        let _ = writeln!(s, "(get-value ({}))", names.join(" "));
    }
    let _ = writeln!(s, "(exit)");
    s
}

/// The SMT-LIB2 text of `query` in `logic` (what `quiver encode --format smt2` writes).
pub fn export_smt2(query: &Query<'_>, logic: Logic) -> Result<String, EncodeError> {
    let enc = encode(query.net, query.spec, query.bounds, logic)?;
    Ok(script(query, &enc))
}
