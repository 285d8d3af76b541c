//! `window(assigner).aggregate(agg)`: keyed event-time windows with allowed lateness.
//!
//! A window `[start, end)` fires when the watermark `W >= end - 1`; its state is kept until
//! `W >= end - 1 + lateness`. An element for a fired window inside the lateness updates it and
//! re-emits the result at once; an element all of whose windows are past cleanup goes to the
//! late output.
//!
//! Aligned windows (one piece per end) and session windows (one piece per key) are [`Panes`]:
//! with checkpoints on, each piece is a cell in fjall, written when it changed and evicted past
//! the memory budget. The index of session ends stays in memory and in every checkpoint.
//!
//! In a parallel run an aligned window is also a [`Combiner`]: each worker pre-aggregates what
//! it read, and owners merge the partials ([`WindowAggregate::merge`]).

use std::any::Any;
use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::marker::PhantomData;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::key_by::owner;
use super::order::KeyOrder;
use super::panes::SavedPanes;
use super::{Combiner, Found, Node, Operator, PaneState, Panes, decode, encode};
use crate::aggregate::Aggregate;
use crate::error::Result;
use crate::state::{Backing, Key, StateValue};
use crate::time::{MIN_WATERMARK, Timestamp};
use crate::window::{Window, WindowAssigner};

mod combine;
mod fire;
mod session;
#[cfg(test)]
mod tests;

/// Per-key accumulators of one window, hashed with aHash (keys are not adversarial input to a
/// server, and SipHash was the largest cost of the window's hot path).
type KeyMap<K, V> = HashMap<K, V, ahash::RandomState>;

#[derive(Serialize, Deserialize)]
struct SessionWin<A> {
    start: i64,
    end: i64,
    acc: A,
}

impl<Acc: crate::state::StateValue> PaneState for Vec<SessionWin<Acc>> {
    fn bytes(&self) -> usize {
        24 + self.capacity() * std::mem::size_of::<SessionWin<Acc>>()
    }
}

#[derive(Serialize, Deserialize)]
struct State {
    wm: i64,
    late: u64,
}

/// A window's accumulators by key, with its start.
type Pane<K, Acc> = (i64, KeyMap<K, Acc>);

/// A snapshot: state, panes, sessions, the index of session ends, and in a pre-aggregating
/// worker the watermark it last published (its elements are judged late against it).
type Saved<K, Acc> = (
    State,
    SavedPanes<i64, Pane<K, Acc>>,
    SavedPanes<K, Vec<SessionWin<Acc>>>,
    BTreeMap<i64, BTreeSet<(K, i64)>>,
    Option<i64>,
);

/// One window's partial accumulators, pre-aggregated by one worker, for the keys another
/// worker (or this one) owns.
pub struct Partial<K, Acc> {
    end: i64,
    start: i64,
    keys: KeyMap<K, Acc>,
}

/// A window's partial accumulators on a pre-aggregating worker, with its start: one map per
/// worker, of the keys that worker owns. An element goes straight to its owner's map, so a
/// closed window is sent map by map, as it is.
type Shards<K, Acc> = (i64, Vec<KeyMap<K, Acc>>);

/// This worker's pre-aggregation in a parallel run (see [`Combiner`]).
struct Combine<K, Acc> {
    /// Keys per owner (one entry per worker) in the window sent last: a new window's maps start
    /// that large, rather than growing to it by rehashing.
    sizes: Vec<usize>,
    /// The watermark this worker last published at the `key_by`: elements are late against it,
    /// unless the run is ordered.
    wm: i64,
    /// In an ordered run, this worker's watermark at the `key_by` as it moves: the whole
    /// input's watermark before each element, which it is judged against.
    local: Option<Rc<Cell<i64>>>,
    /// Partial accumulators by window end, not yet sent.
    partials: Panes<i64, Shards<K, Acc>>,
}

/// The windowed aggregate of a keyed stream.
pub struct WindowAggregate<K: Key, T, A: Aggregate<T>, W> {
    assigner: W,
    agg: A,
    lateness: i64,
    st: State,
    /// Aligned windows by end.
    aligned: Panes<i64, Pane<K, A::Acc>>,
    /// Session windows by key.
    sessions: Panes<K, Vec<SessionWin<A::Acc>>>,
    /// Session windows by end: (key, start).
    session_index: BTreeMap<i64, BTreeSet<(K, i64)>>,
    /// The aligned windows of the last element's timestamp, and the timestamps they are the
    /// windows of: elements come mostly in order, so most skip the assigner's division.
    assigned: Vec<Assigned>,
    assigned_for: Span,
    /// The windows assigned before those: near a window's end, disorder makes elements take
    /// turns between two.
    before: Vec<Assigned>,
    before_for: Span,
    /// A firing window's keys, to sort. Kept between firings: a fresh buffer the size of a
    /// large window is a fresh mapping from the allocator, paid for in page faults.
    firing: Vec<(K, A::Acc)>,
    /// Puts a firing window's keys in order.
    order: KeyOrder,
    combine: Option<Combine<K, A::Acc>>,
    _t: PhantomData<fn(T)>,
}

