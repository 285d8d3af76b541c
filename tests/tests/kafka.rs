//! Kafka sources and sinks against librdkafka's own in-process mock cluster
//! (`cargo test -p pulse-tests --features kafka --test kafka`): topic → pipeline → file equals
//! the file run; file → pipeline → topic, read back with a consumer; a second run of the same
//! group continues where the first committed.
#![cfg(feature = "kafka")]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use pulse::prelude::*;
use pulse_tests::{Bid, bid, http_get, metric_sum, metrics_address, s};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

#[derive(Record, Debug, Serialize)]
struct Count {
    auction: u64,
    start: Timestamp,
    bids: u64,
}

#[pipeline]
fn counts(bids: Stream<Bid>) -> Stream<Count> {
    // A bound wider than the data: partitions interleave as they arrive, and no bid may be
    // late for it (per-partition watermarks are not built yet).
    bids.watermark(BoundedOutOfOrderness::secs(3600))
        .key_by(|b| b.auction)
        .window(Tumbling::secs(1))
        .aggregate(Count)
        .map(|w| Count {
            auction: w.key,
            start: w.start,
            bids: w.value,
        })
}

fn bids(from: u64, n: u64) -> Vec<Bid> {
    (from..from + n)
        .map(|i| bid(i % 5, i % 97, i as i64 * 10))
        .collect()
}

