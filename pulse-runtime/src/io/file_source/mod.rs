//! File sources: JSONL and CSV decoded straight into the event type, one file or a glob.

mod errors;
mod stripe;
#[cfg(test)]
mod tests;

use errors::{base64, csv_error, json_error};
use std::any::Any;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use stripe::{line_number, stripe_at};

use serde::de::DeserializeOwned;

use super::bad::BadRecords;
use super::live::{Input, LiveReader};
use super::{BadRecordPolicy, Format, Source, SourceSpec, SourceStats, Split};
use crate::error::{Error, Result};
use crate::event::Event;

enum Reader {
    Jsonl {
        path: PathBuf,
        reader: BufReader<Input>,
        /// Lines read (the file's line number of the last one, unless striped).
        line: u64,
        /// Where the next line starts.
        offset: u64,
        /// Where this worker's stripe ends: a line starting here or later is not this worker's.
        end: u64,
        /// The file's length.
        len: u64,
        /// Newlines counted from the file's start up to an offset, to name a bad record's
        /// line in a striped file.
        counted: (u64, u64),
    },
    Csv {
        path: PathBuf,
        reader: csv::Reader<File>,
        headers: csv::StringRecord,
    },
}

/// How a file source turns one record into a `T`: serde by default ([`Serde`]); a decoder
/// configured at run time (the TOML pipelines' dynamic records) implements it itself.
pub trait Decode<T> {
    /// Decodes one JSON line (not empty, without its line break); an error names the field at
    /// fault, if any, and what is wrong.
    fn json(&self, text: &str) -> std::result::Result<T, (Option<String>, String)>;
    /// Decodes one CSV record under `headers`; an error as for [`json`](Self::json).
    fn csv(
        &self,
        record: &csv::StringRecord,
        headers: &csv::StringRecord,
    ) -> std::result::Result<T, (Option<String>, String)>;
}

/// Decodes with `T`'s `Deserialize` (and the derive's fast path before it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Serde;

impl<T: DeserializeOwned> Decode<T> for Serde {
    fn json(&self, text: &str) -> std::result::Result<T, (Option<String>, String)> {
        serde_json::from_str::<T>(text).map_err(|_| json_error::<T>(text))
    }
    fn csv(
        &self,
        record: &csv::StringRecord,
        headers: &csv::StringRecord,
    ) -> std::result::Result<T, (Option<String>, String)> {
        record.deserialize::<T>(Some(headers)).map_err(|e| {
            let field = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err
                    .field()
                    .and_then(|i| headers.get(i as usize))
                    .map(str::to_string),
                _ => None,
            };
            let message = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err.kind().to_string(),
                _ => e.to_string(),
            };
            (field, message)
        })
    }
}

/// Reads events of type `T` from one file or every file matching a glob, in sorted order.
pub struct FileSource<T, D = Serde> {
    name: String,
    files: Vec<PathBuf>,
    next_file: usize,
    format: Format,
    split: Split,
    current: Option<Reader>,
    bad_records: BadRecords,
    stats: SourceStats,
    /// The largest event time read.
    high: i64,
    bytes: Vec<u8>,
    record: csv::StringRecord,
    /// Standard input, a named pipe or a followed file: read as lines arrive.
    live: bool,
    /// A followed file (`--follow`), and the (inode, offset) a resume starts at.
    follow: bool,
    follow_from: Option<(u64, u64)>,
    decode: D,
    _t: PhantomData<fn() -> T>,
}

/// One record that did not decode.
struct Bad<'a> {
    path: &'a Path,
    line: u64,
    field: Option<String>,
    message: String,
    raw: &'a str,
    /// The line's bytes, base64, when they are not UTF-8 (`raw` is then a lossy copy).
    raw_base64: Option<String>,
}

impl<T: Event + DeserializeOwned> FileSource<T> {
    /// Opens the files `spec.path` names (a path or a glob pattern).
    ///
    /// With a [`Split`], JSON lines files are read in this worker's stripes and CSV files are
    /// dealt out whole.
    pub fn open(spec: &SourceSpec) -> Result<Self> {
        Self::with_decoder(spec, Serde)
    }
}

