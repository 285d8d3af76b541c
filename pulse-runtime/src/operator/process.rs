//! `process(f)`: a user function over a keyed stream with one value of state per key.

use std::collections::HashMap;
use std::marker::PhantomData;

use super::{Node, Operator, decode, encode};
use crate::error::Result;
use crate::state::{Key, StateValue};
use crate::time::Timestamp;

/// What a `process` function sees for one element: its key, timestamp, the key's state, and
/// where to emit outputs (each emitted with the element's timestamp).
pub struct Context<'a, K, S, O> {
    key: &'a K,
    ts: i64,
    state: &'a mut Option<S>,
    out: &'a mut Vec<O>,
}

impl<K, S, O> Context<'_, K, S, O> {
    /// The element's key.
    pub fn key(&self) -> &K {
        self.key
    }
    /// The element's event time.
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_millis(self.ts)
    }
    /// The key's state, `None` until set.
    pub fn state(&mut self) -> &mut Option<S> {
        self.state
    }
    /// The key's state, initialised with `S::default()` when absent.
    pub fn state_or_default(&mut self) -> &mut S
    where
        S: Default,
    {
        self.state.get_or_insert_with(S::default)
    }
    /// Clears the key's state.
    pub fn clear(&mut self) {
        *self.state = None;
    }
    /// Emits an output element.
    pub fn emit(&mut self, o: O) {
        self.out.push(o)
    }
}

/// A keyed process function with value state.
pub struct Process<K, T, S, O, F> {
    f: F,
    state: HashMap<K, S>,
    buf: Vec<O>,
    _t: PhantomData<fn(T)>,
}

impl<K: Key, T, S: StateValue, O, F: FnMut(&mut Context<'_, K, S, O>, T)> Process<K, T, S, O, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Process {
            f,
            state: HashMap::new(),
            buf: Vec::new(),
            _t: PhantomData,
        }
    }

    /// Runs `f` for one element and emits what it emitted.
    #[inline(always)]
    pub fn push(&mut self, (k, x): (K, T), ts: i64, out: &mut impl FnMut(O, i64)) {
        let mut slot = self.state.remove(&k);
        let mut ctx = Context {
            key: &k,
            ts,
            state: &mut slot,
            out: &mut self.buf,
        };
        (self.f)(&mut ctx, x);
        if let Some(s) = slot {
            self.state.insert(k, s);
        }
        for o in self.buf.drain(..) {
            out(o, ts)
        }
    }

    /// Number of keys with state.
    pub fn keys_with_state(&self) -> usize {
        self.state.len()
    }
}

impl<K, T, S, O, F> Node for Process<K, T, S, O, F> {
    type Out = O;
}

impl<K: Key, T, S: StateValue, O, F> Operator for Process<K, T, S, O, F> {
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        encode(&self.state)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        self.state = decode(bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_state_per_key() {
        let mut p = Process::new(
            |ctx: &mut Context<'_, String, u32, (String, u32)>, x: u32| {
                let total = ctx.state_or_default();
                *total += x;
                let t = *total;
                let k = ctx.key().to_string();
                ctx.emit((k, t));
            },
        );
        let mut out = vec![];
        for (k, x) in [("a", 1), ("b", 5), ("a", 2)] {
            p.push((k.to_string(), x), 0, &mut |o, _| out.push(o));
        }
        assert_eq!(out, [("a".into(), 1), ("b".into(), 5), ("a".into(), 3)]);
        assert_eq!(p.keys_with_state(), 2);
    }
}
