//! Guards on where a run reads and writes: no output over an input, no Parquet output among
//! files Pulse did not write, and errors that say what a directory holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{BadRecordPolicy, Format, SinkSpec, SinkTarget, SourceSpec};
use crate::error::{Error, Result};

/// Refuses bindings that would lose data: an output (or dead-letter file) that is one of the
/// inputs or holds one, two outputs on one path, and unless `append`, a Parquet output
/// directory that already holds files Pulse did not write.
pub fn check_bindings(sources: &[SourceSpec], sinks: &[SinkSpec], append: bool) -> Result<()> {
    let mut inputs: Vec<(PathBuf, &str)> = vec![];
    for s in sources {
        for f in files_named(&s.path) {
            inputs.push((absolute(&f), &s.name));
        }
    }
    let mut outputs: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut claim = |path: PathBuf, what: String| -> Result<PathBuf> {
        if let Some(other) = outputs.insert(path.clone(), what.clone()) {
            return Err(Error::config(format!(
                "{other} and {what} both write `{}`: give each its own path",
                path.display()
            )));
        }
        Ok(path)
    };
    for s in sources {
        if let BadRecordPolicy::DeadLetter(p) = &s.on_bad_record {
            let p = claim(
                absolute(p),
                format!("the dead letters of input `{}`", s.name),
            )?;
            refuse_input(
                &p,
                &inputs,
                &format!("the dead-letter file of input `{}`", s.name),
            )?;
        }
    }
    for s in sinks {
        let SinkTarget::File(target) = &s.target else {
            continue;
        };
        let what = format!("output `{}`", s.name);
        let target = claim(absolute(target), what.clone())?;
        refuse_input(&target, &inputs, &what)?;
        if s.format == Format::Parquet
            && !append
            && target.is_dir()
            && let Some(foreign) = first_foreign(&target)
        {
            return Err(Error::config(format!(
                "{what} writes Parquet into `{}`, which already holds `{}`, a file Pulse did not write; \
                 choose an empty directory (or one of Pulse's own output), or pass --append to write beside it",
                target.display(),
                foreign.display()
            )));
        }
    }
    Ok(())
}

/// Fails if `output` is one of the `inputs` or (a directory) holds one.
fn refuse_input(output: &Path, inputs: &[(PathBuf, &str)], what: &str) -> Result<()> {
    match inputs.iter().find(|(f, _)| f.starts_with(output)) {
        Some((f, name)) if f == output => Err(Error::config(format!(
            "{what} would replace input `{name}` (`{}`): write it somewhere else",
            f.display()
        ))),
        Some((f, name)) => Err(Error::config(format!(
            "{what} writes into `{}`, which holds input `{name}` (`{}`): write it somewhere else",
            output.display(),
            f.display()
        ))),
        None => Ok(()),
    }
}

/// The files an input path names today: the file, every file a glob matches, or every file
/// under a directory.
fn files_named(path: &str) -> Vec<PathBuf> {
    if super::live::is_live(path) {
        // Standard input names no file; a named pipe is one, and no output may replace it.
        return if path == "-" {
            vec![]
        } else {
            vec![PathBuf::from(path)]
        };
    }
    let p = Path::new(path);
    if p.is_dir() {
        let mut out = vec![];
        walk(p, &mut |f| {
            out.push(f.to_path_buf());
            true
        });
        return out;
    }
    // What a file source would read (one that would not open is refused when it opens).
    super::file_source::expand(path).unwrap_or_default()
}

/// `p` made absolute with links resolved, as far as it exists (an output may not yet).
fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => absolute(parent).join(name),
        _ => std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p)),
    }
}

/// Calls `f` on every file under `dir` until it returns `false`; returns whether it never did.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path) -> bool) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let go_on = if p.is_dir() { walk(&p, f) } else { f(&p) };
        if !go_on {
            return false;
        }
    }
    true
}

/// Whether `name` is a file the Parquet sink writes: `part-NNNNN.parquet`, or its hidden
/// in-progress copy.
fn is_pulse_output(name: &str) -> bool {
    let part = |n: &str| {
        n.strip_prefix("part-")
            .and_then(|n| n.strip_suffix(".parquet"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    part(name)
        || name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".inprogress"))
            .is_some_and(part)
}

/// The first file under `dir` that the Parquet sink did not write.
fn first_foreign(dir: &Path) -> Option<PathBuf> {
    let mut found = None;
    walk(dir, &mut |p| {
        let ours = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_pulse_output);
        if !ours {
            found = Some(p.to_path_buf());
        }
        ours
    });
    found
}

/// Creates `dir` and its parents; when a part of the path is a file, says so (the system
/// says only "File exists").
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        let file = dir.ancestors().find(|a| a.is_file());
        match file {
            Some(f) => Error::config(format!(
                "cannot create the directory `{}`: `{}` is a file",
                dir.display(),
                f.display()
            )),
            None => Error::io(dir, e),
        }
    })
}

/// Why `path` cannot be read as an input file: it does not exist, or it exists but is neither a
/// regular file nor a live input (a named pipe, or `-` for standard input): a device, say.
pub(crate) fn not_a_file(path: &Path) -> Error {
    if path.exists() {
        return Error::config(format!(
            "`{}` is not a regular file (a device?); Pulse reads regular files, named pipes and standard input (`-`)",
            path.display()
        ));
    }
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
    )
}

