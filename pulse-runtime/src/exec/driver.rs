//! The single-worker driver: read a batch from the input furthest behind, push it, drain
//! outputs to sinks.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use std::path::PathBuf;

use super::meter::Meter;
use crate::checkpoint::{Checkpoint, CheckpointStore, prune_savepoints};
use crate::error::Result;
use crate::graph::{Dirty, Graph, Snapshot};
use crate::io::{Sink, Source, SourceStats};
use crate::time::{MAX_WATERMARK, now_millis};

/// How a run is driven.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Records read from a source per batch.
    pub batch_size: usize,
    /// Print a progress line to stderr every couple of seconds (default: when stderr is a terminal).
    pub progress: bool,
    /// Publish metrics through the `metrics` facade (a recorder is installed).
    pub metrics: bool,
    /// Where the run publishes its live status (`/debug/graph`), if anywhere.
    pub status: Option<super::meter::StatusBoard>,
    /// Set from another thread (a signal handler) to end the run as if every input had ended:
    /// the final watermark fires every window, the outputs are published.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// A live input with no data for this long stops holding the watermark back until it
    /// sends again (Flink's `withIdleness`); `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Worker threads, each running a copy of the graph (the parallel driver, see [`Launch`](super::Launch)).
    pub workers: usize,
    /// Drop mode (`PULSE_CHANNEL_BOUND`): under `--workers N`, a batch of results that would
    /// take the results in flight to the sinks past this many is dropped instead of waiting for
    /// the sinks (newest first; watermarks and checkpoint barriers are never dropped), and
    /// counted. `None` (the default): workers wait, nothing is lost.
    pub channel_bound: Option<u64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            batch_size: 1024,
            progress: std::io::stderr().is_terminal(),
            metrics: false,
            status: None,
            stop: None,
            idle_timeout: None,
            workers: 1,
            channel_bound: None,
        }
    }
}

/// Periodic savepoints: exports of a checkpoint to `dir/sp-<id>`, keeping the newest `retain`.
#[derive(Clone, Debug)]
pub struct Savepoints {
    /// Where savepoint directories go.
    pub dir: PathBuf,
    /// Time between savepoints; `None` for on demand only.
    pub interval: Option<Duration>,
    /// How many to keep.
    pub retain: usize,
    /// A file whose appearance requests a savepoint at the next checkpoint (it is then deleted).
    pub trigger: PathBuf,
    /// Print a line to stderr per savepoint.
    pub announce: bool,
}

/// Periodic checkpoints into a store.
pub struct Checkpointing<'a> {
    /// Where checkpoints go.
    pub store: &'a CheckpointStore,
    /// Time between checkpoints.
    pub interval: Duration,
    /// The pipeline's name, recorded in each checkpoint.
    pub pipeline: &'a str,
    /// The id of the next checkpoint.
    pub next_id: u64,
    /// Bytes of keyed state to keep in memory: past it, a checkpoint is taken early and cold
    /// state is evicted to fjall.
    pub memory_budget: Option<usize>,
    /// Savepoints, if any.
    pub savepoints: Option<Savepoints>,
    /// When the last savepoint was taken.
    pub last_savepoint: Option<Instant>,
    /// Savepoints taken.
    pub savepoints_taken: u64,
    /// State cells evicted from memory past the budget.
    pub evicted: u64,
}

