//! `join(other, assigner, f)`: inner window join of two keyed streams.
//!
//! Pairs every left and right element with the same key in the same window and emits
//! `f(&left, &right)` when the window fires, with timestamp `end - 1`. Elements whose windows
//! have all fired are dropped and counted.
//!
//! Each window's buffered elements are a [`Panes`] pane: with checkpoints on, a cell in fjall,
//! written when it changed and evicted past the memory budget.

use std::collections::HashMap;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::panes::SavedPanes;
use super::{Node, Operator, PaneState, Panes, decode, encode};
use crate::error::Result;
use crate::state::{Backing, Key, StateValue};
use crate::time::MIN_WATERMARK;
use crate::window::WindowAssigner;

/// An element of one of a two-input operator's inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Either<L, R> {
    /// From the first (left) input.
    Left(L),
    /// From the second (right) input.
    Right(R),
}

type Sides<L, R> = (Vec<(i64, L)>, Vec<(i64, R)>);

#[derive(Serialize, Deserialize)]
struct State {
    wm: i64,
    dropped: u64,
}

/// One window's buffered elements, by key and side.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
struct JoinPane<K: Key, L: StateValue, R: StateValue> {
    keys: HashMap<K, Sides<L, R>>,
    /// Elements buffered, for the memory estimate.
    elements: u64,
}

impl<K: Key, L: StateValue, R: StateValue> Default for JoinPane<K, L, R> {
    fn default() -> Self {
        JoinPane {
            keys: HashMap::new(),
            elements: 0,
        }
    }
}

impl<K: Key, L: StateValue, R: StateValue> PaneState for JoinPane<K, L, R> {
    fn bytes(&self) -> usize {
        let element = std::mem::size_of::<(i64, L)>().max(std::mem::size_of::<(i64, R)>());
        self.keys.capacity() * (std::mem::size_of::<(K, Sides<L, R>)>() + 8)
            + self.elements as usize * element
    }
}

/// Inner window join state and function.
pub struct WindowJoin<K: Key, L: StateValue, R: StateValue, O, F, W> {
    assigner: W,
    f: F,
    st: State,
    windows: Panes<i64, JoinPane<K, L, R>>,
    _t: PhantomData<fn() -> O>,
}

impl<
    K: Key,
    L: Clone + StateValue,
    R: Clone + StateValue,
    O,
    F: FnMut(&L, &R) -> O,
    W: WindowAssigner,
> WindowJoin<K, L, R, O, F, W>
{
    /// Joins in windows of `assigner` (tumbling or sliding) with `f`.
    pub fn new(assigner: W, f: F) -> Self {
        assert!(
            assigner.session_gap().is_none(),
            "window joins take tumbling or sliding windows"
        );
        WindowJoin {
            assigner,
            f,
            st: State {
                wm: MIN_WATERMARK,
                dropped: 0,
            },
            windows: Panes::new("pane"),
            _t: PhantomData,
        }
    }

    /// Buffers one element of either side.
    #[inline(always)]
    pub fn push(&mut self, x: Either<(K, L), (K, R)>, ts: i64, _out: &mut impl FnMut(O, i64)) {
        let (wm, windows) = (self.st.wm, &mut self.windows);
        let mut accepted = false;
        self.assigner.assign(ts, |_, end| {
            if wm >= end - 1 {
                return;
            }
            accepted = true;
            let pane = windows.get_mut(&end, JoinPane::default);
            pane.elements += 1;
            let keys = &mut pane.keys;
            match &x {
                Either::Left((k, l)) => keys.entry(k.clone()).or_default().0.push((ts, l.clone())),
                Either::Right((k, r)) => keys.entry(k.clone()).or_default().1.push((ts, r.clone())),
            }
        });
        if !accepted {
            self.st.dropped += 1;
        }
    }

    /// Fires every window with `end - 1 <= wm`: keys in order, each side by timestamp.
    pub fn on_watermark(&mut self, wm: i64, out: &mut impl FnMut(O, i64)) {
        if wm <= self.st.wm {
            return;
        }
        self.st.wm = wm;
        while let Some(&end) = self.windows.first_key().filter(|&&end| end - 1 <= wm) {
            let pane = self.windows.remove(&end).expect("listed");
            let mut keys: Vec<_> = pane.keys.into_iter().collect();
            keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (_, (mut ls, mut rs)) in keys {
                ls.sort_by_key(|p| p.0);
                rs.sort_by_key(|p| p.0);
                for (_, l) in &ls {
                    for (_, r) in &rs {
                        out((self.f)(l, r), end - 1);
                    }
                }
            }
        }
    }
}

