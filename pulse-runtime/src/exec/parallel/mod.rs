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

mod coordinate;
mod link;
mod worker;

use coordinate::coordinate;
use link::{Link, PanicGuard, Shared, stopped};
use worker::{WorkerEnv, worker};

use std::any::Any;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use super::meter::Meter;
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

/// What one worker read and dropped.
pub(super) struct WorkerSummary {
    pub(super) inputs: Vec<(String, SourceStats)>,
    pub(super) late: u64,
    /// State pieces evicted past the worker's share of the memory budget.
    pub(super) evicted: u64,
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
                pipeline.name(),
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
        let names: Vec<String> = sinks.iter().map(|s| s.name().to_string()).collect();
        let mut meter = Meter::new(opts.metrics, pipeline.name(), None, &[], &[], &names, None);
        if let Err(e) = coordinate(&out_rx, &mut sinks, &shared, cp, start, opts, &mut meter) {
            shared.fail(Some(e));
        }
        if opts.progress {
            super::driver::Progress::clear();
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
        output_bytes: sinks.iter().map(|s| s.bytes_written()).collect(),
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
        dropped: shared.dropped.load(SeqCst),
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
