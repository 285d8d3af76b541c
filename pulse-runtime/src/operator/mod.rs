//! Operators: one per file, all statically dispatched; this module holds the shared contract.

mod fan_in;
mod join;
mod key_by;
mod order;
mod panes;
mod process;
mod source;
mod stateless;
mod watermark;
mod window;

pub use fan_in::{FanIn, LatePort, SameAs};
pub use join::{Either, WindowJoin};
pub use key_by::{Combiner, Exchange, KeyBy};
pub use panes::{Found, PaneState, Panes};
pub use process::{Context, NoTimers, Process};
pub use source::Source;
pub use stateless::{FilterMap, FilterOp, FlatMap, Inspect, MapOp};
pub use watermark::WatermarkOp;
pub use window::{Partial, WindowAggregate};

use crate::error::Result;
use crate::state::Backing;

/// A node of a compiled graph: its output element type, used as a type witness by the
/// constructors in `pulse::__private::ops` so closure parameter types are inferred.
pub trait Node {
    /// The type of the elements the node emits.
    type Out;
}

/// What a graph's nodes did so far, by node index ([`Pipeline::NODES`]).
#[derive(Clone, Copy, Debug)]
pub struct NodeMarks<'a> {
    /// Elements emitted on the main output.
    pub emitted: &'a [std::cell::Cell<u64>],
    /// Elements emitted on the late output.
    pub emitted_late: &'a [std::cell::Cell<u64>],
    /// The watermark each node forwards.
    pub watermark: &'a [i64],
}

/// The contract every operator fulfils besides its `push` method.
///
/// `push(x, ts, out)` receives one element with its timestamp and emits through `out`;
/// stateful operators also have `on_watermark(w, out)`, which fires what `w` completes.
/// State is saved and restored as bytes under the operator's stable id.
pub trait Operator {
    /// The operator's state, or `None` if it keeps none.
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
    /// Restores state saved by [`snapshot`](Self::snapshot).
    fn restore(&mut self, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }
    /// Elements dropped because every window they belong to was already cleaned up.
    fn late_dropped(&self) -> u64 {
        0
    }
    /// The types of the state, compared with the checkpoint's before restoring.
    fn fingerprint(&self) -> String {
        String::new()
    }
    /// Tells the operator its stable id, for error messages.
    fn identify(&mut self, _id: &str) {}
    /// Backs keyed state cells by the operator's fjall keyspace.
    fn attach(&mut self, _backing: Backing) {}
    /// Keyed state cells changed since the last checkpoint (`None`: deleted); clean afterwards.
    fn take_dirty(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        vec![]
    }
    /// Bytes of keyed state in memory.
    fn state_bytes(&self) -> usize {
        0
    }
    /// Windows (or sessions) open now, for metrics; `None` for operators without windows.
    fn open_windows(&self) -> Option<usize> {
        None
    }
    /// The per-node counts and watermarks of a graph (only the graph's own marks have them).
    fn node_marks(&self) -> Option<NodeMarks<'_>> {
        None
    }
    /// Drops clean state cells from memory until within `budget`; returns how many went.
    fn evict(&mut self, _budget: usize) -> usize {
        0
    }
    /// Whether this is a `watermark` operator, whose state is what it has seen of the input:
    /// an ordered parallel run hands it from worker to worker (see
    /// [`Graph::seed_watermarks`](crate::Graph::seed_watermarks)).
    fn is_watermark(&self) -> bool {
        false
    }
}

pub(crate) use crate::state::{decode, encode};

/// Writes checkpoint `id` of one operator, named `name`, into `store`, as the driver does: its
/// snapshot and its dirty keyed state in one batch.
#[cfg(test)]
pub(crate) fn write_checkpoint(
    store: &crate::checkpoint::CheckpointStore,
    id: u64,
    name: &str,
    op: &mut dyn Operator,
) {
    let mut snap = crate::Snapshot::new();
    snap.insert(name.into(), op.snapshot().unwrap().unwrap());
    let cp = crate::checkpoint::Checkpoint {
        id,
        operators: vec![(name.into(), op.fingerprint())],
        ..Default::default()
    };
    store
        .write(&cp, &snap, &vec![(name.into(), op.take_dirty())])
        .unwrap();
}
