//! File I/O through the CLI layer: formats, globs, TOML config, and the bad-record policies.

use std::fs;

use pulse::prelude::*;
use pulse_tests::{Bid, s};

#[pipeline]
fn copy(bids: Stream<Bid>) -> Stream<Bid> {
    bids
}

fn run(args: &[String]) -> pulse::Result<()> {
    let mut all = vec!["copy".to_string(), "-q".into(), "--no-checkpoints".into()];
    all.extend_from_slice(args);
    pulse::App::new(copy).run_from(all).map(drop)
}

const BAD: &str = "{\"auction\":1,\"price\":5,\"t\":10}\n\n{\"auction\":2,\"price\":\"cheap\",\"t\":11}\n{\"auction\":3,\"t\":12}\nnot json\n{\"auction\":4,\"price\":6,\"t\":13}\n";

#[test]
fn fail_policy_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    fs::write(&input, BAD).unwrap();
    let err = run(&[
        "--input".into(),
        s(&input),
        "--output".into(),
        s(&dir.path().join("o.jsonl")),
    ])
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}:3: field `price`: ", input.display())),
        "{msg}"
    );
    assert!(msg.contains("expected u64"), "{msg}");
    assert!(
        !dir.path().join("o.jsonl").exists(),
        "a failed run publishes no output"
    );
}

#[test]
fn skip_policy_counts_and_keeps_good_records() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    fs::write(&input, BAD).unwrap();
    let out = dir.path().join("o.jsonl");
    run(&[
        "--input".into(),
        s(&input),
        "--output".into(),
        s(&out),
        "--on-bad-record".into(),
        "skip".into(),
    ])
    .unwrap();
    let got = fs::read_to_string(&out).unwrap();
    assert_eq!(got.lines().count(), 2, "{got}");
    assert!(got.contains("\"auction\":4"));
}

#[test]
fn dead_letter_policy_writes_raw_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    fs::write(&input, BAD).unwrap();
    let dead = dir.path().join("dead.jsonl");
    let out = dir.path().join("o.jsonl");
    run(&[
        "--input".into(),
        s(&input),
        "--output".into(),
        s(&out),
        "--on-bad-record".into(),
        "dead-letter".into(),
        "--dead-letter".into(),
        s(&dead),
    ])
    .unwrap();
    let letters: Vec<serde_json::Value> = fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 3);
    assert_eq!(letters[0]["line"], 3);
    assert_eq!(letters[0]["field"], "price");
    assert_eq!(
        letters[0]["raw"],
        "{\"auction\":2,\"price\":\"cheap\",\"t\":11}"
    );
    assert!(
        letters[1]["error"]
            .as_str()
            .unwrap()
            .contains("missing field `price`"),
        "{}",
        letters[1]
    );
    assert_eq!(letters[2]["line"], 5);
    assert_eq!(fs::read_to_string(&out).unwrap().lines().count(), 2);
}

#[test]
fn csv_glob_input_and_csv_output() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("a-1.csv"),
        "auction,price,t\n1,5,10\n2,6,11\n",
    )
    .unwrap();
    fs::write(dir.path().join("a-2.csv"), "t,price,auction\n12,7,3\n").unwrap();
    fs::write(dir.path().join("b.csv"), "auction,price,t\n9,9,9\n").unwrap();
    let out = dir.path().join("out/o.csv");
    run(&[
        "--input".into(),
        format!("bids={}/a-*.csv", dir.path().display()),
        "--output".into(),
        s(&out),
    ])
    .unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        "auction,price,t\n1,5,10\n2,6,11\n3,7,12\n"
    );
}

#[test]
fn csv_bad_field_is_named_by_header() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("b.csv");
    fs::write(&input, "auction,price,t\n1,5,10\n2,x,11\n").unwrap();
    let err = run(&[
        "--input".into(),
        s(&input),
        "-o".into(),
        s(&dir.path().join("o.csv")),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(&format!("{}:3: field `price`: ", input.display())),
        "{err}"
    );
}

