//! Support shared by the integration tests in `tests/tests/`.

use std::path::{Path, PathBuf};

/// Every file under `dir`, recursively (hidden files included).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}
