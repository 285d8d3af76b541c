//! Savepoints: a checkpoint exported to a directory as one portable file, and imported back.
//!
//! fjall has no checkpoint API, so an export reads the latest checkpoint through a database
//! snapshot (a consistent view, dropped as soon as the file is written) and streams every
//! operator's entries into `savepoint.pulse`: a header, then length-prefixed records. The file is
//! written under a temporary name, fsynced, then renamed, so a savepoint directory either holds
//! a whole savepoint or none.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use fjall::{PersistMode, Readable};
use serde::{Deserialize, Serialize};

use super::store::{Checkpoint, CheckpointStore, LATEST, fj};
use crate::error::{Error, Result};

/// The savepoint file inside a savepoint directory.
pub const FILE: &str = "savepoint.pulse";
const MAGIC: &[u8; 8] = b"PULSESP1";
const END: u32 = u32::MAX;

#[derive(Serialize, Deserialize)]
struct Header {
    checkpoint: Checkpoint,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn put(w: &mut impl Write, bytes: &[u8], path: &Path) -> Result<()> {
    w.write_all(&(bytes.len() as u32).to_le_bytes())
        .and_then(|()| w.write_all(bytes))
        .map_err(io(path))
}

fn take(r: &mut impl Read, path: &Path) -> Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(io(path))?;
    let len = u32::from_le_bytes(len);
    if len == END {
        return Ok(None);
    }
    let mut buf = vec![0; len as usize];
    r.read_exact(&mut buf).map_err(io(path))?;
    Ok(Some(buf))
}

impl CheckpointStore {
    /// Exports the latest checkpoint to `dir` (created); `None` if there is no checkpoint.
    pub fn export_savepoint(&self, dir: &Path) -> Result<Option<Checkpoint>> {
        let snap = self.db.snapshot();
        let Some(meta) = snap.get(&self.meta, LATEST).map_err(|e| fj(&self.dir, e))? else {
            return Ok(None);
        };
        let cp: Checkpoint = postcard::from_bytes(&meta)
            .map_err(|e| fj(&self.dir, format!("unreadable checkpoint: {e}")))?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(format!(".{FILE}.inprogress"));
        let mut w = BufWriter::new(File::create(&tmp).map_err(io(&tmp))?);
        w.write_all(MAGIC).map_err(io(&tmp))?;
        let header = postcard::to_stdvec(&Header {
            // A savepoint is state to start from, even one taken at the end of a run: the run
            // it starts is not finished.
            checkpoint: Checkpoint {
                finished: false,
                ..cp.clone()
            },
        })
        .map_err(|e| fj(&self.dir, e))?;
        put(&mut w, &header, &tmp)?;
        for (id, _) in &cp.operators {
            let ks = self.operator(id)?;
            for kv in snap.iter(&ks) {
                let (k, v) = kv.into_inner().map_err(|e| fj(&self.dir, e))?;
                put(&mut w, id.as_bytes(), &tmp)?;
                put(&mut w, &k, &tmp)?;
                put(&mut w, &v, &tmp)?;
            }
        }
        drop(snap);
        w.write_all(&END.to_le_bytes()).map_err(io(&tmp))?;
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        f.sync_all().map_err(io(&tmp))?;
        let path = dir.join(FILE);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        Ok(Some(cp))
    }

    /// Replaces this store's state with the savepoint in `dir`, and returns its checkpoint.
    pub fn import_savepoint(&self, dir: &Path) -> Result<Checkpoint> {
        let path = dir.join(FILE);
        let mut r = BufReader::new(File::open(&path).map_err(io(&path))?);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).map_err(io(&path))?;
        if &magic != MAGIC {
            return Err(Error::config(format!(
                "{} is not a Pulse savepoint",
                path.display()
            )));
        }
        let bad = |what: &str| Error::config(format!("{}: {what}", path.display()));
        let header: Header = postcard::from_bytes(
            &take(&mut r, &path)?.ok_or_else(|| bad("the header is missing"))?,
        )
        .map_err(|e| bad(&format!("unreadable header: {e}")))?;
        self.reset()?;
        let mut batch = self.db.batch();
        let mut in_batch = 0;
        while let Some(id) = take(&mut r, &path)? {
            let id = String::from_utf8(id).map_err(|_| bad("bad operator id"))?;
            let k = take(&mut r, &path)?.ok_or_else(|| bad("truncated"))?;
            let v = take(&mut r, &path)?.ok_or_else(|| bad("truncated"))?;
            let ks = self.operator(&id)?;
            batch.insert(&ks, k, v);
            in_batch += 1;
            if in_batch == 100_000 {
                batch.commit().map_err(|e| fj(&self.dir, e))?;
                batch = self.db.batch();
                in_batch = 0;
            }
        }
        // The checkpoint record goes last: an import cut short leaves no checkpoint behind.
        let meta = postcard::to_stdvec(&header.checkpoint).map_err(|e| fj(&self.dir, e))?;
        batch.insert(&self.meta, LATEST, meta);
        batch.commit().map_err(|e| fj(&self.dir, e))?;
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| fj(&self.dir, e))?;
        Ok(header.checkpoint)
    }
}

/// The savepoint directories under `parent` (`sp-<checkpoint id>`), oldest first.
pub fn list_savepoints(parent: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = vec![];
    let entries = match std::fs::read_dir(parent) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(parent, e)),
    };
    for e in entries {
        let e = e.map_err(io(parent))?;
        let name = e.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("sp-"))
            .and_then(|n| n.parse().ok())
            && e.path().join(FILE).exists()
        {
            out.push((id, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes all but the newest `retain` savepoints under `parent`.
pub fn prune_savepoints(parent: &Path, retain: usize) -> Result<()> {
    let all = list_savepoints(parent)?;
    let drop = all.len().saturating_sub(retain);
    for (_, dir) in &all[..drop] {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    Ok(())
}

/// Checks that a checkpoint's state fits a graph whose operators have `now` state types.
///
/// Fails for an operator whose state types changed, and for state of an operator the graph no
/// longer has unless `allow_non_restored`.
pub fn check_restorable(
    cp: &Checkpoint,
    now: &std::collections::BTreeMap<String, String>,
    allow_non_restored: bool,
) -> Result<()> {
    use crate::state::short_type_name;
    for (id, saved) in &cp.operators {
        match now.get(id) {
            None if allow_non_restored => {}
            None => {
                return Err(Error::State {
                    operator: id.clone(),
                    message: format!(
                        "checkpoint {} holds its state, but this pipeline has no operator with that id; \
                         pass --allow-non-restored-state to drop the state, or --fresh to start over",
                        cp.id
                    ),
                });
            }
            Some(cur) if cur != saved => {
                return Err(Error::State {
                    operator: id.clone(),
                    message: format!(
                        "the state was saved as `{}`, but the pipeline now keeps `{}`; \
                         restore the old types, give the operator a new `.name(..)` to start it empty, \
                         or pass --fresh to start over",
                        short_type_name(saved),
                        short_type_name(cur)
                    ),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}
