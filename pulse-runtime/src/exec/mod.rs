//! Execution: the loop that drives a compiled graph from sources to sinks.

mod driver;

pub use driver::{Checkpointing, RunOptions, RunSummary, Savepoints, run_graph};
