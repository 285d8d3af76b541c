//! The value a window emits: its key, bounds and aggregate.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One window's result: the key, the window `[start, end)` and the aggregate value.
///
/// Emitted with timestamp `end - 1` (the window's last instant), as in Flink.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window<K, V> {
    /// The key the window belongs to.
    pub key: K,
    /// The first instant in the window.
    pub start: Timestamp,
    /// The first instant after the window.
    pub end: Timestamp,
    /// The aggregate over the window's elements.
    pub value: V,
}

impl<K, V> Window<K, V> {
    /// The first instant in the window.
    pub fn start(&self) -> Timestamp {
        self.start
    }
    /// The first instant after the window (exclusive bound).
    pub fn end(&self) -> Timestamp {
        self.end
    }
}
