//! Writing typed events to Parquet: Pulse's derived column builders against a JSON path
//! (`serde_json` → `arrow-json` decoder → the same writer), measured in one run.
//!
//! ```text
//! cargo bench -p pulse-examples --bench parquet_write                  # 10 M events
//! cargo bench -p pulse-examples --bench parquet_write -- --rows 200000 # smoke run (CI)
//! ```

use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use pulse::io::Sink;
use pulse::io::parquet::{ParquetOptions, ParquetSink};
use pulse::prelude::*;

use pulse::arrow_schema::{DataType, Field, Schema};

#[derive(Event, Clone, Debug, Serialize, Deserialize)]
struct Bid {
    auction: u64,
    bidder: u64,
    price: u64,
    channel: String,
    url: Option<String>,
    #[event_time]
    date_time: Timestamp,
}

fn bids(n: usize) -> Vec<(Bid, i64)> {
    let channels = ["Google", "Facebook", "Baidu", "Apple"];
    (0..n as u64)
        .map(|i| {
            let t = 1_714_564_800_000 + (i as i64) * 3;
            let b = Bid {
                auction: 1000 + (i * 7919) % 10_000,
                bidder: (i * 104_729) % 100_000,
                price: 100 + (i * 31) % 10_000,
                channel: channels[(i % 4) as usize].to_string(),
                url: (i % 3 == 0)
                    .then(|| format!("https://www.nexmark.com/item.htm?query={}", i % 997)),
                date_time: Timestamp::from_millis(t),
            };
            (b, t)
        })
        .collect()
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dir_bytes(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

const BATCH: usize = 8192;

fn builders_only(events: &[(Bid, i64)]) -> f64 {
    let start = Instant::now();
    let mut b = pulse::columnar::BatchBuilder::<Bid>::with_capacity(BATCH);
    let mut rows = 0;
    for chunk in events.chunks(BATCH) {
        for (x, _) in chunk {
            b.append(x);
        }
        rows += b.finish().num_rows();
    }
    assert_eq!(rows, events.len());
    start.elapsed().as_secs_f64()
}

fn writer_only(events: &[(Bid, i64)], dir: &std::path::Path) -> f64 {
    let mut b = pulse::columnar::BatchBuilder::<Bid>::with_capacity(BATCH);
    let batches: Vec<_> = events
        .chunks(BATCH)
        .map(|c| {
            c.iter().for_each(|(x, _)| b.append(x));
            b.finish()
        })
        .collect();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(128 * 1024))
        .build();
    let start = Instant::now();
    let file = File::create(dir.join("w.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for rb in &batches {
        writer.write(rb).unwrap();
    }
    writer.close().unwrap();
    start.elapsed().as_secs_f64()
}

fn derived(events: &[(Bid, i64)], dir: &std::path::Path) -> f64 {
    // The default layout: partitions by event date (`dt=%Y-%m-%d`), snappy.
    let opts = ParquetOptions {
        max_rows: u64::MAX,
        ..Default::default()
    };
    let start = Instant::now();
    let mut sink = ParquetSink::<Bid>::open("derived", dir, opts).unwrap();
    let mut batch = Vec::with_capacity(BATCH);
    let (mut clone, mut write) = (0.0, 0.0);
    for chunk in events.chunks(BATCH) {
        let t = Instant::now();
        batch.extend(chunk.iter().cloned());
        clone += t.elapsed().as_secs_f64();
        let t = Instant::now();
        sink.write_batch(&mut batch).unwrap();
        write += t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    sink.finish().unwrap();
    if std::env::var_os("PULSE_BENCH_DETAIL").is_some() {
        eprintln!(
            "    clone {clone:.3} s, write_batch {write:.3} s, finish {:.3} s",
            t.elapsed().as_secs_f64()
        );
    }
    start.elapsed().as_secs_f64()
}

fn via_json(events: &[(Bid, i64)], dir: &std::path::Path) -> f64 {
    // arrow-json resolves zone names only with chrono-tz; `+00:00` is the same zone as "UTC".
    let fields: Vec<Field> = Bid::arrow_schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Timestamp(u, Some(_)) => Field::new(
                f.name(),
                DataType::Timestamp(*u, Some("+00:00".into())),
                f.is_nullable(),
            ),
            _ => f.as_ref().clone(),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let start = Instant::now();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(128 * 1024))
        .build();
    let file = File::create(dir.join("part-00000.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    let mut decoder = arrow_json::ReaderBuilder::new(schema)
        .with_batch_size(BATCH)
        .build_decoder()
        .unwrap();
    let mut buf = Vec::with_capacity(BATCH * 200);
    for chunk in events.chunks(BATCH) {
        buf.clear();
        for (b, _) in chunk {
            serde_json::to_writer(&mut buf, b).unwrap();
            buf.push(b'\n');
        }
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let n = decoder.decode(rest).unwrap();
            rest = &rest[n..];
            if let Some(rb) = decoder.flush().unwrap() {
                writer.write(&rb).unwrap();
            }
        }
        if let Some(rb) = decoder.flush().unwrap() {
            writer.write(&rb).unwrap();
        }
    }
    writer.close().unwrap();
    start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .map_or(10_000_000, |v| v.parse().expect("--rows N"));
    let events = bids(rows);
    println!(
        "parquet_write: {rows} typed Bid events, snappy, batches of {BATCH}; peak RSS after generating: {:.0} MB",
        peak_rss_mb()
    );
    let secs = builders_only(&events);
    println!(
        "  {:<24} {:>8.3} s  {:>6.2} M rows/s  (columns built, nothing written)",
        "builders alone",
        secs,
        rows as f64 / secs / 1e6
    );
    let d = tempfile::tempdir().unwrap();
    let secs = writer_only(&events, d.path());
    println!(
        "  {:<24} {:>8.3} s  {:>6.2} M rows/s  (prebuilt batches, writer alone)",
        "parquet writer alone",
        secs,
        rows as f64 / secs / 1e6
    );
    let mut results = vec![];
    for (name, f) in [
        (
            "derived builders",
            derived as fn(&[(Bid, i64)], &std::path::Path) -> f64,
        ),
        ("serde_json + arrow-json", via_json),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let secs = f(&events, dir.path());
        let bytes = dir_bytes(dir.path());
        println!(
            "  {name:<24} {:>8.3} s  {:>6.2} M rows/s  {:>7.1} MB/s  ({:.1} MB written)  peak RSS {:.0} MB",
            secs,
            rows as f64 / secs / 1e6,
            bytes as f64 / secs / 1e6,
            bytes as f64 / 1e6,
            peak_rss_mb()
        );
        results.push(secs);
    }
    println!(
        "  derived builders are {:.1}x faster than the JSON path",
        results[1] / results[0]
    );
}
