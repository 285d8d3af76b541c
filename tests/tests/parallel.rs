//! Parallel runs: every record read by exactly one worker, and the same rows as one worker
//! for windows, chained `key_by`s and joins.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use pulse::exec::{Endpoints, Launch, RunOptions};
use pulse::io::{BadRecordPolicy, FileSource, Format, SinkSpec, Source, SourceSpec, Split};
use pulse::prelude::*;
use pulse::{Pipeline, Result, Window};
use pulse_examples::nexmark::{
    Bid, DISORDER_MS, Generator, NexmarkEvent, canonical, q0, q5, q7, q8,
};

#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Line {
    id: u64,
    pad: String,
    #[event_time(epoch_ms)]
    t: i64,
}

/// Lines of very different lengths, one longer than most stripes below.
fn write_lines(path: &Path, n: u64) {
    let mut f = fs::File::create(path).unwrap();
    for id in 0..n {
        let pad = "x".repeat(((id * 37) % 90) as usize + if id == 77 { 300 } else { 0 });
        writeln!(f, r#"{{"id":{id},"pad":"{pad}","t":{}}}"#, id * 10).unwrap();
    }
}

fn split_source(path: &Path, split: Split, policy: BadRecordPolicy) -> FileSource<Line> {
    let spec = SourceSpec {
        name: "lines".into(),
        path: path.display().to_string(),
        format: Format::Jsonl,
        on_bad_record: policy,
        split,
        follow: false,
    };
    FileSource::<Line>::open(&spec).unwrap()
}

fn read_all(src: &mut FileSource<Line>) -> Result<Vec<u64>> {
    let mut batch = src.new_batch();
    let mut ids = vec![];
    loop {
        let more = src.read_batch(batch.as_mut(), 16)?;
        let b = batch.downcast_mut::<Vec<Line>>().unwrap();
        ids.extend(b.drain(..).map(|l| l.id));
        if !more {
            return Ok(ids);
        }
    }
}

#[test]
fn stripes_give_every_line_to_exactly_one_worker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.jsonl");
    write_lines(&path, 500);
    for workers in 1..=4 {
        for stripe in [1, 7, 64, 333, 4096, 1 << 20] {
            let mut all = vec![];
            for worker in 0..workers {
                let split = Split {
                    worker,
                    workers,
                    stripe,
                };
                let ids = read_all(&mut split_source(&path, split, BadRecordPolicy::Fail)).unwrap();
                assert!(
                    ids.windows(2).all(|w| w[0] < w[1]),
                    "worker {worker} of {workers} reads its stripes in file order (stripe {stripe})"
                );
                all.extend(ids);
            }
            all.sort_unstable();
            assert_eq!(
                all,
                (0..500).collect::<Vec<_>>(),
                "{workers} workers, stripes of {stripe} B"
            );
        }
    }
}

#[test]
fn a_striped_source_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.jsonl");
    write_lines(&path, 500);
    for workers in 2..=3 {
        for stop_after in [1, 3, 7, 40] {
            for worker in 0..workers {
                let split = Split {
                    worker,
                    workers,
                    stripe: 300,
                };
                let whole =
                    read_all(&mut split_source(&path, split, BadRecordPolicy::Fail)).unwrap();
                let mut first = split_source(&path, split, BadRecordPolicy::Fail);
                let mut batch = first.new_batch();
                let mut ids = vec![];
                for _ in 0..stop_after {
                    first.read_batch(batch.as_mut(), 5).unwrap();
                    let b = batch.downcast_mut::<Vec<Line>>().unwrap();
                    ids.extend(b.drain(..).map(|l| l.id));
                }
                let mut resumed = split_source(&path, split, BadRecordPolicy::Fail);
                resumed.seek(&first.position()).unwrap();
                assert_eq!(resumed.progress(), first.progress());
                ids.extend(read_all(&mut resumed).unwrap());
                assert_eq!(
                    ids, whole,
                    "worker {worker} of {workers}, stopped after {stop_after} batches"
                );
            }
        }
    }
}

