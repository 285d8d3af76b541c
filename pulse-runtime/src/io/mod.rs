//! Sources and sinks: typed file I/O bound to a pipeline's ports at run time.

mod bad;
mod file_source;
pub mod json;
mod live;
mod memory;
pub mod parquet;
mod paths;
mod sink;
mod spec;

pub use file_source::{Decode, FileSource, Serde};
#[cfg(feature = "kafka")]
pub mod kafka;
pub use live::is_live;
pub use memory::MemorySource;
pub(crate) use paths::create_dir;
pub use paths::{check_bindings, describe_dir};
pub use sink::{CsvSink, JsonlSink, open_sink, publish_finished};
pub use spec::{BadRecordPolicy, Format, SinkSpec, SinkTarget, SourceSpec, Split};

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
    /// Whether it is live (standard input, a named pipe): read as data arrives, it may have
    /// nothing for a while, and then may be marked idle.
    fn is_live(&self) -> bool {
        false
    }
    /// Bytes in all, when known in advance (files: their sizes), for progress.
    fn total_bytes(&self) -> Option<u64> {
        None
    }
    /// Where the next record starts, for checkpoints (empty if the source cannot resume).
    fn position(&self) -> Vec<u8> {
        Vec::new()
    }
    /// The largest event time read so far (`MIN_WATERMARK` before the first record), if the
    /// source knows its records' event times. A driver with several inputs reads next from the
    /// one furthest behind, so operators that meet inputs buffer only the disorder between them.
    fn progress(&self) -> Option<i64> {
        None
    }
    /// Like [`read_batch`](Self::read_batch), but stops after the first record whose event time
    /// is past `limit` (it is kept): a driver merging several inputs by event time reads the
    /// one furthest behind only as long as it stays so. Sources without
    /// [`progress`](Self::progress) ignore `limit`.
    fn read_until(&mut self, batch: &mut dyn Any, max: usize, _limit: i64) -> Result<bool> {
        self.read_batch(batch, max)
    }
    /// Whether this worker's share of the input comes in [`segment`](Self::segment)s: parts
    /// of the whole input (a stripe of a JSON lines file, a CSV file), each read by one worker.
    /// A parallel run over such an input processes the parts in the input's order, so every
    /// element is judged against the watermark of everything before it, as on one worker.
    fn segments(&self) -> bool {
        false
    }
    /// The part of the whole input the next records come from, as a number that orders the
    /// parts of every worker's share in input order (`u64::MAX` once this share is read).
    /// With [`segments`](Self::segments), a batch never holds records of two parts.
    fn segment(&self) -> u64 {
        u64::MAX
    }
    /// Continues from a [`position`](Self::position) saved by an earlier run.
    fn seek(&mut self, position: &[u8]) -> Result<()> {
        if position.is_empty() {
            return Ok(());
        }
        Err(crate::Error::config(format!(
            "input `{}` cannot resume from a checkpoint",
            self.name()
        )))
    }
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
    /// Bytes written so far (encoded output, or Parquet file bytes); 0 if the sink does not
    /// know.
    fn bytes_written(&self) -> u64 {
        0
    }
    /// Phase one of a checkpoint: makes everything written so far durable but not yet
    /// published, and returns what [`commit`](Self::commit) (or a restarted run) needs.
    fn pre_commit(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
    /// Phase two, after the checkpoint holding `record` is durable: publishes.
    fn commit(&mut self, _record: &[u8]) -> Result<()> {
        Ok(())
    }
    /// For a sink that writes text: an [`Encoder`] that turns batches into the bytes this sink
    /// would write, so that a parallel run's workers encode their results beside each other
    /// and the sink's thread only writes them ([`write_encoded`](Self::write_encoded)).
    fn encoder(&self) -> Option<Box<dyn Encoder>> {
        None
    }
    /// Writes `rows` rows its [`encoder`](Self::encoder) made into `bytes`.
    fn write_encoded(&mut self, _bytes: &[u8], _rows: u64) -> Result<()> {
        unreachable!("`{}` has no encoder", self.name())
    }
}

