//! Checkpoints: operator state, source positions and sink pre-commits, written together in one
//! atomic, fsynced fjall batch; sinks publish only after it is durable.

mod savepoint;
mod store;

pub use savepoint::{FILE as SAVEPOINT_FILE, check_restorable, list_savepoints, prune_savepoints};
pub use store::{Checkpoint, CheckpointStore};

use std::collections::BTreeMap;

/// Saved operator state by stable operator id.
pub type Snapshot = BTreeMap<String, Vec<u8>>;

/// Keyed state cells one operator changed since the last checkpoint (`None`: deleted).
pub type Dirty = Vec<(String, Vec<(Vec<u8>, Option<Vec<u8>>)>)>;
