//! `pulse run --config`: TOML pipelines over dynamic records, against hand-computed windows for
//! every window type and aggregate, against the typed pipeline of the same query, with JSON
//! lines, CSV and Parquet (read back with the arrow reader); and every kind of bad file named by
//! key and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMillisecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pulse::prelude::*;
use pulse_tests::{http_get, metric_sum, metrics_address, s, walk};

/// a: (1 s, 1), (4 s, 3), (9 s, 3), (12 s, 7); b: (2 s, 5), (13 s, 5). Epoch-ms times.
const DATA: &str = r#"{"t":1000,"k":"a","v":1}
{"t":2000,"k":"b","v":5}
{"t":4000,"k":"a","v":3}
{"t":9000,"k":"a","v":3}
{"t":12000,"k":"a","v":7}
{"t":13000,"k":"b","v":5}
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A pipeline file over `input` with `window` and `ops` tables, writing JSON lines to `out`.
fn pipeline(dir: &Path, input: &Path, window: &str, ops: &str, out: &Path) -> PathBuf {
    let text = format!(
        "[source]\nkind = \"file\"\npath = \"{}\"\ntime_field = \"t\"\n\n[window]\n{window}\n\n[ops]\n{ops}\n\n[sink]\nkind = \"file\"\npath = \"{}\"\n",
        s(input),
        s(out)
    );
    write(dir, "pipeline.toml", &text)
}

/// Runs the file and returns its rows as (key, start ms, end ms, value as text), sorted.
fn run_rows(window: &str, ops: &str) -> BTreeSet<(String, i64, i64, String)> {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.jsonl", DATA);
    let out = dir.path().join("out.jsonl");
    let p = pipeline(dir.path(), &input, window, ops, &out);
    pulse::cli::run_file(&p, &["--no-checkpoints", "-q"]).unwrap();
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let ms = |f: &str| {
                DateTime::parse_from_rfc3339(v[f].as_str().unwrap())
                    .unwrap()
                    .timestamp_millis()
            };
            (
                v["key"].as_str().unwrap().to_string(),
                ms("window_start"),
                ms("window_end"),
                v["value"].to_string(),
            )
        })
        .collect()
}

fn rows(xs: &[(&str, i64, i64, &str)]) -> BTreeSet<(String, i64, i64, String)> {
    xs.iter()
        .map(|(k, s, e, v)| (k.to_string(), *s, *e, v.to_string()))
        .collect()
}

const TUMBLING: &str = "type = \"tumbling\"\nsize = \"10s\"";

#[test]
fn every_aggregate_on_tumbling_windows() {
    let cases = [
        ("count", ["3", "1", "1", "1"]),
        ("sum", ["7.0", "5.0", "7.0", "5.0"]),
        ("avg", ["2.3333333333333335", "5.0", "7.0", "5.0"]),
        ("min", ["1.0", "5.0", "7.0", "5.0"]),
        ("max", ["3.0", "5.0", "7.0", "5.0"]),
        ("distinct", ["2", "1", "1", "1"]),
    ];
    for (agg, [a0, b0, a1, b1]) in cases {
        let ops = format!("count_by = \"k\"\nagg = \"{agg}\"\nagg_field = \"v\"");
        let want = rows(&[
            ("a", 0, 10_000, a0),
            ("b", 0, 10_000, b0),
            ("a", 10_000, 20_000, a1),
            ("b", 10_000, 20_000, b1),
        ]);
        assert_eq!(run_rows(TUMBLING, &ops), want, "{agg}");
    }
}

#[test]
fn sliding_windows_count_each_element_in_every_window_it_falls_in() {
    let window = "type = \"sliding\"\nsize = \"10s\"\nslide = \"5s\"";
    let want = rows(&[
        ("a", -5_000, 5_000, "2"),
        ("a", 0, 10_000, "3"),
        ("a", 5_000, 15_000, "2"),
        ("a", 10_000, 20_000, "1"),
        ("b", -5_000, 5_000, "1"),
        ("b", 0, 10_000, "1"),
        ("b", 5_000, 15_000, "1"),
        ("b", 10_000, 20_000, "1"),
    ]);
    assert_eq!(run_rows(window, "count_by = \"k\""), want);
}

