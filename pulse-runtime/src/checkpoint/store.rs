//! The checkpoint store on fjall: one keyspace per stateful operator id, one for metadata.

use std::path::{Path, PathBuf};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use serde::{Deserialize, Serialize};

use super::{Dirty, Snapshot};
use crate::error::{Error, Result};
use crate::state::Backing;

/// Everything but operator state that a checkpoint records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Increasing id.
    pub id: u64,
    /// The pipeline that wrote it.
    pub pipeline: String,
    /// Per input: name and position (opaque bytes of the source).
    pub sources: Vec<(String, Vec<u8>)>,
    /// Per output: name and pre-commit record (opaque bytes of the sink).
    pub sinks: Vec<(String, Vec<u8>)>,
    /// The stateful operators whose state is in this checkpoint, with their state types.
    pub operators: Vec<(String, String)>,
    /// Taken at the end of input, just before the sinks publish: a restart finds the run
    /// finished and publishes what is left, instead of running again.
    pub finished: bool,
}

const META: &str = "pulse.meta";
pub(super) const LATEST: &[u8] = b"checkpoint";
const STATE: &[u8] = b"state";

/// A fjall database holding the latest checkpoint of one pipeline.
pub struct CheckpointStore {
    pub(super) db: Database,
    pub(super) meta: Keyspace,
    pub(super) dir: PathBuf,
}

pub(super) fn fj(dir: &Path, e: impl std::fmt::Display) -> Error {
    Error::State {
        operator: "checkpoint".into(),
        message: format!("{}: {e}", dir.display()),
    }
}

impl CheckpointStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        crate::io::create_dir(dir)?;
        let db = Database::builder(dir).open().map_err(|e| fj(dir, e))?;
        let meta = db
            .keyspace(META, KeyspaceCreateOptions::default)
            .map_err(|e| fj(dir, e))?;
        Ok(CheckpointStore {
            db,
            meta,
            dir: dir.to_path_buf(),
        })
    }

    pub(super) fn operator(&self, id: &str) -> Result<Keyspace> {
        self.db
            .keyspace(&format!("op:{id}"), KeyspaceCreateOptions::default)
            .map_err(|e| fj(&self.dir, e))
    }

    /// The keyspace holding operator `id`'s keyed state cells.
    pub fn backing(&self, id: &str) -> Result<Backing> {
        Ok(Backing::new(self.operator(id)?))
    }

    /// Writes `cp`, every operator's saved bytes and the dirty keyed state cells in one atomic
    /// batch, and fsyncs it.
    pub fn write(&self, cp: &Checkpoint, state: &Snapshot, dirty: &Dirty) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for (id, bytes) in state {
            let ks = self.operator(id)?;
            batch.insert(&ks, STATE, bytes.as_slice());
        }
        for (id, cells) in dirty {
            let ks = self.operator(id)?;
            for (key, value) in cells {
                let mut k = Vec::with_capacity(key.len() + 1);
                k.push(Backing::PREFIX);
                k.extend_from_slice(key);
                match value {
                    Some(v) => batch.insert(&ks, k, v.as_slice()),
                    None => batch.remove(&ks, k),
                }
            }
        }
        let meta = postcard::to_stdvec(cp).map_err(|e| fj(&self.dir, e))?;
        batch.insert(&self.meta, LATEST, meta);
        batch.commit().map_err(|e| fj(&self.dir, e))?;
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| fj(&self.dir, e))
    }

    /// Empties every operator keyspace and forgets the checkpoint: for a run that starts from
    /// the beginning in a directory that held state before.
    pub fn reset(&self) -> Result<()> {
        for name in self.db.list_keyspace_names() {
            if name.starts_with("op:") {
                let ks = self
                    .db
                    .keyspace(&name, KeyspaceCreateOptions::default)
                    .map_err(|e| fj(&self.dir, e))?;
                ks.clear().map_err(|e| fj(&self.dir, e))?;
            }
        }
        self.clear()
    }

    /// The latest checkpoint and its operator state, if any.
    pub fn latest(&self) -> Result<Option<(Checkpoint, Snapshot)>> {
        let Some(meta) = self.meta.get(LATEST).map_err(|e| fj(&self.dir, e))? else {
            return Ok(None);
        };
        let cp: Checkpoint = postcard::from_bytes(&meta)
            .map_err(|e| fj(&self.dir, format!("unreadable checkpoint: {e}")))?;
        let mut state = Snapshot::new();
        for (id, _) in &cp.operators {
            let bytes = self
                .operator(id)?
                .get(STATE)
                .map_err(|e| fj(&self.dir, e))?
                .ok_or_else(|| Error::State {
                    operator: id.clone(),
                    message: format!(
                        "checkpoint {} lists the operator but holds no state for it",
                        cp.id
                    ),
                })?;
            state.insert(id.clone(), bytes.to_vec());
        }
        Ok(Some((cp, state)))
    }

    /// Forgets the checkpoint (after a run finished and published everything).
    pub fn clear(&self) -> Result<()> {
        self.meta.remove(LATEST).map_err(|e| fj(&self.dir, e))?;
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| fj(&self.dir, e))
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_real_fjall_directory() {
        let dir = tempfile::tempdir().unwrap();
        let cp = Checkpoint {
            id: 7,
            pipeline: "p".into(),
            sources: vec![("in".into(), vec![1, 2])],
            sinks: vec![("out".into(), vec![3])],
            operators: vec![
                ("__watermarks".into(), String::new()),
                ("p/x/window".into(), "window<u64, u64>".into()),
            ],
            finished: true,
        };
        let mut state = Snapshot::new();
        state.insert("p/x/window".into(), vec![9; 1000]);
        state.insert("__watermarks".into(), vec![4]);
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            assert!(store.latest().unwrap().is_none());
            store.write(&cp, &state, &vec![]).unwrap();
        }
        let store = CheckpointStore::open(dir.path()).unwrap();
        let (got, got_state) = store.latest().unwrap().unwrap();
        assert_eq!(got.id, 7);
        assert_eq!(got.sources, cp.sources);
        assert_eq!(got.operators, cp.operators);
        assert_eq!(got_state, state);
        store.clear().unwrap();
        assert!(store.latest().unwrap().is_none());
    }
}
