//! L∞ local robustness as a [`Spec`]: an integer ball around an input, and "some other class
//! wins" as the unsafe condition, with an explicit tie rule.

use super::{Atom, InputBox, RealBox, Spec, SpecError};
use crate::net::Network;
use serde::{Deserialize, Serialize};

/// When does a tie between the label's output and another output count as a violation?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TieRule {
    /// Any other output `>=` the label's is unsafe (conservative; quiver's default).
    #[default]
    AnyTieUnsafe,
    /// `argmax` with first-index tie-break (the AAAI'21/QVIP benchmarks): output `j < label` wins
    /// on a tie, output `j > label` must be strictly larger.
    FirstIndex,
}

impl std::str::FromStr for TieRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "any" | "any-tie-unsafe" => Ok(TieRule::AnyTieUnsafe),
            "first-index" | "first" => Ok(TieRule::FirstIndex),
            _ => Err(format!("unknown tie rule `{s}` (expected `any` or `first-index`)")),
        }
    }
}

/// The radius of the ball.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Radius {
    /// `|q − q₀| ≤ ε` on the quantized input grid.
    Integer(i64),
    /// `|x − x₀| ≤ ε` on real inputs around the dequantized center, mapped through the input
    /// quantization (monotone, so the integer box is exact).
    Real(f64),
}

/// The unsafe condition "some output other than `label` beats it" under `tie`.
pub fn not_label_dnf(outputs: usize, label: usize, tie: TieRule) -> Vec<Vec<Atom>> {
    (0..outputs)
        .filter(|&j| j != label)
        .map(|j| {
            // y_label − y_j ≤ 0 (j wins or ties), or ≤ −1 (j strictly larger).
            let strict = tie == TieRule::FirstIndex && j > label;
            vec![Atom { terms: vec![(label, 1), (j, -1)], rhs: if strict { -1 } else { 0 } }]
        })
        .collect()
}

/// L∞ robustness of `net` around the integer input `center` for class `label`.
pub fn robustness(
    net: &Network,
    center: &[i64],
    radius: Radius,
    label: usize,
    tie: TieRule,
) -> Result<Spec, SpecError> {
    let outputs = net.output_len();
    let (input, what) = ball(net, center, radius)?;
    if label >= outputs {
        return Err(SpecError::Label { label, outputs });
    }
    Ok(Spec {
        input,
        unsafe_dnf: not_label_dnf(outputs, label, tie),
        description: format!("L∞ robustness of class {label}, {what}, ties: {tie:?}"),
    })
}

/// The integer box of the L∞ ball of `radius` around the integer input `center` of `net`
/// (clipped to the input type; a real radius is mapped through the input quantization, which
/// is monotone, so the box is exact), and a description of the radius (`ε = 2 (integer)`).
pub fn ball(net: &Network, center: &[i64], radius: Radius) -> Result<(InputBox, String), SpecError> {
    let n = net.input_len();
    if center.len() != n {
        return Err(SpecError::InputLength { got: center.len(), expected: n });
    }
    let input = net.input();
    let t = input.dtype;
    if let Some((index, &v)) = center.iter().enumerate().find(|(_, v)| !t.contains(**v)) {
        return Err(SpecError::BoxRange { index, lo: v, hi: v, dtype: t.to_string() });
    }
    let (lo, hi, what): (Vec<i64>, Vec<i64>, String) = match radius {
        Radius::Integer(eps) => {
            if eps < 0 {
                return Err(SpecError::NegativeEps(eps.to_string()));
            }
            (
                center.iter().map(|&c| c.saturating_sub(eps).max(t.min())).collect(),
                center.iter().map(|&c| c.saturating_add(eps).min(t.max())).collect(),
                format!("ε = {eps} (integer)"),
            )
        }
        Radius::Real(eps) => {
            if !(eps >= 0.0 && eps.is_finite()) {
                return Err(SpecError::NegativeEps(eps.to_string()));
            }
            let q = |x: f64| super::real::quantize_input(input, x as f32);
            let center_real = |c: i64| input.scale * (c - input.zero_point) as f64;
            (
                center.iter().map(|&c| q(center_real(c) - eps).min(c)).collect(),
                center.iter().map(|&c| q(center_real(c) + eps).max(c)).collect(),
                format!("ε = {eps} (real)"),
            )
        }
    };
    Ok((InputBox { lo, hi }, what))
}

/// The real ball `[x₀ − ε, x₀ + ε]` around the dequantized `center` for a real radius (the
/// statement [`robustness`] maps to its integer box); `None` for an integer radius.
pub fn real_ball(net: &Network, center: &[i64], radius: Radius) -> Option<RealBox> {
    let Radius::Real(eps) = radius else { return None };
    let input = net.input();
    let real = |c: i64| input.scale * (c - input.zero_point) as f64;
    Some(RealBox {
        lo: center.iter().map(|&c| Some(real(c) - eps)).collect(),
        hi: center.iter().map(|&c| Some(real(c) + eps)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tie_rules() {
        let any = not_label_dnf(3, 1, TieRule::AnyTieUnsafe);
        let first = not_label_dnf(3, 1, TieRule::FirstIndex);
        let spec =
            |dnf| Spec { input: InputBox { lo: vec![], hi: vec![] }, unsafe_dnf: dnf, description: String::new() };
        // A tie with a later output: unsafe under any-tie, safe under first-index argmax.
        assert!(spec(any.clone()).is_unsafe(&[0, 5, 5]));
        assert!(!spec(first.clone()).is_unsafe(&[0, 5, 5]));
        // A tie with an earlier output wins under first-index too.
        assert!(spec(first).is_unsafe(&[5, 5, 0]));
        assert!(!spec(any).is_unsafe(&[4, 5, 0]));
    }
}
