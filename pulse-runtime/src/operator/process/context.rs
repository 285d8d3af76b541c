//! What a `process` function sees and does: its key, time and watermark, the key's value and
//! named state cells, timers, and the outputs it emits.

use super::*;

/// The name of the value [`Context::state`] keeps; descriptors cannot use it.
const VALUE: &str = "";

/// What a `process` function sees: the current key and time, the key's state, its timers, and
/// where to emit outputs.
pub struct Context<'a, K: Key, S, O> {
    key: &'a K,
    ts: i64,
    wm: i64,
    value: Option<Option<S>>,
    key_bytes: Option<Vec<u8>>,
    table: &'a mut StateTable,
    timers: &'a mut Timers<K>,
    out: &'a mut Vec<O>,
}

impl<K: Key, S, O> Context<'_, K, S, O> {
    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The time outputs carry: the element's event time, or in `on_timer` the timer's time
    /// (for a processing-time timer, just past the current watermark).
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_millis(self.ts)
    }

    /// The operator's current watermark.
    pub fn watermark(&self) -> Timestamp {
        Timestamp::from_millis(self.wm)
    }

    /// Processing time: the wall clock as the operator last saw it.
    pub fn processing_time(&self) -> Timestamp {
        Timestamp::from_millis(self.table.now())
    }

    /// Emits an output element.
    pub fn emit(&mut self, o: O) {
        self.out.push(o)
    }

    // --- timers ---

    /// Calls `on_timer` for this key once the watermark reaches `at`.
    pub fn set_event_timer(&mut self, at: Timestamp) {
        self.timers
            .register(TimeDomain::EventTime, at.millis(), self.key)
    }

    /// Calls `on_timer` for this key once the wall clock reaches `at`.
    pub fn set_processing_timer(&mut self, at: Timestamp) {
        self.timers
            .register(TimeDomain::ProcessingTime, at.millis(), self.key)
    }

    /// Deletes this key's event-time timer at `at`.
    pub fn delete_event_timer(&mut self, at: Timestamp) {
        self.timers
            .delete(TimeDomain::EventTime, at.millis(), self.key)
    }

    /// Deletes this key's processing-time timer at `at`.
    pub fn delete_processing_timer(&mut self, at: Timestamp) {
        self.timers
            .delete(TimeDomain::ProcessingTime, at.millis(), self.key)
    }
}

impl<'a, K: Key, S: StateValue, O> Context<'a, K, S, O> {
    pub(super) fn new(
        key: &'a K,
        ts: i64,
        wm: i64,
        table: &'a mut StateTable,
        timers: &'a mut Timers<K>,
        out: &'a mut Vec<O>,
    ) -> Self {
        Context {
            key,
            ts,
            wm,
            value: None,
            key_bytes: None,
            table,
            timers,
            out,
        }
    }

    fn cell(&mut self, name: &str) -> Vec<u8> {
        let kb = self.key_bytes.get_or_insert_with(|| {
            postcard::to_stdvec(self.key).expect("keys serialize with postcard")
        });
        StateTable::cell_key(name, kb)
    }

    fn load<T: StateValue>(&mut self, d: &impl StateDescriptor) -> Option<T> {
        self.table.check_type(d.name(), std::any::type_name::<T>());
        let cell = self.cell(d.name());
        self.table.get(&cell, d.ttl())
    }

    fn store<T: StateValue>(&mut self, d: &impl StateDescriptor, v: &T) {
        self.table.check_type(d.name(), std::any::type_name::<T>());
        let cell = self.cell(d.name());
        self.table.put(&cell, d.ttl(), v)
    }

    // --- the key's value ---

    /// The key's value, `None` until set.
    pub fn state(&mut self) -> &mut Option<S> {
        if self.value.is_none() {
            self.table.check_type(VALUE, std::any::type_name::<S>());
            let cell = self.cell(VALUE);
            self.value = Some(self.table.get(&cell, None));
        }
        self.value.as_mut().expect("loaded above")
    }

    /// The key's value, initialised with `S::default()` when absent.
    pub fn state_or_default(&mut self) -> &mut S
    where
        S: Default,
    {
        self.state().get_or_insert_with(S::default)
    }

