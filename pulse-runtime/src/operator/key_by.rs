//! `key_by`: pairs each element with its key, so windows, joins and `process` partition by it.

use std::marker::PhantomData;

use super::{Node, Operator};

/// Emits `(key(&x), x)`.
pub struct KeyBy<T, K, F> {
    f: F,
    _t: PhantomData<fn(T) -> K>,
}

impl<T, K, F: FnMut(&T) -> K> KeyBy<T, K, F> {
    /// Keys elements by `f`.
    pub fn new(f: F) -> Self {
        KeyBy { f, _t: PhantomData }
    }
    /// Emits `(f(&x), x)`.
    #[inline(always)]
    pub fn push(&mut self, x: T, ts: i64, out: &mut impl FnMut((K, T), i64)) {
        let k = (self.f)(&x);
        out((k, x), ts)
    }
}

impl<T, K, F> Node for KeyBy<T, K, F> {
    type Out = (K, T);
}
impl<T, K, F> Operator for KeyBy<T, K, F> {}