#[test]
fn toml_config_binds_ports_and_flags_override() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    fs::write(&input, BAD).unwrap();
    let from_config = dir.path().join("config.jsonl");
    let config = dir.path().join("p.toml");
    fs::write(
        &config,
        format!(
            "batch_size = 2\n[inputs.bids]\npath = {:?}\non_bad_record = \"skip\"\n[outputs.bids]\npath = {:?}\n",
            s(&input),
            s(&from_config)
        ),
    )
    .unwrap();
    run(&["--config".into(), s(&config)]).unwrap();
    assert_eq!(fs::read_to_string(&from_config).unwrap().lines().count(), 2);
    let from_flag = dir.path().join("flag.csv");
    run(&[
        "--config".into(),
        s(&config),
        "--output".into(),
        s(&from_flag),
    ])
    .unwrap();
    assert!(
        fs::read_to_string(&from_flag)
            .unwrap()
            .starts_with("auction,price,t\n")
    );
}

#[test]
fn config_and_binding_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("p.toml");
    fs::write(&config, "[inputs.bidz]\npath = \"x.jsonl\"\n").unwrap();
    let err = run(&["--config".into(), s(&config)])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "this pipeline has no input `bidz`; its inputs are: bids"
    );
    fs::write(&config, "[inputs.bids]\npaht = \"x.jsonl\"\n").unwrap();
    let err = run(&["--config".into(), s(&config)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `paht`"), "{err}");
    let err = run(&[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "input `bids` (Bid) is not bound; pass `--input bids=PATH`"
    );
    let err = run(&["--input".into(), "bids=nope/*.jsonl".into()])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "no file matches `nope/*.jsonl`");
    let err = run(&["--input".into(), "bids.txt".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot tell the format of `bids.txt`"),
        "{err}"
    );
}

#[test]
fn explain_plan_does_not_need_bindings() {
    let plan = pulse::App::new(copy)
        .plan(["copy", "--explain", "mermaid", "--input", "x.jsonl"])
        .unwrap();
    assert_eq!(plan.explain.as_deref(), Some("mermaid"));
    assert_eq!(
        plan.launch.sinks[0].target,
        pulse::io::SinkTarget::Stdout,
        "unbound outputs default to stdout"
    );
}

#[test]
fn inputs_are_read_furthest_behind_first_and_resume_in_the_same_order() {
    use pulse::io::{FileSource, Source, SourceSpec};
    let dir = tempfile::tempdir().unwrap();
    // The same 9 s of event time: 300 records in one file, 3000 in the other.
    let write = |name: &str, n: i64, step: i64| {
        let path = dir.path().join(name);
        let text: String = (0..n)
            .map(|i| format!("{{\"auction\":{i},\"price\":1,\"t\":{}}}\n", i * step))
            .collect();
        fs::write(&path, text).unwrap();
        SourceSpec::new(name, s(&path)).unwrap()
    };
    let specs = [
        write("sparse.jsonl", 300, 30),
        write("dense.jsonl", 3000, 3),
    ];
    let mut sources: Vec<Box<dyn Source>> = specs
        .iter()
        .map(|spec| Box::new(FileSource::<Bid>::open(spec).unwrap()) as Box<dyn Source>)
        .collect();
    let mut batches: Vec<_> = sources.iter().map(|s| s.new_batch()).collect();
    let mut live = vec![true, true];
    let mut order = vec![];
    let (mut rounds, mut widest, mut saved) = (0, 0, None);
    while live.iter().any(|&l| l) {
        pulse::exec::to_read(&sources, &live, &mut order);
        assert_eq!(
            order.len(),
            1,
            "one input per round while both know their progress"
        );
        let port = order[0];
        live[port] = sources[port]
            .read_batch(batches[port].as_mut(), 10)
            .unwrap();
        batches[port].downcast_mut::<Vec<Bid>>().unwrap().clear();
        let (a, b) = (
            sources[0].progress().unwrap(),
            sources[1].progress().unwrap(),
        );
        if live == [true, true] && a > i64::MIN && b > i64::MIN {
            widest = widest.max((a - b).abs());
        }
        rounds += 1;
        if rounds == 150 {
            saved = Some((sources[0].position(), a));
        }
    }
    // Every batch of both files, and one empty read each that finds the end.
    assert_eq!(rounds, 31 + 301);
    assert!(
        widest <= 300,
        "the inputs stay within one sparse batch of event time; they drifted {widest} ms apart"
    );
    let (position, high) = saved.unwrap();
    let mut resumed = FileSource::<Bid>::open(&specs[0]).unwrap();
    resumed.seek(&position).unwrap();
    assert_eq!(
        resumed.progress(),
        Some(high),
        "progress resumes with the position"
    );
}

/// Bindings that would lose data are refused before anything is opened, and the files stay as
/// they were.
#[test]
fn no_output_replaces_an_input_or_lands_among_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    let good = "{\"auction\":1,\"price\":5,\"t\":10}\n";
    fs::write(&input, good).unwrap();
    let err = run(&["-i".into(), s(&input), "-o".into(), s(&input)]).unwrap_err();
    assert!(
        err.to_string().contains("would replace input `bids`"),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(&input).unwrap(),
        good,
        "the input is untouched"
    );

    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();
    let parquet = format!("parquet:{}", s(&out));
    let err = run(&["-i".into(), s(&input), "-o".into(), parquet.clone()]).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1, "nothing written");
    run(&[
        "-i".into(),
        s(&input),
        "-o".into(),
        parquet,
        "--append".into(),
    ])
    .unwrap();
    assert!(
        fs::read_dir(&out).unwrap().count() > 1,
        "--append writes beside it"
    );

    // A directory input is read as Parquet; the error says what it found instead.
    let lines = dir.path().join("lines");
    fs::create_dir(&lines).unwrap();
    fs::write(lines.join("a.jsonl"), good).unwrap();
    let err = run(&["-i".into(), s(&lines), "-o".into(), "-".into()]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no Parquet file") && msg.contains("1 .jsonl") && msg.contains("*.jsonl"),
        "{msg}"
    );
}

