//! Benchmark suites as the harness sees them: a list of instances, each a typed model and
//! [`Task`] — a property to verify, a maximum robustness radius to find, or the equivalence of
//! the model with a second one ([`crate::query`]) — with a stable id, a time budget and an
//! optional expected verdict or radius.
//!
//! Three CSV layouts are read, told apart by their first line:
//! * quiver robustness suites (`model,images,labels,index,eps,timeout_s,expected[,tie]`,
//!   [`crate::import::suite`]); `@bundled` names the bundled model and test vectors;
//! * quiver radius suites (`model,images,labels,index,max_eps,timeout_s,expected_radius[,tie]`):
//!   one radius search per row, run by `quiver radius` ([`crate::query::RadiusJob`]);
//! * quiver equivalence suites
//!   (`model_a,model_b,images,labels,index,eps,relation,timeout_s,expected[,tie]`): one `quiver
//!   equiv` query per row ([`crate::query::EquivJob`]); a model field may end in `;ort-cpu=vnni`
//!   or `;q-bits=N` (the model's `--ort-cpu`/`--q-bits`, e.g. `m.onnx;ort-cpu=vnni`);
//! * VNN-COMP `instances.csv`: header-less rows `onnx,vnnlib,timeout`, optionally followed by an
//!   expected verdict (`holds`/`unsat`/`verified` or `violated`/`sat`/`falsified`); paths are
//!   relative to the CSV's directory.

use crate::import::suite as qsuite;
use crate::import::suite::Expected;
use crate::query::{EquivBox, EquivRelation, Input, Model, OrtCpu, Property, RadiusTarget};
use crate::spec::real::Domain;
use crate::spec::robust::{Radius, TieRule};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One instance of a suite.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Stable id, unique in the suite, built from the row's content (not its line), so results
    /// survive edits of other rows: `model/images#index/epsN[/first-index]` or `onnx/vnnlib`.
    pub id: String,
    /// 1-based line in the CSV.
    pub line: usize,
    /// The model (a resolved path, or `@bundled`); model A of an equivalence instance.
    pub model: Model,
    /// What is asked of the model.
    pub task: Task,
    /// The suite's time budget for this instance, in seconds (a radius row's: the whole search).
    pub timeout_s: Option<f64>,
    /// For VNN-COMP rows: the onnx and vnnlib fields as written in the CSV.
    pub vnncomp: Option<(String, String)>,
}

/// What an instance asks: the two job kinds the harness runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Verify a property (`quiver verify --job`), with the published verdict if one is known.
    Verify { property: Property, expected: Option<Expected> },
    /// Find the maximum robustness radius (`quiver radius --job`), with the known radius if any.
    Radius { target: RadiusTarget, expected_radius: Option<i64> },
    /// Decide whether the instance's model (A) and `model_b` agree on `inputs` under `relation`
    /// (`quiver equiv --job`), with the known verdict if any (`verified`: equivalent).
    Equiv {
        model_b: Model,
        inputs: EquivBox,
        relation: EquivRelation,
        /// `A-vs-B` from the models' file stems, and the box's integer radius: what reports
        /// group by.
        pair: String,
        eps: i64,
        expected: Option<Expected>,
    },
}

impl Instance {
    /// The property of a verification instance.
    pub fn property(&self) -> Option<&Property> {
        match &self.task {
            Task::Verify { property, .. } => Some(property),
            Task::Radius { .. } | Task::Equiv { .. } => None,
        }
    }

    /// The expected verdict of a verification or an equivalence instance.
    pub fn expected(&self) -> Option<Expected> {
        match &self.task {
            Task::Verify { expected, .. } | Task::Equiv { expected, .. } => *expected,
            Task::Radius { .. } => None,
        }
    }

    /// The expected radius of a radius instance.
    pub fn expected_radius(&self) -> Option<i64> {
        match &self.task {
            Task::Radius { expected_radius, .. } => *expected_radius,
            Task::Verify { .. } | Task::Equiv { .. } => None,
        }
    }

    pub fn is_radius(&self) -> bool {
        matches!(self.task, Task::Radius { .. })
    }
}

/// A loaded suite.
#[derive(Clone, Debug)]
pub struct Suite {
    pub path: PathBuf,
    /// The file stem (used as the VNN-COMP "category").
    pub name: String,
    /// `quiver`, `radius`, `equiv` or `vnncomp`.
    pub layout: &'static str,
    pub instances: Vec<Instance>,
}

fn stem(field: &str) -> String {
    if let Some(rest) = field.strip_prefix('@') {
        return rest.to_string();
    }
    let name = Path::new(field).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut s = name.as_str();
    for ext in [".gz", ".onnx", ".vnnlib", ".h5", ".json", "-idx3-ubyte", "-idx1-ubyte"] {
        s = s.strip_suffix(ext).unwrap_or(s);
    }
    s.to_string()
}