/// Produces `xs` to `topic`, keyed by auction (so each auction stays in one partition).
fn produce(brokers: &str, topic: &str, xs: &[Bid]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for x in xs {
        let payload = serde_json::to_vec(x).unwrap();
        let key = x.auction.to_string();
        loop {
            match p.send(BaseRecord::to(topic).payload(&payload).key(&key)) {
                Ok(()) => break,
                Err(_) => {
                    p.poll(Duration::from_millis(10));
                }
            }
        }
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn run(args: &[&str]) -> pulse::exec::RunSummary {
    let mut all = vec!["counts", "-q"];
    all.extend_from_slice(args);
    pulse::App::new(counts).run_from(all).unwrap()
}

fn lines(p: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The rows of `counts` over `xs`, from a JSON lines file.
fn from_file(dir: &Path, xs: &[Bid]) -> BTreeSet<String> {
    let input = dir.join("bids.jsonl");
    let text: String = xs
        .iter()
        .map(|x| serde_json::to_string(x).unwrap() + "\n")
        .collect();
    std::fs::write(&input, text).unwrap();
    let out = dir.join("file.jsonl");
    let i = format!("bids={}", s(&input));
    run(&["-i", &i, "-o", &s(&out), "--no-checkpoints"]);
    lines(&out)
}

fn cluster(topics: &[&str]) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let mock = MockCluster::new(1).unwrap();
    for t in topics {
        mock.create_topic(t, 4, 1).unwrap();
    }
    mock
}

#[test]
fn a_topic_runs_through_a_pipeline_like_the_same_file() {
    let mock = cluster(&["bids"]);
    let brokers = mock.bootstrap_servers();
    let xs = bids(0, 2000);
    produce(&brokers, "bids", &xs);
    let dir = tempfile::tempdir().unwrap();
    let want = from_file(dir.path(), &xs);
    let out = dir.path().join("kafka.jsonl");
    let i = format!("bids=kafka://{brokers}/bids?group=g1&start=earliest&eof=stop");
    let summary = run(&["-i", &i, "-o", &s(&out), "--no-checkpoints"]);
    assert_eq!(summary.inputs[0].1.records, 2000);
    assert_eq!(lines(&out), want);
    assert!(want.len() > 50);
    // Two workers: the first is the group's member, the key exchange spreads its bids.
    let i = format!("bids=kafka://{brokers}/bids?group=g1w2&start=earliest&eof=stop");
    let summary = run(&[
        "-i",
        &i,
        "-o",
        &s(&out),
        "--no-checkpoints",
        "--workers",
        "2",
    ]);
    let read: u64 = summary.inputs.iter().map(|i| i.1.records).sum();
    assert_eq!(read, 2000);
    assert_eq!(lines(&out), want);
}

#[test]
fn results_go_to_a_topic_keyed_by_a_field() {
    let mock = cluster(&["counts"]);
    let brokers = mock.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let xs = bids(0, 1000);
    let want = from_file(dir.path(), &xs);
    let input = dir.path().join("bids.jsonl");
    let i = format!("bids={}", s(&input));
    let o = format!("kafka://{brokers}/counts?key=auction");
    let summary = run(&["-i", &i, "-o", &o, "--no-checkpoints"]);
    assert_eq!(summary.outputs[0].1, want.len() as u64);
    let got = consume(&brokers, "counts", want.len());
    let payloads: BTreeSet<String> = got.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(payloads, want);
    let keys_ok = got.iter().all(|(k, p)| {
        let v: serde_json::Value = serde_json::from_str(p).unwrap();
        k.as_deref() == Some(v["auction"].to_string().as_str())
    });
    assert!(keys_ok, "every message is keyed by its auction");
}

#[test]
fn a_second_run_of_the_group_continues_where_the_first_committed() {
    let mock = cluster(&["bids"]);
    let brokers = mock.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    // 10 s of bids, then 10 s more: no window straddles the two.
    let (first, second) = (bids(0, 1000), bids(1000, 1000));
    let all: Vec<Bid> = first.iter().chain(&second).cloned().collect();
    let want = from_file(dir.path(), &all);
    let i = format!("bids=kafka://{brokers}/bids?group=g2&start=earliest&eof=stop");
    let state = dir.path().join("state");
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    produce(&brokers, "bids", &first);
    let one = run(&["-i", &i, "-o", &s(&a), "--state-dir", &s(&state)]);
    assert_eq!(one.inputs[0].1.records, 1000);
    produce(&brokers, "bids", &second);
    let two = run(&["-i", &i, "-o", &s(&b), "--state-dir", &s(&state)]);
    assert_eq!(
        two.inputs[0].1.records, 1000,
        "only what the first run had not read"
    );
    let both: BTreeSet<String> = lines(&a).union(&lines(&b)).cloned().collect();
    assert_eq!(
        lines(&a).len() + lines(&b).len(),
        both.len(),
        "no row twice"
    );
    assert_eq!(both, want);
}

#[test]
fn a_bad_message_names_partition_and_offset() {
    let mock = cluster(&["bids"]);
    let brokers = mock.bootstrap_servers();
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    p.send(
        BaseRecord::to("bids")
            .payload("{\"auction\":1,\"price\":\"x\",\"t\":5}")
            .key("k")
            .partition(2),
    )
    .unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let i = format!("bids=kafka://{brokers}/bids?group=g3&eof=stop");
    let out = dir.path().join("o.jsonl");
    let e = pulse::App::new(counts)
        .run_from(["counts", "-q", "-i", &i, "-o", &s(&out), "--no-checkpoints"])
        .unwrap_err();
    assert_eq!(e.exit_code(), 65);
    let e = e.to_string();
    assert!(
        e.contains("partition 2") && e.contains("offset 0") && e.contains("`price`"),
        "{e}"
    );
}

/// Every message of `topic` (4 partitions) as (key, payload), from the start, until `n` came
/// or 30 s passed.
fn consume(brokers: &str, topic: &str, n: usize) -> BTreeSet<(Option<String>, String)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "reader")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..4 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
            got.insert((m.key().map(text), text(m.payload().unwrap())));
        }
    }
    got
}