#[test]
fn a_bad_record_in_a_striped_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.jsonl");
    write_lines(&path, 300);
    let mut text = fs::read_to_string(&path).unwrap();
    let at = text.match_indices('\n').nth(235).unwrap().0 + 1;
    text.insert_str(at, "{\"id\":\"oops\",\"pad\":\"\",\"t\":1}\n");
    fs::write(&path, text).unwrap();
    let mut errors = vec![];
    for worker in 0..3 {
        let split = Split {
            worker,
            workers: 3,
            stripe: 256,
        };
        if let Err(e) = read_all(&mut split_source(&path, split, BadRecordPolicy::Fail)) {
            errors.push(e.to_string());
        }
    }
    assert_eq!(errors.len(), 1, "one worker owns the bad line: {errors:?}");
    assert!(
        errors[0].starts_with(&format!("{}:237: field `id`", path.display())),
        "{}",
        errors[0]
    );
}

#[test]
fn each_worker_dead_letters_into_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.jsonl");
    write_lines(&path, 400);
    let mut text = String::new();
    for (i, line) in fs::read_to_string(&path).unwrap().lines().enumerate() {
        text.push_str(line);
        text.push('\n');
        if i % 50 == 0 {
            text.push_str(&format!("{{\"id\":\"bad{i}\",\"pad\":\"\",\"t\":1}}\n"));
        }
    }
    fs::write(&path, text).unwrap();
    let dead = dir.path().join("bad.jsonl");
    let (mut good, mut skipped) = (0, 0);
    for worker in 0..3 {
        let split = Split {
            worker,
            workers: 3,
            stripe: 512,
        };
        let mut src = split_source(&path, split, BadRecordPolicy::DeadLetter(dead.clone()));
        good += read_all(&mut src).unwrap().len();
        skipped += src.stats().skipped;
    }
    assert_eq!((good, skipped), (400, 8));
    let mut dead_ids = vec![];
    for name in ["bad.jsonl", "bad.worker1.jsonl", "bad.worker2.jsonl"] {
        for line in fs::read_to_string(dir.path().join(name)).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let raw: serde_json::Value = serde_json::from_str(v["raw"].as_str().unwrap()).unwrap();
            dead_ids.push(raw["id"].as_str().unwrap().to_string());
        }
    }
    dead_ids.sort();
    let mut expected: Vec<String> = (0..8).map(|i| format!("bad{}", i * 50)).collect();
    expected.sort();
    assert_eq!(
        dead_ids, expected,
        "every bad record in exactly one worker's file"
    );
}

/// Runs `p` over `inputs` on `workers` threads with stripes of `stripe` bytes; returns the
/// output file's lines, sorted.
fn run_on<P: Pipeline>(
    p: P,
    inputs: &[&Path],
    out: &Path,
    workers: usize,
    stripe: u64,
) -> Vec<String> {
    let sink = p
        .open_sink(
            0,
            &SinkSpec::new("out", &out.display().to_string()).unwrap(),
        )
        .unwrap();
    let open = |w: usize| -> Result<Vec<Box<dyn Source>>> {
        inputs
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let mut spec = SourceSpec::new(P::INPUTS[i].name, path.display().to_string())?;
                spec.split = Split {
                    worker: w,
                    workers,
                    stripe,
                };
                p.open_source(i, &spec)
            })
            .collect()
    };
    let opts = RunOptions {
        batch_size: 100,
        progress: false,
        workers,
        ..RunOptions::default()
    };
    let launch = Launch {
        options: opts,
        ..Launch::default()
    };
    let summary = launch
        .run_with(
            &p,
            Endpoints {
                sources: &open,
                sinks: vec![sink],
            },
        )
        .unwrap();
    assert_eq!(
        summary.late, 0,
        "the input's disorder stays within the bound"
    );
    let mut lines: Vec<String> = fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// A tempdir holding `n` generated bids as JSON lines, with the path of output `out` beside them.
fn bids_and_output(n: usize, out: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bids = dir.path().join("bids.jsonl");
    Generator::new(7, DISORDER_MS).write_bids(n, &bids).unwrap();
    let out = dir.path().join(out);
    (dir, bids, out)
}

#[test]
fn windows_on_several_workers_write_the_rows_of_one() {
    let (_dir, bids, out) = bids_and_output(40_000, "out.jsonl");
    let one = run_on(canonical, &[&bids], &out, 1, Split::STRIPE);
    assert!(one.len() > 1000, "{} windows", one.len());
    for workers in [2, 3] {
        for stripe in [4096, 64 * 1024] {
            assert_eq!(
                run_on(canonical, &[&bids], &out, workers, stripe),
                one,
                "{workers} workers, stripes of {stripe} B"
            );
        }
    }
}

