//! Reading input vectors from files.

use anyhow::{bail, Context, Result};
use quiver::net::Network;
use quiver::spec::real::quantize_input;
use std::path::Path;

/// Numbers in a file: a JSON array (possibly nested), or tokens separated by whitespace/commas.
fn numbers(text: &str, path: &Path) -> Result<Vec<f64>> {
    let t = text.trim_start();
    if t.starts_with('[') {
        let v: serde_json::Value =
            serde_json::from_str(text).with_context(|| format!("{}: invalid JSON array", path.display()))?;
        let mut out = Vec::new();
        flatten(&v, &mut out).with_context(|| format!("{}: expected an array of numbers", path.display()))?;
        return Ok(out);
    }
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, tok)| {
            tok.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| format!("{}: value {} (`{tok}`) is not a number", path.display(), i + 1))
        })
        .collect()
}

fn flatten(v: &serde_json::Value, out: &mut Vec<f64>) -> Result<()> {
    match v {
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out)),
        serde_json::Value::Number(n) => {
            out.push(n.as_f64().context("number out of range")?);
            Ok(())
        }
        other => bail!("found {other} where a number was expected"),
    }
}

/// Read the quantized input of `net` from `path`; with `real`, quantize real values first.
pub fn read(net: &Network, path: &Path, real: bool) -> Result<Vec<i64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let vals = numbers(&text, path)?;
    let n = net.input_len();
    if vals.len() != n {
        bail!(
            "{}: {} values, but the model takes {} inputs (shape {:?})",
            path.display(),
            vals.len(),
            n,
            net.input().shape
        );
    }
    if real {
        return Ok(vals.iter().map(|&v| quantize_input(net.input(), v as f32)).collect());
    }
    let t = net.input().dtype;
    vals.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.fract() != 0.0 || !t.contains(v as i64) {
                bail!(
                    "{}: value {} = {v} is not a {t} integer in [{}, {}] (use --real for real-valued inputs)",
                    path.display(),
                    i + 1,
                    t.min(),
                    t.max()
                );
            }
            Ok(v as i64)
        })
        .collect()
}
