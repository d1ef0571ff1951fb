//! Configurations: a name and the `quiver verify` flags it runs with (backend, bounds method,
//! search on/off, time limit, threads, …), given as `NAME=FLAGS` on the command line or in a
//! JSON or TOML file.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// One configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub name: String,
    /// The flags as written (recorded with every result).
    pub flags_text: String,
    /// The flags, split, without `--timeout` (the harness passes the effective time limit).
    pub flags: Vec<String>,
    /// The configuration's own time limit (`--timeout S` in its flags), if any.
    pub timeout_s: Option<f64>,
    /// `--seed N` from its flags, if any.
    pub seed: Option<u64>,
}

/// Flags that define the property, not the procedure: a configuration may not change them.
const PROPERTY_FLAGS: [&str; 13] = [
    "--vnnlib",
    "--robust",
    "--input",
    "--real",
    "--dataset",
    "--index",
    "--eps",
    "--eps-real",
    "--label",
    "--labels",
    "--tie",
    "--domain",
    "--q-bits",
];
/// Flags the harness sets itself.
const HARNESS_FLAGS: [&str; 2] = ["--json", "--vnncomp-result"];

/// Split a flag string on whitespace; single or double quotes group words.
pub fn split_flags(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        bail!("unterminated quote in `{s}`");
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Build a configuration from its name and flag string, validating both.
pub fn new(name: &str, flags_text: &str) -> Result<Config> {
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        bail!("configuration name `{name}` must be non-empty and use only letters, digits, `.`, `-`, `_`");
    }
    let words = split_flags(flags_text).with_context(|| format!("configuration `{name}`"))?;
    let mut flags = Vec::new();
    let (mut timeout_s, mut seed) = (None, None);
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let (key, inline) = match w.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (w.clone(), None),
        };
        if PROPERTY_FLAGS.contains(&key.as_str()) {
            bail!("configuration `{name}`: {key} belongs to the instance (the suite), not to a configuration");
        }
        if HARNESS_FLAGS.contains(&key.as_str()) {
            bail!("configuration `{name}`: {key} is set by the harness");
        }
        if key == "--timeout" || key == "--seed" {
            let v = match inline {
                Some(v) => v,
                None => it.next().with_context(|| format!("configuration `{name}`: {key} needs a value"))?,
            };
            if key == "--timeout" {
                let t: f64 = v.parse().ok().filter(|t: &f64| t.is_finite() && *t > 0.0).with_context(|| {
                    format!("configuration `{name}`: --timeout must be a positive number of seconds, found `{v}`")
                })?;
                timeout_s = Some(t);
            } else {
                seed = Some(
                    v.parse()
                        .with_context(|| format!("configuration `{name}`: --seed must be an integer, found `{v}`"))?,
                );
                flags.extend([key, v]);
            }
            continue;
        }
        flags.push(w);
    }
    Ok(Config { name: name.to_string(), flags_text: flags_text.trim().to_string(), flags, timeout_s, seed })
}

/// Parse `NAME=FLAGS` (FLAGS may be empty: the default pipeline).
pub fn parse_arg(s: &str) -> Result<Config> {
    let (name, flags) = s.split_once('=').with_context(|| format!("--config must be NAME=FLAGS, found `{s}`"))?;
    new(name, flags)
}

/// Load configurations from a file: JSON (`{"NAME": "FLAGS", …}` or `[{"name": …, "flags": …}]`)
/// or TOML-style lines `NAME = "FLAGS"` (an optional `[configs]` table header, `#` comments).
pub fn load_file(path: &Path) -> Result<Vec<Config>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let at = |e: anyhow::Error| e.context(format!("{}", path.display()));
    let t = text.trim_start();
    let out = if t.starts_with('{') || t.starts_with('[') && t[1..].trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))?;
        let mut out = Vec::new();
        match v {
            serde_json::Value::Object(m) => {
                for (k, f) in m {
                    let f =
                        f.as_str().with_context(|| format!("{}: `{k}` must map to a flag string", path.display()))?;
                    out.push(new(&k, f).map_err(at)?);
                }
            }
            serde_json::Value::Array(a) => {
                for e in a {
                    let (Some(n), f) = (e.get("name").and_then(|v| v.as_str()), e.get("flags")) else {
                        bail!("{}: every entry needs \"name\" and \"flags\"", path.display());
                    };
                    let f = f.and_then(|v| v.as_str()).unwrap_or("");
                    out.push(new(n, f).map_err(at)?);
                }
            }
            _ => bail!("{}: expected a JSON object or array", path.display()),
        }
        out
    } else {
        let mut out = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') || l == "[configs]" {
                continue;
            }
            let (k, v) = l
                .split_once('=')
                .with_context(|| format!("{}:{}: expected NAME = \"FLAGS\"", path.display(), i + 1))?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .with_context(|| format!("{}:{}: the flags must be a quoted string", path.display(), i + 1))?;
            out.push(new(k.trim().trim_matches('"'), v).map_err(at)?);
        }
        out
    };
    if out.is_empty() {
        bail!("{}: no configurations", path.display());
    }
    Ok(out)
}

/// Check that names are unique.
pub fn check_unique(configs: &[Config]) -> Result<()> {
    for (i, c) in configs.iter().enumerate() {
        if configs[..i].iter().any(|d| d.name == c.name) {
            bail!("configuration `{}` is given twice", c.name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_split_on_whitespace_with_quotes() {
        assert_eq!(split_flags("  --backend none   --search off ").unwrap(), ["--backend", "none", "--search", "off"]);
        assert_eq!(split_flags(r#"--a "x y" 'z w' ''"#).unwrap(), ["--a", "x y", "z w", ""]);
        assert!(split_flags("--a \"x").is_err());
        assert!(split_flags("").unwrap().is_empty());
    }

    #[test]
    fn timeout_and_seed_are_taken_out_of_the_flags() {
        let c = parse_arg("m=--backend milp --timeout 7.5 --seed=3").unwrap();
        assert_eq!((c.name.as_str(), c.timeout_s, c.seed), ("m", Some(7.5), Some(3)));
        assert_eq!(c.flags, ["--backend", "milp", "--seed", "3"]);
        assert_eq!(c.flags_text, "--backend milp --timeout 7.5 --seed=3");
        for bad in ["m=--timeout", "m=--timeout -1", "m=--seed x", "m=--eps-real 0.1", "m=--vnncomp-result f", "=x"] {
            assert!(parse_arg(bad).is_err(), "{bad}");
        }
        let e = check_unique(&[parse_arg("a=").unwrap(), parse_arg("a=--x").unwrap()]).unwrap_err();
        assert!(e.to_string().contains("twice"));
    }
}
