//! The Parquet sink: typed columns from the derived builders, partitioned, rotated, and
//! published by renaming hidden in-progress files.

use std::any::Any;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as Codec, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::options::{Compression, ParquetOptions, Partitioning, escape_partition_value};
use crate::columnar::BatchBuilder;
use crate::error::{Error, Result};
use crate::event::{ArrowField, Record};
use crate::io::Sink;
use crate::time::Timestamp;

/// A finished file waiting to be published: the second phase of the commit renames it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingFile {
    /// The hidden in-progress file.
    pub tmp: PathBuf,
    /// Its final name.
    pub path: PathBuf,
}

impl PendingFile {
    /// Publishes the file; idempotent (a file already renamed is left alone).
    pub fn commit(&self) -> Result<()> {
        if !self.tmp.exists() && self.path.exists() {
            return Ok(());
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

struct Open {
    writer: ArrowWriter<File>,
    file: PendingFile,
    rows: u64,
    opened: Instant,
}

struct Partition<T: Record + ArrowField> {
    builder: BatchBuilder<T>,
    open: Option<Open>,
    /// Rows were appended in the current batch.
    dirty: bool,
}

/// Writes rows of `T` as Parquet files under a directory.
pub struct ParquetSink<T: Record + ArrowField> {
    name: String,
    dir: PathBuf,
    opts: ParquetOptions,
    schema: arrow_schema::SchemaRef,
    props: WriterProperties,
    partitions: BTreeMap<String, Partition<T>>,
    pending: Vec<PendingFile>,
    next_seq: u64,
    rows: u64,
    bytes: u64,
    files: Vec<PathBuf>,
    /// The partition key of the last row, and the second it was computed for (date partitions
    /// without sub-second fields depend only on the second).
    key: String,
    key_second: Option<i64>,
    /// The date format has sub-second fields, so the key cannot be reused within a second.
    sub_second: bool,
}

impl<T: Record + ArrowField> ParquetSink<T> {
    /// A sink writing under `dir` with `opts`; checks the options against `T`.
    pub fn open(name: &str, dir: &Path, opts: ParquetOptions) -> Result<Self> {
        if let Partitioning::Field(f) = &opts.partitioning
            && !T::FIELDS.iter().any(|x| x.name == f)
        {
            let names: Vec<_> = T::FIELDS.iter().map(|x| x.name).collect();
            return Err(Error::config(format!(
                "cannot partition `{}` by `{f}`: no such column; columns are {}",
                T::NAME,
                names.join(", ")
            )));
        }
        crate::io::create_dir(dir)?;
        let codec = match opts.compression {
            Compression::Snappy => Codec::SNAPPY,
            Compression::None => Codec::UNCOMPRESSED,
            Compression::Zstd(l) => {
                Codec::ZSTD(ZstdLevel::try_new(l).map_err(|e| Error::config(e.to_string()))?)
            }
        };
        let props = WriterProperties::builder()
            .set_compression(codec)
            .set_max_row_group_row_count(Some(opts.row_group_size.max(1)))
            .build();
        let sub_second = matches!(&opts.partitioning, Partitioning::Date(f) if ["%f", "%.", "%3f", "%6f", "%9f"].iter().any(|p| f.contains(p)));
        Ok(ParquetSink {
            name: format!("{name} ({})", dir.display()),
            dir: dir.to_path_buf(),
            next_seq: next_sequence(dir),
            opts,
            schema: Arc::new(T::arrow_schema()),
            props,
            partitions: BTreeMap::new(),
            pending: vec![],
            rows: 0,
            bytes: 0,
            files: vec![],
            key: String::new(),
            key_second: None,
            sub_second,
        })
    }

    /// Sets `self.key` to the partition of `row` at `ts`, reusing the previous key when it
    /// cannot have changed.
    fn set_key(&mut self, row: &T, ts: i64) {
        use std::fmt::Write;
        match &self.opts.partitioning {
            Partitioning::None => {}
            Partitioning::Date(fmt) => {
                let second = ts.div_euclid(1000);
                let sub_second = self.sub_second;
                if sub_second || self.key_second != Some(second) {
                    self.key.clear();
                    let _ = write!(
                        self.key,
                        "{}",
                        Timestamp::from_millis(ts).to_datetime().format(fmt)
                    );
                    self.key_second = (!sub_second).then_some(second);
                }
            }
            Partitioning::Field(f) => {
                self.key.clear();
                let v = Record::partition_value(row, f)
                    .map_or_else(|| "__NULL__".to_string(), |v| escape_partition_value(&v));
                let _ = write!(self.key, "{f}={v}");
            }
        }
    }

    /// Writes the partition's buffered rows into its open file (opening one if needed).
    fn flush_partition(&mut self, key: &str) -> Result<()> {
        let part = self.partitions.get_mut(key).expect("partition exists");
        if part.builder.is_empty() {
            return Ok(());
        }
        let batch = part.builder.finish();
        if part.open.is_none() {
            let dir = if key.is_empty() {
                self.dir.clone()
            } else {
                self.dir.join(key)
            };
            crate::io::create_dir(&dir)?;
            let file_name = format!("part-{:05}.parquet", self.next_seq);
            self.next_seq += 1;
            let file = PendingFile {
                tmp: dir.join(format!(".{file_name}.inprogress")),
                path: dir.join(file_name),
            };
            let f = File::create(&file.tmp).map_err(|e| Error::io(&file.tmp, e))?;
            let writer = ArrowWriter::try_new(f, self.schema.clone(), Some(self.props.clone()))
                .map_err(|e| Error::Write {
                    sink: self.name.clone(),
                    message: e.to_string(),
                })?;
            part.open = Some(Open {
                writer,
                file,
                rows: 0,
                opened: Instant::now(),
            });
        }
        let open = part.open.as_mut().expect("opened above");
        let before = open.writer.bytes_written();
        open.writer.write(&batch).map_err(|e| Error::Write {
            sink: self.name.clone(),
            message: e.to_string(),
        })?;
        open.rows += batch.num_rows() as u64;
        let delta = (open.writer.bytes_written() - before) as u64;
        self.bytes += delta;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Closes the partition's open file; it joins the files pending commit.
    fn roll(&mut self, key: &str) -> Result<()> {
        let Some(open) = self.partitions.get_mut(key).and_then(|p| p.open.take()) else {
            return Ok(());
        };
        let before = open.writer.bytes_written() as u64;
        // `into_inner` flushes the last row group and writes the footer.
        let file = open.writer.into_inner().map_err(|e| self.err(e))?;
        file.sync_all().map_err(|e| Error::io(&open.file.tmp, e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(&open.file.tmp, e))?
            .len();
        let delta = size.saturating_sub(before);
        self.bytes += delta;
        self.pending.push(open.file);
        Ok(())
    }

    fn due(&self, open: &Open) -> bool {
        open.rows >= self.opts.max_rows
            || self
                .opts
                .max_age
                .is_some_and(|a| open.opened.elapsed() >= a)
            || self.opts.max_bytes.is_some_and(|b| {
                (open.writer.bytes_written() + open.writer.in_progress_size()) as u64 >= b
            })
    }

    /// Phase one of the commit: closes every open file and returns all files not yet published.
    pub fn pre_commit(&mut self) -> Result<Vec<PendingFile>> {
        let keys: Vec<String> = self.partitions.keys().cloned().collect();
        for k in &keys {
            self.flush_partition(k)?;
            self.roll(k)?;
        }
        Ok(std::mem::take(&mut self.pending))
    }

    /// Resuming after a crash: publishes the files the last checkpoint pre-committed (again, if
    /// the crash came after), then deletes every other in-progress file: they hold rows written
    /// after the checkpoint, which the replay writes again.
    pub fn recover(&mut self, record: Option<&[u8]>) -> Result<()> {
        recover(&self.name, &self.dir, record)?;
        self.next_seq = next_sequence(&self.dir);
        Ok(())
    }

    /// Files published so far.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn err(&self, e: parquet::errors::ParquetError) -> Error {
        Error::Write {
            sink: self.name.clone(),
            message: e.to_string(),
        }
    }
}

impl<T: Record + ArrowField> Sink for ParquetSink<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn new_batch(&self) -> Box<dyn Any> {
        Box::new(Vec::<(T, i64)>::new())
    }

    fn write_batch(&mut self, batch: &mut dyn Any) -> Result<()> {
        let batch = crate::io::typed::<(T, i64)>(batch);
        let cap = batch.len().min(self.opts.row_group_size);
        for (row, ts) in batch.drain(..) {
            self.set_key(&row, ts);
            let part = match self.partitions.get_mut(self.key.as_str()) {
                Some(p) => p,
                None => self
                    .partitions
                    .entry(self.key.clone())
                    .or_insert_with(|| Partition {
                        builder: BatchBuilder::with_capacity(cap),
                        open: None,
                        dirty: false,
                    }),
            };
            part.builder.append(&row);
            part.dirty = true;
            let in_file = part.open.as_ref().map_or(0, |o| o.rows);
            if in_file + part.builder.len() as u64 >= self.opts.max_rows {
                let key = self.key.clone();
                self.flush_partition(&key)?;
                self.roll(&key)?;
            }
        }
        let keys: Vec<String> = self
            .partitions
            .iter()
            .filter(|(_, p)| p.dirty || p.open.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            let part = self.partitions.get_mut(&k).expect("listed above");
            if std::mem::take(&mut part.dirty) {
                self.flush_partition(&k)?;
            }
            let due = self.partitions[&k]
                .open
                .as_ref()
                .is_some_and(|o| self.due(o));
            if due {
                self.roll(&k)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        for f in self.pre_commit()? {
            f.commit()?;
            self.files.push(f.path);
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.rows
    }
    fn bytes_written(&self) -> u64 {
        self.bytes
    }

    fn pre_commit(&mut self) -> Result<Vec<u8>> {
        let pending = ParquetSink::pre_commit(self)?;
        postcard::to_stdvec(&pending).map_err(|e| Error::Write {
            sink: self.name.clone(),
            message: e.to_string(),
        })
    }

    fn commit(&mut self, record: &[u8]) -> Result<()> {
        let pending: Vec<PendingFile> = postcard::from_bytes(record).map_err(|e| Error::Write {
            sink: self.name.clone(),
            message: e.to_string(),
        })?;
        for f in pending {
            f.commit()?;
            self.files.push(f.path);
        }
        Ok(())
    }
}

/// Publishes the files a checkpoint's `record` lists as written (again, if they were), and
/// removes every other in-progress file under `dir`: what came after the checkpoint.
pub(crate) fn recover(name: &str, dir: &Path, record: Option<&[u8]>) -> Result<()> {
    if let Some(r) = record.filter(|r| !r.is_empty()) {
        let files: Vec<PendingFile> = postcard::from_bytes(r)
            .map_err(|e| Error::config(format!("{name}: bad checkpoint record: {e}")))?;
        for f in files {
            f.commit()?;
        }
    }
    remove_in_progress(dir)
}

fn remove_in_progress(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            remove_in_progress(&p)?;
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".part-") && n.ends_with(".inprogress"))
        {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// One more than the largest `part-NNNNN` under `dir`, so a new run never overwrites a file.
fn next_sequence(dir: &Path) -> u64 {
    fn walk(dir: &Path, max: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, max);
            } else if let Some(n) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("part-"))
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u64>().ok())
            {
                *max = (*max).max(n + 1);
            }
        }
    }
    let mut max = 0;
    walk(dir, &mut max);
    max
}
