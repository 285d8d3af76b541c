//! Session windows: an element's `[t, t + gap)` merges with every session it overlaps or
//! touches, and is late only if the merged session is past cleanup.

use super::*;

impl<K: Key, T, A: Aggregate<T>, W: WindowAssigner> WindowAggregate<K, T, A, W> {
    pub(super) fn push_session(
        &mut self,
        k: K,
        x: T,
        ts: i64,
        gap: i64,
        out: &mut impl FnMut(Window<K, A::Out>, i64),
        late: &mut impl FnMut(T, i64),
    ) {
        let (mut start, mut end) = (ts, ts.saturating_add(gap));
        // Merge first, judge after (Flink's `WindowOperator`): an element whose own window is
        // past cleanup still belongs to a retained session it touches, and the merged session
        // is then retained too (its end is at least that session's). Only an element that
        // touches no retained session is late.
        if self.st.wm >= cleanup_time(end, self.lateness)
            && !self
                .sessions
                .get(&k)
                .is_some_and(|list| list.iter().any(|s| s.start <= end && s.end >= start))
        {
            self.st.late += 1;
            return late(x, ts);
        }
        let mut acc = self.agg.init();
        self.agg.add(&mut acc, &x, ts);
        let list = self.sessions.get_mut(&k, Vec::new);
        // Merging can grow the new session until it reaches a further one: repeat until stable.
        loop {
            let before = list.len();
            let mut i = 0;
            while i < list.len() {
                if list[i].start <= end && list[i].end >= start {
                    let s = list.swap_remove(i);
                    unindex(&mut self.session_index, s.end, &k, s.start);
                    start = start.min(s.start);
                    end = end.max(s.end);
                    self.agg.merge(&mut acc, s.acc);
                } else {
                    i += 1;
                }
            }
            if list.len() == before {
                break;
            }
        }
        if self.st.wm >= end - 1 {
            let w = Window {
                key: k.clone(),
                start: Timestamp::from_millis(start),
                end: Timestamp::from_millis(end),
                value: self.agg.result(&acc),
            };
            out(w, end - 1);
        }
        list.push(SessionWin { start, end, acc });
        self.session_index
            .entry(end)
            .or_default()
            .insert((k, start));
    }
}
