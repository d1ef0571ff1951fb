//! `quiver report`: tables (Markdown, CSV, LaTeX, JSON), cactus and scatter plots (SVG) and a
//! per-instance table from one or more results directories (shards are merged).
//!
//! Any instance on which one configuration says `verified` and another gives a replayed
//! counterexample is a soundness alarm: it is listed first, in red, in every output.

use super::record::Record;
use super::store;
use super::svg;
use anyhow::{bail, Result};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Merged records of one or more results directories.
pub struct Data {
    /// One record per (instance, configuration), in first-seen order.
    pub records: Vec<Record>,
    /// Configuration names in first-seen order.
    pub configs: Vec<String>,
    /// Instance ids in suite order (suite file, then line), then first-seen order.
    pub instances: Vec<String>,
    /// Records dropped because another directory already had that (instance, configuration).
    pub duplicates: usize,
    /// Unreadable lines (e.g. a line cut short by a killed run).
    pub unreadable: usize,
}

/// Read and merge results (each path a results directory or a `.jsonl` file).
pub fn load(paths: &[PathBuf]) -> Result<Data> {
    let mut records: Vec<Record> = Vec::new();
    let mut seen = HashSet::new();
    let (mut duplicates, mut unreadable) = (0, 0);
    for p in paths {
        let f = store::results_file(p);
        if !f.is_file() {
            bail!("{}: no results here (expected {})", p.display(), f.display());
        }
        let l = store::read(p)?;
        unreadable += l.unreadable;
        for r in l.records {
            if seen.insert((r.instance.clone(), r.config.clone())) {
                records.push(r);
            } else {
                duplicates += 1;
            }
        }
    }
    // Configurations in command-line order (then first-seen order), whatever order runs finished in.
    let mut order: Vec<(usize, usize, String)> = Vec::new();
    for (k, r) in records.iter().enumerate() {
        match order.iter_mut().find(|o| o.2 == r.config) {
            Some(o) => o.0 = o.0.min(r.config_order),
            None => order.push((r.config_order, k, r.config.clone())),
        }
    }
    order.sort();
    let configs: Vec<String> = order.into_iter().map(|o| o.2).collect();
    let mut inst: Vec<(String, usize, usize, String)> = Vec::new();
    let mut have = HashSet::new();
    for (k, r) in records.iter().enumerate() {
        if have.insert(r.instance.clone()) {
            inst.push((r.suite.clone(), r.line, k, r.instance.clone()));
        }
    }
    inst.sort();
    Ok(Data { records, configs, instances: inst.into_iter().map(|t| t.3).collect(), duplicates, unreadable })
}

/// Per-configuration figures.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigStats {
    pub config: String,
    pub flags: String,
    pub runs: usize,
    pub verified: usize,
    pub falsified: usize,
    /// Undecided, including runs stopped by a limit.
    pub unknown: usize,
    pub timeouts: usize,
    pub memouts: usize,
    pub errors: usize,
    pub solved: usize,
    /// Mean PAR-2 score: wall time of solved runs, twice the time limit otherwise.
    pub par2_s: f64,
    pub median_s: f64,
    pub total_s: f64,
    /// Instances on which this configuration is on one side of a soundness alarm.
    pub disagreements: usize,
}

/// An instance with contradicting verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct Disagreement {
    pub instance: String,
    pub verified_by: Vec<String>,
    pub falsified_by: Vec<String>,
}

impl Disagreement {
    pub fn text(&self) -> String {
        format!(
            "SOUNDNESS ALARM on {}: verified by [{}] but a replayed counterexample from [{}]",
            self.instance,
            self.verified_by.join(", "),
            self.falsified_by.join(", ")
        )
    }
}