/// Turns a sink's batches into its bytes on another thread (see [`Sink::encoder`]).
pub trait Encoder: Send {
    /// Appends the rows of `batch` (a `Vec<(T, i64)>`, left empty) to `into` as whole lines;
    /// returns how many, and the error of a row that could not be encoded (`into` then ends
    /// with the whole lines before it, which the sink still writes).
    fn encode(&self, batch: &mut dyn Any, into: &mut Vec<u8>) -> (u64, Result<()>);
}

/// The typed batch behind a source's or sink's `&mut dyn Any` (one downcast per batch).
pub(crate) fn typed<T: 'static>(batch: &mut dyn Any) -> &mut Vec<T> {
    batch
        .downcast_mut::<Vec<T>>()
        .unwrap_or_else(|| panic!("a batch of `{}`", std::any::type_name::<T>()))
}

/// A file source's position: the number of files it reads, where in them it is, the largest
/// event time read so far (so a resumed run picks its inputs in the same order), and what the
/// current file held up to `current.1` (so a resumed run never continues inside another file).
pub(crate) fn encode_position<P: serde::Serialize>(
    files: usize,
    at: P,
    high: i64,
    current: Option<(&std::path::Path, u64)>,
) -> Vec<u8> {
    let identity = current.and_then(|(path, upto)| paths::fingerprint(path, upto));
    postcard::to_stdvec(&(files as u64, at, high, identity)).unwrap_or_default()
}

/// The largest event time among `xs`, or `high` if it is larger.
pub(crate) fn high_water<T: crate::Event>(high: i64, xs: &[T]) -> i64 {
    xs.iter()
        .map(|x| x.event_time().millis())
        .fold(high, i64::max)
}

/// A decoded [`encode_position`] record.
pub(crate) struct Position<P> {
    pub at: P,
    pub high: i64,
    identity: Option<(u64, u64)>,
}

impl<P> Position<P> {
    /// Fails unless `path` holds, up to `upto`, what the checkpointed run read there.
    pub fn check_file(&self, input: &str, path: &std::path::Path, upto: u64) -> Result<()> {
        let Some(saved) = self.identity else {
            return Ok(());
        };
        if paths::fingerprint(path, upto) == Some(saved) {
            return Ok(());
        }
        Err(crate::Error::config(format!(
            "input `{input}`: cannot resume: `{}` is not the file the checkpoint read (its first {upto} bytes differ, or it is shorter); \
             restore that file, or pass --fresh to start over",
            path.display()
        )))
    }
}

/// Decodes an [`encode_position`] record, refusing one taken over a different set of files.
pub(crate) fn decode_position<P: serde::de::DeserializeOwned>(
    input: &str,
    files: usize,
    position: &[u8],
) -> Result<Position<P>> {
    let bad = |m: String| crate::Error::config(format!("input `{input}`: cannot resume: {m}"));
    let (count, at, high, identity): (u64, P, i64, Option<(u64, u64)>) =
        postcard::from_bytes(position).map_err(|e| bad(e.to_string()))?;
    if count != files as u64 {
        return Err(bad(format!(
            "the checkpoint saw {count} input files, now there are {files}; start afresh with --fresh"
        )));
    }
    Ok(Position { at, high, identity })
}

/// A serde_json error as a bad record's message: what is wrong and the column, without
/// serde's "at line 1" (a record is one line; the error names the file's line itself).
pub fn json_message(e: &serde_json::Error) -> String {
    let m = e.to_string();
    match m.find(" at line ") {
        Some(i) => format!("{} (column {})", &m[..i], e.column()),
        None => m,
    }
}

