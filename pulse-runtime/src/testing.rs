//! A test harness: drive a pipeline with explicit events and watermarks, read typed outputs.

use std::any::Any;

use crate::error::Result;
use crate::graph::{Graph, Input, Output, Pipeline, Snapshot};
use crate::time::{MAX_WATERMARK, Timestamp};

/// Drives one instance of a pipeline's graph in virtual time.
///
/// Elements carry their own event time; watermarks move only when elements pass a `watermark`
/// operator, when a test sets an input's watermark, or at [`finish`](Self::finish). Processing
/// time starts at 0 and moves only by [`processing_time`](Self::processing_time).
pub struct Harness<P, G> {
    pipeline: P,
    graph: G,
}

/// A harness for `pipeline`.
pub fn harness<P: Pipeline>(pipeline: P) -> Harness<P, impl Graph + 'static> {
    let mut graph = pipeline.build();
    graph.advance_processing_time(0);
    Harness { pipeline, graph }
}

/// A harness on a fresh graph of `pipeline`, restored from `snapshot` (as after a restart).
pub fn restored<P: Pipeline>(
    pipeline: P,
    snapshot: &Snapshot,
) -> Result<Harness<P, impl Graph + 'static>> {
    let mut graph = pipeline.build();
    graph.advance_processing_time(0);
    graph.restore(snapshot)?;
    Ok(Harness { pipeline, graph })
}

impl<P: Pipeline, G: Graph> Harness<P, G> {
    /// Pushes one event into input `I`.
    pub fn push<const I: usize>(&mut self, x: <P as Input<I>>::Item) -> &mut Self
    where
        P: Input<I>,
    {
        let mut batch = vec![x];
        self.graph.push_batch(I, &mut batch as &mut dyn Any);
        self
    }

    /// Pushes events into input `I`, as one batch.
    pub fn push_all<const I: usize>(
        &mut self,
        xs: impl IntoIterator<Item = <P as Input<I>>::Item>,
    ) -> &mut Self
    where
        P: Input<I>,
    {
        let mut batch: Vec<_> = xs.into_iter().collect();
        self.graph.push_batch(I, &mut batch as &mut dyn Any);
        self
    }

    /// Raises input `I`'s watermark to `ts` (milliseconds or a [`Timestamp`]).
    pub fn watermark<const I: usize>(&mut self, ts: impl Into<Millis>) -> &mut Self
    where
        P: Input<I>,
    {
        self.graph.input_watermark(I, ts.into().0);
        self
    }

    /// Marks input `I` idle: it no longer holds back the watermark of operators it feeds.
    pub fn idle<const I: usize>(&mut self, idle: bool) -> &mut Self
    where
        P: Input<I>,
    {
        self.graph.set_idle(I, idle);
        self
    }

    /// Sets processing time (ms): fires processing-time timers it reaches and expires state
    /// whose TTL passed.
    pub fn processing_time(&mut self, now: impl Into<Millis>) -> &mut Self {
        self.graph.advance_processing_time(now.into().0);
        self
    }

    /// Ends every input: the final watermark fires every open window.
    pub fn finish(&mut self) -> &mut Self {
        for port in 0..P::INPUTS.len() {
            self.graph.input_watermark(port, MAX_WATERMARK);
        }
        self
    }

    /// Takes output `J`'s elements emitted so far.
    pub fn output<const J: usize>(&mut self) -> Vec<<P as Output<J>>::Item>
    where
        P: Output<J>,
        <P as Output<J>>::Item: 'static,
    {
        self.output_timed::<J>()
            .into_iter()
            .map(|(x, _)| x)
            .collect()
    }

    /// Takes output `J`'s elements emitted so far, with their timestamps.
    pub fn output_timed<const J: usize>(&mut self) -> Vec<(<P as Output<J>>::Item, Timestamp)>
    where
        P: Output<J>,
        <P as Output<J>>::Item: 'static,
    {
        let mut out: Vec<(<P as Output<J>>::Item, i64)> = Vec::new();
        self.graph.drain_output(J, &mut out as &mut dyn Any);
        out.into_iter()
            .map(|(x, t)| (x, Timestamp::from_millis(t)))
            .collect()
    }

    /// Saves every operator's state.
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.graph.snapshot()
    }

    /// Elements dropped as late so far.
    pub fn late_dropped(&self) -> u64 {
        self.graph.late_dropped()
    }

    /// The pipeline under test.
    pub fn pipeline(&self) -> &P {
        &self.pipeline
    }
}

/// Milliseconds of event time, from an integer or a [`Timestamp`].
pub struct Millis(pub i64);

impl From<i64> for Millis {
    fn from(v: i64) -> Self {
        Millis(v)
    }
}

impl From<Timestamp> for Millis {
    fn from(t: Timestamp) -> Self {
        Millis(t.millis())
    }
}
