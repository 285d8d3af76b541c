//! File and stdout sinks: JSON lines and CSV, published atomically when finished.

mod csv;
mod jsonl;
#[cfg(test)]
mod tests;

pub use self::csv::CsvSink;
pub use jsonl::JsonlSink;

use std::any::Any;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Format, Sink, SinkSpec, SinkTarget};
use crate::error::{Error, Result};

/// A file being written under a hidden in-progress name, renamed to its final name on finish,
/// so a reader never sees a half-written file.
struct Staged {
    tmp: PathBuf,
    path: PathBuf,
}

impl Staged {
    fn paths(path: &Path) -> (Self, PathBuf) {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("output");
        let tmp = dir.join(format!(".{file_name}.inprogress"));
        (
            Staged {
                tmp,
                path: path.to_path_buf(),
            },
            dir.to_path_buf(),
        )
    }

    fn create(path: &Path) -> Result<(Self, File)> {
        let (staged, dir) = Self::paths(path);
        crate::io::create_dir(&dir)?;
        let file = File::create(&staged.tmp).map_err(|e| Error::io(&staged.tmp, e))?;
        Ok((staged, file))
    }

    /// Opens the in-progress file cut back to the length a checkpoint `record` holds: what was
    /// written after the checkpoint goes (a replay writes it again, or the run had finished).
    fn cut_back(&self, record: &[u8]) -> Result<File> {
        let len: u64 = postcard::from_bytes(record).map_err(|e| {
            Error::config(format!(
                "{}: bad checkpoint record: {e}",
                self.path.display()
            ))
        })?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.tmp)
            .map_err(|e| Error::io(&self.tmp, e))?;
        file.set_len(len).map_err(|e| Error::io(&self.tmp, e))?;
        Ok(file)
    }

    fn publish(&self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

enum Out {
    Stdout(std::io::Stdout),
    File(BufWriter<File>, Staged),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::Stdout(s) => s.write(buf),
            Out::File(f, _) => f.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Stdout(s) => s.flush(),
            Out::File(f, _) => f.flush(),
        }
    }
}

/// Opens the target; `resume` is the length a checkpoint recorded for the in-progress file.
fn open_out(target: &SinkTarget, resume: Option<&[u8]>) -> Result<Out> {
    Ok(match target {
        SinkTarget::Stdout => Out::Stdout(std::io::stdout()),
        SinkTarget::Kafka(url) => {
            return Err(Error::config(format!(
                "`{url}` is a Kafka topic, not a file"
            )));
        }
        SinkTarget::File(p) => match resume.filter(|r| !r.is_empty()) {
            None => {
                let (staged, file) = Staged::create(p)?;
                Out::File(BufWriter::with_capacity(1 << 16, file), staged)
            }
            Some(record) => {
                let (staged, _) = Staged::paths(p);
                if !staged.tmp.exists() && !staged.path.exists() {
                    // Restored (from a savepoint) into a new output: it holds only what comes
                    // after the savepoint.
                    let (staged, file) = Staged::create(p)?;
                    return Ok(Out::File(BufWriter::with_capacity(1 << 16, file), staged));
                }
                // A run that crashed after publishing gets its file back to continue it.
                if !staged.tmp.exists() && staged.path.exists() {
                    std::fs::rename(&staged.path, &staged.tmp)
                        .map_err(|e| Error::io(&staged.tmp, e))?;
                }
                let mut file = staged.cut_back(record)?;
                use std::io::Seek;
                file.seek(std::io::SeekFrom::End(0))
                    .map_err(|e| Error::io(&staged.tmp, e))?;
                Out::File(BufWriter::with_capacity(1 << 16, file), staged)
            }
        },
    })
}

/// Makes everything written durable; returns the file's length (empty for stdout).
fn pre_commit_out(out: &mut Out, name: &str) -> Result<Vec<u8>> {
    out.flush().map_err(|e| Error::Write {
        sink: name.into(),
        message: e.to_string(),
    })?;
    durable_len(out)
}

/// Syncs an already flushed output; returns the file's length (empty for stdout).
fn durable_len(out: &Out) -> Result<Vec<u8>> {
    match out {
        Out::Stdout(_) => Ok(Vec::new()),
        Out::File(f, staged) => {
            f.get_ref()
                .sync_data()
                .map_err(|e| Error::io(&staged.tmp, e))?;
            let len = f
                .get_ref()
                .metadata()
                .map_err(|e| Error::io(&staged.tmp, e))?
                .len();
            Ok(postcard::to_stdvec(&len).unwrap_or_default())
        }
    }
}

fn finish_out(out: &mut Out, name: &str) -> Result<()> {
    out.flush().map_err(|e| Error::Write {
        sink: name.into(),
        message: e.to_string(),
    })?;
    if let Out::File(f, staged) = out {
        f.get_ref()
            .sync_all()
            .map_err(|e| Error::io(&staged.tmp, e))?;
        staged.publish()?;
    }
    Ok(())
}

/// Publishes what a run that had finished (its last checkpoint taken, its outputs being
/// published) left of output `spec`, whose `resume` is that checkpoint's record: a file still
/// in progress is cut to the recorded length and renamed, Parquet files are committed. What
/// was published already stays where it is.
pub fn publish_finished(spec: &SinkSpec) -> Result<()> {
    let SinkTarget::File(path) = &spec.target else {
        return Ok(());
    };
    let record = spec.resume.as_deref();
    if spec.format == Format::Parquet {
        #[cfg(feature = "parquet")]
        return super::parquet::recover(&spec.name, path, record);
    }
    let (staged, _) = Staged::paths(path);
    let Some(record) = record.filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    if !staged.tmp.exists() {
        return Ok(());
    }
    let file = staged.cut_back(record)?;
    file.sync_all().map_err(|e| Error::io(&staged.tmp, e))?;
    staged.publish()
}

fn describe(spec: &SinkSpec) -> String {
    match &spec.target {
        SinkTarget::Stdout => format!("{} (stdout)", spec.name),
        SinkTarget::Kafka(url) => format!("{} ({url})", spec.name),
        SinkTarget::File(p) => format!("{} ({})", spec.name, p.display()),
    }
}

/// Opens the sink `spec` names for elements of type `T`; `parquet` opens Parquet outputs.
pub fn open_sink<T: Serialize + 'static>(
    spec: &SinkSpec,
    parquet: impl FnOnce(&SinkSpec) -> Result<Box<dyn Sink>>,
) -> Result<Box<dyn Sink>> {
    if let SinkTarget::Kafka(url) = &spec.target {
        #[cfg(feature = "kafka")]
        return Ok(Box::new(super::kafka::KafkaSink::<T>::open(spec, url)?));
        #[cfg(not(feature = "kafka"))]
        return Err(Error::config(format!(
            "output `{}` writes Kafka (`{url}`): build with the `kafka` feature of `pulse`",
            spec.name
        )));
    }
    Ok(match spec.format {
        Format::Jsonl => Box::new(JsonlSink::<T>::open(spec)?),
        Format::Csv => Box::new(CsvSink::<T>::open(spec)?),
        Format::Parquet => parquet(spec)?,
    })
}

/// Writes `bytes` to `out`; an error names `sink`.
fn write_out(out: &mut Out, sink: &str, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).map_err(|e| Error::Write {
        sink: sink.into(),
        message: e.to_string(),
    })
}
