//! Typed Parquet on real files: round trips of every supported type (read back with the arrow
//! reader and with Pulse's source), partition layout, rotation boundaries, codecs, and schema
//! mismatch errors.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use pulse::ArrowField;
use pulse::io::parquet::ParquetSource;
use pulse::io::parquet::{Compression, ParquetOptions, ParquetSink, Partitioning};
use pulse::io::{Sink, SinkSpec, Source, SourceSpec};
use pulse::prelude::*;
use pulse_tests::walk;

#[derive(Record, Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
enum Level {
    Low,
    #[event(rename = "HIGH")]
    High,
}

#[derive(Record, Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Inner {
    x: f32,
    label: Option<String>,
    levels: Vec<Level>,
}

#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Everything {
    flag: bool,
    a: i8,
    b: i16,
    c: i32,
    d: i64,
    e: u8,
    f: u16,
    g: u32,
    h: u64,
    r: f32,
    s: f64,
    name: String,
    maybe: Option<u32>,
    maybe_name: Option<String>,
    tags: Vec<String>,
    nested_lists: Vec<Vec<i64>>,
    optional_items: Vec<Option<u8>>,
    inner: Inner,
    maybe_inner: Option<Inner>,
    inners: Vec<Inner>,
    level: Level,
    maybe_level: Option<Level>,
    when: DateTime<Utc>,
    #[event_time]
    at: Timestamp,
    #[event(skip)]
    #[serde(skip)]
    scratch: u64,
}

fn sample(i: u64) -> Everything {
    let odd = i % 2 == 1;
    Everything {
        flag: odd,
        a: -((i % 100) as i8),
        b: (i % 100) as i16 * -300,
        c: i as i32 * -70_000,
        d: -(i as i64) * 5_000_000_000,
        e: i as u8,
        f: (i % 200) as u16 * 300,
        g: i as u32 * 70_000,
        h: i * 5_000_000_000,
        r: i as f32 / 4.0,
        s: i as f64 / 3.0,
        name: format!("row {i} ✓"),
        maybe: odd.then_some(i as u32),
        maybe_name: (!odd).then(|| format!("n{i}")),
        tags: (0..i % 4).map(|k| format!("t{k}")).collect(),
        nested_lists: vec![vec![i as i64], vec![], vec![1, 2, 3]],
        optional_items: vec![Some(i as u8), None],
        inner: Inner {
            x: 1.5,
            label: odd.then(|| "odd".into()),
            levels: vec![Level::Low, Level::High],
        },
        maybe_inner: odd.then(|| Inner {
            x: -2.0,
            label: None,
            levels: vec![],
        }),
        inners: (0..i % 3)
            .map(|k| Inner {
                x: k as f32,
                label: Some(format!("{k}")),
                levels: vec![Level::High],
            })
            .collect(),
        level: if odd { Level::High } else { Level::Low },
        maybe_level: odd.then_some(Level::Low),
        when: Timestamp::from_millis(1_714_564_800_000 + i as i64).to_datetime(),
        at: Timestamp::from_millis(1_714_564_800_000 + i as i64 * 3_600_000),
        scratch: 0,
    }
}

fn write<T: pulse::Record + ArrowField>(
    dir: &Path,
    opts: ParquetOptions,
    rows: Vec<(T, i64)>,
    batch: usize,
) -> Vec<PathBuf> {
    let mut sink = ParquetSink::<T>::open("test", dir, opts).unwrap();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut b: Vec<(T, i64)> = rows.by_ref().take(batch).collect();
        sink.write_batch(&mut b).unwrap();
    }
    sink.finish().unwrap();
    let mut files = sink.files().to_vec();
    files.sort();
    files
}

fn read_arrow(path: &Path) -> Vec<RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    reader.map(|b| b.unwrap()).collect()
}

fn read_pulse<T: Event + ArrowField>(path: &str) -> pulse::Result<Vec<T>> {
    let spec = SourceSpec {
        name: "in".into(),
        path: path.to_string(),
        format: pulse::io::Format::Parquet,
        on_bad_record: Default::default(),
        split: Default::default(),
        follow: false,
    };
    let mut src = ParquetSource::<T>::open(&spec)?;
    let mut out: Vec<T> = vec![];
    loop {
        let mut batch: Vec<T> = vec![];
        let more = src.read_batch(&mut batch, 7)?;
        assert!(batch.len() <= 7);
        out.append(&mut batch);
        if !more {
            return Ok(out);
        }
    }
}

