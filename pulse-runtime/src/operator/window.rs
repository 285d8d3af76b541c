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

    fn push_session(
        &mut self,
        k: K,
        x: T,
        ts: i64,
        gap: i64,
        out: &mut impl FnMut(Window<K, A::Out>, i64),
        late: &mut impl FnMut(T, i64),
    ) {
        let (mut start, mut end) = (ts, ts.saturating_add(gap));
        // Merge first, judge after (Flink's `WindowOperator`): an element whose own window is
        // past cleanup still belongs to a retained session it touches, and the merged session
        // is then retained too (its end is at least that session's). Only an element that
        // touches no retained session is late.
        if self.st.wm >= cleanup_time(end, self.lateness)
            && !self
                .sessions
                .get(&k)
                .is_some_and(|list| list.iter().any(|s| s.start <= end && s.end >= start))
        {
            self.st.late += 1;
            return late(x, ts);
        }
        let mut acc = self.agg.init();
        self.agg.add(&mut acc, &x, ts);
        let list = self.sessions.get_mut(&k, Vec::new);
        // Merging can grow the new session until it reaches a further one: repeat until stable.
        loop {
            let before = list.len();
            let mut i = 0;
            while i < list.len() {
                if list[i].start <= end && list[i].end >= start {
                    let s = list.swap_remove(i);
                    unindex(&mut self.session_index, s.end, &k, s.start);
                    start = start.min(s.start);
                    end = end.max(s.end);
                    self.agg.merge(&mut acc, s.acc);
                } else {
                    i += 1;
                }
            }
            if list.len() == before {
                break;
            }
        }
        if self.st.wm >= end - 1 {
            let w = Window {
                key: k.clone(),
                start: Timestamp::from_millis(start),
                end: Timestamp::from_millis(end),
                value: self.agg.result(&acc),
            };
            out(w, end - 1);
        }
        list.push(SessionWin { start, end, acc });
        self.session_index
            .entry(end)
            .or_default()
            .insert((k, start));
    }

    /// Merges one window's partial accumulators, pre-aggregated by another worker (or this
    /// one) for keys this worker owns; re-emits the results through `out` if the window has
    /// fired.
    pub fn merge(
        &mut self,
        Partial { end, start, keys }: Partial<K, A::Acc>,
        out: &mut impl FnMut(Window<K, A::Out>, i64),
    ) {
        let wm = self.st.wm;
        if wm >= cleanup_time(end, self.lateness) {
            // Cannot happen: partials travel ahead of the watermark that covers them (see
            // `Combiner`). Counted rather than merged into a window that will not fire again.
            debug_assert!(
                false,
                "a partial of window ..{end} arrived past its cleanup"
            );
            self.st.late += 1;
            return;
        }
        let fired = wm >= end - 1;
        let agg = &self.agg;
        if !self.aligned.contains(&end) {
            // The usual first partial of a window: it becomes the window, key by key as is.
            let (_, keys) = self.aligned.get_mut(&end, || (start, keys));
            if fired {
                for (k, acc) in keys.iter() {
                    out(window(k.clone(), start, end, agg.result(acc)), end - 1);
                }
            }
            return;
        }
        let (_, window_keys) = self.aligned.get_mut(&end, || unreachable!("listed"));
        let mut keys = keys;
        if !fired && keys.len() > window_keys.len() {
            // Merged the other way round: the smaller map's keys are the ones looked up.
            std::mem::swap(window_keys, &mut keys);
        }
        window_keys.reserve(keys.len());
        for (k, acc) in keys {
            // A key is cloned only past the window's end, inside its lateness: rare.
            let emit = fired.then(|| k.clone());
            let merged = match window_keys.entry(k) {
                Entry::Occupied(e) => {
                    let mine = e.into_mut();
                    agg.merge(mine, acc);
                    mine
                }
                Entry::Vacant(e) => e.insert(acc),
            };
            if let Some(k) = emit {
                out(window(k, start, end, agg.result(merged)), end - 1);
            }
        }
    }

    /// Advances to watermark `wm`: fires every window with `end - 1 <= wm` not fired yet, in
    /// order of end then key, and drops state past its lateness.
    pub fn on_watermark(&mut self, wm: i64, out: &mut impl FnMut(Window<K, A::Out>, i64)) {
        let prev = self.st.wm;
        if wm <= prev {
            return;
        }
        self.st.wm = wm;
        let first_unfired = prev.saturating_add(2); // end - 1 > prev
        let lateness = self.lateness;
        if self.assigner.session_gap().is_none() {
            if self.aligned.first_key().is_none_or(|&end| end - 1 > wm) {
                // The usual case as the watermark creeps forward: the oldest window is still
                // open, so nothing fires and nothing is dropped.
                return;
            }
            let ends: Vec<i64> = self
                .aligned
                .keys_from(&first_unfired)
                .copied()
                .take_while(|&end| end - 1 <= wm)
                .collect();
            for end in ends {
                if wm >= cleanup_time(end, lateness) {
                    // Fired and dropped at once (no lateness): the window's keys move out.
                    let (start, keys) = self.aligned.remove(&end).expect("listed");
                    self.firing.extend(keys);
                    let agg = &self.agg;
                    self.order.drain_sorted(&mut self.firing, |key, acc| {
                        out(window(key, start, end, agg.result(acc)), end - 1);
                    });
                    continue;
                }
                let &(start, ref keys) = self.aligned.get(&end).expect("listed");
                let mut ks: Vec<_> = keys.iter().map(|(k, acc)| (k.clone(), acc)).collect();
                let agg = &self.agg;
                self.order.drain_sorted(&mut ks, |k, acc| {
                    out(window(k, start, end, agg.result(acc)), end - 1);
                });
            }
            while let Some(&end) = self.aligned.first_key() {
                if wm < cleanup_time(end, lateness) {
                    break;
                }
                self.aligned.remove(&end);
            }
            return;
        }
        for (&end, entries) in self.session_index.range(first_unfired..) {
            if end - 1 > wm {
                break;
            }
            for (k, start) in entries {
                let s = self
                    .sessions
                    .get(k)
                    .and_then(|list| list.iter().find(|s| s.start == *start && s.end == end));
                let s = s.expect("session index and sessions agree");
                let w = Window {
                    key: k.clone(),
                    start: Timestamp::from_millis(s.start),
                    end: Timestamp::from_millis(end),
                    value: self.agg.result(&s.acc),
                };
                out(w, end - 1);
            }
        }
        while let Some(e) = self.session_index.first_entry() {
            if wm < cleanup_time(*e.key(), lateness) {
                break;
            }
            let end = *e.key();
            for (k, start) in e.remove() {
                assert!(self.sessions.contains(&k), "indexed key has sessions");
                let list = self.sessions.get_mut(&k, Vec::new);
                list.retain(|s| !(s.start == start && s.end == end));
                if list.is_empty() {
                    self.sessions.remove(&k);
                }
            }
        }
    }

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