/// A checkpoint remembers what the input held before its position: a resumed run refuses a
/// replaced file (naming it and `--fresh`), and takes the same file, or one grown at its end.
#[test]
fn a_resume_refuses_an_input_that_was_replaced() {
    use pulse::io::{FileSource, Source, SourceSpec};
    let dir = tempfile::tempdir().unwrap();
    for (name, head, line) in [
        ("bids.jsonl", "", "{\"auction\":1,\"price\":5,\"t\":1}\n"),
        ("bids.csv", "auction,price,t\n", "1,5,1\n"),
    ] {
        let path = dir.path().join(name);
        let original = format!("{head}{}", line.repeat(1000));
        fs::write(&path, &original).unwrap();
        let spec = SourceSpec::new("bids", s(&path)).unwrap();
        let mut src = FileSource::<Bid>::open(&spec).unwrap();
        let mut batch = src.new_batch();
        src.read_batch(batch.as_mut(), 400).unwrap();
        let position = src.position();
        let resume = || FileSource::<Bid>::open(&spec).unwrap().seek(&position);

        // Another file of the same length under the same name: price 5 became 6.
        fs::write(&path, original.replace('5', "6")).unwrap();
        let err = resume().unwrap_err().to_string();
        assert!(
            err.contains(&s(&path))
                && err.contains("not the file the checkpoint read")
                && err.contains("--fresh"),
            "{name}: {err}"
        );
        // Cut short before the position.
        fs::write(&path, &original[..100]).unwrap();
        assert!(resume().is_err(), "{name}: a shorter file");
        // The original again, then grown at its end: both resume.
        fs::write(&path, &original).unwrap();
        resume().unwrap();
        fs::write(&path, format!("{original}{line}")).unwrap();
        resume().unwrap();
    }
}

#[pipeline]
fn copy_twice(bids: Stream<Bid>) -> (Stream<Bid>, Stream<Bid>) {
    let cheap = bids.filter(|b| b.price < 5);
    (bids, cheap)
}

