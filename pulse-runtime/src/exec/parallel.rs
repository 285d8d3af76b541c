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
//! A `key_by` that feeds only an aligned windowed aggregate exchanges no elements: the
//! aggregate is a [`Combiner`](crate::operator::Combiner). Each worker adds what it read into
//! partial accumulators; once its own watermark closes a window, it sends each key's partial to
//! the key's owner, then its watermark. The owner merges and fires as before. A worker's own
//! share is merged in place, before it publishes its own watermark to itself, so the owner's
//! minimum waits for it as it waits for the others'.
//!
//! Results go to one thread that owns the sinks. A worker whose inputs have ended keeps
//! serving the exchange until no worker reads any more and no message is in flight (counted
//! by every sender before it sends, and by the receiver once what the message caused has been
//! sent on).
//!
//! Checkpoints stop the world: the sink thread raises the requested epoch; each worker stops
//! reading at its next round, sends every partial it holds, and keeps serving the exchange
//! until every worker has stopped and nothing is in flight. Then every element read so far has
//! reached the operator that keeps it, and each worker sends its results, its state (under
//! `w<N>/`) and its sources' positions (`<input>@<N>`); the sink thread writes them with the
//! sinks' pre-commits in one atomic batch, as a one-worker run does, and lets the workers go
//! on.

use std::any::Any;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use super::order::{Ahead, ORDER, Prefix};
use super::{Checkpointing, RunOptions, RunSummary};
use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::error::{Error, Result};
use crate::graph::{Dirty, Graph, OutputBatch, Pipeline, Snapshot};
use crate::io::{Encoder, Sink, Source, SourceStats};
use crate::time::{MAX_WATERMARK, MIN_WATERMARK, now_millis};

/// Messages in flight per receiving worker before senders wait.
const CHANNEL: usize = 64;

/// The largest buffer of encoded results kept for reuse.
const SPARE_BYTES: usize = 8 << 20;

enum Msg {
    /// Elements for exchange `.0`, a `Vec<((K, T), i64, i64)>`.
    Records(usize, Box<dyn Any + Send>),
    /// Partial accumulators for the combiner after exchange `.0`, a `Vec<Partial<K, Acc>>`.
    Partials(usize, Box<dyn Any + Send>),
    /// Exchange `.0`'s input watermark at worker `.1`.
    Watermark(usize, usize, i64),
}

/// What a worker sends the sink thread.
enum ToSinks {
    /// Results of output `.0`.
    Results(usize, Box<dyn OutputBatch>),
    /// `.2` results of output `.0`, encoded by the worker with the sink's encoder.
    Encoded(usize, Vec<u8>, u64),
    /// Worker `.0`'s part of the requested checkpoint.
    State(usize, Box<WorkerState>),
    /// The worker has seen the run done.
    Done,
}

/// Where a worker's results go: the sink thread, through each output's encoder if its sink has
/// one.
struct Results {
    out: SyncSender<ToSinks>,
    encoders: Vec<Option<Box<dyn Encoder>>>,
}

/// One worker's part of a checkpoint, with ids and names already made the worker's own.
struct WorkerState {
    state: Snapshot,
    dirty: Dirty,
    fingerprints: BTreeMap<String, String>,
    positions: Vec<(String, Vec<u8>)>,
}

/// The id under which worker `w` keeps operator `id`'s state.
pub fn worker_id(w: usize, id: &str) -> String {
    format!("w{w}/{id}")
}

/// The name under which worker `w`'s position in input `name` is checkpointed.
pub fn worker_input(w: usize, name: &str) -> String {
    format!("{name}@{w}")
}

