//! Stateless element-wise operators: map, filter, filter_map, flat_map, inspect.

use std::marker::PhantomData;

use super::{Node, Operator};

/// `map(f)`: one output per element.
pub struct MapOp<I, O, F> {
    f: F,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O, F: FnMut(I) -> O> MapOp<I, O, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        MapOp { f, _t: PhantomData }
    }
    /// Emits `f(x)`.
    #[inline(always)]
    pub fn push(&mut self, x: I, ts: i64, out: &mut impl FnMut(O, i64)) {
        out((self.f)(x), ts)
    }
}

/// `filter(p)`: keeps elements for which `p` holds.
pub struct FilterOp<T, F> {
    f: F,
    _t: PhantomData<fn(T)>,
}

impl<T, F: FnMut(&T) -> bool> FilterOp<T, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        FilterOp { f, _t: PhantomData }
    }
    /// Emits `x` if `f(&x)`.
    #[inline(always)]
    pub fn push(&mut self, x: T, ts: i64, out: &mut impl FnMut(T, i64)) {
        if (self.f)(&x) {
            out(x, ts)
        }
    }
}

/// `filter_map(f)`: emits the `Some` results.
pub struct FilterMap<I, O, F> {
    f: F,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O, F: FnMut(I) -> Option<O>> FilterMap<I, O, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        FilterMap { f, _t: PhantomData }
    }
    /// Emits `y` when `f(x)` is `Some(y)`.
    #[inline(always)]
    pub fn push(&mut self, x: I, ts: i64, out: &mut impl FnMut(O, i64)) {
        if let Some(y) = (self.f)(x) {
            out(y, ts)
        }
    }
}

/// `flat_map(f)`: emits every item of `f(x)`, each with `x`'s timestamp.
pub struct FlatMap<I, O, F> {
    f: F,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O, It: IntoIterator<Item = O>, F: FnMut(I) -> It> FlatMap<I, O, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        FlatMap { f, _t: PhantomData }
    }
    /// Emits each item of `f(x)`.
    #[inline(always)]
    pub fn push(&mut self, x: I, ts: i64, out: &mut impl FnMut(O, i64)) {
        for y in (self.f)(x) {
            out(y, ts)
        }
    }
}

/// `inspect(f)`: calls `f(&x)` and passes `x` on.
pub struct Inspect<T, F> {
    f: F,
    _t: PhantomData<fn(T)>,
}

impl<T, F: FnMut(&T)> Inspect<T, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Inspect { f, _t: PhantomData }
    }
    /// Calls `f(&x)`, then emits `x`.
    #[inline(always)]
    pub fn push(&mut self, x: T, ts: i64, out: &mut impl FnMut(T, i64)) {
        (self.f)(&x);
        out(x, ts)
    }
}

impl<I, O, F> Node for MapOp<I, O, F> {
    type Out = O;
}
impl<T, F> Node for FilterOp<T, F> {
    type Out = T;
}
impl<I, O, F> Node for FilterMap<I, O, F> {
    type Out = O;
}
impl<I, O, F> Node for FlatMap<I, O, F> {
    type Out = O;
}
impl<T, F> Node for Inspect<T, F> {
    type Out = T;
}
impl<I, O, F> Operator for MapOp<I, O, F> {}
impl<T, F> Operator for FilterOp<T, F> {}
impl<I, O, F> Operator for FilterMap<I, O, F> {}
impl<I, O, F> Operator for FlatMap<I, O, F> {}
impl<T, F> Operator for Inspect<T, F> {}
