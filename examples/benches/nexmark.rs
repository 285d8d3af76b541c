//! Nexmark-style queries: events/s and peak RSS per query, in memory and JSONL end to end, with
//! a hand-written loop for the canonical query measured in the same run.
//!
//! ```text
//! cargo bench -p pulse-examples --bench nexmark                       # 10 M bids
//! cargo bench -p pulse-examples --bench nexmark -- --events 1000000
//! cargo bench -p pulse-examples --bench nexmark -- --events 200000 --runs 1  # smoke run (CI)
//! cargo bench -p pulse-examples --bench nexmark -- --mode jsonl         # one mode: memory | jsonl
//! cargo bench -p pulse-examples --bench nexmark -- --workers 4          # parallel rows [default: 2]
//! ```
//!
//! The canonical query also runs on `--workers` threads (`--workers 1` skips those rows), with
//! its ratio to one worker: in memory the batches are dealt out to the workers in turn, over
//! JSON lines each worker reads its own stripes of the file.
//!
//! In-memory mode pushes pre-generated typed bids through the compiled graph in batches of 4096
//! (framework cost alone); its canonical rows compare with the aHash hand loop both as whole
//! runs and taking turns batch by batch in one loop (the steadier ratio on a noisy machine). JSONL mode runs the pipeline through the CLI: read and decode the
//! file, run the graph, write JSON lines. Peak RSS is the process's high-water mark, reset before
//! each run; in memory mode it includes the pre-generated input (about 32 B per bid).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use pulse::exec::{Endpoints, Launch, RunOptions};
use pulse::io::{MemorySource, Sink, Source};
use pulse::{Graph, Input, Output, Pipeline};
use pulse_examples::nexmark::{
    Auction, Bid, DISORDER_MS, Generator, NexmarkEvent, Person, canonical, q0, q1, q2, q5, q7, q8,
};

const BATCH: usize = 4096;

/// Worker threads of the parallel rows (`--workers N`).
static WORKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(2);

