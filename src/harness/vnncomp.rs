//! VNN-COMP result files and result tables.
//!
//! A result file's first line is one of `sat` (a counterexample: the property's "unsafe"
//! assertions are satisfiable), `unsat` (verified), `timeout`, `unknown` or `error`. A `sat`
//! file continues with the counterexample as the competition's scorer reads it: one
//! parenthesized list of `(X_i value)` for every input, then `(Y_j value)` for every output, each
//! entry `(NAME VALUE)` with exactly one space, values as decimal numbers.
//! The scorer's results table has the columns
//! `category,onnx,vnnlib,prepare_seconds,result,run_seconds` (no header).

use crate::query::Loaded;
use crate::verdict::Verdict;
use crate::verify::Report;

/// The result word for a verdict; `limit` is the resource limit that ended an undecided run.
pub fn result_word(verdict: &str, limit: Option<&str>) -> &'static str {
    match (verdict, limit) {
        ("verified", _) => "unsat",
        ("falsified", _) => "sat",
        ("unknown", Some("time")) => "timeout",
        ("unknown", _) => "unknown",
        _ => "error",
    }
}

/// A decimal that Python's `float()` (the scorer) parses and that round-trips the f64.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:?}")
    } else {
        "0.0".into()
    }
}

/// The counterexample block for inputs `x` and outputs `y`.
pub fn counterexample(x: &[f64], y: &[f64]) -> String {
    let mut s = String::from("(");
    let entries = x.iter().enumerate().map(|(i, v)| format!("(X_{i} {})", num(*v)));
    let entries: Vec<String> =
        entries.chain(y.iter().enumerate().map(|(j, v)| format!("(Y_{j} {})", num(*v)))).collect();
    s.push_str(&entries.join("\n "));
    s.push_str(")\n");
    s
}

/// The full result file: the result word, then the counterexample of a `sat` result.
pub fn result_file(verdict: &str, limit: Option<&str>, witness: Option<(&[f64], &[f64])>) -> String {
    let word = result_word(verdict, limit);
    let mut s = format!("{word}\n");
    if let (Some((x, y)), "sat") = (witness, word) {
        s.push_str(&counterexample(x, y));
    }
    s
}

/// The result file of one `quiver verify` run: `None` when the run failed before deciding
/// anything (an unsupported model, an unreadable property: `error`). A `sat` file's inputs are
/// the witness in the property's own terms ([`Loaded::witness_input`]: inside the VNN-LIB box,
/// quantizing to the replayed integer input), its outputs the dequantized outputs.
pub fn result_of(run: Option<(&Report, &Loaded)>) -> String {
    let Some((r, loaded)) = run else { return result_file("error", None, None) };
    let limit = r.verdict.timed_out().then_some("time");
    let name = if r.disagreement.is_some() { "error" } else { r.verdict.name() };
    match &r.verdict {
        Verdict::Falsified { witness } => {
            result_file(name, limit, Some((&loaded.witness_input(witness), witness.output_real())))
        }
        _ => result_file(name, limit, None),
    }
}

/// One row of the scorer's results table.
pub fn csv_row(category: &str, onnx: &str, vnnlib: &str, result: &str, seconds: f64) -> String {
    format!("{category},{onnx},{vnnlib},0,{result},{seconds:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_words_and_counterexample_layout() {
        assert_eq!(result_file("verified", None, None), "unsat\n");
        assert_eq!(result_file("unknown", Some("time"), None), "timeout\n");
        assert_eq!(result_file("unknown", Some("memory"), None), "unknown\n");
        assert_eq!(result_file("error", None, None), "error\n");
        let f = result_file("falsified", None, Some((&[0.5, 1.0], &[-2.25])));
        assert_eq!(f, "sat\n((X_0 0.5)\n (X_1 1.0)\n (Y_0 -2.25))\n");
        // No witness block for other verdicts, even if one is passed.
        assert_eq!(result_file("verified", None, Some((&[0.5], &[1.0]))), "unsat\n");
        assert_eq!(csv_row("cat", "n.onnx", "p.vnnlib", "sat", 1.5), "cat,n.onnx,p.vnnlib,0,sat,1.500000");
    }
}
