//! Pre-aggregation in parallel runs: workers send per-key partials of closed windows to the
//! keys' owners, which merge them.

use super::*;

impl<K: Key, T, A: Aggregate<T>, W: WindowAssigner> WindowAggregate<K, T, A, W> {
    /// Merges one window's partial accumulators, pre-aggregated by another worker (or this
    /// one) for keys this worker owns; re-emits the results through `out` if the window has
    /// fired.
    pub fn merge(
        &mut self,
        Partial { end, start, keys }: Partial<K, A::Acc>,
        out: &mut impl FnMut(Window<K, A::Out>, i64),
    ) {
        let wm = self.st.wm;
        if wm >= cleanup_time(end, self.lateness) {
            // Cannot happen: partials travel ahead of the watermark that covers them (see
            // `Combiner`). Counted rather than merged into a window that will not fire again.
            debug_assert!(
                false,
                "a partial of window ..{end} arrived past its cleanup"
            );
            self.st.late += 1;
            return;
        }
        let fired = wm >= end - 1;
        let agg = &self.agg;
        if !self.aligned.contains(&end) {
            // The usual first partial of a window: it becomes the window, key by key as is.
            let (_, keys) = self.aligned.get_mut(&end, || (start, keys));
            if fired {
                for (k, acc) in keys.iter() {
                    out(window(k.clone(), start, end, agg.result(acc)), end - 1);
                }
            }
            return;
        }
        let (_, window_keys) = self.aligned.get_mut(&end, || unreachable!("listed"));
        let mut keys = keys;
        if !fired && keys.len() > window_keys.len() {
            // Merged the other way round: the smaller map's keys are the ones looked up.
            std::mem::swap(window_keys, &mut keys);
        }
        window_keys.reserve(keys.len());
        for (k, acc) in keys {
            // A key is cloned only past the window's end, inside its lateness: rare.
            let emit = fired.then(|| k.clone());
            let merged = match window_keys.entry(k) {
                Entry::Occupied(e) => {
                    let mine = e.into_mut();
                    agg.merge(mine, acc);
                    mine
                }
                Entry::Vacant(e) => e.insert(acc),
            };
            if let Some(k) = emit {
                out(window(k, start, end, agg.result(merged)), end - 1);
            }
        }
    }
}

impl<K, T, A, W> Combiner for WindowAggregate<K, T, A, W>
where
    K: Key + Send + 'static,
    A: Aggregate<T>,
    A::Acc: Send + 'static,
    W: WindowAssigner,
{
    fn configure(&mut self, _me: usize, workers: usize, local: Option<Rc<Cell<i64>>>) -> bool {
        let ordered_lateness = local.is_some() && self.lateness > 0;
        if workers <= 1 || self.assigner.session_gap().is_some() || ordered_lateness {
            self.combine = None;
            return false;
        }
        self.combine = Some(Combine {
            wm: self.st.wm,
            local,
            sizes: vec![0; workers],
            partials: Panes::new("partial"),
        });
        true
    }

    fn take_partials(
        &mut self,
        wm: i64,
        all: bool,
        send: &mut dyn FnMut(usize, Box<dyn Any + Send>),
    ) {
        let Some(c) = &mut self.combine else {
            return;
        };
        c.wm = c.wm.max(wm);
        if !all && c.partials.first_key().is_none_or(|&end| end - 1 > wm) {
            // Most rounds: no window closed since the last.
            return;
        }
        let mut to: Vec<Vec<Partial<K, A::Acc>>> = c.sizes.iter().map(|_| Vec::new()).collect();
        while let Some(&end) = c.partials.first_key() {
            if !all && end - 1 > wm {
                break;
            }
            let (start, shards) = c.partials.remove(&end).expect("listed");
            for (w, keys) in shards.into_iter().enumerate() {
                c.sizes[w] = keys.len();
                if !keys.is_empty() {
                    to[w].push(Partial { end, start, keys });
                }
            }
        }
        for (w, batch) in to.into_iter().enumerate() {
            if !batch.is_empty() {
                send(w, Box::new(batch));
            }
        }
    }
}
