//! The watermark strategies: bounded out-of-orderness, ascending, periodic and punctuated.

use std::time::Duration;

use crate::time::{MIN_WATERMARK, duration_ms};

/// Computes a stream's watermark from the elements that pass the `watermark` operator.
///
/// Strategies are deterministic: the watermark depends only on the elements seen, never on the
/// wall clock, so a replay produces the same windows.
pub trait WatermarkStrategy<T> {
    /// Observes one element with its timestamp (milliseconds).
    fn on_event(&mut self, x: &T, ts: i64);
    /// The current watermark; [`MIN_WATERMARK`] until one is known.
    fn current(&self) -> i64;
    /// The strategy's progress, for checkpoints.
    fn save(&self) -> [i64; 2];
    /// Restores progress saved by [`save`](Self::save).
    fn load(&mut self, saved: [i64; 2]);
}

/// `W = max_seen - bound - 1`: elements may arrive up to `bound` behind the largest timestamp seen.
///
/// # Examples
/// ```
/// use pulse_runtime::watermark::{BoundedOutOfOrderness, WatermarkStrategy};
/// let mut s = BoundedOutOfOrderness::millis(5000);
/// s.on_event(&(), 10_000);
/// assert_eq!(WatermarkStrategy::<()>::current(&s), 4_999);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct BoundedOutOfOrderness {
    bound: i64,
    max_seen: i64,
    /// The watermark of `max_seen`, worked out when it moves rather than on every read.
    wm: i64,
}

impl BoundedOutOfOrderness {
    /// Tolerates `bound` of disorder.
    pub fn new(bound: Duration) -> Self {
        Self::millis(duration_ms(bound))
    }
    /// Tolerates `ms` milliseconds of disorder.
    pub fn millis(ms: i64) -> Self {
        BoundedOutOfOrderness {
            bound: ms.max(0),
            max_seen: MIN_WATERMARK,
            wm: MIN_WATERMARK,
        }
    }
    /// `max_seen - bound - 1`, saturating: [`MIN_WATERMARK`] stays itself.
    #[inline(always)]
    fn watermark_of(&self, max_seen: i64) -> i64 {
        max_seen.saturating_sub(self.bound).saturating_sub(1)
    }
    /// Tolerates `s` seconds of disorder.
    pub fn secs(s: i64) -> Self {
        Self::millis(s.saturating_mul(1000))
    }
}

impl<T> WatermarkStrategy<T> for BoundedOutOfOrderness {
    #[inline(always)]
    fn on_event(&mut self, _: &T, ts: i64) {
        if ts > self.max_seen {
            self.max_seen = ts;
            self.wm = self.watermark_of(ts);
        }
    }
    #[inline(always)]
    fn current(&self) -> i64 {
        self.wm
    }
    fn save(&self) -> [i64; 2] {
        [self.max_seen, 0]
    }
    fn load(&mut self, saved: [i64; 2]) {
        self.max_seen = saved[0];
        self.wm = self.watermark_of(saved[0]);
    }
}

/// Timestamps never decrease: `W = max_seen - 1`. Out-of-order elements become late.
#[derive(Clone, Copy, Debug)]
pub struct Ascending(BoundedOutOfOrderness);

impl Ascending {
    /// The ascending strategy.
    pub fn new() -> Self {
        Ascending(BoundedOutOfOrderness::millis(0))
    }
}

