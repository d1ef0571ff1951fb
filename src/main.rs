//! The `quiver` command line: parse arguments, call the library, print, exit with a code that
//! scripts can use. All logic lives in the library.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::exit::ERROR)
        }
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
