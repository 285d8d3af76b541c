//! A live run watched over HTTP: a pipeline binary reads a named pipe that the test keeps
//! open, serves `/metrics`, `/healthz` and `/debug/graph` on `--http-port 0`, and stops
//! cleanly on SIGTERM (last windows fired, outputs published, exit 0).
//!
//! The test binary is its own child: `live_child` runs the pipeline when `PULSE_LIVE_CHILD`
//! holds its arguments, and does nothing in a normal test run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pulse::prelude::*;
use pulse_tests::{Bid, http_get, metric_sum, metrics_address, s};

const CHILD: &str = "PULSE_LIVE_CHILD";

#[derive(Record, Debug, Serialize)]
struct Count {
    auction: u64,
    end: Timestamp,
    bids: u64,
}

/// One window's count as an output row.
fn count_row(w: pulse::Window<u64, u64>) -> Count {
    Count {
        auction: w.key,
        end: w.end,
        bids: w.value,
    }
}

#[pipeline]
fn watched(bids: Stream<Bid>) -> Stream<Count> {
    bids.filter(|b| b.price > 0)
        .watermark(BoundedOutOfOrderness::millis(100))
        .key_by(|b| b.auction)
        .window(Tumbling::secs(1))
        .aggregate(Count)
        .map(count_row)
}

/// Bids from two feeds, each with its own watermark, counted per auction and second: the
/// union's watermark is the smaller of the two.
#[pipeline]
fn merged(a: Stream<Bid>, b: Stream<Bid>) -> Stream<Count> {
    let b = b.watermark(BoundedOutOfOrderness::millis(100));
    a.watermark(BoundedOutOfOrderness::millis(100))
        .union(b)
        .key_by(|b| b.auction)
        .window(Tumbling::secs(1))
        .aggregate(Count)
        .map(count_row)
}

#[test]
fn live_child() {
    let Ok(args) = std::env::var(CHILD) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).unwrap();
    pulse::cli::run_all_from((watched, merged), args).unwrap();
}

