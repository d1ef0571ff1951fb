//! Configurations: a name and how `quiver verify` runs (backend, bounds method, search on/off,
//! time limit, threads, …) as typed [`VerifyOptions`] — for radius suites also how `quiver
//! radius` searches the levels ([`RadiusSearch`]: `--strategy`, `--eps-timeout`) — given as
//! `NAME=FLAGS` on the command line or in a TOML or JSON file, either as a flag string or as a
//! table of options.
//!
//! A flag string is split into words with the `shlex` crate (POSIX shell quoting) and read with
//! the library's own flag group for [`VerifyOptions`] ([`crate::query::args::parse_options`]): the
//! flags of an instance (the model's and the property's) are not in that group, so a
//! configuration cannot change the instance, and no second list of them exists. A table gives the
//! fields of [`VerifyOptions`] and [`RadiusSearch`] by name (`backends = ["smt-bv"]`, `search =
//! "off"`, `strategy = "linear"`, …).
//!
//! ```toml
//! [configs]
//! full = ""
//! bounds-only = "--search off --backend none"
//! smt = { backends = ["smt-bv"], timeout = 60 }
//! ```

use crate::query::args::{instance_flags, options_args, parse_config_flags, search_args};
use crate::query::{RadiusSearch, VerifyOptions};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;

/// One configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub name: String,
    /// The configuration as written (a flag string, or the canonical flags of a table): recorded
    /// with every result, and compared when a results directory is extended.
    pub flags_text: String,
    /// The options; `timeout` and `seed` are the configuration's own (the harness fills in the
    /// effective time limit and seed of each run). On a radius suite `timeout` limits the whole
    /// radius search.
    pub options: VerifyOptions,
    /// How a radius run searches the levels (only radius suites take other than the default).
    pub search: RadiusSearch,
}

impl Config {
    /// The configuration's own time limit, if any.
    pub fn timeout_s(&self) -> Option<f64> {
        self.options.timeout
    }

    /// The configuration's own seed, if any.
    pub fn seed(&self) -> Option<u64> {
        self.options.seed
    }
}

/// Flags the harness sets itself.
const HARNESS_FLAGS: [&str; 3] = ["--json", "--vnncomp-result", "--job"];

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        bail!("configuration name `{name}` must be non-empty and use only letters, digits, `.`, `-`, `_`");
    }
    Ok(name)
}

/// Build a configuration from its name and flag string, validating both.
pub fn new(name: &str, flags_text: &str) -> Result<Config> {
    let name = check_name(name)?;
    let words = shlex::split(flags_text).with_context(|| {
        format!("configuration `{name}`: unbalanced quotes or a trailing backslash in `{flags_text}`")
    })?;
    let instance = instance_flags();
    for w in &words {
        let key = w.split_once('=').map_or(w.as_str(), |(k, _)| k);
        if instance.iter().any(|f| f == key) {
            bail!("configuration `{name}`: {key} belongs to the instance (the suite), not to a configuration");
        }
        if HARNESS_FLAGS.contains(&key) {
            bail!("configuration `{name}`: {key} is set by the harness");
        }
    }
    let (options, search) =
        parse_config_flags(&words).map_err(|e| anyhow::anyhow!("configuration `{name}` (`{flags_text}`): {e}"))?;
    options.validate().with_context(|| format!("configuration `{name}`"))?;
    search.validate().with_context(|| format!("configuration `{name}`"))?;
    Ok(Config { name: name.to_string(), flags_text: flags_text.trim().to_string(), options, search })
}

/// Build a configuration from typed options (a table in a configuration file).
pub fn from_options(name: &str, options: VerifyOptions, search: RadiusSearch) -> Result<Config> {
    let name = check_name(name)?;
    options.validate().with_context(|| format!("configuration `{name}`"))?;
    search.validate().with_context(|| format!("configuration `{name}`"))?;
    let mut words = options_args(&options);
    words.extend(search_args(&search));
    let flags_text = shlex::try_join(words.iter().map(String::as_str))
        .with_context(|| format!("configuration `{name}`: an option holds a NUL byte"))?;
    Ok(Config { name: name.to_string(), flags_text, options, search })
}

