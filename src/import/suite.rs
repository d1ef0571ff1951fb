//! Benchmark suite CSVs (`benchmarks/suites/*.csv`, documented in `benchmarks/suites/README.md`).
//!
//! Header `model,images,labels,index,eps,timeout_s,expected`, optionally followed by an 8th column
//! `tie` (`any` or `first-index`, the tie rule of the robustness property; empty: the caller's
//! default); one robustness instance per row: the test image `index` of `images`, labelled by
//! `labels`, in the integer L∞ ball of radius `eps` (clipped to the input range). `@bundled` in
//! `model`, `images` or `labels` names the bundled model and its test vectors. Paths starting with `external:` are relative to the shared
//! third-party material ([`external_root`]); other paths are relative to the CSV's directory.
//!
//! Radius suites ([`RADIUS_HEADER`]) and equivalence suites ([`EQUIV_HEADER`]) have headers of
//! their own and share the rest: the paths, the optional `tie` column, comments and quoting.

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

/// One CSV row: its 1-based line and its fields, trimmed.
pub type Row = (usize, Vec<String>);

/// The rows of a CSV text (RFC 4180 quoting; fields trimmed), without blank lines and lines
/// starting with `#`; `path` is only used in error messages. The rows may have different
/// numbers of fields: each layout checks its own.
pub fn read_rows(text: &str, path: &Path) -> Result<Vec<Row>, ImportError> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| record_line(text.as_bytes(), p));
            let message = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
                _ => e.to_string(),
            };
            ImportError::Suite { path: path.to_path_buf(), line, message }
        })?;
        let line = rec.position().map_or(0, |p| record_line(text.as_bytes(), p));
        if rec.iter().all(str::is_empty) {
            continue; // a line of blanks
        }
        out.push((line, rec.iter().map(str::to_string).collect()));
    }
    Ok(out)
}

/// The line a record starts on. The reader reports where it started reading the record, before
/// it skipped the comment and blank lines in front of it; skip those the same way.
fn record_line(text: &[u8], p: &csv::Position) -> usize {
    let (mut byte, mut line) = (p.byte() as usize, p.line() as usize);
    while let Some(rest) = text.get(byte..) {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else { break };
        let l = &rest[..end];
        if !(l.is_empty() || l == b"\r" || l.first() == Some(&b'#')) {
            break;
        }
        byte += end + 1;
        line += 1;
    }
    line
}

/// Parse suite CSV text; `path` is only used in error messages. Empty lines and lines starting
/// with `#` are ignored; the first other line must be [`HEADER`].
pub fn parse(text: &str, path: &Path) -> Result<Vec<Instance>, ImportError> {
    parse_rows(read_rows(text, path)?, path)
}

/// Check a header row: `header`, optionally followed by [`TIE_COLUMN`]; returns the row width.
fn check_header(rows: &mut std::vec::IntoIter<Row>, header: &[&str], path: &Path) -> Result<usize, ImportError> {
    let err = |line: usize, message: String| ImportError::Suite { path: path.to_path_buf(), line, message };
    let (hl, cols) = rows.next().ok_or_else(|| err(1, "empty suite file (no header)".into()))?;
    let with_tie = cols.len() == header.len() + 1 && cols[header.len()] == TIE_COLUMN;
    if cols[..cols.len().min(header.len())] != *header || (cols.len() != header.len() && !with_tie) {
        return Err(err(
            hl,
            format!(
                "header must be `{}` (optionally followed by `,{TIE_COLUMN}`), found `{}`",
                header.join(","),
                cols.join(",")
            ),
        ));
    }
    Ok(cols.len())
}

/// The fields every row layout shares: the model and data set paths (non-empty), the index, an
/// integer in column 4 (`eps` or `max_eps`), the time budget, and the tie rule.
struct Common {
    model: String,
    images: String,
    labels: String,
    index: usize,
    level: u32,
    timeout_s: u64,
    tie: Option<crate::spec::robust::TieRule>,
}