impl Data {
    fn get(&self, instance: &str, config: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.instance == instance && r.config == config)
    }

    fn index(&self) -> HashMap<(&str, &str), &Record> {
        self.records.iter().map(|r| ((r.instance.as_str(), r.config.as_str()), r)).collect()
    }

    /// Contradictions between configurations, plus any child's own alarm (`--crosscheck`).
    pub fn disagreements(&self) -> Vec<Disagreement> {
        let idx = self.index();
        let mut out = Vec::new();
        for i in &self.instances {
            let mut d = Disagreement { instance: i.clone(), verified_by: Vec::new(), falsified_by: Vec::new() };
            for c in &self.configs {
                match idx.get(&(i.as_str(), c.as_str())).map(|r| r.verdict.as_str()) {
                    Some("verified") => d.verified_by.push(c.clone()),
                    Some("falsified") => d.falsified_by.push(c.clone()),
                    _ => {}
                }
            }
            if !d.verified_by.is_empty() && !d.falsified_by.is_empty() {
                out.push(d);
            }
        }
        out
    }

    /// Soundness alarms raised inside single runs (`--crosscheck`).
    pub fn run_alarms(&self) -> Vec<String> {
        self.records
            .iter()
            .filter_map(|r| r.disagreement.as_ref().map(|d| format!("{} under {}: {d}", r.instance, r.config)))
            .collect()
    }

    /// Every alarm, as text.
    pub fn alarms(&self) -> Vec<String> {
        let mut v: Vec<String> = self.disagreements().iter().map(Disagreement::text).collect();
        v.extend(self.run_alarms());
        v
    }

    pub fn stats(&self) -> Vec<ConfigStats> {
        let dis = self.disagreements();
        self.configs
            .iter()
            .map(|c| {
                let rs: Vec<&Record> = self.records.iter().filter(|r| &r.config == c).collect();
                let n = |v: &str| rs.iter().filter(|r| r.verdict == v).count();
                let mut times: Vec<f64> = rs.iter().map(|r| r.wall_seconds).collect();
                times.sort_by(f64::total_cmp);
                let median = match times.len() {
                    0 => 0.0,
                    k if k % 2 == 1 => times[k / 2],
                    k => (times[k / 2 - 1] + times[k / 2]) / 2.0,
                };
                ConfigStats {
                    config: c.clone(),
                    flags: rs.first().map(|r| r.flags.clone()).unwrap_or_default(),
                    runs: rs.len(),
                    verified: n("verified"),
                    falsified: n("falsified"),
                    unknown: n("unknown"),
                    timeouts: rs.iter().filter(|r| r.limit.as_deref() == Some("time")).count(),
                    memouts: rs.iter().filter(|r| r.limit.as_deref() == Some("memory")).count(),
                    errors: n("error"),
                    solved: n("verified") + n("falsified"),
                    par2_s: if rs.is_empty() {
                        0.0
                    } else {
                        rs.iter().map(|r| r.par2()).sum::<f64>() / rs.len() as f64
                    },
                    median_s: median,
                    total_s: times.iter().sum(),
                    disagreements: dis
                        .iter()
                        .filter(|d| d.verified_by.contains(c) || d.falsified_by.contains(c))
                        .count(),
                }
            })
            .collect()
    }

    fn max_limit(&self) -> f64 {
        self.records.iter().map(|r| r.time_limit_s).fold(1.0, f64::max)
    }
}

fn cell(r: Option<&Record>) -> String {
    match r {
        None => "—".into(),
        Some(r) => {
            let v = match (r.verdict.as_str(), r.limit.as_deref()) {
                ("unknown", Some("time")) => "timeout",
                ("unknown", Some("memory")) => "memout",
                (v, _) => v,
            };
            format!("{v} {:.3}s", r.wall_seconds)
        }
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn tex(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                o.push('\\');
                o.push(c);
            }
            '~' => o.push_str("\\textasciitilde{}"),
            '^' => o.push_str("\\textasciicircum{}"),
            _ => o.push(c),
        }
    }
    o
}

