//! `pulse inspect`: what a Parquet output holds (schema, rows, row groups, codecs).

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use pulse_runtime::{Error, Result};

/// Describes every Parquet file under `paths` (files or directories, recursively).
pub fn inspect(paths: &[PathBuf]) -> Result<String> {
    let mut files = vec![];
    for p in paths {
        collect(p, &mut files)?;
    }
    if files.is_empty() {
        return Err(Error::config("no Parquet files found"));
    }
    files.sort();
    let mut out = String::new();
    let mut total = 0i64;
    let mut schema_shown = None::<String>;
    for f in &files {
        let reader = SerializedFileReader::new(File::open(f).map_err(|e| Error::Io {
            path: f.clone(),
            source: e,
        })?)
        .map_err(|e| Error::config(format!("{}: {e}", f.display())))?;
        let meta = reader.metadata();
        let rows = meta.file_metadata().num_rows();
        total += rows;
        let codecs: std::collections::BTreeSet<String> = meta
            .row_groups()
            .iter()
            .flat_map(|g| g.columns().iter().map(|c| format!("{:?}", c.compression())))
            .collect();
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        let _ = writeln!(
            out,
            "{}: {rows} rows, {} row groups, {size} bytes, {}",
            f.display(),
            meta.num_row_groups(),
            codecs.into_iter().collect::<Vec<_>>().join("/")
        );
        let schema = parquet::arrow::parquet_to_arrow_schema(
            meta.file_metadata().schema_descr(),
            meta.file_metadata().key_value_metadata(),
        )
        .map(|s| {
            s.fields()
                .iter()
                .map(|f| {
                    format!(
                        "  {}: {}{}\n",
                        f.name(),
                        f.data_type(),
                        if f.is_nullable() { " (nullable)" } else { "" }
                    )
                })
                .collect::<String>()
        })
        .map_err(|e| Error::config(format!("{}: {e}", f.display())))?;
        match &schema_shown {
            Some(s) if *s == schema => {}
            Some(_) => {
                let _ = write!(out, "schema differs:\n{schema}");
            }
            None => schema_shown = Some(schema),
        }
    }
    let _ = write!(
        out,
        "{} files, {total} rows\nschema:\n{}",
        files.len(),
        schema_shown.unwrap_or_default()
    );
    Ok(out)
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if p.is_dir() {
        for e in std::fs::read_dir(p)
            .map_err(|e| Error::Io {
                path: p.into(),
                source: e,
            })?
            .flatten()
        {
            let path = e.path();
            if !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
            {
                collect(&path, out)?;
            }
        }
    } else if p.extension().is_some_and(|x| x == "parquet") {
        out.push(p.to_path_buf());
    } else if !p.exists() {
        return Err(Error::Io {
            path: p.into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    Ok(())
}