impl<T: Event, D: Decode<T>> FileSource<T, D> {
    /// Opens the files `spec.path` names, decoding each record with `decode`.
    pub fn with_decoder(spec: &SourceSpec, decode: D) -> Result<Self> {
        let live = spec.follow || super::live::is_live(&spec.path);
        if spec.follow && spec.path.contains(['*', '?', '[']) {
            return Err(Error::config(format!(
                "input `{}`: --follow follows one file, not the glob `{}`",
                spec.name, spec.path
            )));
        }
        let mut files = if live {
            if spec.format != Format::Jsonl {
                return Err(Error::config(format!(
                    "input `{}`: a live input (`{}`) is read as JSON lines, not {:?}",
                    spec.name, spec.path, spec.format
                )));
            }
            vec![PathBuf::from(&spec.path)]
        } else {
            expand(&spec.path)?
        };
        if spec.format == Format::Csv || live {
            // A live input is read whole, by the first worker.
            files = spec.split.deal(files);
        }
        let mut policy = spec.on_bad_record.clone();
        if let BadRecordPolicy::DeadLetter(p) = &mut policy
            && spec.split.worker > 0
        {
            // One dead-letter file per worker: `bad.jsonl`, `bad.worker1.jsonl`, …
            *p = spec.split.worker_path(p);
        }
        let bad_records = BadRecords::open(policy)?;
        Ok(FileSource {
            name: spec.name.clone(),
            files,
            next_file: 0,
            format: spec.format,
            split: spec.split,
            current: None,
            bad_records,
            stats: SourceStats::default(),
            high: crate::MIN_WATERMARK,
            bytes: Vec::new(),
            record: csv::StringRecord::new(),
            live,
            follow: spec.follow,
            follow_from: None,
            decode,
            _t: PhantomData,
        })
    }

    /// The files this source reads, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn open_next(&mut self) -> Result<bool> {
        let Some(path) = self.files.get(self.next_file).cloned() else {
            return Ok(false);
        };
        self.next_file += 1;
        if self.live {
            let input = if self.follow {
                LiveReader::follow(&path, self.follow_from.take())
            } else {
                LiveReader::spawn(&path)
            }
            .map_err(|e| Error::io(&path, e))?;
            self.current = Some(Reader::Jsonl {
                path,
                reader: BufReader::with_capacity(1 << 16, Input::Live(input)),
                line: 0,
                offset: 0,
                end: u64::MAX,
                len: u64::MAX,
                counted: (0, 0),
            });
            return Ok(true);
        }
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        self.current = Some(match self.format {
            Format::Jsonl => {
                let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
                let mut r = Reader::Jsonl {
                    path,
                    reader: BufReader::with_capacity(1 << 16, Input::File(file)),
                    line: 0,
                    offset: 0,
                    end: u64::MAX,
                    len,
                    counted: (0, 0),
                };
                if !self.split.is_whole() {
                    let first = self.split.worker as u64 * self.split.stripe;
                    if !stripe_at(&mut r, first, self.split.stripe)? {
                        // The file ends before this worker's first stripe: nothing of it is
                        // this worker's (a part of the input passed, see `segment`).
                        self.current = None;
                        return Ok(true);
                    }
                }
                r
            }
            Format::Parquet => unreachable!("Parquet inputs are opened by the Parquet source"),
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .from_reader(file);
                let headers = reader.headers().map_err(|e| csv_error(&path, e))?.clone();
                Reader::Csv {
                    path,
                    reader,
                    headers,
                }
            }
        });
        Ok(true)
    }

    fn bad(&mut self, bad: Bad<'_>) -> Result<()> {
        let name = &self.name;
        let Bad {
            path,
            line,
            field,
            message,
            raw,
            raw_base64,
        } = bad;
        let entry = || {
            let mut entry = serde_json::json!({
                "input": name,
                "file": path.display().to_string(),
                "line": line,
                "field": field,
                "error": message,
                "raw": raw,
            });
            if let Some(b) = &raw_base64 {
                entry["raw_base64"] = serde_json::Value::String(b.clone());
            }
            entry
        };
        let error = || Error::BadRecord {
            path: path.to_path_buf(),
            line,
            field: field.clone(),
            message: message.clone(),
        };
        self.bad_records.handle(&mut self.stats, error, entry)
    }
}

