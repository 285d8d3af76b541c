//! Run metrics through the `metrics` facade, and the run's live status for `/debug/graph`.
//!
//! Operators count in plain integers as elements pass (the graph's `Marks`: one `Cell` per
//! node and output); the driver publishes the difference since the last publication after a
//! round (a batch) at most every 50 ms, through metric handles registered once, so no metric
//! call is made per record. Gauges that
//! need a walk over the operators (state size, open windows, watermarks) are published at most
//! every [`GAUGE_EVERY`] and at the end. With no recorder installed (no `--http-port`) the
//! meter is off and costs one branch per round.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use serde::Serialize;

use crate::graph::{Graph, NodeInfo};
use crate::io::{Sink, Source};
use crate::time::{MIN_WATERMARK, now_millis};

/// How often the gauges that walk the operators are published.
pub const GAUGE_EVERY: Duration = Duration::from_millis(500);

/// How often counters are published: a round is one batch (a thousand records, some
/// microseconds), far more often than anyone scrapes.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// One operator's live state, as `/debug/graph` and SIGUSR1 show it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeStatus {
    /// The stable operator id.
    pub id: String,
    /// The operator.
    pub op: String,
    /// Elements it received.
    pub records_in: u64,
    /// Elements it emitted (main and late outputs).
    pub records_out: u64,
    /// The watermark it forwards (ms); `None` before the first.
    pub watermark: Option<i64>,
    /// Windows or sessions it holds open now (windowed operators only).
    pub open_windows: Option<usize>,
    /// The input whose watermark is lowest, holding this one back (nodes with several inputs).
    pub held_back_by: Option<String>,
}

/// The live status of a run, shared with the HTTP server.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunStatus {
    /// The pipeline.
    pub pipeline: String,
    /// Whether the run is still going.
    pub live: bool,
    /// Seconds since the run started.
    pub uptime_s: f64,
    /// Records read, over all inputs.
    pub records_in: u64,
    /// Records written, over all outputs.
    pub records_out: u64,
    /// Per operator, in topological order (worker 0's in a parallel run).
    pub operators: Vec<NodeStatus>,
}

/// Where a run publishes its status: shared by the launcher's caller and the HTTP server.
pub type StatusBoard = Arc<Mutex<RunStatus>>;

/// One sink's counters, and what they had published.
struct SinkMeter {
    records: Counter,
    bytes: Counter,
    latency: Histogram,
    seen: (u64, u64),
}

impl SinkMeter {
    /// Publishes the records and bytes `s` wrote since the last call.
    fn publish(&mut self, s: &dyn Sink) {
        let (w, b) = (s.written(), s.bytes_written());
        self.records.increment(w.saturating_sub(self.seen.0));
        self.bytes.increment(b.saturating_sub(self.seen.1));
        self.seen = (w, b);
    }
}

struct NodeMeter {
    receive: Counter,
    emit: Counter,
    watermark: Gauge,
    lag: Gauge,
    /// Emitted so far (main, late), as last published.
    published: (u64, u64),
}

/// The metrics of one run (or one worker of a parallel run).
pub(crate) struct Meter {
    on: bool,
    nodes: &'static [NodeInfo],
    node: Vec<NodeMeter>,
    per_op: Vec<(String, Gauge, Gauge, Counter, u64)>,
    sources: Vec<(Counter, Counter, u64, u64)>,
    sinks: Vec<SinkMeter>,
    dropped_late: Counter,
    dropped_bad: Counter,
    dropped_backpressure: (Counter, u64),
    late_seen: u64,
    push_latency: Histogram,
    queue_depth: Gauge,
    checkpoint_age: Gauge,
    last_gauges: Option<Instant>,
    last_round: Option<Instant>,
    start: Instant,
    board: Option<StatusBoard>,
}

