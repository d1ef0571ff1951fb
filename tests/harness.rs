//! End-to-end tests of the experiment harness (`quiver bench`, `report`, `regress`, VNN-COMP
//! files) on small suites made from the bundled model: real child processes, real files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_quiver")
}

fn quiver(args: &[&str]) -> Output {
    Command::new(exe()).args(args).output().expect("run quiver")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A robustness suite over the bundled model and vectors: `(index, eps, expected)` rows.
fn bundled_suite(dir: &Path, name: &str, rows: &[(usize, u32, &str)]) -> PathBuf {
    let mut t = String::from("model,images,labels,index,eps,timeout_s,expected\n");
    for (i, e, x) in rows {
        t.push_str(&format!("@bundled,@bundled,@bundled,{i},{e},30,{x}\n"));
    }
    let p = dir.join(name);
    std::fs::write(&p, t).unwrap();
    p
}

const FAST: &str = "bounds-only=--backend none --search off";
const FULL: &str = "full=--search-budget 0.2";

fn records(dir: &Path) -> Vec<serde_json::Value> {
    let t = std::fs::read_to_string(dir.join("results.jsonl")).unwrap_or_default();
    t.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn keys(dir: &Path) -> Vec<(String, String)> {
    records(dir)
        .iter()
        .map(|r| (r["instance"].as_str().unwrap().to_string(), r["config"].as_str().unwrap().to_string()))
        .collect()
}

fn verdicts(dir: &Path) -> BTreeMap<(String, String), String> {
    records(dir)
        .iter()
        .map(|r| {
            (
                (r["instance"].as_str().unwrap().to_string(), r["config"].as_str().unwrap().to_string()),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn rows(n: usize) -> Vec<(usize, u32, &'static str)> {
    (0..n).map(|k| (k, [1, 2, 16, 32][k % 4], "")).collect()
}

#[test]
fn bench_runs_every_pair_in_parallel_and_records_it() {
    let d = tempfile::tempdir().unwrap();
    let suite = bundled_suite(d.path(), "s.csv", &rows(8));
    let out = d.path().join("out");
    let o = quiver(&["bench", s(&suite), "--config", FAST, "--config", FULL, "-j", "2", "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 16, "{}", text(&o));
    let uniq: BTreeSet<_> = keys(&out).into_iter().collect();
    assert_eq!(uniq.len(), 16);
    for r in &recs {
        for f in ["wall_seconds", "time_limit_s", "peak_rss_mb", "started_unix"] {
            assert!(r[f].as_f64().is_some(), "{f} in {r}");
        }
        assert!(r["peak_rss_mb"].as_f64().unwrap() > 1.0, "{r}");
        assert!(!r["git_revision"].as_str().unwrap().is_empty());
        assert!(r["machine"]["cores"].as_u64().unwrap() >= 1);
        assert_eq!(r["time_limit_s"], 30.0);
        assert!(r["args"].as_array().unwrap().iter().any(|a| a == "--json"));
        // The child's typed job: the instance's property, the effective time limit and seed,
        // in the job file the child read.
        assert_eq!(r["job"]["options"]["timeout"], 30.0, "{r}");
        let args: Vec<&str> = r["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let at = args.iter().position(|a| *a == "--job").expect("--job") + 1;
        let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(args[at]).unwrap()).unwrap();
        assert_eq!(file, r["job"]);
        assert_eq!(r["job"]["property"]["kind"], "robust", "{r}");
        assert!(r["job"]["options"]["seed"].as_u64().is_some(), "{r}");
        let v = r["verdict"].as_str().unwrap();
        assert!(["verified", "falsified", "unknown"].contains(&v), "{r}");
        assert!(!r["stages"].as_array().unwrap().is_empty(), "{r}");
        if v == "falsified" {
            let w = out.join(r["witness"].as_str().expect("witness file"));
            let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&w).unwrap()).unwrap();
            assert_eq!(doc["witness"]["input"].as_array().unwrap().len(), 784);
        }
    }
    // The full pipeline decides everything here, and a decided run of the bounds-only
    // configuration never contradicts it.
    let v = verdicts(&out);
    for ((i, c), verdict) in &v {
        if c == "full" {
            assert_ne!(verdict, "unknown", "{i}");
            let other = &v[&(i.clone(), "bounds-only".to_string())];
            assert!(other == verdict || other == "unknown", "{i}: {verdict} vs {other}");
        }
    }
    // Rerunning the same command records nothing new.
    let before = std::fs::read(out.join("results.jsonl")).unwrap();
    let o = quiver(&["bench", s(&suite), "--config", FAST, "--config", FULL, "-j", "2", "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("16 already recorded, 0 run now"), "{}", text(&o));
    assert_eq!(std::fs::read(out.join("results.jsonl")).unwrap(), before);
    // --list prints the ids.
    let o = quiver(&["bench", s(&suite), "--list"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 8);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("bundled/bundled#0/eps1\n"));
}

/// Kill the harness (SIGKILL, then SIGINT) in the middle of a run, plant a truncated line, rerun:
/// nothing recorded is lost or rewritten, nothing is recorded twice, everything gets done.
#[test]
fn interrupted_runs_resume_without_loss_or_duplicates() {
    let d = tempfile::tempdir().unwrap();
    let suite = bundled_suite(d.path(), "s.csv", &rows(40));
    let out = d.path().join("out");
    let args = ["bench", s(&suite), "--config", FAST, "-j", "1", "--out", s(&out)];
    let mut prefix = Vec::new();
    for sig in [libc::SIGKILL, libc::SIGINT] {
        let mut child = Command::new(exe()).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let start = Instant::now();
        let target = keys(&out).len() + 3;
        while keys(&out).len() < target && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(2));
        }
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        let st = child.wait().unwrap();
        if sig == libc::SIGINT {
            assert!(st.code() == Some(130) || st.code() == Some(0), "{st:?}");
        }
        let now = std::fs::read(out.join("results.jsonl")).unwrap();
        assert!(now.starts_with(&prefix), "recorded lines were rewritten");
        prefix = now;
        let n = keys(&out).len();
        assert!(n < 40, "the run finished before it could be interrupted ({n})");
    }
    // Ctrl-C at a terminal: SIGINT to the whole process group, the runs included.
    {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(exe())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let start = Instant::now();
        let target = keys(&out).len() + 3;
        while keys(&out).len() < target && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(2));
        }
        // SAFETY: signalling the process group of our own child.
        unsafe {
            libc::kill(-(child.id() as i32), libc::SIGINT);
        }
        let st = child.wait().unwrap();
        assert!(st.code() == Some(130) || st.code() == Some(0), "{st:?}");
        let now = std::fs::read(out.join("results.jsonl")).unwrap();
        assert!(now.starts_with(&prefix), "recorded lines were rewritten");
        assert!(records(&out).iter().all(|r| r["verdict"] != "error"), "an interrupted run was recorded");
        assert!(keys(&out).len() < 40);
    }
    // A line cut short by a kill in the middle of a write.
    let mut f = std::fs::OpenOptions::new().append(true).open(out.join("results.jsonl")).unwrap();
    std::io::Write::write_all(&mut f, b"{\"schema\":1,\"instance\":\"bundled/bund").unwrap();
    drop(f);
    let with_partial = std::fs::read(out.join("results.jsonl")).unwrap();
    let o = Command::new(exe()).args(args).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let all = std::fs::read(out.join("results.jsonl")).unwrap();
    assert!(all.starts_with(&with_partial), "nothing already in the file may change");
    let k = keys(&out);
    let uniq: BTreeSet<_> = k.iter().cloned().collect();
    assert_eq!(k.len(), 40, "no duplicates");
    assert_eq!(uniq.len(), 40, "no loss");
}

#[test]
fn report_writes_tables_and_plots_that_parse() {
    let d = tempfile::tempdir().unwrap();
    let suite = bundled_suite(d.path(), "s.csv", &rows(8));
    let out = d.path().join("out");
    let o = quiver(&["bench", s(&suite), "--config", FAST, "--config", FULL, "-j", "2", "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let rep = d.path().join("rep");
    let o = quiver(&["report", s(&out), "--out", s(&rep)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("| bounds-only |") && md.contains("PAR-2"), "{md}");
    // summary.csv: header + one row per configuration, every field present.
    let csv = std::fs::read_to_string(rep.join("summary.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(lines.len(), 3);
    let mut solved = BTreeMap::new();
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), header.len(), "{l}");
        let get = |name: &str| f[header.iter().position(|h| *h == name).unwrap()];
        let n = |name: &str| get(name).parse::<usize>().unwrap();
        assert_eq!(n("runs"), 8);
        assert_eq!(n("verified") + n("falsified") + n("unknown") + n("errors"), 8);
        assert_eq!(n("solved"), n("verified") + n("falsified"));
        assert!(get("par2_s").parse::<f64>().unwrap() > 0.0);
        assert_eq!(n("disagreements"), 0);
        solved.insert(get("config").to_string(), n("solved"));
    }
    assert_eq!(solved["full"], 8);
    // instances.csv: one row per instance, verdict and seconds per configuration.
    let inst = std::fs::read_to_string(rep.join("instances.csv")).unwrap();
    assert_eq!(inst.lines().count(), 9);
    assert!(inst.lines().next().unwrap().contains("full_verdict,full_seconds"));
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["instances"], 8);
    assert_eq!(j["configs"].as_array().unwrap().len(), 2);
    assert!(j["disagreements"].as_array().unwrap().is_empty());
    let tex = std::fs::read_to_string(rep.join("summary.tex")).unwrap();
    assert!(tex.contains("\\begin{tabular}") && tex.contains("bounds-only"));
    for svg in ["cactus.svg", "scatter_bounds-only_vs_full.svg"] {
        let t = std::fs::read_to_string(rep.join(svg)).unwrap_or_else(|e| panic!("{svg}: {e}"));
        assert!(t.starts_with("<svg") && t.trim_end().ends_with("</svg>"), "{svg}");
        assert!(t.contains("<polyline") || t.contains("<circle"), "{svg}");
        assert!(!t.contains("NaN") && !t.contains("inf"), "{svg}");
    }
}

/// A contradiction between configurations is a soundness alarm at the top of every output.
#[test]
fn report_puts_a_planted_disagreement_first_in_red() {
    let d = tempfile::tempdir().unwrap();
    let suite = bundled_suite(d.path(), "s.csv", &rows(4));
    let out = d.path().join("out");
    let o = quiver(&["bench", s(&suite), "--config", FULL, "--config", "other=--search-budget 0.1", "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Plant: flip one verified run of `other` to falsified.
    let t = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let mut planted = None;
    let lines: Vec<String> = t
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if planted.is_none() && v["config"] == "other" && v["verdict"] == "verified" {
                v["verdict"] = "falsified".into();
                planted = Some(v["instance"].as_str().unwrap().to_string());
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    let planted = planted.expect("a verified run");
    std::fs::write(out.join("results.jsonl"), lines.join("\n") + "\n").unwrap();
    let rep = d.path().join("rep");
    let o = quiver(&["report", s(&out), "--out", s(&rep)]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let md = std::fs::read_to_string(rep.join("summary.md")).unwrap();
    let first = md.find("SOUNDNESS ALARM").expect("alarm in summary.md");
    assert!(first < md.find("| configuration |").unwrap(), "the alarm comes first");
    assert!(md.contains("[!CAUTION]") && md.contains("color:red") && md.contains(&planted));
    let svg = std::fs::read_to_string(rep.join("cactus.svg")).unwrap();
    assert!(svg.contains(r#"fill="red""#) && svg.contains("SOUNDNESS ALARM"));
    assert!(std::fs::read_to_string(rep.join("summary.tex")).unwrap().contains("\\textcolor{red}"));
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["disagreements"][0]["instance"], planted.as_str());
    let csv = std::fs::read_to_string(rep.join("summary.csv")).unwrap();
    assert!(csv.lines().skip(1).all(|l| l.split(',').nth(12) == Some("1")), "{csv}");
    let inst = std::fs::read_to_string(rep.join("instances.csv")).unwrap();
    assert!(inst.lines().any(|l| l.starts_with(&format!("{planted},")) && l.contains(",true")));
    // And `bench` on that directory reports it too (exit 3).
    let o = quiver(&["bench", s(&suite), "--config", FULL, "--config", "other=--search-budget 0.1", "--out", s(&out)]);
    assert_eq!(code(&o), 3, "{}", text(&o));
}

#[test]
fn regress_passes_on_true_verdicts_and_fails_on_a_planted_contradiction() {
    let d = tempfile::tempdir().unwrap();
    // Learn the true verdicts with the full pipeline.
    let probe = bundled_suite(d.path(), "probe.csv", &rows(8));
    let gold = d.path().join("gold");
    let o = quiver(&["bench", s(&probe), "--config", FULL, "--out", s(&gold)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let truth: Vec<(usize, u32, String)> = rows(8)
        .iter()
        .map(|&(i, e, _)| {
            let v = verdicts(&gold)[&(format!("bundled/bundled#{i}/eps{e}"), "full".to_string())].clone();
            (i, e, v)
        })
        .collect();
    assert!(truth.iter().any(|t| t.2 == "verified") && truth.iter().any(|t| t.2 == "falsified"), "{truth:?}");
    let as_rows = |t: &[(usize, u32, String)]| -> Vec<(usize, u32, String)> { t.to_vec() };
    let write = |name: &str, t: &[(usize, u32, String)]| {
        let r: Vec<(usize, u32, &str)> = t.iter().map(|(i, e, v)| (*i, *e, v.as_str())).collect();
        bundled_suite(d.path(), name, &r)
    };
    let good = write("good.csv", &as_rows(&truth));
    let o = quiver(&["regress", s(&good), "--config", FULL]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("PASS"), "{}", text(&o));
    // Plant a contradiction.
    let mut bad = as_rows(&truth);
    let k = bad.iter().position(|t| t.2 == "verified").unwrap();
    bad[k].2 = "falsified".into();
    let badp = write("bad.csv", &bad);
    let o = quiver(&["regress", s(&badp), "--config", FULL]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("CONTRADICTION") && out.contains(&format!("bundled/bundled#{}/", bad[k].0)), "{out}");
    // The same with --expected FILE against a suite without expected verdicts, and against a
    // golden results directory.
    let plain = bundled_suite(d.path(), "plain.csv", &rows(8));
    let exp = d.path().join("expected.csv");
    let mut t = String::from("instance,expected\n");
    for (i, e, v) in &bad {
        t.push_str(&format!("bundled/bundled#{i}/eps{e},{}\n", if v == "verified" { "holds" } else { "violated" }));
    }
    std::fs::write(&exp, t).unwrap();
    let o = quiver(&["regress", s(&plain), "--expected", s(&exp), "--results", s(&gold)]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let o = quiver(&["regress", s(&plain), "--expected", s(&gold), "--results", s(&gold)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Unknown against an expected verdict: fails unless allowed, reported separately.
    let weak = "weak=--backend none --search off --bounds none --no-probe";
    let o = quiver(&["regress", s(&good), "--config", weak]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("UNKNOWN"), "{}", text(&o));
    let o = quiver(&["regress", s(&good), "--config", weak, "--allow-unknown"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("(allowed)"), "{}", text(&o));
}

#[test]
fn shards_merge_to_the_single_run() {
    let d = tempfile::tempdir().unwrap();
    let suite = bundled_suite(d.path(), "s.csv", &rows(10));
    let single = d.path().join("single");
    let o = quiver(&["bench", s(&suite), "--config", FAST, "--config", FULL, "-j", "2", "--out", s(&single)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let mut dirs = Vec::new();
    let mut seen = BTreeSet::new();
    for k in 1..=3 {
        let dir = d.path().join(format!("shard-{k}"));
        let o = quiver(&[
            "bench",
            s(&suite),
            "--config",
            FAST,
            "--config",
            FULL,
            "--shard",
            &format!("{k}/3"),
            "--out",
            s(&dir),
        ]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        for key in keys(&dir) {
            assert!(seen.insert(key.clone()), "{key:?} in two shards");
        }
        assert!(records(&dir).iter().all(|r| r["shard"] == format!("{k}/3")));
        dirs.push(dir);
    }
    let single_keys: BTreeSet<_> = keys(&single).into_iter().collect();
    assert_eq!(seen, single_keys);
    let mut merged = BTreeMap::new();
    for dir in &dirs {
        merged.extend(verdicts(dir));
    }
    assert_eq!(merged, verdicts(&single), "same verdicts");
    let rep_m = d.path().join("rep-merged");
    let rep_s = d.path().join("rep-single");
    let mut args = vec!["report"];
    args.extend(dirs.iter().map(|p| s(p)));
    args.extend(["--out", s(&rep_m), "--quiet"]);
    assert_eq!(code(&quiver(&args)), 0);
    assert_eq!(code(&quiver(&["report", s(&single), "--out", s(&rep_s), "--quiet"])), 0);
    let col = |p: &Path, k: usize| -> Vec<String> {
        std::fs::read_to_string(p.join("instances.csv"))
            .unwrap()
            .lines()
            .map(|l| l.split(',').take(k).collect::<Vec<_>>().join(","))
            .collect()
    };
    // Same instances in the same order, same verdicts (times differ).
    assert_eq!(col(&rep_m, 1), col(&rep_s, 1));
    let verdict_cols = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("instances.csv"))
            .unwrap()
            .lines()
            .map(|l| {
                l.split(',')
                    .enumerate()
                    .filter(|(i, _)| *i < 3 || i % 2 == 1)
                    .map(|(_, f)| f)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    };
    assert_eq!(verdict_cols(&rep_m), verdict_cols(&rep_s));
    let summary = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("summary.csv"))
            .unwrap()
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                [&f[..9], &f[12..]].concat().join(",")
            })
            .collect()
    };
    assert_eq!(summary(&rep_m), summary(&rep_s));
    assert_eq!(code(&quiver(&["bench", s(&suite), "--shard", "4/3", "--out", s(&single)])), 2);
}

/// Parse a VNN-COMP counterexample the way the competition's scorer does
/// (`vnncomp2022_results/SCORING/counterexamples.py`, `get_ce_diff`).
fn scorer_parse(ce: &str) -> (Vec<f64>, Vec<f64>) {
    let content = ce.replace('\n', " ");
    let content = content.trim();
    assert!(content.starts_with('(') && content.ends_with(')'), "{content}");
    let content = &content[1..content.len() - 1];
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for part in content.split(')') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        assert!(part.starts_with('('), "{part}");
        let fields: Vec<&str> = part[1..].split(' ').collect();
        assert_eq!(fields.len(), 2, "exactly `NAME VALUE`: {part}");
        let v: f64 = fields[1].parse().unwrap_or_else(|_| panic!("{part}"));
        match &fields[0][..2] {
            "X_" => {
                assert_eq!(fields[0][2..].parse::<usize>().unwrap(), x.len());
                x.push(v)
            }
            "Y_" => {
                assert_eq!(fields[0][2..].parse::<usize>().unwrap(), y.len());
                y.push(v)
            }
            other => panic!("{other}"),
        }
    }
    (x, y)
}

fn vnnlib(lo: &[f64], hi: &[f64], label: usize) -> String {
    let mut t = String::new();
    for i in 0..lo.len() {
        t.push_str(&format!("(declare-const X_{i} Real)\n"));
    }
    for j in 0..10 {
        t.push_str(&format!("(declare-const Y_{j} Real)\n"));
    }
    for i in 0..lo.len() {
        t.push_str(&format!("(assert (>= X_{i} {:.9}))\n(assert (<= X_{i} {:.9}))\n", lo[i], hi[i]));
    }
    t.push_str("(assert (or\n");
    for j in (0..10).filter(|&j| j != label) {
        t.push_str(&format!("  (and (>= Y_{j} Y_{label}))\n"));
    }
    t.push_str("))\n");
    t
}

#[test]
fn vnncomp_instances_csv_and_result_files() {
    let d = tempfile::tempdir().unwrap();
    // An ORT-quantized MNIST MLP with 7-bit weights: its arithmetic is the same on every x86-64
    // CPU, so the default ONNX import accepts it (tests/onnx.rs).
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx");
    std::fs::copy(models.join("mnist_mlp_ort_qdq_rr.onnx"), d.path().join("net.onnx")).unwrap();
    std::fs::write(d.path().join("float.onnx"), b"not an onnx file").unwrap();
    let vec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(models.join("mnist_mlp_ort_qdq_rr.json")).unwrap()).unwrap();
    let x: Vec<f64> = vec["inputs"][0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let y: Vec<i64> = vec["outputs"][0].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    let label = (0..10).max_by_key(|&j| (y[j], std::cmp::Reverse(j))).unwrap();
    let scale = 1.0 / 255.0;
    let lo: Vec<f64> = x.iter().map(|v| v * scale - 0.0005).collect();
    let hi: Vec<f64> = x.iter().map(|v| v * scale + 0.0005).collect();
    std::fs::write(d.path().join("point.vnnlib"), vnnlib(&lo, &hi, label)).unwrap();
    std::fs::write(d.path().join("wide.vnnlib"), vnnlib(&vec![0.0; 784], &vec![1.0; 784], label)).unwrap();
    let csv = d.path().join("instances.csv");
    std::fs::write(&csv, "net.onnx,point.vnnlib,30\nnet.onnx,wide.vnnlib,30\nfloat.onnx,point.vnnlib,30\n").unwrap();
    let out = d.path().join("out");
    let o = quiver(&["bench", s(&csv), "--config", FULL, "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v = verdicts(&out);
    let get = |i: &str| v[&(i.to_string(), "full".to_string())].as_str();
    assert_eq!(get("net/point"), "verified");
    assert_eq!(get("net/wide"), "falsified");
    assert_eq!(get("float/point"), "error");
    let result = |i: &str| std::fs::read_to_string(out.join(format!("vnncomp/full/{i}.txt"))).unwrap();
    assert_eq!(result("net_point"), "unsat\n");
    assert_eq!(result("float_point"), "error\n");
    let sat = result("net_wide");
    let (first, rest) = sat.split_once('\n').unwrap();
    assert_eq!(first, "sat");
    let (cx, cy) = scorer_parse(rest);
    assert_eq!((cx.len(), cy.len()), (784, 10));
    assert!(cx.iter().all(|&v| (0.0..=1.0).contains(&v)), "inside the box");
    assert!((0..10).any(|j| j != label && cy[j] >= cy[label]), "violates the property");
    // The report writes the scorer's results table.
    let rep = d.path().join("rep");
    assert_eq!(code(&quiver(&["report", s(&out), "--out", s(&rep), "--quiet"])), 0);
    let t = std::fs::read_to_string(rep.join("vnncomp_full.csv")).unwrap();
    let words: Vec<&str> = t.lines().map(|l| l.split(',').nth(4).unwrap()).collect();
    assert_eq!(words, ["unsat", "sat", "error"]);
    assert!(t.lines().all(|l| l.split(',').count() == 6 && l.starts_with("instances,")));
    // verify --vnncomp-result directly, including a file that cannot be loaded.
    let f = d.path().join("r.txt");
    let o = quiver(&[
        "verify",
        s(&d.path().join("float.onnx")),
        "--vnnlib",
        s(&d.path().join("point.vnnlib")),
        "--vnncomp-result",
        s(&f),
    ]);
    assert_eq!(code(&o), 2);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "error\n");
}

#[test]
fn bad_configurations_are_one_line_errors() {
    let d = tempfile::tempdir().unwrap();
    let suite = bundled_suite(d.path(), "s.csv", &rows(2));
    let out = d.path().join("out");
    for (cfg, needle) in [
        ("x=--no-such-flag", "configuration `x`"),
        ("x=--eps 3", "belongs to the instance"),
        ("x=--ort-cpu=vnni", "belongs to the instance"),
        ("x=--timeout 0", "--timeout must be a positive number"),
        ("x=--backend cplex", "unknown backend"),
        ("x=--search \"off", "quotes"),
        ("x=--json", "set by the harness"),
        ("bad name=--search off", "configuration name"),
        ("noequals", "NAME=FLAGS"),
    ] {
        let o = quiver(&["bench", s(&suite), "--config", cfg, "--out", s(&out)]);
        assert_eq!(code(&o), 2, "{cfg}: {}", text(&o));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.starts_with("error: ") && e.trim_end().lines().count() == 1 && e.contains(needle), "{cfg}: {e}");
    }
    // A configuration file (TOML lines and JSON), and a name reused with other flags.
    let toml = d.path().join("c.toml");
    std::fs::write(
        &toml,
        "# configs\n[configs]\nfast = { backends = [\"none\"], search = \"off\" }\nfull = \"--timeout 5\"\n",
    )
    .unwrap();
    let o = quiver(&["bench", s(&suite), "--configs", s(&toml), "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 4);
    assert!(recs.iter().any(|r| r["config"] == "full" && r["time_limit_s"] == 5.0));
    let json = d.path().join("c.json");
    std::fs::write(&json, r#"{"fast": "--backend none"}"#).unwrap();
    let o = quiver(&["bench", s(&suite), "--configs", s(&json), "--out", s(&out)]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("was recorded with flags"));
}

#[test]
fn runner_enforces_time_and_memory_limits() {
    use quiver::harness::runner::{run, Limits};
    let t = Instant::now();
    let o = run(
        Path::new("/bin/sleep"),
        &["5".to_string()],
        Limits { wall: Duration::from_millis(300), memory_bytes: None, cpu: None },
    )
    .unwrap();
    assert!(o.killed_for_time && o.signal == Some(libc::SIGKILL), "{o:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
    let o = run(
        Path::new("/bin/sh"),
        &["-c".to_string(), "echo hi; exit 7".to_string()],
        Limits { wall: Duration::from_secs(10), memory_bytes: None, cpu: None },
    )
    .unwrap();
    assert_eq!((o.exit_code, o.stdout.as_str(), o.killed_for_time), (Some(7), "hi\n", false));
    // quiver under a 16 MiB address-space limit cannot even start its runtime: the run fails,
    // the harness does not.
    match run(
        Path::new(exe()),
        &["info".to_string(), "@bundled".to_string()],
        Limits { wall: Duration::from_secs(10), memory_bytes: Some(16 << 20), cpu: None },
    ) {
        Err(_) => {} // exec itself failed
        Ok(o) => assert!(o.exit_code != Some(0), "{o:?}"),
    }
    // Peak memory is measured.
    let o = run(
        Path::new(exe()),
        &["info".to_string(), "@bundled".to_string()],
        Limits { wall: Duration::from_secs(10), memory_bytes: Some(1 << 30), cpu: None },
    )
    .unwrap();
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    assert!(o.peak_rss_kib > 1000, "{o:?}");
}

/// `Limits::cpu` confines the child to that CPU (the kernel's own account of it, from
/// /proc/self/status); `bench --pin` records the CPU of each run and refuses more jobs than CPUs.
#[cfg(target_os = "linux")]
#[test]
fn pinned_runs_get_one_cpu_of_their_own() {
    use quiver::harness::runner::{allowed_cpus, run, Limits};
    let cpus = allowed_cpus();
    assert!(!cpus.is_empty());
    for &c in &cpus {
        let o = run(
            Path::new("/bin/sh"),
            &["-c".to_string(), "grep Cpus_allowed_list /proc/self/status".to_string()],
            Limits { wall: Duration::from_secs(10), memory_bytes: None, cpu: Some(c) },
        )
        .unwrap();
        assert_eq!(o.stdout.split_whitespace().last(), Some(c.to_string().as_str()), "{o:?}");
    }
    let d = tempfile::tempdir().unwrap();
    let suite = d.path().join("s.csv");
    std::fs::write(&suite, "model,images,labels,index,eps,timeout_s,expected\n@bundled,@bundled,@bundled,0,1,10,\n@bundled,@bundled,@bundled,1,1,10,\n")
        .unwrap();
    let out = d.path().join("r");
    let jobs = cpus.len().to_string();
    let o = quiver(&["bench", s(&suite), "--config", "c=--backend none", "--pin", "--jobs", &jobs, "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let recs: Vec<serde_json::Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 2);
    for r in &recs {
        let c = r["cpu"].as_u64().unwrap_or_else(|| panic!("no cpu in {r}")) as usize;
        assert!(cpus.contains(&c), "{r}");
    }
    let too_many = (cpus.len() + 1).to_string();
    let o = quiver(&["bench", s(&suite), "--pin", "--jobs", &too_many, "--out", s(&d.path().join("r2"))]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("CPU of its own"), "{}", text(&o));
    assert!(!d.path().join("r2").exists(), "nothing is written when --pin is refused");
}

#[test]
fn suites_read_both_layouts_with_ids_tie_rules_and_expected_verdicts() {
    use quiver::harness::suite;
    use quiver::query::{Input, Property};
    use quiver::spec::robust::{Radius, TieRule};
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("t.csv");
    std::fs::write(
        &p,
        "# a comment\nmodel,images,labels,index,eps,timeout_s,expected,tie\n\
         @bundled,@bundled,@bundled,5,2,60,verified,first-index\n@bundled,@bundled,@bundled,5,2,60,,\n",
    )
    .unwrap();
    let s = suite::load(&p, TieRule::AnyTieUnsafe).unwrap();
    assert_eq!(s.layout, "quiver");
    let ids: Vec<&str> = s.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["bundled/bundled#5/eps2/first-index", "bundled/bundled#5/eps2"]);
    let robust = |i: usize| match s.instances[i].property().expect("a property") {
        Property::Robust { input: Input::Dataset { labels, index, .. }, radius, tie, .. } => {
            (labels.clone(), *index, *radius, *tie)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(robust(0), (None, 5, Radius::Integer(2), TieRule::FirstIndex), "labels come with @bundled");
    assert_eq!(robust(1).3, TieRule::AnyTieUnsafe);
    assert_eq!(s.instances[0].timeout_s, Some(60.0));
    // The default tie rule applies to rows without one; then the two rows are the same instance.
    let e = suite::load(&p, TieRule::FirstIndex).unwrap_err().to_string();
    assert!(e.contains("duplicate instance") && e.contains("t.csv:4"), "{e}");
    // A VNN-COMP instances.csv.
    let v = d.path().join("instances.csv");
    std::fs::write(
        &v,
        "onnx/a.onnx,vnnlib/p_1.vnnlib,120\na.onnx,p_2.vnnlib,60,holds\nb.onnx,p_2.vnnlib,60,violated\n",
    )
    .unwrap();
    let s = suite::load(&v, TieRule::AnyTieUnsafe).unwrap();
    assert_eq!(s.layout, "vnncomp");
    let ids: Vec<&str> = s.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["a/p_1", "a/p_2", "b/p_2"]);
    assert_eq!(s.instances[0].model.path, d.path().join("onnx/a.onnx"));
    assert!(
        matches!(s.instances[0].property(), Some(Property::Vnnlib { path, .. }) if *path == d.path().join("vnnlib/p_1.vnnlib"))
    );
    let exp: Vec<_> = s.instances.iter().map(|i| i.expected().map(|e| e.as_str())).collect();
    assert_eq!(exp, [None, Some("verified"), Some("falsified")]);
    for bad in ["a.onnx,p.vnnlib\n", "a.onnx,p.vnnlib,-1\n", "a.onnx,p.vnnlib,60,maybe\n"] {
        std::fs::write(&v, bad).unwrap();
        assert!(suite::load(&v, TieRule::AnyTieUnsafe).is_err(), "{bad}");
    }
    assert_eq!(suite::parse_shard("2/5"), Ok((2, 5)));
    for bad in ["0/3", "4/3", "1/0", "x", "1/2/3"] {
        assert!(suite::parse_shard(bad).is_err(), "{bad}");
    }
}

#[test]
fn verify_reads_the_bundled_vectors_as_a_dataset() {
    let o =
        quiver(&["verify", "@bundled", "--robust", "--dataset", "@bundled", "--index", "0", "--eps", "1", "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let label = quiver::bundled::vectors().labels[0];
    assert!(v["property"].as_str().unwrap().contains(&format!("class {label},")), "{v}");
    let o = quiver(&["verify", "@bundled", "--robust", "--dataset", "@bundled", "--index", "200", "--eps", "1"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("index 200 out of range (200 vectors)"), "{}", text(&o));
}

/// A run that exceeds the memory limit is recorded as `unknown` with `limit: memory`; the harness
/// and the other runs carry on.
#[test]
fn memory_limit_is_recorded_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    let suite = bundled_suite(d.path(), "s.csv", &rows(2));
    let out = d.path().join("out");
    let o = quiver(&["bench", s(&suite), "--config", FAST, "--memory-mb", "20", "--out", s(&out)]);
    if code(&o) == 2 {
        // The system refused to even start the child under the limit.
        assert!(String::from_utf8_lossy(&o.stderr).contains("cannot run"), "{}", text(&o));
        return;
    }
    assert_eq!(code(&o), 0, "{}", text(&o));
    for r in records(&out) {
        assert_eq!((r["verdict"].as_str(), r["limit"].as_str()), (Some("unknown"), Some("memory")), "{r}");
        assert_eq!(r["memory_limit_mb"], 20);
        assert!(r["reason"].as_str().unwrap().starts_with("out of memory (limit 20 MiB)"), "{r}");
    }
}

/// A radius suite over the bundled model: `(index, max_eps, expected_radius)` rows.
fn radius_suite(dir: &Path, name: &str, rows: &[(usize, u32, &str)]) -> PathBuf {
    let mut t = String::from("model,images,labels,index,max_eps,timeout_s,expected_radius\n");
    for (i, m, x) in rows {
        t.push_str(&format!("@bundled,@bundled,@bundled,{i},{m},30,{x}\n"));
    }
    let p = dir.join(name);
    std::fs::write(&p, t).unwrap();
    p
}

const SEARCH: &str = "search=--search-budget 0.2";
const LINEAR: &str = "linear=--strategy linear --search-budget 0.2 --eps-timeout 20";

/// Radius suites run `quiver radius` children under configurations that choose the strategy;
/// the records carry the interval and every level, `report` writes the radius tables, and
/// `regress` flags an expected radius that the interval excludes (decided or not).
#[test]
fn radius_suites_run_through_bench_report_and_regress() {
    let d = tempfile::tempdir().unwrap();
    // Bundled vector 3 has radius 2, vector 5 radius 0; vector 1 is robust at ε = 1 (its radius is
    // 3), so up to max_eps 1 it stays an interval [1, –).
    let suite = radius_suite(d.path(), "r.csv", &[(3, 4, "2"), (5, 4, ""), (1, 1, "")]);
    let out = d.path().join("out");
    let o = quiver(&["bench", s(&suite), "--config", SEARCH, "--config", LINEAR, "-j", "2", "--out", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 6, "{}", text(&o));
    for r in &recs {
        assert_eq!(r["args"][0], "radius", "{r}");
        assert_eq!(r["job"]["options"]["timeout"], 30.0, "the whole search: {r}");
        let strategy = if r["config"] == "linear" { "linear" } else { "search" };
        assert_eq!(r["job"]["search"]["strategy"], strategy, "{r}");
        assert_eq!(r["radius"]["strategy"], strategy, "{r}");
        assert!(!r["radius"]["levels"].as_array().unwrap().is_empty(), "{r}");
        let want = match r["instance"].as_str().unwrap() {
            "bundled/bundled#3/radius-max4" => (serde_json::json!(2), 2, serde_json::json!(3), "decided"),
            "bundled/bundled#5/radius-max4" => (serde_json::json!(0), 0, serde_json::json!(1), "decided"),
            "bundled/bundled#1/radius-max1" => (serde_json::Value::Null, 1, serde_json::Value::Null, "unknown"),
            other => panic!("{other}"),
        };
        let got = (r["radius"]["radius"].clone(), r["radius"]["lower"].as_i64().unwrap(), r["radius"]["upper"].clone());
        assert_eq!((got, r["verdict"].as_str().unwrap()), ((want.0, want.1, want.2), want.3), "{r}");
        if r["radius"]["upper"].is_i64() {
            // The witness at `upper`, replayed by the child, is kept.
            let w = out.join(r["witness"].as_str().expect("witness file"));
            let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&w).unwrap()).unwrap();
            assert_eq!(
                (doc["eps"].clone(), doc["witness"]["input"].as_array().unwrap().len()),
                (r["radius"]["upper"].clone(), 784)
            );
        }
    }
    assert!(records(&out).iter().any(|r| r["expected_radius"] == 2));
    // The job file reruns the run.
    let o = quiver(&["radius", "--job", s(&out.join("jobs/linear/bundled_bundled_3_radius-max4.json")), "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["radius"].as_i64(), v["strategy"].as_str()), (Some(2), Some("linear")));

    let rep = d.path().join("rep");
    let o = quiver(&["report", s(&out), "--out", s(&rep)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let md = std::fs::read_to_string(rep.join("summary.md")).unwrap();
    assert!(
        md.contains("mean width (undecided)") && md.contains("| 2 [2, 3) |") && md.contains("| – [1, –) |"),
        "{md}"
    );
    let csv = std::fs::read_to_string(rep.join("radius.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(lines.len(), 3, "{csv}");
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        let get = |name: &str| f[header.iter().position(|h| *h == name).unwrap()];
        assert_eq!((get("instances"), get("decided"), get("undecided"), get("no_answer")), ("3", "2", "1", "0"), "{l}");
        assert_eq!(get("mean_width"), "1.000000", "{l}");
        assert!(get("total_s").parse::<f64>().unwrap() > 0.0);
        assert_eq!(get("alarms"), "0");
        if get("config") == "linear" {
            assert!(get("pipeline_runs").parse::<usize>().unwrap() >= 4, "{l}");
        }
    }
    let tex = std::fs::read_to_string(rep.join("radius.tex")).unwrap();
    assert!(tex.contains("\\begin{tabular}") && tex.contains("\nlinear & 3 & 2 & 1.00 & "), "{tex}");
    let inst = std::fs::read_to_string(rep.join("radius_instances.csv")).unwrap();
    assert!(inst.lines().next().unwrap().contains("search_radius,search_lower,search_upper"), "{inst}");
    assert!(inst.contains("bundled/bundled#3/radius-max4,2,2,2,3,false,decided,"), "{inst}");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["radius"].as_array().unwrap().len(), 2);

    // Regress: the true radius passes; a wrong one is a contradiction, and so is one the
    // undecided interval [1, –) excludes.
    let o = quiver(&["regress", s(&suite), "--results", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    for (rows, needle) in [
        (
            [(3, 4, "1"), (5, 4, ""), (1, 1, "")],
            "bundled/bundled#3/radius-max4 under search: expected radius 1, got 2 [2, 3)",
        ),
        (
            [(3, 4, ""), (5, 4, ""), (1, 1, "0")],
            "bundled/bundled#1/radius-max1 under linear: expected radius 0, got – [1, –)",
        ),
    ] {
        let bad = radius_suite(d.path(), "bad.csv", &rows);
        let o = quiver(&["regress", s(&bad), "--results", s(&out)]);
        assert_eq!(code(&o), 1, "{}", text(&o));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("CONTRADICTION") && stdout.contains(needle), "{stdout}");
    }
    // An expected radius the interval still holds is an unknown, not a contradiction.
    let open = radius_suite(d.path(), "open.csv", &[(3, 4, ""), (5, 4, ""), (1, 1, "3")]);
    let o = quiver(&["regress", s(&open), "--results", s(&out)]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("UNKNOWN"), "{}", text(&o));
    assert_eq!(code(&quiver(&["regress", s(&open), "--results", s(&out), "--allow-unknown"])), 0);
    // A golden results directory gives the decided radii as expected ones.
    let plain = radius_suite(d.path(), "plain.csv", &[(3, 4, ""), (5, 4, ""), (1, 1, "")]);
    let o = quiver(&["regress", s(&plain), "--expected", s(&out), "--results", s(&out)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 runs checked"), "{}", text(&o));

    // Plant intervals that do not meet (linear's witness below search's proved level): a
    // soundness alarm in the report and in regress.
    let t = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let lines: Vec<String> = t
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["config"] == "linear" && v["instance"] == "bundled/bundled#3/radius-max4" {
                v["radius"]["radius"] = serde_json::Value::Null;
                v["radius"]["lower"] = 0.into();
                v["radius"]["upper"] = 1.into();
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    std::fs::write(out.join("results.jsonl"), lines.join("\n") + "\n").unwrap();
    let o = quiver(&["report", s(&out), "--out", s(&rep)]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let md = std::fs::read_to_string(rep.join("summary.md")).unwrap();
    assert!(md.contains("SOUNDNESS ALARM on bundled/bundled#3/radius-max4: robust up to ε = 2 by [search]"), "{md}");
    let o = quiver(&["regress", s(&suite), "--results", s(&out)]);
    assert_eq!(code(&o), 3, "{}", text(&o));
}

#[test]
fn radius_suites_parse_and_malformed_ones_name_file_and_line() {
    use quiver::harness::suite::{self, Task};
    use quiver::spec::robust::TieRule;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r.csv");
    std::fs::write(
        &p,
        "# radius\nmodel,images,labels,index,max_eps,timeout_s,expected_radius,tie\n\
         @bundled,@bundled,@bundled,3,255,30,2,first-index\n@bundled,@bundled,@bundled,3,255,30,,\n",
    )
    .unwrap();
    let r = suite::load(&p, TieRule::AnyTieUnsafe).unwrap();
    assert_eq!(r.layout, "radius");
    let ids: Vec<&str> = r.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["bundled/bundled#3/radius-max255/first-index", "bundled/bundled#3/radius-max255"]);
    assert_eq!(
        (r.instances[0].expected_radius(), r.instances[0].timeout_s, r.instances[0].line),
        (Some(2), Some(30.0), 3)
    );
    match &r.instances[0].task {
        Task::Radius { target, .. } => assert_eq!((target.max_eps, target.tie), (Some(255), TieRule::FirstIndex)),
        other => panic!("{other:?}"),
    }
    // Malformed rows: the CLI names the file and the line, on one line.
    let out = d.path().join("out");
    for (row, needle) in [
        ("@bundled,@bundled,@bundled,x,5,30,", "r.csv:3: index must be a non-negative integer, found `x`"),
        ("@bundled,@bundled,@bundled,3,5,30,-2", "r.csv:3: expected_radius must be an integer >= -1"),
        ("@bundled,@bundled,@bundled,3,5,30", "r.csv:3: expected 7 fields, found 6"),
    ] {
        std::fs::write(&p, format!("model,images,labels,index,max_eps,timeout_s,expected_radius\n\n{row}\n")).unwrap();
        let o = quiver(&["bench", s(&p), "--out", s(&out)]);
        assert_eq!(code(&o), 2, "{row}: {}", text(&o));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle) && e.trim_end().lines().count() == 1, "{row}: {e}");
    }
    // Radius options belong to radius suites.
    let v = bundled_suite(d.path(), "v.csv", &rows(1));
    let o = quiver(&["bench", s(&v), "--config", "lin=--strategy linear", "--out", s(&out)]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("radius options"), "{}", text(&o));
}

/// Schema-2 verification records (a recorded run of this repository) read back as verification
/// runs and write out unchanged: the radius fields leave them alone.
#[test]
fn recorded_verification_records_round_trip() {
    use quiver::harness::record::{ChildJob, Record};
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("benchmarks/results/aaai21-lp/results.jsonl");
    let text = std::fs::read_to_string(p).unwrap();
    for line in text.lines().take(20) {
        let r: Record = serde_json::from_str(line).unwrap();
        assert!(matches!(r.job, Some(ChildJob::Verify(_))) && !r.is_radius() && r.radius.is_none(), "{line}");
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(line).unwrap());
    }
}

/// An equivalence suite over the bundled model: against its own JSON file (identical networks)
/// and against its ONNX Runtime QDQ export (imported for a VNNI CPU), `(model_b, index, eps,
/// relation, expected, tie)` rows.
fn equiv_suite(dir: &Path, name: &str, rows: &[(&str, usize, u32, &str, &str, &str)]) -> PathBuf {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("benchmarks/models");
    let mut t = String::from("model_a,model_b,images,labels,index,eps,relation,timeout_s,expected,tie\n");
    for (b, i, e, rel, x, tie) in rows {
        let b = match *b {
            "json" => s(&models.join("mnist_mlp.json")).to_string(),
            "ort" => format!("{};ort-cpu=vnni", s(&models.join("mnist_mlp_torch_qdq.onnx"))),
            other => other.to_string(),
        };
        t.push_str(&format!("@bundled,{b},@bundled,@bundled,{i},{e},{rel},20,{x},{tie}\n"));
    }
    let p = dir.join(name);
    std::fs::write(&p, t).unwrap();
    p
}

/// The bundled model against its ONNX Runtime export, bundled vector 5 at ε = 1: the two
/// runtimes' classes differ one step from the vector (the search finds it in about 0.5 s).
const ORT_5: (&str, usize, u32, &str, &str, &str) = ("ort", 5, 1, "same-class", "falsified", "first-index");

/// Equivalence suites run `quiver equiv` children; the records carry the pair, relation, ε and
/// the deciding stage, a falsified run's witness is the input replayed on both networks, `report`
/// writes the equivalence table and `regress` flags a wrong expected verdict.
#[test]
fn equiv_suites_run_through_bench_report_and_regress() {
    let d = tempfile::tempdir().unwrap();
    let rows =
        [("json", 3, 2, "delta:0", "verified", ""), ORT_5, ("ort", 0, 1, "same-class", "verified", "first-index")];
    let suite = equiv_suite(d.path(), "e.csv", &rows);
    let out = d.path().join("out");
    let o = quiver(&[
        "bench",
        s(&suite),
        "--config",
        "full=--search-budget 5",
        "--config",
        FAST,
        "-j",
        "2",
        "--out",
        s(&out),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 6, "{}", text(&o));
    let ort5 = "bundled-vs-mnist_mlp_torch_qdq/bundled#5/eps1/same-class/first-index";
    for r in &recs {
        assert_eq!((r["schema"].as_u64(), r["args"][0].as_str()), (Some(4), Some("equiv")), "{r}");
        let (inst, cfg) = (r["instance"].as_str().unwrap(), r["config"].as_str().unwrap());
        let want = match (inst, cfg) {
            (i, "bounds-only") if i == ort5 => ("unknown", None),
            (i, _) if i == ort5 => ("falsified", Some("search")),
            _ => ("verified", Some("bounds (symbolic)")),
        };
        assert_eq!((r["verdict"].as_str().unwrap(), r["equiv"]["decided_by"].as_str()), want, "{r}");
        assert_eq!(r["equiv"]["eps"], if inst.contains("#3/") { 2 } else { 1 }, "{r}");
        assert_eq!(r["job"]["model_b"]["ort_cpu"].as_str(), inst.contains("torch_qdq").then_some("vnni"), "{r}");
    }
    let ids: BTreeSet<&str> = recs.iter().map(|r| r["instance"].as_str().unwrap()).collect();
    assert!(ids.contains("bundled-vs-mnist_mlp/bundled#3/eps2/delta:0"), "{ids:?}");
    let f = recs.iter().find(|r| r["verdict"] == "falsified").unwrap();
    assert_eq!(f["equiv"]["relation"], "same-class/first-index");
    assert!(f["equiv"]["violation"].as_str().unwrap().contains("A's class"), "{f}");
    // The witness: one input with both networks' outputs, whose classes differ.
    let w: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(f["witness"].as_str().unwrap())).unwrap()).unwrap();
    let argmax = |k: &str| {
        let v: Vec<i64> = w["witness"][k].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
        (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
    };
    assert_eq!(w["witness"]["input"].as_array().unwrap().len(), 784);
    assert_ne!(argmax("output_a"), argmax("output_b"), "{w}");
    // The job file reruns the run.
    let job = out.join("jobs/full/bundled-vs-mnist_mlp_torch_qdq_bundled_5_eps1_same-class_first-index.json");
    let o = quiver(&["equiv", "--job", s(&job), "--json"]);
    assert_eq!(code(&o), 10, "{}", text(&o));

    // Report: the equivalence table, per configuration and per pair/relation/ε.
    let rep = d.path().join("rep");
    let o = quiver(&["report", s(&out), "--out", s(&rep)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let md = std::fs::read_to_string(rep.join("summary.md")).unwrap();
    assert!(md.contains("## Equivalence"), "{md}");
    assert!(md.contains("| full | **all** |  |  | **3** | 2 | 1 | 0 | 0 | **100 %** | 2 / 1 / 0 |"), "{md}");
    assert!(md.contains("| bounds-only | **all** |  |  | **3** | 2 | 0 | 1 | 0 | **67 %** | 2 / 0 / 0 |"), "{md}");
    assert!(
        md.contains("| full | bundled-vs-mnist_mlp_torch_qdq | `same-class/first-index` | 1 | 2 | 1 | 1 | 0 | 0 | 100 % | 1 / 1 / 0 |"),
        "{md}"
    );
    let tex = std::fs::read_to_string(rep.join("equiv.tex")).unwrap();
    assert!(tex.contains("full & bundled-vs-mnist\\_mlp & \\texttt{delta:0} & 2 & 1 & 1 & 0 & 0 & 100 &"), "{tex}");
    let csv = std::fs::read_to_string(rep.join("equiv.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3, "{csv}");
    assert!(csv.contains("\nfull,bundled-vs-mnist_mlp,delta:0,2,1,1,0,0,0,100.00,1,0,0,"), "{csv}");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["equiv"].as_array().unwrap().len(), 6);

    // Regress: the true verdicts pass (the bounds-only unknown allowed); a wrong one is flagged.
    let o = quiver(&["regress", s(&suite), "--results", s(&out), "--allow-unknown"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = quiver(&["regress", s(&suite), "--results", s(&out)]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("UNKNOWN        {ort5} under bounds-only")),
        "{}",
        text(&o)
    );
    let mut wrong = rows;
    wrong[1].4 = "verified";
    let bad = equiv_suite(d.path(), "bad.csv", &wrong);
    let o = quiver(&["regress", s(&bad), "--results", s(&out), "--allow-unknown"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!(
            "CONTRADICTION  {ort5} under full: expected verified, got falsified (witness witnesses/full/"
        )),
        "{stdout}"
    );

    // Records read back as equivalence runs and write out unchanged.
    for line in std::fs::read_to_string(out.join("results.jsonl")).unwrap().lines() {
        let r: quiver::harness::record::Record = serde_json::from_str(line).unwrap();
        assert!(r.is_equiv() && !r.is_radius() && r.equiv.is_some(), "{line}");
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(line).unwrap());
    }
}

#[test]
fn equiv_suites_parse_and_malformed_ones_name_file_and_line() {
    use quiver::harness::suite::{self, Task};
    use quiver::query::{EquivRelation, OrtCpu};
    use quiver::spec::robust::TieRule;
    let d = tempfile::tempdir().unwrap();
    let p = equiv_suite(
        d.path(),
        "e.csv",
        &[
            ("json", 3, 2, "same-class", "", ""),
            ("ort", 3, 2, "same-class", "", "first-index"),
            ("ort", 4, 1, "delta-real:0.5", "falsified", ""),
        ],
    );
    let r = suite::load(&p, TieRule::AnyTieUnsafe).unwrap();
    assert_eq!(r.layout, "equiv");
    let ids: Vec<&str> = r.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "bundled-vs-mnist_mlp/bundled#3/eps2/same-class",
            "bundled-vs-mnist_mlp_torch_qdq/bundled#3/eps2/same-class/first-index",
            "bundled-vs-mnist_mlp_torch_qdq/bundled#4/eps1/delta-real:0.5",
        ]
    );
    assert_eq!(r.instances[2].expected().map(|e| e.as_str()), Some("falsified"));
    match &r.instances[1].task {
        Task::Equiv { model_b, relation, pair, eps, .. } => {
            assert_eq!(
                (model_b.ort_cpu, relation, pair.as_str(), *eps),
                (
                    OrtCpu::Vnni,
                    &EquivRelation::SameClass { tie: TieRule::FirstIndex },
                    "bundled-vs-mnist_mlp_torch_qdq",
                    2
                )
            );
        }
        other => panic!("{other:?}"),
    }
    // The bench's --tie is the default of same-class rows without one.
    let first = suite::load(&p, TieRule::FirstIndex).unwrap();
    assert_eq!(first.instances[0].id, "bundled-vs-mnist_mlp/bundled#3/eps2/same-class/first-index");
    // Malformed rows: the CLI names the file and the line, on one line.
    let out = d.path().join("out");
    for (row, needle) in [
        (
            ("json", 3, 2, "same-class", "maybe", ""),
            "e.csv:2: expected must be verified, falsified or empty, found `maybe`",
        ),
        (("json", 3, 2, "delta:-1", "", ""), "e.csv:2: delta:N needs an integer N >= 0, found `delta:-1`"),
        (
            ("json", 3, 2, "delta", "", ""),
            "e.csv:2: relation must be `same-class`, `delta:N` or `delta-real:X`, found `delta`",
        ),
        (
            ("json", 3, 2, "delta:1", "", "first-index"),
            "e.csv:2: a tie rule applies to `same-class` only, not to `delta:1`",
        ),
        (("json", 3, 2, "same-class", "", "sideways"), "e.csv:2: unknown tie rule `sideways`"),
        (
            ("m.onnx;ort-cpu=arm", 3, 2, "same-class", "", ""),
            "e.csv:2: `m.onnx;ort-cpu=arm`: ort-cpu must be x86 or vnni, found `arm`",
        ),
        (
            ("m.onnx;cpu=vnni", 3, 2, "same-class", "", ""),
            "e.csv:2: `m.onnx;cpu=vnni`: unknown model option `cpu=vnni`",
        ),
    ] {
        let p = equiv_suite(d.path(), "e.csv", &[row]);
        let o = quiver(&["bench", s(&p), "--out", s(&out)]);
        assert_eq!(code(&o), 2, "{row:?}: {}", text(&o));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle) && e.trim_end().lines().count() == 1, "{row:?}: {e}");
    }
}

/// `benchmarks/suites/equiv_pairs.csv` reads as the 160 queries of `benchmarks/equiv/README.md`
/// (needs `../shared/external` or `$QUIVER_EXTERNAL` for its `external:` paths, unless
/// `QUIVER_ALLOW_MISSING_SHARED=1`).
#[test]
fn the_equivalence_pairs_suite_is_the_documented_benchmark() {
    use quiver::harness::suite::{self, Task};
    use quiver::query::OrtCpu;
    use quiver::spec::robust::TieRule;
    if quiver::import::suite::external_root().is_err()
        && std::env::var("QUIVER_ALLOW_MISSING_SHARED").as_deref() == Ok("1")
    {
        eprintln!("SKIPPED: no shared external material");
        return;
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("benchmarks/suites/equiv_pairs.csv");
    let st = suite::load(&p, TieRule::AnyTieUnsafe).unwrap();
    assert_eq!((st.layout, st.instances.len()), ("equiv", 160));
    let mut groups: BTreeMap<(String, String, i64), (usize, f64)> = BTreeMap::new();
    for i in &st.instances {
        let Task::Equiv { model_b, relation, pair, eps, .. } = &i.task else { panic!("{i:?}") };
        assert_eq!(model_b.ort_cpu == OrtCpu::Vnni, pair.contains("torch_qdq"), "{}", i.id);
        let g = groups.entry((pair.clone(), relation.to_string(), *eps)).or_default();
        g.0 += 1;
        g.1 = i.timeout_s.unwrap();
    }
    let want = |p: &str, r: &str, n: usize, t: f64| [1, 2].map(|e| ((p.to_string(), r.to_string(), e), (n, t)));
    let q100 = "qu_mnist_1blk_100_in_8_qu_8-vs-qu_mnist_1blk_100_in_8_qu_6";
    let q64 = "qu_mnist_2blk_64_32_in_8_qu_8-vs-qu_mnist_2blk_64_32_in_8_qu_6";
    let torch = "mnist_mlp-vs-mnist_mlp_torch_qdq";
    let expected: BTreeMap<_, _> = [
        want(q100, "same-class/first-index", 15, 20.0),
        want(q100, "delta-real:0.5", 15, 20.0),
        want(q64, "same-class/first-index", 15, 20.0),
        want(q64, "delta-real:0.5", 15, 20.0),
        want(torch, "same-class/first-index", 10, 30.0),
        want(torch, "delta:1", 10, 30.0),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(groups, expected);
    let count = |v: &str| st.instances.iter().filter(|i| i.expected().map(|e| e.as_str()) == Some(v)).count();
    assert_eq!((count("verified"), count("falsified")), (111, 17));
}