/// The seed's `[source] kind = "kafka"` and `[sink] kind = "kafka"` in `pulse run --config`:
/// the same rows as the file pipeline of the same query.
#[test]
fn toml_pipelines_read_and_write_kafka() {
    let mock = cluster(&["readings", "averages"]);
    let brokers = mock.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/sliding_avg.jsonl");
    let text = std::fs::read_to_string(&data).unwrap();
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = v["word"].as_str().unwrap().to_string();
        while p
            .send(BaseRecord::to("readings").payload(line).key(&key))
            .is_err()
        {
            p.poll(Duration::from_millis(10));
        }
    }
    p.flush(Duration::from_secs(30)).unwrap();
    // A bound wider than the data, so partition interleaving makes nothing late.
    let query = "[time]\nwatermark_bound = \"1h\"\n[window]\ntype = \"tumbling\"\nsize = \"60s\"\n[ops]\ncount_by = \"word\"\nagg = \"max\"\nagg_field = \"value\"\n";
    let out = dir.path().join("file.jsonl");
    let file_toml = format!(
        "[source]\nkind = \"file\"\npath = \"{}\"\n{query}[sink]\nkind = \"file\"\npath = \"{}\"\n",
        s(&data),
        s(&out)
    );
    let f = dir.path().join("file.toml");
    std::fs::write(&f, file_toml).unwrap();
    pulse::cli::run_file(&f, &["--no-checkpoints", "-q"]).unwrap();
    let want = lines(&out);
    let kafka_toml = format!(
        "[source]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"readings\"\ngroup = \"toml\"\nstart = \"earliest\"\nstop_at_end = true\n{query}[sink]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"averages\"\nkey = \"key\"\n"
    );
    let k = dir.path().join("kafka.toml");
    std::fs::write(&k, kafka_toml).unwrap();
    let summary = pulse::cli::run_file(&k, &["--no-checkpoints", "-q"]).unwrap();
    assert_eq!(summary.inputs[0].1.records, 3000);
    let got = consume(&brokers, "averages", want.len());
    let payloads: BTreeSet<String> = got.into_iter().map(|(_, p)| p).collect();
    assert_eq!(payloads, want);
}

const CHILD: &str = "PULSE_KAFKA_CHILD";

/// A pipeline process of the test below.
#[test]
fn kafka_child() {
    let Ok(args) = std::env::var(CHILD) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).unwrap();
    pulse::App::new(counts).run_from(args).unwrap();
}

/// A live run is killed (SIGKILL) after a checkpoint that covers everything it read; a run of
/// another group resumes from Pulse's checkpoint (not from the group's offsets): it reads only
/// the new messages, and its windows hold the old ones once, so the rows equal one run over
/// all of them. While the first run waits, its consumer lag is published, per partition.
#[test]
fn a_killed_run_resumes_from_its_checkpoint_with_nothing_lost_or_counted_twice() {
    let mock = cluster(&["bids"]);
    let brokers = mock.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (bids(0, 1000), bids(1000, 1000));
    let all: Vec<Bid> = first.iter().chain(&second).cloned().collect();
    let want = from_file(dir.path(), &all);
    let state = dir.path().join("state");
    produce(&brokers, "bids", &first);
    let args: Vec<String> = [
        "counts",
        "-i",
        &format!("bids=kafka://{brokers}/bids?group=first&start=earliest"),
        "-o",
        &s(&dir.path().join("killed.jsonl")),
        "--state-dir",
        &s(&state),
        "--checkpoint-interval",
        "100ms",
        "--http-port",
        "0",
        "-q",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kafka_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, serde_json::to_string(&args).unwrap())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let addr = metrics_address(&mut err);
    // Everything read, a checkpoint taken after that, and the lag of all four partitions 0.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut checkpoints_at_1000 = None;
    loop {
        let m = http_get(&addr, "/metrics").1;
        let read = metric_sum(&m, "pulse_source_records_total", &[]);
        let cps = metric_sum(&m, "pulse_checkpoints_total", &[]).unwrap_or(0.0);
        let lags = m
            .lines()
            .filter(|l| l.starts_with("pulse_kafka_consumer_lag{"))
            .count();
        if read == Some(1000.0) {
            let at = *checkpoints_at_1000.get_or_insert(cps);
            if cps >= at + 2.0
                && lags == 4
                && metric_sum(&m, "pulse_kafka_consumer_lag", &[]) == Some(0.0)
            {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "read {read:?}, {cps} checkpoints, {lags} lags:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    produce(&brokers, "bids", &second);
    let out = dir.path().join("resumed.jsonl");
    let i = format!("bids=kafka://{brokers}/bids?group=second&start=earliest&eof=stop");
    let summary = run(&["-i", &i, "-o", &s(&out), "--state-dir", &s(&state)]);
    assert!(summary.resumed_from.is_some(), "resumed from a checkpoint");
    assert_eq!(summary.inputs[0].1.records, 1000, "only the new messages");
    assert_eq!(lines(&out), want);
}
