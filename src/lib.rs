pub use txclass_core::*;
