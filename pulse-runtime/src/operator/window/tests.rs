use super::*;
use crate::aggregate::{Count, Sum};
use crate::window::{Session, Sliding, Tumbling};

type Out = Vec<(String, i64, i64, u64, i64)>;

struct H<W: WindowAssigner> {
    op: WindowAggregate<String, i64, Count, W>,
    out: Out,
    late: Vec<i64>,
}

impl<W: WindowAssigner> H<W> {
    fn new(w: W, lateness: i64) -> Self {
        H {
            op: WindowAggregate::new(w, lateness, Count),
            out: vec![],
            late: vec![],
        }
    }
    fn push(&mut self, k: &str, ts: i64) {
        let (out, late) = (&mut self.out, &mut self.late);
        self.op.push(
            (k.to_string(), ts),
            ts,
            &mut |w, t| out.push((w.key, w.start.millis(), w.end.millis(), w.value, t)),
            &mut |x, _| late.push(x),
        );
    }
    fn wm(&mut self, w: i64) {
        let out = &mut self.out;
        self.op.on_watermark(w, &mut |w, t| {
            out.push((w.key, w.start.millis(), w.end.millis(), w.value, t))
        });
    }
    fn take(&mut self) -> Out {
        std::mem::take(&mut self.out)
    }
}

fn r(k: &str, s: i64, e: i64, n: u64) -> (String, i64, i64, u64, i64) {
    (k.into(), s, e, n, e - 1)
}

#[test]
fn a_span_holds_exactly_its_timestamps() {
    let s = Span::new(10, 20);
    assert!(s.contains(10) && s.contains(19));
    assert!(!s.contains(9) && !s.contains(20) && !s.contains(i64::MIN) && !s.contains(i64::MAX));
    assert!(
        !Span::EMPTY.contains(0),
        "the empty span before any element"
    );
    // Where `hi - lo` overflows the span is shorter than asked, never longer.
    let wide = Span::new(-10, i64::MAX);
    assert!(wide.contains(-10) && wide.contains(0) && !wide.contains(-11));
    let all = Span::new(i64::MIN, i64::MAX);
    assert!(all.contains(i64::MIN) && !all.contains(i64::MAX));
    assert!(!Span::new(5, 5).contains(5) && !Span::new(5, 4).contains(5));
}

#[test]
fn elements_at_the_ends_of_time_find_their_windows() {
    let mut h = H::new(Tumbling::millis(10), 0);
    h.push("a", i64::MAX - 1);
    h.push("a", i64::MIN + 1);
    h.push("b", i64::MAX - 1);
    h.wm(i64::MAX - 1);
    let out = h.take();
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(h.late.is_empty());
}

#[test]
fn fires_exactly_at_end_minus_one() {
    let mut h = H::new(Tumbling::millis(10), 0);
    h.push("a", 9); // end - 1: inside [0, 10)
    h.push("a", 10); // end: next window
    h.wm(8);
    assert_eq!(h.take(), [], "W = end - 2 does not fire");
    h.wm(9);
    assert_eq!(h.take(), [r("a", 0, 10, 1)], "W = end - 1 fires");
    h.wm(19);
    assert_eq!(h.take(), [r("a", 10, 20, 1)]);
}

#[test]
fn lateness_limit_is_inclusive() {
    let mut h = H::new(Tumbling::millis(10), 5);
    h.push("a", 3);
    h.wm(9);
    assert_eq!(h.take(), [r("a", 0, 10, 1)]);
    h.wm(13); // end - 1 + L = 14 not reached: state kept
    h.push("a", 4);
    assert_eq!(
        h.take(),
        [r("a", 0, 10, 2)],
        "late within lateness re-emits"
    );
    h.wm(14); // W = end - 1 + L: state dropped
    h.push("a", 5);
    assert_eq!(h.take(), [], "no re-emission after cleanup");
    assert_eq!(h.late, [5], "beyond lateness goes to the late output");
    assert_eq!(h.op.late_dropped(), 1);
    assert_eq!(h.op.open_windows(), 0);
}

