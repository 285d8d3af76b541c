//! Aligned windows (*panes*) of a window aggregate or join, kept in memory and, with
//! checkpoints on, as one cell each in the operator's [`StateTable`].
//!
//! A checkpoint writes the panes changed since the last one. Past the memory budget the least
//! recently used clean panes leave memory, and are read back from fjall when an element or the
//! watermark needs them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::state::{Backing, StateTable, StateValue};

/// What a pane holds: state that can be saved, and a rough size.
pub trait PaneState: StateValue + Default {
    /// Bytes the pane takes in memory, roughly.
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

struct Pane<V> {
    start: i64,
    /// `None` while evicted to the table's fjall keyspace.
    value: Option<V>,
    /// Changed since the last checkpoint.
    dirty: bool,
    /// When last used, for least-recently-used eviction.
    touched: u64,
}

/// A pane in a snapshot: end, start, and the value unless fjall holds it.
type Saved<V> = (i64, i64, Option<V>);

/// The panes of one operator, by end.
pub struct Panes<V> {
    panes: BTreeMap<i64, Pane<V>>,
    table: StateTable,
    clock: u64,
}

/// The cell of the pane ending at `end`.
fn cell(end: i64) -> Vec<u8> {
    StateTable::cell_key("pane", &end.to_be_bytes())
}

impl<V: PaneState> Default for Panes<V> {
    fn default() -> Self {
        Panes {
            panes: BTreeMap::new(),
            table: StateTable::new(),
            clock: 0,
        }
    }
}

impl<V: PaneState> Panes<V> {
    /// The pane `[start, end)`, created empty if new, read back if evicted; marked changed.
    #[inline]
    pub fn get_mut(&mut self, start: i64, end: i64) -> &mut V {
        self.clock += 1;
        let pane = self.panes.entry(end).or_insert_with(|| Pane {
            start,
            value: Some(V::default()),
            dirty: true,
            touched: 0,
        });
        pane.dirty = true;
        pane.touched = self.clock;
        read_back(&mut self.table, end, &mut pane.value)
    }

    /// The ends of the panes from `from` on, in order.
    pub fn ends_from(&self, from: i64) -> impl Iterator<Item = i64> + '_ {
        self.panes.range(from..).map(|(&end, _)| end)
    }

    /// The start and value of the pane ending at `end`, read back if evicted (not marked
    /// changed: firing only reads).
    pub fn read(&mut self, end: i64) -> Option<(i64, &V)> {
        let pane = self.panes.get_mut(&end)?;
        let start = pane.start;
        Some((start, read_back(&mut self.table, end, &mut pane.value)))
    }

    /// Removes and returns the first pane if `done(end)`; its cell is deleted at the next
    /// checkpoint.
    pub fn pop_first_if(&mut self, done: impl FnOnce(i64) -> bool) -> Option<(i64, i64, V)> {
        let e = self.panes.first_entry()?;
        let end = *e.key();
        if !done(end) {
            return None;
        }
        let mut pane = e.remove();
        let v = match pane.value.take() {
            Some(v) => v,
            None => self.table.read_through(&cell(end)).unwrap_or_default(),
        };
        if self.table.is_attached() {
            self.table.remove(&cell(end));
        }
        Some((end, pane.start, v))
    }

    /// Values of the panes in memory.
    pub fn resident(&self) -> impl Iterator<Item = &V> + '_ {
        self.panes.values().filter_map(|p| p.value.as_ref())
    }

    /// Whether no pane is open.
    pub fn is_empty(&self) -> bool {
        self.panes.is_empty()
    }

    /// Names the table after the operator, for messages.
    pub fn identify(&mut self, id: &str) {
        self.table.set_label(id)
    }

    /// Keeps panes in `backing` from now on.
    pub fn attach(&mut self, backing: Backing) {
        self.table.attach(backing)
    }

    /// The panes for a snapshot: with a backing only their ends and starts (their values are
    /// cells, written by [`take_dirty`](Self::take_dirty)); without, everything.
    pub fn save(&self) -> Result<(Vec<Saved<&V>>, Vec<u8>)> {
        let inline = !self.table.is_attached();
        let panes = self
            .panes
            .iter()
            .map(|(&end, p)| (end, p.start, p.value.as_ref().filter(|_| inline)))
            .collect();
        Ok((panes, self.table.save()?))
    }

    /// Restores [`save`](Self::save)d panes; with a backing, values are read back lazily.
    pub fn load(&mut self, panes: Vec<Saved<V>>, table: &[u8]) -> Result<()>
    where
        V: DeserializeOwned,
    {
        self.table.load(table)?;
        self.panes = panes
            .into_iter()
            .map(|(end, start, value)| {
                let pane = Pane {
                    start,
                    value,
                    dirty: false,
                    touched: 0,
                };
                (end, pane)
            })
            .collect();
        Ok(())
    }

    /// Every pane changed since the last checkpoint, as one cell each.
    pub fn take_dirty(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        for (&end, pane) in self.panes.iter_mut().filter(|(_, p)| p.dirty) {
            pane.dirty = false;
            if let Some(v) = &pane.value {
                self.table.put(&cell(end), None, v);
            }
        }
        let cells = self.table.take_dirty();
        // The panes keep the same decoded: no second copy stays in memory.
        self.table.evict(0);
        cells
    }

    /// Bytes in memory, roughly.
    pub fn bytes(&self) -> usize {
        self.table.bytes() + self.resident().map(|v| 64 + v.bytes()).sum::<usize>()
    }

    /// Drops clean panes from memory, least recently used first, until within three quarters
    /// of `budget`; returns the panes dropped. Only with a backing, which holds them.
    pub fn evict(&mut self, budget: usize) -> usize {
        let mut bytes = self.bytes();
        if !self.table.is_attached() || bytes <= budget {
            return 0;
        }
        let target = budget / 4 * 3;
        let mut cold: Vec<(u64, i64)> = self
            .panes
            .iter()
            .filter(|(_, p)| p.value.is_some() && !p.dirty)
            .map(|(&end, p)| (p.touched, end))
            .collect();
        cold.sort_unstable();
        let mut dropped = 0;
        for (_, end) in cold {
            if bytes <= target {
                break;
            }
            let pane = self.panes.get_mut(&end).expect("listed");
            if let Some(v) = pane.value.take() {
                bytes -= 64 + v.bytes();
                dropped += 1;
            }
        }
        dropped
    }
}

/// The pane's value, read back from the table (fjall) if evicted, without keeping the encoded
/// copy.
#[inline(always)]
fn read_back<'v, V: PaneState>(
    table: &mut StateTable,
    end: i64,
    slot: &'v mut Option<V>,
) -> &'v mut V {
    slot.get_or_insert_with(|| table.read_through(&cell(end)).unwrap_or_default())
}
