//! The part of CP-SAT's protocol-buffer interface quiver uses, as `prost` messages.
//!
//! Field numbers are those of OR-Tools' `ortools/sat/cp_model.proto` and
//! `ortools/sat/sat_parameters.proto` (checked against the descriptors of OR-Tools 9.15's
//! Python package). Only the messages and fields quiver writes or reads are declared; protobuf
//! readers skip what they do not know, in both directions.

/// `CpModelProto`: variables, constraints, no objective (quiver's queries are feasibility
/// problems).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CpModelProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub variables: Vec<IntegerVariableProto>,
    #[prost(message, repeated, tag = "3")]
    pub constraints: Vec<ConstraintProto>,
}

/// `IntegerVariableProto`: the domain is a sorted list of disjoint closed intervals
/// `[lo0, hi0, lo1, hi1, …]`; quiver writes one interval.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IntegerVariableProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int64, repeated, tag = "2")]
    pub domain: Vec<i64>,
}

/// `ConstraintProto` restricted to its `linear` case.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConstraintProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "12")]
    pub linear: Option<LinearConstraintProto>,
}

/// `LinearConstraintProto`: `Σ coeffs[i]·vars[i] ∈ domain` (same interval-list form).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LinearConstraintProto {
    #[prost(int32, repeated, tag = "1")]
    pub vars: Vec<i32>,
    #[prost(int64, repeated, tag = "2")]
    pub coeffs: Vec<i64>,
    #[prost(int64, repeated, tag = "3")]
    pub domain: Vec<i64>,
}

/// `SatParameters` (a proto2 message: unset fields keep CP-SAT's defaults).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SatParameters {
    #[prost(int32, optional, tag = "31")]
    pub random_seed: Option<i32>,
    #[prost(double, optional, tag = "36")]
    pub max_time_in_seconds: Option<f64>,
    #[prost(bool, optional, tag = "41")]
    pub log_search_progress: Option<bool>,
    #[prost(int32, optional, tag = "90")]
    pub linearization_level: Option<i32>,
    #[prost(int32, optional, tag = "206")]
    pub num_workers: Option<i32>,
}

/// `CpSolverStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum CpSolverStatus {
    Unknown = 0,
    ModelInvalid = 1,
    Feasible = 2,
    Infeasible = 3,
    Optimal = 4,
}

/// `CpSolverResponse`: the status, a solution (one value per variable) and search figures.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CpSolverResponse {
    #[prost(enumeration = "CpSolverStatus", tag = "1")]
    pub status: i32,
    #[prost(int64, repeated, tag = "2")]
    pub solution: Vec<i64>,
    #[prost(int64, tag = "11")]
    pub num_conflicts: i64,
    #[prost(int64, tag = "12")]
    pub num_branches: i64,
    #[prost(int64, tag = "25")]
    pub num_lp_iterations: i64,
    #[prost(double, tag = "15")]
    pub wall_time: f64,
    #[prost(string, tag = "20")]
    pub solution_info: String,
}