#[test]
fn session_windows_merge_sessions_that_touch() {
    // a: [1 s, 4 s) and [4 s, 7 s) touch and merge; [9 s, 12 s) and [12 s, 15 s) too.
    let window = "type = \"session\"\ngap = \"3s\"";
    let ops = "count_by = \"k\"\nagg = \"sum\"\nagg_field = \"v\"";
    let want = rows(&[
        ("a", 1_000, 7_000, "4.0"),
        ("a", 9_000, 15_000, "10.0"),
        ("b", 2_000, 5_000, "5.0"),
        ("b", 13_000, 16_000, "5.0"),
    ]);
    assert_eq!(run_rows(window, ops), want);
}

#[test]
fn filters_drop_records_before_the_window() {
    let ops = "count_by = \"k\"\nfilter = [\"v >= 3\", 'k != \"b\"']";
    let want = rows(&[("a", 0, 10_000, "2"), ("a", 10_000, 20_000, "1")]);
    assert_eq!(run_rows(TUMBLING, ops), want);
}

// The typed pipeline of examples/pipeline.toml's query.
#[derive(Event, Clone, Debug, Deserialize)]
struct Reading {
    #[event_time]
    event_time: DateTime<Utc>,
    word: String,
    value: f64,
}

#[derive(Record, Debug, Serialize)]
struct Row {
    key: String,
    window_start: Timestamp,
    window_end: Timestamp,
    value: f64,
}

#[derive(Record, Debug, Serialize)]
struct CountRow {
    key: String,
    window_start: Timestamp,
    window_end: Timestamp,
    value: u64,
}

#[pipeline]
fn typed_sliding_avg(readings: Stream<Reading>) -> Stream<Row> {
    readings
        .watermark(BoundedOutOfOrderness::secs(5))
        .key_by(|r| r.word.clone())
        .window(Sliding::of(
            Duration::from_secs(60),
            Duration::from_secs(15),
        ))
        .allowed_lateness(Duration::from_secs(10))
        .aggregate(pulse::Avg(|r: &Reading| r.value))
        .map(|w| Row {
            key: w.key,
            window_start: w.start,
            window_end: w.end,
            value: w.value,
        })
}

#[pipeline]
fn typed_sessions(readings: Stream<Reading>) -> Stream<CountRow> {
    readings
        .watermark(BoundedOutOfOrderness::secs(5))
        .key_by(|r| r.word.clone())
        .window(Session::with_gap(Duration::from_secs(2)))
        .aggregate(Count)
        .map(|w| CountRow {
            key: w.key,
            window_start: w.start,
            window_end: w.end,
            value: w.value,
        })
}

fn examples_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/sliding_avg.jsonl")
}

/// Runs the typed `p` and the TOML `toml` (on the example data, written to JSON lines) and
/// returns both outputs.
fn typed_and_toml<P: pulse::Pipeline>(p: P, toml: &str, workers: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (typed, dynamic) = (
        dir.path().join("typed.jsonl"),
        dir.path().join("toml.jsonl"),
    );
    let data = examples_data();
    let input = format!("readings={}", s(&data));
    let args = [
        "t",
        "--input",
        &input,
        "--output",
        &s(&typed),
        "--no-checkpoints",
        "-q",
    ];
    pulse::App::new(p).run_from(args).unwrap();
    let text = format!(
        "[source]\nkind = \"file\"\npath = \"{}\"\n\n{toml}\n[sink]\nkind = \"file\"\npath = \"{}\"\n",
        s(&data),
        s(&dynamic)
    );
    let file = write(dir.path(), "p.toml", &text);
    pulse::cli::run_file(&file, &["--no-checkpoints", "-q", "--workers", workers]).unwrap();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    (read(&typed), read(&dynamic))
}

#[test]
fn toml_output_equals_the_typed_pipelines() {
    let sliding = "[time]\nwatermark_bound = \"5s\"\nallowed_lateness = \"10s\"\n[window]\ntype = \"sliding\"\nsize = \"60s\"\nslide = \"15s\"\n[ops]\ncount_by = \"word\"\nagg = \"avg\"\nagg_field = \"value\"\n";
    let (typed, toml) = typed_and_toml(typed_sliding_avg, sliding, "1");
    assert!(typed.lines().count() > 200, "{typed}");
    assert_eq!(toml, typed);
    let sessions = "[time]\nwatermark_bound = \"5s\"\n[window]\ntype = \"session\"\ngap = \"2s\"\n[ops]\ncount_by = \"word\"\n";
    let (typed, toml) = typed_and_toml(typed_sessions, sessions, "1");
    assert!(typed.lines().count() > 100, "{typed}");
    assert_eq!(toml, typed);
    // Two workers: the same rows (their order across keys may differ).
    let (typed, toml) = typed_and_toml(typed_sliding_avg, sliding, "2");
    let sorted = |t: &str| t.lines().map(str::to_string).collect::<BTreeSet<_>>();
    assert_eq!(sorted(&toml), sorted(&typed));
}

