//! Questions built from several verification queries: the maximum robustness radius
//! ([`radius`]).
//!
//! Each runs the ordinary pipeline ([`crate::verify::verify_within`]) on the queries it poses, so
//! every `verified` and every replayed witness here comes from the same sound procedures as a
//! single `quiver verify`.

pub mod radius;