/// One number or name in the per-configuration table.
enum Value {
    Text(String),
    Count(usize),
    Seconds(f64),
}

/// A column of the per-configuration table: its header in each output that shows it (`None`:
/// not shown there) and its value. The one list of columns behind the Markdown, CSV and LaTeX
/// tables; the CSV has every column, under the names `report.json` uses.
struct Column {
    csv: &'static str,
    md: Option<&'static str>,
    tex: Option<&'static str>,
    /// Digits after the point of a seconds value in LaTeX (Markdown has 3, CSV 6).
    tex_digits: usize,
    /// Bold in Markdown (the headline figure).
    bold: bool,
    /// Left-aligned (names); numbers are right-aligned.
    left: bool,
    value: fn(&ConfigStats) -> Value,
}

const fn col(csv: &'static str, md: &'static str, tex: &'static str, value: fn(&ConfigStats) -> Value) -> Column {
    Column { csv, md: Some(md), tex: Some(tex), tex_digits: 2, bold: false, left: false, value }
}

const COLUMNS: [Column; 14] = [
    Column { left: true, ..col("config", "configuration", "Configuration", |c| Value::Text(c.config.clone())) },
    Column { tex: None, ..col("runs", "runs", "", |c| Value::Count(c.runs)) },
    col("verified", "verified", "Verified", |c| Value::Count(c.verified)),
    col("falsified", "falsified", "Falsified", |c| Value::Count(c.falsified)),
    col("unknown", "unknown", "Unknown", |c| Value::Count(c.unknown)),
    Column { tex: None, ..col("timeouts", "(timeout)", "", |c| Value::Count(c.timeouts)) },
    Column { tex: None, ..col("memouts", "(memout)", "", |c| Value::Count(c.memouts)) },
    col("errors", "error", "Error", |c| Value::Count(c.errors)),
    Column { bold: true, ..col("solved", "solved", "Solved", |c| Value::Count(c.solved)) },
    col("par2_s", "PAR-2 (s)", "PAR-2 (s)", |c| Value::Seconds(c.par2_s)),
    Column { tex_digits: 3, ..col("median_s", "median (s)", "Median (s)", |c| Value::Seconds(c.median_s)) },
    col("total_s", "total (s)", "Total (s)", |c| Value::Seconds(c.total_s)),
    Column { md: None, tex: None, ..col("disagreements", "", "", |c| Value::Count(c.disagreements)) },
    Column { md: None, tex: None, left: true, ..col("flags", "", "", |c| Value::Text(c.flags.clone())) },
];

/// The Markdown report (alarms first, as a red GitHub "caution" block).
pub fn markdown(d: &Data, stats: &[ConfigStats]) -> String {
    let mut s = String::from("# quiver report\n\n");
    let alarms = d.alarms();
    if !alarms.is_empty() {
        s.push_str("> [!CAUTION]\n> **Soundness alarms** — configurations contradict each other (a bug in quiver: please report it):\n");
        for a in &alarms {
            let _ = writeln!(s, "> * <span style=\"color:red\">{}</span>", md_escape(a));
        }
        s.push('\n');
    }
    let _ =
        writeln!(s, "{} instances, {} configurations, {} runs.\n", d.instances.len(), d.configs.len(), d.records.len());
    let cols: Vec<(&Column, &str)> = COLUMNS.iter().filter_map(|c| c.md.map(|h| (c, h))).collect();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    s.push_str(&line(cols.iter().map(|(_, h)| h.to_string()).collect()));
    let rule: Vec<&str> = cols.iter().map(|(c, _)| if c.left { "---" } else { "---:" }).collect();
    s.push_str(&format!("|{}|\n", rule.join("|")));
    for st in stats {
        let cells = cols
            .iter()
            .map(|(c, _)| {
                let v = match (c.value)(st) {
                    Value::Text(t) => md_escape(&t),
                    Value::Count(n) => n.to_string(),
                    Value::Seconds(x) => format!("{x:.3}"),
                };
                if c.bold {
                    format!("**{v}**")
                } else {
                    v
                }
            })
            .collect();
        s.push_str(&line(cells));
    }
    s.push_str("\nConfigurations (`quiver verify` flags):\n\n");
    for c in stats {
        let _ = writeln!(s, "* `{}`: `{}`", c.config, if c.flags.is_empty() { "(defaults)" } else { &c.flags });
    }
    s.push_str(
        "\nTimes are wall-clock seconds per run (child process start to exit, model loading included). \
PAR-2: mean over runs of the time if solved, else twice the time limit. `unknown` includes the runs stopped by \
a time limit (timeout) or memory limit (memout).\n",
    );
    if let Some(r) = d.records.first() {
        let _ = writeln!(
            s,
            "\nquiver {} (git {}), {} ({} cores, {}).",
            r.quiver_version, r.git_revision, r.machine.host, r.machine.cores, r.machine.cpu
        );
    }
    s
}

