//! `process(f)`: a user function over a keyed stream with keyed state and timers.
//!
//! `f(ctx, x)` runs per element; `on_timer(ctx, timer)` runs when a timer the function set
//! fires: event-time timers when the watermark reaches them, processing-time timers when the
//! wall clock does. State lives in a [`StateTable`]: one value per key through
//! [`Context::state`], and any number of named [`ValueState`], [`ListState`], [`MapState`],
//! [`ReducingState`] and [`AggregatingState`] cells, each with an optional TTL.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use super::{Node, Operator, decode, encode};
use crate::aggregate::Aggregate;
use crate::error::Result;
use crate::state::{
    AggregatingState, Backing, Key, ListState, MapState, ReducingState, StateDescriptor,
    StateTable, StateValue, TimeDomain, Timer, Timers, ValueState,
};
use crate::time::{MIN_WATERMARK, Timestamp};

/// The name of the value [`Context::state`] keeps; descriptors cannot use it.
const VALUE: &str = "";

/// What a `process` function sees: the current key and time, the key's state, its timers, and
/// where to emit outputs.
pub struct Context<'a, K: Key, S, O> {
    key: &'a K,
    ts: i64,
    wm: i64,
    value: Option<Option<S>>,
    key_bytes: Option<Vec<u8>>,
    table: &'a mut StateTable,
    timers: &'a mut Timers<K>,
    out: &'a mut Vec<O>,
}

impl<K: Key, S, O> Context<'_, K, S, O> {
    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The time outputs carry: the element's event time, or in `on_timer` the timer's time
    /// (for a processing-time timer, just past the current watermark).
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_millis(self.ts)
    }

    /// The operator's current watermark.
    pub fn watermark(&self) -> Timestamp {
        Timestamp::from_millis(self.wm)
    }

    /// Processing time: the wall clock as the operator last saw it.
    pub fn processing_time(&self) -> Timestamp {
        Timestamp::from_millis(self.table.now())
    }

    /// Emits an output element.
    pub fn emit(&mut self, o: O) {
        self.out.push(o)
    }

    // --- timers ---

    /// Calls `on_timer` for this key once the watermark reaches `at`.
    pub fn set_event_timer(&mut self, at: Timestamp) {
        self.timers
            .register(TimeDomain::EventTime, at.millis(), self.key)
    }

    /// Calls `on_timer` for this key once the wall clock reaches `at`.
    pub fn set_processing_timer(&mut self, at: Timestamp) {
        self.timers
            .register(TimeDomain::ProcessingTime, at.millis(), self.key)
    }

    /// Deletes this key's event-time timer at `at`.
    pub fn delete_event_timer(&mut self, at: Timestamp) {
        self.timers
            .delete(TimeDomain::EventTime, at.millis(), self.key)
    }

    /// Deletes this key's processing-time timer at `at`.
    pub fn delete_processing_timer(&mut self, at: Timestamp) {
        self.timers
            .delete(TimeDomain::ProcessingTime, at.millis(), self.key)
    }
}

impl<'a, K: Key, S: StateValue, O> Context<'a, K, S, O> {
    fn new(
        key: &'a K,
        ts: i64,
        wm: i64,
        table: &'a mut StateTable,
        timers: &'a mut Timers<K>,
        out: &'a mut Vec<O>,
    ) -> Self {
        Context {
            key,
            ts,
            wm,
            value: None,
            key_bytes: None,
            table,
            timers,
            out,
        }
    }

    fn cell(&mut self, name: &str) -> Vec<u8> {
        let kb = self.key_bytes.get_or_insert_with(|| {
            postcard::to_stdvec(self.key).expect("keys serialize with postcard")
        });
        StateTable::cell_key(name, kb)
    }

    fn load<T: StateValue>(&mut self, d: &impl StateDescriptor) -> Option<T> {
        self.table.check_type(d.name(), std::any::type_name::<T>());
        let cell = self.cell(d.name());
        self.table.get(&cell, d.ttl())
    }

    fn store<T: StateValue>(&mut self, d: &impl StateDescriptor, v: &T) {
        self.table.check_type(d.name(), std::any::type_name::<T>());
        let cell = self.cell(d.name());
        self.table.put(&cell, d.ttl(), v)
    }

    // --- the key's value ---

    /// The key's value, `None` until set.
    pub fn state(&mut self) -> &mut Option<S> {
        if self.value.is_none() {
            self.table.check_type(VALUE, std::any::type_name::<S>());
            let cell = self.cell(VALUE);
            self.value = Some(self.table.get(&cell, None));
        }
        self.value.as_mut().expect("loaded above")
    }

