//! `quiver report`: tables (Markdown, CSV, LaTeX, JSON), cactus and scatter plots (SVG) and a
//! per-instance table from one or more results directories (shards are merged).
//!
//! Any instance on which one configuration says `verified` and another gives a replayed
//! counterexample is a soundness alarm: it is listed first, in red, in every output. So is a
//! radius instance on which one configuration proves a level where another replayed a witness.
//!
//! Radius runs get their own tables (per configuration: instances, decided radii, mean interval
//! width of the undecided ones, time, pipeline runs; per instance: `radius [lower, upper)` and
//! time); the verification tables and plots cover the verification runs. Equivalence runs have
//! verdicts like verification runs and appear in those tables too, and in an equivalence table
//! of their own: per configuration, and per pair, relation and ε within it.

use super::record::{self, EquivResult, RadiusResult, Record};
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

/// Per-configuration figures of radius runs.
#[derive(Clone, Debug, Serialize)]
pub struct RadiusStats {
    pub config: String,
    pub flags: String,
    /// Radius runs (one per instance).
    pub instances: usize,
    /// Radii decided (`-1` included: the input itself violates).
    pub decided: usize,
    /// Robust on the whole input range (no radius).
    pub unbounded: usize,
    /// Runs that ended with an interval.
    pub undecided: usize,
    /// Runs without an answer: an error, or killed at the wall-clock limit.
    pub no_answer: usize,
    /// Mean `upper - lower` of the undecided runs (a missing `upper` counts as `max_eps + 1`).
    pub mean_width: Option<f64>,
    pub total_s: f64,
    pub mean_s: f64,
    /// Runs of the whole verification pipeline, over all instances.
    pub pipeline_runs: usize,
    /// Levels proved by bound propagation alone.
    pub bounds_levels: usize,
    /// Soundness alarms this configuration is part of.
    pub alarms: usize,
}

/// The radius tables as Markdown: per configuration, then per instance.
pub fn radius_markdown(d: &Data, stats: &[RadiusStats]) -> String {
    let mut s = String::from(
        "| configuration | instances | decided | unbounded | undecided | no answer | mean width (undecided) | total (s) | mean (s) | pipeline runs | levels by bounds |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for st in stats {
        let _ = writeln!(
            s,
            "| {} | {} | **{}** | {} | {} | {} | {} | {:.3} | {:.3} | {} | {} |",
            md_escape(&st.config),
            st.instances,
            st.decided,
            st.unbounded,
            st.undecided,
            st.no_answer,
            st.mean_width.map_or("–".to_string(), |w| format!("{w:.2}")),
            st.total_s,
            st.mean_s,
            st.pipeline_runs,
            st.bounds_levels
        );
    }
    s.push_str("\nConfigurations (`quiver radius` flags):\n\n");
    for c in stats {
        let _ = writeln!(s, "* `{}`: `{}`", c.config, if c.flags.is_empty() { "(defaults)" } else { &c.flags });
    }
    s.push_str(
        "\nA radius is decided when `upper = lower + 1` (proved robust up to `lower`, a witness replayed at `upper`); \
otherwise the run ends with the interval `lower <= radius < upper`. Width: `upper - lower`, a missing `upper` counted \
as `max_eps + 1`. Times are wall-clock seconds per radius search (child process start to exit).\n\n",
    );
    let cs: Vec<&String> = stats.iter().map(|st| &st.config).collect();
    let idx = d.index();
    s.push_str("| instance | expected |");
    for c in &cs {
        let _ = write!(s, " {}: radius [lower, upper) | s |", md_escape(c));
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---|---:|".repeat(cs.len()));
    s.push('\n');
    for i in radius_instances(d) {
        let exp = d.records.iter().find(|r| &r.instance == i).and_then(|r| r.expected_radius);
        let _ = write!(s, "| {} | {} |", md_escape(i), exp.map_or(String::new(), |k| k.to_string()));
        for c in &cs {
            match idx.get(&(i.as_str(), c.as_str())) {
                Some(r) => {
                    let _ = write!(s, " {} | {:.1} |", radius_cell(r), r.wall_seconds);
                }
                None => s.push_str(" — | |"),
            }
        }
        s.push('\n');
    }
    s
}

fn radius_instances(d: &Data) -> impl Iterator<Item = &String> {
    d.instances.iter().filter(|i| d.records.iter().any(|r| &r.instance == *i && r.is_radius()))
}

fn radius_cell(r: &Record) -> String {
    match (&r.radius, r.limit.as_deref()) {
        (Some(x), _) => x.text(),
        (None, Some("time")) => "killed (time)".into(),
        (None, Some("memory")) => "memout".into(),
        (None, _) => r.verdict.clone(),
    }
}

/// Per-configuration radius CSV (the fields of `report.json`'s `radius`).
pub fn radius_csv(stats: &[RadiusStats]) -> String {
    let mut s = String::from("config,instances,decided,unbounded,undecided,no_answer,mean_width,total_s,mean_s,pipeline_runs,bounds_levels,alarms,flags\n");
    for st in stats {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{:.6},{:.6},{},{},{},{}",
            csv_field(&st.config),
            st.instances,
            st.decided,
            st.unbounded,
            st.undecided,
            st.no_answer,
            st.mean_width.map_or(String::new(), |w| format!("{w:.6}")),
            st.total_s,
            st.mean_s,
            st.pipeline_runs,
            st.bounds_levels,
            st.alarms,
            csv_field(&st.flags)
        );
    }
    s
}

