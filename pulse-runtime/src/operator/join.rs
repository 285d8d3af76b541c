//! `join(other, assigner, f)`: inner window join of two keyed streams.
//!
//! Pairs every left and right element with the same key in the same window and emits
//! `f(&left, &right)` when the window fires, with timestamp `end - 1`. Elements whose windows
//! have all fired are dropped and counted.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::{Node, Operator, decode, encode};
use crate::error::Result;
use crate::state::{Key, StateValue};
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
#[serde(bound = "")]
struct State<K: Key, L: StateValue, R: StateValue> {
    wm: i64,
    dropped: u64,
    windows: BTreeMap<i64, HashMap<K, Sides<L, R>>>,
}

/// Inner window join state and function.
pub struct WindowJoin<K: Key, L: StateValue, R: StateValue, O, F, W> {
    assigner: W,
    f: F,
    st: State<K, L, R>,
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
                windows: BTreeMap::new(),
            },
            _t: PhantomData,
        }
    }

    /// Buffers one element of either side.
    #[inline(always)]
    pub fn push(&mut self, x: Either<(K, L), (K, R)>, ts: i64, _out: &mut impl FnMut(O, i64)) {
        let (wm, windows) = (self.st.wm, &mut self.st.windows);
        let mut accepted = false;
        self.assigner.assign(ts, |_, end| {
            if wm >= end - 1 {
                return;
            }
            accepted = true;
            let keys = windows.entry(end).or_default();
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
        while let Some(e) = self.st.windows.first_entry() {
            let end = *e.key();
            if end - 1 > wm {
                break;
            }
            let mut keys: Vec<_> = e.remove().into_iter().collect();
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
        encode(&self.st)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        self.st = decode(bytes)?;
        Ok(())
    }
    fn late_dropped(&self) -> u64 {
        self.st.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::Tumbling;

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