impl Checkpointing<'_> {
    /// Takes one checkpoint: operator state, dirty keyed state, source positions and sink
    /// pre-commits in one atomic fsynced batch; then the sinks publish what the checkpoint
    /// covers, cold state is evicted past the memory budget, and a savepoint is exported if due.
    fn take<G: Graph + ?Sized>(
        &mut self,
        graph: &mut G,
        sources: &[Box<dyn Source>],
        sinks: &mut [Box<dyn Sink>],
        last: bool,
    ) -> Result<()> {
        let state = graph.snapshot()?;
        let dirty = graph.take_dirty();
        let fingerprints = graph.fingerprints();
        let positions = sources
            .iter()
            .map(|s| (s.name().to_string(), s.position()))
            .collect();
        self.record(state, dirty, &fingerprints, positions, sinks, last)?;
        if let Some(budget) = self.memory_budget {
            self.evicted += graph.evict(budget) as u64;
        }
        Ok(())
    }

    /// Writes one checkpoint of `state`, `dirty` keyed state and source `positions` with the
    /// sinks' pre-commit records in one atomic fsynced batch; then the sinks publish, and a
    /// savepoint is exported if due. The `last` checkpoint, at the end of input, marks the run
    /// finished.
    pub(crate) fn record(
        &mut self,
        state: Snapshot,
        dirty: Dirty,
        fingerprints: &BTreeMap<String, String>,
        positions: Vec<(String, Vec<u8>)>,
        sinks: &mut [Box<dyn Sink>],
        last: bool,
    ) -> Result<()> {
        let mut records = Vec::with_capacity(sinks.len());
        for s in sinks.iter_mut() {
            records.push((s.name().to_string(), s.pre_commit()?));
        }
        let cp = Checkpoint {
            id: self.next_id,
            pipeline: self.pipeline.to_string(),
            sources: positions,
            sinks: records,
            operators: state
                .keys()
                .map(|id| {
                    let fp = fingerprints.get(id).cloned().unwrap_or_default();
                    (id.clone(), fp)
                })
                .collect(),
            finished: last,
        };
        let _span = tracing::info_span!("checkpoint", id = cp.id, last).entered();
        let t = Instant::now();
        self.store.write(&cp, &state, &dirty)?;
        let bytes: usize = state.values().map(Vec::len).sum::<usize>()
            + dirty
                .iter()
                .flat_map(|(_, cells)| cells)
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
                .sum::<usize>();
        tracing::info!(
            bytes,
            ms = t.elapsed().as_secs_f64() * 1000.0,
            "checkpoint written"
        );
        let pipeline = self.pipeline.to_string();
        metrics::histogram!("pulse_checkpoint_duration_ms", "pipeline" => pipeline.clone())
            .record(t.elapsed().as_secs_f64() * 1000.0);
        metrics::gauge!("pulse_checkpoint_size_bytes", "pipeline" => pipeline.clone())
            .set(bytes as f64);
        metrics::counter!("pulse_checkpoints_total", "pipeline" => pipeline).increment(1);
        self.next_id += 1;
        for (sink, (_, record)) in sinks.iter_mut().zip(&cp.sinks) {
            sink.commit(record)?;
        }
        self.savepoint_if_due(cp.id)
    }

    fn savepoint_if_due(&mut self, id: u64) -> Result<()> {
        let Some(sp) = &self.savepoints else {
            return Ok(());
        };
        let requested = sp.trigger.exists();
        let due = sp.interval.is_some_and(|i| {
            self.last_savepoint
                .is_none_or(|t: Instant| t.elapsed() >= i)
        });
        if !requested && !due {
            return Ok(());
        }
        let dir = sp.dir.join(format!("sp-{id}"));
        self.store.export_savepoint(&dir)?;
        prune_savepoints(&sp.dir, sp.retain.max(1))?;
        if requested {
            let _ = std::fs::remove_file(&sp.trigger);
        }
        self.last_savepoint = Some(Instant::now());
        self.savepoints_taken += 1;
        if sp.announce {
            eprintln!("savepoint {} written to {}", id, dir.display());
        }
        Ok(())
    }
}

