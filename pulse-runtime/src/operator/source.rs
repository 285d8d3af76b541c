//! The source node: where a pipeline parameter's elements enter the graph.

use std::marker::PhantomData;

use super::{Node, Operator};

/// Entry point of one pipeline input.
pub struct Source<T>(PhantomData<fn(T)>);

impl<T> Source<T> {
    /// A source of `T`.
    pub fn new() -> Self {
        Source(PhantomData)
    }
    /// Passes the element on.
    #[inline(always)]
    pub fn push(&mut self, x: T, ts: i64, out: &mut impl FnMut(T, i64)) {
        out(x, ts)
    }
}

impl<T> Default for Source<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Node for Source<T> {
    type Out = T;
}
impl<T> Operator for Source<T> {}