#[test]
fn every_type_round_trips_through_the_arrow_reader_and_pulse() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Everything> = (0..50).map(sample).collect();
    let opts = ParquetOptions {
        partitioning: Partitioning::None,
        ..Default::default()
    };
    let files = write(
        dir.path(),
        opts,
        rows.iter().map(|r| (r.clone(), r.at.millis())).collect(),
        8,
    );
    assert_eq!(files.len(), 1);

    let batches = read_arrow(&files[0]);
    let schema = batches[0].schema();
    assert_eq!(
        schema.fields(),
        Everything::arrow_schema().fields(),
        "the file carries the derived schema"
    );
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 50);
    let h: Vec<u64> = batches
        .iter()
        .flat_map(|b| {
            b.column_by_name("h")
                .unwrap()
                .as_primitive::<UInt64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(h, (0..50).map(|i| i * 5_000_000_000).collect::<Vec<_>>());
    let maybe = batches[0].column_by_name("maybe").unwrap();
    assert_eq!(
        maybe.null_count(),
        batches[0].num_rows() / 2,
        "None became null"
    );

    let back: Vec<Everything> = read_pulse(&files[0].display().to_string()).unwrap();
    assert_eq!(
        back, rows,
        "every value, null, list, nested struct and enum survives"
    );
}

#[test]
fn date_partitions_and_field_partitions_are_laid_out_and_escaped() {
    #[derive(Record, Clone, Debug, Serialize)]
    struct Hit {
        page: String,
        n: u64,
    }
    let dir = tempfile::tempdir().unwrap();
    let day = 86_400_000;
    let rows = vec![
        (
            Hit {
                page: "/a".into(),
                n: 1,
            },
            0,
        ),
        (
            Hit {
                page: "b=c".into(),
                n: 2,
            },
            day,
        ),
        (
            Hit {
                page: "".into(),
                n: 3,
            },
            day + 5,
        ),
    ];
    let files = write(
        dir.path().join("by_date").as_path(),
        ParquetOptions::default(),
        rows.clone(),
        10,
    );
    let rel: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(
        rel,
        [
            "by_date/dt=1970-01-01/part-00000.parquet",
            "by_date/dt=1970-01-02/part-00001.parquet"
        ]
    );

    let opts = ParquetOptions {
        partitioning: Partitioning::Field("page".into()),
        ..Default::default()
    };
    let files = write(dir.path().join("by_page").as_path(), opts, rows.clone(), 10);
    let mut rel: Vec<String> = files
        .iter()
        .map(|f| {
            f.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    rel.sort();
    assert_eq!(rel, ["page=%2Fa", "page=__EMPTY__", "page=b%3Dc"]);

    let opts = ParquetOptions {
        partitioning: Partitioning::Date("%Y/%m".into()),
        ..Default::default()
    };
    let files = write(dir.path().join("nested").as_path(), opts, rows, 10);
    assert!(
        files[0].ends_with("nested/1970/01/part-00000.parquet"),
        "{files:?}"
    );

    let err = ParquetSink::<Hit>::open(
        "x",
        dir.path(),
        ParquetOptions {
            partitioning: Partitioning::Field("nope".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        err.err().unwrap().to_string(),
        "cannot partition `Hit` by `nope`: no such column; columns are page, n"
    );
}

fn row_counts(files: &[PathBuf]) -> Vec<usize> {
    files
        .iter()
        .map(|f| read_arrow(f).iter().map(|b| b.num_rows()).sum())
        .collect()
}

#[test]
fn rotation_by_rows_is_exact_at_the_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..25u64).map(|i| (sample(i), 0)).collect();
    let opts = ParquetOptions {
        partitioning: Partitioning::None,
        max_rows: 10,
        ..Default::default()
    };
    let files = write(dir.path(), opts, rows, 7);
    assert_eq!(row_counts(&files), [10, 10, 5]);
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..20u64).map(|i| (sample(i), 0)).collect();
    let opts = ParquetOptions {
        partitioning: Partitioning::None,
        max_rows: 10,
        ..Default::default()
    };
    assert_eq!(
        row_counts(&write(dir.path(), opts, rows, 20)),
        [10, 10],
        "exactly max_rows: no empty third file"
    );
}

#[test]
fn rotation_by_bytes_and_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..400u64).map(|i| (sample(i), 0)).collect();
    let opts = ParquetOptions {
        partitioning: Partitioning::None,
        max_bytes: Some(1),
        row_group_size: 50,
        ..Default::default()
    };
    let files = write(dir.path(), opts, rows, 100);
    assert_eq!(
        row_counts(&files),
        [100, 100, 100, 100],
        "past max_bytes after every batch: one file per batch"
    );

    let dir = tempfile::tempdir().unwrap();
    let opts = ParquetOptions {
        partitioning: Partitioning::None,
        max_age: Some(Duration::from_millis(30)),
        ..Default::default()
    };
    let mut sink = ParquetSink::<Everything>::open("age", dir.path(), opts).unwrap();
    sink.write_batch(&mut vec![(sample(1), 0i64)]).unwrap();
    sink.write_batch(&mut vec![(sample(2), 0i64)]).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    sink.write_batch(&mut vec![(sample(3), 0i64)]).unwrap();
    sink.write_batch(&mut vec![(sample(4), 0i64)]).unwrap();
    sink.finish().unwrap();
    assert_eq!(
        row_counts(sink.files()),
        [3, 1],
        "the file open for 40 ms > 30 ms rotates after the batch that found it due"
    );
}

