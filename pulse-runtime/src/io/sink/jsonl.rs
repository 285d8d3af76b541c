//! JSON-lines sinks: one record per line, encoded by the worker that made it.

use super::*;

/// Writes each element as one JSON object per line.
pub struct JsonlSink<T> {
    name: String,
    out: Out,
    /// Lines serialized and not yet handed to `out`: serde writes a line in many small
    /// pieces, which cost less appended to a `Vec` than passed through the writer one by one.
    lines: Vec<u8>,
    written: u64,
    /// Bytes written.
    bytes_out: u64,
    /// Bytes of encoded lines written since the file was last synced.
    unsynced: usize,
    _t: PhantomData<fn(T)>,
}

/// Bytes [`JsonlSink::write_encoded`] writes between syncs.
pub(super) const WRITE_BACK: usize = 32 << 20;

impl<T: Serialize + 'static> JsonlSink<T> {
    /// Opens the target.
    pub fn open(spec: &SinkSpec) -> Result<Self> {
        Ok(JsonlSink {
            name: describe(spec),
            out: open_out(&spec.target, spec.resume.as_deref())?,
            lines: Vec::new(),
            written: 0,
            bytes_out: 0,
            unsynced: 0,
            _t: PhantomData,
        })
    }

    /// Hands the gathered lines to the writer.
    fn write_lines(&mut self) -> Result<()> {
        let r = write_out(&mut self.out, &self.name, &self.lines);
        self.bytes_out += self.lines.len() as u64;
        self.lines.clear();
        r
    }
}

/// Bytes of serialized lines gathered before they go to the writer.
const LINES: usize = 64 << 10;

/// Serializes `rows` into `into` as JSON lines until `into` holds `limit` bytes or more; returns
/// how many rows it wrote, and whether rows are left. A row that fails to serialize leaves
/// `into` with the whole lines before it, and the error names `sink`.
pub(super) fn encode_lines<T: Serialize>(
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
pub(super) struct JsonlEncoder<T> {
    pub(super) name: String,
    pub(super) _t: PhantomData<fn(T)>,
}

impl<T: Serialize + 'static> crate::io::Encoder for JsonlEncoder<T> {
    fn encode(&self, batch: &mut dyn Any, into: &mut Vec<u8>) -> (u64, Result<()>) {
        let batch = crate::io::typed::<(T, i64)>(batch);
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
        let batch = crate::io::typed::<(T, i64)>(batch);
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
    fn encoder(&self) -> Option<Box<dyn crate::io::Encoder>> {
        Some(Box::new(JsonlEncoder::<T> {
            name: self.name.clone(),
            _t: PhantomData,
        }))
    }
    fn write_encoded(&mut self, bytes: &[u8], rows: u64) -> Result<()> {
        write_out(&mut self.out, &self.name, bytes)?;
        self.bytes_out += bytes.len() as u64;
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
    fn bytes_written(&self) -> u64 {
        self.bytes_out
    }
}
