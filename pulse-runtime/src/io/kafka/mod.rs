//! Kafka inputs and outputs (the `kafka` feature), bound at run time by URL:
//!
//! ```text
//! --input  bids=kafka://HOST:PORT[,HOST:PORT]/TOPIC?group=G&start=earliest|latest[&eof=stop]
//! --output kafka://HOST:PORT/TOPIC[?key=FIELD][&transactional.id=ID]
//! ```
//!
//! Any other `NAME=VALUE` parameter is passed to librdkafka as a property (`security.protocol`,
//! `sasl.mechanism`, `fetch.min.bytes`, ...). The consumer is librdkafka's, polled without
//! waiting: its network I/O runs on librdkafka's own threads, never on the operator loop.

mod sink;
mod source;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::io::{Source, SourceSpec};

pub use sink::KafkaSink;
pub use source::KafkaSource;

/// Whether `path` names a Kafka topic (`kafka://...`).
pub fn is_kafka(path: &str) -> bool {
    path.starts_with("kafka://")
}

/// A parsed `kafka://BROKERS/TOPIC?PARAMS` binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaUrl {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// The query parameters, in order of name.
    pub params: BTreeMap<String, String>,
}

impl KafkaUrl {
    /// Parses `kafka://BROKERS/TOPIC?K=V&K=V`.
    ///
    /// ```
    /// # use pulse_runtime::io::kafka::KafkaUrl;
    /// let u = KafkaUrl::parse("kafka://localhost:9092/bids?group=g&start=earliest").unwrap();
    /// assert_eq!((u.brokers.as_str(), u.topic.as_str()), ("localhost:9092", "bids"));
    /// assert_eq!(u.params["group"], "g");
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |m: &str| {
            Error::config(format!(
                "`{url}`: {m}; expected kafka://HOST:PORT/TOPIC?group=NAME&start=earliest"
            ))
        };
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| bad("not a kafka:// URL"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (brokers, topic) = path
            .split_once('/')
            .ok_or_else(|| bad("no topic after the brokers"))?;
        if brokers.is_empty() {
            return Err(bad("no brokers"));
        }
        if topic.is_empty() || topic.contains('/') {
            return Err(bad("the topic is one name after the brokers"));
        }
        let mut params = BTreeMap::new();
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad(&format!("parameter `{kv}` has no `=VALUE`")))?;
            params.insert(k.to_string(), v.to_string());
        }
        Ok(KafkaUrl {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            params,
        })
    }

    /// librdkafka properties: `bootstrap.servers`, then every parameter not in `own` (Pulse's
    /// own parameters).
    fn client_config(&self, own: &[&str]) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.params {
            if !own.contains(&k.as_str()) {
                c.set(k, v);
            }
        }
        c
    }
}

/// Opens a Kafka input for one worker: under `--workers N` the first worker is the group's one
/// member and the key exchange spreads what it reads; the others read nothing. (Several members
/// in one process would re-read, after a rebalance, what another had read and not yet
/// checkpointed, while its window state stays behind.)
pub fn open_source<T: crate::Event + 'static>(
    spec: &SourceSpec,
    open: impl FnOnce(&SourceSpec) -> Result<Box<dyn Source>>,
) -> Result<Box<dyn Source>> {
    if spec.split.worker > 0 {
        return Ok(Box::new(crate::io::MemorySource::<T>::new(
            &spec.name,
            vec![],
        )));
    }
    open(spec)
}

fn kafka_error(url: &str, e: impl std::fmt::Display) -> Error {
    Error::config(format!("`{url}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_say_what_is_missing() {
        let u = KafkaUrl::parse("kafka://a:1,b:2/t?group=g&security.protocol=SSL").unwrap();
        assert_eq!(u.brokers, "a:1,b:2");
        assert_eq!(u.params["security.protocol"], "SSL");
        for bad in [
            "kafka://a:1",
            "kafka:///t",
            "kafka://a:1/t/u",
            "kafka://a/t?x",
            "k://a/t",
        ] {
            let e = KafkaUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains("expected kafka://"), "{bad}: {e}");
        }
    }
}
