//! Equivalence jobs: δ-equivalence of two networks over an input box ([`crate::props::equiv`]) as
//! data that serializes, like a verification [`Job`](super::Job): `quiver equiv` parses its flags
//! into one, and the experiment harness hands each equivalence run one (`quiver equiv --job FILE`).
//!
//! The options are the verification pipeline's own ([`VerifyOptions`], run on the product
//! network); `timeout` limits the whole query, as for a verification job.

use super::{Input, Model, QueryError, VerifyOptions};
use crate::budget::Budget;
use crate::net::Network;
use crate::props::equiv::{equiv, parse_delta, EquivQuery, EquivReport, Relation};
use crate::spec::real::{self, Domain};
use crate::spec::robust::{ball, Radius, TieRule};
use crate::spec::{vnnlib, InputBox};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The input box both networks are compared on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EquivBox {
    /// The L∞ ball of `radius` around an input (clipped to the input range).
    Ball { input: Input, radius: Radius },
    /// The input bounds of a VNN-LIB file (its output constraints are not used), on the real
    /// (dequantized) or the integer inputs.
    Vnnlib {
        path: PathBuf,
        #[serde(default)]
        domain: Domain,
    },
}

/// What "A and B agree" means, as a job states it. In a suite the relation is spelled
/// `same-class`, `delta:N` or `delta-real:X` ([`EquivRelation::parse`]), the tie rule of
/// `same-class` coming from the suite's `tie` column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EquivRelation {
    /// The integer outputs differ by at most `delta` (`--delta`).
    Delta { delta: i64 },
    /// The dequantized outputs differ by at most `delta`, a decimal taken exactly (kept as text
    /// so that no binary rounding happens on the way; `--delta-real`).
    DeltaReal { delta: String },
    /// Both predict the same class under the tie rule (`--same-class --tie`).
    SameClass {
        #[serde(default)]
        tie: TieRule,
    },
}

impl EquivRelation {
    /// Parse the suite spelling: `same-class` (with `tie`), `delta:N` (N ≥ 0) or `delta-real:X`
    /// (a non-negative decimal). `tie` is only meaningful for `same-class`: given with another
    /// relation it is an error.
    pub fn parse(text: &str, tie: Option<TieRule>) -> Result<EquivRelation, String> {
        let t = text.trim();
        let rel = if t == "same-class" {
            return Ok(EquivRelation::SameClass { tie: tie.unwrap_or_default() });
        } else if let Some(d) = t.strip_prefix("delta:") {
            match d.trim().parse::<i64>() {
                Ok(d) if d >= 0 => EquivRelation::Delta { delta: d },
                _ => return Err(format!("delta:N needs an integer N >= 0, found `{t}`")),
            }
        } else if let Some(x) = t.strip_prefix("delta-real:") {
            parse_delta(x).map_err(|e| format!("delta-real:X needs a non-negative decimal X, found `{t}` ({e})"))?;
            EquivRelation::DeltaReal { delta: x.trim().to_string() }
        } else {
            return Err(format!("relation must be `same-class`, `delta:N` or `delta-real:X`, found `{t}`"));
        };
        match tie {
            Some(_) => Err(format!("a tie rule applies to `same-class` only, not to `{t}`")),
            None => Ok(rel),
        }
    }

    /// The relation the pipeline decides.
    pub fn relation(&self) -> Result<Relation, QueryError> {
        Ok(match self {
            EquivRelation::Delta { delta } => Relation::Delta(*delta),
            EquivRelation::DeltaReal { delta } => Relation::DeltaReal(
                parse_delta(delta).map_err(|source| QueryError::Equiv { what: "--delta-real".into(), source })?,
            ),
            EquivRelation::SameClass { tie } => Relation::SameClass(*tie),
        })
    }
}

/// The suite spelling, with the tie rule of `same-class` appended (`same-class/first-index`) as
/// instance ids and reports show it.
impl fmt::Display for EquivRelation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EquivRelation::Delta { delta } => write!(f, "delta:{delta}"),
            EquivRelation::DeltaReal { delta } => write!(f, "delta-real:{delta}"),
            EquivRelation::SameClass { tie: TieRule::FirstIndex } => f.write_str("same-class/first-index"),
            EquivRelation::SameClass { tie: TieRule::AnyTieUnsafe } => f.write_str("same-class"),
        }
    }
}

/// One equivalence job: two models, the input box, the relation, and the pipeline's options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EquivJob {
    pub model_a: Model,
    pub model_b: Model,
    pub inputs: EquivBox,
    pub relation: EquivRelation,
    #[serde(default)]
    pub options: VerifyOptions,
}

/// What [`EquivJob::run`] answers, with the loaded networks for printing.
pub struct EquivRun {
    pub a: Network,
    pub b: Network,
    /// The input box in words.
    pub box_description: String,
    pub report: EquivReport,
}

