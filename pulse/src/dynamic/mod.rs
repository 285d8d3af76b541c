//! Pipelines declared in TOML, run by `pulse run --config pipeline.toml`: the seed project's
//! format, on the same runtime as typed pipelines.
//!
//! ```toml
//! name = "word_counts"                # optional: the file's stem
//!
//! [source]
//! kind = "file"                       # the only kind so far
//! path = "examples/data/sliding_avg.jsonl"   # a path or glob; .jsonl or .csv (or `format`)
//! time_field = "event_time"           # RFC 3339 text or epoch milliseconds
//! on_bad_record = "skip"              # fail (default) | skip | dead-letter (+ dead_letter = PATH)
//!
//! [time]
//! watermark_bound = "5s"              # bounded out-of-orderness (default 0)
//! allowed_lateness = "10s"
//!
//! [window]
//! type = "sliding"                    # tumbling (size) | sliding (size, slide) | session (gap)
//! size = "60s"
//! slide = "15s"
//!
//! [ops]
//! count_by = "word"                   # the key
//! agg = "avg"                         # count (default) | sum | avg | min | max | distinct
//! agg_field = "value"                 # for every aggregate but count
//! filter = ["value >= 0", 'word != "the"']
//!
//! [sink]
//! kind = "parquet"                    # or "file" with path = "out/x.jsonl" / ".csv" / "-"
//! out_dir = "out/word_counts"
//! compression = "zstd"                # snappy (default) | zstd | none
//! partition_field = "key"             # or partition_format = "%Y-%m" (by window end date)
//!
//! [checkpoint]
//! dir = ".pulse/word_counts"          # default .pulse/NAME
//! interval = "10s"
//! ```
//!
//! Records are JSON objects ([`DynRecord`]); only this mode carries `serde_json` values, typed
//! pipelines never do. With `count_by`, the output rows are [`WindowRow`]s (`key` as text,
//! `window_start`, `window_end`, `value`); without it, records pass through the filters and
//! `select` unchanged ([`Selected`]). The query runs as one of two `#[pipeline]` graphs below,
//! so watermarks, lateness, checkpoints, `--workers N` and metrics behave exactly as in a
//! typed pipeline.

mod ops;
mod query;
mod record;

use std::cell::RefCell;
use std::sync::Arc;

use pulse_runtime::io::{FileSource, Sink, SinkSpec, Source, SourceSpec};
use pulse_runtime::{
    Explain, Graph, Input, NodeInfo, Output, OutputBatch, Pipeline, PortInfo, Result,
};

#[allow(unused_imports)] // `Stream` is read by `#[pipeline]` in the signatures only.
use crate::{BoundedOutOfOrderness, Stream, pipeline};

pub use ops::{DynAcc, DynAgg, DynWindow, Filter, Num, Selected, WindowRow};
pub use query::{AggKind, Job, Query, load, looks_like_pipeline, parse};
pub use record::{DynDecode, DynRecord};

thread_local! {
    /// The query whose graph this thread is building (see [`Configured::build`]).
    static BUILDING: RefCell<Option<Arc<Query>>> = const { RefCell::new(None) };
}

/// The query being built: the graph's closures keep their own copy of it.
fn building() -> Arc<Query> {
    BUILDING
        .with(|b| b.borrow().clone())
        .expect("a TOML pipeline's graph is built through `Configured`")
}

/// A TOML pipeline with `count_by`: filter, watermark, key, window, aggregate.
#[pipeline]
pub fn toml_windows(source: Stream<DynRecord>) -> Stream<WindowRow> {
    let q = building();
    let f = q.clone();
    let key = q.key.clone().unwrap_or_default();
    source
        .filter(move |r| f.keeps(r))
        .watermark(BoundedOutOfOrderness::millis(q.bound_ms))
        .key_by(move |r| r.text(&key))
        .window(q.window())
        .allowed_lateness(q.lateness)
        .aggregate(q.aggregate())
        .map(WindowRow::from)
}

/// A TOML pipeline without `count_by`: filter, watermark, select.
#[pipeline]
pub fn toml_records(source: Stream<DynRecord>) -> Stream<Selected> {
    let q = building();
    let (f, s) = (q.clone(), q.clone());
    source
        .filter(move |r| f.keeps(r))
        .watermark(BoundedOutOfOrderness::millis(q.bound_ms))
        .map(move |r| Selected::of(r, &s.select))
}

/// A compiled TOML graph `P` with its query: the query is handed to `P`'s closures while the
/// graph is built, and the source decodes by it.
pub struct Configured<P> {
    inner: P,
    query: Arc<Query>,
    name: &'static str,
}

impl<P> Configured<P> {
    /// `inner` computing `query`, named after it.
    pub fn new(inner: P, query: Arc<Query>) -> Self {
        // One name per pipeline for the life of the process (metrics labels, checkpoints).
        let name: &'static str = Box::leak(query.name.clone().into_boxed_str());
        Configured { inner, query, name }
    }
}

impl<P: Pipeline + Input<0, Item = DynRecord>> Pipeline for Configured<P> {
    const NAME: &'static str = P::NAME;
    const INPUTS: &'static [PortInfo] = P::INPUTS;
    const OUTPUTS: &'static [PortInfo] = P::OUTPUTS;
    const EXPLAIN: Explain = P::EXPLAIN;
    const NODES: &'static [NodeInfo] = P::NODES;

    fn name(&self) -> &'static str {
        self.name
    }

    fn build(&self) -> impl Graph + use<P> {
        BUILDING.with(|b| *b.borrow_mut() = Some(self.query.clone()));
        let graph = self.inner.build();
        BUILDING.with(|b| *b.borrow_mut() = None);
        graph
    }

    fn open_source(&self, _port: usize, spec: &SourceSpec) -> Result<Box<dyn Source>> {
        let decode = DynDecode(self.query.clone());
        if spec.path.starts_with("kafka://") {
            #[cfg(feature = "kafka")]
            return pulse_runtime::io::kafka::open_source::<DynRecord>(spec, |spec| {
                Ok(Box::new(
                    pulse_runtime::io::kafka::KafkaSource::with_decoder(spec, decode)?,
                ))
            });
            #[cfg(not(feature = "kafka"))]
            return Err(pulse_runtime::Error::config(
                "a `kafka` source needs the `kafka` feature of the `pulse` crate",
            ));
        }
        Ok(Box::new(FileSource::with_decoder(spec, decode)?))
    }

    fn open_sink(&self, port: usize, spec: &SinkSpec) -> Result<Box<dyn Sink>> {
        self.inner.open_sink(port, spec)
    }

    fn output_batch(&self, port: usize) -> Option<Box<dyn OutputBatch>> {
        self.inner.output_batch(port)
    }
}

impl<P: Input<0, Item = DynRecord>> Input<0> for Configured<P> {
    type Item = DynRecord;
}

impl<P: Output<0> + Input<0, Item = DynRecord>> Output<0> for Configured<P> {
    type Item = <P as Output<0>>::Item;
}
