//! Pipelines shaped as real DAGs, driven by the test harness: fan-out, union, a window join of
//! two inputs, `process` state, idle inputs, and snapshot/restore.

use pulse::Window;
use pulse::prelude::*;
use pulse::testing::{harness, restored};
use pulse_tests::{Bid, bid};

#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Auction {
    id: u64,
    seller: String,
    #[event_time(epoch_ms)]
    t: i64,
}

/// Fan-out of `bids` into two windows, a union of both results, and a late output.
#[pipeline]
fn fan_out_union(bids: Stream<Bid>) -> (Stream<(u64, u64)>, Stream<Bid>) {
    let keyed = bids
        .watermark(BoundedOutOfOrderness::millis(0))
        .key_by(|b| b.auction);
    let small = keyed.window(Tumbling::millis(10)).aggregate(Count);
    let big = keyed
        .window(Tumbling::millis(20))
        .aggregate(Sum(|b: &Bid| b.price));
    let late = small.late();
    let small_out = small.map(|w| (w.end.millis() as u64, w.value));
    let big_out = big.map(|w| (w.end.millis() as u64, w.value));
    (small_out.union(big_out), late)
}

#[test]
fn fan_out_feeds_both_windows_and_union_merges() {
    let mut h = harness(fan_out_union);
    h.push::<0>(bid(1, 5, 1))
        .push::<0>(bid(1, 7, 12))
        .push::<0>(bid(1, 100, 3))
        .finish();
    let mut got = h.output::<0>();
    got.sort();
    // bid at 3 arrives after W = 11 (bound 0): late for [0,10) (fired at W >= 9) but still in
    // time for [0,20), which fires at W >= 19.
    assert_eq!(got, [(10, 1), (20, 1), (20, 112)]);
    assert_eq!(
        h.output::<1>(),
        [bid(1, 100, 3)],
        "`small`'s late output: all of that operator's windows for ts 3 were cleaned up"
    );
}

/// A window join of two inputs, with two `let` bindings used once each.
#[pipeline]
fn join_sellers(bids: Stream<Bid>, auctions: Stream<Auction>) -> Stream<(String, u64)> {
    let b = bids
        .watermark(BoundedOutOfOrderness::millis(0))
        .key_by(|b| b.auction);
    let a = auctions
        .watermark(BoundedOutOfOrderness::millis(0))
        .key_by(|a| a.id);
    b.join(a, Tumbling::millis(10), |b: &Bid, a: &Auction| {
        (a.seller.clone(), b.price)
    })
}

#[test]
fn join_waits_for_the_slower_input() {
    let mut h = harness(join_sellers);
    h.push::<1>(Auction {
        id: 1,
        seller: "ann".into(),
        t: 2,
    });
    h.push::<0>(bid(1, 10, 5))
        .push::<0>(bid(1, 11, 9))
        .push::<0>(bid(2, 99, 9))
        .push::<0>(bid(1, 12, 30));
    assert_eq!(
        h.output::<0>(),
        [],
        "auctions' watermark is 1: the join's minimum holds [0,10) open"
    );
    h.push::<1>(Auction {
        id: 3,
        seller: "bo".into(),
        t: 40,
    });
    assert_eq!(
        h.output::<0>(),
        [("ann".to_string(), 10), ("ann".to_string(), 11)]
    );
    h.finish();
    assert_eq!(h.output::<0>(), [], "no auction 1 in [30,40)");
}

#[test]
fn idle_input_does_not_hold_back_the_join() {
    let mut h = harness(join_sellers);
    h.push::<1>(Auction {
        id: 1,
        seller: "ann".into(),
        t: 2,
    });
    h.push::<0>(bid(1, 10, 5)).push::<0>(bid(1, 12, 30));
    assert_eq!(h.output::<0>(), []);
    h.idle::<1>(true);
    assert_eq!(
        h.output::<0>(),
        [("ann".to_string(), 10)],
        "with auctions idle, bids' watermark 29 fires [0,10)"
    );
    h.push::<1>(Auction {
        id: 1,
        seller: "cy".into(),
        t: 31,
    });
    h.push::<0>(bid(1, 13, 45));
    assert_eq!(
        h.output::<0>(),
        [],
        "auctions are active again (W = 30), holding [30,40) and [40,50) open"
    );
    h.finish();
    assert_eq!(h.output::<0>(), [("cy".to_string(), 12)]);
}

