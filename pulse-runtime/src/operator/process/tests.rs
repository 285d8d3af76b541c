use std::time::Duration;

use super::*;
use crate::aggregate::Avg;
use crate::state::Ttl;

type Ctx<'a, O> = Context<'a, String, u32, O>;

fn run<O, F, G>(p: &mut Process<String, u32, u32, O, F, G>, xs: &[(&str, u32, i64)]) -> Vec<O>
where
    F: FnMut(&mut Ctx<'_, O>, u32),
    G: FnMut(&mut Ctx<'_, O>, Timer),
{
    let mut out = vec![];
    for &(k, x, ts) in xs {
        p.push((k.to_string(), x), ts, &mut |o, _| out.push(o));
    }
    out
}

#[test]
fn keeps_value_state_per_key() {
    let mut p = Process::new(
        |ctx: &mut Ctx<'_, (String, u32)>, x: u32| {
            let total = ctx.state_or_default();
            *total += x;
            let t = *total;
            let k = ctx.key().to_string();
            ctx.emit((k, t));
        },
        |_: &mut Ctx<'_, (String, u32)>, _| {},
    );
    let out = run(&mut p, &[("a", 1, 0), ("b", 5, 0), ("a", 2, 0)]);
    assert_eq!(out, [("a".into(), 1), ("b".into(), 5), ("a".into(), 3)]);
}

const LAST: ValueState<u32> = ValueState::new("last");
const SEEN: ListState<u32> = ListState::new("seen");
const BY_PARITY: MapState<bool, u32> = MapState::new("by_parity");
const MAX: ReducingState<u32> = ReducingState::new("max", |a, b| *a = (*a).max(b));
type Field = fn(&u32) -> u32;
const MEAN: AggregatingState<u32, Avg<Field>> = AggregatingState::new("mean", Avg(|x| *x));

#[derive(Debug, PartialEq)]
struct Seen {
    last: Option<u32>,
    list: Vec<u32>,
    odd: Option<u32>,
    max: u32,
    mean: Option<f64>,
}

#[test]
fn every_state_kind_keeps_per_key_values() {
    let mut p = Process::new(
        |ctx: &mut Ctx<'_, Seen>, x: u32| {
            let last = ctx.value(&LAST);
            ctx.set_value(&LAST, x);
            ctx.append(&SEEN, x);
            let n = ctx.map_get(&BY_PARITY, &(x % 2 == 1)).unwrap_or(0);
            ctx.map_insert(&BY_PARITY, x % 2 == 1, n + 1);
            let max = ctx.reduce(&MAX, x);
            ctx.aggregate(&MEAN, &x);
            let seen = Seen {
                last,
                list: ctx.list(&SEEN),
                odd: ctx.map_get(&BY_PARITY, &true),
                max,
                mean: ctx.aggregated(&MEAN),
            };
            ctx.emit(seen);
        },
        |_: &mut Ctx<'_, Seen>, _| {},
    );
    let out = run(
        &mut p,
        &[("a", 3, 0), ("b", 10, 0), ("a", 1, 0), ("a", 8, 0)],
    );
    assert_eq!(
        out[3],
        Seen {
            last: Some(1),
            list: vec![3, 1, 8],
            odd: Some(2),
            max: 8,
            mean: Some(4.0),
        }
    );
    assert_eq!(out[1].list, [10], "keys do not see each other's state");
    let mut q = Process::new(
        |ctx: &mut Ctx<'_, (Vec<u32>, Option<u32>)>, _x: u32| {
            ctx.clear_state(&SEEN);
            let (l, m) = (ctx.list(&SEEN), ctx.reduced(&MAX));
            ctx.emit((l, m));
        },
        |_: &mut Ctx<'_, (Vec<u32>, Option<u32>)>, _| {},
    );
    q.restore(&p.snapshot().unwrap().unwrap()).unwrap();
    let out = run(&mut q, &[("a", 0, 0)]);
    assert_eq!(out, [(vec![], Some(8))], "restored; the list was cleared");
}

const RECENT: ValueState<u32> =
    ValueState::new("recent").with_ttl(Ttl::after_write(Duration::from_secs(10)));

#[test]
fn ttl_hides_and_deletes_expired_state() {
    let mut p = Process::new(
        |ctx: &mut Ctx<'_, Option<u32>>, x: u32| {
            if x == 0 {
                let v = ctx.value(&RECENT);
                ctx.emit(v);
            } else {
                ctx.set_value(&RECENT, x);
            }
        },
        |_: &mut Ctx<'_, Option<u32>>, _| {},
    );
    p.on_processing_time(1_000, &mut |_, _| {});
    run(&mut p, &[("a", 7, 0)]);
    p.on_processing_time(10_999, &mut |_, _| {});
    assert_eq!(run(&mut p, &[("a", 0, 0)]), [Some(7)]);
    p.on_processing_time(11_000, &mut |_, _| {});
    assert_eq!(
        run(&mut p, &[("a", 0, 0)]),
        [None],
        "expired 10 s after the write"
    );
    assert_eq!(p.state_bytes(), 0, "reading the expired cell deleted it");
}

