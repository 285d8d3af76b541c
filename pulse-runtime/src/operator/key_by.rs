//! `key_by`: pairs each element with its key, so windows, joins and `process` partition by it.
//!
//! In a parallel run `key_by` is also the exchange: an element whose key belongs to another
//! worker waits in that worker's outbox, and the driver sends it there (see
//! [`crate::exec::run_parallel`]). Its watermark downstream is the minimum over every worker's.

use std::any::Any;
use std::hash::Hash;

use super::{Node, Operator};
use crate::time::MIN_WATERMARK;

/// The same seeds in every worker, so a key lands on the same worker from every `key_by`.
static ROUTER: ahash::RandomState = ahash::RandomState::with_seeds(
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
);

/// The worker, of `workers`, that owns a key hashing to `h`: the high bits scaled to the range.
#[inline(always)]
fn owner(h: u64, workers: usize) -> usize {
    (((h >> 32) * workers as u64) >> 32) as usize
}

/// Emits `(key(&x), x)`, or in a parallel run holds it for the worker that owns the key.
pub struct KeyBy<T, K, F> {
    f: F,
    me: usize,
    workers: usize,
    /// Hashes a key for routing (a pointer, so `push` needs no `Hash` bound of its own and a
    /// key type that is not `Hash` is reported once, at `key_by`).
    hash: fn(&K) -> u64,
    /// Per worker: elements whose key it owns, waiting to be sent.
    outbox: Vec<Vec<((K, T), i64)>>,
    /// The watermark of this worker's own input.
    local: i64,
    /// Per worker: the latest watermark it sent (this worker's own entry unused).
    remote: Vec<i64>,
}

impl<T, K: Hash, F: FnMut(&T) -> K> KeyBy<T, K, F> {
    /// Keys elements by `f`.
    pub fn new(f: F) -> Self {
        KeyBy {
            f,
            me: 0,
            workers: 1,
            hash: |k| ROUTER.hash_one(k),
            outbox: Vec::new(),
            local: MIN_WATERMARK,
            remote: Vec::new(),
        }
    }
}

impl<T, K, F: FnMut(&T) -> K> KeyBy<T, K, F> {
    /// Emits `(f(&x), x)` if this worker owns the key; holds it for its owner otherwise.
    #[inline(always)]
    pub fn push(&mut self, x: T, ts: i64, out: &mut impl FnMut((K, T), i64)) {
        let k = (self.f)(&x);
        if self.workers > 1 {
            let to = owner((self.hash)(&k), self.workers);
            if to != self.me {
                self.outbox[to].push(((k, x), ts));
                return;
            }
        }
        out((k, x), ts)
    }
}

impl<T, K, F> KeyBy<T, K, F> {
    /// The watermark downstream: this worker's input watermark `local`, held back by every
    /// other worker's.
    #[inline]
    pub fn combine(&mut self, local: i64) -> i64 {
        self.local = local;
        let mut wm = local;
        for (w, &r) in self.remote.iter().enumerate() {
            if w != self.me {
                wm = wm.min(r);
            }
        }
        wm
    }
}

impl<T, K, F> Node for KeyBy<T, K, F> {
    type Out = (K, T);
}
impl<T, K, F> Operator for KeyBy<T, K, F> {}

/// A `key_by` as the parallel driver sees it.
pub trait Exchange {
    /// Makes this the exchange of worker `me` of `workers`.
    fn configure(&mut self, me: usize, workers: usize);
    /// The elements held for worker `to` (a `Vec<((K, T), i64)>`), if any.
    fn take_outbox(&mut self, to: usize) -> Option<Box<dyn Any + Send>>;
    /// This worker's input watermark at the exchange.
    fn local_watermark(&self) -> i64;
    /// Worker `from`'s input watermark at the exchange.
    fn set_remote_watermark(&mut self, from: usize, wm: i64);
}

impl<T: Send + 'static, K: Send + 'static, F> Exchange for KeyBy<T, K, F> {
    fn configure(&mut self, me: usize, workers: usize) {
        self.me = me;
        self.workers = workers.max(1);
        self.outbox = (0..self.workers).map(|_| Vec::new()).collect();
        self.remote = vec![MIN_WATERMARK; self.workers];
    }
    fn take_outbox(&mut self, to: usize) -> Option<Box<dyn Any + Send>> {
        let b = self.outbox.get_mut(to)?;
        if b.is_empty() {
            return None;
        }
        let cap = b.capacity();
        Some(Box::new(std::mem::replace(b, Vec::with_capacity(cap))))
    }
    fn local_watermark(&self) -> i64 {
        self.local
    }
    fn set_remote_watermark(&mut self, from: usize, wm: i64) {
        if let Some(r) = self.remote.get_mut(from) {
            *r = (*r).max(wm);
        }
    }
}
