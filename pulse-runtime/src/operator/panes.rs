//! Keyed pieces of an operator's state (the panes of aligned windows by end, a key's session
//! windows, a join window's buffers), kept decoded in memory and, with checkpoints on, as one
//! cell each in the operator's [`StateTable`].
//!
//! A checkpoint writes the pieces changed since the last one. Past the memory budget the least
//! recently used clean pieces leave memory, and are read back from fjall when an element or the
//! watermark needs them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::state::{Backing, StateTable, StateValue};

/// What a piece holds: state that can be saved, and a rough size.
pub trait PaneState: StateValue {
    /// Bytes the piece takes in memory, roughly.
    fn bytes(&self) -> usize;
}

/// A window's accumulators by key.
impl<K, A, S> PaneState for std::collections::HashMap<K, A, S>
where
    K: StateValue + Eq + std::hash::Hash,
    A: StateValue,
    S: std::hash::BuildHasher + Default + 'static,
{
    fn bytes(&self) -> usize {
        self.capacity() * (std::mem::size_of::<K>() + std::mem::size_of::<A>() + 8)
    }
}

/// Pieces side by side.
impl<V: PaneState> PaneState for Vec<V> {
    fn bytes(&self) -> usize {
        self.iter().map(PaneState::bytes).sum::<usize>()
            + self.capacity() * std::mem::size_of::<V>()
    }
}

/// A pane with its start.
impl<V: PaneState> PaneState for (i64, V) {
    fn bytes(&self) -> usize {
        8 + self.1.bytes()
    }
}

struct Slot<V> {
    /// `None` while evicted to the table's fjall keyspace.
    value: Option<V>,
    /// Changed since the last checkpoint.
    dirty: bool,
    /// When last used, for least-recently-used eviction.
    touched: u64,
}

/// Where [`Panes::get_mut_found`] found a piece, and in which epoch of which `Panes`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Found {
    at: usize,
    /// 0: nothing found yet (epochs start at 1).
    epoch: u64,
}

