//! Execution: the loop that drives a compiled graph from sources to sinks.

mod driver;

pub use driver::{RunOptions, RunSummary, run_graph};