#[test]
fn every_codec_is_written_and_read() {
    for (c, codec) in [
        (Compression::Snappy, parquet::basic::Compression::SNAPPY),
        (
            Compression::Zstd(7),
            parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::try_new(7).unwrap()),
        ),
        (Compression::None, parquet::basic::Compression::UNCOMPRESSED),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<_> = (0..30u64).map(|i| (sample(i), 0)).collect();
        let opts = ParquetOptions {
            partitioning: Partitioning::None,
            compression: c,
            ..Default::default()
        };
        let files = write(dir.path(), opts, rows, 30);
        let reader = SerializedFileReader::new(File::open(&files[0]).unwrap()).unwrap();
        let col = reader.metadata().row_group(0).column(0).compression();
        let want = match codec {
            parquet::basic::Compression::ZSTD(_) => {
                parquet::basic::Compression::ZSTD(Default::default())
            }
            other => other,
        };
        let got = match col {
            parquet::basic::Compression::ZSTD(_) => {
                parquet::basic::Compression::ZSTD(Default::default())
            }
            other => other,
        };
        assert_eq!(got, want, "{c:?}");
        assert_eq!(
            read_pulse::<Everything>(&files[0].display().to_string())
                .unwrap()
                .len(),
            30
        );
    }
}

#[test]
fn in_progress_files_are_hidden_until_finished() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ParquetOptions {
        partitioning: Partitioning::None,
        ..Default::default()
    };
    let mut sink = ParquetSink::<Everything>::open("s", dir.path(), opts).unwrap();
    sink.write_batch(&mut vec![(sample(1), 0i64)]).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [".part-00000.parquet.inprogress"]);
    assert!(
        read_pulse::<Everything>(&dir.path().display().to_string()).is_err(),
        "a reader sees no file yet"
    );
    let pending = sink.pre_commit().unwrap();
    assert_eq!(pending.len(), 1);
    pending[0].commit().unwrap();
    pending[0].commit().unwrap();
    assert_eq!(
        read_pulse::<Everything>(&dir.path().display().to_string())
            .unwrap()
            .len(),
        1
    );
    let again =
        ParquetSink::<Everything>::open("s", dir.path(), ParquetOptions::default()).unwrap();
    drop(again);
    let mut next = ParquetSink::<Everything>::open(
        "s",
        dir.path(),
        ParquetOptions {
            partitioning: Partitioning::None,
            ..Default::default()
        },
    )
    .unwrap();
    next.write_batch(&mut vec![(sample(2), 0i64)]).unwrap();
    next.finish().unwrap();
    assert!(
        next.files()[0].ends_with("part-00001.parquet"),
        "a second run does not overwrite: {:?}",
        next.files()
    );
}

