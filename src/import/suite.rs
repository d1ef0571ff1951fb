//! Benchmark suite CSVs (`benchmarks/suites/*.csv`, documented in `benchmarks/suites/README.md`).
//!
//! Header `model,images,labels,index,eps,timeout_s,expected`, optionally followed by an 8th column
//! `tie` (`any` or `first-index`, the tie rule of the robustness property; empty: the caller's
//! default); one robustness instance per row: the test image `index` of `images`, labelled by
//! `labels`, in the integer L∞ ball of radius `eps` (clipped to the input range). `@bundled` in
//! `model`, `images` or `labels` names the bundled model and its test vectors. Paths starting with `external:` are relative to the shared
//! third-party material ([`external_root`]); other paths are relative to the CSV's directory.

use super::ImportError;
use std::path::{Path, PathBuf};

/// The column names, in order.
pub const HEADER: [&str; 7] = ["model", "images", "labels", "index", "eps", "timeout_s", "expected"];
/// The optional 8th column: the tie rule of the property.
pub const TIE_COLUMN: &str = "tie";

/// The published verdict of an instance, where one is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Robust: no input in the ball changes the prediction.
    Verified,
    /// Vulnerable: some input in the ball does.
    Falsified,
    /// The unperturbed image is already misclassified (no property is checked).
    Misclassified,
}

impl Expected {
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Verified => "verified",
            Expected::Falsified => "falsified",
            Expected::Misclassified => "misclassified",
        }
    }
}

/// One row of a suite, with its paths as written (resolve them with [`resolve`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// 1-based line in the CSV.
    pub line: usize,
    pub model: String,
    pub images: String,
    pub labels: String,
    pub index: usize,
    pub eps: u32,
    /// Per-instance time budget in seconds.
    pub timeout_s: u64,
    /// `None` where no verdict is published (including the paper's timeouts).
    pub expected: Option<Expected>,
    /// The tie rule from the optional `tie` column (`None`: absent or empty).
    pub tie: Option<crate::spec::robust::TieRule>,
}

/// A parsed suite file.
#[derive(Clone, Debug, PartialEq)]
pub struct Suite {
    pub path: PathBuf,
    pub instances: Vec<Instance>,
}

impl Suite {
    /// Resolve one of this suite's path fields (see [`resolve`]).
    pub fn resolve(&self, field: &str) -> Result<PathBuf, ImportError> {
        resolve(field, self.path.parent().unwrap_or(Path::new(".")))
    }
}

/// Read and parse a suite CSV.
pub fn load(path: &Path) -> Result<Suite, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|error| ImportError::Io { path: path.to_path_buf(), error })?;
    Ok(Suite { path: path.to_path_buf(), instances: parse(&text, path)? })
}

/// Parse suite CSV text; `path` is only used in error messages. Empty lines and lines starting
/// with `#` are ignored; the first other line must be [`HEADER`].
pub fn parse(text: &str, path: &Path) -> Result<Vec<Instance>, ImportError> {
    let err = |line: usize, message: String| ImportError::Suite { path: path.to_path_buf(), line, message };
    let mut rows =
        text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (hl, header) = rows.next().ok_or_else(|| err(1, "empty suite file (no header)".into()))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let with_tie = cols.len() == HEADER.len() + 1 && cols[HEADER.len()] == TIE_COLUMN;
    if cols[..cols.len().min(HEADER.len())] != HEADER || (cols.len() != HEADER.len() && !with_tie) {
        return Err(err(
            hl,
            format!("header must be `{}` (optionally followed by `,{TIE_COLUMN}`), found `{header}`", HEADER.join(",")),
        ));
    }
    let width = cols.len();
    let mut out = Vec::new();
    for (line, l) in rows {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != width {
            return Err(err(line, format!("expected {width} fields, found {}", f.len())));
        }
        let num = |i: usize| -> Result<u64, ImportError> {
            f[i].parse::<u64>()
                .map_err(|_| err(line, format!("{} must be a non-negative integer, found `{}`", HEADER[i], f[i])))
        };
        for (i, field) in f.iter().enumerate().take(3) {
            if field.is_empty() {
                return Err(err(line, format!("{} is empty", HEADER[i])));
            }
        }
        let expected = match f[6] {
            "" => None,
            "verified" => Some(Expected::Verified),
            "falsified" => Some(Expected::Falsified),
            "misclassified" => Some(Expected::Misclassified),
            other => {
                return Err(err(
                    line,
                    format!("expected must be verified, falsified, misclassified or empty, found `{other}`"),
                ))
            }
        };
        let index = usize::try_from(num(3)?).map_err(|_| err(line, "index is too large".into()))?;
        let eps = u32::try_from(num(4)?).map_err(|_| err(line, "eps is too large".into()))?;
        out.push(Instance {
            line,
            model: f[0].to_string(),
            images: f[1].to_string(),
            labels: f[2].to_string(),
            index,
            eps,
            timeout_s: num(5)?,
            expected,
            tie: match f.get(HEADER.len()).copied().unwrap_or("") {
                "" => None,
                t => Some(t.parse().map_err(|e: String| err(line, e))?),
            },
        });
    }
    Ok(out)
}

/// The environment variable that overrides [`default_external_root`].
pub const EXTERNAL_ENV: &str = "QUIVER_EXTERNAL";

/// `<crate>/../shared/external`, where the project keeps third-party benchmark material.
pub fn default_external_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/external")
}

/// The root of `external:` paths: `$QUIVER_EXTERNAL` if set, else [`default_external_root`].
/// An error if that directory does not exist.
pub fn external_root() -> Result<PathBuf, ImportError> {
    let (root, how) = match std::env::var_os(EXTERNAL_ENV) {
        Some(v) if !v.is_empty() => (PathBuf::from(v), format!("${EXTERNAL_ENV}")),
        _ => (default_external_root(), format!("the default (set ${EXTERNAL_ENV} to change it)")),
    };
    if !root.is_dir() {
        return Err(ImportError::Unsupported {
            path: root,
            message: format!("the external benchmark directory does not exist ({how})"),
        });
    }
    Ok(root)
}

/// Resolve a suite path: `external:REL` → `external_root()/REL`; otherwise relative to `base`
/// (absolute paths stay as they are).
pub fn resolve(field: &str, base: &Path) -> Result<PathBuf, ImportError> {
    match field.strip_prefix("external:") {
        Some(rel) => Ok(external_root()?.join(rel)),
        None => Ok(base.join(field)),
    }
}
