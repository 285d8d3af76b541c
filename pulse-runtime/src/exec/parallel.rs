//! The parallel driver: one copy of the compiled graph per worker thread, joined by a key-hash
//! exchange at every `key_by`.
//!
//! Each worker reads its own share of every input ([`Split`](crate::io::Split)) and runs the
//! operators before a `key_by` on it. The `key_by` keeps an element whose key hashes to this
//! worker and holds the rest for their owners; after every batch the worker sends what it holds,
//! then the watermark of its input at each `key_by`, over one bounded channel per worker. Per
//! sender a channel is FIFO, so a watermark always arrives after the elements it covers.
//! Downstream of a `key_by` the watermark is the minimum over all workers', so a window fires
//! only when every worker has passed its end: results are those of one worker.
//!
//! Results go to one thread that owns the sinks. A worker whose inputs have ended keeps
//! serving the exchange until no worker reads any more and no message is in flight (counted
//! by every sender before it sends, and by the receiver once what the message caused has been
//! sent on).

use std::any::Any;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use super::{RunOptions, RunSummary};
use crate::error::{Error, Result};
use crate::graph::{Graph, OutputBatch, Pipeline};
use crate::io::{Sink, Source, SourceStats};
use crate::time::{MAX_WATERMARK, MIN_WATERMARK, now_millis};

/// Messages in flight per receiving worker before senders wait.
const CHANNEL: usize = 64;

enum Msg {
    /// Elements for exchange `.0`, a `Vec<((K, T), i64)>`.
    Records(usize, Box<dyn Any + Send>),
    /// Exchange `.0`'s input watermark at worker `.1`.
    Watermark(usize, usize, i64),
}

/// What all workers share.
struct Shared {
    /// Messages sent and not yet fully handled by their receiver.
    inflight: AtomicI64,
    /// Workers still reading their inputs.
    active: AtomicUsize,
    /// Set when any worker fails: the others stop.
    failed: AtomicBool,
    /// The first error, unless it was a panic.
    error: Mutex<Option<Error>>,
    /// Records read, per worker (for the progress line).
    read: Vec<AtomicU64>,
}

impl Shared {
    fn fail(&self, e: Option<Error>) {
        self.failed.store(true, SeqCst);
        if let Some(e) = e {
            let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(e);
        }
    }
}

fn stopped() -> Error {
    Error::config("stopped: another worker failed")
}

/// Marks the run failed if a worker unwinds.
struct PanicGuard<'a>(&'a Shared);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(None);
        }
    }
}

/// One worker's end of the exchange.
struct Link<'a> {
    me: usize,
    to: Vec<Option<SyncSender<Msg>>>,
    inbox: Receiver<Msg>,
    shared: &'a Shared,
    /// Messages handled since the last flush; they leave `inflight` once what they caused is
    /// sent on.
    handled: i64,
    /// Per exchange: the watermark last sent to the other workers.
    sent: Vec<i64>,
}

impl Link<'_> {
    fn check(&self) -> Result<()> {
        if self.shared.failed.load(SeqCst) {
            return Err(stopped());
        }
        Ok(())
    }

    /// Sends everything the graph holds for other workers, and the watermarks that moved.
    fn flush<G: Graph + ?Sized>(&mut self, g: &mut G) -> Result<()> {
        let workers = self.to.len();
        loop {
            let mut msgs = Vec::new();
            let (me, sent) = (self.me, &mut self.sent);
            g.for_each_exchange(&mut |ex, x| {
                let x = x.expect("exchanges are checked when the worker starts");
                for to in (0..workers).filter(|&w| w != me) {
                    if let Some(b) = x.take_outbox(to) {
                        msgs.push((to, Msg::Records(ex, b)));
                    }
                }
                if sent.len() <= ex {
                    sent.resize(ex + 1, MIN_WATERMARK);
                }
                let wm = x.local_watermark();
                if wm > sent[ex] {
                    sent[ex] = wm;
                    for to in (0..workers).filter(|&w| w != me) {
                        msgs.push((to, Msg::Watermark(ex, me, wm)));
                    }
                }
            });
            if msgs.is_empty() {
                break;
            }
            for (to, msg) in msgs {
                self.send(g, to, msg)?;
            }
        }
        self.shared.inflight.fetch_sub(self.handled, SeqCst);
        self.handled = 0;
        Ok(())
    }

    /// Sends one message; while the receiver is full, handles this worker's own inbox so two
    /// workers sending to each other cannot both wait.
    fn send<G: Graph + ?Sized>(&mut self, g: &mut G, to: usize, msg: Msg) -> Result<()> {
        self.shared.inflight.fetch_add(1, SeqCst);
        let tx = self.to[to].clone().expect("no channel to self");
        let mut msg = msg;
        loop {
            match tx.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(m)) => {
                    msg = m;
                    self.check()?;
                    if !self.receive(g) {
                        std::thread::yield_now();
                    }
                }
                Err(TrySendError::Disconnected(_)) => return Err(stopped()),
            }
        }
    }

    /// Handles every message waiting; returns whether there was any.
    fn receive<G: Graph + ?Sized>(&mut self, g: &mut G) -> bool {
        let mut any = false;
        while let Ok(msg) = self.inbox.try_recv() {
            self.handle(g, msg);
            any = true;
        }
        any
    }

    fn handle<G: Graph + ?Sized>(&mut self, g: &mut G, msg: Msg) {
        match msg {
            Msg::Records(ex, mut batch) => g.push_exchange(ex, batch.as_mut()),
            Msg::Watermark(ex, from, wm) => {
                g.for_each_exchange(&mut |e, x| {
                    if e == ex {
                        x.expect("checked").set_remote_watermark(from, wm);
                    }
                });
                g.propagate_watermarks();
            }
        }
        self.handled += 1;
    }

    /// Waits up to `timeout` for messages and handles them; then flushes. Returns whether the
    /// whole run is done: no worker reads and nothing is in flight.
    fn serve<G: Graph + ?Sized>(&mut self, g: &mut G, timeout: Duration) -> Result<bool> {
        self.check()?;
        match self.inbox.recv_timeout(timeout) {
            Ok(msg) => {
                self.handle(g, msg);
                self.receive(g);
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Every other worker has seen the run done (a failure sets `failed`).
            Err(RecvTimeoutError::Disconnected) => {}
        }
        self.flush(g)?;
        Ok(self.shared.active.load(SeqCst) == 0 && self.shared.inflight.load(SeqCst) == 0)
    }
}

