//! Window assigners: which windows an element at time `ts` belongs to.

use std::time::Duration;

use crate::time::duration_ms;

/// Assigns elements to windows `[start, end)`.
pub trait WindowAssigner: Clone + 'static {
    /// Calls `f(start, end)` for each aligned window containing `ts`. Not called for sessions.
    fn assign(&self, ts: i64, f: impl FnMut(i64, i64));
    /// The timestamps `[lo, hi)` around `ts` that belong to exactly the windows `ts` belongs
    /// to, so that a caller can reuse one assignment for a run of nearby elements. Must contain
    /// `ts`; the default is `ts` alone.
    fn same_windows(&self, ts: i64) -> (i64, i64) {
        (ts, ts.saturating_add(1))
    }
    /// `Some(gap)` for merging session windows, `None` for aligned windows.
    fn session_gap(&self) -> Option<i64> {
        None
    }
    /// A short description, for `--explain`.
    fn describe(&self) -> String;
}

/// `t` as an i64 timestamp, held at the ends of time.
fn clamp(t: i128) -> i64 {
    t.clamp(i64::MIN.into(), i64::MAX.into()) as i64
}

/// Fixed-size, non-overlapping windows aligned to the epoch (plus an optional offset).
///
/// # Examples
/// ```
/// use pulse_runtime::window::{Tumbling, WindowAssigner};
/// let mut ws = vec![];
/// Tumbling::secs(10).assign(12_345, |s, e| ws.push((s, e)));
/// assert_eq!(ws, [(10_000, 20_000)]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tumbling {
    size: i64,
    offset: i64,
}

impl Tumbling {
    /// Windows of `size`.
    pub fn of(size: Duration) -> Self {
        Self::millis(duration_ms(size))
    }
    /// Windows of `ms` milliseconds.
    pub fn millis(ms: i64) -> Self {
        assert!(ms > 0, "a tumbling window must be longer than 0 ms");
        Tumbling {
            size: ms,
            offset: 0,
        }
    }
    /// Windows of `s` seconds.
    pub fn secs(s: i64) -> Self {
        Self::millis(s.saturating_mul(1000))
    }
    /// Windows of `m` minutes.
    pub fn minutes(m: i64) -> Self {
        Self::secs(m.saturating_mul(60))
    }
    /// Shifts window starts by `offset` (e.g. to align days to a time zone).
    pub fn with_offset(self, offset: Duration) -> Self {
        Tumbling {
            offset: duration_ms(offset).rem_euclid(self.size),
            ..self
        }
    }
}

impl WindowAssigner for Tumbling {
    #[inline(always)]
    fn assign(&self, ts: i64, mut f: impl FnMut(i64, i64)) {
        let (start, end) = self.same_windows(ts);
        f(start, end)
    }
    fn same_windows(&self, ts: i64) -> (i64, i64) {
        // In i128: near the ends of time the aligned start or end is not an i64.
        let start = i128::from(ts)
            - (i128::from(ts) - i128::from(self.offset)).rem_euclid(self.size.into());
        (clamp(start), clamp(start + i128::from(self.size)))
    }
    fn describe(&self) -> String {
        format!("tumbling {} ms", self.size)
    }
}

/// Fixed-size windows that start every `slide`; an element belongs to `size / slide` windows.
///
/// # Examples
/// ```
/// use pulse_runtime::window::{Sliding, WindowAssigner};
/// let mut ws = vec![];
/// Sliding::secs(10, 5).assign(12_000, |s, e| ws.push((s, e)));
/// assert_eq!(ws, [(10_000, 20_000), (5_000, 15_000)]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sliding {
    size: i64,
    slide: i64,
}

impl Sliding {
    /// Windows of `size` starting every `slide`.
    pub fn of(size: Duration, slide: Duration) -> Self {
        Self::millis(duration_ms(size), duration_ms(slide))
    }
    /// Windows of `size` ms starting every `slide` ms.
    pub fn millis(size: i64, slide: i64) -> Self {
        assert!(
            size > 0 && slide > 0,
            "sliding window size and slide must be longer than 0 ms"
        );
        Sliding { size, slide }
    }
    /// Windows of `size` seconds starting every `slide` seconds.
    pub fn secs(size: i64, slide: i64) -> Self {
        Self::millis(size.saturating_mul(1000), slide.saturating_mul(1000))
    }
}

impl WindowAssigner for Sliding {
    #[inline(always)]
    fn assign(&self, ts: i64, mut f: impl FnMut(i64, i64)) {
        // In i128, as for `Tumbling`; a window that starts before the start of time starts at it.
        let (ts, size, slide) = (
            i128::from(ts),
            i128::from(self.size),
            i128::from(self.slide),
        );
        let mut start = ts - ts.rem_euclid(slide);
        while start > ts - size {
            f(clamp(start), clamp(start + size));
            start -= slide;
        }
    }
    fn same_windows(&self, ts: i64) -> (i64, i64) {
        // The newest window starts at the last multiple of `slide`; the oldest one leaves when
        // `ts - size` passes a multiple of `slide`.
        let (ts, size, slide) = (
            i128::from(ts),
            i128::from(self.size),
            i128::from(self.slide),
        );
        let last_start = ts - ts.rem_euclid(slide);
        let oldest_left = ts - (ts - size).rem_euclid(slide);
        (
            clamp(last_start.max(oldest_left)),
            clamp((last_start + slide).min(oldest_left + slide)),
        )
    }
    fn describe(&self) -> String {
        format!("sliding {} ms every {} ms", self.size, self.slide)
    }
}