/// A run that stops while it publishes (its last checkpoint taken, one output renamed, the
/// other not) is finished by the restart: the published file stays in place, the other is
/// published, and nothing runs again.
#[test]
fn a_restart_after_the_last_checkpoint_publishes_and_runs_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    let text: String = (0..5000)
        .map(|i| format!("{{\"auction\":{i},\"price\":{},\"t\":{i}}}\n", i % 10))
        .collect();
    fs::write(&input, text).unwrap();
    let (all, cheap) = (dir.path().join("all.jsonl"), dir.path().join("cheap.jsonl"));
    let args = [
        "copy_twice".to_string(),
        "-q".into(),
        format!("--state-dir={}", s(&dir.path().join("state"))),
        "-i".into(),
        s(&input),
        "-o".into(),
        format!("bids={}", s(&all)),
        "--config".into(),
        s(&dir.path().join("outputs.toml")),
    ];
    // JSON lines, though a directory stands where the file goes.
    let toml = format!(
        "[outputs.cheap]\npath = {:?}\nformat = \"jsonl\"\n",
        s(&cheap)
    );
    fs::write(dir.path().join("outputs.toml"), toml).unwrap();
    // A directory where the second output goes: its rename fails after the first one's.
    fs::create_dir(&cheap).unwrap();
    fs::write(cheap.join("x"), "").unwrap();
    let err = pulse::App::new(copy_twice)
        .run_from(args.clone())
        .unwrap_err();
    assert!(err.to_string().contains("cheap.jsonl"), "{err}");
    let published = fs::read_to_string(&all).unwrap();
    assert_eq!(published.lines().count(), 5000);
    fs::remove_dir_all(&cheap).unwrap();

    let summary = pulse::App::new(copy_twice).run_from(args.clone()).unwrap();
    assert!(summary.resumed_from.is_some(), "{summary:?}");
    assert!(summary.inputs.is_empty(), "nothing read again: {summary:?}");
    assert_eq!(
        fs::read_to_string(&all).unwrap(),
        published,
        "left in place"
    );
    assert_eq!(fs::read_to_string(&cheap).unwrap().lines().count(), 2500);
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("inprogress"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The state is cleared: the next run starts from the beginning.
    let again = pulse::App::new(copy_twice).run_from(args).unwrap();
    assert_eq!(again.resumed_from, None);
    assert_eq!(again.outputs[0].1, 5000);
}

/// Errors say what is wrong in words: trailing characters, a number out of range, a cut-off
/// last line, an input that is neither a regular file nor a live input, an output under a file.
#[test]
fn errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = s(&dir.path().join("o.jsonl"));
    let fail = |name: &str, text: &str| {
        let input = dir.path().join(name);
        fs::write(&input, text).unwrap();
        run(&["-i".into(), s(&input), "-o".into(), out.clone()])
            .unwrap_err()
            .to_string()
    };
    let e = fail("trailing.jsonl", "{\"auction\":1,\"price\":5,\"t\":10} x\n");
    assert!(
        e.contains(":1: unexpected characters after the record (column"),
        "{e}"
    );
    let e = fail(
        "big.jsonl",
        "{\"auction\":18446744073709551616,\"price\":5,\"t\":10}\n",
    );
    assert!(
        e.contains(":1: field `auction`: number") && e.ends_with("is out of range for u64"),
        "{e}"
    );
    let e = fail(
        "cut.jsonl",
        "{\"auction\":1,\"price\":5,\"t\":10}\n{\"auction\":1,\"pri",
    );
    assert!(
        e.contains(":2: the line ends inside the record") && !e.contains("field"),
        "{e}"
    );
    // A device exists, but is neither a file nor a live input (a pipe or `-`).
    let device = dir.path().join("device.jsonl");
    std::os::unix::fs::symlink("/dev/null", &device).unwrap();
    let e = run(&["-i".into(), s(&device), "-o".into(), out.clone()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a regular file"), "{e}");
    // An output whose directory would be a file.
    let input = dir.path().join("ok.jsonl");
    fs::write(&input, "{\"auction\":1,\"price\":5,\"t\":10}\n").unwrap();
    let under = s(&input.join("o.jsonl"));
    let e = run(&["-i".into(), s(&input), "-o".into(), under])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("`{}` is a file", input.display())),
        "{e}"
    );
}