#[test]
fn zero_lateness_element_at_watermark_is_late() {
    let mut h = H::new(Tumbling::millis(10), 0);
    h.wm(9);
    h.push("a", 9);
    assert_eq!(h.late, [9], "window [0,10) fired at W=9 and was dropped");
    h.push("a", 10);
    assert!(h.late.len() == 1, "ts 10 belongs to [10,20), not late");
}

#[test]
fn sliding_late_only_if_all_windows_late() {
    let mut h = H::new(Sliding::millis(10, 5), 0);
    h.wm(9); // [0,10) closed; [5,15) open
    h.push("a", 7);
    assert!(h.late.is_empty());
    h.wm(14);
    assert_eq!(h.take(), [r("a", 5, 15, 1)]);
}

#[test]
fn results_ordered_by_key() {
    let mut h = H::new(Tumbling::millis(10), 0);
    for k in ["c", "a", "b", "a"] {
        h.push(k, 1);
    }
    h.wm(i64::MAX);
    assert_eq!(
        h.take(),
        [r("a", 0, 10, 2), r("b", 0, 10, 1), r("c", 0, 10, 1)]
    );
}

#[test]
fn sessions_merge_and_fire_at_gap() {
    let mut h = H::new(Session::millis(10), 0);
    h.push("a", 0);
    h.push("a", 5); // [0,15)
    h.push("a", 30); // [30,40)
    h.wm(13);
    assert_eq!(h.take(), []);
    h.wm(14);
    assert_eq!(h.take(), [r("a", 0, 15, 2)]);
    h.wm(39);
    assert_eq!(h.take(), [r("a", 30, 40, 1)]);
}

#[test]
fn late_element_bridges_two_sessions() {
    let mut h = H::new(Session::millis(10), 100);
    h.push("a", 0); // [0,10)
    h.push("a", 18); // [18,28)
    h.wm(30); // both fired, kept for lateness
    assert_eq!(h.take(), [r("a", 0, 10, 1), r("a", 18, 28, 1)]);
    h.push("a", 9); // [9,19) touches both: one session [0,28)
    assert_eq!(h.take(), [r("a", 0, 28, 3)]);
    assert_eq!(h.op.open_windows(), 1);
    h.wm(i64::MAX);
    assert_eq!(h.op.open_windows(), 0);
}

/// The example: gap 2 s, lateness 1.5 s, watermark bound 500 ms. Each element
/// advances the watermark to `ts - 501` before the next; 10.1 s comes when the watermark is
/// 15.499 s, past its own window's cleanup (13.599 s) but inside the retained session
/// `[10.0, 18.0)`, which has not even fired.
#[test]
fn an_element_inside_a_retained_session_joins_it() {
    let mut h = H::new(Session::millis(2000), 1500);
    for ts in [10_000, 11_500, 13_000, 14_500, 16_000] {
        h.push("a", ts);
        h.wm(ts - 501);
    }
    h.push("a", 10_100);
    assert_eq!(h.late, Vec::<i64>::new());
    h.wm(i64::MAX);
    assert_eq!(h.take(), [r("a", 10_000, 18_000, 6)]);
}

#[test]
fn a_late_element_inside_a_fired_session_re_emits_it() {
    let mut h = H::new(Session::millis(10), 5);
    for ts in [0, 10, 20] {
        h.push("a", ts); // [0,30)
    }
    h.wm(30); // fired, kept until 29 + 5 = 34
    assert_eq!(h.take(), [r("a", 0, 30, 3)]);
    // [3,13) alone is past its cleanup (12 + 5 = 17), inside [0,30) it is not.
    h.push("a", 3);
    assert_eq!(h.late, Vec::<i64>::new());
    assert_eq!(h.take(), [r("a", 0, 30, 4)]);
    h.wm(34);
    h.push("a", 4);
    assert_eq!(h.late, [4], "the session is cleaned up at 34");
}

#[test]
fn a_late_element_that_touches_a_sessions_end_joins_it() {
    let mut h = H::new(Session::millis(10), 5);
    h.push("a", 10); // [10,20)
    h.wm(19);
    assert_eq!(h.take(), [r("a", 10, 20, 1)]);
    // [0,10) touches [10,20) at 10; its own cleanup (9 + 5) is long past.
    h.wm(20);
    h.push("a", 0);
    assert_eq!(h.late, Vec::<i64>::new());
    assert_eq!(h.take(), [r("a", 0, 20, 2)]);
    // [-11,-1) touches nothing retained: late.
    h.push("a", -11);
    assert_eq!(h.late, [-11]);
}

