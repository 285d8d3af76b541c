//! Bad records under the input's policy: one place for every source kind.

use std::fs::File;
use std::io::{BufWriter, Write};

use super::{BadRecordPolicy, SourceStats};
use crate::error::{Error, Result};

/// A source's bad-record policy, with its dead-letter file open if it has one.
pub(crate) struct BadRecords {
    policy: BadRecordPolicy,
    dead_letter: Option<BufWriter<File>>,
}

impl BadRecords {
    /// Opens the dead-letter file of `policy` (creating its directory), if it names one.
    pub(crate) fn open(policy: BadRecordPolicy) -> Result<Self> {
        let dead_letter = match &policy {
            BadRecordPolicy::DeadLetter(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    crate::io::create_dir(dir)?;
                }
                Some(BufWriter::new(
                    File::create(p).map_err(|e| Error::io(p, e))?,
                ))
            }
            _ => None,
        };
        Ok(BadRecords {
            policy,
            dead_letter,
        })
    }

    /// One bad record: `fail` returns `error()`; `skip` counts it in `stats`; `dead-letter`
    /// counts it and writes `entry()` as one JSON line.
    pub(crate) fn handle(
        &mut self,
        stats: &mut SourceStats,
        error: impl FnOnce() -> Error,
        entry: impl FnOnce() -> serde_json::Value,
    ) -> Result<()> {
        match &self.policy {
            BadRecordPolicy::Fail => Err(error()),
            BadRecordPolicy::Skip => {
                stats.skipped += 1;
                Ok(())
            }
            BadRecordPolicy::DeadLetter(p) => {
                stats.skipped += 1;
                let w = self
                    .dead_letter
                    .as_mut()
                    .expect("dead-letter file opened with the policy");
                writeln!(w, "{}", entry()).map_err(|e| Error::io(p, e))
            }
        }
    }

    /// Writes out the dead letters buffered so far.
    pub(crate) fn flush(&mut self) -> Result<()> {
        match self.dead_letter.as_mut() {
            Some(w) => w.flush().map_err(|e| Error::io("dead-letter file", e)),
            None => Ok(()),
        }
    }
}