fn workers() -> usize {
    WORKERS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs per measurement (`--runs N`); the best counts, as this machine class is noisy.
static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(3);

/// The best of `RUNS` runs of `f` (which resets the RSS high-water mark after its setup):
/// seconds, results, and the highest peak RSS seen.
fn best(mut f: impl FnMut() -> (f64, usize)) -> (f64, usize, f64) {
    let mut out = (f64::MAX, 0, 0.0f64);
    for _ in 0..RUNS.load(std::sync::atomic::Ordering::Relaxed).max(1) {
        let (secs, n) = f();
        out = (out.0.min(secs), n, out.2.max(peak_rss_mib()));
    }
    out
}

fn reset_peak_rss() {
    // Linux: writing 5 resets the high-water mark to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Runs `f` once per round of `RUNS` with `RUNS` set to 1, keeping each row's best time: the
/// canonical query and its hand-written loops alternate, so a slow spell of a noisy machine
/// does not land on one side of the ratio.
fn alternating<const N: usize>(mut f: impl FnMut() -> [Row; N]) -> [Row; N] {
    use std::sync::atomic::Ordering::Relaxed;
    let runs = RUNS.swap(1, Relaxed).max(1);
    let mut rows = f();
    for _ in 1..runs {
        for (row, new) in rows.iter_mut().zip(f()) {
            row.secs = row.secs.min(new.secs);
            row.rss = row.rss.max(new.rss);
        }
    }
    RUNS.store(runs, Relaxed);
    rows
}

#[derive(Clone, Copy)]
struct Row {
    query: &'static str,
    mode: &'static str,
    events: usize,
    secs: f64,
    rss: f64,
    outputs: usize,
}

/// The label of the parallel canonical rows.
fn parallel_label() -> &'static str {
    match workers() {
        2 => "canonical, 2 workers",
        4 => "canonical, 4 workers",
        _ => "canonical, N workers",
    }
}

fn print(r: &Row, baseline: Option<&Row>) {
    let rate = r.events as f64 / r.secs / 1e6;
    let ratio = baseline.map_or(String::new(), |b| format!("{:.2}×", b.secs / r.secs));
    let rss = if r.rss.is_nan() {
        "—".to_string()
    } else {
        format!("{:.0} MiB", r.rss)
    };
    println!(
        "| {:<23} | {:<9} | {:>7.2} M/s | {:>11} | {:>9} | {:>6} |",
        r.query, r.mode, rate, rss, r.outputs, ratio
    );
}

fn chunks(events: usize) -> Vec<Vec<Bid>> {
    let mut g = Generator::new(42, DISORDER_MS);
    let mut left = events;
    let mut out = vec![];
    while left > 0 {
        let n = left.min(BATCH);
        out.push(g.bids(n));
        left -= n;
    }
    out
}

/// Pushes `chunks` through `p`'s graph; returns the seconds taken and the results emitted.
fn in_memory<P>(p: P, chunks: Vec<Vec<Bid>>) -> (f64, usize)
where
    P: Pipeline + Input<0, Item = Bid> + Output<0>,
    <P as Output<0>>::Item: 'static,
{
    let mut g = p.build();
    let mut out: Vec<(<P as Output<0>>::Item, i64)> = Vec::new();
    let mut results = 0;
    let start = Instant::now();
    for mut chunk in chunks {
        g.push_batch(0, &mut chunk);
        g.drain_output(0, &mut out);
        results += out.len();
        out.clear();
    }
    g.input_watermark(0, i64::MAX);
    g.drain_output(0, &mut out);
    results += out.len();
    (start.elapsed().as_secs_f64(), results)
}

/// Counts results and drops them.
struct CountSink<T> {
    n: u64,
    _t: std::marker::PhantomData<fn(T)>,
}

impl<T: 'static> Sink for CountSink<T> {
    fn name(&self) -> &str {
        "count"
    }
    fn new_batch(&self) -> Box<dyn std::any::Any> {
        Box::new(Vec::<(T, i64)>::new())
    }
    fn write_batch(&mut self, batch: &mut dyn std::any::Any) -> pulse::Result<()> {
        let b = batch.downcast_mut::<Vec<(T, i64)>>().expect("results");
        self.n += b.len() as u64;
        b.clear();
        Ok(())
    }
    fn finish(&mut self) -> pulse::Result<()> {
        Ok(())
    }
    fn written(&self) -> u64 {
        self.n
    }
}

/// Runs `p` on `workers` threads, dealing `chunks` out to them in turn; returns the seconds
/// taken and the results emitted.
fn in_memory_parallel<P>(p: P, chunks: Vec<Vec<Bid>>, workers: usize) -> (f64, usize)
where
    P: Pipeline + Input<0, Item = Bid> + Output<0>,
    <P as Output<0>>::Item: 'static,
{
    let mut shares: Vec<Option<Vec<Vec<Bid>>>> = (0..workers).map(|_| Some(vec![])).collect();
    for (i, c) in chunks.into_iter().enumerate() {
        shares[i % workers].as_mut().expect("not taken yet").push(c);
    }
    let shares = std::sync::Mutex::new(shares);
    let open = |w: usize| -> pulse::Result<Vec<Box<dyn Source>>> {
        let share = shares.lock().unwrap()[w].take().expect("opened once");
        Ok(vec![Box::new(MemorySource::new("bids", share))])
    };
    let sink = CountSink::<<P as Output<0>>::Item> {
        n: 0,
        _t: std::marker::PhantomData,
    };
    let opts = RunOptions {
        batch_size: BATCH,
        progress: false,
        workers,
        ..RunOptions::default()
    };
    let start = Instant::now();
    let launch = Launch {
        options: opts,
        ..Launch::default()
    };
    let ends = Endpoints {
        sources: &open,
        sinks: vec![Box::new(sink)],
    };
    let summary = launch.run_with(&p, ends).unwrap();
    (start.elapsed().as_secs_f64(), summary.outputs[0].1 as usize)
}

