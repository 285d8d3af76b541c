//! Checkpoints: operator state, source positions and sink pre-commits, written together in one
//! atomic, fsynced fjall batch; sinks publish only after it is durable.

mod savepoint;
mod store;

pub use savepoint::{FILE as SAVEPOINT_FILE, check_restorable, list_savepoints, prune_savepoints};
pub use store::{Checkpoint, CheckpointStore};
