//! The keyed state of one operator: a working set in memory with dirty tracking, backed by the
//! operator's fjall keyspace when checkpoints are on.
//!
//! Every piece of state is a *cell* under `[name length][name][key]`, holding
//! `[expires at, i64 LE][postcard value]`. Reads look in memory, then in fjall (the state of the
//! latest checkpoint); writes stay in memory, marked dirty, until the next checkpoint writes the
//! dirty cells into the same atomic batch as everything else. After a checkpoint every cell is
//! clean, so cold cells can be dropped from memory when the working set passes its budget and
//! read back from fjall on access.

use std::collections::{BTreeMap, HashMap};

use fjall::Keyspace;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Ttl;
use crate::error::{Error, Result};

const NEVER: i64 = i64::MAX;
/// Bytes counted per cell besides its key and value.
const OVERHEAD: usize = 48;
/// Cells on disk checked for expiry per checkpoint.
const SWEEP_PER_CHECKPOINT: usize = 4096;

/// The fjall keyspace holding one operator's checkpointed cells.
#[derive(Clone)]
pub struct Backing {
    ks: Keyspace,
}

impl Backing {
    /// Cells live under `c` + cell key, apart from the operator's other saved bytes.
    pub(crate) const PREFIX: u8 = b'c';

    pub(crate) fn new(ks: Keyspace) -> Self {
        Backing { ks }
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut k = Vec::with_capacity(key.len() + 1);
        k.push(Self::PREFIX);
        k.extend_from_slice(key);
        // A read error here means the disk failed under a running pipeline.
        self.ks
            .get(&k)
            .unwrap_or_else(|e| panic!("reading state from fjall failed: {e}"))
            .map(|v| v.to_vec())
    }
}

struct Cell {
    /// `None`: deleted.
    value: Option<Vec<u8>>,
    dirty: bool,
    touched: u64,
}

impl Cell {
    fn size(key: &[u8], value: &Option<Vec<u8>>) -> usize {
        key.len() + value.as_ref().map_or(0, Vec::len) + OVERHEAD
    }
}

/// The type each state name was first used with.
type Types = BTreeMap<String, String>;
type Pair = (Vec<u8>, Vec<u8>);

/// One operator's keyed state cells.
pub struct StateTable {
    cells: HashMap<Vec<u8>, Cell>,
    mem: usize,
    clock: u64,
    now: i64,
    backing: Option<Backing>,
    types: Types,
    sweep_from: Vec<u8>,
    label: String,
    /// Keys of cells that turned dirty since the last checkpoint.
    dirty: Vec<Vec<u8>>,
    /// Whether any cell in memory has an expiry (else the memory sweep is skipped).
    expiring: bool,
}

impl Default for StateTable {
    fn default() -> Self {
        Self::new()
    }
}

fn expires(value: &[u8]) -> i64 {
    i64::from_le_bytes(
        value[..8]
            .try_into()
            .expect("cells start with their expiry"),
    )
}

impl StateTable {
    /// An empty table, in memory only.
    pub fn new() -> Self {
        StateTable {
            cells: HashMap::new(),
            mem: 0,
            clock: 0,
            now: crate::time::now_millis(),
            backing: None,
            types: BTreeMap::new(),
            sweep_from: vec![],
            label: String::new(),
            dirty: vec![],
            expiring: false,
        }
    }

    /// Names the operator in error messages.
    pub fn set_label(&mut self, label: &str) {
        self.label = label.to_string();
    }

    /// Reads missing cells from `backing` from now on, and lets cold cells be evicted to it.
    pub fn attach(&mut self, backing: Backing) {
        self.backing = Some(backing);
    }

    /// Whether cells are backed by fjall.
    pub fn is_attached(&self) -> bool {
        self.backing.is_some()
    }

    /// Processing time, in ms since the epoch, as TTLs see it.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Sets processing time (the driver passes the wall clock; tests pass virtual time).
    pub fn set_now(&mut self, now: i64) {
        self.now = now;
    }

