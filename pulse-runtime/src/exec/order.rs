//! Ordered parallel runs: the parts of one input (stripes, dealt files) go through the graph
//! one at a time, in the input's order, each starting from the `watermark` operators' states
//! the part before it left (see the module docs of [`super::parallel`] and `ARCHITECTURE.md`).

use std::any::Any;

use crate::error::Result;
use crate::graph::Snapshot;
use crate::io::Source;

/// The last part of the input processed in an ordered run, and the `watermark` operators'
/// states after it (saved in checkpoints as the position of [`ORDER`]).
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Prefix {
    pub(super) part: Option<u64>,
    pub(super) states: Snapshot,
}

/// The name under which an ordered run checkpoints its [`Prefix`], beside the inputs.
pub(super) const ORDER: &str = "__order";

/// A part of the input read ahead in an ordered run: its number, where it starts (the position
/// a checkpoint saves while it waits to be processed), and its batches.
pub(super) struct Ahead {
    pub(super) part: u64,
    pub(super) at: Vec<u8>,
    pub(super) batches: Vec<Box<dyn Any>>,
    /// Whether the whole part is read.
    pub(super) read: bool,
}

impl Ahead {
    /// The part `src` reads next, nothing of it read yet.
    pub(super) fn at(src: &dyn Source) -> Self {
        Ahead {
            part: src.segment(),
            at: src.position(),
            batches: vec![],
            read: false,
        }
    }

    /// Reads one more batch of this part from `src` (into a spare batch if there is one);
    /// clears `live` at the end of the input.
    pub(super) fn read_batch(
        &mut self,
        src: &mut dyn Source,
        spare: &mut Vec<Box<dyn Any>>,
        live: &mut bool,
        batch_size: usize,
    ) -> Result<()> {
        let mut b = spare.pop().unwrap_or_else(|| src.new_batch());
        let more = src.read_batch(b.as_mut(), batch_size.max(1))?;
        self.batches.push(b);
        if !more {
            *live = false;
        }
        self.read = !more || src.segment() != self.part;
        Ok(())
    }
}
