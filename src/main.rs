//! The `quiver` command line: parse arguments, call the library, print, exit with a code that
//! scripts can use. All logic lives in the library.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    let args = cli::Cli::parse();
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            cli::exit::ERROR
        }
    };
    exit_past_running_solvers(code);
    ExitCode::from(code)
}

/// A HiGHS solve abandoned at its deadline may still be running on a helper thread; a normal
/// exit would run C++ static destructors under it and can abort the process (a crash after the
/// verdict was printed, reported as an error by the harness). Then end with `_exit`, after
/// flushing what Rust buffers; nothing else is pending when `cli::run` has returned (its files
/// are closed, its children waited for).
fn exit_past_running_solvers(code: u8) {
    if quiver::backend::milp::highs::running_helper_solves() == 0 {
        return;
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    #[cfg(unix)]
    // SAFETY: `_exit` ends the process without running destructors or atexit handlers; no
    // memory-safety preconditions.
    unsafe {
        libc::_exit(i32::from(code));
    }
}

/// Rust ignores SIGPIPE, so printing to a closed stdout (`quiver info m.json | head -1`) would panic
/// ("failed printing to stdout: Broken pipe", exit 101, the internal-error code). Restoring the
/// default disposition ends quiver quietly there, like any Unix filter (the shell reports 141).
/// quiver never writes to a pipe it does not own (benchmark children get a null stdin), so no
/// other write can raise SIGPIPE.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_DFL at the start of main, before any thread
    // exists, has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
