//! The launcher: every way of starting a run goes through [`Launch::run`].
//!
//! A run starts in one of four ways, decided here and nowhere else: from the beginning (no
//! state, or `fresh`), from the latest checkpoint in the state directory, from an imported
//! savepoint, or — when the last run had taken its final checkpoint and was publishing its
//! outputs when it stopped — by publishing those outputs and reading nothing. The launcher
//! opens (or clears) the checkpoint store, checks that the saved state fits the pipeline and
//! the number of workers, restores operator state and source positions, opens the sinks after
//! the sources (so a bad input binding creates no output file), picks the one- or N-worker
//! driver and returns what the run did. `pulse::cli` only turns flags and TOML into a
//! [`Launch`] and prints the summary.

use std::path::PathBuf;
use std::time::Duration;

use super::driver::{Checkpointing, RunOptions, RunSummary, Savepoints, run_graph};
use super::meter::Meter;
use super::parallel::{OpenSources, ParallelCheckpoints, check_workers, run_parallel, worker_id};
use crate::checkpoint::{Checkpoint, CheckpointStore, check_restorable};
use crate::error::{Error, Result};
use crate::graph::{Graph, Pipeline, Snapshot};
use crate::io::{Sink, SinkSpec, SourceSpec, Split, check_bindings, publish_finished};

/// How a run checkpoints, restores and exports state.
#[derive(Debug, Clone)]
pub struct CheckpointPlan {
    /// The fjall state directory.
    pub dir: PathBuf,
    /// Time between checkpoints.
    pub interval: Duration,
    /// Bytes of keyed state kept in memory.
    pub memory_budget: Option<usize>,
    /// Savepoint directory, interval, retention and on-demand trigger file.
    pub savepoints: Savepoints,
    /// Start from this savepoint instead of the latest checkpoint.
    pub restore_from: Option<PathBuf>,
    /// Drop state of operators the pipeline no longer has.
    pub allow_non_restored_state: bool,
    /// Export the latest checkpoint to this directory and exit.
    pub export_savepoint: Option<PathBuf>,
}

impl CheckpointPlan {
    /// Checkpoints into `dir` every `interval`, savepoints on demand into `<dir>.savepoints`.
    pub fn new(dir: impl Into<PathBuf>, interval: Duration) -> Self {
        let dir = dir.into();
        let mut sp = dir.clone().into_os_string();
        sp.push(".savepoints");
        CheckpointPlan {
            savepoints: Savepoints {
                dir: PathBuf::from(sp),
                interval: None,
                retain: 3,
                trigger: dir.join("SAVEPOINT"),
                announce: true,
            },
            dir,
            interval,
            memory_budget: None,
            restore_from: None,
            allow_non_restored_state: false,
            export_savepoint: None,
        }
    }
}

/// Everything a run needs besides the pipeline: bindings, driver options, checkpoints.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// One per input port, in the pipeline's order.
    pub sources: Vec<SourceSpec>,
    /// One per output port, in the pipeline's order.
    pub sinks: Vec<SinkSpec>,
    /// Batch size, workers, progress line.
    pub options: RunOptions,
    /// Where checkpoints go, and how; `None` without checkpoints.
    pub checkpoints: Option<CheckpointPlan>,
    /// Forget earlier state before running.
    pub fresh: bool,
    /// A Parquet output may go into a directory holding files Pulse did not write.
    pub append: bool,
    /// No lines on stderr about resuming and restoring.
    pub quiet: bool,
}

/// Sources and sinks opened by the caller instead of from [`Launch::sources`] and
/// [`Launch::sinks`]: for inputs already in memory, test sinks and benchmarks. The sinks are
/// the caller's, so a resumed run does not cut them back to the checkpoint: only file sinks
/// opened from specs are exactly-once.
pub struct Endpoints<'a> {
    /// Opens worker `w`'s share of every input (`0` in a one-worker run).
    pub sources: &'a OpenSources<'a>,
    /// One sink per output port.
    pub sinks: Vec<Box<dyn Sink>>,
}

/// The saved state a run starts from, checked against the pipeline.
struct Start {
    store: Option<CheckpointStore>,
    resume: Option<(Checkpoint, Snapshot)>,
}

impl Launch {
    /// A run of the given bindings with default options and no checkpoints.
    pub fn new(sources: Vec<SourceSpec>, sinks: Vec<SinkSpec>) -> Self {
        Launch {
            sources,
            sinks,
            ..Launch::default()
        }
    }