fn next_epoch() -> u64 {
    static EPOCHS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    EPOCHS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A piece in a snapshot: its key, and its value unless fjall holds it.
pub type Saved<PK, V> = (PK, Option<V>);

/// All pieces in a snapshot, and the table's own bytes.
pub type SavedPanes<PK, V> = (Vec<Saved<PK, V>>, Vec<u8>);

/// Pieces remembered by key for [`Panes::get_mut`]: enough for the windows of one timestamp under
/// the usual sliding windows, and for an element just before a tumbling window's boundary and one
/// just after.
const RECENT: usize = 8;

/// One operator's pieces of state by key `PK`, under state name `name` in its table.
pub struct Panes<PK, V> {
    /// Each piece's place in `slots`, in key order.
    index: BTreeMap<PK, usize>,
    /// The pieces. A removed piece's place is in `free`, empty, and named by neither `index`
    /// nor `recent` until it is used again.
    slots: Vec<Slot<V>>,
    free: Vec<usize>,
    /// The last pieces used, with their places: most elements belong to a window used just
    /// before, so they find it here with a comparison or two instead of a search of `index`.
    /// Kept only for keys without drop glue (window ends), which are cheap to copy.
    recent: Vec<(PK, usize)>,
    /// Where in `recent` the next piece goes once it is full.
    next: usize,
    /// The piece `get_mut` returned last, already marked changed and newest: the next element
    /// of the same window takes it with one comparison. Forgotten whenever a piece may have
    /// been cleaned, dropped or moved.
    last: Option<(PK, usize)>,
    /// Names the time since `last` was last forgotten: a [`Found`] of this epoch is valid.
    /// Drawn from one counter for all `Panes`, so a `Found` of another never matches.
    epoch: u64,
    table: StateTable,
    clock: u64,
    name: &'static str,
}

impl<PK: Ord + Clone + StateValue, V: PaneState> Panes<PK, V> {
    /// No pieces, kept as cells named `name` once attached.
    pub fn new(name: &'static str) -> Self {
        Panes {
            index: BTreeMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            recent: Vec::new(),
            next: 0,
            last: None,
            epoch: next_epoch(),
            table: StateTable::new(),
            clock: 0,
            name,
        }
    }

    fn cell(name: &str, pk: &PK) -> Vec<u8> {
        let key = postcard::to_stdvec(pk).expect("keys serialize with postcard");
        StateTable::cell_key(name, &key)
    }

    /// The piece under `pk`, made by `init` if new, read back if evicted; marked changed.
    #[inline]
    pub fn get_mut(&mut self, pk: &PK, init: impl FnOnce() -> V) -> &mut V {
        let at = match &self.last {
            Some((k, at)) if k == pk => *at,
            _ => self.find_mut(pk, init),
        };
        read_back(&mut self.table, self.name, pk, &mut self.slots[at].value)
    }

    /// [`get_mut`](Self::get_mut) through a place the caller keeps: while `found` is of this
    /// epoch it names the piece under `pk`, already marked changed, and is taken without a
    /// comparison; otherwise the piece is looked up and `found` updated. A caller that uses two
    /// pieces in turn (the windows on either side of a boundary) keeps one `Found` for each, and
    /// so does not decide a second time which of the two an element wants.
    #[inline]
    pub fn get_mut_found(
        &mut self,
        found: &mut Found,
        pk: &PK,
        init: impl FnOnce() -> V,
    ) -> &mut V {
        if found.epoch != self.epoch {
            *found = Found {
                at: self.find_mut(pk, init),
                epoch: self.epoch,
            };
        }
        read_back(
            &mut self.table,
            self.name,
            pk,
            &mut self.slots[found.at].value,
        )
    }

    /// The place of the piece under `pk`, marked changed and newest, and remembered as the last
    /// one returned.
    fn find_mut(&mut self, pk: &PK, init: impl FnOnce() -> V) -> usize {
        self.clock += 1;
        // Newest first: the window of the latest elements was placed last.
        let at = match self.recent.iter().rev().find(|(k, _)| k == pk) {
            Some(&(_, at)) => at,
            None => self.place(pk, init),
        };
        if !std::mem::needs_drop::<PK>() {
            self.last = Some((pk.clone(), at));
        }
        let slot = &mut self.slots[at];
        slot.dirty = true;
        slot.touched = self.clock;
        at
    }

    /// Forgets the piece returned last, and every [`Found`]: pieces may have been cleaned,
    /// dropped or moved.
    fn forget_last(&mut self) {
        self.last = None;
        self.epoch = next_epoch();
    }

    /// The place of the piece under `pk`, made by `init` if new; remembered in `recent`.
    fn place(&mut self, pk: &PK, init: impl FnOnce() -> V) -> usize {
        let at = match self.index.get(pk) {
            Some(&at) => at,
            None => {
                let slot = Slot {
                    value: Some(init()),
                    dirty: true,
                    touched: 0,
                };
                let at = match self.free.pop() {
                    Some(at) => {
                        self.slots[at] = slot;
                        at
                    }
                    None => {
                        self.slots.push(slot);
                        self.slots.len() - 1
                    }
                };
                self.index.insert(pk.clone(), at);
                at
            }
        };
        if !std::mem::needs_drop::<PK>() {
            if self.recent.len() < RECENT {
                self.recent.push((pk.clone(), at));
            } else {
                self.recent[self.next] = (pk.clone(), at);
                self.next = (self.next + 1) % RECENT;
            }
        }
        at
    }

    /// The piece under `pk`, read back if evicted; not marked changed.
    pub fn get(&mut self, pk: &PK) -> Option<&V> {
        let at = *self.index.get(pk)?;
        let slot = &mut self.slots[at];
        Some(read_back(&mut self.table, self.name, pk, &mut slot.value))
    }

    /// Whether there is a piece under `pk`.
    pub fn contains(&self, pk: &PK) -> bool {
        self.index.contains_key(pk)
    }

    /// The keys from `from` on, in order.
    pub fn keys_from<'a>(&'a self, from: &PK) -> impl Iterator<Item = &'a PK> + 'a {
        self.index.range(from.clone()..).map(|(k, _)| k)
    }

    /// The first key.
    pub fn first_key(&self) -> Option<&PK> {
        self.index.keys().next()
    }

    /// Removes the piece under `pk`; its cell is deleted at the next checkpoint.
    pub fn remove(&mut self, pk: &PK) -> Option<V> {
        let at = self.index.remove(pk)?;
        self.forget_last();
        let slot = &mut self.slots[at];
        self.free.push(at);
        self.recent.retain(|&(_, r)| r != at);
        self.next = 0;
        let cell = Self::cell(self.name, pk);
        let v = match slot.value.take() {
            Some(v) => v,
            None => self.table.read_through(&cell)?,
        };
        if self.table.is_attached() {
            self.table.remove(&cell);
        }
        Some(v)
    }

    /// Pieces in memory.
    pub fn resident(&self) -> impl Iterator<Item = (&PK, &V)> + '_ {
        self.index
            .iter()
            .filter_map(|(k, &at)| Some((k, self.slots[at].value.as_ref()?)))
    }

    /// Names the table after the operator, for messages.
    pub fn identify(&mut self, id: &str) {
        self.table.set_label(id)
    }

    /// Keeps pieces in `backing` from now on.
    pub fn attach(&mut self, backing: Backing) {
        self.table.attach(backing)
    }

    /// The pieces for a snapshot: with a backing only their keys (their values are cells,
    /// written by [`take_dirty`](Self::take_dirty)); without, everything.
    pub fn save(&self) -> Result<SavedPanes<&PK, &V>> {
        let inline = !self.table.is_attached();
        let pieces = self
            .index
            .iter()
            .map(|(k, &at)| (k, self.slots[at].value.as_ref().filter(|_| inline)))
            .collect();
        Ok((pieces, self.table.save()?))
    }

    /// Restores [`save`](Self::save)d pieces; with a backing, values are read back lazily.
    pub fn load(&mut self, pieces: Vec<Saved<PK, V>>, table: &[u8]) -> Result<()>
    where
        V: DeserializeOwned,
    {
        self.table.load(table)?;
        self.slots.clear();
        self.free.clear();
        self.recent.clear();
        self.forget_last();
        self.next = 0;
        self.index = pieces
            .into_iter()
            .map(|(k, value)| {
                self.slots.push(Slot {
                    value,
                    dirty: false,
                    touched: 0,
                });
                (k, self.slots.len() - 1)
            })
            .collect();
        Ok(())
    }

    /// Every piece changed since the last checkpoint, as one cell each.
    pub fn take_dirty(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)>
    where
        V: Serialize,
    {
        self.forget_last();
        for (k, &at) in &self.index {
            let slot = &mut self.slots[at];
            if !slot.dirty {
                continue;
            }
            slot.dirty = false;
            if let Some(v) = &slot.value {
                self.table.put(&Self::cell(self.name, k), None, v);
            }
        }
        let cells = self.table.take_dirty();
        // The pieces stay decoded in memory: no second, encoded copy.
        self.table.evict(0);
        cells
    }

    /// Bytes in memory, roughly.
    pub fn bytes(&self) -> usize {
        self.table.bytes()
            + self
                .resident()
                .map(|(_, v)| 48 + std::mem::size_of::<PK>() + v.bytes())
                .sum::<usize>()
    }

    /// Drops clean pieces from memory, least recently used first, until within three quarters
    /// of `budget`; returns the pieces dropped. Only with a backing, which holds them.
    pub fn evict(&mut self, budget: usize) -> usize {
        let mut bytes = self.bytes();
        if !self.table.is_attached() || bytes <= budget {
            return 0;
        }
        self.forget_last();
        let target = budget / 4 * 3;
        let mut cold: Vec<(u64, usize)> = self
            .index
            .values()
            .map(|&at| (&self.slots[at], at))
            .filter(|(s, _)| s.value.is_some() && !s.dirty)
            .map(|(s, at)| (s.touched, at))
            .collect();
        cold.sort_unstable_by_key(|(t, _)| *t);
        let mut dropped = 0;
        for (_, at) in cold {
            if bytes <= target {
                break;
            }
            let slot = &mut self.slots[at];
            if let Some(v) = slot.value.take() {
                bytes -= 48 + std::mem::size_of::<PK>() + v.bytes();
                dropped += 1;
            }
        }
        dropped
    }
}