impl<K: Key, L: StateValue, R: StateValue, O, F, W> Node for WindowJoin<K, L, R, O, F, W> {
    type Out = O;
}

impl<K: Key, L: StateValue, R: StateValue, O, F, W> Operator for WindowJoin<K, L, R, O, F, W> {
    fn fingerprint(&self) -> String {
        format!(
            "join<key = {}, left = {}, right = {}>",
            std::any::type_name::<K>(),
            std::any::type_name::<L>(),
            std::any::type_name::<R>()
        )
    }
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        encode(&(&self.st, self.windows.save()?))
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let (st, (panes, table)): (State, SavedPanes<i64, JoinPane<K, L, R>>) = decode(bytes)?;
        self.st = st;
        self.windows.load(panes, &table)
    }
    fn late_dropped(&self) -> u64 {
        self.st.dropped
    }
    fn identify(&mut self, id: &str) {
        self.windows.identify(id)
    }
    fn attach(&mut self, backing: Backing) {
        self.windows.attach(backing)
    }
    fn take_dirty(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.windows.take_dirty()
    }
    fn state_bytes(&self) -> usize {
        self.windows.bytes()
    }
    fn evict(&mut self, budget: usize) -> usize {
        self.windows.evict(budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::Tumbling;

    #[test]
    fn windows_evicted_to_fjall_join_as_resident_ones_and_restore() {
        use crate::checkpoint::CheckpointStore;
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let new = || WindowJoin::new(Tumbling::millis(100), |l: &u32, r: &u32| (*l, *r));
        let (mut spilled, mut memory) = (new(), new());
        spilled.identify("j");
        spilled.attach(store.backing("j").unwrap());
        let checkpoint = |j: &mut WindowJoin<u8, u32, u32, (u32, u32), _, Tumbling>, id| {
            crate::operator::write_checkpoint(&store, id, "j", j)
        };
        let (mut a, mut b) = (vec![], vec![]);
        let mut evicted = 0;
        for round in 0..5u32 {
            // Elements for the next 20 windows; the watermark then passes five of them.
            for i in 0..2_000u32 {
                let ts = i64::from(round * 500 + i % 2_000);
                let x = if i % 3 == 0 {
                    Either::Right(((i % 7) as u8, i))
                } else {
                    Either::Left(((i % 7) as u8, i))
                };
                spilled.push(x.clone(), ts, &mut |o, t| a.push((o, t)));
                memory.push(x, ts, &mut |o, t| b.push((o, t)));
            }
            checkpoint(&mut spilled, u64::from(round) + 1);
            let before = spilled.state_bytes();
            evicted += spilled.evict(before / 4);
            assert!(spilled.state_bytes() <= before / 4);
            let wm = i64::from(round * 500 + 499);
            spilled.on_watermark(wm, &mut |o, t| a.push((o, t)));
            memory.on_watermark(wm, &mut |o, t| b.push((o, t)));
            assert_eq!(a, b, "round {round}");
        }
        assert!(evicted > 10, "only {evicted} windows left memory");
        checkpoint(&mut spilled, 9);
        let (_, snap) = store.latest().unwrap().unwrap();
        let mut restored = new();
        restored.attach(store.backing("j").unwrap());
        restored.restore(&snap["j"]).unwrap();
        let (mut c, mut d) = (vec![], vec![]);
        restored.on_watermark(i64::MAX, &mut |o, t| c.push((o, t)));
        memory.on_watermark(i64::MAX, &mut |o, t| d.push((o, t)));
        assert!(!d.is_empty());
        assert_eq!(c, d, "the restored join reads its windows back from fjall");
    }

    #[test]
    fn pairs_same_key_same_window() {
        let mut j = WindowJoin::new(Tumbling::millis(10), |l: &i32, r: &char| (*l, *r));
        let mut out = vec![];
        let mut o = |x, t| out.push((x, t));
        j.push(Either::Left((1u8, 10)), 1, &mut o);
        j.push(Either::Right((1u8, 'a')), 9, &mut o);
        j.push(Either::Right((1u8, 'b')), 10, &mut o); // next window: no partner
        j.push(Either::Left((2u8, 20)), 2, &mut o); // other key: no partner
        j.push(Either::Left((1u8, 11)), 5, &mut o);
        j.on_watermark(9, &mut o);
        assert_eq!(out, [((10, 'a'), 9), ((11, 'a'), 9)]);
        let mut late = vec![];
        j.push(Either::Left((1u8, 12)), 3, &mut |x, t| late.push((x, t)));
        assert_eq!(j.late_dropped(), 1);
    }
}
