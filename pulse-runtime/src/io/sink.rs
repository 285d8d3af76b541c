//! File and stdout sinks: JSON lines and CSV, published atomically when finished.

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
        SinkTarget::File(p) => format!("{} ({})", spec.name, p.display()),
    }
}

/// Writes each element as one JSON object per line.
pub struct JsonlSink<T> {
    name: String,
    out: Out,
    /// Lines serialized and not yet handed to `out`: serde writes a line in many small
    /// pieces, which cost less appended to a `Vec` than passed through the writer one by one.
    lines: Vec<u8>,
    written: u64,
    /// Bytes of encoded lines written since the file was last synced.
    unsynced: usize,
    _t: PhantomData<fn(T)>,
}

/// Bytes [`JsonlSink::write_encoded`] writes between syncs.
const WRITE_BACK: usize = 32 << 20;

impl<T: Serialize + 'static> JsonlSink<T> {
    /// Opens the target.
    pub fn open(spec: &SinkSpec) -> Result<Self> {
        Ok(JsonlSink {
            name: describe(spec),
            out: open_out(&spec.target, spec.resume.as_deref())?,
            lines: Vec::new(),
            written: 0,
            unsynced: 0,
            _t: PhantomData,
        })
    }

    /// Hands the gathered lines to the writer.
    fn write_lines(&mut self) -> Result<()> {
        let r = write_out(&mut self.out, &self.name, &self.lines);
        self.lines.clear();
        r
    }
}

/// Writes `bytes` to `out`; an error names `sink`.
fn write_out(out: &mut Out, sink: &str, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).map_err(|e| Error::Write {
        sink: sink.into(),
        message: e.to_string(),
    })
}

/// Bytes of serialized lines gathered before they go to the writer.
const LINES: usize = 64 << 10;

/// Serializes `rows` into `into` as JSON lines until `into` holds `limit` bytes or more; returns
/// how many rows it wrote, and whether rows are left. A row that fails to serialize leaves
/// `into` with the whole lines before it, and the error names `sink`.
fn encode_lines<T: Serialize>(
    rows: &mut impl Iterator<Item = T>,
    into: &mut Vec<u8>,
    limit: usize,
    sink: &str,
) -> (u64, Result<bool>) {
    let mut n = 0;
    for x in rows {
        let line_start = into.len();
        if let Err(e) = serde_json::to_writer(&mut *into, &x) {
            into.truncate(line_start);
            let e = Error::Write {
                sink: sink.to_string(),
                message: e.to_string(),
            };
            return (n, Err(e));
        }
        into.push(b'\n');
        n += 1;
        if into.len() >= limit {
            return (n, Ok(true));
        }
    }
    (n, Ok(false))
}

/// [`JsonlSink`]'s lines, made on a worker's thread.
struct JsonlEncoder<T> {
    name: String,
    _t: PhantomData<fn(T)>,
}

impl<T: Serialize + 'static> super::Encoder for JsonlEncoder<T> {
    fn encode(&self, batch: &mut dyn Any, into: &mut Vec<u8>) -> (u64, Result<()>) {
        let batch = super::typed::<(T, i64)>(batch);
        let mut rows = batch.drain(..).map(|(x, _)| x);
        let (n, done) = encode_lines(&mut rows, into, usize::MAX, &self.name);
        (n, done.map(drop))
    }
}