/// The canonical query by hand: the same windows, watermark and lateness rules as Pulse's
/// `BoundedOutOfOrderness` + `Tumbling` + `(Count, Sum)`, in one loop over a `HashMap` per window.
/// A fired window's keys are sorted with `sort_unstable`, or with `RADIX` by the same kind of
/// radix sort Pulse uses for integer keys (written out here, so the baseline shares no code with
/// what it measures): that row is the framework's cost with the sort taken out.
struct Hand<S = std::hash::RandomState, const RADIX: bool = false> {
    windows: BTreeMap<i64, HashMap<u64, (u64, u64), S>>,
    max_ts: i64,
    wm: i64,
}

impl<S: std::hash::BuildHasher + Default, const RADIX: bool> Hand<S, RADIX> {
    fn new() -> Self {
        Hand {
            windows: BTreeMap::new(),
            max_ts: i64::MIN,
            wm: i64::MIN,
        }
    }

    #[inline]
    fn push(&mut self, b: &Bid, emit: &mut impl FnMut(u64, i64, u64, u64)) {
        let end = b.date_time - b.date_time.rem_euclid(10_000) + 10_000;
        if end - 1 > self.wm {
            let e = self
                .windows
                .entry(end)
                .or_default()
                .entry(b.auction)
                .or_default();
            e.0 += 1;
            e.1 += b.price;
        }
        if b.date_time > self.max_ts {
            self.max_ts = b.date_time;
            let wm = self.max_ts - DISORDER_MS - 1;
            if wm > self.wm {
                self.wm = wm;
                self.fire(emit);
            }
        }
    }

    fn fire(&mut self, emit: &mut impl FnMut(u64, i64, u64, u64)) {
        while let Some(entry) = self.windows.first_entry() {
            if *entry.key() - 1 > self.wm {
                break;
            }
            let end = *entry.key();
            let mut keys: Vec<_> = entry.remove().into_iter().collect();
            if RADIX {
                for (k, (c, s)) in radix_sorted(&keys) {
                    emit(k, end, c, s);
                }
            } else {
                keys.sort_unstable_by_key(|(k, _)| *k);
                for (k, (c, s)) in keys {
                    emit(k, end, c, s);
                }
            }
        }
    }

    fn finish(&mut self, emit: &mut impl FnMut(u64, i64, u64, u64)) {
        self.wm = i64::MAX;
        self.fire(emit);
    }
}

/// `rows` in key order: a least-significant-byte-first radix sort of (key, index) pairs that
/// skips the bytes all keys share.
fn radix_sorted<V: Copy>(rows: &[(u64, V)]) -> impl Iterator<Item = (u64, V)> + '_ {
    let mut order: Vec<(u64, u32)> = (0..).zip(rows).map(|(i, &(k, _))| (k, i)).collect();
    let mut tmp = vec![(0, 0); order.len()];
    for shift in (0..64).step_by(8) {
        let mut count = [0usize; 257];
        for &(k, _) in &order {
            count[((k >> shift) & 0xff) as usize + 1] += 1;
        }
        if count.contains(&order.len()) {
            continue;
        }
        for b in 1..257 {
            count[b] += count[b - 1];
        }
        for &(k, i) in &order {
            let b = ((k >> shift) & 0xff) as usize;
            tmp[count[b]] = (k, i);
            count[b] += 1;
        }
        std::mem::swap(&mut order, &mut tmp);
    }
    order.into_iter().map(|(_, i)| rows[i as usize])
}

/// Every row the hand loop emits, in order.
fn hand_rows<const RADIX: bool>(chunks: Vec<Vec<Bid>>) -> Vec<(u64, i64, u64, u64)> {
    let mut h = Hand::<ahash::RandomState, RADIX>::new();
    let mut out = Vec::new();
    for b in chunks.iter().flatten() {
        h.push(b, &mut |k, end, c, s| out.push((k, end, c, s)));
    }
    h.finish(&mut |k, end, c, s| out.push((k, end, c, s)));
    out
}

fn hand_in_memory<S: std::hash::BuildHasher + Default, const RADIX: bool>(
    chunks: Vec<Vec<Bid>>,
) -> (f64, usize) {
    let mut h = Hand::<S, RADIX>::new();
    let mut out = Vec::new();
    let mut n = 0;
    let start = Instant::now();
    for chunk in chunks {
        for b in &chunk {
            h.push(b, &mut |k, end, c, s| out.push((k, end, c, s)));
        }
        n += out.len();
        out.clear();
    }
    h.finish(&mut |k, end, c, s| out.push((k, end, c, s)));
    n += out.len();
    (start.elapsed().as_secs_f64(), n)
}