/// Per-key running state with `process`, after a filter and a key_by.
#[pipeline]
fn running_max(bids: Stream<Bid>) -> Stream<(u64, u64)> {
    bids.filter(|b| b.price > 0).key_by(|b| b.auction).process(
        |ctx: &mut pulse::Context<'_, u64, u64, (u64, u64)>, b: Bid| {
            let best = ctx.state_or_default();
            if b.price > *best {
                *best = b.price;
                let out = (*ctx.key(), b.price);
                ctx.emit(out);
            }
        },
    )
}

#[test]
fn process_keeps_state_per_key_across_restore() {
    let mut h = harness(running_max);
    h.push::<0>(bid(1, 5, 0))
        .push::<0>(bid(2, 3, 0))
        .push::<0>(bid(1, 4, 0))
        .push::<0>(bid(1, 0, 0));
    assert_eq!(h.output::<0>(), [(1, 5), (2, 3)]);
    let snap = h.snapshot().unwrap();
    assert!(
        snap.contains_key("running_max/output/process"),
        "state is saved under the stable id: {:?}",
        snap.keys()
    );
    let mut r = restored(running_max, &snap).unwrap();
    r.push::<0>(bid(1, 5, 1)).push::<0>(bid(1, 6, 1));
    assert_eq!(
        r.output::<0>(),
        [(1, 6)],
        "restored state remembers 5 as the max of auction 1"
    );
}

/// Names override stable ids.
#[pipeline]
fn named(bids: Stream<Bid>) -> Stream<Window<u64, u64>> {
    bids.watermark(BoundedOutOfOrderness::secs(1))
        .name("wm")
        .key_by(|b| b.auction)
        .window(Tumbling::secs(1))
        .aggregate(Count)
        .name("counts")
}

#[test]
fn snapshot_restore_mid_window_gives_the_uninterrupted_result() {
    let input: Vec<Bid> = (0..200)
        .map(|i| bid(i % 3, i, (i as i64 * 37) % 5000))
        .collect();
    let mut whole = harness(named);
    whole.push_all::<0>(input.clone()).finish();
    let want = whole.output::<0>();

    let mut first = harness(named);
    first.push_all::<0>(input[..120].to_vec());
    let mut got = first.output::<0>();
    let snap = first.snapshot().unwrap();
    assert!(
        snap.contains_key("named/counts") && snap.contains_key("named/wm"),
        "{:?}",
        snap.keys()
    );
    let mut second = restored(named, &snap).unwrap();
    second.push_all::<0>(input[120..].to_vec()).finish();
    got.extend(second.output::<0>());
    assert_eq!(got, want);
    assert!(!want.is_empty());
}

#[test]
fn explicit_watermarks_drive_windows_in_virtual_time() {
    let mut h = harness(named);
    h.push::<0>(bid(1, 1, 500));
    h.watermark::<0>(998);
    assert_eq!(h.output::<0>(), []);
    h.watermark::<0>(999);
    let out = h.output_timed::<0>();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0.value, out[0].1.millis()),
        (1, 999),
        "emitted at end - 1"
    );
}

#[test]
fn explain_lists_every_operator_and_edge() {
    let e = <fan_out_union as pulse::Pipeline>::EXPLAIN;
    for op in ["watermark", "key_by", "window", "late", "union", "map"] {
        assert!(e.text.contains(op), "{op} missing from:\n{}", e.text);
    }
    assert!(e.mermaid.contains("-. late .->"), "{}", e.mermaid);
    assert_eq!(
        e.mermaid.matches("-->").count() + e.mermaid.matches("-. late .->").count(),
        11,
        "{}",
        e.mermaid
    );
}