/// What one worker read and dropped.
struct WorkerSummary {
    inputs: Vec<(String, SourceStats)>,
    late: u64,
}

/// Opens worker `w`'s sources, one per input port.
pub type OpenSources<'a> = dyn Fn(usize) -> Result<Vec<Box<dyn Source>>> + Sync + 'a;

/// Runs `pipeline` on `workers` threads until every worker's sources are exhausted.
///
/// `open(w)` opens worker `w`'s share of every input (see [`Split`](crate::io::Split)); it is
/// called on the worker's thread. Results of all workers go to `sinks`, written by the calling
/// thread; rows of different workers interleave, so the order of rows within a file may
/// differ from a one-worker run, but the rows are the same.
///
/// Every window, join and `process` reads a stream straight from a `key_by` (the macro allows
/// nothing else on a keyed stream), so each key's state lives on exactly one worker. Fails
/// before anything runs if an output or exchanged type is not `Send`. Parallel runs take no
/// checkpoints.
pub fn run_parallel<P: Pipeline>(
    pipeline: &P,
    workers: usize,
    open: &OpenSources<'_>,
    mut sinks: Vec<Box<dyn Sink>>,
    opts: &RunOptions,
) -> Result<RunSummary> {
    let workers = workers.max(1);
    for (j, port) in P::OUTPUTS.iter().enumerate() {
        if pipeline.output_batch(j).is_none() {
            return Err(Error::config(format!(
                "pipeline `{}` cannot run on several workers: output `{}` carries `{}`, which is not `Send`",
                P::NAME,
                port.name,
                port.ty
            )));
        }
    }
    let start = Instant::now();
    let shared = Shared {
        inflight: AtomicI64::new(0),
        active: AtomicUsize::new(workers),
        failed: AtomicBool::new(false),
        error: Mutex::new(None),
        read: (0..workers).map(|_| AtomicU64::new(0)).collect(),
    };
    let (senders, inboxes): (Vec<_>, Vec<_>) =
        (0..workers).map(|_| mpsc::sync_channel(CHANNEL)).unzip();
    let (out_tx, out_rx) = mpsc::sync_channel::<(usize, Box<dyn OutputBatch>)>(CHANNEL);
    let mut panic = None;
    let mut summaries = Vec::with_capacity(workers);
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(workers);
        for (me, inbox) in inboxes.into_iter().enumerate() {
            let to = (0..workers)
                .map(|w| (w != me).then(|| senders[w].clone()))
                .collect();
            let out = out_tx.clone();
            let shared = &shared;
            handles.push(scope.spawn(move || {
                let _guard = PanicGuard(shared);
                let link = Link {
                    me,
                    to,
                    inbox,
                    shared,
                    handled: 0,
                    sent: Vec::new(),
                };
                let r = worker(pipeline, me, workers, open, link, out, opts);
                if let Err(e) = &r {
                    let own = !e.to_string().starts_with("stopped: ");
                    shared.fail(own.then(|| clone_error(e)));
                }
                r
            }));
        }
        drop(out_tx);
        drop(senders);
        if let Err(e) = write_results(&out_rx, &mut sinks, &shared, start, opts) {
            shared.fail(Some(e));
        }
        drop(out_rx);
        for h in handles {
            match h.join() {
                Ok(Ok(s)) => summaries.push(s),
                Ok(Err(_)) => {}
                Err(p) => {
                    panic.get_or_insert(p);
                }
            }
        }
    });
    if let Some(p) = panic {
        std::panic::resume_unwind(p);
    }
    if let Some(e) = shared
        .error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        return Err(e);
    }
    if shared.failed.load(SeqCst) {
        return Err(stopped());
    }
    for sink in &mut sinks {
        sink.finish()?;
    }
    let mut inputs: Vec<(String, SourceStats)> = Vec::new();
    let mut late = 0;
    for s in summaries {
        late += s.late;
        for (i, (name, st)) in s.inputs.into_iter().enumerate() {
            if inputs.len() <= i {
                inputs.push((name, SourceStats::default()));
            }
            let t = &mut inputs[i].1;
            t.records += st.records;
            t.skipped += st.skipped;
            t.bytes += st.bytes;
        }
    }
    Ok(RunSummary {
        inputs,
        outputs: sinks
            .iter()
            .map(|s| (s.name().to_string(), s.written()))
            .collect(),
        late,
        elapsed: start.elapsed(),
        workers,
        ..RunSummary::default()
    })
}