impl<T: Event, D: Decode<T>> Source for FileSource<T, D> {
    fn name(&self) -> &str {
        &self.name
    }

    fn new_batch(&self) -> Box<dyn Any> {
        Box::new(Vec::<T>::new())
    }

    fn read_batch(&mut self, batch: &mut dyn Any, max: usize) -> Result<bool> {
        self.read_until(batch, max, i64::MAX)
    }

    fn read_until(&mut self, batch: &mut dyn Any, max: usize, limit: i64) -> Result<bool> {
        let batch = super::typed::<T>(batch);
        let from = batch.len();
        let more = self.read_into(batch, max, limit);
        self.high = super::high_water(self.high, &batch[from..]);
        more
    }

    fn progress(&self) -> Option<i64> {
        // A live input's event time says nothing of what comes next: it is read in turn.
        (!self.live).then_some(self.high)
    }

    fn is_live(&self) -> bool {
        self.live
    }

    fn segments(&self) -> bool {
        !self.split.is_whole()
    }

    /// The file's index in the whole input (CSV files are dealt out, every `workers`-th to
    /// each worker) above the stripe's index; each batch holds records of one such part.
    fn segment(&self) -> u64 {
        let Split {
            worker,
            workers,
            stripe,
        } = self.split;
        let (w, n) = (worker as u64, workers as u64);
        let part = |file: usize, s: u64| {
            let file = match self.format {
                Format::Csv => file as u64 * n + w,
                _ => file as u64,
            };
            (file << 40) | s
        };
        match &self.current {
            Some(Reader::Jsonl { offset, end, .. }) if offset < end => {
                part(self.next_file - 1, end / stripe - 1)
            }
            // The stripe is read: what follows is this worker's next one (which may turn out
            // to hold no line, or lie past the end of the file: then it is empty).
            Some(Reader::Jsonl { end, .. }) => part(self.next_file - 1, end / stripe + n - 1),
            Some(Reader::Csv { .. }) => part(self.next_file - 1, 0),
            None if self.next_file < self.files.len() => {
                let first = if self.format == Format::Csv { 0 } else { w };
                part(self.next_file, first)
            }
            None => u64::MAX,
        }
    }

    fn stats(&self) -> SourceStats {
        self.stats.clone()
    }

    fn total_bytes(&self) -> Option<u64> {
        if self.live {
            return None;
        }
        Some(
            self.files
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum(),
        )
    }

    /// File, byte offset, line, the end of the current stripe (`u64::MAX` unless striped), and
    /// the largest event time read.
    fn position(&self) -> Vec<u8> {
        let (pos, current): ((u64, u64, u64, u64), _) = match &self.current {
            None => ((self.next_file as u64, 0, 0, u64::MAX), None),
            Some(Reader::Jsonl {
                path,
                line,
                offset,
                end,
                ..
            }) => (
                (self.next_file as u64 - 1, *offset, *line, *end),
                Some((path.as_path(), *offset)),
            ),
            Some(Reader::Csv { path, reader, .. }) => {
                let p = reader.position();
                (
                    (self.next_file as u64 - 1, p.byte(), p.line(), u64::MAX),
                    Some((path.as_path(), p.byte())),
                )
            }
        };
        let current = current.filter(|_| !self.live);
        if let Some(Reader::Jsonl {
            reader,
            offset,
            line,
            ..
        }) = &self.current
            && let Input::Live(l) = reader.get_ref()
            && self.follow
        {
            // A followed file: the offset in the file now being read, and its inode (in the
            // slot a stripe's end has in a plain file's position).
            if let Some((inode, at)) = l.file_at(*offset) {
                return super::encode_position(1, (0u64, at, *line, inode), self.high, None);
            }
        }
        super::encode_position(self.files.len(), pos, self.high, current)
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        if !position.is_empty() && self.follow {
            let saved = super::decode_position::<(u64, u64, u64, u64)>(&self.name, 1, position)?;
            let (_, at, line, inode) = saved.at;
            self.high = saved.high;
            // Where the checkpoint was, if the path still names that file (else its start).
            self.follow_from = Some((inode, at));
            self.next_file = 0;
            self.current = None;
            self.open_next()?;
            if let Some(Reader::Jsonl { line: l, .. }) = &mut self.current {
                *l = line;
            }
            return Ok(());
        }
        if position.is_empty() || self.live {
            // Standard input and pipes cannot be read again: a resumed run goes on with what
            // arrives next.
            return Ok(());
        }
        let saved =
            super::decode_position::<(u64, u64, u64, u64)>(&self.name, self.files.len(), position)?;
        let (file, offset, line, end) = saved.at;
        self.high = saved.high;
        self.next_file = file as usize;
        self.current = None;
        if offset == 0 {
            return Ok(());
        }
        if let Some(path) = self.files.get(file as usize) {
            saved.check_file(&self.name, path, offset)?;
        }
        if !self.open_next()? {
            return Ok(());
        }
        let Some(current) = self.current.as_mut() else {
            // Not this worker's file after all (it has no stripe of it).
            return Ok(());
        };
        match current {
            Reader::Jsonl {
                path,
                reader,
                line: l,
                offset: o,
                end: e,
                ..
            } => {
                use std::io::Seek;
                reader
                    .seek(std::io::SeekFrom::Start(offset))
                    .map_err(|err| Error::io(&*path, err))?;
                (*l, *o, *e) = (line, offset, end);
            }
            Reader::Csv { path, reader, .. } => {
                let mut pos = csv::Position::new();
                pos.set_byte(offset).set_line(line);
                reader.seek(pos).map_err(|e| csv_error(path, e))?;
            }
        }
        Ok(())
    }
}

