//! Why a job cannot be run: every message is one line that names the file or the option and the
//! problem.

use crate::import::ImportError;
use crate::props::equiv::EquivError;
use crate::props::radius::RadiusError;
use crate::spec::SpecError;
use std::path::PathBuf;
use thiserror::Error;

/// A job that cannot be loaded or run as given.
#[derive(Debug, Error)]
pub enum QueryError {
    /// An option out of its range (`--timeout -3`), or a backend this build does not have.
    #[error("{flag} {message}")]
    Option { flag: &'static str, message: String },
    /// The parts given do not make one job (no property, two radii, …).
    #[error("{0}")]
    Usage(String),
    /// A model or data set file (the message names the file).
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A file whose content is wrong: an input vector, a VNN-LIB property, a job.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// The property does not fit the model (`what` names where it came from).
    #[error("{what}: {source}")]
    Spec { what: String, source: SpecError },
    /// A radius query that cannot be posed (a bad step, label or largest level).
    #[error("{what}: {source}")]
    Radius { what: String, source: RadiusError },
    /// An equivalence query that cannot be posed (the networks' inputs or outputs differ, a
    /// negative δ, …; `what` names the pair or the option).
    #[error("{what}: {source}")]
    Equiv { what: String, source: EquivError },
}

impl QueryError {
    pub(crate) fn option(flag: &'static str, message: impl Into<String>) -> QueryError {
        QueryError::Option { flag, message: message.into() }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> QueryError {
        QueryError::File { path: path.into(), message: message.into() }
    }

    /// Whether the problem is in how the job was asked for (usage), not in a file's content.
    pub fn is_usage(&self) -> bool {
        matches!(self, QueryError::Option { .. } | QueryError::Usage(_))
    }
}