/// What a finished run did.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    /// Per input: name and counters.
    pub inputs: Vec<(String, SourceStats)>,
    /// Per output: name and records written.
    pub outputs: Vec<(String, u64)>,
    /// Per output, in the order of `outputs`: bytes written (0 if the sink does not know).
    pub output_bytes: Vec<u64>,
    /// Elements whose windows had all been cleaned up (counted whether or not routed to a late output).
    pub late: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Checkpoints taken.
    pub checkpoints: u64,
    /// Savepoints taken.
    pub savepoints: u64,
    /// State cells evicted from memory past the memory budget (read back from fjall on use).
    pub evicted: u64,
    /// Worker threads (0 or 1: the calling thread alone).
    pub workers: usize,
    /// Results dropped in drop mode ([`RunOptions::channel_bound`]) because the sinks were
    /// behind.
    pub dropped: u64,
    /// The checkpoint the run resumed from, if it did not start from the beginning.
    pub resumed_from: Option<u64>,
    /// The run of `resumed_from` had finished before it stopped: this launch only published
    /// its outputs and read nothing.
    pub finished_earlier: bool,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let total: u64 = self.inputs.iter().map(|(_, s)| s.records).sum();
        writeln!(
            f,
            "done in {secs:.3} s ({:.0} records/s{})",
            total as f64 / secs.max(1e-9),
            if self.workers > 1 {
                format!(", {} workers", self.workers)
            } else {
                String::new()
            }
        )?;
        for (name, s) in &self.inputs {
            write!(f, "  input  {name}: {} records", s.records)?;
            if s.bytes > 0 {
                write!(f, " ({:.1} MB)", s.bytes as f64 / 1e6)?;
            }
            if s.skipped > 0 {
                write!(f, ", {} bad records skipped", s.skipped)?;
            }
            writeln!(f)?;
        }
        for (k, (name, n)) in self.outputs.iter().enumerate() {
            write!(f, "  output {name}: {n} records")?;
            match self.output_bytes.get(k).copied().unwrap_or(0) {
                0 => writeln!(f)?,
                b => writeln!(f, " ({:.1} MB)", b as f64 / 1e6)?,
            }
        }
        write!(f, "  late elements: {}", self.late)?;
        if self.checkpoints > 0 {
            write!(f, "\n  checkpoints: {}", self.checkpoints)?;
        }
        if self.savepoints > 0 {
            write!(f, "\n  savepoints: {}", self.savepoints)?;
        }
        if self.evicted > 0 {
            write!(f, "\n  state cells evicted to fjall: {}", self.evicted)?;
        }
        if self.dropped > 0 {
            write!(
                f,
                "\n  results dropped (PULSE_CHANNEL_BOUND, sinks behind): {}",
                self.dropped
            )?;
        }
        Ok(())
    }
}

/// A progress report: on a terminal one line rewritten in place every 2 s, otherwise a plain
/// line every 5 s.
pub(crate) struct Progress {
    pub elapsed: Duration,
    pub records: u64,
    pub bytes: u64,
    /// Bytes of all inputs, if every input knows.
    pub total: Option<u64>,
    pub written: u64,
    pub watermark: Option<i64>,
    pub workers: usize,
}

/// The run's progress bar on a terminal, once progress is first shown.
#[cfg(feature = "progress-bar")]
static BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// How often progress is reported.
pub(crate) fn progress_every() -> Duration {
    if std::io::stderr().is_terminal() {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(5)
    }
}

impl Progress {
    /// The line, e.g. `[  12.0s] 1200000 records (43 % of 219 MB), 8.1 M/s, watermark .., wrote 100`.
    pub(crate) fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let mut s = format!("[{secs:>6.1}s] read {} records", self.records);
        match self.total {
            Some(t) if t > 0 => s.push_str(&format!(
                " ({:.0} % of {:.0} MB)",
                100.0 * self.bytes as f64 / t as f64,
                t as f64 / 1e6
            )),
            _ if self.bytes > 0 => s.push_str(&format!(" ({:.0} MB)", self.bytes as f64 / 1e6)),
            _ => {}
        }
        s.push_str(&format!(
            ", {:.2} M records/s",
            self.records as f64 / secs.max(1e-9) / 1e6
        ));
        if let Some(w) = self.watermark {
            s.push_str(&format!(", watermark {}", crate::Timestamp::from_millis(w)));
        }
        s.push_str(&format!(", wrote {}", self.written));
        if self.workers > 1 {
            s.push_str(&format!(" ({} workers)", self.workers));
        }
        s
    }

    /// Prints the line on stderr: a bar of bytes read (indicatif) on a terminal when the
    /// inputs' size is known, a line rewritten in place on other terminals, a plain line
    /// otherwise.
    pub(crate) fn show(&self) {
        if !std::io::stderr().is_terminal() {
            eprintln!("{}", self.line());
            return;
        }
        #[cfg(feature = "progress-bar")]
        if let Some(total) = self.total.filter(|&t| t > 0) {
            let mut bar = BAR.lock().unwrap_or_else(|p| p.into_inner());
            let bar = bar.get_or_insert_with(|| {
                let b = indicatif::ProgressBar::new(total).with_elapsed(self.elapsed);
                let style = indicatif::ProgressStyle::with_template(
                    "[{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
                b.set_style(style);
                b
            });
            bar.set_position(self.bytes.min(total));
            let mut msg = format!(
                "{:.2} M records/s",
                self.records as f64 / self.elapsed.as_secs_f64().max(1e-9) / 1e6
            );
            if let Some(w) = self.watermark {
                msg.push_str(&format!(", watermark {}", crate::Timestamp::from_millis(w)));
            }
            bar.set_message(msg);
            return;
        }
        eprint!("\r{}\x1b[K", self.line());
    }

    /// Ends the bar or the line rewritten in place, before the summary.
    pub(crate) fn clear() {
        #[cfg(feature = "progress-bar")]
        if let Some(bar) = BAR.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
            return;
        }
        if std::io::stderr().is_terminal() {
            eprint!("\r\x1b[K");
        }
    }
}

