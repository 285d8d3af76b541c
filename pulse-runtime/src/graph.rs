//! The compiled graph's interface to the runtime, and the `Pipeline` trait `#[pipeline]` implements.

use std::any::Any;
use std::cell::Cell;
use std::collections::BTreeMap;

use crate::checkpoint::CheckpointStore;
use crate::error::Result;
use crate::io::{Sink, SinkSpec, Source, SourceSpec};
use crate::operator::NodeMarks;
use crate::operator::{Combiner, Exchange, Operator};
use crate::time::MIN_WATERMARK;

/// A named, typed input or output of a pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// The parameter name (inputs) or binding name (outputs).
    pub name: &'static str,
    /// The element type, as written.
    pub ty: &'static str,
}

/// One node of a compiled graph, for metrics and `/debug/graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The stable operator id (`pipeline/binding/op`), the `operator` label of metrics.
    pub id: &'static str,
    /// The operator (`map`, `window`, `source`, ...).
    pub op: &'static str,
    /// The `(node, port)` pairs it reads; port 1 is a window's late output.
    pub inputs: &'static [(usize, u8)],
    /// It emits exactly what it receives, and is not counted itself.
    pub passes: bool,
}

/// A pipeline's graph described at compile time, for `--explain`.
#[derive(Clone, Copy, Debug)]
pub struct Explain {
    /// One line per operator: id, operator, inputs.
    pub text: &'static str,
    /// A Mermaid flowchart.
    pub mermaid: &'static str,
}

pub use crate::checkpoint::{Dirty, Snapshot};

/// What [`Graph::for_each_exchange`] calls: the exchange's index, the `key_by` as an exchange,
/// the combiner after it, and whether no other `key_by` lies upstream of it (its elements come
/// straight from the inputs, in their order).
pub type ExchangeVisitor<'a> =
    dyn FnMut(usize, Option<&mut dyn Exchange>, Option<&mut dyn Combiner>, bool) + 'a;

