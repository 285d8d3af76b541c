//! Firing and cleanup: what a watermark completes is emitted in order of end, then key; state
//! past its lateness is dropped.

use super::*;

impl<K: Key, T, A: Aggregate<T>, W: WindowAssigner> WindowAggregate<K, T, A, W> {
    /// Advances to watermark `wm`: fires every window with `end - 1 <= wm` not fired yet, in
    /// order of end then key, and drops state past its lateness.
    pub fn on_watermark(&mut self, wm: i64, out: &mut impl FnMut(Window<K, A::Out>, i64)) {
        let prev = self.st.wm;
        if wm <= prev {
            return;
        }
        self.st.wm = wm;
        let first_unfired = prev.saturating_add(2); // end - 1 > prev
        let lateness = self.lateness;
        if self.assigner.session_gap().is_none() {
            if self.aligned.first_key().is_none_or(|&end| end - 1 > wm) {
                // The usual case as the watermark creeps forward: the oldest window is still
                // open, so nothing fires and nothing is dropped.
                return;
            }
            let ends: Vec<i64> = self
                .aligned
                .keys_from(&first_unfired)
                .copied()
                .take_while(|&end| end - 1 <= wm)
                .collect();
            for end in ends {
                if wm >= cleanup_time(end, lateness) {
                    // Fired and dropped at once (no lateness): the window's keys move out.
                    let (start, keys) = self.aligned.remove(&end).expect("listed");
                    self.firing.extend(keys);
                    let agg = &self.agg;
                    self.order.drain_sorted(&mut self.firing, |key, acc| {
                        out(window(key, start, end, agg.result(acc)), end - 1);
                    });
                    continue;
                }
                let &(start, ref keys) = self.aligned.get(&end).expect("listed");
                let mut ks: Vec<_> = keys.iter().map(|(k, acc)| (k.clone(), acc)).collect();
                let agg = &self.agg;
                self.order.drain_sorted(&mut ks, |k, acc| {
                    out(window(k, start, end, agg.result(acc)), end - 1);
                });
            }
            while let Some(&end) = self.aligned.first_key() {
                if wm < cleanup_time(end, lateness) {
                    break;
                }
                self.aligned.remove(&end);
            }
            return;
        }
        for (&end, entries) in self.session_index.range(first_unfired..) {
            if end - 1 > wm {
                break;
            }
            for (k, start) in entries {
                let s = self
                    .sessions
                    .get(k)
                    .and_then(|list| list.iter().find(|s| s.start == *start && s.end == end));
                let s = s.expect("session index and sessions agree");
                let w = Window {
                    key: k.clone(),
                    start: Timestamp::from_millis(s.start),
                    end: Timestamp::from_millis(end),
                    value: self.agg.result(&s.acc),
                };
                out(w, end - 1);
            }
        }
        while let Some(e) = self.session_index.first_entry() {
            if wm < cleanup_time(*e.key(), lateness) {
                break;
            }
            let end = *e.key();
            for (k, start) in e.remove() {
                assert!(self.sessions.contains(&k), "indexed key has sessions");
                let list = self.sessions.get_mut(&k, Vec::new);
                list.retain(|s| !(s.start == start && s.end == end));
                if list.is_empty() {
                    self.sessions.remove(&k);
                }
            }
        }
    }
}