/// Split a table of options into the [`VerifyOptions`] and the [`RadiusSearch`] fields (serde
/// cannot flatten structs that deny unknown fields).
fn table(mut t: serde_json::Map<String, serde_json::Value>) -> Result<(VerifyOptions, RadiusSearch)> {
    let mut search = serde_json::Map::new();
    for k in ["strategy", "eps_timeout"] {
        if let Some(v) = t.remove(k) {
            search.insert(k.to_string(), v);
        }
    }
    let options = serde_json::from_value(serde_json::Value::Object(t))?;
    let search = serde_json::from_value(serde_json::Value::Object(search))?;
    Ok((options, search))
}

/// Parse `NAME=FLAGS` (FLAGS may be empty: the default pipeline).
pub fn parse_arg(s: &str) -> Result<Config> {
    let (name, flags) = s.split_once('=').with_context(|| format!("--config must be NAME=FLAGS, found `{s}`"))?;
    new(name, flags)
}

/// A configuration in a file: a flag string or a table of options.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Flags(String),
    Options(serde_json::Map<String, serde_json::Value>),
}

/// A JSON list entry `{"name": …, "flags": …}` or `{"name": …, "options": {…}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Named {
    name: String,
    #[serde(default)]
    flags: Option<String>,
    #[serde(default)]
    options: Option<serde_json::Map<String, serde_json::Value>>,
}

fn from_table(name: &str, t: serde_json::Map<String, serde_json::Value>) -> Result<Config> {
    let (options, search) = table(t).with_context(|| format!("configuration `{}`", name.trim()))?;
    from_options(name, options, search)
}

fn entry(name: &str, e: Entry) -> Result<Config> {
    match e {
        Entry::Flags(f) => new(name, &f),
        Entry::Options(o) => from_table(name, o),
    }
}

