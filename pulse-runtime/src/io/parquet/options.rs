//! Parquet sink options: compression, partitioning, rotation. Validated when loaded.

use std::time::Duration;

use crate::error::{Error, Result};

/// The codec for data pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// Snappy (the default): fast, moderate ratio.
    #[default]
    Snappy,
    /// Zstandard at a level from 1 to 22.
    Zstd(i32),
    /// No compression.
    None,
}

impl Compression {
    /// Parses `snappy`, `zstd`, `zstd:LEVEL` or `none`. Codecs not compiled into this build
    /// (gzip, brotli, lz4) are rejected here, before the parquet writer would panic on them.
    pub fn parse(s: &str, level: Option<i32>) -> Result<Self> {
        let (name, inline_level) = match s.split_once(':') {
            Some((n, l)) => (
                n,
                Some(l.parse::<i32>().map_err(|_| {
                    Error::config(format!("bad zstd level `{l}`; expected 1 to 22"))
                })?),
            ),
            None => (s, None),
        };
        match name.to_ascii_lowercase().as_str() {
            "snappy" => Ok(Compression::Snappy),
            "none" | "uncompressed" => Ok(Compression::None),
            "zstd" => {
                let level = inline_level.or(level).unwrap_or(3);
                if !(1..=22).contains(&level) {
                    return Err(Error::config(format!(
                        "zstd level {level} is out of range; expected 1 to 22"
                    )));
                }
                Ok(Compression::Zstd(level))
            }
            "gzip" | "brotli" | "lz4" | "lz4_raw" | "lzo" => Err(Error::config(format!(
                "compression `{name}` is not compiled into this build; use `snappy`, `zstd` or `none`"
            ))),
            other => Err(Error::config(format!(
                "unknown compression `{other}`; expected `snappy`, `zstd` or `none`"
            ))),
        }
    }
}

/// How rows are spread over directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Partitioning {
    /// All files in the output directory.
    None,
    /// By the element's event date, with a strftime format (default `dt=%Y-%m-%d`).
    Date(String),
    /// By a scalar field's value: `field=value`, the value escaped for paths.
    Field(String),
}

impl Default for Partitioning {
    fn default() -> Self {
        Partitioning::Date("dt=%Y-%m-%d".into())
    }
}

impl Partitioning {
    /// Parses `none`, `date`, `date:FORMAT` or `field:NAME`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.split_once(':') {
            None if s == "none" => Ok(Partitioning::None),
            None if s == "date" => Ok(Partitioning::default()),
            Some(("date", fmt)) => {
                // chrono reports a bad format only while formatting; check it now.
                use std::fmt::Write;
                let mut out = String::new();
                let probe = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.format(fmt);
                if write!(out, "{probe}").is_err() || out.contains("..") {
                    return Err(Error::config(format!("bad partition date format `{fmt}`")));
                }
                Ok(Partitioning::Date(fmt.into()))
            }
            Some(("field", name)) if !name.is_empty() => Ok(Partitioning::Field(name.into())),
            _ => Err(Error::config(format!(
                "unknown partitioning `{s}`; expected `none`, `date`, `date:FORMAT` or `field:NAME`"
            ))),
        }
    }
}

/// Everything a Parquet sink can be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Page codec.
    pub compression: Compression,
    /// Directory layout.
    pub partitioning: Partitioning,
    /// Start a new file after this many rows.
    pub max_rows: u64,
    /// Start a new file when one has been open this long (checked after each batch).
    pub max_age: Option<Duration>,
    /// Start a new file past about this many bytes (written plus buffered).
    pub max_bytes: Option<u64>,
    /// Rows per row group.
    pub row_group_size: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: Compression::Snappy,
            partitioning: Partitioning::default(),
            max_rows: 1_000_000,
            max_age: None,
            max_bytes: None,
            row_group_size: 128 * 1024,
        }
    }
}

/// Escapes a partition value for a directory name, as Hive does: `/`, `=`, `%`, `\`, `:`,
/// quotes, control characters and `..` become `%XX`; the empty value becomes `__EMPTY__`.
pub fn escape_partition_value(v: &str) -> String {
    if v.is_empty() {
        return "__EMPTY__".into();
    }
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '/' | '\\' | '=' | '%' | ':' | '"' | '\'' | '#' | '?' | '*' | '[' | ']' | '{' | '}'
            | '^' => out.push_str(&format!("%{:02X}", c as u32)),
            c if c.is_control() => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    if out == "." || out == ".." {
        out = out.replace('.', "%2E");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_parse_and_uncompiled_ones_are_rejected() {
        assert_eq!(
            Compression::parse("snappy", None).unwrap(),
            Compression::Snappy
        );
        assert_eq!(
            Compression::parse("zstd", Some(9)).unwrap(),
            Compression::Zstd(9)
        );
        assert_eq!(
            Compression::parse("zstd:1", None).unwrap(),
            Compression::Zstd(1)
        );
        assert_eq!(Compression::parse("none", None).unwrap(), Compression::None);
        assert!(
            Compression::parse("zstd:23", None)
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        assert!(
            Compression::parse("gzip", None)
                .unwrap_err()
                .to_string()
                .contains("not compiled into this build")
        );
        assert!(
            Compression::parse("lzma", None)
                .unwrap_err()
                .to_string()
                .contains("unknown compression")
        );
    }

    #[test]
    fn partitioning_parses() {
        assert_eq!(
            Partitioning::parse("date").unwrap(),
            Partitioning::Date("dt=%Y-%m-%d".into())
        );
        assert_eq!(
            Partitioning::parse("date:%Y/%m").unwrap(),
            Partitioning::Date("%Y/%m".into())
        );
        assert_eq!(
            Partitioning::parse("field:user").unwrap(),
            Partitioning::Field("user".into())
        );
        assert!(Partitioning::parse("hour").is_err());
    }

    #[test]
    fn partition_values_are_path_safe() {
        assert_eq!(escape_partition_value("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(escape_partition_value(".."), "%2E%2E");
        assert_eq!(escape_partition_value(""), "__EMPTY__");
        assert_eq!(escape_partition_value("naïve"), "naïve");
    }
}
