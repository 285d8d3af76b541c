use std::collections::BTreeMap;

use super::csv::CSV_ROWS;
use super::jsonl::WRITE_BACK;
use super::*;
use crate::io::SinkSpec;

/// A row serde_json refuses when it holds a key that is not a string.
type Row = BTreeMap<(u8, u8), u8>;

/// 90 KB of lines: more than one of the sink's 64 KiB pieces.
const ROWS: usize = 30_000;

fn rows(bad_at: Option<usize>) -> Vec<(Row, i64)> {
    (0..ROWS)
        .map(|i| {
            let mut row = Row::new();
            if Some(i) == bad_at {
                row.insert((1, 2), 3);
            }
            (row, i as i64)
        })
        .collect()
}

/// Writes `batch` through the sink's thread, or through its encoder as a worker would.
fn write(path: &std::path::Path, mut batch: Vec<(Row, i64)>, encoded: bool) -> (u64, bool) {
    let spec = SinkSpec::new("out", path.to_str().unwrap()).unwrap();
    let mut sink = JsonlSink::<Row>::open(&spec).unwrap();
    let ok = if encoded {
        let mut bytes = Vec::new();
        let (n, r) = sink.encoder().unwrap().encode(&mut batch, &mut bytes);
        sink.write_encoded(&bytes, n).unwrap();
        r.is_ok()
    } else {
        sink.write_batch(&mut batch).is_ok()
    };
    sink.finish().unwrap();
    (sink.written(), ok)
}

#[test]
fn an_encoder_writes_what_the_sink_writes() {
    let dir = tempfile::tempdir().unwrap();
    // A bad row in the first piece, and one in the second.
    for bad_at in [None, Some(0), Some(25_000)] {
        let (direct, encoded) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
        let a = write(&direct, rows(bad_at), false);
        let b = write(&encoded, rows(bad_at), true);
        assert_eq!(a, b, "rows written and success, bad row at {bad_at:?}");
        let good = bad_at.unwrap_or(ROWS);
        assert_eq!(a, (good as u64, bad_at.is_none()));
        let text = std::fs::read_to_string(&direct).unwrap();
        assert_eq!(text, "{}\n".repeat(good), "whole lines before the bad row");
        assert_eq!(std::fs::read_to_string(&encoded).unwrap(), text);
    }
}

/// Encoded pieces past the write-back size: syncing on the way loses and repeats nothing.
#[test]
fn encoded_pieces_past_the_write_back_size_all_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let spec = SinkSpec::new("out", path.to_str().unwrap()).unwrap();
    let mut sink = JsonlSink::<u64>::open(&spec).unwrap();
    let piece = |i: usize| {
        let mut line = format!("{i:08}").into_bytes();
        line.resize((1 << 20) - 1, b' ');
        line.push(b'\n');
        line
    };
    let pieces = WRITE_BACK / (1 << 20) * 2 + 3;
    for i in 0..pieces {
        sink.write_encoded(&piece(i), 1).unwrap();
    }
    sink.finish().unwrap();
    assert_eq!(sink.written(), pieces as u64);
    let text = std::fs::read(&path).unwrap();
    assert_eq!(text.len(), pieces << 20);
    for (i, got) in text.chunks(1 << 20).enumerate() {
        assert!(got == piece(i), "piece {i} in its place");
    }
}

/// A CSV row; one with tags is nested data, which CSV refuses.
#[derive(Serialize)]
struct CsvRow {
    id: u64,
    name: String,
    tags: Option<Vec<u8>>,
}

fn csv_rows(from: u64, n: u64, bad_at: Option<u64>) -> Vec<(CsvRow, i64)> {
    (from..from + n)
        .map(|id| {
            let row = CsvRow {
                id,
                name: format!("n{id}, \"quoted\""),
                tags: (Some(id) == bad_at).then(|| vec![1, 2]),
            };
            (row, 0)
        })
        .collect()
}