impl<T: Serialize + 'static> Sink for JsonlSink<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn new_batch(&self) -> Box<dyn Any> {
        Box::new(Vec::<(T, i64)>::new())
    }
    fn write_batch(&mut self, batch: &mut dyn Any) -> Result<()> {
        let batch = super::typed::<(T, i64)>(batch);
        let mut rows = batch.drain(..).map(|(x, _)| x);
        loop {
            // A piece of at most `LINES` bytes at a time; only whole lines reach the file.
            let (n, more) = encode_lines(&mut rows, &mut self.lines, LINES, &self.name);
            self.written += n;
            self.write_lines()?;
            if !more? {
                return Ok(());
            }
        }
    }
    fn encoder(&self) -> Option<Box<dyn super::Encoder>> {
        Some(Box::new(JsonlEncoder::<T> {
            name: self.name.clone(),
            _t: PhantomData,
        }))
    }
    fn write_encoded(&mut self, bytes: &[u8], rows: u64) -> Result<()> {
        write_out(&mut self.out, &self.name, bytes)?;
        self.written += rows;
        self.unsynced += bytes.len();
        if self.unsynced >= WRITE_BACK {
            // Workers encode, so this thread has time to wait for the disk: the final sync
            // then only waits for the last piece.
            self.unsynced = 0;
            pre_commit_out(&mut self.out, &self.name)?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        finish_out(&mut self.out, &self.name)
    }
    fn pre_commit(&mut self) -> Result<Vec<u8>> {
        pre_commit_out(&mut self.out, &self.name)
    }
    fn written(&self) -> u64 {
        self.written
    }
}

/// Writes elements as CSV rows with a header (flat records only). Rows are encoded by
/// [`CsvEncoder`] (on the sink's thread, or on the workers of a parallel run), so a row CSV
/// refuses leaves only whole records before it.
pub struct CsvSink<T> {
    name: String,
    /// `None` once finished.
    out: Option<Out>,
    encoder: CsvEncoder<T>,
    /// Encoded records not yet written (reused).
    bytes: Vec<u8>,
    written: u64,
    /// Whether the file has its header (resumed, or written with the first records).
    has_header: bool,
}

/// The error of a row CSV cannot hold.
fn csv_error(sink: &str, e: impl std::fmt::Display) -> Error {
    Error::Write {
        sink: sink.to_string(),
        message: format!("{e} (CSV holds flat records only; write nested data as JSON lines)"),
    }
}

/// Rows [`CsvSink::write_batch`] encodes at a time.
const CSV_ROWS: usize = 4096;

/// [`CsvSink`]'s records, made on a worker's thread or the sink's own. Each piece is framed for
/// the sink: the length of the header record (8 bytes, little-endian), then the header, then
/// the records; the sink writes the header only once.
struct CsvEncoder<T> {
    name: String,
    _t: PhantomData<fn(T)>,
}