impl EquivJob {
    /// Read an equivalence job from JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &Path) -> Result<EquivJob, QueryError> {
        serde_json::from_str(text)
            .map_err(|e| QueryError::file(origin, format!("not a valid quiver equivalence job: {e}")))
    }

    /// Read an equivalence job from a JSON file (`-`: standard input).
    pub fn read(path: &Path) -> Result<EquivJob, QueryError> {
        let (text, origin) = super::read_text(path)?;
        EquivJob::from_json(&text, &origin)
    }

    /// The job as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an equivalence job serializes")
    }

    /// The integer input box (stated through `net`, model A), whether it was stated on real
    /// inputs, and its description.
    fn input_box(&self, net: &Network) -> Result<(InputBox, bool, String), QueryError> {
        match &self.inputs {
            EquivBox::Vnnlib { path, domain } => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| QueryError::Io { path: path.clone(), source })?;
                let v = vnnlib::parse(&text).map_err(|e| QueryError::file(path, e.to_string()))?;
                // Only the input bounds: the outputs are the relation's.
                let inputs_only = vnnlib::VnnLib { output_dnf: vec![], n_outputs: net.output_len(), ..v };
                let spec = real::to_spec(&inputs_only, net, *domain, String::new())
                    .map_err(|source| QueryError::Spec { what: path.display().to_string(), source })?;
                Ok((spec.input, *domain == Domain::Real, format!("input box of {}", path.display())))
            }
            EquivBox::Ball { input, radius } => {
                let where_ = input.path().display().to_string();
                let (x, _) = input.read(net)?;
                let (b, what) =
                    ball(net, &x, *radius).map_err(|source| QueryError::Spec { what: where_.clone(), source })?;
                let real = matches!(input, Input::File { real: true, .. }) || matches!(radius, Radius::Real(_));
                Ok((b, real, format!("L∞ ball around {where_}, {what}")))
            }
        }
    }

    /// Check the options, load both models and the box, and decide the relation on the product
    /// network within the job's `timeout`. A `falsified` carries the witness replayed on A and on
    /// B separately ([`crate::props::equiv::equiv`]).
    pub fn run(&self) -> Result<EquivRun, QueryError> {
        let opts = self.options.pipeline()?;
        let relation = self.relation.relation()?;
        let (a, b) = (self.model_a.load()?, self.model_b.load()?);
        let (input, real_input, box_description) = self.input_box(&a)?;
        self.options.apply_process_limits();
        let q = EquivQuery { a: &a, b: &b, input, real_input, relation };
        let budget = Budget::new(opts.time_limit);
        let report = equiv(&q, &opts, &budget).map_err(|source| QueryError::Equiv {
            what: format!("{} vs {}", self.model_a.path.display(), self.model_b.path.display()),
            source,
        })?;
        Ok(EquivRun { a, b, box_description, report })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_parse_in_the_suite_spelling() {
        let first = Some(TieRule::FirstIndex);
        assert_eq!(
            EquivRelation::parse("same-class", first).unwrap(),
            EquivRelation::SameClass { tie: TieRule::FirstIndex }
        );
        assert_eq!(EquivRelation::parse("same-class", None).unwrap().to_string(), "same-class");
        assert_eq!(EquivRelation::parse("same-class", first).unwrap().to_string(), "same-class/first-index");
        assert_eq!(EquivRelation::parse("delta:1", None).unwrap(), EquivRelation::Delta { delta: 1 });
        let r = EquivRelation::parse(" delta-real:0.5", None).unwrap();
        assert_eq!(r.to_string(), "delta-real:0.5");
        assert!(matches!(r.relation().unwrap(), Relation::DeltaReal(_)));
        for (bad, why) in [
            ("delta:-1", "N >= 0"),
            ("delta:x", "N >= 0"),
            ("delta-real:-0.5", "non-negative"),
            ("delta-real:1/2", "non-negative"),
            ("same_class", "relation must be"),
            ("", "relation must be"),
        ] {
            let e = EquivRelation::parse(bad, None).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(EquivRelation::parse("delta:1", first).unwrap_err().contains("same-class` only"));
    }

    #[test]
    fn jobs_round_trip_through_json() {
        let job = EquivJob {
            model_a: Model::bundled(),
            model_b: Model { ort_cpu: super::super::OrtCpu::Vnni, ..Model::new("b.onnx") },
            inputs: EquivBox::Ball {
                input: Input::Dataset { path: "@bundled".into(), index: 5, labels: None },
                radius: Radius::Integer(1),
            },
            relation: EquivRelation::DeltaReal { delta: "0.5".into() },
            options: VerifyOptions { timeout: Some(3.0), ..VerifyOptions::default() },
        };
        assert_eq!(EquivJob::from_json(&job.to_json(), Path::new("j")).unwrap(), job);
        let e = EquivJob::from_json(r#"{"model": {"path": "m"}}"#, Path::new("j.json")).unwrap_err();
        assert!(e.to_string().starts_with("j.json: not a valid quiver equivalence job"), "{e}");
    }
}
