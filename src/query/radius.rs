//! Radius jobs: the maximum robustness radius around one input ([`crate::props::radius`]) as data
//! that serializes, like a verification [`Job`](super::Job): `quiver radius` parses its flags into
//! one, and the experiment harness hands each radius run one (`quiver radius --job FILE`).
//!
//! The options are the verification pipeline's own ([`VerifyOptions`], run at every level) plus
//! [`RadiusSearch`]. One conflict is resolved here, once: `timeout` limits the *whole* job — the
//! whole radius search, as it limits the whole pipeline of a verification job (so the harness
//! treats both kinds alike) — and the per-level limit is [`RadiusSearch::eps_timeout`].

use super::{time_limit, Input, Model, QueryError, VerifyOptions};
use crate::budget::Budget;
use crate::net::{exec, Network};
use crate::props::radius::{radius, RadiusOptions, RadiusQuery, RadiusReport, Strategy, Unit};
use crate::spec::robust::TieRule;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Around what and up to which level a radius is sought: the instance part of a radius job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusTarget {
    pub input: Input,
    /// The class that must win (default: the data set's label, else the predicted class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<usize>,
    #[serde(default)]
    pub tie: TieRule,
    /// The largest level tried (default: the level whose box is the whole input range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_eps: Option<i64>,
    /// Levels are multiples of this real radius instead of integer steps of the quantized input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps_real_step: Option<f64>,
}

/// How the levels are searched, beyond the pipeline's options at each level: the flags a radius
/// configuration adds to the [`VerifyOptions`].
#[derive(Args, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RadiusSearch {
    /// `search` (bisection with bounds alone, then with the search alone, then the whole
    /// pipeline from the lowest open level; every answer reused) or `linear` (the pipeline at
    /// ε = 0, 1, 2, … until the first falsified: the per-ε loop).
    #[arg(long, default_value = "search")]
    pub strategy: Strategy,
    /// Time limit of one level's pipeline, in seconds (--timeout limits the whole radius search).
    #[arg(long, value_name = "SECONDS")]
    pub eps_timeout: Option<f64>,
}

impl Default for RadiusSearch {
    fn default() -> Self {
        RadiusSearch { strategy: Strategy::Search, eps_timeout: None }
    }
}

impl RadiusSearch {
    /// Check the per-level limit.
    pub fn validate(&self) -> Result<(), QueryError> {
        if let Some(t) = self.eps_timeout {
            time_limit("--eps-timeout", t)?;
        }
        Ok(())
    }
}

/// One radius job: a model, the target, the pipeline's options at each level (`timeout`: the
/// whole search) and the search's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusJob {
    pub model: Model,
    pub target: RadiusTarget,
    #[serde(default)]
    pub options: VerifyOptions,
    #[serde(default)]
    pub search: RadiusSearch,
}

impl RadiusJob {
    /// Read a radius job from JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &Path) -> Result<RadiusJob, QueryError> {
        serde_json::from_str(text).map_err(|e| QueryError::file(origin, format!("not a valid quiver radius job: {e}")))
    }

    /// Read a radius job from a JSON file (`-`: standard input).
    pub fn read(path: &Path) -> Result<RadiusJob, QueryError> {
        let (text, origin) = super::read_text(path)?;
        RadiusJob::from_json(&text, &origin)
    }

    /// The job as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a radius job serializes")
    }

    /// Check the options, load the model and the input, and search for the radius within the
    /// job's `timeout` (each level within `eps_timeout`). Returns the network with the report.
    pub fn run(&self) -> Result<(Network, RadiusReport), QueryError> {
        let mut verify = self.options.pipeline()?;
        self.search.validate()?;
        verify.time_limit = self.search.eps_timeout.map(std::time::Duration::from_secs_f64);
        let net = self.model.load()?;
        let input = &self.target.input;
        let (x, dataset_label) = input.read(&net)?;
        let label = match self.target.label.or(dataset_label) {
            Some(l) => l,
            None => exec::argmax(&exec::run(&net, &x).map_err(|e| QueryError::file(input.path(), e.to_string()))?),
        };
        self.options.apply_process_limits();
        let opts = RadiusOptions { verify, max_eps: self.target.max_eps, strategy: self.search.strategy };
        let unit = self.target.eps_real_step.map_or(Unit::Integer, Unit::Real);
        let q = RadiusQuery { net: &net, center: &x, label, tie: self.target.tie, unit };
        let budget = Budget::new(self.options.timeout.map(std::time::Duration::from_secs_f64));
        let report = radius(&q, &opts, &budget)
            .map_err(|source| QueryError::Radius { what: input.path().display().to_string(), source })?;
        Ok((net, report))
    }
}
