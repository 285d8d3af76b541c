//! Live inputs: standard input (`-`) and named pipes, read as lines arrive.
//!
//! A thread reads the input and hands whole lines, in chunks, over a bounded channel (so a
//! fast producer waits instead of growing memory); the source reads the chunks through
//! [`Input::Live`], which reports `WouldBlock` at once when nothing has arrived. The driver
//! then goes on (reading other inputs, publishing metrics, firing processing-time timers,
//! noticing a stop), pauses briefly when no input had anything, and asks again. A live input cannot be replayed: a restart continues with what arrives
//! next, so records read after the last checkpoint before a crash are not read again.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

/// Chunks of lines in flight between the reading thread and the source.
const CHUNKS: usize = 16;

/// Whether `path` names a live input: `-` (standard input) or a named pipe.
pub fn is_live(path: &str) -> bool {
    if path == "-" {
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
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
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
        Ok(LiveReader {
            rx,
            chunk: Vec::new(),
            at: 0,
        })
    }
}

/// Sends whole lines in chunks until the input ends (the last line may lack its newline).
fn pump(mut r: Box<dyn Read>, tx: &SyncSender<io::Result<Vec<u8>>>) {
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
            if tx.send(Ok(lines)).is_err() {
                return;
            }
        }
    }
    if !carry.is_empty() {
        let _ = tx.send(Ok(carry));
    }
}

impl Read for LiveReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.chunk.len() {
            match self.rx.try_recv() {
                Ok(chunk) => {
                    self.chunk = chunk?;
                    self.at = 0;
                }
                Err(TryRecvError::Empty) => return Err(io::ErrorKind::WouldBlock.into()),
                Err(TryRecvError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
