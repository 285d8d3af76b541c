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