fn common(f: &[String], header: &[&str], line: usize, path: &Path) -> Result<Common, ImportError> {
    let err = |message: String| ImportError::Suite { path: path.to_path_buf(), line, message };
    let num = |i: usize| -> Result<u64, ImportError> {
        f[i].parse::<u64>().map_err(|_| err(format!("{} must be a non-negative integer, found `{}`", header[i], f[i])))
    };
    for (i, field) in f.iter().enumerate().take(3) {
        if field.is_empty() {
            return Err(err(format!("{} is empty", header[i])));
        }
    }
    Ok(Common {
        model: f[0].to_string(),
        images: f[1].to_string(),
        labels: f[2].to_string(),
        index: usize::try_from(num(3)?).map_err(|_| err("index is too large".into()))?,
        level: u32::try_from(num(4)?).map_err(|_| err(format!("{} is too large", header[4])))?,
        timeout_s: num(5)?,
        tie: match f.get(header.len()).map_or("", String::as_str) {
            "" => None,
            t => Some(t.parse().map_err(err)?),
        },
    })
}

/// [`parse`] on rows from [`read_rows`].
pub fn parse_rows(rows: Vec<Row>, path: &Path) -> Result<Vec<Instance>, ImportError> {
    let err = |line: usize, message: String| ImportError::Suite { path: path.to_path_buf(), line, message };
    let mut rows = rows.into_iter();
    let width = check_header(&mut rows, &HEADER, path)?;
    let mut out = Vec::new();
    for (line, f) in rows {
        if f.len() != width {
            return Err(err(line, format!("expected {width} fields, found {}", f.len())));
        }
        let c = common(&f, &HEADER, line, path)?;
        let expected = match f[6].as_str() {
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
        out.push(Instance {
            line,
            model: c.model,
            images: c.images,
            labels: c.labels,
            index: c.index,
            eps: c.level,
            timeout_s: c.timeout_s,
            expected,
            tie: c.tie,
        });
    }
    Ok(out)
}

/// The columns of a radius suite, in order (optionally followed by `tie`): one maximum-radius
/// search per row around test image `index`, over the levels `0..=max_eps`, within `timeout_s`
/// for the whole search; `expected_radius` is an integer (`-1`: the image itself violates) or
/// empty.
pub const RADIUS_HEADER: [&str; 7] = ["model", "images", "labels", "index", "max_eps", "timeout_s", "expected_radius"];

/// One row of a radius suite, with its paths as written (resolve them with [`resolve`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RadiusRow {
    /// 1-based line in the CSV.
    pub line: usize,
    pub model: String,
    pub images: String,
    pub labels: String,
    pub index: usize,
    /// The largest level tried.
    pub max_eps: u32,
    /// Time budget of the whole search, in seconds.
    pub timeout_s: u64,
    /// The known radius, if any (`-1`: the image itself violates the property).
    pub expected_radius: Option<i64>,
    pub tie: Option<crate::spec::robust::TieRule>,
}

/// Parse the rows of a radius suite (header [`RADIUS_HEADER`]); errors name the file and line.
pub fn parse_radius_rows(rows: Vec<Row>, path: &Path) -> Result<Vec<RadiusRow>, ImportError> {
    let err = |line: usize, message: String| ImportError::Suite { path: path.to_path_buf(), line, message };
    let mut rows = rows.into_iter();
    let width = check_header(&mut rows, &RADIUS_HEADER, path)?;
    let mut out = Vec::new();
    for (line, f) in rows {
        if f.len() != width {
            return Err(err(line, format!("expected {width} fields, found {}", f.len())));
        }
        let c = common(&f, &RADIUS_HEADER, line, path)?;
        let expected_radius = match f[6].as_str() {
            "" => None,
            t => match t.parse::<i64>() {
                Ok(r) if r >= -1 => Some(r),
                _ => {
                    return Err(err(
                        line,
                        format!("expected_radius must be an integer >= -1 (-1: the image itself violates) or empty, found `{t}`"),
                    ))
                }
            },
        };
        out.push(RadiusRow {
            line,
            model: c.model,
            images: c.images,
            labels: c.labels,
            index: c.index,
            max_eps: c.level,
            timeout_s: c.timeout_s,
            expected_radius,
            tie: c.tie,
        });
    }
    Ok(out)
}

/// The columns of an equivalence suite, in order (optionally followed by `tie`): one `quiver
/// equiv` query per row — do `model_a` and `model_b` agree on the integer L∞ ball of radius `eps`
/// around test image `index`? `relation` is `same-class` (under the row's tie rule), `delta:N`
/// (integer outputs within N) or `delta-real:X` (dequantized outputs within X); `expected` is
/// `verified` (equivalent), `falsified` or empty.
pub const EQUIV_HEADER: [&str; 9] =
    ["model_a", "model_b", "images", "labels", "index", "eps", "relation", "timeout_s", "expected"];

