//! The canonical Nexmark query from Kafka to Kafka through librdkafka's mock cluster, against
//! the same query from a JSON lines file to a file, in the same run: events/s and CPU per event.
//!
//! ```text
//! cargo bench -p pulse-examples --features kafka --bench kafka                     # 1 M bids
//! cargo bench -p pulse-examples --features kafka --bench kafka -- --events 100000  # smoke (CI)
//! ```
//!
//! The mock cluster runs in this process, so the Kafka rows' CPU includes the broker's (and
//! librdkafka's fetch and produce threads'); a real broker elsewhere would not count against
//! Pulse. Every run goes through the CLI (`pulse::App`), one worker, no checkpoints; the rows'
//! results must be equal (the source merges partitions by event time, so nothing is late that
//! was not late in the file). Stderr shows, for the Kafka → file run, the CPU of the threads
//! still alive at its end (the operator thread and the mock broker's).

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use pulse_examples::nexmark::{DISORDER_MS, Generator, canonical};
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// Partitions of the topics: the mock cluster keeps about 5 MB per partition, so 1 M bids
/// (74 MB) need at least 16.
const PARTITIONS: i32 = 32;

/// CPU seconds this process has used (user + system), from /proc (Linux).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces), from `state`: utime is the 12th.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds per thread name (`/proc/self/task/*/stat`), for where the time went.
fn cpu_by_thread() -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for t in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some((name_end, after))) = (stat.find('('), stat.rsplit_once(')')) else {
            continue;
        };
        let name = stat[open + 1..name_end.len()].to_string();
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // Group librdkafka's threads by kind (`rdk:broker1`, `rdk:main`, ...).
        let kind = name
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_string();
        *out.entry(kind).or_insert(0.0) += (ticks(11) + ticks(12)) / 100.0;
    }
    out
}

/// Wall seconds, CPU seconds and results of one CLI run of `canonical`.
fn run(input: &str, output: &str) -> (f64, f64, u64) {
    let args = [
        "canonical",
        "-q",
        "--no-checkpoints",
        "-i",
        input,
        "-o",
        output,
    ];
    let (t, c) = (Instant::now(), cpu_secs());
    let summary = pulse::App::new(canonical).run_from(args).unwrap();
    eprintln!(
        "{input}: {} read, {} late",
        summary.inputs[0].1.records, summary.late
    );
    (
        t.elapsed().as_secs_f64(),
        cpu_secs() - c,
        summary.outputs[0].1,
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let bids = dir.path().join("bids.jsonl");
    Generator::new(42, DISORDER_MS)
        .write_bids(events, &bids)
        .unwrap();
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("bids", PARTITIONS, 1).unwrap();
    mock.create_topic("results", PARTITIONS, 1).unwrap();
    let brokers = mock.bootstrap_servers();
    produce(&brokers, &bids);

    let out = dir.path().join("out.jsonl");
    let file = run(
        &format!("bids={}", bids.display()),
        &out.display().to_string(),
    );
    let kafka = run(
        &format!(
            "bids=kafka://{brokers}/bids?group=bench&start=earliest&eof=stop&fetch.wait.max.ms=5"
        ),
        &format!("kafka://{brokers}/results?key=key"),
    );
    let before = cpu_by_thread();
    let kafka_in = run(
        &format!(
            "bids=kafka://{brokers}/bids?group=bench2&start=earliest&eof=stop&fetch.wait.max.ms=5"
        ),
        &dir.path().join("out-k.jsonl").display().to_string(),
    );
    let after = cpu_by_thread();
    let spent: Vec<String> = after
        .iter()
        .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .map(|(k, v)| format!("{k} {v:.2} s"))
        .collect();
    eprintln!("Kafka → file, CPU by thread: {}", spent.join(", "));
    println!("canonical query, {events} bids, one worker, mock cluster in process");
    println!("| path | events/s | CPU µs/event | results | CPU vs file |");
    println!("|---|---|---|---|---|");
    for (name, (wall, cpu, n)) in [
        ("JSONL file → file", file),
        ("Kafka → file", kafka_in),
        ("Kafka → Kafka", kafka),
    ] {
        println!(
            "| {name} | {:.2} M/s | {:.3} | {n} | {:.2}× |",
            events as f64 / wall / 1e6,
            cpu * 1e6 / events as f64,
            cpu / file.1.max(1e-9)
        );
    }
}

/// Produces every line of `path` to `bids`, keyed by auction; not measured.
fn produce(brokers: &str, path: &Path) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let r = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    for line in r.lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let key = v["auction"].to_string();
        while p
            .send(BaseRecord::to("bids").payload(&line).key(&key))
            .is_err()
        {
            p.poll(Duration::from_millis(1));
        }
    }
    p.flush(Duration::from_secs(120)).unwrap();
    let mut total = 0;
    for part in 0..PARTITIONS {
        let (lo, hi) = p
            .client()
            .fetch_watermarks("bids", part, Duration::from_secs(10))
            .unwrap();
        assert_eq!(
            lo, 0,
            "the mock cluster dropped the start of partition {part}"
        );
        total += hi - lo;
    }
    eprintln!("produced: {total} messages in `bids`");
    let _ = std::io::stdout().flush();
}