/// An aligned window an element belongs to, with the watermark that drops its state and where
/// its piece was found last.
#[derive(Clone, Copy)]
struct Assigned {
    start: i64,
    end: i64,
    cleanup: i64,
    found: Found,
}

/// The timestamps `[lo, lo + len)`, tested with one subtraction and one comparison.
#[derive(Clone, Copy)]
struct Span {
    lo: i64,
    len: u64,
}

impl Span {
    const EMPTY: Span = Span { lo: 0, len: 0 };

    fn new(lo: i64, hi: i64) -> Self {
        Span {
            lo,
            len: hi.saturating_sub(lo).max(0) as u64,
        }
    }

    #[inline(always)]
    fn contains(self, ts: i64) -> bool {
        (ts.wrapping_sub(self.lo) as u64) < self.len
    }
}

#[inline(always)]
fn cleanup_time(end: i64, lateness: i64) -> i64 {
    (end - 1).saturating_add(lateness)
}

impl<K: Key, T, A: Aggregate<T>, W: WindowAssigner> WindowAggregate<K, T, A, W> {
    /// Windows by `assigner`, aggregated by `agg`, keeping state `lateness` ms past the end.
    pub fn new(assigner: W, lateness: i64, agg: A) -> Self {
        WindowAggregate {
            assigner,
            agg,
            lateness: lateness.max(0),
            st: State {
                wm: MIN_WATERMARK,
                late: 0,
            },
            aligned: Panes::new("pane"),
            sessions: Panes::new("sessions"),
            session_index: BTreeMap::new(),
            assigned: Vec::new(),
            assigned_for: Span::EMPTY,
            before: Vec::new(),
            before_for: Span::EMPTY,
            firing: Vec::new(),
            order: KeyOrder::default(),
            combine: None,
            _t: PhantomData,
        }
    }

    /// Adds one keyed element; emits re-fired results through `out`, late elements through `late`.
    #[inline(always)]
    pub fn push(
        &mut self,
        (k, x): (K, T),
        ts: i64,
        out: &mut impl FnMut(Window<K, A::Out>, i64),
        late: &mut impl FnMut(T, i64),
    ) {
        if let Some(gap) = self.assigner.session_gap() {
            return self.push_session(k, x, ts, gap, out, late);
        }
        if !self.assigned_for.contains(ts) {
            std::mem::swap(&mut self.assigned, &mut self.before);
            std::mem::swap(&mut self.assigned_for, &mut self.before_for);
            if !self.assigned_for.contains(ts) {
                self.assigned.clear();
                let (windows, lateness) = (&mut self.assigned, self.lateness);
                self.assigner.assign(ts, |start, end| {
                    windows.push(Assigned {
                        start,
                        end,
                        cleanup: cleanup_time(end, lateness),
                        found: Found::default(),
                    })
                });
                let (lo, hi) = self.assigner.same_windows(ts);
                self.assigned_for = Span::new(lo, hi);
            }
        }
        let (assigned, agg) = (&mut self.assigned, &self.agg);
        let accepted = match &mut self.combine {
            None => add::<K, T, A, _, true>(
                assigned,
                self.st.wm,
                agg,
                &mut self.aligned,
                KeyMap::default,
                &k,
                &x,
                ts,
                out,
            ),
            // Pre-aggregating, elements go to this worker's partials, never straight out.
            Some(c) => {
                let sizes = &c.sizes;
                let shards = || {
                    sizes
                        .iter()
                        .map(|&n| KeyMap::with_capacity_and_hasher(n, Default::default()))
                        .collect()
                };
                let wm = c.local.as_ref().map_or(c.wm, |l| l.get());
                add::<K, T, A, _, false>(
                    assigned,
                    wm,
                    agg,
                    &mut c.partials,
                    shards,
                    &k,
                    &x,
                    ts,
                    out,
                )
            }
        };
        if !accepted {
            self.st.late += 1;
            late(x, ts);
        }
    }
}

/// Adds `x` to its aligned windows `assigned` in `panes`, those not past cleanup under `wm`;
/// with `DIRECT`, re-emits the result of a window that has fired. Returns whether any took it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn add<K: Key, T, A: Aggregate<T>, M: Accumulators<K, A::Acc>, const DIRECT: bool>(
    assigned: &mut [Assigned],
    wm: i64,
    agg: &A,
    panes: &mut Panes<i64, (i64, M)>,
    new: impl Fn() -> M + Copy,
    k: &K,
    x: &T,
    ts: i64,
    out: &mut impl FnMut(Window<K, A::Out>, i64),
) -> bool {
    let mut accepted = false;
    for a in assigned {
        let (start, end) = (a.start, a.end);
        if wm >= a.cleanup {
            continue;
        }
        accepted = true;
        let (_, piece) = panes.get_mut_found(&mut a.found, &end, move || (start, new()));
        let keys = piece.map(k);
        let acc = if !std::mem::needs_drop::<K>() {
            // A key without drop glue (an integer, a tuple of them) is cheap to copy: one
            // hash through the entry API.
            keys.entry(k.clone()).or_insert_with(|| agg.init())
        } else if let Some(acc) = keys.get_mut(k) {
            acc
        } else {
            // Cloned only for a key new to the window.
            keys.entry(k.clone()).or_insert_with(|| agg.init())
        };
        agg.add(acc, x, ts);
        if DIRECT && wm >= end - 1 {
            out(window(k.clone(), start, end, agg.result(acc)), end - 1);
        }
    }
    accepted
}