/// Load configurations from a file, in file order: TOML (a `[configs]` table, or top-level keys,
/// mapping each name to a flag string or a table of options) or JSON (`{"NAME": FLAGS-or-OPTIONS,
/// …}` or `[{"name": …, "flags": …} | {"name": …, "options": {…}}, …]`).
pub fn load_file(path: &Path) -> Result<Vec<Config>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let at = |e: anyhow::Error| e.context(path.display().to_string());
    let t = text.trim_start();
    let mut out = Vec::new();
    if t.starts_with('{') || t.starts_with('[') && t[1..].trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))?;
        match v {
            serde_json::Value::Object(m) => {
                for (k, e) in m {
                    let e: Entry = serde_json::from_value(e).with_context(|| {
                        format!("{}: `{k}` must map to a flag string or a table of options", path.display())
                    })?;
                    out.push(entry(&k, e).map_err(at)?);
                }
            }
            serde_json::Value::Array(a) => {
                for e in a {
                    let n: Named = serde_json::from_value(e).with_context(|| {
                        format!("{}: every entry needs \"name\" and \"flags\" or \"options\"", path.display())
                    })?;
                    let c = match (n.flags, n.options) {
                        (Some(f), None) => new(&n.name, &f),
                        (None, Some(o)) => from_table(&n.name, o),
                        (None, None) => new(&n.name, ""),
                        (Some(_), Some(_)) => {
                            bail!("{}: `{}` gives both \"flags\" and \"options\"", path.display(), n.name)
                        }
                    };
                    out.push(c.map_err(at)?);
                }
            }
            _ => bail!("{}: expected a JSON object or array", path.display()),
        }
    } else {
        let mut table: toml::Table =
            toml::from_str(&text).with_context(|| format!("{}: invalid TOML", path.display()))?;
        let configs = match table.remove("configs") {
            Some(toml::Value::Table(t)) if table.is_empty() => t,
            Some(_) => bail!("{}: `configs` must be the only table, mapping names to configurations", path.display()),
            None => table,
        };
        for (k, v) in configs {
            let e: Entry = v
                .try_into()
                .with_context(|| format!("{}: `{k}` must be a flag string or a table of options", path.display()))?;
            out.push(entry(&k, e).map_err(at)?);
        }
    }
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
    use crate::props::radius::Strategy;
    use crate::query::Switch;

    #[test]
    fn flags_are_typed_options() {
        let c = parse_arg("m=--backend none --timeout 7.5 --seed=3 --search 'off'").unwrap();
        assert_eq!((c.name.as_str(), c.timeout_s(), c.seed()), ("m", Some(7.5), Some(3)));
        assert_eq!(c.options.backends, ["none"]);
        assert_eq!(c.options.search, Switch::Off);
        assert_eq!(c.flags_text, "--backend none --timeout 7.5 --seed=3 --search 'off'");
        assert_eq!(parse_arg("d=").unwrap().options, VerifyOptions::default());
        let r = parse_arg("lin=--strategy linear --eps-timeout 5 --timeout 30").unwrap();
        assert_eq!((r.search.strategy, r.search.eps_timeout, r.timeout_s()), (Strategy::Linear, Some(5.0), Some(30.0)));
        assert_eq!(parse_arg("d=").unwrap().search, RadiusSearch::default());
        for (bad, why) in [
            ("m=--timeout", "value"),
            ("m=--timeout=-1", "positive"),
            ("m=--timeout -1", "unexpected argument"),
            ("m=--timeout 0", "positive"),
            ("m=--seed x", "invalid value"),
            ("m=--eps-real 0.1", "instance"),
            ("m=--max-eps 3", "instance"),
            ("m=--eps-timeout 0", "positive"),
            ("m=--strategy sideways", "unknown strategy"),
            ("m=--ort-cpu vnni", "instance"),
            ("m=--delta-real 0.5", "instance"),
            ("m=--ort-cpu-b vnni", "instance"),
            ("m=--vnncomp-result f", "harness"),
            ("m=--backend cplex", "unknown backend"),
            ("m=--search 'off", "quotes"),
            ("=x", "name"),
        ] {
            let e = format!("{:#}", parse_arg(bad).expect_err(bad));
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = check_unique(&[parse_arg("a=").unwrap(), parse_arg("a=--threads 2").unwrap()]).unwrap_err();
        assert!(e.to_string().contains("twice"));
    }

    #[test]
    fn files_give_flag_strings_or_tables() {
        let dir = std::env::temp_dir().join(format!("quiver-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml_path = dir.join("c.toml");
        std::fs::write(
            &toml_path,
            "# comment\n[configs]\nfull = \"\"\nbounds-only = \"--search off --backend none\"\nsmt = { backends = [\"smt-bv\"], timeout = 60 }\nlin = { strategy = \"linear\", eps_timeout = 5 }\n",
        )
        .unwrap();
        let cs = load_file(&toml_path).unwrap();
        let names: Vec<&str> = cs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["full", "bounds-only", "smt", "lin"]);
        assert_eq!((cs[3].search.strategy, cs[3].search.eps_timeout), (Strategy::Linear, Some(5.0)));
        assert_eq!(cs[3].flags_text, "--strategy linear --eps-timeout 5");
        assert_eq!(cs[2].options.backends, ["smt-bv"]);
        assert_eq!(cs[2].timeout_s(), Some(60.0));
        assert_eq!(cs[2].flags_text, "--backend smt-bv --timeout 60");
        let json_path = dir.join("c.json");
        std::fs::write(
            &json_path,
            r#"[{"name": "a", "flags": "--threads 2"}, {"name": "b", "options": {"search": "off"}}]"#,
        )
        .unwrap();
        let cs = load_file(&json_path).unwrap();
        assert_eq!((cs[0].options.threads, cs[1].options.search), (2, Switch::Off));
        std::fs::write(&toml_path, "[configs]\nx = { backend = \"milp\" }\n").unwrap();
        assert!(load_file(&toml_path).is_err(), "unknown option field");
        std::fs::write(&toml_path, "[configs]\nx = { timeout = -1 }\n").unwrap();
        assert!(format!("{:#}", load_file(&toml_path).unwrap_err()).contains("positive"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
