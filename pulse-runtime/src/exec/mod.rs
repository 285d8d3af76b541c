//! Execution: the launcher that starts a run, and the drivers that move records from sources
//! through a compiled graph to sinks.

mod driver;
mod launch;
mod meter;
mod order;
mod parallel;

pub(crate) use driver::Checkpointing;
pub use driver::{RunOptions, RunSummary, Savepoints, to_read};
pub use launch::{CheckpointPlan, Endpoints, Launch};
pub use meter::{GAUGE_EVERY, NodeStatus, RunStatus, StatusBoard};
pub use parallel::{OpenSources, worker_input};