#[test]
fn parquet_sink_writes_what_the_jsonl_sink_does() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.jsonl", DATA);
    let out = dir.path().join("pq");
    let text = format!(
        "name = \"pq\"\n[source]\nkind = \"file\"\npath = \"{}\"\ntime_field = \"t\"\n[window]\n{TUMBLING}\n[ops]\ncount_by = \"k\"\nagg = \"avg\"\nagg_field = \"v\"\n[sink]\nkind = \"parquet\"\nout_dir = \"{}\"\ncompression = \"zstd\"\npartition_field = \"key\"\n",
        s(&input),
        s(&out)
    );
    let p = write(dir.path(), "p.toml", &text);
    pulse::cli::run_file(&p, &["--no-checkpoints", "-q"]).unwrap();
    let files = walk(&out);
    let names: BTreeSet<_> = files
        .iter()
        .map(|f| s(f.parent().unwrap().strip_prefix(&out).unwrap()))
        .collect();
    assert_eq!(names, BTreeSet::from(["key=a".into(), "key=b".into()]));
    let mut got = BTreeSet::new();
    for f in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let b = batch.unwrap();
            let key = b.column_by_name("key").unwrap().as_string::<i32>().clone();
            let start = b.column_by_name("window_start").unwrap();
            let start = start.as_primitive::<TimestampMillisecondType>();
            let value = b.column_by_name("value").unwrap();
            let value = value.as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                got.insert((
                    key.value(i).to_string(),
                    start.value(i),
                    value.value(i).to_string(),
                ));
            }
        }
    }
    let want: BTreeSet<_> = [
        ("a", 0, "2.3333333333333335"),
        ("b", 0, "5"),
        ("a", 10_000, "7"),
        ("b", 10_000, "5"),
    ]
    .iter()
    .map(|(k, s, v)| (k.to_string(), *s, v.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn csv_in_csv_out_and_records_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.csv",
        "t,k,v\n1000,a,1\n2000,b,5\n4000,a,3\n12000,a,7\n",
    );
    let out = dir.path().join("out.csv");
    let p = pipeline(
        dir.path(),
        &input,
        TUMBLING,
        "count_by = \"k\"\nagg = \"max\"\nagg_field = \"v\"",
        &out,
    );
    pulse::cli::run_file(&p, &["--no-checkpoints", "-q"]).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: BTreeSet<_> = text.lines().collect();
    assert_eq!(
        lines,
        BTreeSet::from([
            "key,window_start,window_end,value",
            "a,1970-01-01T00:00:00.000Z,1970-01-01T00:00:10.000Z,3.0",
            "b,1970-01-01T00:00:00.000Z,1970-01-01T00:00:10.000Z,5.0",
            "a,1970-01-01T00:00:10.000Z,1970-01-01T00:00:20.000Z,7.0",
        ])
    );
    // Without count_by: filter and select, records out as they came.
    let out = dir.path().join("sel.jsonl");
    let text = format!(
        "[source]\nkind = \"file\"\npath = \"{}\"\ntime_field = \"t\"\n[ops]\nfilter = ['k == \"a\"']\nselect = [\"v\", \"t\"]\n[sink]\nkind = \"file\"\npath = \"{}\"\n",
        s(&input),
        s(&out)
    );
    let p = write(dir.path(), "sel.toml", &text);
    pulse::cli::run_file(&p, &["--no-checkpoints", "-q"]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"t\":1000,\"v\":1}\n{\"t\":4000,\"v\":3}\n{\"t\":12000,\"v\":7}\n"
    );
}

