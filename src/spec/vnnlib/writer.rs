//! The VNN-LIB writer: a [`Spec`] over the integer inputs and outputs of the quantized network.

use crate::spec::{Atom, Spec};
use std::fmt::Write as _;

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
/// quantized network (read it back with [`crate::spec::real::Domain::Integer`]). Declares
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
    use crate::spec::vnnlib::parse;

    #[test]
    fn writer_shape() {
        let spec = Spec {
            input: crate::spec::InputBox { lo: vec![-3], hi: vec![4] },
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