/// Two versions of the same pipeline: v2 edits the closures (filter threshold, key, map) but keeps
/// the shape, so its operators have the same stable ids and v1's state restores into v2.
mod v1 {
    use super::*;
    #[pipeline]
    pub(super) fn edited(bids: Stream<Bid>) -> Stream<(u64, u64)> {
        bids.watermark(BoundedOutOfOrderness::millis(0))
            .filter(|b| b.price > 0)
            .key_by(|b| b.auction)
            .window(Tumbling::millis(100))
            .aggregate(Count)
            .map(|w| (w.key, w.value))
    }
}

mod v2 {
    use super::*;
    #[pipeline]
    pub(super) fn edited(bids: Stream<Bid>) -> Stream<(u64, u64)> {
        bids.watermark(BoundedOutOfOrderness::millis(0))
            .filter(|b| b.price > 1) // edited
            .key_by(|b| b.auction % 1000) // edited, same key type
            .window(Tumbling::millis(100))
            .aggregate(Count)
            .map(|w| (w.key, w.value * 10)) // edited
    }
}

#[test]
fn editing_closures_keeps_operator_ids_and_state() {
    let mut h = harness(v1::edited);
    h.push::<0>(bid(1, 5, 10)).push::<0>(bid(1, 5, 20));
    let snap = h.snapshot().unwrap();
    let ids: Vec<&String> = snap.keys().collect();
    assert_eq!(
        ids,
        [
            "__watermarks",
            "edited/output/watermark",
            "edited/output/window"
        ]
    );
    let mut r = restored(v2::edited, &snap).unwrap();
    r.push::<0>(bid(1, 5, 30)).finish();
    assert_eq!(
        r.output::<0>(),
        [(1, 30)],
        "two counted by v1, one by v2, scaled by v2's new map"
    );
}

/// Two inputs of bids merged, then windowed with lateness: the merge order decides which bids
/// are late and when windows re-fire.
#[pipeline]
fn two_feeds(
    left: Stream<Bid>,
    right: Stream<Bid>,
) -> (Stream<Window<u64, u64>>, Stream<Bid>, Stream<(String, u64)>) {
    let all = left
        .union(right)
        .watermark(BoundedOutOfOrderness::millis(200));
    let counts = all
        .key_by(|b| b.auction % 8)
        .window(Tumbling::secs(1))
        .allowed_lateness(std::time::Duration::from_millis(300))
        .aggregate(Count);
    let late = counts.late();
    let l = left
        .watermark(BoundedOutOfOrderness::millis(100))
        .key_by(|b| b.auction % 4);
    let r = right
        .watermark(BoundedOutOfOrderness::millis(100))
        .key_by(|b| b.auction % 4);
    let pairs = l.join(r, Tumbling::millis(500), |a: &Bid, b: &Bid| {
        (format!("{}-{}", a.t, b.t), a.price + b.price)
    });
    (counts, late, pairs)
}

/// Several inputs are read in an order that depends on the inputs alone: with bids far beyond
/// the bound on both, a union and a join give the same rows for every batch size.
#[test]
fn several_inputs_give_the_same_rows_for_every_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let (left, right) = (
        dir.path().join("left.jsonl"),
        dir.path().join("right.jsonl"),
    );
    let mut files = (String::new(), String::new());
    let mut seed = 7u64;
    for i in 0..6000i64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Mostly in order, some up to 1.5 s late; the right input runs at a third of the rate.
        let late = if seed.is_multiple_of(10) {
            (seed >> 8) % 1500
        } else {
            (seed >> 8) % 150
        } as i64;
        let line = format!(
            "{{\"auction\":{},\"price\":{},\"t\":{}}}\n",
            seed % 100,
            (seed >> 20) % 50,
            i * 3 - late
        );
        if i.rem_euclid(4) == 0 {
            files.1.push_str(&line);
        } else {
            files.0.push_str(&line);
        }
    }
    std::fs::write(&left, files.0).unwrap();
    std::fs::write(&right, files.1).unwrap();
    let run = |batch: usize| {
        let outs: Vec<_> = (0..3)
            .map(|j| dir.path().join(format!("b{batch}-{j}.jsonl")))
            .collect();
        let mut args = vec![
            "two_feeds".to_string(),
            "-q".into(),
            "--no-checkpoints".into(),
            format!("--batch-size={batch}"),
            "-i".into(),
            format!("left={}", left.display()),
            "-i".into(),
            format!("right={}", right.display()),
        ];
        for (name, o) in ["counts", "late", "pairs"].iter().zip(&outs) {
            args.push("-o".into());
            args.push(format!("{name}={}", o.display()));
        }
        let summary = pulse::App::new(two_feeds).run_from(args).unwrap();
        assert!(summary.late > 0, "some bids are late");
        outs.iter()
            .map(|o| std::fs::read_to_string(o).unwrap())
            .collect::<Vec<_>>()
    };
    let want = run(4096);
    for batch in [1, 3, 64, 1000] {
        let got = run(batch);
        for j in 0..3 {
            assert!(got[j] == want[j], "output {j} with batches of {batch}");
        }
    }
}

