//! Issue 15: a command whose stdout is closed early (`quiver info m.json | head -1`) ends quietly
//! — killed by SIGPIPE like any Unix filter — instead of panicking with exit code 101.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// Run `quiver args` with a stdout pipe whose read end is already closed.
fn closed_stdout(args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run quiver");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn closed_stdout_ends_quietly() {
    for args in [&["info", "@bundled"][..], &["info", "@bundled", "--json"], &["--help"], &["demo", "--count", "1"]] {
        let (status, stderr) = closed_stdout(args);
        assert_ne!(status.code(), Some(101), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(status.signal() == Some(libc::SIGPIPE) || status.code() == Some(0), "{args:?}: {status:?} {stderr}");
    }
}