impl<K, T, A, W> Combiner for WindowAggregate<K, T, A, W>
where
    K: Key + Send + 'static,
    A: Aggregate<T>,
    A::Acc: Send + 'static,
    W: WindowAssigner,
{
    fn configure(&mut self, _me: usize, workers: usize, local: Option<Rc<Cell<i64>>>) -> bool {
        let ordered_lateness = local.is_some() && self.lateness > 0;
        if workers <= 1 || self.assigner.session_gap().is_some() || ordered_lateness {
            self.combine = None;
            return false;
        }
        self.combine = Some(Combine {
            wm: self.st.wm,
            local,
            sizes: vec![0; workers],
            partials: Panes::new("partial"),
        });
        true
    }

    fn take_partials(
        &mut self,
        wm: i64,
        all: bool,
        send: &mut dyn FnMut(usize, Box<dyn Any + Send>),
    ) {
        let Some(c) = &mut self.combine else {
            return;
        };
        c.wm = c.wm.max(wm);
        if !all && c.partials.first_key().is_none_or(|&end| end - 1 > wm) {
            // Most rounds: no window closed since the last.
            return;
        }
        let mut to: Vec<Vec<Partial<K, A::Acc>>> = c.sizes.iter().map(|_| Vec::new()).collect();
        while let Some(&end) = c.partials.first_key() {
            if !all && end - 1 > wm {
                break;
            }
            let (start, shards) = c.partials.remove(&end).expect("listed");
            for (w, keys) in shards.into_iter().enumerate() {
                c.sizes[w] = keys.len();
                if !keys.is_empty() {
                    to[w].push(Partial { end, start, keys });
                }
            }
        }
        for (w, batch) in to.into_iter().enumerate() {
            if !batch.is_empty() {
                send(w, Box::new(batch));
            }
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

impl<K: Key, T, A: Aggregate<T>, W> Node for WindowAggregate<K, T, A, W> {
    type Out = Window<K, A::Out>;
}

impl<K: Key, T, A: Aggregate<T>, W> Operator for WindowAggregate<K, T, A, W> {
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

#[cfg(test)]
mod tests {
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
        assert!(
            !s.contains(9) && !s.contains(20) && !s.contains(i64::MIN) && !s.contains(i64::MAX)
        );
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
        let checkpoint =
            |op: &mut Op, id: u64| crate::operator::write_checkpoint(&store, id, "w", op);
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
        let checkpoint =
            |op: &mut Op, id: u64| crate::operator::write_checkpoint(&store, id, "s", op);
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
        let mut op =
            WindowAggregate::<u8, i64, _, _>::new(Tumbling::millis(10), 0, Sum(|x: &i64| *x));
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
        let new =
            || WindowAggregate::<String, i64, Count, _>::new(Sliding::millis(10, 5), 5, Count);
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
        assert!(
            workers.iter().all(|w| w.open_windows() == 0
                && w.combine.as_ref().unwrap().partials.first_key().is_none())
        );
    }
}