impl Meter {
    /// A meter publishing under `pipeline` (and `worker` in a parallel run), if `on`.
    pub(crate) fn new(
        on: bool,
        pipeline: &'static str,
        worker: Option<usize>,
        nodes: &'static [NodeInfo],
        sources: &[Box<dyn Source>],
        sinks: &[String],
        board: Option<StatusBoard>,
    ) -> Self {
        let mut base = vec![("pipeline", pipeline.to_string())];
        if let Some(w) = worker {
            base.push(("worker", w.to_string()));
        }
        let with = |k: &'static str, v: &str| {
            let mut l: Vec<(&'static str, String)> = base.clone();
            l.push((k, v.to_string()));
            l
        };
        let node = if on {
            nodes
                .iter()
                .map(|n| {
                    let mut recv = with("operator", n.id);
                    recv.push(("stage", "receive".into()));
                    let mut emit = with("operator", n.id);
                    emit.push(("stage", "emit".into()));
                    NodeMeter {
                        receive: counter!("pulse_operator_records_total", &recv),
                        emit: counter!("pulse_operator_records_total", &emit),
                        watermark: gauge!("pulse_watermark_ms", &with("operator", n.id)),
                        lag: gauge!("pulse_watermark_lag_ms", &with("operator", n.id)),
                        published: (0, 0),
                    }
                })
                .collect()
        } else {
            vec![]
        };
        let sources = if on {
            sources
                .iter()
                .map(|s| {
                    let l = with("source", s.name());
                    (
                        counter!("pulse_source_records_total", &l),
                        counter!("pulse_source_bad_records_total", &l),
                        0,
                        0,
                    )
                })
                .collect()
        } else {
            vec![]
        };
        let sinks = if on {
            sinks
                .iter()
                .map(|name| {
                    let l = with("sink", name);
                    SinkMeter {
                        records: counter!("pulse_sink_records_total", &l),
                        bytes: counter!("pulse_bytes_written_total", &l),
                        latency: histogram!("pulse_sink_process_latency_ms", &l),
                        seen: (0, 0),
                    }
                })
                .collect()
        } else {
            vec![]
        };
        Meter {
            on,
            nodes,
            node,
            per_op: vec![],
            sources,
            sinks,
            dropped_late: counter!("pulse_dropped_records_total", &with("reason", "late")),
            dropped_bad: counter!("pulse_dropped_records_total", &with("reason", "bad_record")),
            dropped_backpressure: (
                counter!(
                    "pulse_dropped_records_total",
                    &with("reason", "backpressure")
                ),
                0,
            ),
            late_seen: 0,
            push_latency: histogram!(
                "pulse_operator_process_latency_ms",
                &with("operator", nodes.first().map_or(pipeline, |n| n.id))
            ),
            queue_depth: gauge!("pulse_queue_depth", &base),
            checkpoint_age: gauge!("pulse_checkpoint_age_ms", &base),
            last_gauges: None,
            last_round: None,
            start: Instant::now(),
            board,
        }
    }

    /// Records how long pushing one batch through the graph took.
    #[inline]
    pub(crate) fn push_took(&self, since: Instant) {
        if self.on {
            self.push_latency
                .record(since.elapsed().as_secs_f64() * 1000.0);
        }
    }

    /// Records how long sink `j` took to write one batch.
    #[inline]
    pub(crate) fn sink_took(&self, j: usize, since: Instant) {
        if let Some(SinkMeter { latency: h, .. }) = self.sinks.get(j) {
            h.record(since.elapsed().as_secs_f64() * 1000.0);
        }
    }

    /// Sets the time since the last completed checkpoint (or since the run started).
    pub(crate) fn checkpoint_age(&self, last: Instant) {
        if self.on {
            self.checkpoint_age
                .set(last.elapsed().as_secs_f64() * 1000.0);
        }
    }

    /// Publishes the results dropped so far in drop mode (`total`, a running count).
    pub(crate) fn dropped_backpressure(&mut self, total: u64) {
        let (counter, seen) = &mut self.dropped_backpressure;
        if self.on && total > *seen {
            counter.increment(total - *seen);
            *seen = total;
        }
    }

    /// Sets the number of messages in flight between workers.
    pub(crate) fn queue_depth(&self, n: usize) {
        if self.on {
            self.queue_depth.set(n as f64);
        }
    }

    /// Publishes what changed since the last round; the gauges every [`GAUGE_EVERY`], or now
    /// with `all` (the end of the run).
    pub(crate) fn round<G: Graph + ?Sized>(
        &mut self,
        graph: &G,
        sources: &[Box<dyn Source>],
        sinks: &[Box<dyn Sink>],
        all: bool,
    ) {
        if !self.on && self.board.is_none() {
            return;
        }
        if !all && self.last_round.is_some_and(|t| t.elapsed() < PUBLISH_EVERY) {
            return;
        }
        self.last_round = Some(Instant::now());
        let mut emitted: Vec<(u64, u64)> = Vec::with_capacity(self.nodes.len());
        let mut watermarks: Vec<i64> = Vec::with_capacity(self.nodes.len());
        graph.with_node_marks(&mut |m| {
            emitted.extend(
                m.emitted
                    .iter()
                    .zip(m.emitted_late)
                    .map(|(a, b)| (a.get(), b.get())),
            );
            watermarks.extend_from_slice(m.watermark);
        });
        // What each node received is what its inputs emitted on the ports it reads (a source
        // node: its source's records); a node that passes elements on emits what it received.
        let mut received: Vec<u64> = vec![0; self.nodes.len()];
        let mut next_source = 0;
        for (k, n) in self.nodes.iter().enumerate() {
            received[k] = if n.inputs.is_empty() {
                next_source += 1;
                sources
                    .get(next_source - 1)
                    .map_or(0, |s| s.stats().records)
            } else {
                n.inputs
                    .iter()
                    .map(|&(from, port)| {
                        emitted
                            .get(from)
                            .map_or(0, |e| if port == 1 { e.1 } else { e.0 })
                    })
                    .sum()
            };
            if n.passes
                && let Some(e) = emitted.get_mut(k)
            {
                e.0 = received[k];
            }
        }
        let received = |k: usize| received.get(k).copied().unwrap_or(0);
        if self.on {
            for (k, nm) in self.node.iter_mut().enumerate() {
                let Some(&(main, late)) = emitted.get(k) else {
                    continue;
                };
                let (pm, pl) = nm.published;
                nm.emit.increment(main + late - pm - pl);
                nm.published = (main, late);
            }
            // Receive counts are derived; publish them as absolute values.
            for k in 0..self.node.len() {
                self.node[k].receive.absolute(received(k));
            }
            for (s, (records, bad, seen_r, seen_b)) in sources.iter().zip(&mut self.sources) {
                let st = s.stats();
                records.increment(st.records - *seen_r);
                bad.increment(st.skipped - *seen_b);
                self.dropped_bad.increment(st.skipped - *seen_b);
                (*seen_r, *seen_b) = (st.records, st.skipped);
            }
            for (s, m) in sinks.iter().zip(&mut self.sinks) {
                m.publish(&**s);
            }
        }
        if !all && self.last_gauges.is_some_and(|t| t.elapsed() < GAUGE_EVERY) {
            return;
        }
        self.last_gauges = Some(Instant::now());
        self.gauges(graph, &emitted, &watermarks, &received, sources, sinks);
    }