/// Parse an expected-verdict word (quiver's or VNN-COMP's names); empty is `None`.
pub fn parse_expected(s: &str) -> Result<Option<Expected>, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "unknown" | "-" => Ok(None),
        "verified" | "holds" | "unsat" | "safe" => Ok(Some(Expected::Verified)),
        "falsified" | "violated" | "sat" | "unsafe" => Ok(Some(Expected::Falsified)),
        "misclassified" => Ok(Some(Expected::Misclassified)),
        other => Err(format!(
            "unknown expected verdict `{other}` (expected verified/holds/unsat, falsified/violated/sat, misclassified or empty)"
        )),
    }
}

/// Load a suite; `default_tie` applies to robustness rows without a `tie` column.
pub fn load(path: &Path, default_tie: TieRule) -> Result<Suite> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "suite".into());
    let rows = qsuite::read_rows(&text, path)?;
    let starts = |h: &[&str]| rows.first().is_some_and(|(_, f)| f.len() >= h.len() && f[..h.len()] == *h);
    let layout = if starts(&qsuite::HEADER) {
        "quiver"
    } else if starts(&qsuite::RADIUS_HEADER) {
        "radius"
    } else if starts(&qsuite::EQUIV_HEADER) {
        "equiv"
    } else {
        "vnncomp"
    };
    let instances = match layout {
        "quiver" => quiver_rows(rows, path, default_tie)?,
        "radius" => radius_rows(rows, path, default_tie)?,
        "equiv" => equiv_rows(rows, path, default_tie)?,
        _ => vnncomp_rows(rows, path)?,
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for i in &instances {
        if let Some(l) = seen.insert(&i.id, i.line) {
            bail!("{}:{}: duplicate instance `{}` (same as line {l})", path.display(), i.line, i.id);
        }
    }
    if instances.is_empty() {
        bail!("{}: the suite has no instances", path.display());
    }
    Ok(Suite { path: path.to_path_buf(), name, layout, instances })
}

fn resolve(field: &str, base: &Path) -> Result<PathBuf> {
    if field.starts_with('@') {
        return Ok(PathBuf::from(field));
    }
    Ok(qsuite::resolve(field, base)?)
}

/// The input of a data-set row: image `index` of `images`, with its labels (`@bundled` labels
/// come with the bundled vectors). Paths are resolved against `base`.
fn dataset_input(images: &str, labels: &str, index: usize, base: &Path) -> Result<Input> {
    let path = resolve(images, base)?;
    let labels = if labels == crate::bundled::DATASET { None } else { Some(resolve(labels, base)?) };
    Ok(Input::Dataset { path, index, labels })
}

fn quiver_rows(rows: Vec<qsuite::Row>, path: &Path, default_tie: TieRule) -> Result<Vec<Instance>> {
    let rows = qsuite::parse_rows(rows, path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for r in rows {
        let tie = r.tie.unwrap_or(default_tie);
        let mut id = format!("{}/{}#{}/eps{}", stem(&r.model), stem(&r.images), r.index, r.eps);
        if tie == TieRule::FirstIndex {
            id.push_str("/first-index");
        }
        let at = || format!("{}:{}", path.display(), r.line);
        let input = dataset_input(&r.images, &r.labels, r.index, base).with_context(at)?;
        let property = Property::Robust { input, radius: Radius::Integer(i64::from(r.eps)), label: None, tie };
        out.push(Instance {
            id,
            line: r.line,
            model: Model::new(resolve(&r.model, base).with_context(at)?),
            task: Task::Verify { property, expected: r.expected },
            timeout_s: Some(r.timeout_s as f64),
            vnncomp: None,
        });
    }
    Ok(out)
}

/// Radius rows: id `model/images#index/radius-maxN[/first-index]`.
fn radius_rows(rows: Vec<qsuite::Row>, path: &Path, default_tie: TieRule) -> Result<Vec<Instance>> {
    let rows = qsuite::parse_radius_rows(rows, path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for r in rows {
        let tie = r.tie.unwrap_or(default_tie);
        let mut id = format!("{}/{}#{}/radius-max{}", stem(&r.model), stem(&r.images), r.index, r.max_eps);
        if tie == TieRule::FirstIndex {
            id.push_str("/first-index");
        }
        let at = || format!("{}:{}", path.display(), r.line);
        let input = dataset_input(&r.images, &r.labels, r.index, base).with_context(at)?;
        let target = RadiusTarget { input, label: None, tie, max_eps: Some(i64::from(r.max_eps)), eps_real_step: None };
        out.push(Instance {
            id,
            line: r.line,
            model: Model::new(resolve(&r.model, base).with_context(at)?),
            task: Task::Radius { target, expected_radius: r.expected_radius },
            timeout_s: Some(r.timeout_s as f64),
            vnncomp: None,
        });
    }
    Ok(out)
}

/// A model field of an equivalence suite: a path (as [`resolve`]d) optionally followed by
/// `;ort-cpu=x86|vnni` and `;q-bits=N`, the model's own `--ort-cpu` and `--q-bits` (an ONNX model
/// with full-range int8 weights needs `ort-cpu=vnni`, as `quiver equiv --ort-cpu-b vnni`).
fn model_field(field: &str, base: &Path) -> Result<Model> {
    let mut parts = field.split(';');
    let path = parts.next().unwrap_or_default().trim();
    let mut model = Model::new(resolve(path, base)?);
    for opt in parts {
        match opt.trim().split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("ort-cpu", v)) => {
                model.ort_cpu = <OrtCpu as clap::ValueEnum>::from_str(v, false)
                    .map_err(|_| anyhow::anyhow!("`{field}`: ort-cpu must be x86 or vnni, found `{v}`"))?;
            }
            Some(("q-bits", v)) => {
                model.q_bits =
                    Some(v.parse().map_err(|_| anyhow::anyhow!("`{field}`: q-bits must be an integer, found `{v}`"))?);
            }
            _ => bail!("`{field}`: unknown model option `{}` (expected ort-cpu=x86|vnni or q-bits=N)", opt.trim()),
        }
    }
    Ok(model)
}