/// Written by the sink's thread, or encoded piece by piece on workers, the file is what the
/// `csv` crate makes of the same rows, with one header; a refused row ends the run after
/// the whole records before it.
#[test]
fn csv_pieces_hold_whole_records_under_one_header() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |p: &std::path::Path| SinkSpec::new("out", p.to_str().unwrap()).unwrap();
    for bad_at in [None, Some(0), Some(150)] {
        let good = bad_at.unwrap_or(200);
        let mut want = ::csv::Writer::from_writer(Vec::new());
        for (row, _) in csv_rows(0, good, None) {
            want.serialize(row).unwrap();
        }
        let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
        for encoded in [false, true] {
            let path = dir.path().join(format!("{encoded}.csv"));
            let mut sink = CsvSink::<CsvRow>::open(&spec(&path)).unwrap();
            let encoder = sink.encoder().unwrap();
            let mut failed = 0;
            for mut piece in [csv_rows(0, 100, bad_at), csv_rows(100, 100, bad_at)] {
                let ok = if encoded {
                    let mut bytes = Vec::new();
                    let (n, r) = encoder.encode(&mut piece, &mut bytes);
                    sink.write_encoded(&bytes, n).unwrap();
                    r.is_ok()
                } else {
                    sink.write_batch(&mut piece).is_ok()
                };
                if !ok {
                    // A run stops at a sink's error.
                    failed += 1;
                    break;
                }
            }
            sink.finish().unwrap();
            let case = format!("bad row at {bad_at:?}, encoded: {encoded}");
            assert_eq!(failed, bad_at.is_some() as u32, "{case}");
            assert_eq!(sink.written(), good, "{case}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), want, "{case}");
        }
        assert_eq!(want.matches("id,name,tags").count(), (good > 0) as usize);
    }
}

/// A run that resumes a CSV file after a crash continues it from its checkpointed length
/// without a second header, encoded on workers or not.
#[test]
fn a_resumed_csv_file_keeps_its_one_header() {
    let dir = tempfile::tempdir().unwrap();
    for encoded in [false, true] {
        let path = dir.path().join(format!("r{encoded}.csv"));
        let spec = SinkSpec::new("out", path.to_str().unwrap()).unwrap();
        let write = |sink: &mut CsvSink<CsvRow>, mut rows: Vec<(CsvRow, i64)>| {
            if encoded {
                let mut bytes = Vec::new();
                let (n, r) = sink.encoder().unwrap().encode(&mut rows, &mut bytes);
                r.unwrap();
                sink.write_encoded(&bytes, n).unwrap();
            } else {
                sink.write_batch(&mut rows).unwrap();
            }
        };
        let mut first = CsvSink::<CsvRow>::open(&spec).unwrap();
        write(&mut first, csv_rows(0, 50, None));
        let record = first.pre_commit().unwrap();
        // Written after the checkpoint, then the crash: replayed by the next run.
        write(&mut first, csv_rows(50, 30, None));
        first.pre_commit().unwrap();
        drop(first);
        let mut resumed = spec.clone();
        resumed.resume = Some(record);
        let mut second = CsvSink::<CsvRow>::open(&resumed).unwrap();
        write(&mut second, csv_rows(50, 50, None));
        second.finish().unwrap();
        let mut want = ::csv::Writer::from_writer(Vec::new());
        for (row, _) in csv_rows(0, 100, None) {
            want.serialize(row).unwrap();
        }
        let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            want,
            "encoded: {encoded}"
        );
    }
}

/// A batch larger than one piece of rows: every row once, in order, under one header.
#[test]
fn a_large_csv_batch_is_written_piece_by_piece() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut sink =
        CsvSink::<CsvRow>::open(&SinkSpec::new("out", path.to_str().unwrap()).unwrap()).unwrap();
    let n = CSV_ROWS as u64 * 2 + 7;
    sink.write_batch(&mut csv_rows(0, n, None)).unwrap();
    sink.finish().unwrap();
    let mut want = ::csv::Writer::from_writer(Vec::new());
    for (row, _) in csv_rows(0, n, None) {
        want.serialize(row).unwrap();
    }
    let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
    assert_eq!(sink.written(), n);
    assert!(
        std::fs::read_to_string(&path).unwrap() == want,
        "{n} rows in order"
    );
}