/// CSV output encoded by the workers: one header, the rows of one worker.
#[test]
fn workers_encode_csv_rows_under_one_header() {
    let (_dir, bids, out) = bids_and_output(40_000, "out.csv");
    let one = run_on(q7, &[&bids], &out, 1, Split::STRIPE);
    assert_eq!(one.iter().filter(|l| l.starts_with("key,")).count(), 1);
    assert!(one.len() >= 3, "a header and rows: {one:?}");
    for workers in [2, 3] {
        assert_eq!(
            run_on(q7, &[&bids], &out, workers, 4096),
            one,
            "{workers} workers"
        );
    }
}

#[test]
fn chained_key_bys_exchange_twice_and_end() {
    let (_dir, bids, out) = bids_and_output(40_000, "out.jsonl");
    // q5: key by auction, sliding counts, key by window end, max per end; q7: one key.
    let one = run_on(q5, &[&bids], &out, 1, Split::STRIPE);
    assert!(!one.is_empty());
    assert_eq!(run_on(q5, &[&bids], &out, 2, 8192), one);
    let one = run_on(q7, &[&bids], &out, 1, Split::STRIPE);
    assert_eq!(run_on(q7, &[&bids], &out, 3, 8192), one);
}

#[test]
fn joins_on_several_workers_match_one() {
    let dir = tempfile::tempdir().unwrap();
    let (persons, auctions) = (dir.path().join("p.jsonl"), dir.path().join("a.jsonl"));
    let mut pw = fs::File::create(&persons).unwrap();
    let mut aw = fs::File::create(&auctions).unwrap();
    let mut g = Generator::new(3, DISORDER_MS);
    for _ in 0..200_000 {
        match g.next_event() {
            NexmarkEvent::Person(p) => writeln!(pw, "{}", serde_json::to_string(&p).unwrap()),
            NexmarkEvent::Auction(a) => writeln!(aw, "{}", serde_json::to_string(&a).unwrap()),
            NexmarkEvent::Bid(_) => Ok(()),
        }
        .unwrap();
    }
    let out = dir.path().join("out.jsonl");
    let one = run_on(q8, &[&persons, &auctions], &out, 1, Split::STRIPE);
    assert!(one.len() > 100, "{} matches", one.len());
    assert_eq!(run_on(q8, &[&persons, &auctions], &out, 2, 4096), one);
}

#[test]
fn a_stateless_pipeline_copies_every_record_once() {
    let (_dir, bids, out) = bids_and_output(20_000, "out.jsonl");
    let copied = run_on(q0, &[&bids], &out, 2, 4096);
    let mut input: Vec<String> = fs::read_to_string(&bids)
        .unwrap()
        .lines()
        .map(|l| serde_json::to_string(&serde_json::from_str::<Bid>(l).unwrap()).unwrap())
        .collect();
    input.sort();
    assert_eq!(copied, input);
}

#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Click {
    user: String,
    #[event_time(epoch_ms)]
    t: i64,
}

#[test]
fn parallel_runs_checkpoint_and_deal_out_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeMap::new();
    for f in 0..5 {
        let mut text = String::from("user,t\n");
        for i in 0..40 {
            let user = format!("u{}", (f * 7 + i) % 9);
            text.push_str(&format!("{user},{}\n", i * 100));
            *expected.entry(user).or_insert(0u64) += 1;
        }
        fs::write(dir.path().join(format!("clicks-{f}.csv")), text).unwrap();
    }
    let glob = dir.path().join("clicks-*.csv").display().to_string();
    let out = dir.path().join("counts.jsonl");
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = vec!["counts".into(), "-q".into(), "--workers".into(), "2".into()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend([
            "-i".into(),
            glob.clone(),
            "-o".into(),
            out.display().to_string(),
        ]);
        a
    };
    let state = dir.path().join("st").display().to_string();
    let summary = pulse::App::new(counts)
        .run_from(args(&[
            "--state-dir",
            &state,
            "--checkpoint-interval",
            "1ms",
        ]))
        .unwrap();
    assert!(summary.checkpoints >= 1, "at least the last one");
    let summary = pulse::App::new(counts)
        .run_from(args(&["--no-checkpoints"]))
        .unwrap();
    assert_eq!(summary.workers, 2);
    assert_eq!(summary.inputs[0].1.records, 200, "each file read once");
    let mut got = BTreeMap::new();
    for line in fs::read_to_string(&out).unwrap().lines() {
        let w: serde_json::Value = serde_json::from_str(line).unwrap();
        *got.entry(w["key"].as_str().unwrap().to_string())
            .or_insert(0u64) += w["value"].as_u64().unwrap();
    }
    assert_eq!(got, expected);
}