/// Per-key windows that close after `gap` without elements; overlapping sessions merge.
///
/// An element at `ts` opens `[ts, ts + gap)`; sessions that touch or overlap merge (as in Flink).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    gap: i64,
}

impl Session {
    /// Sessions closed by `gap` of inactivity.
    pub fn with_gap(gap: Duration) -> Self {
        Self::millis(duration_ms(gap))
    }
    /// Sessions closed by `ms` milliseconds of inactivity.
    pub fn millis(ms: i64) -> Self {
        assert!(ms > 0, "a session gap must be longer than 0 ms");
        Session { gap: ms }
    }
    /// Sessions closed by `s` seconds of inactivity.
    pub fn secs(s: i64) -> Self {
        Self::millis(s.saturating_mul(1000))
    }
    /// Sessions closed by `m` minutes of inactivity.
    pub fn minutes(m: i64) -> Self {
        Self::secs(m.saturating_mul(60))
    }
}

impl WindowAssigner for Session {
    fn assign(&self, _: i64, _: impl FnMut(i64, i64)) {}
    fn session_gap(&self) -> Option<i64> {
        Some(self.gap)
    }
    fn describe(&self) -> String {
        format!("session gap {} ms", self.gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(a: &impl WindowAssigner, ts: i64) -> Vec<(i64, i64)> {
        let mut v = vec![];
        a.assign(ts, |s, e| v.push((s, e)));
        v
    }

    #[test]
    fn tumbling_boundaries() {
        let t = Tumbling::millis(10);
        assert_eq!(windows(&t, 9), [(0, 10)], "end - 1 is inside");
        assert_eq!(windows(&t, 10), [(10, 20)], "end starts the next window");
        assert_eq!(windows(&t, -1), [(-10, 0)], "negative timestamps floor");
        let o = Tumbling::millis(10).with_offset(Duration::from_millis(3));
        assert_eq!(windows(&o, 12), [(3, 13)]);
        assert_eq!(windows(&o, 13), [(13, 23)]);
    }

    #[test]
    fn same_windows_is_exact() {
        let tumbling = Tumbling::millis(10).with_offset(Duration::from_millis(3));
        check_same_windows(&tumbling);
        check_same_windows(&Tumbling::millis(7));
        check_same_windows(&Sliding::millis(10, 5));
        check_same_windows(&Sliding::millis(10, 3));
        check_same_windows(&Sliding::millis(7, 4));
    }

    /// Sessions are not assigned here (they merge in the operator): no aligned windows, and
    /// every timestamp its own range, so nothing reuses an assignment across timestamps.
    #[test]
    fn sessions_assign_nothing_and_share_no_range() {
        let s = Session::millis(5);
        assert_eq!(s.session_gap(), Some(5));
        for ts in [-40, -1, 0, 4, 5, 39, i64::MIN, i64::MAX - 1] {
            assert!(windows(&s, ts).is_empty(), "{ts}");
            assert_eq!(s.same_windows(ts), (ts, ts + 1), "{ts}");
        }
    }

    /// Every timestamp in `same_windows(ts)` has the windows of `ts`; the ones just outside
    /// have others (so the range is as wide as it may be).
    fn check_same_windows(a: &impl WindowAssigner) {
        for ts in -40..40 {
            let (lo, hi) = a.same_windows(ts);
            assert!(lo <= ts && ts < hi, "{ts} in [{lo}, {hi})");
            for t in lo..hi {
                assert_eq!(windows(a, t), windows(a, ts), "{t} and {ts}");
            }
            if a.session_gap().is_none() {
                assert_ne!(windows(a, lo - 1), windows(a, ts), "{} before {ts}", lo - 1);
                assert_ne!(windows(a, hi), windows(a, ts), "{hi} after {ts}");
            }
        }
    }

    #[test]
    fn windows_at_the_ends_of_time_are_cut_there() {
        let t = Tumbling::millis(10);
        let first = windows(&t, i64::MIN + 1);
        assert_eq!(first.len(), 1);
        let (start, end) = first[0];
        assert_eq!(
            start,
            i64::MIN,
            "the first window starts at the start of time"
        );
        assert!(end > i64::MIN + 1 && end - start <= 10, "{first:?}");
        assert_eq!(windows(&t, i64::MAX), [(i64::MAX - 7, i64::MAX)]);
        let s = Sliding::millis(10, 4);
        for ts in [i64::MIN, i64::MIN + 3, i64::MAX - 2, i64::MAX] {
            let ws = windows(&s, ts);
            assert!(!ws.is_empty(), "{ts}");
            for (start, end) in ws {
                assert!(
                    start <= ts && (ts < end || end == i64::MAX),
                    "{ts} in [{start}, {end})"
                );
            }
            let (lo, hi) = s.same_windows(ts);
            assert!(
                lo <= ts && (ts < hi || hi == i64::MAX),
                "{ts} in [{lo}, {hi})"
            );
        }
    }

    #[test]
    fn sliding_covers_every_overlapping_window() {
        let s = Sliding::millis(10, 5);
        assert_eq!(windows(&s, 9), [(5, 15), (0, 10)]);
        assert_eq!(windows(&s, 10), [(10, 20), (5, 15)]);
        let uneven = Sliding::millis(10, 3);
        assert_eq!(windows(&uneven, 9), [(9, 19), (6, 16), (3, 13), (0, 10)]);
    }
}