#[test]
fn a_late_element_whose_session_was_cleaned_up_is_late() {
    let mut h = H::new(Session::millis(10), 5);
    h.push("a", 10); // [10,20), cleanup at 19 + 5 = 24
    h.wm(24);
    assert_eq!(h.take(), [r("a", 10, 20, 1)]);
    assert_eq!(h.op.open_windows(), 0);
    h.push("a", 9); // [9,19) would have touched it; the session is gone
    h.push("b", 5); // another key's session never existed
    assert_eq!(h.late, [9, 5]);
    assert_eq!(h.take(), []);
    // One millisecond earlier the session is still there and takes the element.
    let mut h = H::new(Session::millis(10), 5);
    h.push("a", 10);
    h.wm(23);
    h.take();
    h.push("a", 9);
    assert_eq!(h.late, Vec::<i64>::new());
    assert_eq!(h.take(), [r("a", 9, 20, 2)]);
}

#[test]
fn snapshot_restore_continues_identically() {
    let mut a = H::new(Session::millis(10), 0);
    let mut b = H::new(Session::millis(10), 0);
    for t in [0, 4, 30] {
        a.push("x", t);
    }
    a.wm(20);
    let bytes = a.op.snapshot().unwrap().unwrap();
    b.op.restore(&bytes).unwrap();
    for h in [&mut a, &mut b] {
        h.take();
        h.push("x", 35);
        h.wm(i64::MAX);
    }
    assert_eq!(a.take(), b.take());
}

#[test]
fn panes_evicted_to_fjall_come_back_for_elements_firing_and_restore() {
    use crate::checkpoint::CheckpointStore;
    type Op = WindowAggregate<u32, i64, Count, Sliding>;
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path()).unwrap();
    // Every element lands in ten panes, kept 1000 ms past their end.
    let new = || Op::new(Sliding::millis(100, 10), 1000, Count);
    let mut spilled = new();
    spilled.identify("w");
    spilled.attach(store.backing("w").unwrap());
    let mut memory = new();
    let (mut a, mut b) = (vec![], vec![]);
    let push = |op: &mut Op, out: &mut Vec<Window<u32, u64>>, ts: i64, k: u32| {
        op.push((k, ts), ts, &mut |w, _| out.push(w), &mut |_, _| {});
    };
    let checkpoint = |op: &mut Op, id: u64| crate::operator::write_checkpoint(&store, id, "w", op);
    let mut evicted = 0;
    for round in 0..6i64 {
        for i in 0..3_000i64 {
            let ts = round * 300 + i % 300;
            push(&mut spilled, &mut a, ts, (i * 7 % 400) as u32);
            push(&mut memory, &mut b, ts, (i * 7 % 400) as u32);
        }
        checkpoint(&mut spilled, round as u64 + 1);
        let before = spilled.state_bytes();
        evicted += spilled.evict(before / 5);
        assert!(
            spilled.state_bytes() <= before / 5,
            "within the budget after eviction"
        );
        let wm = round * 300 + 150;
        spilled.on_watermark(wm, &mut |w, _| a.push(w));
        memory.on_watermark(wm, &mut |w, _| b.push(w));
        assert_eq!(
            a, b,
            "round {round}: evicted panes fire and update as resident ones"
        );
    }
    assert!(evicted > 50, "only {evicted} panes left memory");
    // A restart from the last checkpoint reads every pane back lazily.
    checkpoint(&mut spilled, 7);
    let (_, snap) = store.latest().unwrap().unwrap();
    let mut restored = new();
    restored.attach(store.backing("w").unwrap());
    restored.restore(&snap["w"]).unwrap();
    assert_eq!(restored.open_windows(), 0, "nothing read back yet");
    let (mut c, mut d) = (vec![], vec![]);
    restored.on_watermark(i64::MAX, &mut |w, _| c.push(w));
    memory.on_watermark(i64::MAX, &mut |w, _| d.push(w));
    assert!(!d.is_empty());
    assert_eq!(c, d);
}