/// The errors a worker can report, rebuilt for the shared slot (the original goes back to the
/// worker's own result).
fn clone_error(e: &Error) -> Error {
    match e {
        Error::BadRecord {
            path,
            line,
            field,
            message,
        } => Error::BadRecord {
            path: path.clone(),
            line: *line,
            field: field.clone(),
            message: message.clone(),
        },
        other => Error::config(other.to_string()),
    }
}

/// The sink thread: writes every batch the workers send until they are all done.
fn write_results(
    rx: &Receiver<(usize, Box<dyn OutputBatch>)>,
    sinks: &mut [Box<dyn Sink>],
    shared: &Shared,
    start: Instant,
    opts: &RunOptions,
) -> Result<()> {
    let mut last_progress = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((port, mut batch)) => sinks[port].write_batch(batch.as_any_mut())?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        if opts.progress && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let read: u64 = shared.read.iter().map(|r| r.load(SeqCst)).sum();
            let written: u64 = sinks.iter().map(|s| s.written()).sum();
            eprintln!(
                "[{:>6.1}s] read {read} records, wrote {written} ({} workers)",
                start.elapsed().as_secs_f64(),
                shared.read.len()
            );
        }
    }
}

/// One worker: its graph, its share of the inputs, its end of the exchange.
fn worker<P: Pipeline>(
    pipeline: &P,
    me: usize,
    workers: usize,
    open: &OpenSources<'_>,
    mut link: Link<'_>,
    out: SyncSender<(usize, Box<dyn OutputBatch>)>,
    opts: &RunOptions,
) -> Result<WorkerSummary> {
    let mut g = pipeline.build();
    let mut not_send = None;
    g.for_each_exchange(&mut |ex, x| match x {
        Some(x) => x.configure(me, workers),
        None => not_send = Some(ex),
    });
    if let (Some(ex), true) = (not_send, workers > 1) {
        return Err(Error::config(format!(
            "pipeline `{}` cannot run on several workers: the elements of its `key_by` number {} (from 1) are not `Send`",
            P::NAME,
            ex + 1
        )));
    }
    let mut sources = open(me)?;
    let mut batches: Vec<_> = sources.iter().map(|s| s.new_batch()).collect();
    let mut outs = (0..P::OUTPUTS.len())
        .map(|j| {
            pipeline
                .output_batch(j)
                .expect("checked before the workers start")
        })
        .collect::<Vec<_>>();
    let mut live = vec![true; sources.len()];
    let drain = |g: &mut dyn Graph, outs: &mut Vec<Box<dyn OutputBatch>>| -> Result<()> {
        for (j, b) in outs.iter_mut().enumerate() {
            g.drain_output(j, b.as_any_mut());
            if !b.is_empty() {
                let full = std::mem::replace(
                    b,
                    pipeline
                        .output_batch(j)
                        .expect("checked before the workers start"),
                );
                out.send((j, full)).map_err(|_| stopped())?;
            }
        }
        Ok(())
    };
    let mut order = Vec::with_capacity(sources.len());
    while live.iter().any(|&l| l) {
        link.check()?;
        super::driver::to_read(&sources, &live, &mut order);
        for &port in &order {
            let src = &mut sources[port];
            let more = src.read_batch(batches[port].as_mut(), opts.batch_size.max(1))?;
            g.push_batch(port, batches[port].as_mut());
            if !more {
                live[port] = false;
                g.input_watermark(port, MAX_WATERMARK);
            }
        }
        g.advance_processing_time(now_millis());
        link.flush(&mut g)?;
        link.receive(&mut g);
        drain(&mut g, &mut outs)?;
        let read: u64 = sources.iter().map(|s| s.stats().records).sum();
        link.shared.read[me].store(read, SeqCst);
    }
    link.flush(&mut g)?;
    link.shared.active.fetch_sub(1, SeqCst);
    loop {
        let done = link.serve(&mut g, Duration::from_millis(1))?;
        drain(&mut g, &mut outs)?;
        if done {
            break;
        }
    }
    Ok(WorkerSummary {
        inputs: sources
            .iter()
            .map(|s| (s.name().to_string(), s.stats()))
            .collect(),
        late: g.late_dropped(),
    })
}