/// The per-configuration radius table as LaTeX (booktabs; alarms in red need `xcolor`).
pub fn radius_latex(d: &Data, stats: &[RadiusStats]) -> String {
    let mut s = String::from("% generated by `quiver report`; needs \\usepackage{booktabs} (and xcolor for alarms)\n");
    for a in d.alarms() {
        let _ = writeln!(s, "\\noindent\\textcolor{{red}}{{\\textbf{{{}}}}}\\\\", tex(&a));
    }
    s.push_str("\\begin{tabular}{lrrrrrr}\n\\toprule\n");
    s.push_str(
        "Configuration & Instances & Decided & Mean width & Total (s) & Mean (s) & Pipeline runs \\\\\n\\midrule\n",
    );
    for st in stats {
        let _ = writeln!(
            s,
            "{} & {} & {} & {} & {:.1} & {:.2} & {} \\\\",
            tex(&st.config),
            st.instances,
            st.decided,
            st.mean_width.map_or("--".to_string(), |w| format!("{w:.2}")),
            st.total_s,
            st.mean_s,
            st.pipeline_runs
        );
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

/// Per-instance radius CSV: radius, lower, upper and seconds per configuration (empty where
/// missing: undecided, no witness, no answer).
pub fn radius_instances_csv(d: &Data) -> String {
    let idx = d.index();
    let cs: Vec<String> = d.radius_stats().into_iter().map(|st| st.config).collect();
    let mut s = String::from("instance,expected_radius");
    for c in &cs {
        let _ = write!(s, ",{0}_radius,{0}_lower,{0}_upper,{0}_unbounded,{0}_verdict,{0}_seconds", csv_field(c));
    }
    s.push('\n');
    let opt = |v: Option<i64>| v.map_or(String::new(), |k| k.to_string());
    for i in radius_instances(d) {
        let exp = d.records.iter().find(|r| &r.instance == i).and_then(|r| r.expected_radius);
        let _ = write!(s, "{},{}", csv_field(i), opt(exp));
        for c in &cs {
            match idx.get(&(i.as_str(), c.as_str())) {
                Some(r) => {
                    let x = r.radius.as_ref();
                    let _ = write!(
                        s,
                        ",{},{},{},{},{},{:.6}",
                        opt(x.and_then(|x| x.radius)),
                        opt(x.map(|x| x.lower)),
                        opt(x.and_then(|x| x.upper)),
                        x.is_some_and(|x| x.unbounded),
                        r.verdict,
                        r.wall_seconds
                    );
                }
                None => s.push_str(",,,,,,"),
            }
        }
        s.push('\n');
    }
    s
}

/// Figures of a group of equivalence runs: one configuration's runs of one pair, relation and ε,
/// or (`pair`, `relation`, `eps` all `None`) all of one configuration's equivalence runs.
#[derive(Clone, Debug, Serialize)]
pub struct EquivStats {
    pub config: String,
    pub pair: Option<String>,
    pub relation: Option<String>,
    pub eps: Option<i64>,
    /// Input boxes (runs).
    pub boxes: usize,
    /// Equivalent on the box.
    pub verified: usize,
    /// A counterexample replayed on both networks.
    pub falsified: usize,
    /// Undecided, including runs stopped by a limit.
    pub unknown: usize,
    pub errors: usize,
    /// `100 · (verified + falsified) / boxes`.
    pub decided_pct: f64,
    /// Decided by bound propagation (LP tightening included), by the probe or the gradient
    /// search, by a complete backend.
    pub by_bounds: usize,
    pub by_search: usize,
    pub by_backend: usize,
    /// Wall-clock seconds per run (child process start to exit).
    pub median_s: f64,
    pub max_s: f64,
    pub total_s: f64,
}

fn equiv_stats_of(config: &str, key: Option<(&str, &str, i64)>, rs: &[&Record]) -> EquivStats {
    let n = |v: &str| rs.iter().filter(|r| r.verdict == v).count();
    let by = |k: &str| rs.iter().filter(|r| r.equiv.as_ref().and_then(EquivResult::decided_kind) == Some(k)).count();
    let mut times: Vec<f64> = rs.iter().map(|r| r.wall_seconds).collect();
    times.sort_by(f64::total_cmp);
    let (verified, falsified) = (n("verified"), n("falsified"));
    EquivStats {
        config: config.to_string(),
        pair: key.map(|k| k.0.to_string()),
        relation: key.map(|k| k.1.to_string()),
        eps: key.map(|k| k.2),
        boxes: rs.len(),
        verified,
        falsified,
        unknown: n("unknown"),
        errors: n("error"),
        decided_pct: if rs.is_empty() { 0.0 } else { 100.0 * (verified + falsified) as f64 / rs.len() as f64 },
        by_bounds: by("bounds"),
        by_search: by("search"),
        by_backend: by("backend"),
        median_s: median(&times),
        max_s: times.last().copied().unwrap_or(0.0),
        total_s: times.iter().sum(),
    }
}

/// The median of sorted values (0 for none).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        k if k % 2 == 1 => sorted[k / 2],
        k => (sorted[k / 2 - 1] + sorted[k / 2]) / 2.0,
    }
}