#[test]
fn sessions_evicted_to_fjall_merge_fire_and_restore_as_resident_ones() {
    use crate::checkpoint::CheckpointStore;
    type Op = WindowAggregate<u32, i64, Count, Session>;
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path()).unwrap();
    let new = || Op::new(Session::millis(50), 200, Count);
    let mut spilled = new();
    spilled.attach(store.backing("s").unwrap());
    let mut memory = new();
    let checkpoint = |op: &mut Op, id: u64| crate::operator::write_checkpoint(&store, id, "s", op);
    let (mut a, mut b) = (vec![], vec![]);
    let mut evicted = 0;
    for round in 0..6i64 {
        for i in 0..4_000i64 {
            // 2000 keys, each active every other round, with gaps that merge and split.
            let k = (i % 2_000) as u32;
            if (i64::from(k) + round) % 2 == 0 {
                continue;
            }
            let ts = round * 100 + (i * 13) % 90;
            spilled.push((k, ts), ts, &mut |w, _| a.push(w), &mut |_, _| {});
            memory.push((k, ts), ts, &mut |w, _| b.push(w), &mut |_, _| {});
        }
        checkpoint(&mut spilled, round as u64 + 1);
        let before = spilled.state_bytes();
        evicted += spilled.evict(before / 4);
        assert!(spilled.state_bytes() <= before / 4);
        let wm = round * 100 + 20;
        spilled.on_watermark(wm, &mut |w, _| a.push(w));
        memory.on_watermark(wm, &mut |w, _| b.push(w));
        assert!(
            a == b,
            "round {round}: {} results against {}",
            a.len(),
            b.len()
        );
    }
    assert!(evicted > 1_000, "only {evicted} keys' sessions left memory");
    checkpoint(&mut spilled, 7);
    let (_, snap) = store.latest().unwrap().unwrap();
    let mut restored = new();
    restored.attach(store.backing("s").unwrap());
    restored.restore(&snap["s"]).unwrap();
    let (mut c, mut d) = (vec![], vec![]);
    restored.on_watermark(i64::MAX, &mut |w, _| c.push(w));
    memory.on_watermark(i64::MAX, &mut |w, _| d.push(w));
    assert!(!d.is_empty());
    assert!(
        c == d,
        "the restored operator reads its sessions back from fjall: {} results against {}",
        c.len(),
        d.len()
    );
}

#[test]
fn sum_over_keyed_pairs() {
    let mut op = WindowAggregate::<u8, i64, _, _>::new(Tumbling::millis(10), 0, Sum(|x: &i64| *x));
    let mut got = vec![];
    for (k, v) in [(1, 5), (1, 6), (2, 1)] {
        op.push((k, v), 0, &mut |w, _| got.push(w), &mut |_, _| {});
    }
    op.on_watermark(9, &mut |w, _| got.push(w));
    assert_eq!(
        got.iter().map(|w| (w.key, w.value)).collect::<Vec<_>>(),
        [(1, 11), (2, 1)]
    );
}

/// A pre-aggregating worker splits a window's partials by owner as elements arrive, and
/// starts the next window's maps at the sizes of the last one sent.
#[test]
fn partials_are_split_by_owner_and_sized_after_the_last_window() {
    let mut w = WindowAggregate::<u64, u64, Count, _>::new(Tumbling::millis(10), 0, Count);
    assert!(Combiner::configure(&mut w, 0, 2, None));
    for k in 0..1000 {
        w.push(
            (k, 0),
            1,
            &mut |_, _| panic!("nothing fires"),
            &mut |_, _| {},
        );
    }
    let mut sent: Vec<(usize, Box<dyn Any + Send>)> = vec![];
    w.take_partials(9, false, &mut |to, b| sent.push((to, b)));
    let mut sizes = [0; 2];
    for (to, mut b) in sent {
        for p in b
            .downcast_mut::<Vec<Partial<u64, u64>>>()
            .unwrap()
            .drain(..)
        {
            assert!(p.keys.keys().all(|k| owner(k, 2) == to), "worker {to}");
            sizes[to] += p.keys.len();
        }
    }
    assert_eq!(sizes[0] + sizes[1], 1000);
    assert!(sizes.iter().all(|&n| n > 300), "{sizes:?}");
    w.push((7, 0), 11, &mut |_, _| {}, &mut |_, _| {});
    let c = w.combine.as_mut().unwrap();
    let (_, shards) = c.partials.get(&20).unwrap();
    for (shard, n) in shards.iter().zip(sizes) {
        assert!(shard.capacity() >= n, "{} < {n}", shard.capacity());
    }
}

