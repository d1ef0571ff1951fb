//! The `quiver` command line: parse arguments, call the library, print, exit with a code that
//! scripts can use. All logic lives in the library.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::exit::ERROR)
        }
    }
}