#[test]
fn bad_records_name_file_line_and_field_and_follow_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.jsonl",
        "{\"t\":1000,\"k\":\"a\",\"v\":1}\n{\"k\":\"a\",\"v\":2}\n{\"t\":3000,\"k\":\"a\",\"v\":\"x\"}\n{\"t\":\"soon\",\"k\":\"a\",\"v\":2}\n{\"t\":4000,\"v\":2}\n",
    );
    let out = dir.path().join("out.jsonl");
    let p = pipeline(
        dir.path(),
        &input,
        TUMBLING,
        "count_by = \"k\"\nagg = \"sum\"\nagg_field = \"v\"",
        &out,
    );
    let e = pulse::cli::run_file(&p, &["--no-checkpoints", "-q"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("in.jsonl:2") && e.contains("`t`") && e.contains("event time"),
        "{e}"
    );
    assert!(!out.exists(), "nothing published after a failed run");
    let dead = dir.path().join("bad.jsonl");
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "time_field = \"t\"",
        &format!(
            "time_field = \"t\"\non_bad_record = \"dead-letter\"\ndead_letter = \"{}\"",
            s(&dead)
        ),
    );
    std::fs::write(&p, text).unwrap();
    pulse::cli::run_file(&p, &["--no-checkpoints", "-q"]).unwrap();
    let dead = std::fs::read_to_string(&dead).unwrap();
    let fields: Vec<String> = dead
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["field"].to_string())
        .collect();
    assert_eq!(fields, ["\"t\"", "\"v\"", "\"t\"", "\"k\""], "{dead}");
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("\"value\":1.0")
    );
}

/// Each mistake: (what the file says, text the error must contain).
#[test]
fn bad_files_name_the_key_and_line() {
    let base = "[source]\nkind = \"file\"\npath = \"in.jsonl\"\n[window]\ntype = \"tumbling\"\nsize = \"10s\"\n[ops]\ncount_by = \"k\"\n[sink]\nkind = \"file\"\npath = \"out.jsonl\"\n";
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "size = \"10s\"",
            "size = \"10s\"\ncolour = \"red\"",
            &[":7:", "colour", "unknown field"],
        ),
        (
            "size = \"10s\"",
            "size = 10",
            &[":6:", "[window] size", "invalid type"],
        ),
        (
            "size = \"10s\"",
            "size = \"ten\"",
            &[":6:", "[window] size", "not a duration"],
        ),
        (
            "type = \"tumbling\"",
            "type = \"hopping\"",
            &[":5:", "[window] type", "tumbling, sliding or session"],
        ),
        (
            "type = \"tumbling\"\nsize = \"10s\"",
            "type = \"sliding\"\nsize = \"10s\"",
            &[":4:", "[window] slide", "needs `slide`"],
        ),
        (
            "type = \"tumbling\"\nsize = \"10s\"",
            "type = \"sliding\"\nsize = \"10s\"\nslide = \"20s\"",
            &[":7:", "[window] slide", "longer than the window"],
        ),
        (
            "type = \"tumbling\"\nsize = \"10s\"",
            "type = \"session\"\nsize = \"10s\"",
            &[":6:", "[window] size", "has no `size`"],
        ),
        (
            "count_by = \"k\"",
            "count_by = \"k\"\nagg = \"median\"",
            &[":9:", "[ops] agg", "count, sum, avg, min, max, distinct"],
        ),
        (
            "count_by = \"k\"",
            "count_by = \"k\"\nagg = \"sum\"",
            &[":9:", "[ops] agg_field", "`sum` needs"],
        ),
        (
            "count_by = \"k\"",
            "count_by = \"k\"\nfilter = [\"v ~ 3\"]",
            &[":9:", "[ops] filter", "FIELD OP VALUE"],
        ),
        (
            "kind = \"file\"\npath = \"in.jsonl\"",
            "path = \"in.jsonl\"",
            &[":1:", "missing field `kind`"],
        ),
        (
            "kind = \"file\"\npath = \"out.jsonl\"",
            "kind = \"s3\"\npath = \"out.jsonl\"",
            &[
                ":10:",
                "[sink] kind",
                "expected `file`, `parquet` or `kafka`",
            ],
        ),
        (
            "kind = \"file\"\npath = \"out.jsonl\"",
            "kind = \"file\"\npath = \"out.jsonl\"\ncompression = \"zstd\"",
            &[":10:", "[sink] compression", "Parquet option"],
        ),
        (
            "path = \"in.jsonl\"",
            "path = \"in.txt\"",
            &[":3:", "[source] path", "cannot tell the format"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (from, to, wants) in cases {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let p = write(dir.path(), "bad.toml", &text);
        let e = pulse::cli::run_file(&p, &["-q"]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        let e = e.to_string();
        assert!(e.contains("bad.toml:"), "{e}");
        for w in *wants {
            assert!(e.contains(w), "`{to}`: `{w}` not in: {e}");
        }
    }
    // The other format: a pipeline binary's bindings file says so.
    let p = write(
        dir.path(),
        "bindings.toml",
        "[inputs.bids]\npath = \"bids.jsonl\"\n",
    );
    let e = pulse::cli::run_file(&p, &[]).unwrap_err().to_string();
    assert!(e.contains("bindings file") && e.contains("[source]"), "{e}");
    // And a pipeline file given to a pipeline binary's --config.
    let p = write(dir.path(), "pipeline.toml", base);
    let e = pulse::App::new(typed_sessions)
        .run_from(["t", "--config", &s(&p)])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pulse run --config") && e.contains("[inputs.NAME]"),
        "{e}"
    );
}

const CHILD: &str = "PULSE_TOML_CHILD";

/// The `pulse` command, run by the tests below as a child process.
#[test]
fn pulse_child() {
    let Ok(args) = std::env::var(CHILD) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).unwrap();
    if let Err(e) = pulse::cli::tool::main_from(args) {
        eprintln!("Error: {e}");
        std::process::exit(e.exit_code());
    }
}