/// One row of an equivalence suite, with its paths and relation as written.
#[derive(Clone, Debug, PartialEq)]
pub struct EquivRow {
    /// 1-based line in the CSV.
    pub line: usize,
    pub model_a: String,
    pub model_b: String,
    pub images: String,
    pub labels: String,
    pub index: usize,
    pub eps: u32,
    /// The relation as written (read by [`crate::query::EquivRelation::parse`]).
    pub relation: String,
    pub timeout_s: u64,
    /// `Verified` (equivalent on the box) or `Falsified`; `None` when empty.
    pub expected: Option<Expected>,
    pub tie: Option<crate::spec::robust::TieRule>,
}

/// Parse the rows of an equivalence suite (header [`EQUIV_HEADER`]); errors name the file and
/// line.
pub fn parse_equiv_rows(rows: Vec<Row>, path: &Path) -> Result<Vec<EquivRow>, ImportError> {
    let err = |line: usize, message: String| ImportError::Suite { path: path.to_path_buf(), line, message };
    let h = &EQUIV_HEADER;
    let mut rows = rows.into_iter();
    let width = check_header(&mut rows, h, path)?;
    let mut out = Vec::new();
    for (line, f) in rows {
        if f.len() != width {
            return Err(err(line, format!("expected {width} fields, found {}", f.len())));
        }
        for i in [0, 1, 2, 3, 6] {
            if f[i].is_empty() {
                return Err(err(line, format!("{} is empty", h[i])));
            }
        }
        let num = |i: usize| -> Result<u64, ImportError> {
            f[i].parse::<u64>()
                .map_err(|_| err(line, format!("{} must be a non-negative integer, found `{}`", h[i], f[i])))
        };
        let expected = match f[8].as_str() {
            "" => None,
            "verified" => Some(Expected::Verified),
            "falsified" => Some(Expected::Falsified),
            other => return Err(err(line, format!("expected must be verified, falsified or empty, found `{other}`"))),
        };
        out.push(EquivRow {
            line,
            model_a: f[0].clone(),
            model_b: f[1].clone(),
            images: f[2].clone(),
            labels: f[3].clone(),
            index: usize::try_from(num(4)?).map_err(|_| err(line, "index is too large".into()))?,
            eps: u32::try_from(num(5)?).map_err(|_| err(line, "eps is too large".into()))?,
            relation: f[6].clone(),
            timeout_s: num(7)?,
            expected,
            tie: match f.get(h.len()).map_or("", String::as_str) {
                "" => None,
                t => Some(t.parse().map_err(|m| err(line, m))?),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_skip_comments_and_blanks_keep_lines_and_quotes() {
        let p = Path::new("s.csv");
        let rows = read_rows("# c\n\na, b ,c\n  \n\"x,y\", z\n#d\nlast\n", p).unwrap();
        let want: Vec<Row> = vec![
            (3, vec!["a".into(), "b".into(), "c".into()]),
            (5, vec!["x,y".into(), "z".into()]),
            (7, vec!["last".into()]),
        ];
        assert_eq!(rows, want);
    }

    #[test]
    fn suite_errors_name_the_file_and_line() {
        let p = Path::new("dir/s.csv");
        let h = HEADER.join(",");
        let e = parse(&format!("{h}\n@bundled,@bundled,@bundled,1,2,60,verified\nm,i,l,x,2,60,\n"), p).unwrap_err();
        assert_eq!(e.to_string(), "dir/s.csv:3: index must be a non-negative integer, found `x`");
        let e = parse(&format!("# x\n{h}\nm,i,l,1\n"), p).unwrap_err();
        assert_eq!(e.to_string(), "dir/s.csv:3: expected 7 fields, found 4");
        let e = parse("model,images\n", p).unwrap_err();
        assert!(e.to_string().starts_with("dir/s.csv:1: header must be"), "{e}");
        let e = parse(&format!("{h},tie\nm,i,l,1,2,60,,sideways\n"), p).unwrap_err();
        assert!(e.to_string().starts_with("dir/s.csv:2: unknown tie rule"), "{e}");
        let ok = parse(&format!("{h},tie\n\"m,1.h5\",i,l,1,2,60,falsified,first-index\n"), p).unwrap();
        assert_eq!((ok[0].model.as_str(), ok[0].line, ok[0].expected), ("m,1.h5", 2, Some(Expected::Falsified)));
        assert!(parse("# nothing\n", p).unwrap_err().to_string().contains("empty suite file"));
    }

    #[test]
    fn radius_rows_parse_and_errors_name_the_file_and_line() {
        let p = Path::new("dir/r.csv");
        let h = RADIUS_HEADER.join(",");
        let rows = |t: &str| parse_radius_rows(read_rows(t, p).unwrap(), p);
        let ok = rows(&format!("{h},tie\nm,i,l,7,255,30,,first-index\nm,i,l,8,3,30,-1,\n")).unwrap();
        assert_eq!((ok[0].index, ok[0].max_eps, ok[0].timeout_s, ok[0].expected_radius), (7, 255, 30, None));
        assert_eq!(ok[0].tie, Some(crate::spec::robust::TieRule::FirstIndex));
        assert_eq!((ok[1].line, ok[1].expected_radius, ok[1].tie), (3, Some(-1), None));
        let e = rows(&format!("{h}\nm,i,l,1,3,30,-2\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/r.csv:2: expected_radius must be an integer >= -1 (-1: the image itself violates) or empty, found `-2`"
        );
        let e = rows(&format!("{h}\nm,i,l,1,-3,30,\n")).unwrap_err();
        assert_eq!(e.to_string(), "dir/r.csv:2: max_eps must be a non-negative integer, found `-3`");
        let e = rows(&format!("# c\n{h}\n,i,l,1,3,30,\n")).unwrap_err();
        assert_eq!(e.to_string(), "dir/r.csv:3: model is empty");
        let e = rows("model,images,labels,index,eps,timeout_s,expected\n").unwrap_err();
        assert!(e.to_string().starts_with("dir/r.csv:1: header must be `model,images,labels,index,max_eps"), "{e}");
    }

    #[test]
    fn equiv_rows_parse_and_errors_name_the_file_and_line() {
        let p = Path::new("dir/e.csv");
        let h = EQUIV_HEADER.join(",");
        let rows = |t: &str| parse_equiv_rows(read_rows(t, p).unwrap(), p);
        let ok = rows(&format!(
            "{h},tie\na.h5,b.h5,i,l,10,2,same-class,20,verified,first-index\na.h5,b.h5,i,l,0,1,delta-real:0.5,20,,\n"
        ))
        .unwrap();
        assert_eq!((ok[0].index, ok[0].eps, ok[0].timeout_s, ok[0].expected), (10, 2, 20, Some(Expected::Verified)));
        assert_eq!(
            (ok[0].relation.as_str(), ok[0].tie),
            ("same-class", Some(crate::spec::robust::TieRule::FirstIndex))
        );
        assert_eq!((ok[1].line, ok[1].relation.as_str(), ok[1].expected, ok[1].tie), (3, "delta-real:0.5", None, None));
        for (row, want) in [
            (
                "a,b,i,l,1,2,same-class,20,misclassified",
                "dir/e.csv:2: expected must be verified, falsified or empty, found `misclassified`",
            ),
            ("a,,i,l,1,2,same-class,20,", "dir/e.csv:2: model_b is empty"),
            ("a,b,i,l,1,2,,20,", "dir/e.csv:2: relation is empty"),
            ("a,b,i,l,1,-2,same-class,20,", "dir/e.csv:2: eps must be a non-negative integer, found `-2`"),
            ("a,b,i,l,1,2,same-class,x,", "dir/e.csv:2: timeout_s must be a non-negative integer, found `x`"),
            ("a,b,i,l,1,2,same-class", "dir/e.csv:2: expected 9 fields, found 7"),
        ] {
            assert_eq!(rows(&format!("{h}\n{row}\n")).unwrap_err().to_string(), want, "{row}");
        }
        let e = rows("model_a,model_b,images\n").unwrap_err();
        assert!(
            e.to_string().starts_with("dir/e.csv:1: header must be `model_a,model_b,images,labels,index,eps,relation"),
            "{e}"
        );
    }
}
