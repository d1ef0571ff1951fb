//! Exit codes, documented in the README and in `quiver --help`.

/// The property holds (or a non-verify command succeeded).
pub const VERIFIED: u8 = 0;
/// `quiver regress`: a verdict contradicts the expected one (or an error/unknown run, see its help).
pub const REGRESSION: u8 = 1;
/// Bad input, bad usage, or an I/O failure; a one-line message is on stderr.
pub const ERROR: u8 = 2;
/// A counterexample was found and replayed by the exact executor.
pub const FALSIFIED: u8 = 10;
/// Undecided (time limit, incomplete method, …); the reason is printed.
pub const UNKNOWN: u8 = 20;
/// Two procedures contradicted each other (`--crosscheck`): a soundness bug; both answers shown.
pub const SOUNDNESS: u8 = 3;

pub const HELP: &str = "Exit codes: 0 verified (or success), 10 falsified, 20 unknown, 2 bad input or usage, \
3 soundness alarm (--crosscheck found contradicting verdicts), 1 regression (`quiver regress`), 101 internal error (a bug: please report it).";
