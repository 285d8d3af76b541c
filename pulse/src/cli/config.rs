//! The TOML form of a pipeline binary's bindings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pulse_runtime::{Error, Result};
use serde::Deserialize;

/// Bindings and options from `--config FILE.toml`.
///
/// ```toml
/// batch_size = 1024
/// on_bad_record = "skip"          # fail | skip | dead-letter
///
/// [inputs.lines]
/// path = "examples/data/lines*.jsonl"
/// format = "jsonl"                # optional: from the extension
/// on_bad_record = "dead-letter"
/// dead_letter = "out/bad-lines.jsonl"
///
/// [outputs.counts]
/// path = "out/counts.csv"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Input bindings by name.
    #[serde(default)]
    pub inputs: BTreeMap<String, InputConfig>,
    /// Output bindings by name.
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputConfig>,
    /// Records per batch.
    pub batch_size: Option<usize>,
    /// Default bad-record policy.
    pub on_bad_record: Option<String>,
    /// Default dead-letter file.
    pub dead_letter: Option<PathBuf>,
}

/// One input's binding.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// A path or glob.
    pub path: String,
    /// `jsonl` or `csv`.
    pub format: Option<String>,
    /// `fail`, `skip` or `dead-letter`.
    pub on_bad_record: Option<String>,
    /// Where dead letters go.
    pub dead_letter: Option<PathBuf>,
}

/// One output's binding.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// A path, or `-` for stdout.
    pub path: String,
    /// `jsonl` or `csv`.
    pub format: Option<String>,
}

impl Config {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.into(),
            source: e,
        })?;
        toml::from_str(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))
    }
}