impl<T> Clone for CsvEncoder<T> {
    fn clone(&self) -> Self {
        CsvEncoder {
            name: self.name.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + 'static> super::Encoder for CsvEncoder<T> {
    fn encode(&self, batch: &mut dyn Any, into: &mut Vec<u8>) -> (u64, Result<()>) {
        let batch = super::typed::<(T, i64)>(batch);
        let mut rows = batch.drain(..).map(|(x, _)| x);
        let Some(first) = rows.next() else {
            return (0, Ok(()));
        };
        // The header's length: the first record written with it, less the record alone.
        let mut alone = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        let record = match alone.serialize(&first).and_then(|()| {
            alone.flush()?;
            Ok(alone.get_ref().len())
        }) {
            Ok(len) => len,
            Err(e) => return (0, Err(csv_error(&self.name, e))),
        };
        let frame = into.len();
        into.extend_from_slice(&[0; 8]);
        let body = into.len();
        let mut w = csv::WriterBuilder::new().from_writer(&mut *into);
        let (mut n, mut result) = (0, Ok(()));
        let (mut good, mut header) = (body, 0);
        for x in std::iter::once(first).chain(rows) {
            match w.serialize(&x).and_then(|()| Ok(w.flush()?)) {
                Ok(()) => {
                    n += 1;
                    good = w.get_ref().len();
                    if n == 1 {
                        header = good - body - record;
                    }
                }
                Err(e) => {
                    result = Err(csv_error(&self.name, e));
                    break;
                }
            }
        }
        // Dropping the writer flushes what a failed row left in its buffer: cut it off.
        drop(w);
        into.truncate(good);
        if n == 0 {
            // Whole records only: a failed first row leaves no piece at all.
            into.truncate(frame);
            return (0, result);
        }
        into[frame..body].copy_from_slice(&(header as u64).to_le_bytes());
        (n, result)
    }
}

impl<T: Serialize + 'static> CsvSink<T> {
    /// Opens the target.
    pub fn open(spec: &SinkSpec) -> Result<Self> {
        // A resumed file already has its header.
        let has_header = spec
            .resume
            .as_deref()
            .is_some_and(|r| postcard::from_bytes::<u64>(r).is_ok_and(|len| len > 0));
        let name = describe(spec);
        Ok(CsvSink {
            out: Some(open_out(&spec.target, spec.resume.as_deref())?),
            encoder: CsvEncoder {
                name: name.clone(),
                _t: PhantomData,
            },
            name,
            bytes: Vec::new(),
            written: 0,
            has_header,
        })
    }
}

impl<T: Serialize + 'static> Sink for CsvSink<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn new_batch(&self) -> Box<dyn Any> {
        Box::new(Vec::<(T, i64)>::new())
    }
    fn write_batch(&mut self, batch: &mut dyn Any) -> Result<()> {
        let mut rows = super::typed::<(T, i64)>(batch).drain(..);
        let mut bytes = std::mem::take(&mut self.bytes);
        loop {
            // A piece of at most `CSV_ROWS` rows at a time, so a large firing is not encoded
            // whole into memory first.
            let mut piece: Vec<(T, i64)> = rows.by_ref().take(CSV_ROWS).collect();
            if piece.is_empty() {
                self.bytes = bytes;
                return Ok(());
            }
            bytes.clear();
            let (n, encoded) = super::Encoder::encode(&self.encoder, &mut piece, &mut bytes);
            let wrote = self.write_encoded(&bytes, n).and(encoded);
            if wrote.is_err() {
                self.bytes = bytes;
                return wrote;
            }
        }
    }
    fn encoder(&self) -> Option<Box<dyn super::Encoder>> {
        Some(Box::new(self.encoder.clone()))
    }
    fn write_encoded(&mut self, bytes: &[u8], rows: u64) -> Result<()> {
        let Some((frame, piece)) = bytes.split_first_chunk::<8>() else {
            return Ok(());
        };
        let header = usize::try_from(u64::from_le_bytes(*frame)).unwrap_or(usize::MAX);
        let Some(records) = piece.get(header..) else {
            return Err(Error::Write {
                sink: self.name.clone(),
                message: "an encoded piece shorter than its header".into(),
            });
        };
        let body = if self.has_header { records } else { piece };
        let Some(out) = self.out.as_mut() else {
            return Err(Error::Write {
                sink: self.name.clone(),
                message: "already finished".into(),
            });
        };
        write_out(out, &self.name, body)?;
        self.has_header = true;
        self.written += rows;
        Ok(())
    }
    fn pre_commit(&mut self) -> Result<Vec<u8>> {
        match self.out.as_mut() {
            Some(out) => pre_commit_out(out, &self.name),
            None => Ok(Vec::new()),
        }
    }
    fn finish(&mut self) -> Result<()> {
        match self.out.take() {
            Some(mut out) => finish_out(&mut out, &self.name),
            None => Ok(()),
        }
    }
    fn written(&self) -> u64 {
        self.written
    }
}