    /// The key's value, initialised with `S::default()` when absent.
    pub fn state_or_default(&mut self) -> &mut S
    where
        S: Default,
    {
        self.state().get_or_insert_with(S::default)
    }

    /// Clears the key's value.
    pub fn clear(&mut self) {
        self.value = Some(None);
    }

    // --- named state ---

    /// The key's value of `d`, unless unset or expired.
    pub fn value<T: StateValue>(&mut self, d: &ValueState<T>) -> Option<T> {
        self.load(d)
    }

    /// Sets the key's value of `d`.
    pub fn set_value<T: StateValue>(&mut self, d: &ValueState<T>, v: T) {
        self.store(d, &v)
    }

    /// The key's list `d`, oldest first (empty if unset or expired).
    pub fn list<T: StateValue>(&mut self, d: &ListState<T>) -> Vec<T> {
        self.load(d).unwrap_or_default()
    }

    /// Appends `v` to the key's list `d`.
    pub fn append<T: StateValue>(&mut self, d: &ListState<T>, v: T) {
        let mut list: Vec<T> = self.load(d).unwrap_or_default();
        list.push(v);
        self.store(d, &list)
    }

    /// Replaces the key's list `d`.
    pub fn set_list<T: StateValue>(&mut self, d: &ListState<T>, list: Vec<T>) {
        self.store(d, &list)
    }

    /// The key's map `d` (empty if unset or expired).
    pub fn map<MK: StateValue + Ord, MV: StateValue>(
        &mut self,
        d: &MapState<MK, MV>,
    ) -> BTreeMap<MK, MV> {
        self.load(d).unwrap_or_default()
    }

    /// The value under `k` in the key's map `d`.
    pub fn map_get<MK: StateValue + Ord, MV: StateValue>(
        &mut self,
        d: &MapState<MK, MV>,
        k: &MK,
    ) -> Option<MV> {
        self.map(d).remove(k)
    }

    /// Inserts `k -> v` into the key's map `d`, returning the value it replaced.
    pub fn map_insert<MK: StateValue + Ord, MV: StateValue>(
        &mut self,
        d: &MapState<MK, MV>,
        k: MK,
        v: MV,
    ) -> Option<MV> {
        let mut m = self.map(d);
        let old = m.insert(k, v);
        self.store(d, &m);
        old
    }

    /// Removes `k` from the key's map `d`, returning its value.
    pub fn map_remove<MK: StateValue + Ord, MV: StateValue>(
        &mut self,
        d: &MapState<MK, MV>,
        k: &MK,
    ) -> Option<MV> {
        let mut m = self.map(d);
        let old = m.remove(k);
        if old.is_some() {
            self.store(d, &m);
        }
        old
    }

    /// Folds `v` into the key's reduced value of `d` and returns the new value.
    pub fn reduce<T: StateValue>(&mut self, d: &ReducingState<T>, v: T) -> T {
        let acc = match self.load::<T>(d) {
            Some(mut acc) => {
                (d.reduce)(&mut acc, v);
                acc
            }
            None => v,
        };
        self.store(d, &acc);
        acc
    }

    /// The key's reduced value of `d`.
    pub fn reduced<T: StateValue>(&mut self, d: &ReducingState<T>) -> Option<T> {
        self.load(d)
    }

    /// Adds `x` to the key's accumulator of `d`.
    pub fn aggregate<T, A: Aggregate<T>>(&mut self, d: &AggregatingState<T, A>, x: &T) {
        let mut acc = self.load(d).unwrap_or_else(|| d.agg.init());
        d.agg.add(&mut acc, x, self.ts);
        self.store(d, &acc)
    }

    /// The result of the key's accumulator of `d`, if anything was added.
    pub fn aggregated<T, A: Aggregate<T>>(&mut self, d: &AggregatingState<T, A>) -> Option<A::Out> {
        let acc: A::Acc = self.load(d)?;
        Some(d.agg.result(&acc))
    }

    /// Deletes the key's state `d`.
    pub fn clear_state(&mut self, d: &impl StateDescriptor) {
        let cell = self.cell(d.name());
        self.table.remove(&cell)
    }

    /// Writes back the value if the function touched it.
    fn settle(mut self) {
        if let Some(v) = self.value.take() {
            let cell = self.cell(VALUE);
            match v {
                Some(s) => self.table.put(&cell, None, &s),
                None => self.table.remove(&cell),
            }
        }
    }
}

/// The `on_timer` of a `process` without one: timers are never set, so it never runs.
pub type NoTimers<K, S, O> = for<'a, 'b> fn(&'a mut Context<'b, K, S, O>, Timer);

