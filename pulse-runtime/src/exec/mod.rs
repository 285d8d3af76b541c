//! Execution: the loop that drives a compiled graph from sources to sinks.

mod driver;
mod order;
mod parallel;

pub use driver::{Checkpointing, RunOptions, RunSummary, Savepoints, run_graph, to_read};
pub use parallel::{
    OpenSources, ParallelCheckpoints, check_workers, run_parallel, worker_id, worker_input,
};
