//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod http;
pub mod server;
pub mod store_ids;
pub mod store_suite;
