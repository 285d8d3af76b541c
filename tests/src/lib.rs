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

/// `GET path` over a real TCP connection; the status line and the body.
pub fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The address a child process prints on stderr as `metrics: http://ADDR/metrics`.
pub fn metrics_address(err: &mut impl std::io::BufRead) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
        if let Some(url) = line.trim().strip_prefix("metrics: http://") {
            return url.trim_end_matches("/metrics").to_string();
        }
    }
}

/// The sum of the samples of `name` in a Prometheus text exposition whose labels include every
/// one of `labels`; `None` if there is none.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let xs: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse().ok())
        .collect();
    (!xs.is_empty()).then(|| xs.iter().sum())
}