/// Which live inputs are idle: one with no data for the idle timeout (wall clock) stops holding
/// the watermark back until it sends again, as Flink's `withIdleness` does. Finite inputs are
/// never idle: an ended input already releases the watermark.
pub(crate) struct Idleness {
    timeout: Option<Duration>,
    last_data: Vec<Option<Instant>>,
    idle: Vec<bool>,
}

impl Idleness {
    pub(crate) fn new(inputs: usize, timeout: Option<Duration>) -> Self {
        Idleness {
            timeout,
            last_data: vec![None; inputs],
            idle: vec![false; inputs],
        }
    }

    /// After `n` records were read from input `port`: a live input that sends again holds the
    /// watermark again (from before its data, which is pushed next).
    pub(crate) fn read<G: Graph + ?Sized>(
        &mut self,
        g: &mut G,
        port: usize,
        src: &dyn Source,
        n: u64,
    ) {
        if !src.is_live() {
            return;
        }
        if n > 0 && std::mem::take(&mut self.idle[port]) {
            tracing::info!(input = src.name(), "active again: it holds the watermark");
            g.set_idle(port, false);
        }
        if n > 0 || self.last_data[port].is_none() {
            self.last_data[port] = Some(Instant::now());
        }
    }

    /// Marks idle the live inputs past the timeout.
    pub(crate) fn check<G: Graph + ?Sized>(
        &mut self,
        g: &mut G,
        sources: &[Box<dyn Source>],
        live: &[bool],
    ) {
        let Some(timeout) = self.timeout else {
            return;
        };
        for port in 0..sources.len() {
            if live[port]
                && !self.idle[port]
                && self.last_data[port].is_some_and(|t| t.elapsed() >= timeout)
            {
                self.idle[port] = true;
                g.set_idle(port, true);
                tracing::info!(
                    input = sources[port].name(),
                    ?timeout,
                    "idle: no longer holds the watermark back"
                );
            }
        }
    }
}

/// Whether a signal asked the run to stop.
pub(crate) fn stopped(opts: &RunOptions) -> bool {
    opts.stop
        .as_ref()
        .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
}

/// The inputs to read a batch from next: the live one furthest behind in event time when every
/// live input knows its progress (ties to the lower port), else every live input in turn.
///
/// Reading by event time keeps inputs that cover event time at different rates together, so a
/// join or union buffers only their disorder, not the gap between two files.
pub fn to_read(sources: &[Box<dyn Source>], live: &[bool], order: &mut Vec<usize>) {
    order.clear();
    let mut behind: Option<(i64, usize)> = None;
    let mut known = true;
    for port in (0..sources.len()).filter(|&p| live[p]) {
        match sources[port].progress() {
            Some(h) if behind.is_none_or(|(b, _)| h < b) => behind = Some((h, port)),
            Some(_) => {}
            None => known = false,
        }
    }
    match behind {
        Some((_, port)) if known => order.push(port),
        _ => order.extend((0..sources.len()).filter(|&p| live[p])),
    }
}

