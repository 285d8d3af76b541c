//! Keyed state across runs: savepoints, state-type changes, removed operators, the memory
//! budget, and processing-time timers in a pipeline. Every run uses a real fjall directory.

use std::path::{Path, PathBuf};

use pulse::prelude::*;
use pulse::{Context, Pipeline};
use pulse_tests::s;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
pub struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

/// Running totals per auction, with a `u64` of state per key.
mod v1 {
    use super::*;
    #[pipeline]
    pub fn totals(bids: Stream<Bid>) -> Stream<(u64, u64)> {
        bids.key_by(|b| b.auction)
            .process(|ctx: &mut Context<'_, u64, u64, (u64, u64)>, b: Bid| {
                let total = ctx.state_or_default();
                *total += b.price;
                let total = *total;
                let out = (*ctx.key(), total);
                ctx.emit(out);
            })
    }
}

/// The same pipeline after someone changed the state to a `String`.
mod v2 {
    use super::*;
    #[pipeline]
    pub fn totals(bids: Stream<Bid>) -> Stream<(u64, u64)> {
        bids.key_by(|b| b.auction).process(
            |ctx: &mut Context<'_, u64, String, (u64, u64)>, b: Bid| {
                ctx.state_or_default().push('x');
                let out = (*ctx.key(), b.price);
                ctx.emit(out);
            },
        )
    }
}

/// The same pipeline without its stateful operator.
mod v3 {
    use super::*;
    #[pipeline]
    pub fn totals(bids: Stream<Bid>) -> Stream<(u64, u64)> {
        bids.map(|b| (b.auction, b.price))
    }
}

fn input(dir: &Path, n: u64, auctions: u64) -> PathBuf {
    let path = dir.join("bids.jsonl");
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"auction\":{},\"price\":{},\"t\":{}}}\n",
                i * 7 % auctions,
                i % 13 + 1,
                i * 10
            )
        })
        .collect();
    std::fs::write(&path, lines).unwrap();
    path
}

fn run<P: Pipeline>(p: P, args: &[&str]) -> pulse::Result<pulse::exec::RunSummary> {
    let mut all = vec![P::NAME, "--quiet"];
    all.extend_from_slice(args);
    pulse::App::new(p).run_from(all)
}

#[test]
fn a_run_restored_from_a_mid_run_savepoint_ends_with_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let bids = input(dir.path(), 5_000, 300);
    let (out, sp) = (dir.path().join("out.jsonl"), dir.path().join("sp"));
    let summary = run(
        v1::totals,
        &[
            "-i",
            &s(&bids),
            "-o",
            &s(&out),
            "--state-dir",
            &s(&dir.path().join("state")),
            "--batch-size",
            "100",
            "--checkpoint-interval",
            "0ms",
            "--savepoint-interval",
            "0ms",
            "--savepoint-dir",
            &s(&sp),
            "--savepoint-retain",
            "20",
        ],
    )
    .unwrap();
    assert!(summary.savepoints > 40, "{summary}");
    let kept = pulse::checkpoint::list_savepoints(&sp).unwrap();
    assert_eq!(kept.len(), 20, "retention keeps the newest 20");
    let want = std::fs::read_to_string(&out).unwrap();
    assert_eq!(want.lines().count(), 5_000);

    // Restore the oldest one kept: the output is cut back to what it covered, and the run
    // continues from its source position with its per-key totals.
    let (id, oldest) = &kept[0];
    let again = run(
        v1::totals,
        &[
            "-i",
            &s(&bids),
            "-o",
            &s(&out),
            "--state-dir",
            &s(&dir.path().join("state2")),
            "--restore-from",
            &s(oldest),
        ],
    )
    .unwrap();
    let read = again.inputs[0].1.records;
    assert!(
        read > 0 && read < 5_000,
        "resumed savepoint {id} and read {read} records"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), want);
}

/// A savepoint of `v1::totals` taken at the end of a run, in `dir/sp`.
fn savepoint(dir: &Path) -> (PathBuf, PathBuf) {
    let bids = input(dir, 1_000, 50);
    run(
        v1::totals,
        &[
            "-i",
            &s(&bids),
            "-o",
            &s(&dir.join("v1.jsonl")),
            "--state-dir",
            &s(&dir.join("state")),
            "--savepoint-interval",
            "0ms",
            "--savepoint-dir",
            &s(&dir.join("sp")),
        ],
    )
    .unwrap();
    let (_, sp) = pulse::checkpoint::list_savepoints(&dir.join("sp"))
        .unwrap()
        .pop()
        .expect("a savepoint");
    (bids, sp)
}