#[test]
fn event_time_timers_fire_in_order_when_the_watermark_passes() {
    let mut p = Process::new(
        |ctx: &mut Ctx<'_, (String, i64, u32)>, x: u32| {
            *ctx.state_or_default() += x;
            let at = ctx.timestamp().millis() + 100;
            ctx.set_event_timer(Timestamp::from_millis(at));
            ctx.set_event_timer(Timestamp::from_millis(at)); // the same timer once
            if x == 0 {
                ctx.delete_event_timer(Timestamp::from_millis(at));
            }
        },
        |ctx: &mut Ctx<'_, (String, i64, u32)>, t: Timer| {
            assert_eq!(t.domain, TimeDomain::EventTime);
            let total = ctx.state().take().unwrap_or(0);
            let k = ctx.key().clone();
            ctx.emit((k, t.time.millis(), total));
        },
    );
    run(
        &mut p,
        &[("a", 1, 50), ("b", 2, 10), ("a", 4, 60), ("c", 0, 0)],
    );
    assert_eq!(p.timers_pending(), 3);
    let mut out = vec![];
    p.on_watermark(149, &mut |o, ts| out.push((o, ts)));
    assert_eq!(
        out,
        [(("b".into(), 110, 2), 110)],
        "only b's timer is due at 149"
    );
    p.on_watermark(160, &mut |o, ts| out.push((o, ts)));
    assert_eq!(
        out[1..],
        [(("a".into(), 150, 5), 150), (("a".into(), 160, 0), 160)],
        "the first timer took the state"
    );
    assert_eq!(p.timers_pending(), 0, "c's timer was deleted");
}

#[test]
fn processing_time_timers_fire_on_the_wall_clock() {
    let mut p = Process::new(
        |ctx: &mut Ctx<'_, i64>, _x: u32| {
            let at = ctx.processing_time().millis() + 5_000;
            ctx.set_processing_timer(Timestamp::from_millis(at));
        },
        |ctx: &mut Ctx<'_, i64>, t: Timer| {
            assert_eq!(t.domain, TimeDomain::ProcessingTime);
            ctx.emit(t.time.millis());
        },
    );
    p.on_processing_time(1_000, &mut |_, _| {});
    run(&mut p, &[("a", 1, 77)]);
    let mut out = vec![];
    p.on_watermark(i64::MAX - 1, &mut |o, _| out.push(o));
    assert!(
        out.is_empty(),
        "the watermark does not fire processing-time timers"
    );
    p.on_processing_time(5_999, &mut |o, _| out.push(o));
    assert!(out.is_empty());
    p.on_processing_time(6_000, &mut |o, _| out.push(o));
    assert_eq!(out, [6_000]);
}

#[test]
fn restores_from_a_real_fjall_directory_and_evicts_past_the_budget() {
    use crate::checkpoint::{Checkpoint, CheckpointStore};
    let dir = tempfile::tempdir().unwrap();
    let counter = |ctx: &mut Ctx<'_, u32>, x: u32| {
        let n = ctx.state_or_default();
        *n += x;
        let n = *n;
        ctx.emit(n);
    };
    let keys: Vec<String> = (0..5_000).map(|i| format!("k{i}")).collect();
    let xs: Vec<(&str, u32, i64)> = (0..20_000)
        .map(|i| (keys[i % 5_000].as_str(), 1, 0))
        .collect();
    {
        let store = CheckpointStore::open(dir.path()).unwrap();
        let mut p = Process::new(counter, |_: &mut Ctx<'_, u32>, _| {});
        p.attach(store.backing("p/process").unwrap());
        run(&mut p, &xs[..10_000]);
        let full = p.state_bytes();
        let mut snap = crate::Snapshot::new();
        snap.insert("p/process".into(), p.snapshot().unwrap().unwrap());
        let cp = Checkpoint {
            id: 1,
            operators: vec![("p/process".into(), p.fingerprint())],
            ..Default::default()
        };
        store
            .write(&cp, &snap, &vec![("p/process".into(), p.take_dirty())])
            .unwrap();
        assert!(p.evict(full / 10) > 4_000, "clean cells go once written");
        assert!(p.state_bytes() <= full / 10);
        let out = run(&mut p, &xs[10_000..]);
        assert_eq!(
            out.iter().filter(|&&n| n == 4).count(),
            5_000,
            "evicted counts read back"
        );
    }
    let store = CheckpointStore::open(dir.path()).unwrap();
    let (cp, snap) = store.latest().unwrap().unwrap();
    assert_eq!(
        cp.operators[0].1,
        "process<key = alloc::string::String, state = u32>"
    );
    let mut p = Process::new(counter, |_: &mut Ctx<'_, u32>, _| {});
    p.attach(store.backing("p/process").unwrap());
    p.restore(&snap["p/process"]).unwrap();
    assert_eq!(p.state_bytes(), 0, "cells are read lazily");
    let out = run(&mut p, &xs[10_000..]);
    assert_eq!(
        out.iter().filter(|&&n| n == 4).count(),
        5_000,
        "the restored run continues from the checkpoint, not from the work lost after it"
    );
}
