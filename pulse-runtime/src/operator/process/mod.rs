//! `process(f)`: a user function over a keyed stream with keyed state and timers.
//!
//! `f(ctx, x)` runs per element; `on_timer(ctx, timer)` runs when a timer the function set
//! fires: event-time timers when the watermark reaches them, processing-time timers when the
//! wall clock does. State lives in a [`StateTable`]: one value per key through
//! [`Context::state`], and any number of named [`ValueState`], [`ListState`], [`MapState`],
//! [`ReducingState`] and [`AggregatingState`] cells, each with an optional TTL.

mod context;
#[cfg(test)]
mod tests;

pub use context::Context;

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