/// Opens the sink `spec` names for elements of type `T`; `parquet` opens Parquet outputs.
pub fn open_sink<T: Serialize + 'static>(
    spec: &SinkSpec,
    parquet: impl FnOnce(&SinkSpec) -> Result<Box<dyn Sink>>,
) -> Result<Box<dyn Sink>> {
    Ok(match spec.format {
        Format::Jsonl => Box::new(JsonlSink::<T>::open(spec)?),
        Format::Csv => Box::new(CsvSink::<T>::open(spec)?),
        Format::Parquet => parquet(spec)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::io::SinkSpec;

    /// A row serde_json refuses when it holds a key that is not a string.
    type Row = BTreeMap<(u8, u8), u8>;

    /// 90 KB of lines: more than one of the sink's 64 KiB pieces.
    const ROWS: usize = 30_000;

    fn rows(bad_at: Option<usize>) -> Vec<(Row, i64)> {
        (0..ROWS)
            .map(|i| {
                let mut row = Row::new();
                if Some(i) == bad_at {
                    row.insert((1, 2), 3);
                }
                (row, i as i64)
            })
            .collect()
    }

    /// Writes `batch` through the sink's thread, or through its encoder as a worker would.
    fn write(path: &std::path::Path, mut batch: Vec<(Row, i64)>, encoded: bool) -> (u64, bool) {
        let spec = SinkSpec::new("out", path.to_str().unwrap()).unwrap();
        let mut sink = JsonlSink::<Row>::open(&spec).unwrap();
        let ok = if encoded {
            let mut bytes = Vec::new();
            let (n, r) = sink.encoder().unwrap().encode(&mut batch, &mut bytes);
            sink.write_encoded(&bytes, n).unwrap();
            r.is_ok()
        } else {
            sink.write_batch(&mut batch).is_ok()
        };
        sink.finish().unwrap();
        (sink.written(), ok)
    }

    #[test]
    fn an_encoder_writes_what_the_sink_writes() {
        let dir = tempfile::tempdir().unwrap();
        // A bad row in the first piece, and one in the second.
        for bad_at in [None, Some(0), Some(25_000)] {
            let (direct, encoded) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
            let a = write(&direct, rows(bad_at), false);
            let b = write(&encoded, rows(bad_at), true);
            assert_eq!(a, b, "rows written and success, bad row at {bad_at:?}");
            let good = bad_at.unwrap_or(ROWS);
            assert_eq!(a, (good as u64, bad_at.is_none()));
            let text = std::fs::read_to_string(&direct).unwrap();
            assert_eq!(text, "{}\n".repeat(good), "whole lines before the bad row");
            assert_eq!(std::fs::read_to_string(&encoded).unwrap(), text);
        }
    }

    /// Encoded pieces past the write-back size: syncing on the way loses and repeats nothing.
    #[test]
    fn encoded_pieces_past_the_write_back_size_all_arrive_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.jsonl");
        let spec = SinkSpec::new("out", path.to_str().unwrap()).unwrap();
        let mut sink = JsonlSink::<u64>::open(&spec).unwrap();
        let piece = |i: usize| {
            let mut line = format!("{i:08}").into_bytes();
            line.resize((1 << 20) - 1, b' ');
            line.push(b'\n');
            line
        };
        let pieces = WRITE_BACK / (1 << 20) * 2 + 3;
        for i in 0..pieces {
            sink.write_encoded(&piece(i), 1).unwrap();
        }
        sink.finish().unwrap();
        assert_eq!(sink.written(), pieces as u64);
        let text = std::fs::read(&path).unwrap();
        assert_eq!(text.len(), pieces << 20);
        for (i, got) in text.chunks(1 << 20).enumerate() {
            assert!(got == piece(i), "piece {i} in its place");
        }
    }

    /// A CSV row; one with tags is nested data, which CSV refuses.
    #[derive(Serialize)]
    struct CsvRow {
        id: u64,
        name: String,
        tags: Option<Vec<u8>>,
    }

    fn csv_rows(from: u64, n: u64, bad_at: Option<u64>) -> Vec<(CsvRow, i64)> {
        (from..from + n)
            .map(|id| {
                let row = CsvRow {
                    id,
                    name: format!("n{id}, \"quoted\""),
                    tags: (Some(id) == bad_at).then(|| vec![1, 2]),
                };
                (row, 0)
            })
            .collect()
    }

    /// Written by the sink's thread, or encoded piece by piece on workers, the file is what the
    /// `csv` crate makes of the same rows, with one header; a refused row ends the run after
    /// the whole records before it.
    #[test]
    fn csv_pieces_hold_whole_records_under_one_header() {
        let dir = tempfile::tempdir().unwrap();
        let spec = |p: &std::path::Path| SinkSpec::new("out", p.to_str().unwrap()).unwrap();
        for bad_at in [None, Some(0), Some(150)] {
            let good = bad_at.unwrap_or(200);
            let mut want = csv::Writer::from_writer(Vec::new());
            for (row, _) in csv_rows(0, good, None) {
                want.serialize(row).unwrap();
            }
            let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
            for encoded in [false, true] {
                let path = dir.path().join(format!("{encoded}.csv"));
                let mut sink = CsvSink::<CsvRow>::open(&spec(&path)).unwrap();
                let encoder = sink.encoder().unwrap();
                let mut failed = 0;
                for mut piece in [csv_rows(0, 100, bad_at), csv_rows(100, 100, bad_at)] {
                    let ok = if encoded {
                        let mut bytes = Vec::new();
                        let (n, r) = encoder.encode(&mut piece, &mut bytes);
                        sink.write_encoded(&bytes, n).unwrap();
                        r.is_ok()
                    } else {
                        sink.write_batch(&mut piece).is_ok()
                    };
                    if !ok {
                        // A run stops at a sink's error.
                        failed += 1;
                        break;
                    }
                }
                sink.finish().unwrap();
                let case = format!("bad row at {bad_at:?}, encoded: {encoded}");
                assert_eq!(failed, bad_at.is_some() as u32, "{case}");
                assert_eq!(sink.written(), good, "{case}");
                assert_eq!(std::fs::read_to_string(&path).unwrap(), want, "{case}");
            }
            assert_eq!(want.matches("id,name,tags").count(), (good > 0) as usize);
        }
    }

    /// A run that resumes a CSV file after a crash continues it from its checkpointed length
    /// without a second header, encoded on workers or not.
    #[test]
    fn a_resumed_csv_file_keeps_its_one_header() {
        let dir = tempfile::tempdir().unwrap();
        for encoded in [false, true] {
            let path = dir.path().join(format!("r{encoded}.csv"));
            let spec = SinkSpec::new("out", path.to_str().unwrap()).unwrap();
            let write = |sink: &mut CsvSink<CsvRow>, mut rows: Vec<(CsvRow, i64)>| {
                if encoded {
                    let mut bytes = Vec::new();
                    let (n, r) = sink.encoder().unwrap().encode(&mut rows, &mut bytes);
                    r.unwrap();
                    sink.write_encoded(&bytes, n).unwrap();
                } else {
                    sink.write_batch(&mut rows).unwrap();
                }
            };
            let mut first = CsvSink::<CsvRow>::open(&spec).unwrap();
            write(&mut first, csv_rows(0, 50, None));
            let record = first.pre_commit().unwrap();
            // Written after the checkpoint, then the crash: replayed by the next run.
            write(&mut first, csv_rows(50, 30, None));
            first.pre_commit().unwrap();
            drop(first);
            let mut resumed = spec.clone();
            resumed.resume = Some(record);
            let mut second = CsvSink::<CsvRow>::open(&resumed).unwrap();
            write(&mut second, csv_rows(50, 50, None));
            second.finish().unwrap();
            let mut want = csv::Writer::from_writer(Vec::new());
            for (row, _) in csv_rows(0, 100, None) {
                want.serialize(row).unwrap();
            }
            let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                want,
                "encoded: {encoded}"
            );
        }
    }

    /// A batch larger than one piece of rows: every row once, in order, under one header.
    #[test]
    fn a_large_csv_batch_is_written_piece_by_piece() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let mut sink =
            CsvSink::<CsvRow>::open(&SinkSpec::new("out", path.to_str().unwrap()).unwrap())
                .unwrap();
        let n = CSV_ROWS as u64 * 2 + 7;
        sink.write_batch(&mut csv_rows(0, n, None)).unwrap();
        sink.finish().unwrap();
        let mut want = csv::Writer::from_writer(Vec::new());
        for (row, _) in csv_rows(0, n, None) {
            want.serialize(row).unwrap();
        }
        let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
        assert_eq!(sink.written(), n);
        assert!(
            std::fs::read_to_string(&path).unwrap() == want,
            "{n} rows in order"
        );
    }
}
