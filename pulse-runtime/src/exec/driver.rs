//! The single-worker driver: read a batch per source in turn, push it, drain outputs to sinks.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::graph::Graph;
use crate::io::{Sink, Source, SourceStats};
use crate::time::MAX_WATERMARK;

/// How a run is driven.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Records read from a source per batch.
    pub batch_size: usize,
    /// Print a progress line to stderr every couple of seconds (default: when stderr is a terminal).
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            batch_size: 1024,
            progress: std::io::stderr().is_terminal(),
        }
    }
}

/// What a finished run did.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    /// Per input: name and counters.
    pub inputs: Vec<(String, SourceStats)>,
    /// Per output: name and records written.
    pub outputs: Vec<(String, u64)>,
    /// Elements whose windows had all been cleaned up (counted whether or not routed to a late output).
    pub late: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let total: u64 = self.inputs.iter().map(|(_, s)| s.records).sum();
        writeln!(
            f,
            "done in {secs:.3} s ({:.0} records/s)",
            total as f64 / secs.max(1e-9)
        )?;
        for (name, s) in &self.inputs {
            write!(f, "  input  {name}: {} records", s.records)?;
            if s.skipped > 0 {
                write!(f, ", {} bad records skipped", s.skipped)?;
            }
            writeln!(f)?;
        }
        for (name, n) in &self.outputs {
            writeln!(f, "  output {name}: {n} records")?;
        }
        write!(f, "  late elements: {}", self.late)
    }
}

/// Runs `graph` until every source is exhausted, then finishes the sinks.
///
/// Sources take turns, one batch each; a source that ends sends the final watermark, which
/// fires every window downstream of it. Outputs are drained to their sinks after every batch.
pub fn run_graph<G: Graph + ?Sized>(
    graph: &mut G,
    mut sources: Vec<Box<dyn Source>>,
    mut sinks: Vec<Box<dyn Sink>>,
    opts: &RunOptions,
) -> Result<RunSummary> {
    let start = Instant::now();
    let mut batches: Vec<_> = sources.iter().map(|s| s.new_batch()).collect();
    let mut out_batches: Vec<_> = sinks.iter().map(|s| s.new_batch()).collect();
    let mut live: Vec<bool> = vec![true; sources.len()];
    let mut last_progress = Instant::now();
    while live.iter().any(|&l| l) {
        for (port, src) in sources.iter_mut().enumerate() {
            if !live[port] {
                continue;
            }
            let more = src.read_batch(batches[port].as_mut(), opts.batch_size.max(1))?;
            graph.push_batch(port, batches[port].as_mut());
            if !more {
                live[port] = false;
                graph.input_watermark(port, MAX_WATERMARK);
            }
        }
        for (port, sink) in sinks.iter_mut().enumerate() {
            graph.drain_output(port, out_batches[port].as_mut());
            sink.write_batch(out_batches[port].as_mut())?;
        }
        if opts.progress && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let read: u64 = sources.iter().map(|s| s.stats().records).sum();
            let written: u64 = sinks.iter().map(|s| s.written()).sum();
            eprintln!(
                "[{:>6.1}s] read {read} records, wrote {written}",
                start.elapsed().as_secs_f64()
            );
        }
    }
    for sink in &mut sinks {
        sink.finish()?;
    }
    Ok(RunSummary {
        inputs: sources
            .iter()
            .map(|s| (s.name().to_string(), s.stats()))
            .collect(),
        outputs: sinks
            .iter()
            .map(|s| (s.name().to_string(), s.written()))
            .collect(),
        late: graph.late_dropped(),
        elapsed: start.elapsed(),
    })
}
