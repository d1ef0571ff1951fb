//! Records the git revision the binary is built from (`QUIVER_GIT_REVISION`), so experiment
//! results can name the exact code that produced them. Outside a git checkout, or without `git`,
//! nothing is set and quiver reports `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    for p in ["build.rs", "src", "Cargo.toml", ".git/HEAD", ".git/index", ".git/refs/heads"] {
        println!("cargo:rerun-if-changed={p}");
    }
    if let Some(rev) = git(&["rev-parse", "--short=12", "HEAD"]).filter(|r| !r.is_empty()) {
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        println!("cargo:rustc-env=QUIVER_GIT_REVISION={rev}{}", if dirty { "-dirty" } else { "" });
    }
}
