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
    /// Worker threads, each running a copy of the graph (default 1).
    pub workers: Option<usize>,
    /// Default bad-record policy.
    pub on_bad_record: Option<String>,
    /// Default dead-letter file.
    pub dead_letter: Option<PathBuf>,
    /// Where state and checkpoints live.
    pub state_dir: Option<PathBuf>,
    /// Time between checkpoints (`500ms`, `10s`, `1m`).
    pub checkpoint_interval: Option<String>,
    /// `false` runs without checkpoints.
    pub checkpoints: Option<bool>,
    /// Bytes of keyed state kept in memory (`512MiB`, `2GB`); colder state is read from fjall.
    pub memory_budget: Option<String>,
    /// Where savepoints go (default: `<state_dir>.savepoints`).
    pub savepoint_dir: Option<PathBuf>,
    /// Time between savepoints; without it, savepoints are taken on demand only.
    pub savepoint_interval: Option<String>,
    /// Savepoints to keep (default 3).
    pub savepoint_retain: Option<usize>,
    /// Drop the state of operators the pipeline no longer has instead of refusing to start.
    pub allow_non_restored_state: Option<bool>,
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
    /// A path, `parquet:DIR`, or `-` for stdout.
    pub path: String,
    /// `jsonl`, `csv` or `parquet`.
    pub format: Option<String>,
    /// Parquet: `snappy` (default), `zstd`, `zstd:LEVEL` or `none`.
    pub compression: Option<String>,
    /// Parquet: the zstd level (1 to 22, default 3).
    pub zstd_level: Option<i32>,
    /// Parquet: `date` (default, `dt=%Y-%m-%d`), `date:FORMAT`, `field:NAME` or `none`.
    pub partition_by: Option<String>,
    /// Parquet: rows per file before rotating (default 1,000,000).
    pub max_rows: Option<u64>,
    /// Parquet: seconds a file stays open before rotating.
    pub max_age_secs: Option<u64>,
    /// Parquet: approximate bytes per file before rotating.
    pub max_bytes: Option<u64>,
    /// Parquet: rows per row group (default 131,072).
    pub row_group_size: Option<usize>,
}

impl OutputConfig {
    /// Applies the Parquet options to `opts`, validating them.
    pub fn parquet_options(
        &self,
        opts: &mut pulse_runtime::io::parquet::ParquetOptions,
    ) -> Result<()> {
        use pulse_runtime::io::parquet::{Compression, Partitioning};
        if let Some(c) = &self.compression {
            opts.compression = Compression::parse(c, self.zstd_level)?;
        } else if let Some(l) = self.zstd_level {
            return Err(Error::config(format!(
                "`zstd_level = {l}` needs `compression = \"zstd\"`"
            )));
        }
        if let Some(p) = &self.partition_by {
            opts.partitioning = Partitioning::parse(p)?;
        }
        if let Some(n) = self.max_rows {
            opts.max_rows = n.max(1);
        }
        if let Some(s) = self.max_age_secs {
            opts.max_age = Some(std::time::Duration::from_secs(s));
        }
        opts.max_bytes = self.max_bytes.or(opts.max_bytes);
        if let Some(n) = self.row_group_size {
            opts.row_group_size = n.max(1);
        }
        Ok(())
    }

    fn is_parquet_only(&self) -> bool {
        self.compression.is_some()
            || self.zstd_level.is_some()
            || self.partition_by.is_some()
            || self.max_rows.is_some()
            || self.max_age_secs.is_some()
            || self.max_bytes.is_some()
            || self.row_group_size.is_some()
    }
}

impl Config {
    /// Reads, parses and checks a TOML file: Parquet options are validated here, so a bad codec
    /// fails before anything runs.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.into(),
            source: e,
        })?;
        if crate::dynamic::looks_like_pipeline(&text) {
            return Err(Error::config(format!(
                "{}: this is a TOML pipeline ([source], [window], [ops], [sink]), for `pulse run --config {}`; \
                 a pipeline binary's --config takes bindings: [inputs.NAME] and [outputs.NAME] with `path = ..`",
                path.display(),
                path.display()
            )));
        }
        let config: Config =
            toml::from_str(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
        for (name, out) in &config.outputs {
            let mut opts = Default::default();
            out.parquet_options(&mut opts)
                .map_err(|e| Error::config(format!("{}: [outputs.{name}]: {e}", path.display())))?;
            let parquet =
                out.format.as_deref() == Some("parquet") || out.path.starts_with("parquet:");
            if out.is_parquet_only() && !parquet {
                return Err(Error::config(format!(
                    "{}: [outputs.{name}]: Parquet options need `format = \"parquet\"` or a `parquet:DIR` path",
                    path.display()
                )));
            }
        }
        Ok(config)
    }
}
