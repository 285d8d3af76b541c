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

/// A piece in a snapshot: its key, and its value unless fjall holds it.
pub type Saved<PK, V> = (PK, Option<V>);

/// All pieces in a snapshot, and the table's own bytes.
pub type SavedPanes<PK, V> = (Vec<Saved<PK, V>>, Vec<u8>);

/// One operator's pieces of state by key `PK`, under state name `name` in its table.
pub struct Panes<PK, V> {
    map: BTreeMap<PK, Slot<V>>,
    table: StateTable,
    clock: u64,
    name: &'static str,
}

impl<PK: Ord + Clone + StateValue, V: PaneState> Panes<PK, V> {
    /// No pieces, kept as cells named `name` once attached.
    pub fn new(name: &'static str) -> Self {
        Panes {
            map: BTreeMap::new(),
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
        self.clock += 1;
        // One lookup; the clone is an `i64` for panes, and a key the caller clones anyway for
        // sessions.
        let slot = self.map.entry(pk.clone()).or_insert_with(|| Slot {
            value: Some(init()),
            dirty: true,
            touched: 0,
        });
        slot.dirty = true;
        slot.touched = self.clock;
        read_back(&mut self.table, self.name, pk, &mut slot.value)
    }

    /// The piece under `pk`, read back if evicted; not marked changed.
    pub fn get(&mut self, pk: &PK) -> Option<&V> {
        let slot = self.map.get_mut(pk)?;
        Some(read_back(&mut self.table, self.name, pk, &mut slot.value))
    }

    /// Whether there is a piece under `pk`.
    pub fn contains(&self, pk: &PK) -> bool {
        self.map.contains_key(pk)
    }

    /// The keys from `from` on, in order.
    pub fn keys_from<'a>(&'a self, from: &PK) -> impl Iterator<Item = &'a PK> + 'a {
        self.map.range(from.clone()..).map(|(k, _)| k)
    }

    /// The first key.
    pub fn first_key(&self) -> Option<&PK> {
        self.map.keys().next()
    }

    /// Removes the piece under `pk`; its cell is deleted at the next checkpoint.
    pub fn remove(&mut self, pk: &PK) -> Option<V> {
        let mut slot = self.map.remove(pk)?;
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
        self.map
            .iter()
            .filter_map(|(k, s)| Some((k, s.value.as_ref()?)))
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
            .map
            .iter()
            .map(|(k, s)| (k, s.value.as_ref().filter(|_| inline)))
            .collect();
        Ok((pieces, self.table.save()?))
    }

    /// Restores [`save`](Self::save)d pieces; with a backing, values are read back lazily.
    pub fn load(&mut self, pieces: Vec<Saved<PK, V>>, table: &[u8]) -> Result<()>
    where
        V: DeserializeOwned,
    {
        self.table.load(table)?;
        self.map = pieces
            .into_iter()
            .map(|(k, value)| {
                let slot = Slot {
                    value,
                    dirty: false,
                    touched: 0,
                };
                (k, slot)
            })
            .collect();
        Ok(())
    }

    /// Every piece changed since the last checkpoint, as one cell each.
    pub fn take_dirty(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)>
    where
        V: Serialize,
    {
        for (k, slot) in self.map.iter_mut().filter(|(_, s)| s.dirty) {
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
        let target = budget / 4 * 3;
        let mut cold: Vec<(u64, &PK)> = self
            .map
            .iter()
            .filter(|(_, s)| s.value.is_some() && !s.dirty)
            .map(|(k, s)| (s.touched, k))
            .collect();
        cold.sort_unstable_by_key(|(t, _)| *t);
        let cold: Vec<PK> = cold.into_iter().map(|(_, k)| k.clone()).collect();
        let mut dropped = 0;
        for k in cold {
            if bytes <= target {
                break;
            }
            let slot = self.map.get_mut(&k).expect("listed");
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
    slot.get_or_insert_with(|| {
        let key = postcard::to_stdvec(pk).expect("keys serialize with postcard");
        table
            .read_through(&StateTable::cell_key(name, &key))
            .unwrap_or_else(|| panic!("state `{name}` evicted to fjall is missing there"))
    })
}