/// Two workers pre-aggregating, each reading part of the elements: the owners' merged
/// results (fired, and re-fired inside the lateness) and the late elements are those of one
/// operator reading everything under the same watermarks.
#[test]
fn combining_workers_give_one_operators_results() {
    type Row = (String, i64, i64, u64, i64);
    let new = || WindowAggregate::<String, i64, Count, _>::new(Sliding::millis(10, 5), 5, Count);
    let mut workers = [new(), new()];
    for (me, w) in workers.iter_mut().enumerate() {
        assert!(Combiner::configure(w, me, 2, None));
    }
    let mut one = new();
    let (mut got, mut want): (Vec<Row>, Vec<Row>) = (vec![], vec![]);
    let (mut got_late, mut want_late) = (vec![], vec![]);
    let row =
        |w: Window<String, u64>, t: i64| (w.key, w.start.millis(), w.end.millis(), w.value, t);
    // Rounds of (reader, key, ts), then the watermark both readers publish.
    type Round<'a> = (&'a [(usize, &'a str, i64)], i64);
    let rounds: [Round; 5] = [
        (
            &[
                (0, "a", 1),
                (1, "a", 2),
                (0, "b", 3),
                (1, "c", 7),
                (1, "b", 12),
            ],
            4,
        ),
        (&[(0, "c", 8), (1, "a", 13), (0, "d", 9)], 14),
        // Inside the lateness of [5, 15) and [0, 10) (cleanup at 14 + 5 and 9 + 5).
        (&[(1, "a", 9), (0, "c", 11), (1, "d", 6)], 16),
        // ts 4 only falls in [0, 10), cleaned up at 14: late, at its reader.
        (&[(0, "b", 4), (1, "e", 21), (0, "e", 24)], 30),
        (&[(1, "b", 31)], i64::MAX),
    ];
    for (elements, wm) in rounds {
        for &(reader, k, ts) in elements {
            let (g, l) = (&mut got, &mut got_late);
            workers[reader].push(
                (k.into(), ts),
                ts,
                &mut |w, t| g.push(row(w, t)),
                &mut |x, _| l.push(x),
            );
            let (o, l) = (&mut want, &mut want_late);
            one.push(
                (k.into(), ts),
                ts,
                &mut |w, t| o.push(row(w, t)),
                &mut |x, _| l.push(x),
            );
        }
        let mut sent: Vec<(usize, Box<dyn Any + Send>)> = vec![];
        for w in workers.iter_mut() {
            w.take_partials(wm, false, &mut |to, b| sent.push((to, b)));
        }
        for (to, mut b) in sent {
            let batch = b.downcast_mut::<Vec<Partial<String, u64>>>().unwrap();
            for p in batch.drain(..) {
                workers[to].merge(p, &mut |w, t| got.push(row(w, t)));
            }
        }
        for w in workers.iter_mut() {
            w.on_watermark(wm, &mut |w, t| got.push(row(w, t)));
        }
        one.on_watermark(wm, &mut |w, t| want.push(row(w, t)));
    }
    assert!(
        want.iter()
            .filter(|r| (r.0.as_str(), r.1, r.2) == ("a", 5, 15))
            .map(|r| r.3)
            .eq([1, 2]),
        "a re-fired result is covered: {want:?}"
    );
    assert_eq!(want_late, [4]);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(got_late, want_late);
    assert_eq!(workers.iter().map(|w| w.late_dropped()).sum::<u64>(), 1);
    assert!(workers.iter().all(
        |w| w.open_windows() == 0 && w.combine.as_ref().unwrap().partials.first_key().is_none()
    ));
}