#[pipeline]
fn counts(clicks: Stream<Click>) -> Stream<Window<String, u64>> {
    clicks
        .watermark(BoundedOutOfOrderness::millis(5000))
        .key_by(|c| c.user.clone())
        .window(Tumbling::secs(1))
        .aggregate(Count)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any input within the watermark bound, any worker count, stripe size and batch size: the
    /// rows of one worker.
    #[test]
    fn any_split_gives_the_rows_of_one_worker(
        bids in proptest::collection::vec((0u64..30, 0u64..1000, 0i64..DISORDER_MS, 0i64..40), 1..400),
        workers in 2usize..5,
        stripe in 16u64..2048,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bids.jsonl");
        let mut f = fs::File::create(&path).unwrap();
        let mut clock = 1_000_000i64;
        for (auction, price, late, step) in bids {
            clock += step * 50;
            // Up to the bound behind the clock, never ahead of it: no element is late.
            let t = clock - late;
            writeln!(f, r#"{{"auction":{auction},"bidder":1,"price":{price},"date_time":{t}}}"#).unwrap();
        }
        drop(f);
        let out = dir.path().join("out.jsonl");
        let one = run_on(canonical, &[&path], &out, 1, Split::STRIPE);
        proptest::prop_assert_eq!(run_on(canonical, &[&path], &out, workers, stripe), one);
    }
}

#[test]
fn a_missing_input_creates_no_output_on_one_worker_or_two() {
    for workers in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let err = pulse::App::new(counts)
            .run_from([
                "counts",
                "-q",
                "--no-checkpoints",
                "--workers",
                workers,
                "-i",
                &dir.path().join("missing.csv").display().to_string(),
                "-o",
                &out.join("counts.jsonl").display().to_string(),
            ])
            .unwrap_err();
        assert!(err.to_string().contains("missing.csv"), "{err}");
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert!(left.is_empty(), "{workers} workers left {left:?}");
    }
}

/// Counts per auction group and second, keeping windows 300 ms past their end; later bids go
/// to `late`.
#[pipeline]
fn late_counts(bids: Stream<Bid>) -> (Stream<Window<u64, u64>>, Stream<Bid>) {
    let windows = bids
        .watermark(BoundedOutOfOrderness::millis(200))
        .key_by(|b| b.auction % 16)
        .window(Tumbling::secs(1))
        .allowed_lateness(std::time::Duration::from_millis(300))
        .aggregate(Count);
    let late = windows.late();
    (windows, late)
}

/// Bids up to 1.5 s late against a bound of 200 ms and 300 ms of lateness: on any number of
/// workers, with or without checkpoints every millisecond, each bid is counted in its window or
/// written as late, never both, never neither, and a window's re-fired counts only grow.
/// (Which bids are late is one worker's too: see `late_elements_give_the_rows_of_one_worker_on_any_split`.)
#[test]
fn late_bids_are_counted_or_written_once_on_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    let bids = Generator::new(11, 1_500).bids(20_000);
    let mut f = fs::File::create(&input).unwrap();
    for b in &bids {
        writeln!(f, "{}", serde_json::to_string(b).unwrap()).unwrap();
    }
    drop(f);
    let window_of = |auction: u64, t: i64| (auction % 16, t - t.rem_euclid(1_000));
    let mut all: BTreeMap<(u64, i64), u64> = BTreeMap::new();
    for b in &bids {
        *all.entry(window_of(b.auction, b.date_time)).or_default() += 1;
    }
    let state = dir.path().join("st");
    for (workers, checkpoints) in [(1, false), (2, false), (3, false), (2, true)] {
        let (out, late) = (dir.path().join("w.jsonl"), dir.path().join("late.jsonl"));
        let mut args = vec![
            "late_counts".to_string(),
            "-q".into(),
            format!("--workers={workers}"),
            "--batch-size=64".into(),
            "-i".into(),
            format!("bids={}", input.display()),
            "-o".into(),
            format!("windows={}", out.display()),
            "-o".into(),
            format!("late={}", late.display()),
        ];
        if checkpoints {
            args.push(format!("--state-dir={}", state.display()));
            args.push("--checkpoint-interval=1ms".into());
        } else {
            args.push("--no-checkpoints".into());
        }
        let summary = pulse::App::new(late_counts).run_from(args).unwrap();
        let mut counted: BTreeMap<(u64, i64), u64> = BTreeMap::new();
        let mut refired = 0;
        for line in fs::read_to_string(&out).unwrap().lines() {
            let w: Window<u64, u64> = serde_json::from_str(line).unwrap();
            let key = (w.key, w.start.millis());
            if let Some(&before) = counted.get(&key) {
                assert!(w.value > before, "{workers} workers: {line} after {before}");
                refired += 1;
            }
            counted.insert(key, w.value);
        }
        let late_bids: Vec<Bid> = fs::read_to_string(&late)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(summary.late, late_bids.len() as u64, "{workers} workers");
        assert!(
            !late_bids.is_empty() && refired > 0,
            "{workers} workers: both paths taken"
        );
        for b in &late_bids {
            *counted
                .entry(window_of(b.auction, b.date_time))
                .or_default() += 1;
        }
        assert_eq!(counted, all, "{workers} workers: each bid counted or late");
        assert_eq!(summary.checkpoints >= 2, checkpoints, "{workers} workers");
    }
}

