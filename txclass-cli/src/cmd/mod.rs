//! Subcommands.

pub mod eval;
pub mod gen_data;
pub mod train;
