//! Jobs: what to verify (a [`Model`] and a [`Property`]) and how ([`VerifyOptions`]), as data
//! that serializes, validated in one place, and the calls that load and run them.
//!
//! Every front end goes through here: the `quiver` binary only parses its arguments into a
//! [`Job`] (with the flag groups of [`args`]) and prints the result; the experiment harness
//! hands each child process a serialized job (`quiver verify --job -`) and reads back a
//! [`report::ReportRecord`] — or a [`RadiusJob`] (`quiver radius --job -`) and its
//! [`RadiusReport`](crate::props::radius::RadiusReport), or an [`EquivJob`] (`quiver equiv --job
//! -`) and its [`EquivReport`](crate::props::equiv::EquivReport); a library user (the Python
//! binding) builds the job directly:
//!
//! ```no_run
//! use quiver::query::{Input, Job, Model, Property, VerifyOptions};
//! use quiver::spec::robust::{Radius, TieRule};
//! let job = Job {
//!     model: Model::bundled(),
//!     property: Property::Robust {
//!         input: Input::Dataset { path: "@bundled".into(), index: 0, labels: None },
//!         radius: Radius::Integer(2),
//!         label: None,
//!         tie: TieRule::AnyTieUnsafe,
//!     },
//!     options: VerifyOptions { timeout: Some(30.0), ..VerifyOptions::default() },
//! };
//! let (loaded, report) = job.run().expect("a valid job");
//! println!("{}: {}", loaded.spec.description, report.verdict.name());
//! ```
//!
//! Errors are typed ([`QueryError`]) and name the file or option and the problem, on one line.

pub mod args;
mod equiv;
mod error;
mod options;
mod radius;
pub mod report;
mod source;

pub use equiv::{EquivBox, EquivJob, EquivRelation, EquivRun};
pub use error::QueryError;
pub use options::{time_limit, Switch, Tighten, VerifyOptions};
pub use radius::{RadiusJob, RadiusSearch, RadiusTarget};
pub use source::{read_vector, Input, Loaded, Model, OrtCpu, Property, BUNDLED};

use crate::budget::Budget;
use crate::verify::{self, Event, Report};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The text of a job file (`-`: standard input) and the name it goes by in errors.
fn read_text(path: &Path) -> Result<(String, PathBuf), QueryError> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|source| QueryError::Io { path: "<stdin>".into(), source })?;
        return Ok((s, PathBuf::from("<stdin>")));
    }
    let text = std::fs::read_to_string(path).map_err(|source| QueryError::Io { path: path.to_path_buf(), source })?;
    Ok((text, path.to_path_buf()))
}

/// One verification job: a model, a property, and the options of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub model: Model,
    pub property: Property,
    #[serde(default)]
    pub options: VerifyOptions,
}

impl Job {
    /// Read a job from JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &Path) -> Result<Job, QueryError> {
        serde_json::from_str(text).map_err(|e| QueryError::file(origin, format!("not a valid quiver job: {e}")))
    }

    /// Read a job from a JSON file (`-`: standard input).
    pub fn read(path: &Path) -> Result<Job, QueryError> {
        let (text, origin) = read_text(path)?;
        Job::from_json(&text, &origin)
    }

    /// The job as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a job serializes")
    }

    /// Check the options, load the model and build the property.
    pub fn load(&self) -> Result<Loaded, QueryError> {
        self.options.validate()?;
        Loaded::new(&self.model, &self.property)
    }

    /// Load and verify under the job's time limit.
    pub fn run(&self) -> Result<(Loaded, Report), QueryError> {
        self.run_observed(&|_| {})
    }

    /// [`Job::run`], telling `observe` when each pipeline stage starts and ends.
    pub fn run_observed(&self, observe: &dyn Fn(&Event<'_>)) -> Result<(Loaded, Report), QueryError> {
        let opts = self.options.pipeline()?;
        let loaded = Loaded::new(&self.model, &self.property)?;
        self.options.apply_process_limits();
        let budget = Budget::new(opts.time_limit);
        let report = verify::verify_observed(&loaded.net, &loaded.spec, &opts, &budget, observe);
        Ok((loaded, report))
    }
}
