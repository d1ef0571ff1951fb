//! Shared by the tests that run the `quiver` binary: how to run it and the exit codes it
//! documents (`quiver --help`), written out here so the tests check the documented numbers.
#![allow(dead_code)] // each test binary uses a subset

use std::process::{Command, Output};

pub const VERIFIED: i32 = 0;
pub const ERROR: i32 = 2;
pub const FALSIFIED: i32 = 10;
pub const UNKNOWN: i32 = 20;

/// Run `quiver` with `args` and collect its output.
pub fn quiver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quiver")).args(args).output().expect("run quiver")
}

/// The exit code (the process must have exited, not been killed).
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}
