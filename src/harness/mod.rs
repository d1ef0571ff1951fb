//! The experiment harness (DESIGN §7): suites × configurations run as isolated child processes
//! with wall-clock and memory limits, append-only resumable JSON-lines results, reports (tables,
//! cactus and scatter plots), regression checks against expected verdicts, VNN-COMP result files,
//! and deterministic sharding for cluster job arrays.
//!
//! The harness drives `quiver verify` (for radius suites `quiver radius`, for equivalence suites
//! `quiver equiv`) as a child process
//! (see [`bench::run`]): whatever backends and front ends the binary has are available to
//! configurations without any change here.
//! Documented for users in `docs/experiments.md`.

pub mod bench;
pub mod config;
pub mod machine;
pub mod record;
pub mod regress;
pub mod report;
pub mod runner;
pub mod store;
pub mod suite;
pub mod svg;
pub mod vnncomp;

/// Make a string safe as one file-name component (instance ids and configuration names contain
/// `/`, `#`, …): keep `[A-Za-z0-9._-]`, map everything else to `_`.
pub fn file_component(s: &str) -> String {
    let out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with('.') {
        format!("_{out}")
    } else {
        out
    }
}