    /// Runs `pipeline` on the bound files (see the module docs).
    pub fn run<P: Pipeline>(&self, pipeline: &P) -> Result<RunSummary> {
        check_bindings(&self.sources, &self.sinks, self.append)?;
        let workers = self.options.workers.max(1);
        let open = |w: usize| {
            self.sources
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut s = s.clone();
                    if workers > 1 {
                        s.split = Split::new(w, workers);
                    }
                    pipeline.open_source(i, &s)
                })
                .collect::<Result<Vec<_>>>()
        };
        self.start(pipeline, &open, None)
    }

    /// Runs `pipeline` on sources and sinks the caller opened; checkpoints, restore and workers
    /// work as in [`run`](Launch::run).
    pub fn run_with<P: Pipeline>(&self, pipeline: &P, ends: Endpoints<'_>) -> Result<RunSummary> {
        self.start(pipeline, ends.sources, Some(ends.sinks))
    }

    fn start<P: Pipeline>(
        &self,
        pipeline: &P,
        open: &OpenSources<'_>,
        sinks: Option<Vec<Box<dyn Sink>>>,
    ) -> Result<RunSummary> {
        let _span = tracing::info_span!("run", pipeline = pipeline.name()).entered();
        tracing::info!(workers = self.options.workers.max(1), "run starting");
        let summary = self.start_inner(pipeline, open, sinks);
        match &summary {
            Ok(s) => tracing::info!(
                records_in = s.inputs.iter().map(|i| i.1.records).sum::<u64>(),
                records_out = s.outputs.iter().map(|o| o.1).sum::<u64>(),
                late = s.late,
                ms = s.elapsed.as_secs_f64() * 1000.0,
                "run finished"
            ),
            // The caller reports the error itself (the CLI prints it once).
            Err(e) => tracing::debug!(error = %e, "run failed"),
        }
        summary
    }

    fn start_inner<P: Pipeline>(
        &self,
        pipeline: &P,
        open: &OpenSources<'_>,
        sinks: Option<Vec<Box<dyn Sink>>>,
    ) -> Result<RunSummary> {
        let graph = pipeline.build();
        let Some(start) = self.open_state::<P>(pipeline.name(), &graph)? else {
            return Ok(RunSummary::default());
        };
        let mut sink_specs = self.sinks.clone();
        if let Some((cp, _)) = &start.resume {
            for (spec, (_, record)) in sink_specs.iter_mut().zip(&cp.sinks) {
                spec.resume = Some(record.clone());
            }
            if cp.finished {
                return self.publish_finished(pipeline.name(), &start, &sink_specs, cp);
            }
            if !self.quiet {
                eprintln!(
                    "{}: resuming from checkpoint {} in {}",
                    pipeline.name(),
                    cp.id,
                    start
                        .store
                        .as_ref()
                        .expect("resume comes from a store")
                        .dir()
                        .display()
                );
            }
        }
        let caller_opened = sinks.is_some();
        let open_sinks = || match sinks {
            Some(s) => Ok(s),
            None => sink_specs
                .iter()
                .enumerate()
                .map(|(j, s)| pipeline.open_sink(j, s))
                .collect::<Result<Vec<_>>>(),
        };
        let checkpointing = match (&start.store, &self.checkpoints) {
            (Some(store), Some(c)) => Some(Checkpointing {
                store,
                interval: c.interval,
                pipeline: pipeline.name(),
                next_id: start.resume.as_ref().map_or(1, |(cp, _)| cp.id + 1),
                memory_budget: c.memory_budget,
                savepoints: Some(c.savepoints.clone()),
                last_savepoint: None,
                savepoints_taken: 0,
                evicted: 0,
            }),
            _ => None,
        };
        let workers = self.options.workers.max(1);
        let mut summary = if workers > 1 {
            drop(graph);
            if !caller_opened {
                // Worker 0's share of the bound files opens as a check of every binding
                // before any output is created; each worker then opens its own. (Sources the
                // caller opens may open only once.)
                drop(open(0)?);
            }
            let sinks = open_sinks()?;
            let checkpoints = checkpointing.map(|checkpointing| ParallelCheckpoints {
                checkpointing,
                resume: start.resume.as_ref(),
            });
            run_parallel(pipeline, workers, open, sinks, &self.options, checkpoints)?
        } else {
            let mut graph = graph;
            let mut sources = open(0)?;
            let sinks = open_sinks()?;
            if let Some(s) = &start.store {
                graph.attach(s)?;
            }
            if let Some((cp, state)) = &start.resume {
                graph.restore(state)?;
                for (src, (_, pos)) in sources.iter_mut().zip(&cp.sources) {
                    src.seek(pos)?;
                }
            }
            let names: Vec<String> = sinks.iter().map(|s| s.name().to_string()).collect();
            let o = &self.options;
            let mut meter = Meter::new(
                o.metrics,
                pipeline.name(),
                None,
                P::NODES,
                &sources,
                &names,
                o.status.clone(),
            );
            run_graph(&mut graph, sources, sinks, o, checkpointing, &mut meter)?
        };
        summary.resumed_from = start.resume.as_ref().map(|(cp, _)| cp.id);
        Ok(summary)
    }

    /// Opens the store (clearing it for `fresh`), imports a savepoint, and checks the latest
    /// checkpoint against the pipeline. `None` when the launch only exported a savepoint.
    fn open_state<P: Pipeline>(&self, name: &str, graph: &impl Graph) -> Result<Option<Start>> {
        let Some(c) = &self.checkpoints else {
            return Ok(Some(Start {
                store: None,
                resume: None,
            }));
        };
        if self.fresh && c.dir.exists() {
            std::fs::remove_dir_all(&c.dir).map_err(|e| Error::Io {
                path: c.dir.clone(),
                source: e,
            })?;
        }
        let store = CheckpointStore::open(&c.dir)?;
        if let Some(to) = &c.export_savepoint {
            let cp = store.export_savepoint(to)?.ok_or_else(|| {
                Error::config(format!("{} holds no checkpoint to export", c.dir.display()))
            })?;
            eprintln!(
                "{}: checkpoint {} exported to {}",
                name,
                cp.id,
                to.display()
            );
            return Ok(None);
        }
        if let Some(from) = &c.restore_from {
            let cp = store.import_savepoint(from)?;
            if !self.quiet {
                eprintln!(
                    "{}: restoring savepoint {} (checkpoint {})",
                    name,
                    from.display(),
                    cp.id
                );
            }
        }
        let Some((cp, state)) = store.latest()? else {
            // State left by a finished run (or none): start from the beginning, empty.
            store.reset()?;
            return Ok(Some(Start {
                store: Some(store),
                resume: None,
            }));
        };
        self.check_fits::<P>(name, &cp, graph, c)?;
        Ok(Some(Start {
            store: Some(store),
            resume: Some((cp, state)),
        }))
    }

    /// Refuses state of another pipeline, another number of outputs or workers, or operators
    /// whose state no longer fits.
    fn check_fits<P: Pipeline>(
        &self,
        name: &str,
        cp: &Checkpoint,
        graph: &impl Graph,
        c: &CheckpointPlan,
    ) -> Result<()> {
        if cp.pipeline != name || cp.sinks.len() != P::OUTPUTS.len() {
            return Err(Error::config(format!(
                "the state in {} belongs to pipeline `{}` with {} outputs; pass --fresh to start over",
                c.dir.display(),
                cp.pipeline,
                cp.sinks.len()
            )));
        }
        let workers = self.options.workers.max(1);
        let inputs: Vec<&str> = P::INPUTS.iter().map(|p| p.name).collect();
        check_workers(cp, &inputs, workers)
            .map_err(|e| Error::config(format!("{}: {e}", c.dir.display())))?;
        let mut fingerprints = graph.fingerprints();
        if workers > 1 {
            fingerprints = (0..workers)
                .flat_map(|w| {
                    fingerprints
                        .iter()
                        .map(move |(id, f)| (worker_id(w, id), f.clone()))
                })
                .collect();
        }
        check_restorable(cp, &fingerprints, c.allow_non_restored_state)
    }

    // The run had finished: its last checkpoint was taken and its outputs were being
    // published when it stopped. Publish the rest; run nothing again.
    fn publish_finished(
        &self,
        name: &str,
        start: &Start,
        sink_specs: &[SinkSpec],
        cp: &Checkpoint,
    ) -> Result<RunSummary> {
        for spec in sink_specs {
            publish_finished(spec)?;
        }
        let store = start.store.as_ref().expect("resume comes from a store");
        store.clear()?;
        if !self.quiet {
            eprintln!(
                "{}: the run of checkpoint {} in {} had finished; its outputs are published",
                name,
                cp.id,
                store.dir().display()
            );
        }
        Ok(RunSummary {
            resumed_from: Some(cp.id),
            finished_earlier: true,
            ..RunSummary::default()
        })
    }
}
