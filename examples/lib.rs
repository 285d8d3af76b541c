//! Runnable Pulse pipelines over small shipped data (`examples/data/`).
//!
//! Each example is a binary (`cargo run --example NAME`) whose pipeline lives here, so the golden
//! tests in `tests/` run the very same pipelines.

pub mod clicks;
pub mod nexmark;
pub mod sensors;
pub mod words;
