//! Reading a share of a file: stripes that start and end at line boundaries, and the line
//! number of a bad line, counted only when one is found.

use super::*;

impl Reader {
    /// Whether a striped JSON lines reader is past its stripe.
    #[inline]
    pub(super) fn stripe_done(&self) -> bool {
        matches!(self, Reader::Jsonl { offset, end, .. } if offset >= end)
    }
}

/// Moves a JSON lines reader to the stripe starting at `start`: the lines that start in
/// `start..start + stripe`. Returns `false` if the file ends first.
pub(super) fn stripe_at(r: &mut Reader, start: u64, stripe: u64) -> Result<bool> {
    use std::io::Seek;
    let Reader::Jsonl {
        path,
        reader,
        offset,
        end,
        len,
        ..
    } = r
    else {
        unreachable!("only JSON lines files are striped")
    };
    if start >= *len {
        return Ok(false);
    }
    *end = start + stripe;
    if start == 0 {
        *offset = 0;
        reader
            .seek(std::io::SeekFrom::Start(0))
            .map_err(|e| Error::io(&*path, e))?;
        return Ok(true);
    }
    // The line that crosses into the stripe belongs to the stripe before: skip through the
    // first newline at or after `start - 1`.
    reader
        .seek(std::io::SeekFrom::Start(start - 1))
        .map_err(|e| Error::io(&*path, e))?;
    let mut skipped = 0u64;
    loop {
        let buf = reader.fill_buf().map_err(|e| Error::io(&*path, e))?;
        if buf.is_empty() {
            return Ok(false);
        }
        if let Some(i) = memchr::memchr(b'\n', buf) {
            reader.consume(i + 1);
            skipped += i as u64 + 1;
            break;
        }
        let n = buf.len();
        reader.consume(n);
        skipped += n as u64;
    }
    *offset = start - 1 + skipped;
    Ok(true)
}

/// The line number of the line starting at `at`, counting newlines from `counted` (an earlier
/// offset and the newlines before it), which moves to `at`.
pub(super) fn line_number(path: &Path, counted: &mut (u64, u64), at: u64) -> Result<u64> {
    use std::io::{Read, Seek};
    if at < counted.0 {
        *counted = (0, 0);
    }
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(std::io::SeekFrom::Start(counted.0))
        .map_err(|e| Error::io(path, e))?;
    let mut left = at - counted.0;
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = f.read(&mut buf[..want]).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        counted.1 += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        left -= n as u64;
    }
    *counted = (at, counted.1);
    Ok(counted.1 + 1)
}