/// What all workers share.
struct Shared {
    /// The checkpoint epoch the sink thread asks for.
    requested: AtomicU64,
    /// The last epoch written: workers waiting on it go on.
    resumed: AtomicU64,
    /// Workers stopped for the requested epoch.
    paused: AtomicUsize,
    /// Set by the sink thread once the run is done (and its last checkpoint written).
    exit: AtomicBool,
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
    /// Bytes of keyed state in memory, per worker (for the memory budget).
    state: Vec<AtomicUsize>,
    /// Buffers of encoded results the sink thread has written, for workers to encode into
    /// again: a fresh buffer for every batch would be fresh pages, faulted in by the worker
    /// and returned to the system by the sink thread.
    spare: Mutex<Vec<Vec<u8>>>,
    /// In an ordered run, per worker: the part of the input it works on or waits to (see
    /// [`Source::segment`]), `u64::MAX` once its share is read.
    at: Vec<AtomicU64>,
    /// In an ordered run: the last part processed and the `watermark` operators' states after
    /// it, which the worker of the next part starts from.
    prefix: Mutex<Prefix>,
}

impl Shared {
    fn new(workers: usize) -> Self {
        Shared {
            requested: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            paused: AtomicUsize::new(0),
            exit: AtomicBool::new(false),
            inflight: AtomicI64::new(0),
            active: AtomicUsize::new(workers),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            read: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            state: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            spare: Mutex::new(Vec::new()),
            at: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            prefix: Mutex::new(Prefix::default()),
        }
    }

    /// Whether every part of the input before `part` is processed: every other worker is at a
    /// later one. (What those parts sent is in this worker's inbox, ahead of anything a later
    /// part sends.)
    fn before_done(&self, me: usize, part: u64) -> bool {
        self.at
            .iter()
            .enumerate()
            .all(|(w, at)| w == me || at.load(SeqCst) > part)
    }

    /// An empty buffer to encode results into.
    fn buffer(&self) -> Vec<u8> {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        spare.pop().unwrap_or_default()
    }