impl Default for Ascending {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> WatermarkStrategy<T> for Ascending {
    #[inline(always)]
    fn on_event(&mut self, x: &T, ts: i64) {
        self.0.on_event(x, ts)
    }
    #[inline(always)]
    fn current(&self) -> i64 {
        WatermarkStrategy::<T>::current(&self.0)
    }
    fn save(&self) -> [i64; 2] {
        WatermarkStrategy::<T>::save(&self.0)
    }
    fn load(&mut self, saved: [i64; 2]) {
        WatermarkStrategy::<T>::load(&mut self.0, saved)
    }
}

/// Advances the watermark of an inner strategy in steps of at least `interval` of event time.
///
/// Flink's periodic emission ticks on the wall clock, which makes lateness depend on timing;
/// Pulse ticks on event time so that replays stay deterministic while watermark traffic stays low.
#[derive(Clone, Copy, Debug)]
pub struct Periodic<S> {
    inner: S,
    interval: i64,
    emitted: i64,
}

impl<S> Periodic<S> {
    /// Emits `inner`'s watermark whenever it has advanced by `interval` since the last emission.
    pub fn new(inner: S, interval: Duration) -> Self {
        Periodic {
            inner,
            interval: duration_ms(interval).max(1),
            emitted: MIN_WATERMARK,
        }
    }
}

impl<T, S: WatermarkStrategy<T>> WatermarkStrategy<T> for Periodic<S> {
    #[inline(always)]
    fn on_event(&mut self, x: &T, ts: i64) {
        self.inner.on_event(x, ts);
        let w = self.inner.current();
        if self.emitted == MIN_WATERMARK || w >= self.emitted.saturating_add(self.interval) {
            self.emitted = w;
        }
    }
    #[inline(always)]
    fn current(&self) -> i64 {
        self.emitted
    }
    fn save(&self) -> [i64; 2] {
        [self.inner.save()[0], self.emitted]
    }
    fn load(&mut self, saved: [i64; 2]) {
        self.inner.load([saved[0], 0]);
        self.emitted = saved[1];
    }
}

/// The elements themselves carry watermarks: `f(element, ts)` returns `Some(w)` on a marker.
///
/// # Examples
/// ```
/// use pulse_runtime::watermark::{Punctuated, WatermarkStrategy};
/// let mut s = Punctuated::new(|x: &i32, ts: i64| (*x < 0).then_some(ts));
/// s.on_event(&1, 100);
/// assert_eq!(s.current(), i64::MIN);
/// s.on_event(&-1, 200);
/// assert_eq!(s.current(), 200);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Punctuated<F> {
    f: F,
    current: i64,
}

impl<F> Punctuated<F> {
    /// A punctuated strategy from a marker function.
    pub fn new(f: F) -> Self {
        Punctuated {
            f,
            current: MIN_WATERMARK,
        }
    }
}

impl<T, F: FnMut(&T, i64) -> Option<i64>> WatermarkStrategy<T> for Punctuated<F> {
    #[inline(always)]
    fn on_event(&mut self, x: &T, ts: i64) {
        if let Some(w) = (self.f)(x, ts) {
            self.current = self.current.max(w);
        }
    }
    #[inline(always)]
    fn current(&self) -> i64 {
        self.current
    }
    fn save(&self) -> [i64; 2] {
        [self.current, 0]
    }
    fn load(&mut self, saved: [i64; 2]) {
        self.current = saved[0];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur<S: WatermarkStrategy<()>>(s: &S) -> i64 {
        s.current()
    }

    #[test]
    fn bounded_is_max_minus_bound_minus_one() {
        let mut s = BoundedOutOfOrderness::secs(5);
        assert_eq!(cur(&s), MIN_WATERMARK);
        s.on_event(&(), 10_000);
        assert_eq!(cur(&s), 4_999);
        s.on_event(&(), 3_000); // older elements never move it back
        assert_eq!(cur(&s), 4_999);
    }

    #[test]
    fn ascending_is_max_minus_one() {
        let mut s = Ascending::new();
        s.on_event(&(), 10);
        assert_eq!(cur(&s), 9);
    }

    #[test]
    fn periodic_steps_by_interval() {
        let mut s = Periodic::new(Ascending::new(), Duration::from_millis(100));
        s.on_event(&(), 1);
        assert_eq!(cur(&s), 0);
        s.on_event(&(), 99);
        assert_eq!(cur(&s), 0, "advanced by 98 < 100: not emitted");
        s.on_event(&(), 101);
        assert_eq!(cur(&s), 100, "advanced by exactly 100: emitted");
    }

    #[test]
    fn save_and_load_round_trip() {
        let mut s = Periodic::new(BoundedOutOfOrderness::millis(10), Duration::from_millis(5));
        s.on_event(&(), 1000);
        let mut t = Periodic::new(BoundedOutOfOrderness::millis(10), Duration::from_millis(5));
        WatermarkStrategy::<()>::load(&mut t, WatermarkStrategy::<()>::save(&s));
        assert_eq!(cur(&t), cur(&s));
    }
}
