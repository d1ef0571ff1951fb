//! Exact SMT backends through Z3: bit-vectors (`smt-bv`, QF_BV, with Z3's floating-point theory
//! for `Float32` rescales) and linear integer arithmetic (`smt-lia`, QF_LIA), from one encoder.
//!
//! The query is written once as SMT-LIB2 text ([`encode`]); the solver parses exactly that text
//! (so [`export_smt2`] and the backend solve literally the same query), answers `unsat`
//! (→ `Verified`: bit-vector and integer reasoning are exact), `sat` (→ the model's inputs are
//! replayed by the reference executor; only a replayed witness is `Falsified`) or `unknown`
//! (→ `Unknown` with Z3's reason). See `encodings/smt.md`.

pub mod encode;
pub mod smt2;
pub mod z3;

pub use encode::EncodeError;
pub use smt2::export_smt2;

use super::{Backend, BackendOptions, BackendStats, ExportError, Query};
use crate::verdict::Verdict;
use serde::Serialize;
use std::sync::atomic::{AtomicU32, Ordering};

/// The SMT logic of an encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Logic {
    /// Fixed-width bit-vectors (QF_BV; QF_FPBV when a `Float32` rescale is present).
    Bv,
    /// Unbounded integers with `div`/`mod` by constants (QF_LIA).
    Lia,
}

impl std::str::FromStr for Logic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bv" | "qf_bv" => Ok(Logic::Bv),
            "lia" | "qf_lia" => Ok(Logic::Lia),
            _ => Err(format!("unknown SMT logic `{s}` (expected bv or lia)")),
        }
    }
}

/// Z3's memory limit (MiB, 0: none) for SMT solves whose backend sets none itself.
static MEMORY_LIMIT_MB: AtomicU32 = AtomicU32::new(0);

/// Set Z3's memory limit (`memory_max_size`, MiB; 0: unlimited) for every later SMT solve in
/// this process (`quiver verify --memory-mb`). Z3 counts all of its memory in the process
/// (including the parsed query); the limit is applied during each `check`, which then ends
/// `unknown` ("out of memory") and the solve `Unknown` with that reason.
pub fn set_memory_limit_mb(mb: u32) {
    MEMORY_LIMIT_MB.store(mb, Ordering::Relaxed);
}

/// The memory limit a solve with `backend` applies, if any.
pub(crate) fn memory_limit_mb(backend: &SmtBackend) -> Option<u32> {
    backend.memory_mb.or_else(|| Some(MEMORY_LIMIT_MB.load(Ordering::Relaxed)).filter(|&m| m > 0))
}

/// The Z3 backend for one logic.
#[derive(Clone, Debug)]
pub struct SmtBackend {
    pub logic: Logic,
    /// Z3's `memory_max_size` in MiB during each check (`None`: the value of
    /// [`set_memory_limit_mb`], by default unlimited). Z3's limit is process-wide.
    pub memory_mb: Option<u32>,
    /// QF_LIA with `Float32` rescales over-approximates; spurious candidates are blocked and the
    /// query re-solved at most this many times before giving up with `Unknown`.
    pub max_candidates: usize,
    /// Check the unsafe DNF one disjunct at a time (one fresh Z3 solver per disjunct over the
    /// same parsed network) instead of the whole disjunction in one check. Off by default: unlike
    /// HiGHS, Z3 gained nothing from it (`examples/smt_split.rs`, `encodings/smt.md`).
    pub per_disjunct: bool,
}

impl SmtBackend {
    pub fn new(logic: Logic) -> Self {
        SmtBackend { logic, memory_mb: None, max_candidates: 64, per_disjunct: false }
    }
}

impl Backend for SmtBackend {
    fn name(&self) -> &'static str {
        match self.logic {
            Logic::Bv => "smt-bv",
            Logic::Lia => "smt-lia",
        }
    }

    fn solve(&self, query: &Query<'_>, opts: &BackendOptions) -> (Verdict, BackendStats) {
        z3::solve(query, self, opts)
    }

    fn export_formats(&self) -> &'static [&'static str] {
        &["smt2"]
    }

    /// `smt2`: the very SMT-LIB2 script the backend hands Z3, in its logic.
    fn export(&self, query: &Query<'_>, format: &str) -> Result<String, ExportError> {
        match format {
            "smt2" => export_smt2(query, self.logic).map_err(|e| ExportError::Encode(e.to_string())),
            _ => {
                Err(ExportError::Format { backend: self.name(), format: format.into(), formats: self.export_formats() })
            }
        }
    }
}