/// The piece's value, read back from the table (fjall) if evicted, without keeping the encoded
/// copy.
#[inline(always)]
fn read_back<'v, PK: Serialize, V: PaneState>(
    table: &mut StateTable,
    name: &str,
    pk: &PK,
    slot: &'v mut Option<V>,
) -> &'v mut V {
    // The resident case stays in the caller's loop; only reading back is a call.
    if slot.is_none() {
        *slot = Some(read_evicted(table, name, pk));
    }
    slot.as_mut().expect("resident or read back")
}

#[cold]
#[inline(never)]
fn read_evicted<PK: Serialize, V: PaneState>(table: &mut StateTable, name: &str, pk: &PK) -> V {
    let key = postcard::to_stdvec(pk).expect("keys serialize with postcard");
    table
        .read_through(&StateTable::cell_key(name, &key))
        .unwrap_or_else(|| panic!("state `{name}` evicted to fjall is missing there"))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::{Found, Panes};

    type Counter = HashMap<u64, u64>;

    /// Random gets, removals and reads against a `BTreeMap`: a removed piece's place is reused
    /// while `recent` may still name it, and more keys are in play than `recent` holds.
    fn agrees_with_a_map<PK: Ord + Clone + crate::state::StateValue + std::fmt::Debug>(
        key: impl Fn(u64) -> PK,
    ) {
        let mut panes: Panes<PK, Counter> = Panes::new("test");
        let mut model: BTreeMap<PK, u64> = BTreeMap::new();
        // As a window operator keeps them: one `Found` per key, kept across everything else.
        let mut founds: BTreeMap<PK, Found> = BTreeMap::new();
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        for step in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let k = key(rng % 12);
            match (rng >> 8) % 10 {
                0..=3 => {
                    *panes.get_mut(&k, Counter::new).entry(0).or_default() += 1;
                    *model.entry(k).or_default() += 1;
                }
                4..=6 => {
                    let found = founds.entry(k.clone()).or_default();
                    *panes
                        .get_mut_found(found, &k, Counter::new)
                        .entry(0)
                        .or_default() += 1;
                    *model.entry(k).or_default() += 1;
                }
                7 => {
                    let got = panes.remove(&k).map(|c| c[&0]);
                    assert_eq!(got, model.remove(&k), "remove {k:?} at step {step}");
                }
                8 => {
                    let got = panes.get(&k).map(|c| c[&0]);
                    assert_eq!(got, model.get(&k).copied(), "get {k:?} at step {step}");
                }
                _ => {
                    assert_eq!(panes.first_key(), model.keys().next(), "at step {step}");
                    let resident: Vec<_> = panes.resident().map(|(k, c)| (k, c[&0])).collect();
                    let expected: Vec<_> = model.iter().map(|(k, &n)| (k, n)).collect();
                    assert_eq!(resident, expected, "at step {step}");
                }
            }
        }
    }

    #[test]
    fn pieces_by_window_end_agree_with_a_map() {
        agrees_with_a_map(|k| k as i64 * 10_000);
    }

    #[test]
    fn pieces_by_string_key_agree_with_a_map() {
        agrees_with_a_map(|k| format!("user-{k}"));
    }

    /// Pieces under state name `p`, attached to a checkpoint store in a tempdir (kept alive by
    /// the first two values).
    fn attached() -> (
        tempfile::TempDir,
        crate::checkpoint::CheckpointStore,
        Panes<u64, Counter>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::checkpoint::CheckpointStore::open(dir.path()).unwrap();
        let mut panes: Panes<u64, Counter> = Panes::new("p");
        panes.attach(store.backing("p").unwrap());
        (dir, store, panes)
    }

    /// A piece changed again after a checkpoint took it goes into the next checkpoint too,
    /// however it is found (the last piece used, or a search).
    #[test]
    fn a_piece_changed_after_a_checkpoint_is_taken_again() {
        let (_dir, _store, mut panes) = attached();
        for round in 1..=3u64 {
            *panes.get_mut(&10, Counter::new).entry(7).or_default() += 1;
            if round == 2 {
                // Another piece in between: the next change to 10 is found by a search.
                panes.get_mut(&20, Counter::new);
            }
            let cells = panes.take_dirty();
            let changed = if round == 2 { 2 } else { 1 };
            assert_eq!(
                cells.len(),
                changed,
                "round {round}: piece 10 is dirty again"
            );
            assert_eq!(panes.get(&10).unwrap()[&7], round);
        }
        *panes.get_mut(&10, Counter::new).entry(7).or_default() += 1;
        let cells = panes.take_dirty();
        assert_eq!(cells.len(), 1, "only piece 10 changed: {cells:?}");
    }

    #[test]
    fn a_piece_changed_through_a_found_place_is_taken_at_every_checkpoint() {
        let (_dir, _store, mut panes) = attached();
        let mut other: Panes<u64, Counter> = Panes::new("q");
        let (mut ten, mut twenty) = (Found::default(), Found::default());
        for round in 1..=3u64 {
            // Taking turns, as elements on either side of a window boundary do.
            for _ in 0..2 {
                *panes
                    .get_mut_found(&mut ten, &10, Counter::new)
                    .entry(7)
                    .or_default() += 1;
                *panes
                    .get_mut_found(&mut twenty, &20, Counter::new)
                    .entry(7)
                    .or_default() += 1;
            }
            let mut cells = panes.take_dirty();
            cells.sort();
            assert_eq!(cells.len(), 2, "round {round}: both pieces are dirty again");
            assert_eq!(panes.get(&10).unwrap()[&7], 2 * round);
            assert_eq!(panes.get(&20).unwrap()[&7], 2 * round);
        }
        // A place found in one `Panes` is not taken in another.
        *other
            .get_mut_found(&mut ten, &10, Counter::new)
            .entry(7)
            .or_default() += 1;
        assert_eq!(other.get(&10).unwrap()[&7], 1);
        assert_eq!(panes.get(&10).unwrap()[&7], 6);
        // Nor after the piece it names was removed and its place reused by another.
        let mut thirty = Found::default();
        panes.get_mut_found(&mut thirty, &30, Counter::new);
        panes.remove(&30);
        panes.get_mut(&40, Counter::new).insert(7, 100);
        *panes
            .get_mut_found(&mut thirty, &30, Counter::new)
            .entry(7)
            .or_default() += 1;
        assert_eq!(panes.get(&30).unwrap()[&7], 1);
        assert_eq!(panes.get(&40).unwrap()[&7], 100);
    }
}