    /// Gives back a written buffer: kept unless enough are spare, or it grew past
    /// [`SPARE_BYTES`] (one huge firing should not hold its memory for the rest of the run).
    fn give_back(&self, mut bytes: Vec<u8>) {
        if bytes.capacity() > SPARE_BYTES {
            return;
        }
        bytes.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < 2 * self.read.len() + 2 {
            spare.push(bytes);
        }
    }

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
    /// Whether combiners send all their partials, not only those of windows this worker's
    /// watermark closed (while stopped for a checkpoint, so no partial is left out of it).
    send_all: bool,
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
        if workers <= 1 {
            // Alone: every key is this worker's, and no one waits for its watermarks.
            return Ok(());
        }
        loop {
            let mut msgs = Vec::new();
            // Partials for keys this worker owns, and the watermarks it publishes to itself.
            let (mut own, mut publish) = (Vec::new(), Vec::new());
            let (me, sent, all) = (self.me, &mut self.sent, self.send_all);
            g.for_each_exchange(&mut |ex, x, combiner, _| {
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
                let local = x.keeps_local();
                if let Some(c) = combiner.filter(|_| local) {
                    // Before the watermark that covers them, as elements are.
                    c.take_partials(wm, all, &mut |to, b| {
                        if to == me {
                            own.push((ex, b));
                        } else {
                            msgs.push((to, Msg::Partials(ex, b)));
                        }
                    });
                }
                if wm > sent[ex] {
                    sent[ex] = wm;
                    for to in (0..workers).filter(|&w| w != me) {
                        msgs.push((to, Msg::Watermark(ex, me, wm)));
                    }
                    if local {
                        publish.push((ex, wm));
                    }
                }
            });
            if msgs.is_empty() && own.is_empty() && publish.is_empty() {
                break;
            }
            for (to, msg) in msgs {
                self.send(g, to, msg)?;
            }
            for (ex, mut b) in own {
                g.merge_partials(ex, b.as_mut());
            }
            if !publish.is_empty() {
                g.for_each_exchange(&mut |ex, x, _, _| {
                    if let Some(&(_, wm)) = publish.iter().find(|(e, _)| *e == ex) {
                        x.expect("checked").set_remote_watermark(me, wm);
                    }
                });
                g.propagate_watermarks();
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
            Msg::Partials(ex, mut batch) => g.merge_partials(ex, batch.as_mut()),
            Msg::Watermark(ex, from, wm) => {
                g.for_each_exchange(&mut |e, x, _, _| {
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
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
        }
        self.flush(g)?;
        Ok(self.shared.active.load(SeqCst) == 0 && self.shared.inflight.load(SeqCst) == 0)
    }
}

/// What one worker read and dropped.
struct WorkerSummary {
    inputs: Vec<(String, SourceStats)>,
    late: u64,
    /// State pieces evicted past the worker's share of the memory budget.
    evicted: u64,
}

/// Opens worker `w`'s sources, one per input port.
pub type OpenSources<'a> = dyn Fn(usize) -> Result<Vec<Box<dyn Source>>> + Sync + 'a;

/// Checkpoints of a parallel run, and the checkpoint it resumes from.
pub struct ParallelCheckpoints<'a> {
    /// Where and how often; the memory budget is split evenly between the workers.
    pub checkpointing: Checkpointing<'a>,
    /// The checkpoint to resume from, taken by a run with as many workers.
    pub resume: Option<&'a (Checkpoint, Snapshot)>,
}

/// Refuses a checkpoint taken by a run with another number of workers: a one-worker run
/// checkpoints its inputs by name, worker `w` of a parallel run as `name@w`.
pub fn check_workers(cp: &Checkpoint, inputs: &[&str], workers: usize) -> Result<()> {
    let mut want: Vec<String> = if workers <= 1 {
        inputs.iter().map(|n| n.to_string()).collect()
    } else {
        (0..workers)
            .flat_map(|w| inputs.iter().map(move |name| worker_input(w, name)))
            .collect()
    };
    let mut saved: Vec<String> = cp
        .sources
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n != ORDER)
        .collect();
    want.sort();
    saved.sort();
    if saved == want {
        return Ok(());
    }
    let took = match saved.iter().filter(|n| n.contains('@')).count() {
        0 => "one worker".to_string(),
        n => format!("{} workers", n / inputs.len().max(1)),
    };
    Err(Error::config(format!(
        "the checkpoint was taken by a run on {took}, with inputs {}; resume it on as many workers (--workers), or pass --fresh to start over",
        saved.join(", ")
    )))
}

/// Runs `pipeline` on `workers` threads until every worker's sources are exhausted.
///
/// `open(w)` opens worker `w`'s share of every input (see [`Split`](crate::io::Split)); it is
/// called on the worker's thread. Results of all workers go to `sinks`, written by the calling
/// thread; rows of different workers interleave, so the order of rows within a file may
/// differ from a one-worker run, but the rows are the same.
///
/// Every window, join and `process` reads a stream straight from a `key_by` (the macro allows
/// nothing else on a keyed stream), so each key's state lives on exactly one worker. Fails
/// before anything runs if an output or exchanged type is not `Send`.
///
/// With `checkpoints`, state and positions are checkpointed every interval and once more at the
/// end, before the sinks publish (see the module docs); a run resumes from
/// [`ParallelCheckpoints::resume`], which [`check_workers`] has matched to `workers`.
pub fn run_parallel<P: Pipeline>(
    pipeline: &P,
    workers: usize,
    open: &OpenSources<'_>,
    mut sinks: Vec<Box<dyn Sink>>,
    opts: &RunOptions,
    mut checkpoints: Option<ParallelCheckpoints<'_>>,
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
    let first_checkpoint = checkpoints.as_ref().map_or(0, |c| c.checkpointing.next_id);
    let store = checkpoints.as_ref().map(|c| c.checkpointing.store);
    let resume = checkpoints.as_ref().and_then(|c| c.resume);
    let budget = checkpoints
        .as_ref()
        .and_then(|c| c.checkpointing.memory_budget)
        .map(|b| b / workers);
    let shared = Shared::new(workers);
    if let Some((_, bytes)) = resume.and_then(|(cp, _)| cp.sources.iter().find(|(n, _)| n == ORDER))
    {
        *shared.prefix.lock().unwrap_or_else(|p| p.into_inner()) = postcard::from_bytes(bytes)
            .map_err(|e| {
                Error::config(format!("checkpoint: bad record of the input's order: {e}"))
            })?;
    }
    let (senders, inboxes): (Vec<_>, Vec<_>) =
        (0..workers).map(|_| mpsc::sync_channel(CHANNEL)).unzip();
    let (out_tx, out_rx) = mpsc::sync_channel::<ToSinks>(CHANNEL);
    let mut panic = None;
    let mut summaries = Vec::with_capacity(workers);
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(workers);
        for (me, inbox) in inboxes.into_iter().enumerate() {
            let to = (0..workers)
                .map(|w| (w != me).then(|| senders[w].clone()))
                .collect();
            let out = out_tx.clone();
            let encoders: Vec<_> = sinks.iter().map(|s| s.encoder()).collect();
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
                    send_all: false,
                };
                let env = WorkerEnv {
                    me,
                    workers,
                    open,
                    opts,
                    store,
                    resume,
                    budget,
                };
                let r = worker(pipeline, &env, link, Results { out, encoders });
                if let Err(e) = &r {
                    let own = !e.to_string().starts_with("stopped: ");
                    shared.fail(own.then(|| clone_error(e)));
                }
                r
            }));
        }
        drop(out_tx);
        drop(senders);
        let cp = checkpoints.as_mut().map(|c| &mut c.checkpointing);
        if let Err(e) = coordinate(&out_rx, &mut sinks, &shared, cp, start, opts) {
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
    if let Some(c) = &checkpoints {
        c.checkpointing.store.clear()?;
    }
    let mut inputs: Vec<(String, SourceStats)> = Vec::new();
    let (mut late, mut evicted) = (0, 0);
    for s in summaries {
        late += s.late;
        evicted += s.evicted;
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
        checkpoints: checkpoints
            .as_ref()
            .map_or(0, |c| c.checkpointing.next_id - first_checkpoint),
        savepoints: checkpoints
            .as_ref()
            .map_or(0, |c| c.checkpointing.savepoints_taken),
        evicted,
        resumed_from: None,
        finished_earlier: false,
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

/// The sink thread: writes every batch the workers send, asks for checkpoints and writes them,
/// and tells the workers to leave once all are done (after a last checkpoint).
fn coordinate(
    rx: &Receiver<ToSinks>,
    sinks: &mut [Box<dyn Sink>],
    shared: &Shared,
    mut checkpointing: Option<&mut Checkpointing<'_>>,
    start: Instant,
    opts: &RunOptions,
) -> Result<()> {
    let workers = shared.read.len();
    let mut last_progress = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut epoch = 0;
    // Parts of the requested checkpoint received so far, if one is requested.
    let mut parts: Option<Vec<Option<Box<WorkerState>>>> = None;
    let (mut done, mut last_requested) = (0, false);
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(ToSinks::Results(port, mut batch)) => sinks[port].write_batch(batch.as_any_mut())?,
            Ok(ToSinks::Encoded(port, bytes, rows)) => {
                sinks[port].write_encoded(&bytes, rows)?;
                shared.give_back(bytes);
            }
            Ok(ToSinks::State(w, st)) => {
                let all = parts.as_mut().expect("a state answers a request");
                all[w] = Some(st);
                if all.iter().all(Option::is_some) {
                    let c = checkpointing
                        .as_mut()
                        .expect("requested with checkpoints on");
                    let mut state = Snapshot::new();
                    let (mut dirty, mut fingerprints, mut positions) =
                        (Dirty::new(), BTreeMap::new(), vec![]);
                    for part in parts.take().into_iter().flatten().flatten() {
                        state.extend(part.state);
                        dirty.extend(part.dirty);
                        fingerprints.extend(part.fingerprints);
                        positions.extend(part.positions);
                    }
                    c.record(
                        state,
                        dirty,
                        &fingerprints,
                        positions,
                        sinks,
                        last_requested,
                    )?;
                    last_checkpoint = Instant::now();
                    shared.paused.store(0, SeqCst);
                    shared.resumed.store(epoch, SeqCst);
                    if last_requested {
                        shared.exit.store(true, SeqCst);
                    }
                }
            }
            Ok(ToSinks::Done) => done += 1,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        if parts.is_none() && !shared.exit.load(SeqCst) {
            let state: usize = shared.state.iter().map(|b| b.load(SeqCst)).sum();
            let due = checkpointing.as_ref().is_some_and(|c| {
                last_checkpoint.elapsed() >= c.interval
                    || c.memory_budget.is_some_and(|b| state > b)
            });
            if done == workers && checkpointing.is_none() {
                shared.exit.store(true, SeqCst);
            } else if (done == workers && !last_requested) || (due && done < workers) {
                last_requested = done == workers;
                epoch += 1;
                parts = Some((0..workers).map(|_| None).collect());
                shared.requested.store(epoch, SeqCst);
            }
        }
        if opts.progress && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let read: u64 = shared.read.iter().map(|r| r.load(SeqCst)).sum();
            let written: u64 = sinks.iter().map(|s| s.written()).sum();
            eprintln!(
                "[{:>6.1}s] read {read} records, wrote {written} ({workers} workers)",
                start.elapsed().as_secs_f64(),
            );
        }
    }
}