/// The per-instance table as Markdown.
pub fn instances_markdown(d: &Data) -> String {
    let idx = d.index();
    let dis: HashSet<String> = d.disagreements().into_iter().map(|x| x.instance).collect();
    let mut s = String::from("| instance | expected |");
    for c in &d.configs {
        let _ = write!(s, " {} |", md_escape(c));
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---|".repeat(d.configs.len()));
    s.push('\n');
    for i in &d.instances {
        let exp = d.records.iter().find(|r| &r.instance == i).and_then(|r| r.expected.clone()).unwrap_or_default();
        let name = if dis.contains(i) {
            format!("<span style=\"color:red\">**{}** (soundness alarm)</span>", md_escape(i))
        } else {
            md_escape(i)
        };
        let _ = write!(s, "| {name} | {exp} |");
        for c in &d.configs {
            let _ = write!(s, " {} |", cell(idx.get(&(i.as_str(), c.as_str())).copied()));
        }
        s.push('\n');
    }
    s
}

/// Per-configuration CSV.
pub fn summary_csv(stats: &[ConfigStats]) -> String {
    let mut s = COLUMNS.iter().map(|c| c.csv).collect::<Vec<_>>().join(",");
    s.push('\n');
    for st in stats {
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|c| match (c.value)(st) {
                Value::Text(t) => csv_field(&t),
                Value::Count(n) => n.to_string(),
                Value::Seconds(x) => format!("{x:.6}"),
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

/// Per-instance CSV: one row per instance, verdict and seconds per configuration.
pub fn instances_csv(d: &Data) -> String {
    let idx = d.index();
    let dis: HashSet<String> = d.disagreements().into_iter().map(|x| x.instance).collect();
    let mut s = String::from("instance,expected,disagreement");
    for c in &d.configs {
        let _ = write!(s, ",{0}_verdict,{0}_seconds", csv_field(c));
    }
    s.push('\n');
    for i in &d.instances {
        let exp = d.records.iter().find(|r| &r.instance == i).and_then(|r| r.expected.clone()).unwrap_or_default();
        let _ = write!(s, "{},{},{}", csv_field(i), exp, dis.contains(i));
        for c in &d.configs {
            match idx.get(&(i.as_str(), c.as_str())) {
                Some(r) => {
                    let _ = write!(s, ",{},{:.6}", r.verdict, r.wall_seconds);
                }
                None => s.push_str(",,"),
            }
        }
        s.push('\n');
    }
    s
}

/// The per-configuration table as LaTeX (booktabs; alarms in red need `xcolor`).
pub fn latex(d: &Data, stats: &[ConfigStats]) -> String {
    let mut s = String::from("% generated by `quiver report`; needs \\usepackage{booktabs} (and xcolor for alarms)\n");
    for a in d.alarms() {
        let _ = writeln!(s, "\\noindent\\textcolor{{red}}{{\\textbf{{{}}}}}\\\\", tex(&a));
    }
    let cols: Vec<(&Column, &str)> = COLUMNS.iter().filter_map(|c| c.tex.map(|h| (c, h))).collect();
    let spec: String = cols.iter().map(|(c, _)| if c.left { 'l' } else { 'r' }).collect();
    let _ = writeln!(s, "\\begin{{tabular}}{{{spec}}}\n\\toprule");
    let _ = writeln!(s, "{} \\\\\n\\midrule", cols.iter().map(|(_, h)| *h).collect::<Vec<_>>().join(" & "));
    for st in stats {
        let cells: Vec<String> = cols
            .iter()
            .map(|(c, _)| match (c.value)(st) {
                Value::Text(t) => tex(&t),
                Value::Count(n) => n.to_string(),
                Value::Seconds(x) => format!("{x:.*}", c.tex_digits),
            })
            .collect();
        let _ = writeln!(s, "{} \\\\", cells.join(" & "));
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

/// The machine-readable summary.
pub fn json(d: &Data, stats: &[ConfigStats]) -> serde_json::Value {
    serde_json::json!({
        "instances": d.instances.len(),
        "configs": stats,
        "disagreements": d.disagreements(),
        "run_alarms": d.run_alarms(),
        "duplicates_dropped": d.duplicates,
        "unreadable_lines": d.unreadable,
    })
}

/// Cactus plot of every configuration.
pub fn cactus(d: &Data) -> String {
    let series: Vec<(String, Vec<f64>)> = d
        .configs
        .iter()
        .map(|c| {
            let t = d.records.iter().filter(|r| &r.config == c && r.solved()).map(|r| r.wall_seconds).collect();
            (c.clone(), t)
        })
        .collect();
    svg::cactus("Instances solved vs. time", &series, d.instances.len(), d.max_limit(), &d.alarms())
}

/// Scatter plot of configuration `a` (x) against `b` (y).
pub fn scatter(d: &Data, a: &str, b: &str) -> String {
    let idx = d.index();
    let dis: HashSet<String> = d.disagreements().into_iter().map(|x| x.instance).collect();
    let limit = d.max_limit();
    let t = |r: &Record| if r.solved() { r.wall_seconds } else { 2.0 * limit };
    let mut pts = Vec::new();
    for i in &d.instances {
        let (Some(ra), Some(rb)) = (idx.get(&(i.as_str(), a)), idx.get(&(i.as_str(), b))) else { continue };
        let kind = if dis.contains(i) && ra.solved() && rb.solved() && ra.verdict != rb.verdict {
            "disagreement"
        } else if ra.verdict == "verified" || rb.verdict == "verified" {
            "verified"
        } else if ra.verdict == "falsified" || rb.verdict == "falsified" {
            "falsified"
        } else {
            "unsolved"
        };
        pts.push(svg::Point {
            x: t(ra),
            y: t(rb),
            kind,
            label: format!("{i}: {} {:.3}s / {} {:.3}s", ra.verdict, ra.wall_seconds, rb.verdict, rb.wall_seconds),
        });
    }
    svg::scatter(&format!("{a} vs. {b} (per instance)"), a, b, &pts, limit, &d.alarms())
}

/// The configuration pairs that get a scatter plot: all pairs up to 5 configurations, else the
/// first configuration against each other one.
pub fn scatter_pairs(configs: &[String]) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for (i, a) in configs.iter().enumerate() {
        for b in &configs[i + 1..] {
            if configs.len() <= 5 || i == 0 {
                v.push((a.clone(), b.clone()));
            }
        }
    }
    v
}

/// VNN-COMP scorer tables, one per configuration, for the VNN-COMP instances.
pub fn vnncomp_csvs(d: &Data) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in &d.configs {
        let mut s = String::new();
        for i in &d.instances {
            let Some(r) = d.get(i, c) else { continue };
            let Some((onnx, vnnlib)) = &r.vnncomp else { continue };
            let cat = Path::new(&r.suite).file_stem().map(|x| x.to_string_lossy().into_owned()).unwrap_or_default();
            let word = super::vnncomp::result_word(&r.verdict, r.limit.as_deref());
            s.push_str(&super::vnncomp::csv_row(&cat, onnx, vnnlib, word, r.wall_seconds));
            s.push('\n');
        }
        if !s.is_empty() {
            out.push((c.clone(), s));
        }
    }
    out
}

/// Write every output into `out`; returns the files written.
pub fn write_all(d: &Data, out: &Path) -> Result<Vec<PathBuf>> {
    let stats = d.stats();
    let mut files: Vec<(PathBuf, String)> = vec![
        (out.join("summary.md"), markdown(d, &stats) + "\n## Per instance\n\n" + &instances_markdown(d)),
        (out.join("summary.csv"), summary_csv(&stats)),
        (out.join("summary.tex"), latex(d, &stats)),
        (out.join("instances.csv"), instances_csv(d)),
        (out.join("report.json"), serde_json::to_string_pretty(&json(d, &stats))? + "\n"),
        (out.join("cactus.svg"), cactus(d)),
    ];
    for (a, b) in scatter_pairs(&d.configs) {
        let name = format!("scatter_{}_vs_{}.svg", super::file_component(&a), super::file_component(&b));
        files.push((out.join(name), scatter(d, &a, &b)));
    }
    for (c, text) in vnncomp_csvs(d) {
        files.push((out.join(format!("vnncomp_{}.csv", super::file_component(&c))), text));
    }
    let mut written = Vec::new();
    for (p, text) in files {
        store::write_atomic(&p, text.as_bytes())?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> ConfigStats {
        ConfigStats {
            config: "a_b".into(),
            flags: "--x \"y,z\"".into(),
            runs: 4,
            verified: 2,
            falsified: 1,
            unknown: 1,
            timeouts: 1,
            memouts: 0,
            errors: 0,
            solved: 3,
            par2_s: 1.5,
            median_s: 0.25,
            total_s: 3.0,
            disagreements: 0,
        }
    }

    /// The CSV has every column, named as in `report.json`, in the same order.
    #[test]
    fn csv_columns_are_the_json_fields() {
        let csv = summary_csv(&[stats()]);
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let json = serde_json::to_value(stats()).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = header.clone();
        sorted.sort_unstable();
        let mut want = keys.clone();
        want.sort_unstable();
        assert_eq!(sorted, want);
        assert_eq!(csv.lines().nth(1).unwrap(), "a_b,4,2,1,1,1,0,0,3,1.500000,0.250000,3.000000,0,\"--x \"\"y,z\"\"\"");
    }

    #[test]
    fn markdown_and_latex_rows_match_their_headers() {
        let d = Data { records: vec![], configs: vec![], instances: vec![], duplicates: 0, unreadable: 0 };
        let md = markdown(&d, &[stats()]);
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], "| configuration | runs | verified | falsified | unknown | (timeout) | (memout) | error | solved | PAR-2 (s) | median (s) | total (s) |");
        assert_eq!(rows[1], "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        assert_eq!(rows[2], "| a_b | 4 | 2 | 1 | 1 | 1 | 0 | 0 | **3** | 1.500 | 0.250 | 3.000 |");
        let tex = latex(&d, &[stats()]);
        assert!(tex.contains("\\begin{tabular}{lrrrrrrrr}\n"), "{tex}");
        assert!(tex.contains("Configuration & Verified & Falsified & Unknown & Error & Solved & PAR-2 (s) & Median (s) & Total (s) \\\\\n"), "{tex}");
        assert!(tex.contains("a\\_b & 2 & 1 & 1 & 0 & 3 & 1.50 & 0.250 & 3.00 \\\\\n"), "{tex}");
    }
}
