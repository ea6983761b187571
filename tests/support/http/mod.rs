//! One HTTP conformance suite for both transports of the server (`http1_fast_path` on and
//! off): `tests/http.rs` runs every function here on each. Each takes the [`Transport`] to
//! start its server on and asserts the same answers either way; where hyper answers a
//! request itself (a head over its buffer), the one difference is named at the assertion.
//!
//! [`Transport`]: super::server::Transport

pub mod errors;
pub mod jobs;
pub mod limits;
pub mod rules;
pub mod tenants;
pub mod wire;