/// The number of bids `fragile` has seen, and the one it panics at (a crash at a chosen point).
static SEEN: AtomicU64 = AtomicU64::new(0);
static CRASH_AT: AtomicU64 = AtomicU64::new(u64::MAX);

fn crash_point(b: Bid) -> Bid {
    if SEEN.fetch_add(1, Relaxed) + 1 == CRASH_AT.load(Relaxed) {
        panic!("an injected crash");
    }
    b
}

/// `late_counts` without lateness, crashing where `CRASH_AT` says.
#[pipeline]
fn fragile(bids: Stream<Bid>) -> (Stream<Window<u64, u64>>, Stream<Bid>) {
    let windows = bids
        .map(|b| crash_point(b))
        .watermark(BoundedOutOfOrderness::millis(200))
        .key_by(|b| b.auction % 16)
        .window(Tumbling::secs(1))
        .aggregate(Count);
    let late = windows.late();
    (windows, late)
}

/// Two workers over bids up to 1.5 s late against a bound of 200 ms, checkpointing every
/// millisecond, crash half-way and resume: the committed windows and late bids are the
/// uninterrupted two-worker run's. (Each worker judges its bids against the watermark it has
/// published; a resumed worker used to start from the window's, the minimum over workers, and
/// took bids into windows that the uninterrupted run had written as late.)
#[test]
fn a_crash_on_two_workers_changes_no_late_decision() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    let n = 80_000;
    Generator::new(11, 1_500).write_bids(n, &input).unwrap();
    assert!(fs::metadata(&input).unwrap().len() > 4 * Split::STRIPE);
    let run = |name: &str| {
        let (out, late) = (
            dir.path().join(format!("{name}.jsonl")),
            dir.path().join(format!("{name}.late.jsonl")),
        );
        let args = vec![
            "fragile".to_string(),
            "-q".into(),
            "--workers=2".into(),
            "--batch-size=64".into(),
            format!(
                "--state-dir={}",
                dir.path().join(format!("{name}.state")).display()
            ),
            "--checkpoint-interval=1ms".into(),
            "-i".into(),
            format!("bids={}", input.display()),
            "-o".into(),
            format!("windows={}", out.display()),
            "-o".into(),
            format!("late={}", late.display()),
        ];
        let summary = std::panic::catch_unwind(|| pulse::App::new(fragile).run_from(args));
        let sorted = |p: &Path| {
            let mut lines: Vec<String> = fs::read_to_string(p)
                .map(|t| t.lines().map(str::to_string).collect())
                .unwrap_or_default();
            lines.sort();
            lines
        };
        (summary.map(|s| s.unwrap()), sorted(&out), sorted(&late))
    };
    let (whole, windows, late) = run("whole");
    let whole = whole.unwrap();
    assert!(whole.late > 100 && whole.checkpoints > 5, "{whole:?}");

    SEEN.store(0, Relaxed);
    CRASH_AT.store(n as u64 / 2, Relaxed);
    let (crashed, ..) = run("resumed");
    assert!(crashed.is_err(), "the injected crash stops the run");
    CRASH_AT.store(u64::MAX, Relaxed);
    let (resumed, resumed_windows, resumed_late) = run("resumed");
    let resumed = resumed.unwrap();
    assert!(
        resumed.resumed_from.is_some(),
        "the second run resumes a checkpoint: {resumed:?}"
    );
    assert_eq!(resumed_late.len(), late.len(), "late bids");
    assert!(resumed_late == late, "the same bids are late");
    assert_eq!(resumed_windows.len(), windows.len(), "windows");
    assert!(resumed_windows == windows, "the same windows");
}