/// The samples of a Prometheus text exposition: `name{labels}` to value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn value(m: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    m.iter()
        .find(|(k, _)| {
            k.starts_with(&format!("{name}{{"))
                && labels
                    .iter()
                    .all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
}

fn spawn(args: &[String]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "live_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, serde_json::to_string(args).unwrap())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn metrics_are_served_while_a_live_run_goes_and_sigterm_ends_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("bids.jsonl");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = dir.path().join("counts.jsonl");
    let state = dir.path().join("state");
    let mut child = spawn(&[
        "app".into(),
        "watched".into(),
        "-i".into(),
        format!("bids={}", s(&fifo)),
        "-o".into(),
        s(&out),
        "--state-dir".into(),
        s(&state),
        "--checkpoint-interval".into(),
        "100ms".into(),
        "--http-port".into(),
        "0".into(),
    ]);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let addr = metrics_address(&mut err);
    assert!(addr.starts_with("127.0.0.1:"), "bound to loopback: {addr}");
    // Live: the run serves before any record arrives.
    let (status, health) = http_get(&addr, "/healthz");
    assert!(status.contains("200"), "{status}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["pipeline"], "watched");

    // 500 bids on 5 auctions over 5 s of event time, 50 of them priced 0 (filtered out); the
    // pipe stays open.
    let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let (n, zero) = (500u64, 50u64);
    for i in 0..n {
        let price = if i % 10 == 0 { 0 } else { i };
        writeln!(
            pipe,
            r#"{{"auction":{},"price":{price},"t":{}}}"#,
            i % 5,
            i * 10
        )
        .unwrap();
    }
    pipe.flush().unwrap();

    // The counts reach /metrics while the run is live.
    let deadline = Instant::now() + Duration::from_secs(20);
    let m = loop {
        let (status, body) = http_get(&addr, "/metrics");
        assert!(status.contains("200"), "{status}");
        let m = samples(&body);
        if value(&m, "pulse_source_records_total", &[("source", "bids")]) == Some(n as f64) {
            break m;
        }
        assert!(Instant::now() < deadline, "records never counted:\n{body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let op = |id: &str, stage: &str| {
        value(
            &m,
            "pulse_operator_records_total",
            &[("operator", id), ("stage", stage)],
        )
    };
    assert_eq!(op("watched/bids", "emit"), Some(n as f64));
    assert_eq!(op("watched/output/filter", "receive"), Some(n as f64));
    assert_eq!(op("watched/output/filter", "emit"), Some((n - zero) as f64));
    assert_eq!(
        op("watched/output/key_by", "receive"),
        Some((n - zero) as f64)
    );
    assert_eq!(
        op("watched/output/window", "receive"),
        Some((n - zero) as f64)
    );
    // Windows up to the watermark (4.89 s) fired: [0,1) .. [3,4) for 5 auctions.
    let fired = op("watched/output/window", "emit").unwrap();
    assert!(fired >= 20.0, "{fired} windows fired");
    assert_eq!(op("watched/output/map", "receive"), Some(fired));
    assert!(
        value(
            &m,
            "pulse_watermark_ms",
            &[("operator", "watched/output/watermark")]
        )
        .is_some()
    );
    // A histogram with its buckets.
    let buckets = m
        .keys()
        .filter(|k| k.starts_with("pulse_operator_process_latency_ms_bucket{"))
        .count();
    assert!(buckets >= 10, "{buckets} buckets");
    assert!(
        m.keys()
            .any(|k| k.starts_with("pulse_operator_process_latency_ms_count"))
    );

    // /debug/graph: each operator's counts and watermark.
    std::thread::sleep(Duration::from_millis(600));
    let (_, graph) = http_get(&addr, "/debug/graph");
    let graph: serde_json::Value = serde_json::from_str(&graph).unwrap();
    assert_eq!(graph["live"], true);
    let ops = graph["operators"].as_array().unwrap();
    let filter = ops
        .iter()
        .find(|o| o["id"] == "watched/output/filter")
        .unwrap();
    assert_eq!(filter["records_in"], n);
    assert_eq!(filter["records_out"], n - zero);
    let window = ops
        .iter()
        .find(|o| o["id"] == "watched/output/window")
        .unwrap();
    assert!(window["open_windows"].as_u64().unwrap() >= 5);
    let (status, _) = http_get(&addr, "/nothing");
    assert!(status.contains("404"), "{status}");

    // SIGUSR1: each operator's counts, watermark and open windows on stderr.
    let asked = Command::new("kill")
        .args(["-USR1", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(asked.success());
    let (mut status, mut line) = (vec![], String::new());
    loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "no status printed");
        if line.starts_with("status of watched:") {
            status.push(line.clone());
        } else if !status.is_empty() && line.starts_with("  ") {
            status.push(line.clone());
            if line.contains("watched/output/map") {
                break;
            }
        }
    }
    let filter = status
        .iter()
        .find(|l| l.contains("watched/output/filter"))
        .unwrap();
    assert!(
        filter.contains(&format!("in {:>10}", n))
            && filter.contains(&format!("out {:>10}", n - zero)),
        "{filter}"
    );
    let window = status
        .iter()
        .find(|l| l.contains("watched/output/window"))
        .unwrap();
    assert!(
        window.contains("open windows") && window.contains("watermark 1970-01-01T00:00:04"),
        "{window}"
    );

    // SIGTERM: the run ends as if its input had, and says so by exiting 0.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    drop(pipe);
    assert!(status.success(), "exit {status:?}\n{rest}");
    assert!(rest.contains("input  bids: 500 records"), "{rest}");
    // Every window fired at the end, and the output is published.
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 25, "5 windows of 5 auctions");
    let total: u64 = rows.iter().map(|r| r["bids"].as_u64().unwrap()).sum();
    assert_eq!(total, n - zero);
    // Checkpoints were taken while it ran, the last one at the end.
    assert!(rest.contains("checkpoints: "), "{rest}");
}

/// Starts `merged` on a file and a pipe that stays open with no data; returns the child, its
/// stderr and the metrics address.
fn start_merged(
    dir: &std::path::Path,
    idle: Option<&str>,
    workers: usize,
) -> (
    Child,
    BufReader<std::process::ChildStderr>,
    String,
    std::fs::File,
) {
    let file = dir.join("a.jsonl");
    let lines: String = (0..100)
        .map(|i| format!("{{\"auction\":{},\"price\":1,\"t\":{}}}\n", i % 2, i * 30))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let fifo = dir.join("b.jsonl");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut args = vec![
        "app".to_string(),
        "merged".into(),
        "-i".into(),
        format!("a={}", s(&file)),
        "-i".into(),
        format!("b={}", s(&fifo)),
        "-o".into(),
        s(&dir.join("out.jsonl")),
        "--no-checkpoints".into(),
        "--http-port".into(),
        "0".into(),
    ];
    if let Some(t) = idle {
        args.extend(["--idle-timeout".into(), t.into()]);
    }
    args.extend(["--workers".into(), workers.to_string()]);
    let mut child = spawn(&args);
    // The writer keeps the pipe open and sends nothing.
    let pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let addr = metrics_address(&mut err);
    (child, err, addr, pipe)
}

/// Records read from `a` and windows fired, summed over the workers.
fn windows_fired(addr: &str) -> (Option<f64>, Option<f64>) {
    let (_, body) = http_get(addr, "/metrics");
    (
        metric_sum(&body, "pulse_source_records_total", &[("source", "a")]),
        metric_sum(
            &body,
            "pulse_operator_records_total",
            &[("operator", "merged/output/window"), ("stage", "emit")],
        ),
    )
}

/// A second input that is open but silent holds the first one's windows back; with
/// `--idle-timeout` it stops doing so once it has been silent that long, on one worker and on
/// two.
#[test]
fn an_idle_live_input_stops_holding_the_watermark_back_after_the_timeout() {
    for (idle, workers) in [(None, 1), (Some("300ms"), 1), (None, 2), (Some("300ms"), 2)] {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, mut err, addr, pipe) = start_merged(dir.path(), idle, workers);
        let deadline = Instant::now() + Duration::from_secs(20);
        let fired = loop {
            let (read, fired) = windows_fired(&addr);
            if read == Some(100.0) && (idle.is_none() || fired.is_some_and(|f| f > 0.0)) {
                // Without a timeout, give the windows time they would need to fire.
                if idle.is_none() {
                    std::thread::sleep(Duration::from_millis(1500));
                    break windows_fired(&addr).1;
                }
                break fired;
            }
            assert!(
                Instant::now() < deadline,
                "{idle:?}, {workers} workers: never read or fired"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        match idle {
            None => assert_eq!(fired, Some(0.0), "{workers}: held back by the silent pipe"),
            Some(_) => assert_eq!(
                fired,
                Some(6.0),
                "{workers}: 3 s of bids, 2 auctions: [0,1), [1,2) fired, [2,3) at the end"
            ),
        }
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let mut rest = String::new();
        err.read_to_string(&mut rest).unwrap();
        assert!(child.wait().unwrap().success(), "{rest}");
        drop(pipe);
    }
}

fn bid_lines(from: u64, n: u64) -> String {
    (from..from + n)
        .map(|i| {
            let price = if i % 10 == 0 { 0 } else { i };
            format!(
                "{{\"auction\":{},\"price\":{price},\"t\":{}}}\n",
                i % 5,
                i * 10
            )
        })
        .collect()
}

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn wait_for_records(addr: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = http_get(addr, "/metrics");
        let read = value(
            &samples(&body),
            "pulse_source_records_total",
            &[("source", "bids")],
        );
        if read == Some(want as f64) {
            return;
        }
        assert!(Instant::now() < deadline, "read {read:?}, want {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--follow` reads a file as it grows, across a rotation, and across a SIGKILL: the restart
/// resumes at the checkpointed offset of the same file, so every bid is counted once.
#[test]
fn follow_reads_a_growing_rotated_file_exactly_once_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    let out = dir.path().join("counts.jsonl");
    let state = dir.path().join("state");
    std::fs::write(&input, bid_lines(0, 100)).unwrap();
    let args: Vec<String> = vec![
        "app".into(),
        "watched".into(),
        "--follow".into(),
        "-i".into(),
        format!("bids={}", s(&input)),
        "-o".into(),
        s(&out),
        "--state-dir".into(),
        s(&state),
        "--checkpoint-interval".into(),
        "50ms".into(),
        "--http-port".into(),
        "0".into(),
    ];
    let mut child = spawn(&args);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let addr = metrics_address(&mut err);
    wait_for_records(&addr, 100);
    append(&input, &bid_lines(100, 50));
    wait_for_records(&addr, 150);
    // Checkpoints keep coming while it waits; then it is killed.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();

    // While it is down the file grows; then it is rotated: the rest of the old file, then a
    // new one.
    append(&input, &bid_lines(150, 10));
    let mut child = spawn(&args);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let addr = metrics_address(&mut err);
    wait_for_records(&addr, 10);
    append(&input, &bid_lines(160, 20));
    std::fs::rename(&input, dir.path().join("bids.jsonl.1")).unwrap();
    std::fs::write(&input, bid_lines(180, 20)).unwrap();
    wait_for_records(&addr, 50);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    // Every bid counted once: 200 bids, every tenth priced 0 and filtered out.
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let total: u64 = rows.iter().map(|r| r["bids"].as_u64().unwrap()).sum();
    assert_eq!(total, 180, "{rows:?}");
    assert_eq!(rows.len(), 10, "2 s of bids on 5 auctions");
}