    /// Bytes the working set takes in memory (approximately).
    pub fn bytes(&self) -> usize {
        self.mem
    }

    /// Cells in memory.
    pub fn cells_in_memory(&self) -> usize {
        self.cells.len()
    }

    /// The cell key of state `name` for the key encoded as `key`.
    pub fn cell_key(name: &str, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + name.len() + key.len());
        k.push(name.len() as u8);
        k.extend_from_slice(name.as_bytes());
        k.extend_from_slice(key);
        k
    }

    /// Panics if state `name` was used with another type before (in this run or a restored one).
    pub fn check_type(&mut self, name: &str, ty: &'static str) {
        match self.types.get(name) {
            Some(t) if t == ty => {}
            Some(t) => panic!(
                "operator `{}`: state `{name}` holds `{}`, but is used as `{}`; \
                 rename the state to start it afresh, or run with --fresh",
                self.label,
                super::short_type_name(t),
                super::short_type_name(ty)
            ),
            None => {
                self.types.insert(name.to_string(), ty.to_string());
            }
        }
    }

    fn insert(&mut self, key: Vec<u8>, value: Option<Vec<u8>>, dirty: bool) {
        self.clock += 1;
        let add = Cell::size(&key, &value);
        self.expiring |= value.as_deref().is_some_and(|v| expires(v) != NEVER);
        let cell = Cell {
            value,
            dirty,
            touched: self.clock,
        };
        match self.cells.insert(key.clone(), cell) {
            Some(old) => {
                self.mem -= Cell::size(&key, &old.value);
                if dirty && !old.dirty {
                    self.dirty.push(key);
                }
            }
            None if dirty => self.dirty.push(key),
            None => {}
        }
        self.mem += add;
    }

    /// The raw cell (expiry header included), from memory or fjall.
    fn lookup(&mut self, key: &[u8]) -> Option<&mut Vec<u8>> {
        if !self.cells.contains_key(key) {
            let from_disk = self.backing.as_ref()?.get(key)?;
            self.insert(key.to_vec(), Some(from_disk), false);
        }
        self.clock += 1;
        let cell = self.cells.get_mut(key)?;
        cell.touched = self.clock;
        cell.value.as_mut()
    }

    /// The value of cell `key`, unless absent or expired (an expired cell is deleted).
    pub fn get<T: DeserializeOwned>(&mut self, key: &[u8], ttl: Option<Ttl>) -> Option<T> {
        let now = self.now;
        let raw = self.lookup(key)?;
        if expires(raw) <= now {
            self.remove(key);
            return None;
        }
        let mut refreshed = false;
        if let Some(t) = ttl.filter(|t| t.refresh_on_read) {
            raw[..8].copy_from_slice(&now.saturating_add(t.ms).to_le_bytes());
            refreshed = true;
        }
        let value = postcard::from_bytes(&raw[8..]).unwrap_or_else(|e| {
            panic!(
                "operator `{}`: saved state does not decode as the type it is read as: {e}",
                self.label
            )
        });
        if refreshed {
            let cell = self.cells.get_mut(key).expect("looked up");
            if !std::mem::replace(&mut cell.dirty, true) {
                self.dirty.push(key.to_vec());
            }
        }
        Some(value)
    }

    /// The value of cell `key` without keeping a copy in memory (the caller keeps it decoded).
    pub fn read_through<T: DeserializeOwned>(&mut self, key: &[u8]) -> Option<T> {
        let value = self.get(key, None);
        if let Some(c) = self.cells.get(key).filter(|c| !c.dirty) {
            self.mem -= Cell::size(key, &c.value);
            self.cells.remove(key);
        }
        value
    }

    /// Sets cell `key` to `value`, expiring `ttl` from now.
    pub fn put<T: Serialize + ?Sized>(&mut self, key: &[u8], ttl: Option<Ttl>, value: &T) {
        let at = ttl.map_or(NEVER, |t| self.now.saturating_add(t.ms));
        let mut raw = at.to_le_bytes().to_vec();
        let raw = postcard::to_extend(value, std::mem::take(&mut raw))
            .expect("state values serialize with postcard");
        self.insert(key.to_vec(), Some(raw), true);
    }

    /// Deletes cell `key`.
    pub fn remove(&mut self, key: &[u8]) {
        if self.backing.is_some() {
            self.insert(key.to_vec(), None, true);
        } else if let Some(old) = self.cells.remove(key) {
            self.mem -= Cell::size(key, &old.value);
        }
    }

    /// The cells changed since the last call (`None` for deleted), which are clean afterwards.
    pub fn take_dirty(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut out = vec![];
        let mut deleted = vec![];
        for k in std::mem::take(&mut self.dirty) {
            if let Some(c) = self.cells.get_mut(&k)
                && std::mem::replace(&mut c.dirty, false)
            {
                if c.value.is_none() {
                    deleted.push(k.clone());
                }
                out.push((k, c.value.clone()));
            }
        }
        for k in deleted {
            let old = self.cells.remove(&k).expect("listed");
            self.mem -= Cell::size(&k, &old.value);
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Deletes expired cells in memory, and checks the next few thousand cells on disk.
    pub fn sweep_expired(&mut self) {
        let now = self.now;
        let expired: Vec<Vec<u8>> = if self.expiring {
            self.cells
                .iter()
                .filter(|(_, c)| c.value.as_ref().is_some_and(|v| expires(v) <= now))
                .map(|(k, _)| k.clone())
                .collect()
        } else {
            vec![]
        };
        for k in expired {
            self.remove(&k);
        }
        let Some(b) = &self.backing else { return };
        let mut start = vec![Backing::PREFIX];
        start.extend_from_slice(&self.sweep_from);
        let mut seen = 0;
        let mut on_disk = vec![];
        for kv in b.ks.range(start..) {
            let Ok((k, v)) = kv.into_inner() else { break };
            if k.first() != Some(&Backing::PREFIX) {
                break;
            }
            seen += 1;
            if seen > SWEEP_PER_CHECKPOINT {
                self.sweep_from = k[1..].to_vec();
                break;
            }
            if v.len() >= 8 && expires(&v) <= now {
                on_disk.push(k[1..].to_vec());
            }
        }
        if seen <= SWEEP_PER_CHECKPOINT {
            self.sweep_from.clear();
        }
        for k in on_disk {
            if !self.cells.contains_key(&k) {
                self.insert(k, None, true);
            }
        }
    }

    /// Drops the least recently used clean cells until the working set is within three
    /// quarters of `budget` bytes. Only cells fjall holds can go; without a backing, none can.
    pub fn evict(&mut self, budget: usize) -> usize {
        if self.backing.is_none() || self.mem <= budget {
            return 0;
        }
        let mut clean: Vec<(u64, Vec<u8>)> = self
            .cells
            .iter()
            .filter(|(_, c)| !c.dirty)
            .map(|(k, c)| (c.touched, k.clone()))
            .collect();
        clean.sort_unstable();
        let target = budget / 4 * 3;
        let mut evicted = 0;
        for (_, k) in clean {
            if self.mem <= target {
                break;
            }
            let old = self.cells.remove(&k).expect("listed");
            self.mem -= Cell::size(&k, &old.value);
            evicted += 1;
        }
        evicted
    }

    /// The table's own bytes for a snapshot: the state types, and every cell unless fjall
    /// holds them.
    pub fn save(&self) -> Result<Vec<u8>> {
        let cells: Vec<(&[u8], &[u8])> = if self.backing.is_some() {
            vec![]
        } else {
            let mut v: Vec<_> = self
                .cells
                .iter()
                .filter_map(|(k, c)| Some((k.as_slice(), c.value.as_deref()?)))
                .collect();
            v.sort_unstable();
            v
        };
        postcard::to_stdvec(&(&self.types, cells)).map_err(|e| Error::State {
            operator: self.label.clone(),
            message: e.to_string(),
        })
    }

    /// Restores [`save`](Self::save)d bytes; with a backing, cells are read from fjall lazily.
    pub fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let (types, cells): (Types, Vec<Pair>) = crate::state::decode(bytes)?;
        self.types = types;
        self.cells.clear();
        self.dirty.clear();
        self.mem = 0;
        for (k, v) in cells {
            self.insert(k, Some(v), self.backing.is_some());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(name: &str, k: u32) -> Vec<u8> {
        StateTable::cell_key(name, &postcard::to_stdvec(&k).unwrap())
    }

    #[test]
    fn ttl_after_write_expires_and_deletes() {
        let mut t = StateTable::new();
        t.set_now(1_000);
        let ttl = Some(Ttl::after_write(Duration::from_millis(100)));
        t.put(&key("v", 1), ttl, &7u64);
        t.set_now(1_099);
        assert_eq!(t.get::<u64>(&key("v", 1), ttl), Some(7));
        t.set_now(1_100);
        assert_eq!(
            t.get::<u64>(&key("v", 1), ttl),
            None,
            "expired at 1000 + 100"
        );
        assert_eq!(t.cells_in_memory(), 0, "reading an expired cell deletes it");
    }

    #[test]
    fn ttl_after_access_is_refreshed_by_reads() {
        let mut t = StateTable::new();
        t.set_now(0);
        let ttl = Some(Ttl::after_access(Duration::from_millis(100)));
        t.put(&key("v", 1), ttl, &7u64);
        for now in [90, 180, 270] {
            t.set_now(now);
            assert_eq!(t.get::<u64>(&key("v", 1), ttl), Some(7), "read at {now}");
        }
        t.set_now(370);
        assert_eq!(t.get::<u64>(&key("v", 1), ttl), None);
    }

    #[test]
    fn sweep_cleans_up_unread_expired_cells() {
        let mut t = StateTable::new();
        t.set_now(0);
        let ttl = Some(Ttl::after_write(Duration::from_millis(10)));
        for k in 0..100 {
            t.put(&key("v", k), if k % 2 == 0 { ttl } else { None }, &k);
        }
        t.set_now(10);
        t.sweep_expired();
        assert_eq!(t.cells_in_memory(), 50);
    }

    #[test]
    fn evicts_clean_cells_to_fjall_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let ks = db
            .keyspace("op", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let mut t = StateTable::new();
        t.attach(Backing::new(ks.clone()));
        for k in 0..10_000u32 {
            t.put(&key("v", k), None, &vec![k; 16]);
        }
        let full = t.bytes();
        assert_eq!(t.evict(full / 10), 0, "dirty cells are never evicted");
        for (k, v) in t.take_dirty() {
            let mut dk = vec![Backing::PREFIX];
            dk.extend_from_slice(&k);
            ks.insert(dk, v.unwrap()).unwrap();
        }
        let evicted = t.evict(full / 10);
        assert!(evicted > 9_000, "evicted {evicted}");
        assert!(t.bytes() <= full / 10);
        for k in (0..10_000u32).step_by(7) {
            assert_eq!(t.get::<Vec<u32>>(&key("v", k), None), Some(vec![k; 16]));
        }
        assert_eq!(t.get::<Vec<u32>>(&key("v", 10_001), None), None);
    }

    #[test]
    #[should_panic(expected = "state `v` holds `u64`, but is used as `String`")]
    fn a_state_used_with_two_types_is_refused() {
        let mut t = StateTable::new();
        t.check_type("v", std::any::type_name::<u64>());
        t.check_type("v", std::any::type_name::<String>());
    }
}