/// What a file holds before `upto`: hashes (FNV-1a) of its first and of its last 4 KiB there;
/// `None` if it cannot be read that far. Cheap enough for every checkpoint and every part of an
/// ordered parallel run (8 KiB read and hashed), and enough to tell a replaced or rewritten file
/// from the one a run was reading.
pub(crate) fn fingerprint(path: &Path, upto: u64) -> Option<(u64, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    const BLOCK: u64 = 4 << 10;
    let mut f = std::fs::File::open(path).ok()?;
    let mut hash = |from: u64, to: u64| -> Option<u64> {
        let mut buf = vec![0; (to - from) as usize];
        f.seek(SeekFrom::Start(from)).ok()?;
        f.read_exact(&mut buf).ok()?;
        Some(buf.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }))
    };
    Some((
        hash(0, upto.min(BLOCK))?,
        hash(upto.saturating_sub(BLOCK), upto)?,
    ))
}

/// What a directory holds, for an error that found nothing it could read there: `it holds 3
/// files (2 .jsonl, 1 .txt), such as `a.jsonl``, or `it is empty`.
pub fn describe_dir(dir: &Path) -> String {
    let mut by_ext: BTreeMap<String, usize> = BTreeMap::new();
    let mut first = None;
    let mut n = 0;
    walk(dir, &mut |p| {
        n += 1;
        let ext = p.extension().map_or_else(
            || "no extension".to_string(),
            |e| format!(".{}", e.to_string_lossy()),
        );
        *by_ext.entry(ext).or_default() += 1;
        first.get_or_insert_with(|| p.strip_prefix(dir).unwrap_or(p).to_path_buf());
        true
    });
    let Some(first) = first else {
        return "it is empty".to_string();
    };
    let kinds: Vec<String> = by_ext.iter().map(|(e, k)| format!("{k} {e}")).collect();
    format!(
        "it holds {n} file{} ({}), such as `{}`",
        if n == 1 { "" } else { "s" },
        kinds.join(", "),
        first.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, name: &str) -> SourceSpec {
        SourceSpec::new("in", dir.join(name).display().to_string()).unwrap()
    }

    fn sink(path: &str) -> SinkSpec {
        SinkSpec::new("out", path).unwrap()
    }

    #[test]
    fn an_output_on_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.jsonl"), "{}\n").unwrap();
        let src = source(dir.path(), "in.jsonl");
        // The same file through another spelling of its path.
        let same = format!("{}/./in.jsonl", dir.path().display());
        let err = check_bindings(std::slice::from_ref(&src), &[sink(&same)], false).unwrap_err();
        assert!(
            err.to_string().contains("would replace input `in`"),
            "{err}"
        );
        let mut dead = src.clone();
        dead.on_bad_record = BadRecordPolicy::DeadLetter(dir.path().join("in.jsonl"));
        let err = check_bindings(&[dead], &[], false).unwrap_err();
        assert!(err.to_string().contains("dead-letter file"), "{err}");
        let other = dir.path().join("out.jsonl").display().to_string();
        check_bindings(std::slice::from_ref(&src), &[sink(&other)], false).unwrap();
        // A glob names the input too.
        let glob = source(dir.path(), "*.jsonl");
        assert!(check_bindings(&[glob], &[sink(&same)], false).is_err());
        // A Parquet output directory that holds an input.
        let parquet = format!("parquet:{}", dir.path().display());
        let err = check_bindings(&[src], &[sink(&parquet)], true).unwrap_err();
        assert!(err.to_string().contains("which holds input `in`"), "{err}");
    }

    #[test]
    fn two_outputs_on_one_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.jsonl").display().to_string();
        let mut b = sink(&p);
        b.name = "other".into();
        let err = check_bindings(&[], &[sink(&p), b], false).unwrap_err();
        assert!(
            err.to_string().contains("output `out` and output `other`"),
            "{err}"
        );
    }

    #[test]
    fn parquet_goes_only_where_pulse_wrote_before_unless_appending() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let spec = sink(&format!("parquet:{}", out.display()));
        check_bindings(&[], std::slice::from_ref(&spec), false).unwrap(); // does not exist yet
        std::fs::create_dir_all(out.join("dt=2024-05-01")).unwrap();
        for f in [
            "dt=2024-05-01/part-00000.parquet",
            "dt=2024-05-01/.part-00001.parquet.inprogress",
        ] {
            std::fs::write(out.join(f), "").unwrap();
        }
        check_bindings(&[], std::slice::from_ref(&spec), false).unwrap();
        std::fs::write(out.join("dt=2024-05-01/notes.txt"), "").unwrap();
        let err = check_bindings(&[], std::slice::from_ref(&spec), false).unwrap_err();
        assert!(
            err.to_string().contains("notes.txt") && err.to_string().contains("--append"),
            "{err}"
        );
        check_bindings(&[], &[spec], true).unwrap();
    }

    #[test]
    fn pulse_output_names() {
        assert!(is_pulse_output("part-00000.parquet"));
        assert!(is_pulse_output(".part-00012.parquet.inprogress"));
        assert!(!is_pulse_output("part-.parquet"));
        assert!(!is_pulse_output("part-0001.csv"));
        assert!(!is_pulse_output("data.parquet"));
    }

    #[test]
    fn a_directory_is_described_by_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(describe_dir(dir.path()), "it is empty");
        std::fs::write(dir.path().join("a.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("b.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("README"), "").unwrap();
        assert_eq!(
            describe_dir(dir.path()),
            "it holds 3 files (2 .jsonl, 1 no extension), such as `README`"
        );
    }
}
