//! Fan-in points and the late port: nodes that hold no state and run no code of their own.

use super::{Node, Operator};

/// A fan-in point (union, or the input of a two-input operator): elements wait here until
/// the node is drained in topological order.
pub struct FanIn<T> {
    /// Elements waiting to be drained, with their timestamps.
    pub buf: Vec<(T, i64)>,
}
impl<T> FanIn<T> {
    /// Buffers one element of one of the inputs; they must all carry `T`.
    #[inline(always)]
    pub fn push<X: SameAs<T>>(&mut self, x: X, ts: i64) {
        self.buf.push((x.cast(), ts))
    }
}
impl<T> Node for FanIn<T> {
    type Out = T;
}
impl<T> Operator for FanIn<T> {}

/// Type witness of a window's late side output.
pub struct LatePort<T>(pub(crate) std::marker::PhantomData<fn() -> T>);
impl<T> Node for LatePort<T> {
    type Out = T;
}

/// Marks two types that must be equal; the message names both.
#[diagnostic::on_unimplemented(
    message = "expected a stream of `{T}`, found a stream of `{Self}`",
    label = "this stream carries `{Self}`, not `{T}`"
)]
pub trait SameAs<T> {
    /// `self`, as the type it is.
    fn cast(self) -> T;
}
impl<T> SameAs<T> for T {
    #[inline(always)]
    fn cast(self) -> T {
        self
    }
}
