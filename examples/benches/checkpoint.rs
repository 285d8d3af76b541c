//! Checkpoint cost: throughput with checkpoints every second against none, and the time of one
//! checkpoint against the size of the state it writes.
//!
//! ```text
//! cargo bench -p pulse-examples --bench checkpoint                     # 5 M events
//! cargo bench -p pulse-examples --bench checkpoint -- --events 200000  # smoke run (CI)
//! ```

use std::io::{BufWriter, Write};
use std::time::Instant;

use pulse::checkpoint::{Checkpoint, CheckpointStore};
use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[derive(Record, Clone, Debug, Serialize, Deserialize)]
struct Volume {
    auction: u64,
    end: Timestamp,
    bids: u64,
    volume: u64,
}

#[pipeline]
fn volumes(bids: Stream<Bid>) -> Stream<Volume> {
    bids.watermark(BoundedOutOfOrderness::millis(500))
        .key_by(|b| b.auction)
        .window(Tumbling::secs(10))
        .aggregate((Count, Sum(|b: &Bid| b.price)))
        .map(|w| Volume {
            auction: w.key,
            end: w.end,
            bids: w.value.0,
            volume: w.value.1,
        })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: u64 = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .map_or(5_000_000, |v| v.parse().expect("--events N"));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    let mut w = BufWriter::new(std::fs::File::create(&input).unwrap());
    for i in 0..events {
        let t = i as i64 - ((i * 7919) % 300) as i64;
        writeln!(
            w,
            "{{\"auction\":{},\"price\":{},\"t\":{t}}}",
            i % 10_000,
            (i * 104_729) % 1000
        )
        .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    println!("checkpoint: {events} events, 10 k keys, tumbling 10 s count + sum, JSONL in and out");
    let mut rates = vec![];
    for (name, extra) in [
        ("no checkpoints", vec!["--no-checkpoints"]),
        ("checkpoint every 1 s", vec!["--checkpoint-interval", "1s"]),
    ] {
        let out = dir.path().join(format!("{}.jsonl", rates.len()));
        let state = dir.path().join(format!("state{}", rates.len()));
        let mut a = vec![
            "volumes".to_string(),
            "-q".into(),
            "-i".into(),
            input.display().to_string(),
            "-o".into(),
            out.display().to_string(),
            "--state-dir".into(),
            state.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        let start = Instant::now();
        pulse::App::new(volumes).run_from(a).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "  {name:<22} {secs:>7.3} s  {:>6.2} M events/s",
            events as f64 / secs / 1e6
        );
        rates.push(secs);
    }
    println!(
        "  overhead of checkpoints every 1 s: {:+.1} %",
        (rates[1] / rates[0] - 1.0) * 100.0
    );

    println!("one checkpoint (atomic fjall batch, fsync) by state size:");
    let store = CheckpointStore::open(&dir.path().join("sizes")).unwrap();
    for size in [1usize << 10, 1 << 16, 1 << 20, 10 << 20, 100 << 20] {
        let mut state = pulse::Snapshot::new();
        state.insert("volumes/output/window".into(), vec![7u8; size]);
        state.insert("__watermarks".into(), vec![1; 64]);
        let cp = Checkpoint {
            id: 1,
            pipeline: "volumes".into(),
            ..Default::default()
        };
        let runs = 5;
        let start = Instant::now();
        for _ in 0..runs {
            store.write(&cp, &state).unwrap();
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        println!(
            "  {:>9} bytes  {ms:>8.2} ms  ({:.0} MB/s)",
            size,
            size as f64 / ms / 1000.0
        );
    }
}
