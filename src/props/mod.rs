//! Questions built from verification queries: the maximum robustness radius ([`radius`]) and
//! δ-equivalence of two networks ([`equiv`]).
//!
//! Each runs the ordinary pipeline ([`crate::verify::verify_within`]) on the queries it poses, so
//! every `verified` and every replayed witness here comes from the same sound procedures as a
//! single `quiver verify`.

pub mod equiv;
pub mod radius;