/// Sessions of each auction group (gap 400 ms, 300 ms of lateness) and tumbling counts without
/// lateness; both with late outputs.
#[pipeline]
fn late_mix(
    bids: Stream<Bid>,
) -> (
    Stream<Window<u64, u64>>,
    Stream<Bid>,
    Stream<Window<u64, u64>>,
    Stream<Bid>,
) {
    let timed = bids.watermark(BoundedOutOfOrderness::millis(200));
    let sessions = timed
        .key_by(|b| b.auction % 8)
        .window(Session::millis(400))
        .allowed_lateness(std::time::Duration::from_millis(300))
        .aggregate(Count);
    let counts = timed
        .key_by(|b| b.auction % 16)
        .window(Tumbling::millis(250))
        .aggregate(Count);
    (sessions, sessions.late(), counts, counts.late())
}

/// Runs `p` over `input` on `workers` workers with stripes of `stripe` bytes and batches of
/// `batch`; returns each output's lines, sorted.
fn run_outputs<P: Pipeline>(
    p: P,
    input: &Path,
    dir: &Path,
    workers: usize,
    stripe: u64,
    batch: usize,
) -> Vec<Vec<String>> {
    let outs: Vec<PathBuf> = (0..P::OUTPUTS.len())
        .map(|j| dir.join(format!("out{j}.jsonl")))
        .collect();
    let sinks = outs
        .iter()
        .enumerate()
        .map(|(j, o)| {
            p.open_sink(
                j,
                &SinkSpec::new(P::OUTPUTS[j].name, &o.display().to_string()).unwrap(),
            )
        })
        .collect::<Result<Vec<_>>>()
        .unwrap();
    let open = |w: usize| -> Result<Vec<Box<dyn Source>>> {
        let mut spec = SourceSpec::new(P::INPUTS[0].name, input.display().to_string())?;
        spec.split = Split {
            worker: w,
            workers,
            stripe,
        };
        Ok(vec![p.open_source(0, &spec)?])
    };
    let opts = RunOptions {
        batch_size: batch,
        progress: false,
        workers,
        ..RunOptions::default()
    };
    let launch = Launch {
        options: opts,
        ..Launch::default()
    };
    launch
        .run_with(
            &p,
            Endpoints {
                sources: &open,
                sinks,
            },
        )
        .unwrap();
    outs.iter()
        .map(|o| {
            let mut lines: Vec<String> = fs::read_to_string(o)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
            lines.sort();
            lines
        })
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    /// Bids up to 1.5 s late against a bound of 200 ms: late decisions, lateness re-firings
    /// and session merges on 2 or 4 workers, with any stripe and batch size, are one worker's.
    #[test]
    fn late_elements_give_the_rows_of_one_worker_on_any_split(
        seed in 0u64..1000,
        n in 200usize..3000,
        workers in proptest::sample::select(vec![2usize, 4]),
        stripe in 64u64..4096,
        batch in proptest::sample::select(vec![1usize, 7, 64, 1000]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("bids.jsonl");
        Generator::new(seed, 1_500).write_bids(n, &input).unwrap();
        let one = run_outputs(late_mix, &input, dir.path(), 1, Split::STRIPE, 1000);
        proptest::prop_assert!(!one[1].is_empty() && !one[3].is_empty(), "some bids are late");
        let many = run_outputs(late_mix, &input, dir.path(), workers, stripe, batch);
        for (j, (a, b)) in one.iter().zip(&many).enumerate() {
            proptest::prop_assert_eq!(a.len(), b.len(), "output {} rows", j);
            proptest::prop_assert!(a == b, "output {} differs", j);
        }
    }
}
