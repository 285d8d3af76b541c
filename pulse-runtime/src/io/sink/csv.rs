//! CSV sinks: a header row from the first record's fields, then one row per record.

use super::*;

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
    /// Bytes written.
    bytes_out: u64,
    /// Whether the file has its header (resumed, or written with the first records).
    has_header: bool,
}

/// The error of a row CSV cannot hold.
pub(super) fn csv_error(sink: &str, e: impl std::fmt::Display) -> Error {
    Error::Write {
        sink: sink.to_string(),
        message: format!("{e} (CSV holds flat records only; write nested data as JSON lines)"),
    }
}

/// Rows [`CsvSink::write_batch`] encodes at a time.
pub(super) const CSV_ROWS: usize = 4096;

/// [`CsvSink`]'s records, made on a worker's thread or the sink's own. Each piece is framed for
/// the sink: the length of the header record (8 bytes, little-endian), then the header, then
/// the records; the sink writes the header only once.
pub(super) struct CsvEncoder<T> {
    pub(super) name: String,
    pub(super) _t: PhantomData<fn(T)>,
}

impl<T> Clone for CsvEncoder<T> {
    fn clone(&self) -> Self {
        CsvEncoder {
            name: self.name.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + 'static> crate::io::Encoder for CsvEncoder<T> {
    fn encode(&self, batch: &mut dyn Any, into: &mut Vec<u8>) -> (u64, Result<()>) {
        let batch = crate::io::typed::<(T, i64)>(batch);
        let mut rows = batch.drain(..).map(|(x, _)| x);
        let Some(first) = rows.next() else {
            return (0, Ok(()));
        };
        // The header's length: the first record written with it, less the record alone.
        let mut alone = ::csv::WriterBuilder::new()
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
        let mut w = ::csv::WriterBuilder::new().from_writer(&mut *into);
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
            bytes_out: 0,
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
        let mut rows = crate::io::typed::<(T, i64)>(batch).drain(..);
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
            let (n, encoded) = crate::io::Encoder::encode(&self.encoder, &mut piece, &mut bytes);
            let wrote = self.write_encoded(&bytes, n).and(encoded);
            if wrote.is_err() {
                self.bytes = bytes;
                return wrote;
            }
        }
    }
    fn encoder(&self) -> Option<Box<dyn crate::io::Encoder>> {
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
        self.bytes_out += body.len() as u64;
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
    fn bytes_written(&self) -> u64 {
        self.bytes_out
    }
}
