//! Runs every machine-checked lemma in `proofs/*.smt2` with the `z3` command-line solver.
//!
//! Each file states its expected answer in a `; expect: unsat` (or `sat`) header line; every
//! `(check-sat)` in the file must produce exactly that answer. The test fails (it does not skip)
//! when `z3` is missing: CI must install it (Debian/Ubuntu package `z3`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn z3() -> PathBuf {
    let candidates = [std::env::var("QUIVER_Z3").ok(), Some("z3".to_string()), Some("/usr/bin/z3".to_string())];
    for c in candidates.into_iter().flatten() {
        if Command::new(&c).arg("--version").output().map(|o| o.status.success()).unwrap_or(false) {
            return PathBuf::from(c);
        }
    }
    panic!(
        "the `z3` command-line solver is required to check proofs/*.smt2 but was not found \
         (install the `z3` package, or set QUIVER_Z3=/path/to/z3)"
    );
}

fn expected(text: &str, path: &Path) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("; expect:").map(|s| s.trim().to_string()))
        .unwrap_or_else(|| panic!("{}: no `; expect: ...` header", path.display()))
}

#[test]
fn smt_proofs_hold() {
    let z3 = z3();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("proofs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("proofs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "smt2"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "expected the MILP lemmas in proofs/, found {files:?}");
    let mut checks = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let want = expected(&text, f);
        let n: usize =
            text.lines().map(|l| l.split(';').next().unwrap_or("")).map(|l| l.matches("(check-sat)").count()).sum();
        assert!(n > 0, "{}: no (check-sat)", f.display());
        let out = Command::new(&z3).arg("-T:600").arg(f).output().expect("z3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let answers: Vec<&str> = stdout.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        assert_eq!(answers.len(), n, "{}: {n} queries but z3 printed:\n{stdout}", f.display());
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(*a, want, "{}: query {} answered {a}, expected {want}", f.display(), i + 1);
        }
        checks += n;
    }
    eprintln!("{} proof files, {checks} queries, all as expected", files.len());
}