/// The equivalence table as Markdown: per configuration a total row, then one row per pair,
/// relation and ε.
pub fn equiv_markdown(stats: &[EquivStats]) -> String {
    let mut s = String::from(
        "| configuration | pair | relation | ε | boxes | verified | falsified | unknown | error | decided | by bounds / search / backend | median (s) | max (s) | total (s) |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n",
    );
    for st in stats {
        let total = st.pair.is_none();
        let b = |x: String| if total { format!("**{x}**") } else { x };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {:.3} | {:.3} | {:.3} |",
            md_escape(&st.config),
            b(st.pair.as_deref().map_or("all".to_string(), md_escape)),
            st.relation.as_deref().map_or(String::new(), |r| format!("`{}`", md_escape(r))),
            st.eps.map_or(String::new(), |e| e.to_string()),
            b(st.boxes.to_string()),
            st.verified,
            st.falsified,
            st.unknown,
            st.errors,
            b(format!("{:.0} %", st.decided_pct)),
            st.by_bounds,
            st.by_search,
            st.by_backend,
            st.median_s,
            st.max_s,
            st.total_s
        );
    }
    s.push_str(
        "\n`verified`: equivalent on the whole box; `falsified`: a counterexample the child replayed on both networks \
(saved under `witnesses/`). Relations: `same-class[/first-index]` (the predicted classes agree; first-index argmax \
ties), `delta:N` (integer outputs within N), `delta-real:X` (dequantized outputs within X, exact). \"search\" counts \
the probe of the box's center and corners with the gradient search. Times are wall-clock seconds per run.\n",
    );
    s
}