    /// Clears the key's value.
    pub fn clear(&mut self) {
        self.value = Some(None);
    }

    // --- named state ---

    /// The key's value of `d`, unless unset or expired.
    pub fn value<T: StateValue>(&mut self, d: &ValueState<T>) -> Option<T> {
        self.load(d)
    }

    /// Sets the key's value of `d`.
    pub fn set_value<T: StateValue>(&mut self, d: &ValueState<T>, v: T) {
        self.store(d, &v)
    }

    /// The key's list `d`, oldest first (empty if unset or expired).
    pub fn list<T: StateValue>(&mut self, d: &ListState<T>) -> Vec<T> {
        self.load(d).unwrap_or_default()
    }

    /// Appends `v` to the key's list `d`.
    pub fn append<T: StateValue>(&mut self, d: &ListState<T>, v: T) {
        let mut list: Vec<T> = self.load(d).unwrap_or_default();
        list.push(v);
        self.store(d, &list)
    }

    /// Replaces the key's list `d`.
    pub fn set_list<T: StateValue>(&mut self, d: &ListState<T>, list: Vec<T>) {
        self.store(d, &list)
    }

    /// The key's map `d` (empty if unset or expired).
    pub fn map<MK: StateValue + Ord, MV: StateValue>(
        &mut self,
        d: &MapState<MK, MV>,
    ) -> BTreeMap<MK, MV> {
        self.load(d).unwrap_or_default()
    }

    /// The value under `k` in the key's map `d`.
    pub fn map_get<MK: StateValue + Ord, MV: StateValue>(
        &mut self,
        d: &MapState<MK, MV>,
        k: &MK,
    ) -> Option<MV> {
        self.map(d).remove(k)
    }

    /// Inserts `k -> v` into the key's map `d`, returning the value it replaced.
    pub fn map_insert<MK: StateValue + Ord, MV: StateValue>(
        &mut self,
        d: &MapState<MK, MV>,
        k: MK,
        v: MV,
    ) -> Option<MV> {
        let mut m = self.map(d);
        let old = m.insert(k, v);
        self.store(d, &m);
        old
    }

    /// Removes `k` from the key's map `d`, returning its value.
    pub fn map_remove<MK: StateValue + Ord, MV: StateValue>(
        &mut self,
        d: &MapState<MK, MV>,
        k: &MK,
    ) -> Option<MV> {
        let mut m = self.map(d);
        let old = m.remove(k);
        if old.is_some() {
            self.store(d, &m);
        }
        old
    }

    /// Folds `v` into the key's reduced value of `d` and returns the new value.
    pub fn reduce<T: StateValue>(&mut self, d: &ReducingState<T>, v: T) -> T {
        let acc = match self.load::<T>(d) {
            Some(mut acc) => {
                (d.reduce)(&mut acc, v);
                acc
            }
            None => v,
        };
        self.store(d, &acc);
        acc
    }

    /// The key's reduced value of `d`.
    pub fn reduced<T: StateValue>(&mut self, d: &ReducingState<T>) -> Option<T> {
        self.load(d)
    }

    /// Adds `x` to the key's accumulator of `d`.
    pub fn aggregate<T, A: Aggregate<T>>(&mut self, d: &AggregatingState<T, A>, x: &T) {
        let mut acc = self.load(d).unwrap_or_else(|| d.agg.init());
        d.agg.add(&mut acc, x, self.ts);
        self.store(d, &acc)
    }

    /// The result of the key's accumulator of `d`, if anything was added.
    pub fn aggregated<T, A: Aggregate<T>>(&mut self, d: &AggregatingState<T, A>) -> Option<A::Out> {
        let acc: A::Acc = self.load(d)?;
        Some(d.agg.result(&acc))
    }

    /// Deletes the key's state `d`.
    pub fn clear_state(&mut self, d: &impl StateDescriptor) {
        let cell = self.cell(d.name());
        self.table.remove(&cell)
    }

    /// Writes back the value if the function touched it.
    pub(super) fn settle(mut self) {
        if let Some(v) = self.value.take() {
            let cell = self.cell(VALUE);
            match v {
                Some(s) => self.table.put(&cell, None, &s),
                None => self.table.remove(&cell),
            }
        }
    }
}
