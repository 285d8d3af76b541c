//! The compiled graph's interface to the runtime, and the `Pipeline` trait `#[pipeline]` implements.

use std::any::Any;
use std::collections::BTreeMap;

use crate::error::Result;
use crate::io::{Sink, SinkSpec, Source, SourceSpec};
use crate::time::MIN_WATERMARK;

/// A named, typed input or output of a pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// The parameter name (inputs) or binding name (outputs).
    pub name: &'static str,
    /// The element type, as written.
    pub ty: &'static str,
}

/// A pipeline's graph described at compile time, for `--explain`.
#[derive(Clone, Copy, Debug)]
pub struct Explain {
    /// One line per operator: id, operator, inputs.
    pub text: &'static str,
    /// A Mermaid flowchart.
    pub mermaid: &'static str,
}

/// Saved operator state by stable operator id.
pub type Snapshot = BTreeMap<String, Vec<u8>>;

/// A compiled graph as the runtime drives it: typed batches in, typed batches out.
///
/// Batches cross this boundary as `&mut dyn Any` (a `Vec<T>` in, a `Vec<(T, i64)>` out), so a
/// worker dispatches once per batch; inside, every call between operators is static.
pub trait Graph {
    /// Pushes every element of `batch` (a `Vec<T>` of input `port`'s type) through the graph.
    fn push_batch(&mut self, port: usize, batch: &mut dyn Any);
    /// Raises input `port`'s watermark to `wm` (a finite input sends `i64::MAX` at its end).
    fn input_watermark(&mut self, port: usize, wm: i64);
    /// Marks input `port` idle (not holding back the watermark) or active again.
    fn set_idle(&mut self, port: usize, idle: bool);
    /// Moves output `port`'s pending results into `out` (a `Vec<(T, i64)>`).
    fn drain_output(&mut self, port: usize, out: &mut dyn Any);
    /// Saves every operator's state under its stable id.
    fn snapshot(&self) -> Result<Snapshot>;
    /// Restores state saved by [`snapshot`](Self::snapshot).
    fn restore(&mut self, snapshot: &Snapshot) -> Result<()>;
    /// Elements dropped as late by all operators (those routed to a late output included).
    fn late_dropped(&self) -> u64;
}

/// A pipeline: the type `#[pipeline]` generates from a function.
pub trait Pipeline: 'static {
    /// The function's name.
    const NAME: &'static str;
    /// The sources, in parameter order.
    const INPUTS: &'static [PortInfo];
    /// The outputs, in return order.
    const OUTPUTS: &'static [PortInfo];
    /// The graph, described.
    const EXPLAIN: Explain;
    /// Builds a fresh instance of the compiled graph.
    fn build(&self) -> impl Graph + use<Self>;
    /// Opens input `port` from a file binding, decoding into its event type.
    fn open_source(&self, port: usize, spec: &SourceSpec) -> Result<Box<dyn Source>>;
    /// Opens output `port` on a sink binding.
    fn open_sink(&self, port: usize, spec: &SinkSpec) -> Result<Box<dyn Sink>>;
}

/// The element type of input `I`.
pub trait Input<const I: usize>: Pipeline {
    /// The event type.
    type Item;
}

/// The element type of output `J`.
pub trait Output<const J: usize>: Pipeline {
    /// The element type.
    type Item;
}

/// Per-node watermarks of a compiled graph with `N` nodes.
#[doc(hidden)]
pub struct Marks<const N: usize> {
    /// The watermark each node has processed.
    pub inp: [i64; N],
    /// The watermark each node forwards.
    pub out: [i64; N],
    /// Idle flags (source nodes only).
    pub idle: [bool; N],
}

impl<const N: usize> Marks<N> {
    /// All at the minimum.
    pub fn new() -> Self {
        Marks {
            inp: [MIN_WATERMARK; N],
            out: [MIN_WATERMARK; N],
            idle: [false; N],
        }
    }

    /// The minimum forwarded watermark over `inputs` that are not idle; `None` if all are idle.
    #[inline]
    pub fn min_over(&self, inputs: &[usize]) -> Option<i64> {
        inputs
            .iter()
            .filter(|&&i| !self.idle[i])
            .map(|&i| self.out[i])
            .min()
    }

    /// The marks as bytes.
    pub fn save(&self) -> Result<Vec<u8>> {
        let v: (Vec<i64>, Vec<i64>) = (self.inp.to_vec(), self.out.to_vec());
        Ok(crate::operator::encode(&v)?.unwrap_or_default())
    }

    /// Restores [`save`](Self::save)d marks.
    pub fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let (inp, out): (Vec<i64>, Vec<i64>) = crate::operator::decode(bytes)?;
        if inp.len() != N || out.len() != N {
            return Err(crate::Error::State {
                operator: "watermarks".into(),
                message: format!("saved graph has {} nodes, this one has {N}", inp.len()),
            });
        }
        self.inp.copy_from_slice(&inp);
        self.out.copy_from_slice(&out);
        Ok(())
    }
}

impl<const N: usize> Default for Marks<N> {
    fn default() -> Self {
        Self::new()
    }
}
