//! A pipeline binary's exit code tells failures apart: 0 done, 2 usage or configuration,
//! 65 bad input data, 74 I/O.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_copy_bids"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn each_kind_of_failure_has_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, "{\"auction\":1,\"price\":5,\"t\":10}\n").unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"auction\":1,\"price\":\"x\",\"t\":10}\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let (g, b, o) = (
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let base = ["--no-checkpoints", "-q", "-o", o];

    let (code, err) = run(&[&["-i", g][..], &base].concat());
    assert_eq!(code, 0, "{err}");
    let (code, err) = run(&[&["-i", b][..], &base].concat());
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains("Error: ") && err.contains("field `price`"),
        "{err}"
    );
    let missing = dir.path().join("missing.jsonl");
    let (code, err) = run(&[&["-i", missing.to_str().unwrap()][..], &base].concat());
    assert_eq!(code, 74, "{err}");
    let (code, err) = run(&base);
    assert_eq!(code, 2, "an unbound input: {err}");
    assert!(err.contains("is not bound"), "{err}");
    let (code, err) = run(&["--no-such-flag"]);
    assert_eq!(code, 2, "{err}");
}

/// `--log-format json` writes the runtime's tracing events as JSON lines on stderr, filtered
/// by `RUST_LOG`; without `RUST_LOG` only warnings and errors would be logged.
#[test]
fn logs_are_json_lines_filtered_by_rust_log() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"auction\":1,\"price\":5,\"t\":10}\n{\"auction\":2,\"price\":6,\"t\":20}\n",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let state = dir.path().join("state");
    let args = [
        "-i",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "-q",
        "--log-format",
        "json",
    ];
    let run = |rust_log: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_copy_bids"));
        c.args(args).env_remove("RUST_LOG");
        if let Some(l) = rust_log {
            c.env("RUST_LOG", l);
        }
        let o = c.output().unwrap();
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let err = run(Some("info"));
    let events: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let message = |m: &str| {
        events
            .iter()
            .find(|e| e["fields"]["message"] == m)
            .unwrap_or_else(|| panic!("no `{m}` in {err}"))
    };
    let finished = message("run finished");
    assert_eq!(finished["fields"]["records_in"], 2);
    assert_eq!(finished["fields"]["records_out"], 2);
    assert_eq!(finished["level"], "INFO");
    assert_eq!(finished["span"]["pipeline"], "copy_bids");
    assert_eq!(message("checkpoint written")["span"]["name"], "checkpoint");
    // A target filter: only the launcher's events.
    let err = run(Some("warn,pulse_runtime::exec::launch=info"));
    assert!(
        err.contains("run finished") && !err.contains("checkpoint written"),
        "{err}"
    );
    assert_eq!(run(None), "", "nothing at the default level");
}

/// `--quiet` prints nothing on a good run; without it the summary names input and output.
#[test]
fn quiet_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"auction\":1,\"price\":5,\"t\":10}\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let args = |quiet: bool| {
        let mut a = vec![
            "-i".to_string(),
            input.to_str().unwrap().into(),
            "-o".into(),
            out.to_str().unwrap().into(),
            "--no-checkpoints".into(),
        ];
        if quiet {
            a.push("--quiet".into());
        }
        a
    };
    let run = |quiet| {
        let o = Command::new(env!("CARGO_BIN_EXE_copy_bids"))
            .args(args(quiet))
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(o.status.success());
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (stdout, stderr) = run(false);
    assert!(
        stdout.is_empty() && stderr.contains("copy_bids done in") && stderr.contains("1 records"),
        "{stderr}"
    );
    assert_eq!(run(true), (String::new(), String::new()));
}