fn pulse_command(args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "pulse_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, serde_json::to_string(args).unwrap());
    c
}

#[test]
fn serve_runs_two_pipelines_and_labels_their_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.jsonl", DATA);
    let file = |name: &str, window: &str| {
        let text = format!(
            "name = \"{name}\"\n[source]\nkind = \"file\"\npath = \"{}\"\ntime_field = \"t\"\n[window]\n{window}\n[ops]\ncount_by = \"k\"\n[sink]\nkind = \"file\"\npath = \"{}\"\n[checkpoint]\ndir = \"{}\"\n",
            s(&input),
            s(&dir.path().join(format!("{name}.jsonl"))),
            s(&dir.path().join(format!("state-{name}"))),
        );
        write(dir.path(), &format!("{name}.toml"), &text)
    };
    let (a, b) = (
        file("tumbling", TUMBLING),
        file("sessions", "type = \"session\"\ngap = \"3s\""),
    );
    let mut child = pulse_command(&[
        "pulse",
        "serve",
        "--port",
        "0",
        "--config",
        &s(&a),
        "--config",
        &s(&b),
    ])
    .stderr(std::process::Stdio::piped())
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let addr = metrics_address(&mut err);
    // Both pipelines end (finite input); the metrics stay up.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let health = loop {
        let h: serde_json::Value = serde_json::from_str(&http_get(&addr, "/healthz").1).unwrap();
        if h["live"] == false {
            break h;
        }
        assert!(std::time::Instant::now() < deadline, "{h}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let names: BTreeSet<_> = health["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pipeline"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["tumbling".into(), "sessions".into()])
    );
    let metrics = http_get(&addr, "/metrics").1;
    for (pipeline, rows) in [("tumbling", 4.0), ("sessions", 4.0)] {
        let read = metric_sum(
            &metrics,
            "pulse_source_records_total",
            &[("pipeline", pipeline)],
        );
        assert_eq!(read, Some(6.0), "{pipeline}: {metrics}");
        let written = metric_sum(
            &metrics,
            "pulse_sink_records_total",
            &[("pipeline", pipeline)],
        );
        assert_eq!(written, Some(rows), "{pipeline}: {metrics}");
        let file = dir.path().join(format!("{pipeline}.jsonl"));
        let bytes = metric_sum(
            &metrics,
            "pulse_bytes_written_total",
            &[("pipeline", pipeline)],
        );
        let len = std::fs::metadata(&file).unwrap().len() as f64;
        assert_eq!(bytes, Some(len), "{metrics}");
    }
    let graph: serde_json::Value =
        serde_json::from_str(&http_get(&addr, "/debug/graph").1).unwrap();
    assert_eq!(graph.as_array().map(Vec::len), Some(2), "{graph}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
    for name in ["tumbling", "sessions"] {
        let out = std::fs::read_to_string(dir.path().join(format!("{name}.jsonl"))).unwrap();
        assert_eq!(out.lines().count(), 4, "{name}: {out}");
    }
}

#[test]
fn pulse_run_exits_with_the_errors_code_and_prints_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.toml",
        "[source]\nkind = \"file\"\npath = \"in.jsonl\"\n[sink]\nkind = \"file\"\npath = \"-\"\n[window]\ntype = \"tumbling\"\n",
    );
    let out = pulse_command(&["pulse", "run", "--config", &s(&p)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("p.toml:7: [window]: a window needs a key"),
        "{err}"
    );
}