/// The equivalence table as LaTeX (booktabs; alarms in red need `xcolor`): a configuration's
/// total row, then its pairs, relations and ε, a rule between configurations.
pub fn equiv_latex(d: &Data, stats: &[EquivStats]) -> String {
    let mut s = String::from("% generated by `quiver report`; needs \\usepackage{booktabs} (and xcolor for alarms)\n");
    for a in d.alarms() {
        let _ = writeln!(s, "\\noindent\\textcolor{{red}}{{\\textbf{{{}}}}}\\\\", tex(&a));
    }
    s.push_str("\\begin{tabular}{lllrrrrrrrrr}\n\\toprule\n");
    s.push_str("Configuration & Pair & Relation & $\\varepsilon$ & Boxes & Verified & Falsified & Unknown & Decided (\\%) & Median (s) & Max (s) & Total (s) \\\\\n");
    for st in stats {
        if st.pair.is_none() {
            s.push_str("\\midrule\n");
        }
        let _ = writeln!(
            s,
            "{} & {} & {} & {} & {} & {} & {} & {} & {:.0} & {:.3} & {:.2} & {:.1} \\\\",
            tex(&st.config),
            st.pair.as_deref().map_or("all".to_string(), tex),
            st.relation.as_deref().map_or(String::new(), |r| format!("\\texttt{{{}}}", tex(r))),
            st.eps.map_or(String::new(), |e| e.to_string()),
            st.boxes,
            st.verified,
            st.falsified,
            st.unknown,
            st.decided_pct,
            st.median_s,
            st.max_s,
            st.total_s
        );
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

/// The equivalence table as CSV (the fields of `report.json`'s `equiv`; a configuration's total
/// row has empty pair, relation and eps).
pub fn equiv_csv(stats: &[EquivStats]) -> String {
    let mut s = String::from("config,pair,relation,eps,boxes,verified,falsified,unknown,errors,decided_pct,by_bounds,by_search,by_backend,median_s,max_s,total_s\n");
    for st in stats {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{:.2},{},{},{},{:.6},{:.6},{:.6}",
            csv_field(&st.config),
            st.pair.as_deref().map_or(String::new(), csv_field),
            st.relation.as_deref().map_or(String::new(), csv_field),
            st.eps.map_or(String::new(), |e| e.to_string()),
            st.boxes,
            st.verified,
            st.falsified,
            st.unknown,
            st.errors,
            st.decided_pct,
            st.by_bounds,
            st.by_search,
            st.by_backend,
            st.median_s,
            st.max_s,
            st.total_s
        );
    }
    s
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

    /// Radius instances whose intervals from different configurations do not meet.
    pub fn radius_alarms(&self) -> Vec<String> {
        self.instances
            .iter()
            .filter_map(|i| {
                let runs: Vec<(&str, &RadiusResult)> = self
                    .records
                    .iter()
                    .filter(|r| &r.instance == i)
                    .filter_map(|r| r.radius.as_ref().map(|x| (r.config.as_str(), x)))
                    .collect();
                record::radius_alarm(i, &runs)
            })
            .collect()
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
        v.extend(self.radius_alarms());
        v.extend(self.run_alarms());
        v
    }

    /// Are there verification (not radius) runs?
    pub fn has_verification(&self) -> bool {
        self.records.iter().any(|r| !r.is_radius())
    }

    /// Per-configuration figures of the verification runs.
    pub fn stats(&self) -> Vec<ConfigStats> {
        let dis = self.disagreements();
        self.configs
            .iter()
            .filter(|c| self.records.iter().any(|r| &r.config == *c && !r.is_radius()))
            .map(|c| {
                let rs: Vec<&Record> = self.records.iter().filter(|r| &r.config == c && !r.is_radius()).collect();
                let n = |v: &str| rs.iter().filter(|r| r.verdict == v).count();
                let mut times: Vec<f64> = rs.iter().map(|r| r.wall_seconds).collect();
                times.sort_by(f64::total_cmp);
                let median = median(&times);
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

    /// Per-configuration figures of the radius runs.
    pub fn radius_stats(&self) -> Vec<RadiusStats> {
        let alarms = self.radius_alarms();
        self.configs
            .iter()
            .filter(|c| self.records.iter().any(|r| &r.config == *c && r.is_radius()))
            .map(|c| {
                let rs: Vec<&Record> = self.records.iter().filter(|r| &r.config == c && r.is_radius()).collect();
                let found: Vec<&RadiusResult> = rs.iter().filter_map(|r| r.radius.as_ref()).collect();
                let open: Vec<&RadiusResult> = found.iter().copied().filter(|x| !x.decided()).collect();
                let total: f64 = rs.iter().map(|r| r.wall_seconds).sum();
                RadiusStats {
                    config: c.clone(),
                    flags: rs.first().map(|r| r.flags.clone()).unwrap_or_default(),
                    instances: rs.len(),
                    decided: found.iter().filter(|x| x.radius.is_some()).count(),
                    unbounded: found.iter().filter(|x| x.unbounded).count(),
                    undecided: open.len(),
                    no_answer: rs.len() - found.len(),
                    mean_width: (!open.is_empty())
                        .then(|| open.iter().map(|x| x.width() as f64).sum::<f64>() / open.len() as f64),
                    total_s: total,
                    mean_s: if rs.is_empty() { 0.0 } else { total / rs.len() as f64 },
                    pipeline_runs: found.iter().map(|x| x.pipeline_runs()).sum(),
                    bounds_levels: found
                        .iter()
                        .map(|x| x.levels.iter().filter(|l| l.method == "bounds" && l.verdict == "verified").count())
                        .sum(),
                    alarms: alarms.iter().filter(|a| a.contains(&format!("[{c}]"))).count()
                        + rs.iter().filter(|r| r.disagreement.is_some()).count(),
                }
            })
            .collect()
    }

    /// The equivalence table: per configuration (in order) its total, then its groups by pair,
    /// relation and ε (sorted).
    pub fn equiv_stats(&self) -> Vec<EquivStats> {
        let mut out = Vec::new();
        for c in &self.configs {
            let rs: Vec<&Record> = self.records.iter().filter(|r| &r.config == c && r.equiv.is_some()).collect();
            if rs.is_empty() {
                continue;
            }
            out.push(equiv_stats_of(c, None, &rs));
            let mut groups: std::collections::BTreeMap<(&str, &str, i64), Vec<&Record>> = Default::default();
            for r in &rs {
                if let Some(e) = &r.equiv {
                    groups.entry((e.pair.as_str(), e.relation.as_str(), e.eps)).or_default().push(r);
                }
            }
            out.extend(groups.into_iter().map(|(k, g)| equiv_stats_of(c, Some(k), &g)));
        }
        out
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
    let es = d.equiv_stats();
    if !es.is_empty() {
        s.push_str("## Equivalence\n\n");
        s.push_str(&equiv_markdown(&es));
        s.push('\n');
    }
    if d.records.iter().any(Record::is_radius) {
        s.push_str("## Maximum robustness radius\n\n");
        s.push_str(&radius_markdown(d, &d.radius_stats()));
        s.push('\n');
    }
    if stats.is_empty() {
        machine_line(d, &mut s);
        return s;
    }
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
    machine_line(d, &mut s);
    s
}

fn machine_line(d: &Data, s: &mut String) {
    if let Some(r) = d.records.first() {
        let _ = writeln!(
            s,
            "\nquiver {} (git {}), {} ({} cores, {}).",
            r.quiver_version, r.git_revision, r.machine.host, r.machine.cores, r.machine.cpu
        );
    }
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
    for i in d.instances.iter().filter(|i| d.records.iter().any(|r| &r.instance == *i && !r.is_radius())) {
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
    for i in d.instances.iter().filter(|i| d.records.iter().any(|r| &r.instance == *i && !r.is_radius())) {
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
        "radius": d.radius_stats(),
        "equiv": d.equiv_stats(),
        "disagreements": d.disagreements(),
        "radius_alarms": d.radius_alarms(),
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
    let mut files: Vec<(PathBuf, String)> =
        vec![(out.join("report.json"), serde_json::to_string_pretty(&json(d, &stats))? + "\n")];
    if d.records.iter().any(Record::is_radius) {
        let rs = d.radius_stats();
        files.push((out.join("radius.csv"), radius_csv(&rs)));
        files.push((out.join("radius.tex"), radius_latex(d, &rs)));
        files.push((out.join("radius_instances.csv"), radius_instances_csv(d)));
    }
    let es = d.equiv_stats();
    if !es.is_empty() {
        files.push((out.join("equiv.csv"), equiv_csv(&es)));
        files.push((out.join("equiv.tex"), equiv_latex(d, &es)));
    }
    if !d.has_verification() {
        files.push((out.join("summary.md"), markdown(d, &stats)));
    } else {
        files.extend([
            (out.join("summary.md"), markdown(d, &stats) + "\n## Per instance\n\n" + &instances_markdown(d)),
            (out.join("summary.csv"), summary_csv(&stats)),
            (out.join("summary.tex"), latex(d, &stats)),
            (out.join("instances.csv"), instances_csv(d)),
            (out.join("cactus.svg"), cactus(d)),
        ]);
    }
    let verify_configs: Vec<String> = stats.iter().map(|st| st.config.clone()).collect();
    for (a, b) in scatter_pairs(&verify_configs) {
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

    /// The equivalence CSV has every field of `report.json`'s `equiv`, and a configuration's
    /// total row leaves the group columns empty.
    #[test]
    fn equiv_csv_columns_are_the_json_fields() {
        let st = EquivStats {
            config: "c".into(),
            pair: None,
            relation: None,
            eps: None,
            boxes: 4,
            verified: 2,
            falsified: 1,
            unknown: 1,
            errors: 0,
            decided_pct: 75.0,
            by_bounds: 2,
            by_search: 1,
            by_backend: 0,
            median_s: 0.5,
            max_s: 2.0,
            total_s: 3.0,
        };
        let csv = equiv_csv(std::slice::from_ref(&st));
        let mut header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        header.sort_unstable();
        let json = serde_json::to_value(&st).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(header, keys);
        assert_eq!(csv.lines().nth(1).unwrap(), "c,,,,4,2,1,1,0,75.00,2,1,0,0.500000,2.000000,3.000000");
        let d = Data { records: vec![], configs: vec![], instances: vec![], duplicates: 0, unreadable: 0 };
        let tex = equiv_latex(&d, std::slice::from_ref(&st));
        assert!(tex.contains("\\midrule\nc & all &  &  & 4 & 2 & 1 & 1 & 75 & 0.500 & 2.00 & 3.0 \\\\\n"), "{tex}");
        let md = equiv_markdown(&[st]);
        assert!(
            md.contains("| c | **all** |  |  | **4** | 2 | 1 | 1 | 0 | **75 %** | 2 / 1 / 0 | 0.500 | 2.000 | 3.000 |"),
            "{md}"
        );
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