/// A CSV row the reader cannot take (too few or too many fields, an unclosed quote that joins
/// lines) goes through the policy like a row that does not decode: skipped, or dead-lettered
/// with its line, and the rows after it are read.
#[test]
fn csv_rows_of_the_wrong_shape_go_through_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.csv");
    fs::write(
        &input,
        "auction,price,t\n1,5,10\n2,6\n3,7,12,99\n4,\"8,13\n5,9,14\n",
    )
    .unwrap();
    let out = dir.path().join("o.csv");
    let err = run(&["-i".into(), s(&input), "-o".into(), s(&out)]).unwrap_err();
    assert!(
        err.to_string()
            .contains(":3: 2 fields where the header has 3"),
        "{err}"
    );
    run(&[
        "-i".into(),
        s(&input),
        "-o".into(),
        s(&out),
        "--on-bad-record".into(),
        "skip".into(),
    ])
    .unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        "auction,price,t\n1,5,10\n"
    );
    let dead = dir.path().join("dead.jsonl");
    run(&[
        "-i".into(),
        s(&input),
        "-o".into(),
        s(&out),
        "--on-bad-record".into(),
        "dead-letter".into(),
        "--dead-letter".into(),
        s(&dead),
    ])
    .unwrap();
    let letters: Vec<serde_json::Value> = fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<_> = letters
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5], "{letters:?}");
}

/// Lines serde_json rejects are rejected by the fast path too, unknown keys included: invalid
/// UTF-8 in a skipped string, an invalid value under an unknown key, a raw control character
/// in a string. Under `dead-letter` a line that is not UTF-8 keeps its bytes (base64).
#[test]
fn json_lines_serde_rejects_are_bad_records() {
    let dir = tempfile::tempdir().unwrap();
    let out = s(&dir.path().join("o.jsonl"));
    let cases: [(&str, &[u8]); 4] = [
        (
            "utf8",
            b"{\"auction\":1,\"price\":5,\"t\":10,\"junk\":\"a\xffb\"}\n",
        ),
        (
            "junk",
            b"{\"auction\":1,\"price\":5,\"t\":10,\"junk\":@@}\n",
        ),
        (
            "tab",
            b"{\"auction\":1,\"price\":5,\"t\":10,\"junk\":\"a\tb\"}\n",
        ),
        (
            "tab_known",
            b"{\"t\":10,\"auction\":1,\"junk\":\"x\x01\",\"price\":5}\n",
        ),
    ];
    for (name, line) in cases {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&line[..line.len() - 1]).is_err(),
            "{name}: serde_json rejects it"
        );
        let input = dir.path().join(format!("{name}.jsonl"));
        fs::write(&input, line).unwrap();
        let err = run(&["-i".into(), s(&input), "-o".into(), out.clone()]);
        assert!(err.is_err(), "{name}: accepted");
        assert!(err.unwrap_err().to_string().contains(":1: "), "{name}");
    }
    let input = dir.path().join("utf8.jsonl");
    let dead = dir.path().join("dead.jsonl");
    run(&[
        "-i".into(),
        s(&input),
        "-o".into(),
        out,
        "--on-bad-record".into(),
        "dead-letter".into(),
        "--dead-letter".into(),
        s(&dead),
    ])
    .unwrap();
    let letter: serde_json::Value =
        serde_json::from_str(fs::read_to_string(&dead).unwrap().trim()).unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(letter["raw_base64"].as_str().expect("the original bytes"))
        .unwrap();
    assert_eq!(bytes, &cases[0].1[..cases[0].1.len() - 1]);
}

const STDOUT_CHILD: &str = "PULSE_STDOUT_CHILD";

/// Runs `copy` from the file in `PULSE_STDOUT_CHILD` to stdout (`-o -`); nothing otherwise.
#[test]
fn stdout_child() {
    let Ok(input) = std::env::var(STDOUT_CHILD) else {
        return;
    };
    run(&["-i".into(), input, "-o".into(), "-".into()]).unwrap();
}

/// `-o -` writes JSON lines to stdout, one per record, in order.
#[test]
fn output_to_stdout_is_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.jsonl");
    let text: String = (0..50)
        .map(|i| format!("{{\"auction\":{i},\"price\":{},\"t\":{}}}\n", i * 2, i * 10))
        .collect();
    fs::write(&input, &text).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stdout_child", "--nocapture", "--test-threads=1"])
        .env(STDOUT_CHILD, &input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The test harness writes `test stdout_child ... ` before the first row.
    let rows: Vec<Bid> = stdout
        .lines()
        .filter_map(|l| l.find("{\"").map(|i| &l[i..]))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: Vec<Bid> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows, want);
}

