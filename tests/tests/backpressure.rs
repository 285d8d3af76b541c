//! Bounded queues and the drop mode, under two workers with a sink far slower than the source.

use std::time::Duration;

use pulse::Pipeline;
use pulse::exec::{Endpoints, Launch, RunOptions};
use pulse::io::{MemorySource, Sink, SinkSpec, Source};
use pulse::prelude::*;
use pulse_tests::{Bid, bid, s};

#[pipeline]
fn copy(bids: Stream<Bid>) -> Stream<Bid> {
    bids
}

/// A sink that sleeps before each batch it writes.
struct Slow {
    inner: Box<dyn Sink>,
    delay: Duration,
}

impl Sink for Slow {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn new_batch(&self) -> Box<dyn std::any::Any> {
        self.inner.new_batch()
    }
    fn write_batch(&mut self, batch: &mut dyn std::any::Any) -> pulse::Result<()> {
        std::thread::sleep(self.delay);
        self.inner.write_batch(batch)
    }
    fn finish(&mut self) -> pulse::Result<()> {
        self.inner.finish()
    }
    fn written(&self) -> u64 {
        self.inner.written()
    }
}

fn slow_sink(path: &std::path::Path, delay: Duration) -> Box<dyn Sink> {
    let inner = copy
        .open_sink(0, &SinkSpec::new("output", &s(path)).unwrap())
        .unwrap();
    Box::new(Slow { inner, delay })
}

/// In drop mode, what the sinks could not take in time is dropped and counted: the dropped
/// count is exactly the input minus the output.
#[test]
fn drop_mode_counts_every_record_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let n = 100_000u64;
    let shares = std::sync::Mutex::new(
        (0..2)
            .map(|w| {
                let bids: Vec<Bid> = (0..n / 2).map(|i| bid(w * n + i, i, i as i64)).collect();
                Some(bids.chunks(1024).map(<[Bid]>::to_vec).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>(),
    );
    let open = |w: usize| -> pulse::Result<Vec<Box<dyn Source>>> {
        let share = shares.lock().unwrap()[w].take().expect("opened once");
        Ok(vec![Box::new(MemorySource::new("bids", share))])
    };
    let launch = Launch {
        options: RunOptions {
            workers: 2,
            channel_bound: Some(4096),
            progress: false,
            ..Default::default()
        },
        ..Launch::default()
    };
    let ends = Endpoints {
        sources: &open,
        sinks: vec![slow_sink(&out, Duration::from_millis(5))],
    };
    let summary = launch.run_with(&copy, ends).unwrap();
    let written = summary.outputs[0].1;
    let lines = std::fs::read_to_string(&out).unwrap().lines().count() as u64;
    assert_eq!(lines, written);
    assert!(summary.dropped > 0, "the sink kept up: {summary}");
    assert!(written > 0, "{summary}");
    assert_eq!(summary.dropped, n - written, "{summary}");
    assert!(summary.to_string().contains("results dropped"), "{summary}");
}

const CHILD: &str = "PULSE_BACKPRESSURE_CHILD";

/// The run whose memory the test below measures: a JSON lines file read ahead by two workers
/// into a sink that sleeps 2 ms per batch; prints the peak RSS in kB.
#[test]
fn rss_child() {
    let Ok(input) = std::env::var(CHILD) else {
        return;
    };
    let out = std::path::PathBuf::from(format!("{input}.out.jsonl"));
    let open = |w: usize| -> pulse::Result<Vec<Box<dyn Source>>> {
        let mut spec = pulse::io::SourceSpec::new("bids", input.clone())?;
        spec.split = pulse::io::Split::new(w, 2);
        Ok(vec![copy.open_source(0, &spec)?])
    };
    let launch = Launch {
        options: RunOptions {
            workers: 2,
            progress: false,
            ..Default::default()
        },
        ..Launch::default()
    };
    let ends = Endpoints {
        sources: &open,
        sinks: vec![slow_sink(&out, Duration::from_millis(2))],
    };
    let summary = launch.run_with(&copy, ends).unwrap();
    assert_eq!(
        summary.outputs[0].1,
        summary.inputs.iter().map(|i| i.1.records).sum::<u64>()
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse::<u64>()
        .unwrap();
    println!("peak_rss_kb={hwm} records={}", summary.outputs[0].1);
}

/// The source reads ahead no further than the bounded queues let it: with an input of
/// 1,000,000 bids (45 MB on disk; 32 MB as the `(Bid, timestamp)` results a sink queue would hold), a sink that takes 2 ms per batch
/// and two workers, the process peaks under 32 MB (measured: 16 MB), well under the input held
/// in memory plus the test binary.
#[test]
fn a_slow_sink_holds_the_source_back_and_memory_stays_bounded() {
    if !std::path::Path::new("/proc/self/status").exists() {
        return; // VmHWM is Linux's
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    let mut text = String::with_capacity(48 << 20);
    for i in 0..1_000_000u64 {
        text.push_str(&format!(
            "{{\"auction\":{},\"price\":{},\"t\":{}}}\n",
            i % 1000,
            i % 97,
            i
        ));
    }
    std::fs::write(&input, &text).unwrap();
    drop(text);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "rss_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, &input)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| Some(&l[l.find("peak_rss_kb=")?..]))
        .unwrap_or_else(|| panic!("{stdout}"));
    eprintln!("{line}");
    let (rss, records) = line
        .strip_prefix("peak_rss_kb=")
        .and_then(|l| l.split_once(" records="))
        .unwrap();
    assert_eq!(records, "1000000");
    let rss: u64 = rss.parse().unwrap();
    assert!(rss < 32 * 1024, "peak RSS {rss} kB");
}