#[pipeline]
fn ascending(bids: Stream<Bid>) -> (Stream<Window<u64, u64>>, Stream<Bid>) {
    let w = bids
        .watermark(pulse::Ascending::new())
        .key_by(|b| b.auction)
        .window(Tumbling::millis(10))
        .aggregate(Count);
    (w, w.late())
}

#[pipeline]
fn periodic(bids: Stream<Bid>) -> Stream<Window<u64, u64>> {
    bids.watermark(pulse::Periodic::new(
        BoundedOutOfOrderness::millis(0),
        std::time::Duration::from_millis(20),
    ))
    .key_by(|b| b.auction)
    .window(Tumbling::millis(10))
    .aggregate(Count)
}

#[pipeline]
fn punctuated(bids: Stream<Bid>) -> Stream<Window<u64, u64>> {
    bids.watermark(pulse::Punctuated::new(|b: &Bid, ts: i64| {
        (b.price == 0).then_some(ts)
    }))
    .key_by(|b| b.auction)
    .window(Tumbling::millis(10))
    .aggregate(Count)
}

fn ends(ws: Vec<Window<u64, u64>>) -> Vec<(i64, u64)> {
    ws.into_iter().map(|w| (w.end.millis(), w.value)).collect()
}

/// Each watermark strategy in a running pipeline fires windows exactly when its rule says.
#[test]
fn watermark_strategies_fire_windows_when_their_rule_says() {
    // Ascending: W = max_seen - 1, so the element at 10 fires [0,10) and one at 9 is late.
    let mut h = harness(ascending);
    h.push::<0>(bid(1, 1, 5)).push::<0>(bid(1, 1, 9));
    assert_eq!(ends(h.output::<0>()), []);
    h.push::<0>(bid(1, 1, 10));
    assert_eq!(ends(h.output::<0>()), [(10, 2)]);
    h.push::<0>(bid(1, 1, 9));
    assert_eq!(h.output::<1>(), [bid(1, 1, 9)]);

    // Periodic over a 0 ms bound, in steps of 20 ms of event time: 4 first, then 24.
    let mut h = harness(periodic);
    h.push::<0>(bid(1, 1, 5))
        .push::<0>(bid(1, 1, 12))
        .push::<0>(bid(1, 1, 24));
    assert_eq!(ends(h.output::<0>()), [], "23 is not 20 past 4");
    h.push::<0>(bid(1, 1, 25));
    assert_eq!(ends(h.output::<0>()), [(10, 1), (20, 1)]);

    // Punctuated: only a marker (price 0) moves the watermark, to its own timestamp.
    let mut h = harness(punctuated);
    h.push::<0>(bid(1, 1, 5)).push::<0>(bid(1, 1, 50));
    assert_eq!(ends(h.output::<0>()), []);
    h.push::<0>(bid(2, 0, 30));
    assert_eq!(ends(h.output::<0>()), [(10, 1)]);
    h.finish();
    assert_eq!(ends(h.output::<0>()), [(40, 1), (60, 1)]);
}
