//! Bindings of ports to files: formats, targets and the bad-record policy.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// Typed Parquet files (a directory for sinks; a file, glob or directory for sources).
    Parquet,
}

impl Format {
    /// The format a path's extension names (`.jsonl`, `.ndjson`, `.json`, `.csv`).
    pub fn from_path(path: &str) -> Result<Self> {
        if path == "-" || path.starts_with("kafka://") {
            // Standard input and output, and Kafka messages: JSON lines.
            return Ok(Format::Jsonl);
        }
        let ext = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        if Path::new(path).is_dir() {
            return Ok(Format::Parquet);
        }
        Self::parse(ext).map_err(|_| {
            Error::config(format!(
                "cannot tell the format of `{path}` from its extension; use .jsonl, .csv or .parquet, `parquet:DIR`, or set `format`"
            ))
        })
    }

    /// Parses a format name.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            other => Err(Error::config(format!(
                "unknown format `{other}`; expected `jsonl` or `csv`"
            ))),
        }
    }
}

/// What a source does with a record that does not decode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BadRecordPolicy {
    /// Stop with an error naming file, line, field and what was expected.
    #[default]
    Fail,
    /// Skip it, count it, and report the count at the end.
    Skip,
    /// Write the raw record and the reason to this JSONL file, and count it.
    DeadLetter(PathBuf),
}

impl BadRecordPolicy {
    /// Parses `fail`, `skip`, `dead-letter` (with `dead_letter` as the file) or `dead-letter=PATH`.
    pub fn parse(s: &str, dead_letter: Option<&Path>, input: &str) -> Result<Self> {
        match s {
            "fail" => Ok(Self::Fail),
            "skip" => Ok(Self::Skip),
            "dead-letter" => Ok(Self::DeadLetter(
                dead_letter
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from(format!("{input}.dead-letter.jsonl"))),
            )),
            s if s.starts_with("dead-letter=") => {
                Ok(Self::DeadLetter(PathBuf::from(&s["dead-letter=".len()..])))
            }
            other => Err(Error::config(format!(
                "unknown bad-record policy `{other}`; expected `fail`, `skip` or `dead-letter[=PATH]`"
            ))),
        }
    }
}

/// Binds an input port to files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// The input's name.
    pub name: String,
    /// A file path or glob pattern.
    pub path: String,
    /// The format.
    pub format: Format,
    /// What to do with records that do not decode.
    pub on_bad_record: BadRecordPolicy,
    /// Which share of the input this source reads, in a parallel run.
    pub split: Split,
    /// Follow the file as it grows and is rotated (`--follow`): a live input.
    pub follow: bool,
}

/// One worker's share of an input: JSON lines files are read in interleaved stripes, so all
/// workers move through event time together; other formats are dealt out whole file by file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// This worker, from 0.
    pub worker: usize,
    /// How many workers share the input.
    pub workers: usize,
    /// Bytes per stripe of a JSON lines file.
    pub stripe: u64,
}

impl Split {
    /// Bytes per stripe unless set: about 14 k short events, a second or two of event time.
    pub const STRIPE: u64 = 1 << 20;

    /// Worker `worker` of `workers`.
    pub fn new(worker: usize, workers: usize) -> Self {
        Split {
            worker,
            workers: workers.max(1),
            stripe: Self::STRIPE,
        }
    }

    /// Whether this is the whole input.
    pub fn is_whole(&self) -> bool {
        self.workers <= 1
    }

    /// This worker's own copy of a file it writes: `bad.jsonl` is `bad.worker2.jsonl` for
    /// worker 2, and itself for worker 0.
    pub fn worker_path(&self, path: &Path) -> PathBuf {
        if self.worker == 0 {
            return path.to_path_buf();
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        let name = match path.extension() {
            Some(ext) => format!("{stem}.worker{}.{}", self.worker, ext.to_string_lossy()),
            None => format!("{stem}.worker{}", self.worker),
        };
        path.with_file_name(name)
    }

    /// Keeps the files this worker reads whole: every `workers`-th, from the worker's index.
    pub fn deal<T>(&self, files: Vec<T>) -> Vec<T> {
        files
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.workers == self.worker)
            .map(|(_, f)| f)
            .collect()
    }
}

impl Default for Split {
    fn default() -> Self {
        Split::new(0, 1)
    }
}

impl SourceSpec {
    /// A spec with the format taken from the path and the default policy.
    pub fn new(name: impl Into<String>, path: impl Into<String>) -> Result<Self> {
        let path = path.into();
        Ok(SourceSpec {
            name: name.into(),
            format: Format::from_path(&path)?,
            path,
            on_bad_record: BadRecordPolicy::Fail,
            split: Split::default(),
            follow: false,
        })
    }
}

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkTarget {
    /// Standard output (JSON lines).
    Stdout,
    /// A file, written in progress under a hidden name and renamed when finished.
    File(PathBuf),
    /// A Kafka topic, `kafka://BROKERS/TOPIC?PARAMS` (the `kafka` feature).
    Kafka(String),
}

/// Binds an output port to a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkSpec {
    /// The output's name.
    pub name: String,
    /// The target.
    pub target: SinkTarget,
    /// The format.
    pub format: Format,
    /// Options of Parquet sinks.
    pub parquet: super::parquet::ParquetOptions,
    /// The pre-commit record of the checkpoint a restarted run resumes from.
    pub resume: Option<Vec<u8>>,
}

impl SinkSpec {
    /// `-` for stdout, `parquet:DIR` for a Parquet directory, else a file whose format comes
    /// from its extension.
    pub fn new(name: impl Into<String>, path: &str) -> Result<Self> {
        let name = name.into();
        let parquet = super::parquet::ParquetOptions::default();
        if path == "-" || path == "stdout" {
            return Ok(SinkSpec {
                name,
                target: SinkTarget::Stdout,
                format: Format::Jsonl,
                parquet,
                resume: None,
            });
        }
        if path.starts_with("kafka://") {
            return Ok(SinkSpec {
                name,
                target: SinkTarget::Kafka(path.to_string()),
                format: Format::Jsonl,
                parquet,
                resume: None,
            });
        }
        if let Some(dir) = path.strip_prefix("parquet:") {
            return Ok(SinkSpec {
                name,
                target: SinkTarget::File(PathBuf::from(dir)),
                format: Format::Parquet,
                parquet,
                resume: None,
            });
        }
        Ok(SinkSpec {
            name,
            format: Format::from_path(path)?,
            target: SinkTarget::File(PathBuf::from(path)),
            parquet,
            resume: None,
        })
    }
}
