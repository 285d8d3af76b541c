//! The Parquet source: files (one, a glob, or a directory tree) read back into the event type.

use std::any::Any;
use std::fs::File;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::columnar::read_batch;
use crate::error::{Error, Result};
use crate::event::{ArrowField, Record};
use crate::io::{Source, SourceSpec, SourceStats};

/// Reads rows of `T` from Parquet files, checking each file's schema against `T`'s.
pub struct ParquetSource<T> {
    name: String,
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<(PathBuf, ParquetRecordBatchReader)>,
    buffered: std::collections::VecDeque<T>,
    /// Rows of the current file handed out so far.
    consumed: u64,
    stats: SourceStats,
    _t: PhantomData<fn() -> T>,
}

impl<T: Record + ArrowField> ParquetSource<T> {
    /// Opens the files `spec.path` names: a file, a glob, or a directory (searched recursively
    /// for `*.parquet`, skipping hidden in-progress files).
    pub fn open(spec: &SourceSpec) -> Result<Self> {
        let files = spec.split.deal(parquet_files(&spec.path)?);
        Ok(ParquetSource {
            name: spec.name.clone(),
            files,
            next_file: 0,
            current: None,
            buffered: Default::default(),
            consumed: 0,
            stats: SourceStats::default(),
            _t: PhantomData,
        })
    }

    /// The files this source reads, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn refill(&mut self, max: usize) -> Result<bool> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.get(self.next_file).cloned() else {
                    return Ok(false);
                };
                self.next_file += 1;
                let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
                self.stats.bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
                let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.with_batch_size(max.clamp(1, 64 * 1024)).build())
                    .map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
                self.current = Some((path, reader));
                self.consumed = 0;
            }
            let (path, reader) = self.current.as_mut().expect("opened above");
            match reader.next() {
                Some(Ok(batch)) => {
                    let mut rows = Vec::with_capacity(batch.num_rows());
                    read_batch::<T>(&batch, &mut rows)
                        .map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
                    self.buffered.extend(rows);
                    return Ok(true);
                }
                Some(Err(e)) => return Err(Error::config(format!("{}: {e}", path.display()))),
                None => self.current = None,
            }
        }
    }
}

impl<T: Record + ArrowField> Source for ParquetSource<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn new_batch(&self) -> Box<dyn Any> {
        Box::new(Vec::<T>::new())
    }
    fn read_batch(&mut self, batch: &mut dyn Any, max: usize) -> Result<bool> {
        let batch = crate::io::typed::<T>(batch);
        while batch.len() < max {
            if self.buffered.is_empty() && !self.refill(max)? {
                return Ok(false);
            }
            let n = (max - batch.len()).min(self.buffered.len());
            batch.extend(self.buffered.drain(..n));
            self.stats.records += n as u64;
            self.consumed += n as u64;
        }
        Ok(true)
    }
    fn stats(&self) -> SourceStats {
        self.stats.clone()
    }

    fn position(&self) -> Vec<u8> {
        let pos = match &self.current {
            Some(_) => (self.next_file as u64 - 1, self.consumed),
            None => (self.next_file as u64, 0),
        };
        // A Parquet file is written once: its length and its head and tail (the footer) tell it.
        let current = self.current.as_ref().and_then(|(p, _)| {
            let len = std::fs::metadata(p).ok()?.len();
            Some((p.as_path(), len))
        });
        // Rows carry no event time here (the type need not be an `Event`), so inputs beside a
        // Parquet one are read in turn.
        super::super::encode_position(self.files.len(), pos, crate::MIN_WATERMARK, current)
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        if position.is_empty() {
            return Ok(());
        }
        let saved =
            super::super::decode_position::<(u64, u64)>(&self.name, self.files.len(), position)?;
        let (file, rows) = saved.at;
        if rows > 0
            && let Some(path) = self.files.get(file as usize)
        {
            let len = std::fs::metadata(path)
                .map_err(|e| Error::io(path, e))?
                .len();
            saved.check_file(&self.name, path, len)?;
        }
        let name = self.name.clone();
        let bad = move |m: String| Error::config(format!("input `{name}`: cannot resume: {m}"));
        self.next_file = file as usize;
        self.current = None;
        self.buffered.clear();
        // Skip the rows handed out before the checkpoint.
        let mut left = rows;
        while left > 0 {
            if self.buffered.is_empty() && !self.refill(64 * 1024)? {
                return Err(bad(format!("file {file} has fewer than {rows} rows")));
            }
            let n = left.min(self.buffered.len() as u64);
            self.buffered.drain(..n as usize);
            left -= n;
        }
        self.consumed = rows;
        Ok(())
    }
}

fn parquet_files(path: &str) -> Result<Vec<PathBuf>> {
    let p = Path::new(path);
    let mut files = vec![];
    if p.is_dir() {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
            for e in std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .flatten()
            {
                let p = e.path();
                let hidden = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'));
                if hidden {
                    continue;
                }
                if p.is_dir() {
                    walk(&p, out)?;
                } else if p.extension().is_some_and(|x| x == "parquet") {
                    out.push(p);
                }
            }
            Ok(())
        }
        walk(p, &mut files)?;
    } else if path.contains(['*', '?', '[']) {
        let paths = glob::glob(path)
            .map_err(|e| Error::config(format!("bad glob pattern `{path}`: {e}")))?;
        files = paths
            .filter_map(|p| p.ok())
            .filter(|p| p.is_file())
            .collect();
    } else if p.is_file() {
        files.push(p.to_path_buf());
    } else {
        return Err(Error::io(
            p,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        ));
    }
    files.sort();
    if files.is_empty() {
        let held = if p.is_dir() {
            format!(
                "; {} (a directory input is read as Parquet: to read JSON lines or CSV, name the files, e.g. `{}`)",
                crate::io::describe_dir(p),
                p.join("*.jsonl").display()
            )
        } else {
            String::new()
        };
        return Err(Error::config(format!(
            "no Parquet file under `{path}`{held}"
        )));
    }
    Ok(files)
}