/// A compiled graph as the runtime drives it: typed batches in, typed batches out.
///
/// Batches cross this boundary as `&mut dyn Any` (a `Vec<T>` in, a `Vec<(T, i64)>` out), so a
/// worker dispatches once per batch; inside, every call between operators is static. Checkpoint
/// work visits the stateful operators as `dyn Operator`, once per checkpoint.
pub trait Graph {
    /// Pushes every element of `batch` (a `Vec<T>` of input `port`'s type) through the graph.
    fn push_batch(&mut self, port: usize, batch: &mut dyn Any);
    /// Raises input `port`'s watermark to `wm` (a finite input sends `i64::MAX` at its end).
    fn input_watermark(&mut self, port: usize, wm: i64);
    /// Marks input `port` idle (not holding back the watermark) or active again.
    fn set_idle(&mut self, port: usize, idle: bool);
    /// Moves output `port`'s pending results into `out` (a `Vec<(T, i64)>`).
    fn drain_output(&mut self, port: usize, out: &mut dyn Any);
    /// Moves processing time to `now` (ms since the epoch): fires processing-time timers and
    /// lets state TTLs pass.
    fn advance_processing_time(&mut self, now: i64);
    /// Calls `f` with every stateful operator and its stable id (`__watermarks` for the graph's
    /// own watermarks).
    fn for_each_operator(&self, f: &mut dyn FnMut(&'static str, &dyn Operator));
    /// Calls `f` with every stateful operator and its stable id, mutably.
    fn for_each_operator_mut(&mut self, f: &mut dyn FnMut(&'static str, &mut dyn Operator));
    /// Calls `f` with every `key_by` in order, as an exchange (`None` for one whose elements
    /// cannot move between threads: they are not `Send`), and with the windowed aggregate
    /// right after it as a combiner, if that is all that follows it and its keys and
    /// accumulators are `Send`.
    fn for_each_exchange(&mut self, f: &mut ExchangeVisitor<'_>);
    /// Pushes elements another worker routed here (a `Vec<((K, T), i64, i64)>` of exchange `ex`'s
    /// type) through the operators after that `key_by`.
    fn push_exchange(&mut self, ex: usize, batch: &mut dyn Any);
    /// Merges partial accumulators (a `Vec<Partial<K, Acc>>`, see
    /// [`Combiner`]) into the combiner after exchange `ex`, and pushes what they re-emit on.
    fn merge_partials(&mut self, ex: usize, batch: &mut dyn Any);
    /// Moves watermarks through the graph, after an exchange learned of another worker's.
    fn propagate_watermarks(&mut self);

    /// Saves every operator's state under its stable id.
    fn snapshot(&self) -> Result<Snapshot> {
        snapshot_of(self, |_| true)
    }
    /// Restores state saved by [`snapshot`](Self::snapshot); operators not in it start empty.
    fn restore(&mut self, snapshot: &Snapshot) -> Result<()> {
        let mut err = Ok(());
        self.for_each_operator_mut(&mut |id, op| {
            if let (Ok(()), Some(bytes)) = (&err, snapshot.get(id)) {
                err = op.restore(bytes).map_err(|e| named(id, e));
            }
        });
        err
    }
    /// The state of every `watermark` operator, by id: what it has seen of the input.
    fn watermark_states(&self) -> Result<Snapshot> {
        snapshot_of(self, |op| op.is_watermark())
    }
    /// Sets every `watermark` operator to the state another copy of the graph had (from
    /// [`watermark_states`](Self::watermark_states)) and moves the watermarks through the
    /// graph: this copy then goes on as if it had seen what the other one saw.
    fn seed_watermarks(&mut self, states: &Snapshot) -> Result<()> {
        let mut err = Ok(());
        self.for_each_operator_mut(&mut |id, op| {
            if let (true, Ok(()), Some(bytes)) = (op.is_watermark(), &err, states.get(id)) {
                err = op.restore(bytes).map_err(|e| named(id, e));
            }
        });
        err?;
        self.propagate_watermarks();
        Ok(())
    }
    /// Calls `f` with what the graph's nodes did so far (nothing for a graph that keeps no
    /// marks).
    fn with_node_marks(&self, f: &mut dyn FnMut(NodeMarks<'_>)) {
        self.for_each_operator(&mut |_, op| {
            if let Some(m) = op.node_marks() {
                f(m)
            }
        });
    }
    /// Elements dropped as late by all operators (those routed to a late output included).
    fn late_dropped(&self) -> u64 {
        let mut n = 0;
        self.for_each_operator(&mut |_, op| n += op.late_dropped());
        n
    }
    /// The state types of every stateful operator, by id.
    fn fingerprints(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        self.for_each_operator(&mut |id, op| {
            out.insert(id.to_string(), op.fingerprint());
        });
        out
    }
    /// Backs every operator's keyed state by its keyspace in `store`.
    fn attach(&mut self, store: &CheckpointStore) -> Result<()> {
        self.attach_as(store, "")
    }
    /// Backs every operator's keyed state by the keyspace of `prefix` + its id in `store` (a
    /// worker of a parallel run keeps its state apart from the others').
    fn attach_as(&mut self, store: &CheckpointStore, prefix: &str) -> Result<()> {
        let mut err = Ok(());
        self.for_each_operator_mut(&mut |id, op| {
            if err.is_ok() {
                match store.backing(&format!("{prefix}{id}")) {
                    Ok(b) => op.attach(b),
                    Err(e) => err = Err(e),
                }
            }
        });
        err
    }
    /// Keyed state changed since the last call, by operator; clean afterwards.
    fn take_dirty(&mut self) -> Dirty {
        let mut out = Dirty::new();
        self.for_each_operator_mut(&mut |id, op| {
            let cells = op.take_dirty();
            if !cells.is_empty() {
                out.push((id.to_string(), cells));
            }
        });
        out
    }
    /// Bytes of keyed state in memory.
    fn state_bytes(&self) -> usize {
        let mut n = 0;
        self.for_each_operator(&mut |_, op| n += op.state_bytes());
        n
    }
    /// Drops clean keyed state from memory until each operator is within its share of
    /// `budget`; returns the number of cells dropped.
    fn evict(&mut self, budget: usize) -> usize {
        let total = self.state_bytes().max(1);
        let mut n = 0;
        self.for_each_operator_mut(&mut |_, op| {
            let share = (budget as u128 * op.state_bytes() as u128 / total as u128) as usize;
            n += op.evict(share);
        });
        n
    }
}

/// The state of the operators of `g` that `which` picks, by stable id.
fn snapshot_of<G: Graph + ?Sized>(
    g: &G,
    which: impl Fn(&dyn Operator) -> bool,
) -> Result<Snapshot> {
    let mut snap = Snapshot::new();
    let mut err = Ok(());
    g.for_each_operator(&mut |id, op| {
        if err.is_ok() && which(op) {
            match op.snapshot() {
                Ok(Some(bytes)) => {
                    snap.insert(id.to_string(), bytes);
                }
                Ok(None) => {}
                Err(e) => err = Err(named(id, e)),
            }
        }
    });
    err.map(|()| snap)
}

fn named(id: &str, e: crate::Error) -> crate::Error {
    match e {
        crate::Error::State { message, .. } => crate::Error::State {
            operator: id.into(),
            message,
        },
        other => other,
    }
}

/// A batch of results on its way from a worker to the sinks: a `Vec<(T, i64)>`.
pub trait OutputBatch: Send {
    /// Results in the batch.
    fn len(&self) -> usize;
    /// Whether the batch is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The `Vec<(T, i64)>` itself, for [`Graph::drain_output`] and [`Sink::write_batch`].
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Send + 'static> OutputBatch for Vec<(T, i64)> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A pipeline: the type `#[pipeline]` generates from a function.
pub trait Pipeline: Sync + 'static {
    /// The function's name.
    const NAME: &'static str;
    /// The sources, in parameter order.
    const INPUTS: &'static [PortInfo];
    /// The outputs, in return order.
    const OUTPUTS: &'static [PortInfo];
    /// The graph, described.
    const EXPLAIN: Explain;
    /// The nodes of the graph in topological order, as [`Graph::node_counts`] counts them.
    const NODES: &'static [NodeInfo] = &[];
    /// The name metrics, checkpoints and summaries use: [`NAME`](Self::NAME), unless one
    /// pipeline type runs under several names (the TOML pipelines of `pulse serve`).
    fn name(&self) -> &'static str {
        Self::NAME
    }
    /// Builds a fresh instance of the compiled graph.
    fn build(&self) -> impl Graph + use<Self>;
    /// Opens input `port` from a file binding, decoding into its event type.
    fn open_source(&self, port: usize, spec: &SourceSpec) -> Result<Box<dyn Source>>;
    /// Opens output `port` on a sink binding.
    fn open_sink(&self, port: usize, spec: &SinkSpec) -> Result<Box<dyn Sink>>;
    /// An empty batch of output `port`'s results that can move between threads; `None` if
    /// its type is not `Send`.
    fn output_batch(&self, port: usize) -> Option<Box<dyn OutputBatch>>;
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
    /// Elements each node emitted on its main output (counted where they are handed on). Cells,
    /// so the nested emit closures of one node (a window's main and late outputs) can count
    /// through shared borrows.
    pub emitted: [Cell<u64>; N],
    /// Elements each node emitted on its late output.
    pub emitted_late: [Cell<u64>; N],
}

impl<const N: usize> Marks<N> {
    /// All at the minimum.
    pub fn new() -> Self {
        Marks {
            inp: [MIN_WATERMARK; N],
            out: [MIN_WATERMARK; N],
            idle: [false; N],
            emitted: [const { Cell::new(0) }; N],
            emitted_late: [const { Cell::new(0) }; N],
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
        Ok(crate::state::encode(&v)?.unwrap_or_default())
    }

    /// Restores [`save`](Self::save)d marks, unless they are of a graph of another shape.
    pub fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let (inp, out): (Vec<i64>, Vec<i64>) = crate::state::decode(bytes)?;
        if inp.len() != N || out.len() != N {
            // The graph changed shape: node indices no longer match. Watermarks start over;
            // every stateful operator keeps its own, so nothing fires twice.
            return Ok(());
        }
        self.inp.copy_from_slice(&inp);
        self.out.copy_from_slice(&out);
        Ok(())
    }
}

impl<const N: usize> Operator for Marks<N> {
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        self.save().map(Some)
    }
    fn node_marks(&self) -> Option<NodeMarks<'_>> {
        Some(NodeMarks {
            emitted: &self.emitted,
            emitted_late: &self.emitted_late,
            watermark: &self.out,
        })
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        self.load(bytes)
    }
}

impl<const N: usize> Default for Marks<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A `#[pipeline]` function is its pipeline: the macro keeps the function item `name()` in the
/// value namespace (so closure parameters and `let`s named after it stay ordinary bindings) and
/// hangs the graph on the type it returns.
impl<F, P> Pipeline for F
where
    F: Fn() -> P + Sync + 'static,
    P: Pipeline,
{
    const NAME: &'static str = P::NAME;
    const INPUTS: &'static [PortInfo] = P::INPUTS;
    const OUTPUTS: &'static [PortInfo] = P::OUTPUTS;
    const EXPLAIN: Explain = P::EXPLAIN;
    const NODES: &'static [NodeInfo] = P::NODES;

    fn name(&self) -> &'static str {
        self().name()
    }

    fn build(&self) -> impl Graph + use<F, P> {
        self().build()
    }

    fn open_source(&self, port: usize, spec: &SourceSpec) -> Result<Box<dyn Source>> {
        self().open_source(port, spec)
    }

    fn open_sink(&self, port: usize, spec: &SinkSpec) -> Result<Box<dyn Sink>> {
        self().open_sink(port, spec)
    }

    fn output_batch(&self, port: usize) -> Option<Box<dyn OutputBatch>> {
        self().output_batch(port)
    }
}

impl<F, P, const I: usize> Input<I> for F
where
    F: Fn() -> P + Sync + 'static,
    P: Input<I>,
{
    type Item = P::Item;
}

impl<F, P, const J: usize> Output<J> for F
where
    F: Fn() -> P + Sync + 'static,
    P: Output<J>,
{
    type Item = P::Item;
}