/// What a worker is given besides its graph.
struct WorkerEnv<'a> {
    me: usize,
    workers: usize,
    open: &'a OpenSources<'a>,
    opts: &'a RunOptions,
    store: Option<&'a CheckpointStore>,
    resume: Option<&'a (Checkpoint, Snapshot)>,
    /// This worker's share of the memory budget for keyed state.
    budget: Option<usize>,
}

/// One worker: its graph, its share of the inputs, its end of the exchange.
fn worker<P: Pipeline>(
    pipeline: &P,
    env: &WorkerEnv<'_>,
    mut link: Link<'_>,
    results: Results,
) -> Result<WorkerSummary> {
    let out = &results.out;
    let (me, workers) = (env.me, env.workers);
    let mut g = pipeline.build();
    let mut sources = (env.open)(me)?;
    // One input read in parts (stripes, files): the parts are processed in the input's order,
    // one at a time, each starting from the watermarks the part before it left, so every
    // element is judged as on one worker. Reading (parsing) still runs side by side: a worker
    // reads its next part while the others process theirs.
    let ordered = workers > 1 && sources.len() == 1 && sources[0].segments();
    let mut not_send = None;
    g.for_each_exchange(&mut |ex, x, combiner, first| match x {
        Some(x) => {
            x.configure(me, workers);
            // Only an exchange fed straight from the input sees it in order; one behind another
            // exchange gets elements from several owners at once, and keeps the minimum. A
            // combiner judges each element where it is read, against the input's watermark
            // before it; its windows may then fire later than on one worker (when every worker
            // has passed them, as unordered), which changes no row without allowed lateness.
            let ordered = ordered && first;
            let local = ordered.then(|| x.local_cell());
            if combiner.is_some_and(|c| c.configure(me, workers, local)) {
                x.keep_local();
            } else if ordered {
                x.order();
            }
        }
        None => not_send = Some(ex),
    });
    if let (Some(ex), true) = (not_send, workers > 1) {
        return Err(Error::config(format!(
            "pipeline `{}` cannot run on several workers: the elements of its `key_by` number {} (from 1) are not `Send`",
            P::NAME,
            ex + 1
        )));
    }
    let prefix = worker_id(me, "");
    if let Some(store) = env.store {
        g.attach_as(store, &prefix)?;
    }
    if let Some((cp, state)) = env.resume {
        let mine: Snapshot = state
            .iter()
            .filter_map(|(id, b)| Some((id.strip_prefix(&prefix)?.to_string(), b.clone())))
            .collect();
        g.restore(&mine)?;
        for src in sources.iter_mut() {
            let name = worker_input(me, src.name());
            if let Some((_, pos)) = cp.sources.iter().find(|(n, _)| *n == name) {
                src.seek(pos)?;
            }
        }
    }
    let mut batches: Vec<_> = sources.iter().map(|s| s.new_batch()).collect();
    let mut outs = (0..P::OUTPUTS.len())
        .map(|j| {
            pipeline
                .output_batch(j)
                .expect("checked before the workers start")
        })
        .collect::<Vec<_>>();
    let mut live = vec![true; sources.len()];
    let shared = link.shared;
    let drain = |g: &mut dyn Graph, outs: &mut Vec<Box<dyn OutputBatch>>| -> Result<()> {
        for (j, b) in outs.iter_mut().enumerate() {
            g.drain_output(j, b.as_any_mut());
            if b.is_empty() {
                continue;
            }
            if let Some(encoder) = &results.encoders[j] {
                // Encoded here, beside the other workers, rather than on the sink thread.
                let mut bytes = shared.buffer();
                let (rows, encoded) = encoder.encode(b.as_any_mut(), &mut bytes);
                if rows > 0 {
                    out.send(ToSinks::Encoded(j, bytes, rows))
                        .map_err(|_| stopped())?;
                }
                encoded?;
            } else {
                let full = std::mem::replace(
                    b,
                    pipeline
                        .output_batch(j)
                        .expect("checked before the workers start"),
                );
                out.send(ToSinks::Results(j, full)).map_err(|_| stopped())?;
            }
        }
        Ok(())
    };
    // Stops for the requested checkpoint: serves the exchange until every worker has stopped
    // and nothing is in flight, sends results and state, and waits until it is written.
    let mut epoch = 0;
    let mut evicted = 0;
    // `held`: in an ordered run, where the part read ahead (and not yet processed) starts.
    let mut barrier = |g: &mut dyn Graph,
                       link: &mut Link<'_>,
                       outs: &mut Vec<Box<dyn OutputBatch>>,
                       sources: &[Box<dyn Source>],
                       held: Option<&[u8]>|
     -> Result<()> {
        let requested = link.shared.requested.load(SeqCst);
        if requested <= epoch {
            return Ok(());
        }
        epoch = requested;
        link.send_all = true;
        link.flush(g)?;
        link.shared.paused.fetch_add(1, SeqCst);
        loop {
            link.serve(g, Duration::from_micros(200))?;
            if link.shared.paused.load(SeqCst) == workers && link.shared.inflight.load(SeqCst) == 0
            {
                break;
            }
        }
        link.send_all = false;
        drain(g, outs)?;
        let named = |m: BTreeMap<String, String>| {
            m.into_iter()
                .map(|(id, v)| (worker_id(me, &id), v))
                .collect::<BTreeMap<_, _>>()
        };
        let part = WorkerState {
            state: g
                .snapshot()?
                .into_iter()
                .map(|(id, b)| (worker_id(me, &id), b))
                .collect(),
            dirty: g
                .take_dirty()
                .into_iter()
                .map(|(id, cells)| (worker_id(me, &id), cells))
                .collect(),
            fingerprints: named(g.fingerprints()),
            positions: sources
                .iter()
                .map(|s| {
                    let at = held.map_or_else(|| s.position(), <[u8]>::to_vec);
                    (worker_input(me, s.name()), at)
                })
                .chain((ordered && me == 0).then(|| {
                    let p = link.shared.prefix.lock().unwrap_or_else(|p| p.into_inner());
                    (
                        ORDER.to_string(),
                        postcard::to_stdvec(&*p).unwrap_or_default(),
                    )
                }))
                .collect(),
        };
        out.send(ToSinks::State(me, Box::new(part)))
            .map_err(|_| stopped())?;
        while link.shared.resumed.load(SeqCst) < epoch {
            link.check()?;
            std::thread::sleep(Duration::from_micros(100));
        }
        if let Some(budget) = env.budget {
            evicted += g.evict(budget) as u64;
            link.shared.state[me].store(g.state_bytes(), SeqCst);
        }
        Ok(())
    };
    let mut order = Vec::with_capacity(sources.len());
    // Spare batches for the parts read ahead.
    let mut spare: Vec<Box<dyn Any>> = vec![];
    while ordered && live[0] {
        link.check()?;
        barrier(&mut g, &mut link, &mut outs, &sources, None)?;
        // Read the next part (parsing beside the other workers), then wait until every part
        // before it is processed.
        let mut next = Ahead::at(sources[0].as_ref());
        shared.at[me].store(next.part, SeqCst);
        while !next.read {
            next.read_batch(
                sources[0].as_mut(),
                &mut spare,
                &mut live[0],
                env.opts.batch_size,
            )?;
        }
        if next.part == u64::MAX {
            // The share was read to its end already: nothing to process.
            spare.append(&mut next.batches);
            continue;
        }
        while !shared.before_done(me, next.part) {
            link.check()?;
            barrier(&mut g, &mut link, &mut outs, &sources, Some(&next.at))?;
            link.serve(&mut g, Duration::from_micros(50))?;
            drain(&mut g, &mut outs)?;
        }
        // Whatever the parts before this one sent is here: take it in first.
        link.receive(&mut g);
        link.flush(&mut g)?;
        let start = shared
            .prefix
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if start.part.is_some() {
            g.seed_watermarks(&start.states)?;
        }
        for mut b in next.batches.drain(..) {
            g.push_batch(0, b.as_mut());
            spare.push(b);
            g.advance_processing_time(now_millis());
            link.flush(&mut g)?;
            link.receive(&mut g);
            drain(&mut g, &mut outs)?;
        }
        let states = g.watermark_states()?;
        *shared.prefix.lock().unwrap_or_else(|p| p.into_inner()) = Prefix {
            part: Some(next.part),
            states,
        };
        link.shared.read[me].store(sources[0].stats().records, SeqCst);
        if env.budget.is_some() {
            link.shared.state[me].store(g.state_bytes(), SeqCst);
        }
    }
    if ordered {
        // The end of the input is the end of every worker's share.
        shared.at[me].store(u64::MAX, SeqCst);
        while !shared.before_done(me, u64::MAX - 1) || shared.inflight.load(SeqCst) != 0 {
            link.check()?;
            barrier(&mut g, &mut link, &mut outs, &sources, None)?;
            link.serve(&mut g, Duration::from_micros(50))?;
            drain(&mut g, &mut outs)?;
        }
        link.receive(&mut g);
        g.input_watermark(0, MAX_WATERMARK);
        link.flush(&mut g)?;
        drain(&mut g, &mut outs)?;
    }
    while live.iter().any(|&l| l) {
        link.check()?;
        barrier(&mut g, &mut link, &mut outs, &sources, None)?;
        super::driver::to_read(&sources, &live, &mut order);
        for &port in &order {
            let src = &mut sources[port];
            let more = src.read_batch(batches[port].as_mut(), env.opts.batch_size.max(1))?;
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
        if env.budget.is_some() {
            link.shared.state[me].store(g.state_bytes(), SeqCst);
        }
    }
    link.flush(&mut g)?;
    link.shared.active.fetch_sub(1, SeqCst);
    let mut said_done = false;
    while !link.shared.exit.load(SeqCst) {
        barrier(&mut g, &mut link, &mut outs, &sources, None)?;
        let done = link.serve(&mut g, Duration::from_millis(1))?;
        drain(&mut g, &mut outs)?;
        if done && !said_done {
            said_done = true;
            out.send(ToSinks::Done).map_err(|_| stopped())?;
        }
    }
    Ok(WorkerSummary {
        inputs: sources
            .iter()
            .map(|s| (s.name().to_string(), s.stats()))
            .collect(),
        late: g.late_dropped(),
        evicted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_buffers_come_back_empty_with_their_room() {
        let shared = Shared::new(2);
        let mut bytes = shared.buffer();
        assert_eq!(bytes.capacity(), 0, "nothing spare yet");
        bytes.extend_from_slice(&[7; 5000]);
        let room = bytes.capacity();
        shared.give_back(bytes);
        let again = shared.buffer();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), room);
        assert_eq!(shared.buffer().capacity(), 0, "one buffer was given back");
    }

    #[test]
    fn spare_buffers_are_bounded_by_the_workers() {
        let shared = Shared::new(2);
        for _ in 0..100 {
            shared.give_back(Vec::with_capacity(64));
        }
        let kept = std::iter::from_fn(|| Some(shared.buffer()))
            .take_while(|b| b.capacity() > 0)
            .count();
        assert_eq!(kept, 6, "two per worker and two more");
    }

    #[test]
    fn a_buffer_grown_past_the_limit_is_not_kept() {
        let shared = Shared::new(1);
        shared.give_back(Vec::with_capacity(SPARE_BYTES + 1));
        assert_eq!(shared.buffer().capacity(), 0);
        shared.give_back(Vec::with_capacity(SPARE_BYTES));
        assert_eq!(shared.buffer().capacity(), SPARE_BYTES);
    }
}