/// Equivalence rows: id `A-vs-B/images#index/epsN/RELATION` with the relation in the suite
/// spelling (`same-class[/first-index]`, `delta:N`, `delta-real:X`).
fn equiv_rows(rows: Vec<qsuite::Row>, path: &Path, default_tie: TieRule) -> Result<Vec<Instance>> {
    let rows = qsuite::parse_equiv_rows(rows, path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for r in rows {
        let at = || format!("{}:{}", path.display(), r.line);
        let same_class = r.relation.trim() == "same-class";
        let tie = if same_class { Some(r.tie.unwrap_or(default_tie)) } else { r.tie };
        let relation = EquivRelation::parse(&r.relation, tie).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        let stem_of = |field: &str| stem(field.split(';').next().unwrap_or_default().trim());
        let pair = format!("{}-vs-{}", stem_of(&r.model_a), stem_of(&r.model_b));
        let id = format!("{pair}/{}#{}/eps{}/{relation}", stem(&r.images), r.index, r.eps);
        let input = dataset_input(&r.images, &r.labels, r.index, base).with_context(at)?;
        let inputs = EquivBox::Ball { input, radius: Radius::Integer(i64::from(r.eps)) };
        out.push(Instance {
            id,
            line: r.line,
            model: model_field(&r.model_a, base).with_context(at)?,
            task: Task::Equiv {
                model_b: model_field(&r.model_b, base).with_context(at)?,
                inputs,
                relation,
                pair,
                eps: i64::from(r.eps),
                expected: r.expected,
            },
            timeout_s: Some(r.timeout_s as f64),
            vnncomp: None,
        });
    }
    Ok(out)
}

fn vnncomp_rows(rows: Vec<qsuite::Row>, path: &Path) -> Result<Vec<Instance>> {
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (line, f) in rows {
        if out.is_empty() && f.first().is_some_and(|c| c.eq_ignore_ascii_case("onnx")) {
            continue; // an optional header `onnx,vnnlib,timeout[,expected]`
        }
        let at = format!("{}:{line}", path.display());
        if !(3..=4).contains(&f.len()) {
            bail!(
                "{at}: not a quiver suite (header `{}`), a radius suite (header `{}`), an equivalence suite (header `{}`) nor a VNN-COMP instances.csv row `onnx,vnnlib,timeout[,expected]`: found {} fields",
                qsuite::HEADER.join(","),
                qsuite::RADIUS_HEADER.join(","),
                qsuite::EQUIV_HEADER.join(","),
                f.len()
            );
        }
        if f[0].is_empty() || f[1].is_empty() {
            bail!("{at}: empty onnx or vnnlib field");
        }
        let timeout: f64 = f[2]
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t > 0.0)
            .with_context(|| format!("{at}: timeout must be a positive number of seconds, found `{}`", f[2]))?;
        let expected = parse_expected(f.get(3).map_or("", String::as_str)).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        let model = resolve(&f[0], base)?;
        let vnnlib = resolve(&f[1], base)?;
        out.push(Instance {
            id: format!("{}/{}", stem(&f[0]), stem(&f[1])),
            line,
            model: Model::new(model),
            task: Task::Verify { property: Property::Vnnlib { path: vnnlib, domain: Domain::Real }, expected },
            timeout_s: Some(timeout),
            vnncomp: Some((f[0].clone(), f[1].clone())),
        });
    }
    Ok(out)
}

/// Parse `K/N` (1 ≤ K ≤ N).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or_else(|| format!("--shard must be K/N, found `{s}`"))?;
    let (k, n): (usize, usize) = match (k.trim().parse(), n.trim().parse()) {
        (Ok(k), Ok(n)) => (k, n),
        _ => return Err(format!("--shard must be K/N with integers, found `{s}`")),
    };
    if n == 0 || k == 0 || k > n {
        return Err(format!("--shard K/N needs 1 <= K <= N, found `{s}`"));
    }
    Ok((k, n))
}

/// Does the instance at position `pos` (0-based, suite order) belong to shard `k` of `n`?
/// Round-robin, so every shard gets a similar mix of the suite; the union over `k` is the suite.
pub fn in_shard(pos: usize, shard: Option<(usize, usize)>) -> bool {
    match shard {
        None => true,
        Some((k, n)) => pos % n == k - 1,
    }
}