/// Where [`add`] looks a key up in a window's piece.
trait Accumulators<K, Acc>: PaneState {
    /// The map that holds `k`'s accumulator.
    fn map(&mut self, k: &K) -> &mut KeyMap<K, Acc>;
}

impl<K: Key, Acc: StateValue> Accumulators<K, Acc> for KeyMap<K, Acc> {
    #[inline(always)]
    fn map(&mut self, _: &K) -> &mut KeyMap<K, Acc> {
        self
    }
}

/// Partials: the map of the worker that owns `k`.
impl<K: Key, Acc: StateValue> Accumulators<K, Acc> for Vec<KeyMap<K, Acc>> {
    #[inline(always)]
    fn map(&mut self, k: &K) -> &mut KeyMap<K, Acc> {
        let w = owner(k, self.len());
        &mut self[w]
    }
}

#[inline(always)]
fn window<K, V>(key: K, start: i64, end: i64, value: V) -> Window<K, V> {
    Window {
        key,
        start: Timestamp::from_millis(start),
        end: Timestamp::from_millis(end),
        value,
    }
}

fn unindex<K: Ord + Clone>(
    index: &mut BTreeMap<i64, BTreeSet<(K, i64)>>,
    end: i64,
    k: &K,
    start: i64,
) {
    if let Some(set) = index.get_mut(&end) {
        set.remove(&(k.clone(), start));
        if set.is_empty() {
            index.remove(&end);
        }
    }
}

impl<K: Key, T, A: Aggregate<T>, W> WindowAggregate<K, T, A, W> {
    /// Number of windows (aligned) or sessions currently held.
    /// Windows of panes evicted to fjall are not counted.
    pub fn open_windows(&self) -> usize {
        self.aligned
            .resident()
            .map(|(_, (_, m))| m.len())
            .sum::<usize>()
            + self
                .sessions
                .resident()
                .map(|(_, l)| l.len())
                .sum::<usize>()
    }
}

impl<K: Key, T, A: Aggregate<T>, W> Node for WindowAggregate<K, T, A, W> {
    type Out = Window<K, A::Out>;
}

impl<K: Key, T, A: Aggregate<T>, W> Operator for WindowAggregate<K, T, A, W> {
    fn open_windows(&self) -> Option<usize> {
        Some(WindowAggregate::open_windows(self))
    }
    fn fingerprint(&self) -> String {
        format!(
            "window/2<key = {}, accumulator = {}>",
            std::any::type_name::<K>(),
            std::any::type_name::<A::Acc>()
        )
    }
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        encode(&(
            &self.st,
            self.aligned.save()?,
            self.sessions.save()?,
            &self.session_index,
            self.combine.as_ref().map(|c| c.wm),
        ))
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let (st, (panes, pane_table), (sessions, session_table), index, published): Saved<
            K,
            A::Acc,
        > = decode(bytes)?;
        self.st = st;
        if let Some(c) = &mut self.combine {
            // This worker judged its elements against the watermark it had published, which
            // can be ahead of the window's own (the minimum over every worker): the resumed
            // run must judge the next element as the uninterrupted one would have.
            c.wm = c.wm.max(self.st.wm).max(published.unwrap_or(MIN_WATERMARK));
        }
        self.aligned.load(panes, &pane_table)?;
        self.sessions.load(sessions, &session_table)?;
        self.session_index = index;
        Ok(())
    }
    fn late_dropped(&self) -> u64 {
        self.st.late
    }
    fn identify(&mut self, id: &str) {
        self.aligned.identify(id);
        self.sessions.identify(id);
    }
    fn attach(&mut self, backing: Backing) {
        self.aligned.attach(backing.clone());
        self.sessions.attach(backing);
    }
    fn take_dirty(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut cells = self.aligned.take_dirty();
        cells.extend(self.sessions.take_dirty());
        cells
    }
    fn state_bytes(&self) -> usize {
        self.aligned.bytes()
            + self.sessions.bytes()
            + self.combine.as_ref().map_or(0, |c| c.partials.bytes())
            + self.firing.capacity() * std::mem::size_of::<(K, A::Acc)>()
            + self.order.bytes()
    }
    fn evict(&mut self, budget: usize) -> usize {
        let panes = budget.saturating_sub(self.sessions.bytes());
        let n = self.aligned.evict(panes);
        n + self
            .sessions
            .evict(budget.saturating_sub(self.aligned.bytes()))
    }
}