#[test]
fn schema_mismatch_names_the_first_bad_column() {
    #[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
    struct Wrong {
        flag: bool,
        a: i8,
        b: String,
        #[event_time]
        at: Timestamp,
    }
    #[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
    struct Missing {
        flag: bool,
        absent: u32,
        #[event_time]
        at: Timestamp,
    }
    let dir = tempfile::tempdir().unwrap();
    let files = write(
        dir.path(),
        ParquetOptions {
            partitioning: Partitioning::None,
            ..Default::default()
        },
        vec![(sample(1), 0i64)],
        1,
    );
    let path = files[0].display().to_string();
    let err = read_pulse::<Wrong>(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{path}: column `b`: the file has Int16, the type expects Utf8")
    );
    let err = read_pulse::<Missing>(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{path}: column `absent` of `Missing` is missing from the file")
    );
}

#[test]
fn pipeline_writes_parquet_through_the_cli_and_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = dir.path().join("wc");
    let config = dir.path().join("p.toml");
    std::fs::write(&config, format!("[outputs.output]\npath = \"parquet:{}\"\ncompression = \"zstd\"\nzstd_level = 5\npartition_by = \"field:word\"\n", out.display())).unwrap();
    let args = [
        "wc",
        "-q",
        "--no-checkpoints",
        "-i",
        &format!("lines={}", root.join("examples/data/lines.jsonl").display()),
        "-c",
        &config.display().to_string(),
    ];
    pulse::App::new(pulse_examples::words::word_count)
        .run_from(args)
        .unwrap();
    let dirs = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(dirs, 20, "one directory per distinct word");
    let mut total = 0;
    for e in walk(&out) {
        total += read_arrow(&e).iter().map(|b| b.num_rows()).sum::<usize>();
    }
    assert_eq!(total, 29);

    std::fs::write(
        &config,
        "[outputs.output]\npath = \"x.jsonl\"\ncompression = \"gzip\"\n",
    )
    .unwrap();
    let err = pulse::App::new(pulse_examples::words::word_count)
        .run_from(["wc", "-c", &config.display().to_string()])
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("[outputs.output]: compression `gzip` is not compiled into this build; use `snappy`, `zstd` or `none`"), "{err}");
    let _ = SinkSpec::new("x", "parquet:d").unwrap();
}

#[test]
fn pulse_inspect_describes_parquet_output() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ParquetOptions {
        max_rows: 20,
        compression: Compression::Zstd(3),
        ..Default::default()
    };
    write(
        dir.path(),
        opts,
        (0..50u64).map(|i| (sample(i), 0i64)).collect(),
        50,
    );
    let out = pulse::cli::tool::main_from(["pulse", "inspect", &dir.path().display().to_string()])
        .unwrap();
    assert!(out.contains("3 files, 50 rows"), "{out}");
    assert!(out.contains("ZSTD"), "{out}");
    assert!(out.contains("  maybe: UInt32 (nullable)\n"), "{out}");
    assert!(out.contains("  at: Timestamp(ms, \"UTC\")\n"), "{out}");
    let err = pulse::cli::tool::main_from(["pulse", "inspect", "/nonexistent/x"])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "/nonexistent/x: no such file or directory");
}

/// `row_group_size` bounds the rows of each row group of a written file (read from its
/// metadata).
#[test]
fn row_groups_hold_at_most_row_group_size_rows() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..230u64).map(|i| (sample(i), 0)).collect();
    let opts = ParquetOptions {
        partitioning: Partitioning::None,
        row_group_size: 50,
        ..Default::default()
    };
    let files = write(dir.path(), opts, rows, 230);
    assert_eq!(files.len(), 1);
    let reader = SerializedFileReader::new(File::open(&files[0]).unwrap()).unwrap();
    let groups: Vec<i64> = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups, [50, 50, 50, 50, 30]);
}
