//! Golden runs: each example pipeline over its shipped data, through the real file sources and
//! sinks, compared line by line with the committed output. `UPDATE_GOLDEN=1` rewrites them.

use std::path::{Path, PathBuf};

use pulse::Pipeline;
use pulse_examples::clicks::{click_sessions, idle_users};
use pulse_examples::{sensors::sensor_averages, words::word_count};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `p` with `args` (bindings relative to the repo root) into a temp dir; returns the dir.
fn run<P: Pipeline>(p: P, inputs: &[(&str, &str)], outputs: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").display().to_string();
    let mut args = vec![
        P::NAME.to_string(),
        "--quiet".into(),
        "--state-dir".into(),
        state,
    ];
    for (name, path) in inputs {
        args.push("--input".into());
        args.push(format!("{name}={}", root().join(path).display()));
    }
    for (name, file) in outputs {
        args.push("--output".into());
        args.push(format!("{name}={}", dir.path().join(file).display()));
    }
    pulse::App::new(p).run_from(args).unwrap();
    dir
}

fn check(dir: &Path, file: &str, golden: &str) {
    let got = std::fs::read_to_string(dir.join(file)).unwrap();
    let path = root().join("tests/golden").join(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(got, want, "{file} differs from {}", path.display());
    assert!(
        !dir.join(format!(".{file}.inprogress")).exists(),
        "in-progress file left behind"
    );
}

#[test]
fn word_count_golden() {
    let dir = run(
        word_count,
        &[("lines", "examples/data/lines.jsonl")],
        &[("output", "counts.jsonl")],
    );
    check(dir.path(), "counts.jsonl", "word_count.jsonl");
    assert!(
        dir.path().join("state").is_dir(),
        "the run kept its state in the given directory"
    );
}

#[test]
fn word_count_csv_output_golden() {
    let dir = run(
        word_count,
        &[("lines", "examples/data/lines.jsonl")],
        &[("output", "counts.csv")],
    );
    check(dir.path(), "counts.csv", "word_count.csv");
}

#[test]
fn click_sessions_golden() {
    let dir = run(
        click_sessions,
        &[("clicks", "examples/data/clicks.csv")],
        &[("output", "sessions.jsonl")],
    );
    check(dir.path(), "sessions.jsonl", "click_sessions.jsonl");
}

#[test]
fn sensor_averages_golden_with_late_output() {
    let dir = run(
        sensor_averages,
        &[("readings", "examples/data/readings.jsonl")],
        &[("averages", "averages.jsonl"), ("late", "late.jsonl")],
    );
    check(dir.path(), "averages.jsonl", "sensor_averages.jsonl");
    check(dir.path(), "late.jsonl", "sensor_late.jsonl");
}

#[test]
fn idle_users_golden() {
    let dir = run(
        idle_users,
        &[("clicks", "examples/data/clicks.csv")],
        &[("output", "idle.jsonl")],
    );
    check(dir.path(), "idle.jsonl", "idle_users.jsonl");
}