/// The canonical query and the aHash hand loop over the same batches, taking turns batch by
/// batch, so that both see the same machine at the same moments: the ratio of the two sums
/// holds still where whole runs drift by ±15 %. Each batch is copied for Pulse (which consumes
/// it) before either clock starts, so both read it from cache. Returns the seconds and results
/// of each: `[(pulse), (hand)]`.
fn interleaved(chunks: Vec<Vec<Bid>>) -> [(f64, usize); 2] {
    let mut g = canonical.build();
    let mut hand = Hand::<ahash::RandomState>::new();
    let mut out: Vec<(<canonical as Output<0>>::Item, i64)> = Vec::new();
    let mut hand_out = Vec::new();
    let (mut pulse, mut by_hand) = ((0.0, 0), (0.0, 0));
    for chunk in &chunks {
        let mut copy = chunk.clone();
        let start = Instant::now();
        g.push_batch(0, &mut copy);
        g.drain_output(0, &mut out);
        pulse.0 += start.elapsed().as_secs_f64();
        pulse.1 += out.len();
        out.clear();
        let start = Instant::now();
        for b in chunk {
            hand.push(b, &mut |k, end, c, s| hand_out.push((k, end, c, s)));
        }
        by_hand.0 += start.elapsed().as_secs_f64();
        by_hand.1 += hand_out.len();
        hand_out.clear();
    }
    let start = Instant::now();
    g.input_watermark(0, i64::MAX);
    g.drain_output(0, &mut out);
    pulse.0 += start.elapsed().as_secs_f64();
    pulse.1 += out.len();
    let start = Instant::now();
    hand.finish(&mut |k, end, c, s| hand_out.push((k, end, c, s)));
    by_hand.0 += start.elapsed().as_secs_f64();
    by_hand.1 += hand_out.len();
    [pulse, by_hand]
}

/// Deletes the previous run's output before the clock starts: freeing a large file's pages
/// (tens of ms for 160 MB) is not part of the run that replaces it.
fn remove_output(output: &Path) {
    match std::fs::remove_file(output) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{}: {e}", output.display()),
    }
}

/// A canonical result row: key, window start and end (ms), count and volume.
type CanonicalRow = (u64, i64, i64, u64, u64);

/// The hand loop's rows in `path`, sorted.
fn hand_file_rows(path: &Path) -> Vec<CanonicalRow> {
    #[derive(serde::Deserialize)]
    struct Line {
        key: u64,
        start: i64,
        end: i64,
        value: (u64, u64),
    }
    let mut rows: Vec<CanonicalRow> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let r: Line = serde_json::from_str(l).unwrap();
            (r.key, r.start, r.end, r.value.0, r.value.1)
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// The canonical query's rows Pulse wrote to `path`, sorted.
fn pulse_rows(path: &Path) -> Vec<CanonicalRow> {
    let mut rows: Vec<CanonicalRow> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let w: pulse::Window<u64, (u64, u64)> = serde_json::from_str(l).unwrap();
            (
                w.key,
                w.start.millis(),
                w.end.millis(),
                w.value.0,
                w.value.1,
            )
        })
        .collect();
    rows.sort_unstable();
    rows
}

fn hand_jsonl(input: &Path, output: &Path) -> (f64, usize) {
    remove_output(output);
    let start = Instant::now();
    let mut r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(input).unwrap());
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(output).unwrap());
    let mut h = Hand::<std::hash::RandomState>::new();
    let mut n = 0;
    let mut line = String::new();
    let mut emit = |k: u64, end: i64, c: u64, s: u64| {
        n += 1;
        writeln!(
            w,
            "{{\"key\":{k},\"start\":{},\"end\":{end},\"value\":[{c},{s}]}}",
            end - 10_000
        )
        .unwrap();
    };
    while r.read_line(&mut line).unwrap() > 0 {
        let b: Bid = serde_json::from_str(&line).unwrap();
        h.push(&b, &mut emit);
        line.clear();
    }
    h.finish(&mut emit);
    w.flush().unwrap();
    (start.elapsed().as_secs_f64(), n)
}