/// With several inputs that all know their progress, the one to read next and how far: the
/// input furthest behind in event time (the lower port on a tie), up to the event time at which
/// another one would be. Reading runs of elements so, whatever the batch size, interleaves the
/// inputs element by element as a function of the inputs alone, so a `union` or a join sees
/// the same order, and gives the same results, for every batch size. `None` if some live input
/// cannot tell its progress.
pub(crate) fn merge_next(sources: &[Box<dyn Source>], live: &[bool]) -> Option<(usize, i64)> {
    let mut highs = Vec::with_capacity(sources.len());
    for port in (0..sources.len()).filter(|&p| live[p]) {
        highs.push((sources[port].progress()?, port));
    }
    let &(high, port) = highs.iter().min()?;
    // Another input `q` would be next once this one passes its progress (or reaches it, for
    // a lower port, which wins ties).
    let limit = highs
        .iter()
        .filter(|&&(_, q)| q != port)
        .map(|&(h, q)| if q < port { h.saturating_sub(1) } else { h })
        .min()
        .unwrap_or(i64::MAX);
    debug_assert!(high <= limit);
    Some((port, limit))
}

/// Runs `graph` until every source is exhausted, then finishes the sinks.
///
/// Each round reads a batch from the input furthest behind in event time ([`to_read`]); a
/// source that ends sends the final watermark, which fires every window downstream of it. Outputs are drained to their sinks after every batch.
///
/// With `checkpointing`, a checkpoint is taken between batches every interval and once more at the
/// end of input, before the sinks publish; then the store is cleared.
pub fn run_graph<G: Graph + ?Sized>(
    graph: &mut G,
    mut sources: Vec<Box<dyn Source>>,
    mut sinks: Vec<Box<dyn Sink>>,
    opts: &RunOptions,
    mut checkpointing: Option<Checkpointing<'_>>,
    meter: &mut Meter,
) -> Result<RunSummary> {
    let first_checkpoint = checkpointing.as_ref().map_or(0, |c| c.next_id);
    let mut last_checkpoint = Instant::now();
    let start = Instant::now();
    let mut batches: Vec<_> = sources.iter().map(|s| s.new_batch()).collect();
    let mut out_batches: Vec<_> = sinks.iter().map(|s| s.new_batch()).collect();
    let mut live: Vec<bool> = vec![true; sources.len()];
    let mut last_progress = Instant::now();
    let mut order = Vec::with_capacity(sources.len());
    let merged = sources.len() > 1;
    // Live inputs: when each last sent data, and which are idle now.
    let any_live = sources.iter().any(|s| s.is_live());
    let mut idleness = Idleness::new(sources.len(), opts.idle_timeout);
    while live.iter().any(|&l| l) {
        if let Some(first) = merged.then(|| merge_next(&sources, &live)).flatten() {
            // Runs of the input furthest behind, about a batch in all per round.
            let mut next = Some(first);
            let mut left = opts.batch_size.max(1);
            while let Some((port, limit)) = next {
                let src = &mut sources[port];
                let before = src.stats().records;
                let more = src.read_until(batches[port].as_mut(), left, limit)?;
                left = left.saturating_sub((src.stats().records - before).max(1) as usize);
                let t = Instant::now();
                graph.push_batch(port, batches[port].as_mut());
                meter.push_took(t);
                if !more {
                    live[port] = false;
                    graph.input_watermark(port, MAX_WATERMARK);
                }
                next = merge_next(&sources, &live).filter(|_| left > 0);
            }
        } else {
            to_read(&sources, &live, &mut order);
            let mut got = 0;
            for &port in &order {
                let src = &mut sources[port];
                let before = src.stats().records;
                let span = tracing::trace_span!("source", input = src.name()).entered();
                let more = src.read_batch(batches[port].as_mut(), opts.batch_size.max(1))?;
                drop(span);
                let n = src.stats().records - before;
                got += n;
                idleness.read(graph, port, &**src, n);
                let t = Instant::now();
                graph.push_batch(port, batches[port].as_mut());
                meter.push_took(t);
                if !more {
                    live[port] = false;
                    graph.input_watermark(port, MAX_WATERMARK);
                }
            }
            idleness.check(graph, &sources, &live);
            if got == 0 && any_live {
                // Live inputs with nothing new: wait a little instead of spinning.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        graph.advance_processing_time(now_millis());
        for (port, sink) in sinks.iter_mut().enumerate() {
            graph.drain_output(port, out_batches[port].as_mut());
            let _span = tracing::trace_span!("sink", output = sink.name()).entered();
            let t = Instant::now();
            sink.write_batch(out_batches[port].as_mut())?;
            meter.sink_took(port, t);
        }
        meter.round(&*graph, &sources, &sinks, false);
        if stopped(opts) {
            tracing::info!("stop requested: the run ends as if every input had ended");
            for (port, l) in live.iter_mut().enumerate() {
                if std::mem::take(l) {
                    graph.input_watermark(port, MAX_WATERMARK);
                }
            }
            for (port, sink) in sinks.iter_mut().enumerate() {
                graph.drain_output(port, out_batches[port].as_mut());
                sink.write_batch(out_batches[port].as_mut())?;
            }
        }
        if let Some(c) = checkpointing.as_mut()
            && (last_checkpoint.elapsed() >= c.interval
                || c.memory_budget.is_some_and(|b| graph.state_bytes() > b))
        {
            c.take(graph, &sources, &mut sinks, false)?;
            last_checkpoint = Instant::now();
        }
        if checkpointing.is_some() {
            meter.checkpoint_age(last_checkpoint);
        }
        if opts.progress && last_progress.elapsed() >= progress_every() {
            last_progress = Instant::now();
            let mut wm = None;
            graph.with_node_marks(&mut |m| {
                wm = m
                    .watermark
                    .iter()
                    .copied()
                    .filter(|&w| w < MAX_WATERMARK)
                    .max();
            });
            let p = Progress {
                elapsed: start.elapsed(),
                records: sources.iter().map(|s| s.stats().records).sum(),
                bytes: sources.iter().map(|s| s.stats().bytes).sum(),
                total: sources.iter().map(|s| s.total_bytes()).sum(),
                written: sinks.iter().map(|s| s.written()).sum(),
                watermark: wm.filter(|&w| w > crate::time::MIN_WATERMARK),
                workers: 1,
            };
            p.show();
        }
    }
    if opts.progress {
        Progress::clear();
    }
    if let Some(c) = checkpointing.as_mut() {
        c.take(graph, &sources, &mut sinks, true)?;
    }
    for sink in &mut sinks {
        sink.finish()?;
    }
    if let Some(c) = &checkpointing {
        c.store.clear()?;
    }
    meter.round(&*graph, &sources, &sinks, true);
    meter.finish();
    Ok(RunSummary {
        inputs: sources
            .iter()
            .map(|s| (s.name().to_string(), s.stats()))
            .collect(),
        outputs: sinks
            .iter()
            .map(|s| (s.name().to_string(), s.written()))
            .collect(),
        output_bytes: sinks.iter().map(|s| s.bytes_written()).collect(),
        late: graph.late_dropped(),
        elapsed: start.elapsed(),
        checkpoints: checkpointing
            .as_ref()
            .map_or(0, |c| c.next_id - first_checkpoint),
        savepoints: checkpointing.as_ref().map_or(0, |c| c.savepoints_taken),
        evicted: checkpointing.as_ref().map_or(0, |c| c.evicted),
        workers: 1,
        // One thread reads, runs and writes: the sinks hold it back, nothing waits to drop.
        dropped: 0,
        resumed_from: None,
        finished_earlier: false,
    })
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    #[test]
    fn progress_says_how_far_how_fast_and_where_event_time_is() {
        let p = Progress {
            elapsed: Duration::from_secs(2),
            records: 3_000_000,
            bytes: 110_000_000,
            total: Some(220_000_000),
            written: 42,
            watermark: Some(1_000),
            workers: 1,
        };
        assert_eq!(
            p.line(),
            "[   2.0s] read 3000000 records (50 % of 220 MB), 1.50 M records/s, watermark 1970-01-01T00:00:01.000Z, wrote 42"
        );
        let live = Progress {
            total: None,
            bytes: 0,
            watermark: None,
            workers: 2,
            ..p
        };
        assert_eq!(
            live.line(),
            "[   2.0s] read 3000000 records, 1.50 M records/s, wrote 42 (2 workers)"
        );
    }
}