#[test]
fn changing_a_state_type_is_refused_with_both_types_named() {
    let dir = tempfile::tempdir().unwrap();
    let (bids, sp) = savepoint(dir.path());
    let err = run(
        v2::totals,
        &[
            "-i",
            &s(&bids),
            "-o",
            &s(&dir.path().join("v2.jsonl")),
            "--state-dir",
            &s(&dir.path().join("v2")),
            "--restore-from",
            &s(&sp),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("state of operator `totals/output/process`: the state was saved as `process<key = u64, state = u64>`, but the pipeline now keeps `process<key = u64, state = String>`"),
        "{err}"
    );
}

#[test]
fn state_of_a_removed_operator_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (bids, sp) = savepoint(dir.path());
    let out = dir.path().join("v3.jsonl");
    let state = dir.path().join("v3");
    let args = |extra: &'static str| {
        let mut a = vec![
            "-i".to_string(),
            s(&bids),
            "-o".into(),
            s(&out),
            "--state-dir".into(),
            s(&state),
            "--restore-from".into(),
            s(&sp),
        ];
        if !extra.is_empty() {
            a.push(extra.into());
        }
        a
    };
    let refused = args("");
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let err = run(v3::totals, &refused).unwrap_err().to_string();
    assert!(
        err.contains("`totals/output/process`")
            && err.contains("this pipeline has no operator with that id")
            && err.contains("--allow-non-restored-state"),
        "{err}"
    );
    let allowed = args("--allow-non-restored-state");
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    run(v3::totals, &allowed).unwrap();
}

#[test]
fn state_past_the_memory_budget_is_evicted_to_fjall_and_gives_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let bids = input(dir.path(), 20_000, 5_000);
    let (small, whole) = (
        dir.path().join("small.jsonl"),
        dir.path().join("whole.jsonl"),
    );
    let budget = run(
        v1::totals,
        &[
            "-i",
            &s(&bids),
            "-o",
            &s(&small),
            "--state-dir",
            &s(&dir.path().join("state")),
            "--checkpoint-interval",
            "1h",
            "--memory-budget",
            "64KiB",
        ],
    )
    .unwrap();
    run(
        v1::totals,
        &["-i", &s(&bids), "-o", &s(&whole), "--no-checkpoints"],
    )
    .unwrap();
    assert!(
        budget.evicted > 5_000 && budget.checkpoints > 2,
        "state of 5000 keys (~300 KB) passes 64 KiB: {budget}"
    );
    assert_eq!(
        std::fs::read_to_string(&small).unwrap(),
        std::fs::read_to_string(&whole).unwrap()
    );
}

/// Nags each auction 5 s (processing time) after its first bid, and forgets it 10 s after.
#[pipeline]
fn nag(bids: Stream<Bid>) -> Stream<(u64, u32)> {
    bids.key_by(|b| b.auction)
        .process(|ctx: &mut Context<'_, u64, u32, (u64, u32)>, _b: Bid| {
            if ctx.state().is_none() {
                let at = ctx.processing_time().millis() + 5_000;
                ctx.set_processing_timer(Timestamp::from_millis(at));
            }
            *ctx.state_or_default() += 1;
        })
        .on_timer(|ctx, timer| {
            let bids = ctx.state().unwrap_or(0);
            let out = (*ctx.key(), bids);
            ctx.emit(out);
            assert_eq!(timer.domain, pulse::TimeDomain::ProcessingTime);
        })
}

#[test]
fn processing_time_timers_fire_in_a_pipeline() {
    let mut h = pulse::testing::harness(nag);
    let bid = |auction, t| Bid {
        auction,
        price: 1,
        t,
    };
    h.processing_time(1_000);
    h.push::<0>(bid(1, 0)).push::<0>(bid(1, 5));
    h.processing_time(3_000);
    h.push::<0>(bid(2, 10)).push::<0>(bid(1, 20));
    h.processing_time(5_999);
    assert_eq!(h.output::<0>(), []);
    h.processing_time(6_000);
    assert_eq!(h.output::<0>(), [(1, 3)]);
    let snap = h.snapshot().unwrap();
    let mut r = pulse::testing::restored(nag, &snap).unwrap();
    r.processing_time(8_000);
    assert_eq!(r.output::<0>(), [(2, 1)], "the timer survived the restore");
}

/// Bid counts per auction over sliding 10 s windows, kept a minute past their end: many
/// windows open at once.
#[pipeline]
fn counts(bids: Stream<Bid>) -> Stream<pulse::Window<u64, u64>> {
    bids.watermark(BoundedOutOfOrderness::millis(0))
        .key_by(|b| b.auction)
        .window(Sliding::secs(10, 1))
        .allowed_lateness(std::time::Duration::from_secs(60))
        .aggregate(Count)
}

