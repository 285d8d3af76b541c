//! Checkpoints: operator state, source positions and sink pre-commits, written together in one
//! atomic, fsynced fjall batch; sinks publish only after it is durable.

mod store;

pub use store::{Checkpoint, CheckpointStore};