/// A keyed process function with state and timers.
pub struct Process<K: Key, T, S, O, F, G> {
    f: F,
    on_timer: G,
    table: StateTable,
    timers: Timers<K>,
    wm: i64,
    last_ts: i64,
    buf: Vec<O>,
    _t: PhantomData<fn(T, S)>,
}

impl<K, T, S, O, F, G> Process<K, T, S, O, F, G>
where
    K: Key,
    S: StateValue,
    F: FnMut(&mut Context<'_, K, S, O>, T),
    G: FnMut(&mut Context<'_, K, S, O>, Timer),
{
    /// Runs `f` per element and `on_timer` per fired timer.
    pub fn new(f: F, on_timer: G) -> Self {
        Process {
            f,
            on_timer,
            table: StateTable::new(),
            timers: Timers::default(),
            wm: MIN_WATERMARK,
            last_ts: MIN_WATERMARK,
            buf: Vec::new(),
            _t: PhantomData,
        }
    }

    /// Runs `body` (given `f` and `on_timer`) in a context for `key` at `ts`, then writes back
    /// the key's value and emits what was emitted, at `ts`.
    #[inline(always)]
    fn run(
        &mut self,
        key: &K,
        ts: i64,
        out: &mut impl FnMut(O, i64),
        body: impl FnOnce(&mut F, &mut G, &mut Context<'_, K, S, O>),
    ) {
        let mut ctx = Context::new(
            key,
            ts,
            self.wm,
            &mut self.table,
            &mut self.timers,
            &mut self.buf,
        );
        body(&mut self.f, &mut self.on_timer, &mut ctx);
        ctx.settle();
        for o in self.buf.drain(..) {
            out(o, ts)
        }
    }

    /// Runs `f` for one element and emits what it emitted, at the element's time.
    #[inline(always)]
    pub fn push(&mut self, (k, x): (K, T), ts: i64, out: &mut impl FnMut(O, i64)) {
        self.run(&k, ts, out, |f, _, ctx| f(ctx, x));
        self.last_ts = self.last_ts.max(ts);
    }

    fn fire(&mut self, domain: TimeDomain, until: i64, out: &mut impl FnMut(O, i64)) {
        while let Some((at, k)) = self.timers.pop_due(domain, until) {
            let ts = match domain {
                TimeDomain::EventTime => at,
                TimeDomain::ProcessingTime => self.wm.saturating_add(1).max(self.last_ts),
            };
            let timer = Timer {
                time: Timestamp::from_millis(at),
                domain,
            };
            self.run(&k, ts, out, |_, on_timer, ctx| on_timer(ctx, timer));
        }
    }

    /// Fires the event-time timers `w` reaches, in time order.
    pub fn on_watermark(&mut self, w: i64, out: &mut impl FnMut(O, i64)) {
        self.wm = self.wm.max(w);
        self.fire(TimeDomain::EventTime, w, out);
    }

    /// Moves processing time to `now`: fires the processing-time timers it reaches, and
    /// expires state whose TTL passed.
    pub fn on_processing_time(&mut self, now: i64, out: &mut impl FnMut(O, i64)) {
        self.table.set_now(now);
        let now = self.table.now();
        self.fire(TimeDomain::ProcessingTime, now, out);
    }

    /// Timers set and not yet fired.
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    /// Bytes of state in memory.
    pub fn state_in_memory(&self) -> usize {
        self.table.bytes()
    }
}

impl<K: Key, T, S, O, F, G> Node for Process<K, T, S, O, F, G> {
    type Out = O;
}

impl<K: Key, T, S: StateValue, O, F, G> Operator for Process<K, T, S, O, F, G> {
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        encode(&(self.table.save()?, &self.timers, self.wm, self.last_ts))
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let (table, timers, wm, last_ts): (Vec<u8>, Timers<K>, i64, i64) = decode(bytes)?;
        self.table.load(&table)?;
        self.timers = timers;
        self.wm = wm;
        self.last_ts = last_ts;
        Ok(())
    }
    fn fingerprint(&self) -> String {
        format!(
            "process<key = {}, state = {}>",
            std::any::type_name::<K>(),
            std::any::type_name::<S>()
        )
    }
    fn identify(&mut self, id: &str) {
        self.table.set_label(id)
    }
    fn attach(&mut self, backing: Backing) {
        self.table.attach(backing)
    }
    fn take_dirty(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.table.sweep_expired();
        self.table.take_dirty()
    }
    fn state_bytes(&self) -> usize {
        self.table.bytes()
    }
    fn evict(&mut self, budget: usize) -> usize {
        self.table.evict(budget)
    }
}

#[cfg(test)]
mod tests {
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
}
