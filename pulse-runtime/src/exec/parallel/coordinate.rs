//! The sink thread: results to sinks, checkpoints when every worker has stopped.

use super::*;

/// The sink thread: writes every batch the workers send, asks for checkpoints and writes them,
/// and tells the workers to leave once all are done (after a last checkpoint).
pub(super) fn coordinate(
    rx: &Receiver<ToSinks>,
    sinks: &mut [Box<dyn Sink>],
    shared: &Shared,
    mut checkpointing: Option<&mut Checkpointing<'_>>,
    start: Instant,
    opts: &RunOptions,
    meter: &mut Meter,
) -> Result<()> {
    let workers = shared.read.len();
    let mut last_progress = Instant::now();
    let mut last_checkpoint = Instant::now();
    let mut epoch = 0;
    // Parts of the requested checkpoint received so far, if one is requested.
    let mut parts: Option<Vec<Option<Box<WorkerState>>>> = None;
    let (mut done, mut last_requested) = (0, false);
    loop {
        meter.dropped_backpressure(shared.dropped.load(SeqCst));
        if checkpointing.is_some() {
            meter.checkpoint_age(last_checkpoint);
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(ToSinks::Results(port, mut batch)) => {
                let t = Instant::now();
                let n = batch.len() as u64;
                sinks[port].write_batch(batch.as_any_mut())?;
                shared.to_sinks.fetch_sub(n, SeqCst);
                meter.sink_took(port, t);
                meter.sinks_round(sinks);
            }
            Ok(ToSinks::Encoded(port, bytes, rows)) => {
                let t = Instant::now();
                sinks[port].write_encoded(&bytes, rows)?;
                shared.to_sinks.fetch_sub(rows, SeqCst);
                meter.sink_took(port, t);
                meter.sinks_round(sinks);
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
        if opts.progress && last_progress.elapsed() >= crate::exec::driver::progress_every() {
            last_progress = Instant::now();
            crate::exec::driver::Progress {
                elapsed: start.elapsed(),
                records: shared.read.iter().map(|r| r.load(SeqCst)).sum(),
                bytes: 0,
                total: None,
                written: sinks.iter().map(|s| s.written()).sum(),
                watermark: None,
                workers,
            }
            .show();
        }
    }
}