/// Runs `p` through the CLI over JSON lines; returns seconds and results written.
fn jsonl<P: Pipeline>(
    p: P,
    inputs: &[(&str, &Path)],
    output: &Path,
    workers: usize,
) -> (f64, usize) {
    jsonl_with(p, inputs, output, workers, &[])
}

/// [`jsonl`] with more command-line arguments (`--http-port 0`: metrics on, exporter serving).
fn jsonl_with<P: Pipeline>(
    p: P,
    inputs: &[(&str, &Path)],
    output: &Path,
    workers: usize,
    extra: &[&str],
) -> (f64, usize) {
    let mut args = vec![P::NAME.to_string(), "-q".into(), "--no-checkpoints".into()];
    args.extend(extra.iter().map(|a| a.to_string()));
    args.push(format!("--workers={workers}"));
    for (name, path) in inputs {
        args.push("-i".into());
        args.push(format!("{name}={}", path.display()));
    }
    args.push("-o".into());
    args.push(output.display().to_string());
    remove_output(output);
    let start = Instant::now();
    let summary = pulse::App::new(p).run_from(args).unwrap();
    let secs = start.elapsed().as_secs_f64();
    (secs, summary.outputs[0].1 as usize)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .map_or(10_000_000, |v| v.parse().expect("--events N"));
    if let Some(n) = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
    {
        RUNS.store(
            n.parse().expect("--runs N"),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    if let Some(n) = args
        .iter()
        .position(|a| a == "--workers")
        .and_then(|i| args.get(i + 1))
    {
        WORKERS.store(
            n.parse().expect("--workers N"),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    let mode = args
        .iter()
        .position(|a| a == "--mode")
        .and_then(|i| args.get(i + 1))
        .map_or("all", |s| s.as_str());
    println!(
        "nexmark: {events} bids (plus persons and auctions for q8), disorder ≤ {DISORDER_MS} ms, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| query                   | mode      |   events/s  |  peak RSS   |   results | vs hand |"
    );
    println!("|---|---|---|---|---|---|");

    if mode != "jsonl" {
        memory_mode(events);
    }
    if mode != "memory" {
        jsonl_mode(events);
    }
}

fn memory_mode(events: usize) {
    macro_rules! mem {
        ($name:literal, $q:expr) => {{
            let (secs, outputs, rss) = best(|| {
                let c = chunks(events);
                reset_peak_rss();
                in_memory($q, c)
            });
            Row {
                query: $name,
                mode: "in-memory",
                events,
                secs,
                rss,
                outputs,
            }
        }};
    }
    let [hand, hand_ahash, hand_radix, pulse_canonical] = alternating(|| {
        let hand_row = |query, run: fn(Vec<Vec<Bid>>) -> (f64, usize)| {
            let (secs, outputs, rss) = best(|| {
                let c = chunks(events);
                reset_peak_rss();
                run(c)
            });
            Row {
                query,
                mode: "in-memory",
                events,
                secs,
                rss,
                outputs,
            }
        };
        let hand = hand_row(
            "canonical (hand)",
            hand_in_memory::<std::hash::RandomState, false>,
        );
        let hand_ahash = hand_row(
            "canonical (hand, aHash)",
            hand_in_memory::<ahash::RandomState, false>,
        );
        let hand_radix = hand_row(
            "hand, aHash + radix",
            hand_in_memory::<ahash::RandomState, true>,
        );
        [hand, hand_ahash, hand_radix, mem!("canonical", canonical)]
    });
    print(&hand, None);
    print(&hand_ahash, Some(&hand));
    print(&hand_radix, Some(&hand_ahash));
    print(&pulse_canonical, Some(&hand_ahash));
    let vs_radix = Row {
        query: "canonical vs radix hand",
        ..pulse_canonical
    };
    print(&vs_radix, Some(&hand_radix));
    assert_eq!(
        hand_radix.outputs, hand.outputs,
        "both sorts give every window"
    );
    assert_eq!(
        hand_rows::<true>(chunks(events.min(300_000))),
        hand_rows::<false>(chunks(events.min(300_000))),
        "the radix sort puts rows in the same order"
    );
    assert_eq!(
        pulse_canonical.outputs, hand.outputs,
        "both produce the same windows"
    );
    {
        let mut best = [f64::MAX; 2];
        let mut results = [0; 2];
        for _ in 0..RUNS.load(std::sync::atomic::Ordering::Relaxed).max(1) {
            for (i, (secs, n)) in interleaved(chunks(events)).into_iter().enumerate() {
                best[i] = best[i].min(secs);
                results[i] = n;
            }
        }
        let row = |query, i: usize| Row {
            query,
            mode: "in-memory",
            events,
            secs: best[i],
            rss: f64::NAN,
            outputs: results[i],
        };
        let hand = row("hand aHash, turn-taking", 1);
        print(&hand, None);
        print(&row("canonical, turn-taking", 0), Some(&hand));
        assert_eq!(results[0], results[1], "both produce the same windows");
    }
    if workers() > 1 {
        let (secs, outputs, rss) = best(|| {
            let c = chunks(events);
            reset_peak_rss();
            in_memory_parallel(canonical, c, workers())
        });
        let row = Row {
            query: parallel_label(),
            mode: "in-memory",
            events,
            secs,
            rss,
            outputs,
        };
        print(&row, Some(&pulse_canonical));
        assert_eq!(row.outputs, hand.outputs, "as many windows as one worker");
    }
    for row in [
        mem!("q0", q0),
        mem!("q1", q1),
        mem!("q2", q2),
        mem!("q5", q5),
        mem!("q7", q7),
    ] {
        print(&row, None);
    }
    {
        // q8: persons and auctions of the same generator, pushed as they come.
        let mut g = Generator::new(42, DISORDER_MS);
        let (mut persons, mut auctions) = (vec![], vec![]);
        let mut total = 0;
        while total < events {
            match g.next_event() {
                NexmarkEvent::Person(p) => persons.push(p),
                NexmarkEvent::Auction(a) => auctions.push(a),
                NexmarkEvent::Bid(_) => {}
            }
            total += 1;
        }
        let n = persons.len() + auctions.len();
        reset_peak_rss();
        let mut graph = q8.build();
        let mut out: Vec<((u64, String, u64), i64)> = Vec::new();
        let start = Instant::now();
        let mut pi = persons.chunks(BATCH).map(<[Person]>::to_vec);
        let mut ai = auctions.chunks(BATCH).map(<[Auction]>::to_vec);
        loop {
            let (p, a) = (pi.next(), ai.next());
            if p.is_none() && a.is_none() {
                break;
            }
            if let Some(mut p) = p {
                graph.push_batch(0, &mut p);
            }
            if let Some(mut a) = a {
                graph.push_batch(1, &mut a);
            }
        }
        graph.input_watermark(0, i64::MAX);
        graph.input_watermark(1, i64::MAX);
        graph.drain_output(0, &mut out);
        let secs = start.elapsed().as_secs_f64();
        let row = Row {
            query: "q8 (join)",
            mode: "in-memory",
            events: n,
            secs,
            rss: peak_rss_mib(),
            outputs: out.len(),
        };
        print(&row, None);
        assert!(
            !out.is_empty(),
            "q8 finds sellers who joined in the same window"
        );
    }
}

fn jsonl_mode(events: usize) {
    let dir = tempfile::tempdir().unwrap();
    let bids = dir.path().join("bids.jsonl");
    let bytes = Generator::new(42, DISORDER_MS)
        .write_bids(events, &bids)
        .unwrap();
    let (persons, auctions) = (
        dir.path().join("persons.jsonl"),
        dir.path().join("auctions.jsonl"),
    );
    // Persons and auctions written, counted here so that measuring q8 reads nothing into memory.
    let mut q8_events = 0;
    {
        let mut g = Generator::new(42, DISORDER_MS);
        let mut pw = BufWriter::new(std::fs::File::create(&persons).unwrap());
        let mut aw = BufWriter::new(std::fs::File::create(&auctions).unwrap());
        for _ in 0..events {
            match g.next_event() {
                NexmarkEvent::Person(p) => {
                    serde_json::to_writer(&mut pw, &p).unwrap();
                    pw.write_all(b"\n").unwrap();
                    q8_events += 1;
                }
                NexmarkEvent::Auction(a) => {
                    serde_json::to_writer(&mut aw, &a).unwrap();
                    aw.write_all(b"\n").unwrap();
                    q8_events += 1;
                }
                NexmarkEvent::Bid(_) => {}
            }
        }
    }
    println!(
        "| JSONL input: {:.0} MB of bids ({:.1} B/line) | | | | | |",
        bytes as f64 / 1e6,
        bytes as f64 / events as f64
    );
    let out = dir.path().join("out.jsonl");
    macro_rules! file {
        ($name:literal, $q:expr) => {{
            let (secs, outputs, rss) = best(|| {
                reset_peak_rss();
                jsonl($q, &[("bids", &bids)], &out, 1)
            });
            Row {
                query: $name,
                mode: "JSONL",
                events,
                secs,
                rss,
                outputs,
            }
        }};
    }
    let w = workers().max(1);
    // Each keeps its output, so the rows (not only their number) are compared below.
    let (out_hand, out_parallel) = (
        dir.path().join("out-hand.jsonl"),
        dir.path().join("out-parallel.jsonl"),
    );
    let out_metrics = dir.path().join("out-metrics.jsonl");
    let [hand, pulse_canonical, parallel, metered] = alternating(|| {
        let (secs, outputs, rss) = best(|| {
            reset_peak_rss();
            jsonl_with(
                canonical,
                &[("bids", &bids)],
                &out_metrics,
                1,
                &["--http-port", "0"],
            )
        });
        let metered = Row {
            query: "canonical, /metrics on",
            mode: "JSONL",
            events,
            secs,
            rss,
            outputs,
        };
        let (secs, outputs, rss) = best(|| {
            reset_peak_rss();
            hand_jsonl(&bids, &out_hand)
        });
        let hand = Row {
            query: "canonical (hand)",
            mode: "JSONL",
            events,
            secs,
            rss,
            outputs,
        };
        let (secs, outputs, rss) = if w > 1 {
            best(|| {
                reset_peak_rss();
                jsonl(canonical, &[("bids", &bids)], &out_parallel, w)
            })
        } else {
            (f64::NAN, 0, 0.0)
        };
        let parallel = Row {
            query: parallel_label(),
            mode: "JSONL",
            events,
            secs,
            rss,
            outputs,
        };
        let plain = file!("canonical", canonical);
        [hand, plain, parallel, metered]
    });
    print(&hand, None);
    print(&pulse_canonical, Some(&hand));
    // Metrics and the exporter on against off, in the same run: the ratio is off's speed.
    print(&metered, Some(&pulse_canonical));
    assert_eq!(metered.outputs, hand.outputs, "metrics change no row");
    if w > 1 {
        print(&parallel, Some(&pulse_canonical));
        assert_eq!(
            parallel.outputs, hand.outputs,
            "as many windows as one worker"
        );
    }
    assert_eq!(
        pulse_canonical.outputs, hand.outputs,
        "both write the same windows"
    );
    let want = hand_file_rows(&out_hand);
    assert!(
        pulse_rows(&out) == want,
        "Pulse writes the hand loop's rows"
    );
    if w > 1 {
        assert!(
            pulse_rows(&out_parallel) == want,
            "{w} workers write the hand loop's rows"
        );
    }
    for row in [
        file!("q0", q0),
        file!("q1", q1),
        file!("q2", q2),
        file!("q5", q5),
        file!("q7", q7),
    ] {
        print(&row, None);
    }
    reset_peak_rss();
    let n = q8_events;
    let (secs, outputs) = jsonl(
        q8,
        &[("persons", &persons), ("auctions", &auctions)],
        &out,
        1,
    );
    print(
        &Row {
            query: "q8 (join)",
            mode: "JSONL",
            events: n,
            secs,
            rss: peak_rss_mib(),
            outputs,
        },
        None,
    );
}
