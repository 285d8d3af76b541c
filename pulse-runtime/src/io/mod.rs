//! Sources and sinks: typed file I/O bound to a pipeline's ports at run time.

mod file_source;
mod sink;
mod spec;

pub use file_source::FileSource;
pub use sink::{CsvSink, JsonlSink, open_sink};
pub use spec::{BadRecordPolicy, Format, SinkSpec, SinkTarget, SourceSpec};

use std::any::Any;

use crate::error::Result;

/// Counters a source keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Records decoded and pushed.
    pub records: u64,
    /// Bad records skipped (or written to the dead-letter file).
    pub skipped: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// A typed input read in batches. Object-safe: the runtime calls it once per batch.
pub trait Source {
    /// The input's name.
    fn name(&self) -> &str;
    /// An empty batch buffer (`Vec<T>`).
    fn new_batch(&self) -> Box<dyn Any>;
    /// Appends up to `max` events to `batch`; returns `false` once the input is exhausted.
    fn read_batch(&mut self, batch: &mut dyn Any, max: usize) -> Result<bool>;
    /// What was read so far.
    fn stats(&self) -> SourceStats;
}

/// A typed output written in batches.
pub trait Sink {
    /// The output's name and target.
    fn name(&self) -> &str;
    /// An empty batch buffer (`Vec<(T, i64)>`).
    fn new_batch(&self) -> Box<dyn Any>;
    /// Writes and empties `batch`.
    fn write_batch(&mut self, batch: &mut dyn Any) -> Result<()>;
    /// Flushes and publishes everything written.
    fn finish(&mut self) -> Result<()>;
    /// Records written so far.
    fn written(&self) -> u64;
}

/// Opens a file source of `T` for `spec`.
pub fn open_source<T>(spec: &SourceSpec) -> Result<Box<dyn Source>>
where
    T: crate::Event + serde::de::DeserializeOwned,
{
    Ok(Box::new(FileSource::<T>::open(spec)?))
}
