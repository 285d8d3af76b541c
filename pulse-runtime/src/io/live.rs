//! Live inputs: standard input (`-`), named pipes and followed files, read as lines arrive.
//!
//! A thread reads the input and hands whole lines, in chunks, over a bounded channel (so a
//! fast producer waits instead of growing memory); the source reads the chunks through
//! [`Input::Live`], which reports `WouldBlock` at once when nothing has arrived. The driver
//! then goes on (reading other inputs, publishing metrics, firing processing-time timers,
//! noticing a stop), pauses briefly when no input had anything, and asks again. A live input cannot be replayed: a restart continues with what arrives
//! next, so records read after the last checkpoint before a crash are not read again.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

/// What the reading thread hands over.
pub(crate) enum Chunk {
    /// Whole lines.
    Lines(Vec<u8>),
    /// Reading (re)starts in the file with this inode, at byte `at` of it.
    Opened { inode: u64, at: u64 },
}

/// Chunks of lines in flight between the reading thread and the source.
const CHUNKS: usize = 16;

/// Whether `path` names a live input: `-` (standard input) or a named pipe.
pub fn is_live(path: &str) -> bool {
    if path == "-" || path.starts_with("kafka://") {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo())
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// What a file source reads: a file, or the chunks of a live input.
pub(crate) enum Input {
    File(File),
    Live(LiveReader),
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::File(f) => f.read(buf),
            Input::Live(l) => l.read(buf),
        }
    }
}

impl Seek for Input {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Input::File(f) => f.seek(pos),
            Input::Live(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a live input cannot seek",
            )),
        }
    }
}

/// The reading end of a live input.
pub(crate) struct LiveReader {
    rx: Receiver<io::Result<Chunk>>,
    chunk: Vec<u8>,
    at: usize,
    /// Bytes handed on so far.
    delivered: u64,
    /// Where each followed file starts in what was handed on: (that offset, inode, the file's
    /// offset there).
    files: Vec<(u64, u64, u64)>,
    /// Set when the reader goes, so a follower thread ends.
    closed: Arc<AtomicBool>,
}

impl Drop for LiveReader {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

impl LiveReader {
    /// Starts reading `path` (`-`: standard input) on its own thread. Opening a named pipe
    /// waits for a writer there, not here.
    pub(crate) fn spawn(path: &Path) -> io::Result<LiveReader> {
        let (tx, rx) = sync_channel(CHUNKS);
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name(format!("pulse-live:{}", path.display()))
            .spawn(move || {
                let input: io::Result<Box<dyn Read>> = if path.as_os_str() == "-" {
                    Ok(Box::new(io::stdin()))
                } else {
                    File::open(&path).map(|f| Box::new(f) as Box<dyn Read>)
                };
                match input {
                    Ok(r) => pump(r, &tx),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })?;
        Ok(LiveReader::on(rx, Arc::new(AtomicBool::new(false))))
    }

    /// Follows the file at `path` (see the module docs), starting at `from` = (inode, offset)
    /// if the path still names that inode.
    pub(crate) fn follow(path: &Path, from: Option<(u64, u64)>) -> io::Result<LiveReader> {
        let (tx, rx) = sync_channel(CHUNKS);
        let closed = Arc::new(AtomicBool::new(false));
        let done = closed.clone();
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name(format!("pulse-follow:{}", path.display()))
            .spawn(move || {
                if let Err(e) = tail(&path, from, &tx, &done) {
                    let _ = tx.send(Err(e));
                }
            })?;
        Ok(LiveReader::on(rx, closed))
    }

    fn on(rx: Receiver<io::Result<Chunk>>, closed: Arc<AtomicBool>) -> LiveReader {
        LiveReader {
            rx,
            chunk: Vec::new(),
            at: 0,
            delivered: 0,
            files: Vec::new(),
            closed,
        }
    }

    /// The followed file that holds byte `offset` of what was handed on, and the offset in it.
    pub(crate) fn file_at(&self, offset: u64) -> Option<(u64, u64)> {
        self.files
            .iter()
            .rev()
            .find(|(start, ..)| *start <= offset)
            .map(|&(start, inode, at)| (inode, at + (offset - start)))
    }
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.ino()
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// Follows `path` until the reader goes; see the module docs.
fn tail(
    path: &PathBuf,
    from: Option<(u64, u64)>,
    tx: &SyncSender<io::Result<Chunk>>,
    closed: &AtomicBool,
) -> io::Result<()> {
    let mut f = File::open(path)?;
    let mut ino = inode(&f.metadata()?);
    let mut pos = match from {
        Some((i, at)) if i == ino => f.seek(SeekFrom::Start(at))?,
        _ => 0,
    };
    let send = |c: Chunk| tx.send(Ok(c)).is_ok();
    if !send(Chunk::Opened {
        inode: ino,
        at: pos,
    }) {
        return Ok(());
    }
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while !closed.load(Ordering::Relaxed) {
        let n = f.read(&mut buf)?;
        if n > 0 {
            pos += n as u64;
            carry.extend_from_slice(&buf[..n]);
            if let Some(last) = memchr::memrchr(b'\n', &carry) {
                let rest = carry.split_off(last + 1);
                if !send(Chunk::Lines(std::mem::replace(&mut carry, rest))) {
                    return Ok(());
                }
            }
            continue;
        }
        // At the end of the file: rotated, cut shorter, or waiting for more.
        match std::fs::metadata(path) {
            Ok(m) if inode(&m) != ino => {
                if !carry.is_empty() && !send(Chunk::Lines(std::mem::take(&mut carry))) {
                    return Ok(());
                }
                f = File::open(path)?;
                ino = inode(&f.metadata()?);
                pos = 0;
                if !send(Chunk::Opened { inode: ino, at: 0 }) {
                    return Ok(());
                }
            }
            Ok(m) if m.len() < pos => {
                carry.clear();
                pos = f.seek(SeekFrom::Start(0))?;
                if !send(Chunk::Opened { inode: ino, at: 0 }) {
                    return Ok(());
                }
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Ok(())
}

/// Sends whole lines in chunks until the input ends (the last line may lack its newline).
fn pump(mut r: Box<dyn Read>, tx: &SyncSender<io::Result<Chunk>>) {
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        carry.extend_from_slice(&buf[..n]);
        if let Some(last) = memchr::memrchr(b'\n', &carry) {
            let rest = carry.split_off(last + 1);
            let lines = std::mem::replace(&mut carry, rest);
            if tx.send(Ok(Chunk::Lines(lines))).is_err() {
                return;
            }
        }
    }
    if !carry.is_empty() {
        let _ = tx.send(Ok(Chunk::Lines(carry)));
    }
}

impl Read for LiveReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.try_recv() {
                Ok(chunk) => match chunk? {
                    Chunk::Lines(lines) => {
                        self.chunk = lines;
                        self.at = 0;
                    }
                    Chunk::Opened { inode, at } => self.files.push((self.delivered, inode, at)),
                },
                Err(TryRecvError::Empty) => return Err(io::ErrorKind::WouldBlock.into()),
                Err(TryRecvError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        self.delivered += n as u64;
        Ok(n)
    }
}