/// Runs `counts` over `n` bids on `workers` threads under a 256 KiB budget, and once on one
/// worker without checkpoints; returns the first run's summary and both outputs.
fn counts_under_budget(workers: &str, n: u64) -> (pulse::exec::RunSummary, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let bids = input(dir.path(), n, 500);
    let (small, whole) = (
        dir.path().join("small.jsonl"),
        dir.path().join("whole.jsonl"),
    );
    let budget = run(
        counts,
        &[
            "--workers",
            workers,
            "-i",
            &s(&bids),
            "-o",
            &s(&small),
            "--state-dir",
            &s(&dir.path().join("state")),
            "--checkpoint-interval",
            "1h",
            "--memory-budget",
            "256KiB",
        ],
    )
    .unwrap();
    run(
        counts,
        &["-i", &s(&bids), "-o", &s(&whole), "--no-checkpoints"],
    )
    .unwrap();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    (budget, read(&small), read(&whole))
}

#[test]
fn windows_past_the_memory_budget_are_evicted_to_fjall_and_give_the_same_output() {
    let (budget, small, whole) = counts_under_budget("1", 30_000);
    assert!(
        budget.evicted > 20 && budget.checkpoints > 2,
        "about 70 windows of 500 keys each pass 256 KiB: {budget}"
    );
    assert_eq!(small, whole);
}

#[test]
fn two_workers_past_the_memory_budget_evict_and_give_the_rows_of_one() {
    // Two workers process the input a part (1 MiB stripe) at a time and check the budget
    // between parts: 60 k bids are 3 parts, 30 k only 2.
    let (budget, small, whole) = counts_under_budget("2", 60_000);
    assert!(
        budget.evicted > 10 && budget.checkpoints > 2,
        "the budget triggers checkpoints and eviction on two workers: {budget}"
    );
    fn sorted(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        lines
    }
    assert!(
        sorted(&small) == sorted(&whole),
        "the same rows as one worker"
    );
}

/// `--export-savepoint` writes the latest checkpoint of a stopped run as a savepoint, which
/// `--restore-from` continues into the uninterrupted run's output; a `SAVEPOINT` file in the
/// state directory asks a running job for one savepoint, and is removed when it is taken.
#[test]
fn export_savepoint_and_the_savepoint_trigger_file() {
    let dir = tempfile::tempdir().unwrap();
    let bids = input(dir.path(), 3_000, 50);
    let full = std::fs::read_to_string(&bids).unwrap();
    let (out, want) = (dir.path().join("out.jsonl"), dir.path().join("want.jsonl"));
    run(
        v1::totals,
        &["-i", &s(&bids), "-o", &s(&want), "--no-checkpoints"],
    )
    .unwrap();

    // The same input with a bad last line: the run stops there, its checkpoint kept.
    let state = dir.path().join("state");
    std::fs::write(&bids, format!("{full}not json\n")).unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "-i".to_string(),
            s(&bids),
            "-o".into(),
            s(&out),
            "--state-dir".into(),
            s(&state),
            "--batch-size".into(),
            "100".into(),
            "--checkpoint-interval".into(),
            "0ms".into(),
        ];
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let with = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(v1::totals, &a)
    };
    // Ask for a savepoint before it starts: the first checkpoint takes one.
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("SAVEPOINT"), "").unwrap();
    let sp_dir = dir.path().join("sps");
    let err = with(args(&["--savepoint-dir", &s(&sp_dir)])).unwrap_err();
    assert!(err.to_string().contains(":3001:"), "{err}");
    assert!(!state.join("SAVEPOINT").exists(), "the trigger is taken");
    let taken = pulse::checkpoint::list_savepoints(&sp_dir).unwrap();
    assert_eq!(taken.len(), 1, "one savepoint for one request");

    let exported = dir.path().join("exported");
    let summary = with(args(&["--export-savepoint", &s(&exported)])).unwrap();
    assert_eq!(summary.inputs.len(), 0, "exporting runs nothing");
    assert!(
        std::fs::read_dir(&exported).unwrap().next().is_some(),
        "a savepoint in {}",
        exported.display()
    );

    // Restored into a new state directory, over the input without the bad line.
    std::fs::write(&bids, &full).unwrap();
    let restored = run(
        v1::totals,
        &[
            "-i",
            &s(&bids),
            "-o",
            &s(&out),
            "--state-dir",
            &s(&dir.path().join("state2")),
            "--restore-from",
            &s(&exported),
        ],
    )
    .unwrap();
    assert!(restored.inputs[0].1.records < 3_000, "{restored}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&want).unwrap()
    );

    // `--fresh` forgets the stopped run's checkpoint (still in `state`) and reads it all.
    let fresh = with(args(&["--fresh"])).unwrap();
    assert_eq!(fresh.resumed_from, None);
    assert_eq!(fresh.inputs[0].1.records, 3_000);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&want).unwrap()
    );
    let plain = with(args(&[])).unwrap();
    assert_eq!(
        plain.resumed_from, None,
        "a finished run left no checkpoint"
    );
}