impl<T: Event, D: Decode<T>> FileSource<T, D> {
    /// Appends up to `max` records to `batch`, stopping after one whose event time is past
    /// `limit`; `false` once the input is exhausted.
    fn read_into(&mut self, batch: &mut Vec<T>, max: usize, limit: i64) -> Result<bool> {
        // A split input returns at the end of each part (stripe or file), so that a batch holds
        // records of one `segment` only.
        let parts = !self.split.is_whole();
        while batch.len() < max {
            if limit != i64::MAX
                && batch
                    .last()
                    .is_some_and(|x| x.event_time().millis() > limit)
            {
                return Ok(true);
            }
            if self.current.is_none() {
                if !self.open_next()? {
                    self.bad_records.flush()?;
                    return Ok(false);
                }
                if self.current.is_none() {
                    // A file with no stripe of this worker's.
                    return Ok(true);
                }
            }
            let mut failed = None;
            match self.current.as_mut().expect("a file is open") {
                r @ Reader::Jsonl { .. } if r.stripe_done() => {
                    let Reader::Jsonl { end, .. } = r else {
                        unreachable!()
                    };
                    let next = *end + (self.split.workers as u64 - 1) * self.split.stripe;
                    if !stripe_at(r, next, self.split.stripe)? {
                        self.current = None;
                    }
                    if parts {
                        return Ok(true);
                    }
                    continue;
                }
                Reader::Jsonl {
                    path,
                    reader,
                    line,
                    offset,
                    end,
                    counted,
                    ..
                } => {
                    // Fast path: a whole line in the reader's buffer decodes in place.
                    let buf = match reader.fill_buf() {
                        Ok(buf) => buf,
                        // A live input with nothing new: hand on what there is.
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(true),
                        Err(e) => return Err(Error::io(&*path, e)),
                    };
                    let mut tried = false;
                    if let Some(end) = memchr::memchr(b'\n', buf) {
                        let mut raw = &buf[..end];
                        if let [rest @ .., b'\r'] = raw {
                            raw = rest;
                        }
                        tried = true;
                        if let Some(x) = T::decode_json(raw) {
                            reader.consume(end + 1);
                            *line += 1;
                            *offset += end as u64 + 1;
                            self.stats.bytes += end as u64 + 1;
                            batch.push(x);
                            self.stats.records += 1;
                            continue;
                        }
                    }
                    self.bytes.clear();
                    let n = reader
                        .read_until(b'\n', &mut self.bytes)
                        .map_err(|e| Error::io(&*path, e))?;
                    if n == 0 {
                        self.current = None;
                        if parts {
                            return Ok(true);
                        }
                        continue;
                    }
                    *line += 1;
                    *offset += n as u64;
                    self.stats.bytes += n as u64;
                    let mut raw = self.bytes.as_slice();
                    while let [rest @ .., b'\n' | b'\r'] = raw {
                        raw = rest;
                    }
                    // The derive's decoder (unless it already gave up on this line); serde for
                    // what it leaves, and for errors.
                    if !tried && let Some(x) = T::decode_json(raw) {
                        batch.push(x);
                        self.stats.records += 1;
                        continue;
                    }
                    // In a striped file the line's number is known only by counting the lines
                    // before it: done for a bad line only, not for every line serde decodes.
                    let start = *offset - n as u64;
                    let mut number = |line: &mut u64| -> Result<u64> {
                        if *end != u64::MAX {
                            *line = line_number(path, counted, start)?;
                        }
                        Ok(*line)
                    };
                    match std::str::from_utf8(raw) {
                        Ok(text) if text.trim().is_empty() => continue,
                        Ok(text) => match self.decode.json(text) {
                            Ok(x) => batch.push(x),
                            Err((field, message)) => {
                                let (raw, line) = (text.to_string(), number(line)?);
                                failed = Some((path.clone(), line, field, message, raw, None));
                            }
                        },
                        Err(e) => {
                            // The lossy text to read, and the bytes as they were.
                            let text = String::from_utf8_lossy(raw).into_owned();
                            let message = format!("not UTF-8: {e}");
                            let (bytes, line) = (Some(base64(raw)), number(line)?);
                            failed = Some((path.clone(), line, None, message, text, bytes));
                        }
                    }
                }
                Reader::Csv {
                    path,
                    reader,
                    headers,
                } => {
                    let read = match reader.read_record(&mut self.record) {
                        Ok(more) => Some(more),
                        // A record the reader could split but not accept (a wrong number of
                        // fields, bytes that are not UTF-8) is a bad record like any other:
                        // the policy decides, and the reader goes on with the next one.
                        Err(e)
                            if matches!(
                                e.kind(),
                                csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                            ) =>
                        {
                            let line = e.position().map_or(0, |p| p.line());
                            let message = match e.kind() {
                                csv::ErrorKind::UnequalLengths {
                                    expected_len, len, ..
                                } => format!(
                                    "{len} fields where the header has {expected_len} (an unclosed quote joins lines)"
                                ),
                                _ => e.to_string(),
                            };
                            let raw = self.record.iter().collect::<Vec<_>>().join(",");
                            failed = Some((path.clone(), line, None, message, raw, None));
                            None
                        }
                        Err(e) => return Err(csv_error(path, e)),
                    };
                    if let Some(more) = read {
                        if !more {
                            self.current = None;
                            if parts {
                                return Ok(true);
                            }
                            continue;
                        }
                        let line = self.record.position().map_or(0, |p| p.line());
                        self.stats.bytes +=
                            self.record.as_slice().len() as u64 + self.record.len() as u64;
                        match self.decode.csv(&self.record, headers) {
                            Ok(x) => batch.push(x),
                            Err((field, message)) => {
                                let raw = self.record.iter().collect::<Vec<_>>().join(",");
                                failed = Some((path.clone(), line, field, message, raw, None));
                            }
                        }
                    }
                }
            }
            if let Some((path, line, field, message, raw, raw_base64)) = failed {
                self.bad(Bad {
                    path: &path,
                    line,
                    field,
                    message,
                    raw: &raw,
                    raw_base64,
                })?;
            } else if self.current.is_some() {
                self.stats.records += 1;
            }
        }
        Ok(true)
    }
}

/// The files a path or glob names, sorted; an error if there are none.
pub(super) fn expand(pattern: &str) -> Result<Vec<PathBuf>> {
    let is_glob = pattern.contains(['*', '?', '[']);
    if !is_glob {
        let p = PathBuf::from(pattern);
        if !p.is_file() {
            return Err(super::paths::not_a_file(&p));
        }
        return Ok(vec![p]);
    }
    let paths = glob::glob(pattern)
        .map_err(|e| Error::config(format!("bad glob pattern `{pattern}`: {e}")))?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::config(format!("no file matches `{pattern}`")));
    }
    Ok(files)
}
