//! `watermark(strategy)`: observes elements and advances the stream's watermark.

use std::marker::PhantomData;

use super::{Node, Operator, decode, encode};
use crate::error::Result;
use crate::watermark::WatermarkStrategy;

/// Passes elements on and tracks the watermark its strategy derives from them.
///
/// The watermark it forwards is the larger of the strategy's and its input's (a finite input's
/// final watermark, or one a test sets explicitly).
pub struct WatermarkOp<T, S> {
    strategy: S,
    _t: PhantomData<fn(T)>,
}

impl<T, S: WatermarkStrategy<T>> WatermarkOp<T, S> {
    /// Uses `strategy`.
    pub fn new(strategy: S) -> Self {
        WatermarkOp {
            strategy,
            _t: PhantomData,
        }
    }
    /// Observes and emits `x`.
    #[inline(always)]
    pub fn push(&mut self, x: T, ts: i64, out: &mut impl FnMut(T, i64)) {
        self.strategy.on_event(&x, ts);
        out(x, ts)
    }
    /// The strategy's current watermark.
    #[inline(always)]
    pub fn current(&self) -> i64 {
        self.strategy.current()
    }
}

impl<T, S> Node for WatermarkOp<T, S> {
    type Out = T;
}

impl<T, S: WatermarkStrategy<T>> Operator for WatermarkOp<T, S> {
    fn fingerprint(&self) -> String {
        "watermark".into()
    }
    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        encode(&self.strategy.save())
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        self.strategy.load(decode(bytes)?);
        Ok(())
    }
    fn is_watermark(&self) -> bool {
        true
    }
}