/// Opens a source of `T` for `spec`; `parquet` opens Parquet inputs (the generated code passes
/// the Parquet reader when `T` has a derived schema).
pub fn open_source<T>(
    spec: &SourceSpec,
    parquet: impl FnOnce(&SourceSpec) -> Result<Box<dyn Source>>,
) -> Result<Box<dyn Source>>
where
    T: crate::Event + serde::de::DeserializeOwned,
{
    if spec.path.starts_with("kafka://") {
        #[cfg(feature = "kafka")]
        return kafka::open_source::<T>(spec, |spec| {
            Ok(Box::new(kafka::KafkaSource::<T>::open(spec)?))
        });
        #[cfg(not(feature = "kafka"))]
        return Err(crate::Error::config(format!(
            "input `{}` reads Kafka (`{}`): build with the `kafka` feature of `pulse`",
            spec.name, spec.path
        )));
    }
    match spec.format {
        Format::Parquet => parquet(spec),
        _ => Ok(Box::new(FileSource::<T>::open(spec)?)),
    }
}

/// Chooses, for a concrete type, between its Parquet reader/writer and a clear error when it
/// has no derived schema (autoref specialisation: the impl on `&Probe<T>` wins when it applies).
pub mod probe {
    use std::marker::PhantomData;

    use super::{Sink, SinkSpec, Source, SourceSpec};
    use crate::error::{Error, Result};

    /// The type whose capabilities are probed.
    pub struct Probe<T>(PhantomData<fn() -> T>);

    impl<T> Probe<T> {
        /// A probe for `T`.
        pub fn new() -> Self {
            Probe(PhantomData)
        }
    }

    impl<T> Default for Probe<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Parquet I/O for types with a derived schema.
    pub trait ViaParquet {
        /// A Parquet source.
        fn parquet_source(&self, spec: &SourceSpec) -> Result<Box<dyn Source>>;
        /// A Parquet sink.
        fn parquet_sink(&self, spec: &SinkSpec) -> Result<Box<dyn Sink>>;
    }

    /// The fallback: a run-time error naming the type.
    pub trait NoParquet {
        /// Fails: the type has no schema.
        fn parquet_source(&self, spec: &SourceSpec) -> Result<Box<dyn Source>>;
        /// Fails: the type has no schema.
        fn parquet_sink(&self, spec: &SinkSpec) -> Result<Box<dyn Sink>>;
    }

    fn no_schema<T>(port: &str) -> Error {
        Error::config(format!(
            "`{port}` carries `{}`, which has no Parquet schema; derive `Record` (or `Event`) for it, or bind a .jsonl or .csv file",
            std::any::type_name::<T>()
        ))
    }

    impl<T> NoParquet for Probe<T> {
        fn parquet_source(&self, spec: &SourceSpec) -> Result<Box<dyn Source>> {
            Err(no_schema::<T>(&spec.name))
        }
        fn parquet_sink(&self, spec: &SinkSpec) -> Result<Box<dyn Sink>> {
            Err(no_schema::<T>(&spec.name))
        }
    }

    impl<T: crate::Record + crate::ArrowField> ViaParquet for &Probe<T> {
        #[cfg(feature = "parquet")]
        fn parquet_source(&self, spec: &SourceSpec) -> Result<Box<dyn Source>> {
            Ok(Box::new(super::parquet::ParquetSource::<T>::open(spec)?))
        }
        #[cfg(feature = "parquet")]
        fn parquet_sink(&self, spec: &SinkSpec) -> Result<Box<dyn Sink>> {
            let super::SinkTarget::File(dir) = &spec.target else {
                return Err(Error::config(format!(
                    "output `{}`: Parquet goes to a directory, not stdout",
                    spec.name
                )));
            };
            let mut sink =
                super::parquet::ParquetSink::<T>::open(&spec.name, dir, spec.parquet.clone())?;
            sink.recover(spec.resume.as_deref())?;
            Ok(Box::new(sink))
        }
        #[cfg(not(feature = "parquet"))]
        fn parquet_source(&self, _: &SourceSpec) -> Result<Box<dyn Source>> {
            Err(Error::config(
                "Parquet support is not compiled in; enable the `parquet` feature of `pulse`",
            ))
        }
        #[cfg(not(feature = "parquet"))]
        fn parquet_sink(&self, _: &SinkSpec) -> Result<Box<dyn Sink>> {
            Err(Error::config(
                "Parquet support is not compiled in; enable the `parquet` feature of `pulse`",
            ))
        }
    }
}
