//! Per-key timers of a `process` operator, in event time and in processing time.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Key;
use crate::time::Timestamp;

/// Which clock a timer follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeDomain {
    /// Fires when the watermark reaches the timer's time.
    EventTime,
    /// Fires when the wall clock reaches the timer's time.
    ProcessingTime,
}

/// A timer that fired: its time and its clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// When it was set for.
    pub time: Timestamp,
    /// Which clock it followed.
    pub domain: TimeDomain,
}

/// Timers by time, then key: at most one per (time, key, domain), as in Flink.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Timers<K: Key> {
    event: BTreeSet<(i64, K)>,
    processing: BTreeSet<(i64, K)>,
}

impl<K: Key> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            event: BTreeSet::new(),
            processing: BTreeSet::new(),
        }
    }
}

impl<K: Key> Timers<K> {
    fn set(&mut self, d: TimeDomain) -> &mut BTreeSet<(i64, K)> {
        match d {
            TimeDomain::EventTime => &mut self.event,
            TimeDomain::ProcessingTime => &mut self.processing,
        }
    }

    /// Sets a timer for `key` at `at`; setting the same one twice is one timer.
    pub fn register(&mut self, d: TimeDomain, at: i64, key: &K) {
        self.set(d).insert((at, key.clone()));
    }

    /// Deletes the timer for `key` at `at`, if set.
    pub fn delete(&mut self, d: TimeDomain, at: i64, key: &K) {
        self.set(d).remove(&(at, key.clone()));
    }

    /// Removes and returns the earliest timer at or before `until`.
    pub fn pop_due(&mut self, d: TimeDomain, until: i64) -> Option<(i64, K)> {
        let set = self.set(d);
        if set.first()?.0 <= until {
            set.pop_first()
        } else {
            None
        }
    }

    /// Timers set, in both domains.
    pub fn len(&self) -> usize {
        self.event.len() + self.processing.len()
    }

    /// Whether no timer is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
