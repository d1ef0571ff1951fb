//! quiver: a formal verifier for quantized neural networks.
//!
//! Data flow (see `DESIGN.md` in the shared plan): a model file is loaded into the [`net`] IR and
//! validated; a [`spec`] gives an integer input box and an unsafe output condition; [`bounds`]
//! propagate ranges; [`verify`] runs the pipeline and returns a verdict that is only `falsified`
//! with a witness the reference executor ([`net::exec`]) has replayed.

pub mod backend;
pub mod bounds;
pub mod budget;
pub mod bundled;
pub mod harness;
pub mod import;
pub mod net;
pub mod numeric;
pub mod props;
pub mod query;
pub mod search;
pub mod spec;
pub mod testgen;
pub mod verdict;
pub mod verify;