    fn gauges<G: Graph + ?Sized>(
        &mut self,
        graph: &G,
        emitted: &[(u64, u64)],
        watermarks: &[i64],
        received: &dyn Fn(usize) -> u64,
        sources: &[Box<dyn Source>],
        sinks: &[Box<dyn Sink>],
    ) {
        let now = now_millis();
        let mut late = 0;
        let mut ops: Vec<(String, usize, Option<usize>, u64)> = vec![];
        graph.for_each_operator(&mut |id, op| {
            late += op.late_dropped();
            ops.push((
                id.to_string(),
                op.state_bytes(),
                op.open_windows(),
                op.late_dropped(),
            ));
        });
        if self.on {
            for (k, nm) in self.node.iter().enumerate() {
                if let Some(&w) = watermarks.get(k)
                    && w > MIN_WATERMARK
                    && w < i64::MAX
                {
                    nm.watermark.set(w as f64);
                    nm.lag.set((now - w).max(0) as f64);
                }
            }
            self.dropped_late
                .increment(late.saturating_sub(self.late_seen));
            self.late_seen = self.late_seen.max(late);
            for (id, bytes, open, late) in &ops {
                if id == "__watermarks" {
                    continue;
                }
                let i = match self.per_op.iter().position(|p| &p.0 == id) {
                    Some(i) => i,
                    None => {
                        let l = [("operator", id.clone())];
                        self.per_op.push((
                            id.clone(),
                            gauge!("pulse_state_size", &l),
                            gauge!("pulse_open_windows", &l),
                            counter!("pulse_late_records_total", &l),
                            0,
                        ));
                        self.per_op.len() - 1
                    }
                };
                let p = &mut self.per_op[i];
                p.1.set(*bytes as f64);
                if let Some(n) = open {
                    p.2.set(*n as f64);
                }
                p.3.increment(late.saturating_sub(p.4));
                p.4 = p.4.max(*late);
            }
        }
        if let Some(board) = &self.board {
            let operators = self
                .nodes
                .iter()
                .enumerate()
                .map(|(k, n)| {
                    let wm = watermarks.get(k).copied().filter(|&w| w > MIN_WATERMARK);
                    let held_back_by = (n.inputs.len() > 1)
                        .then(|| {
                            n.inputs
                                .iter()
                                .min_by_key(|(from, _)| watermarks.get(*from).copied())
                                .map(|(from, _)| self.nodes[*from].id.to_string())
                        })
                        .flatten();
                    NodeStatus {
                        id: n.id.to_string(),
                        op: n.op.to_string(),
                        records_in: received(k),
                        records_out: emitted.get(k).map_or(0, |e| e.0 + e.1),
                        watermark: wm,
                        open_windows: ops.iter().find(|o| o.0 == n.id).and_then(|o| o.2),
                        held_back_by,
                    }
                })
                .collect();
            let mut st = board.lock().unwrap_or_else(|p| p.into_inner());
            st.live = true;
            st.uptime_s = self.start.elapsed().as_secs_f64();
            st.records_in = sources.iter().map(|s| s.stats().records).sum();
            st.records_out = sinks.iter().map(|s| s.written()).sum();
            st.operators = operators;
        }
    }

    /// Publishes the records the sinks wrote since the last call (the sink thread of a
    /// parallel run, which has no graph).
    pub(crate) fn sinks_round(&mut self, sinks: &[Box<dyn Sink>]) {
        if !self.on {
            return;
        }
        for (s, m) in sinks.iter().zip(&mut self.sinks) {
            m.publish(&**s);
        }
    }

    /// Marks the run ended on the status board.
    pub(crate) fn finish(&self) {
        if let Some(board) = &self.board {
            board.lock().unwrap_or_else(|p| p.into_inner()).live = false;
        }
    }
}
