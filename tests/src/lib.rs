//! Support shared by the integration tests in `tests/tests/`: the event most of them use, and
//! file helpers.

use std::path::{Path, PathBuf};

use pulse::prelude::*;

/// An auction bid: the event of most tests.
#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Bid {
    pub auction: u64,
    pub price: u64,
    #[event_time(epoch_ms)]
    pub t: i64,
}

/// A bid on `auction` for `price` at `t` ms.
pub fn bid(auction: u64, price: u64, t: i64) -> Bid {
    Bid { auction, price, t }
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> String {
    p.display().to_string()
}

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