/// Events already in memory run through the one-worker driver batch by batch.
#[test]
fn a_memory_source_feeds_the_driver() {
    use pulse::Pipeline;
    use pulse::exec::{Endpoints, Launch};
    use pulse::io::{MemorySource, SinkSpec};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let batches: Vec<Vec<Bid>> = (0..4)
        .map(|b| {
            (0..25)
                .map(|i| Bid {
                    auction: b * 25 + i,
                    price: i,
                    t: (b * 25 + i) as i64,
                })
                .collect()
        })
        .collect();
    let all: Vec<Bid> = batches.concat();
    let sink = copy
        .open_sink(0, &SinkSpec::new("output", &s(&out)).unwrap())
        .unwrap();
    let batches = std::sync::Mutex::new(Some(batches));
    let open = |_w: usize| -> pulse::Result<Vec<Box<dyn pulse::io::Source>>> {
        let batches = batches.lock().unwrap().take().expect("opened once");
        Ok(vec![Box::new(MemorySource::new("bids", batches))])
    };
    let ends = Endpoints {
        sources: &open,
        sinks: vec![sink],
    };
    let summary = Launch::default().run_with(&copy, ends).unwrap();
    assert_eq!(summary.inputs[0].1.records, 100);
    let rows: Vec<Bid> = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows, all);

    // On two workers each opens its own share, once: the launcher opens nothing of the
    // caller's to check it.
    let shares = std::sync::Mutex::new(vec![Some(all[..50].to_vec()), Some(all[50..].to_vec())]);
    let open = |w: usize| -> pulse::Result<Vec<Box<dyn pulse::io::Source>>> {
        let share = shares.lock().unwrap()[w].take().expect("opened once");
        Ok(vec![Box::new(MemorySource::new("bids", vec![share]))])
    };
    let sink = copy
        .open_sink(0, &SinkSpec::new("output", &s(&out)).unwrap())
        .unwrap();
    let launch = Launch {
        options: pulse::exec::RunOptions {
            workers: 2,
            ..Default::default()
        },
        ..Launch::default()
    };
    let ends = Endpoints {
        sources: &open,
        sinks: vec![sink],
    };
    let summary = launch.run_with(&copy, ends).unwrap();
    assert_eq!(summary.inputs[0].1.records, 100);
    let mut rows: Vec<Bid> = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    rows.sort_by_key(|b| b.t);
    assert_eq!(rows, all);
}

#[pipeline]
fn expensive(bids: Stream<Bid>) -> Stream<Bid> {
    bids.filter(|b| b.price >= 100)
}

/// `run_all` makes each pipeline a subcommand: the first argument picks it, the rest are its
/// own flags; an unknown name lists the pipelines.
#[test]
fn run_all_runs_the_pipeline_named_by_the_first_argument() {
    use pulse::cli::run_all_from;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    fs::write(
        &input,
        "{\"auction\":1,\"price\":5,\"t\":10}\n{\"auction\":2,\"price\":500,\"t\":11}\n",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let args = |name: &str| {
        vec![
            "app".to_string(),
            name.into(),
            "-q".into(),
            "--no-checkpoints".into(),
            "-i".into(),
            s(&input),
            "-o".into(),
            s(&out),
        ]
    };
    let summary = run_all_from((copy, expensive), args("copy")).unwrap();
    assert_eq!(summary.outputs[0].1, 2);
    let summary = run_all_from((copy, expensive), args("expensive")).unwrap();
    assert_eq!(summary.outputs[0].1, 1);
    assert_eq!(fs::read_to_string(&out).unwrap().lines().count(), 1);
    let e = run_all_from((copy, expensive), args("cheap"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no pipeline `cheap`") && e.contains("copy, expensive"),
        "{e}"
    );
    let e = run_all_from((copy, expensive), ["app"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("Pipelines:") && e.contains("expensive"), "{e}");
}
