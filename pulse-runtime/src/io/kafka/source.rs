//! A Kafka topic read by a consumer group member, decoded straight into the event type.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use serde::de::DeserializeOwned;

use super::{KafkaUrl, kafka_error};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::io::bad::BadRecords;
use crate::io::{Decode, Serde, Source, SourceSpec, SourceStats};

/// Partitions and offsets shared with the rebalance callback.
#[derive(Default)]
struct Partitions {
    /// Offsets to start the partitions at when they are assigned (from a checkpoint).
    saved: BTreeMap<i32, i64>,
    /// Partitions this member owns now.
    assigned: BTreeSet<i32>,
    /// Assigned partitions read to their end (with `eof=stop`).
    at_end: BTreeSet<i32>,
    /// Whether any assignment came yet.
    joined: bool,
    /// The source is being dropped: the consumer leaves the group.
    closing: bool,
}

struct Ctx {
    topic: String,
    input: String,
    parts: Arc<Mutex<Partitions>>,
}

impl ClientContext for Ctx {
    // librdkafka's statistics (every `statistics.interval.ms`, 1 s by default here): the lag of
    // every assigned partition, messages between what this input has read and the partition's
    // end.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        for (id, p) in &topic.partitions {
            if !parts.assigned.contains(id) || p.hi_offset < 0 {
                continue;
            }
            // Read up to the application's offset; before any read, the group's committed
            // offset, else the partition's start (everything is still to read).
            let read = [p.app_offset, p.committed_offset, p.lo_offset, 0]
                .into_iter()
                .find(|&o| o >= 0)
                .unwrap_or(0);
            metrics::gauge!(
                "pulse_kafka_consumer_lag",
                "source" => self.input.clone(),
                "topic" => self.topic.clone(),
                "partition" => id.to_string()
            )
            .set((p.hi_offset - read).max(0) as f64);
        }
    }
}

impl ConsumerContext for Ctx {
    // Eager rebalancing, with the checkpoint's offsets set on the partitions this member gets.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut p = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        let ids: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                for id in ids {
                    if let Some(&o) = p.saved.get(&id) {
                        let _ = tpl.set_partition_offset(&self.topic, id, Offset::Offset(o));
                    }
                    p.assigned.insert(id);
                    p.at_end.remove(&id);
                }
                p.joined = true;
                if let Err(e) = consumer.assign(tpl) {
                    tracing::error!(error = %e, "kafka: assigning partitions failed");
                }
                tracing::info!(topic = %self.topic, partitions = ?p.assigned, "kafka: partitions assigned");
            }
            _ => {
                for id in ids {
                    p.assigned.remove(&id);
                    p.at_end.remove(&id);
                }
                let _ = consumer.unassign();
                if p.joined && !p.closing {
                    // Another member joined the group: keyed state does not move with the
                    // partitions yet, so windows of the moved keys may be split between
                    // members (and what was read since the last checkpoint read again).
                    tracing::warn!(
                        topic = %self.topic,
                        "kafka: partitions revoked by a rebalance; run one process per group (state does not move with partitions yet)"
                    );
                }
            }
        }
    }
}

/// One polled message: its offset, and the event or why it did not decode (field, message,
/// payload).
struct Pending<T> {
    offset: i64,
    item: std::result::Result<T, (Option<String>, String, Vec<u8>)>,
}

/// Messages buffered across partitions before the merge hands them on regardless.
const MAX_BUFFERED: usize = 1 << 16;

/// Reads events of type `T` from one topic as a member of a consumer group.
///
/// Parameters of the URL: `group` (default `pulse-NAME`), `start` (`earliest` or `latest`,
/// where the group has no committed offset), `eof=stop` (end once every assigned partition is
/// read to its end: a bounded run over what the topic holds now). The position (the next
/// offset per partition) is saved in Pulse's checkpoints and restored from them, and committed
/// to the group at each checkpoint, so monitoring sees the lag and a run without Pulse state
/// starts where the group was.
///
/// The partitions are merged by event time (the earliest buffered head first, waiting for a
/// partition not read to its end that has nothing buffered, up to 65,536 buffered messages), so
/// the order the graph sees, and with it which elements are late, depends on what each
/// partition holds and not on how fetches interleaved.
pub struct KafkaSource<T, D = Serde> {
    name: String,
    url: String,
    topic: String,
    consumer: BaseConsumer<Ctx>,
    parts: Arc<Mutex<Partitions>>,
    /// Messages polled and not yet handed on, per partition, in offset order.
    buffers: BTreeMap<i32, VecDeque<Pending<T>>>,
    buffered: usize,
    /// The next offset per partition after what was handed on (what a checkpoint records).
    emitted: BTreeMap<i32, i64>,
    stop_at_end: bool,
    bad_records: BadRecords,
    stats: SourceStats,
    decode: D,
    _t: PhantomData<fn() -> T>,
}

const OWN: [&str; 3] = ["group", "start", "eof"];

impl<T: Event + DeserializeOwned> KafkaSource<T> {
    /// Joins the group the URL in `spec.path` names and subscribes to its topic.
    pub fn open(spec: &SourceSpec) -> Result<Self> {
        Self::with_decoder(spec, Serde)
    }
}

impl<T: Event, D: Decode<T>> KafkaSource<T, D> {
    /// As [`open`](KafkaSource::open), decoding each message with `decode`.
    pub fn with_decoder(spec: &SourceSpec, decode: D) -> Result<Self> {
        let url = KafkaUrl::parse(&spec.path)?;
        let mut config = url.client_config(&OWN);
        let group = url
            .params
            .get("group")
            .cloned()
            .unwrap_or_else(|| format!("pulse-{}", spec.name));
        let start = url.params.get("start").map_or("earliest", String::as_str);
        if !["earliest", "latest"].contains(&start) {
            return Err(kafka_error(
                &spec.path,
                format!("start={start}: expected `earliest` or `latest`"),
            ));
        }
        let stop_at_end = match url.params.get("eof").map(String::as_str) {
            None | Some("continue") => false,
            Some("stop") => true,
            Some(other) => {
                return Err(kafka_error(
                    &spec.path,
                    format!("eof={other}: expected `stop` or `continue`"),
                ));
            }
        };
        config
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", start)
            .set("enable.partition.eof", "true");
        if !url.params.contains_key("statistics.interval.ms") {
            config.set("statistics.interval.ms", "1000");
        }
        let parts = Arc::new(Mutex::new(Partitions::default()));
        let ctx = Ctx {
            topic: url.topic.clone(),
            input: spec.name.clone(),
            parts: parts.clone(),
        };
        let consumer: BaseConsumer<Ctx> = config
            .create_with_context(ctx)
            .map_err(|e| kafka_error(&spec.path, e))?;
        consumer
            .subscribe(&[&url.topic])
            .map_err(|e| kafka_error(&spec.path, e))?;
        let bad_records = BadRecords::open(spec.on_bad_record.clone())?;
        Ok(KafkaSource {
            name: spec.name.clone(),
            url: spec.path.clone(),
            topic: url.topic,
            consumer,
            parts,
            buffers: BTreeMap::new(),
            buffered: 0,
            emitted: BTreeMap::new(),
            stop_at_end,
            bad_records,
            stats: SourceStats::default(),
            decode,
            _t: PhantomData,
        })
    }

    /// Polls what librdkafka has ready (without waiting) into the partitions' buffers.
    fn fetch(&mut self) -> Result<()> {
        // Per partition, whether its last event in this round was its end (`true`) or a
        // message (`false`): applied under one lock afterwards.
        let mut ends: BTreeMap<i32, bool> = BTreeMap::new();
        // Everything librdkafka has ready, up to the buffer's bound: the merge needs every
        // partition's head, and librdkafka hands messages out a partition at a time.
        for _ in 0..MAX_BUFFERED.saturating_sub(self.buffered) {
            // librdkafka's threads fetch; an empty queue means nothing new for now.
            let Some(polled) = self.consumer.poll(Duration::ZERO) else {
                break;
            };
            match polled {
                Ok(m) => {
                    let (p, offset) = (m.partition(), m.offset());
                    let raw = m.payload().unwrap_or_default();
                    self.stats.bytes += raw.len() as u64;
                    let item = decode::<T, D>(&self.decode, raw)
                        .map_err(|(field, message)| (field, message, raw.to_vec()));
                    self.buffers
                        .entry(p)
                        .or_default()
                        .push_back(Pending { offset, item });
                    self.buffered += 1;
                    ends.insert(p, false);
                }
                Err(KafkaError::PartitionEOF(p)) => {
                    ends.insert(p, true);
                }
                // librdkafka retries by itself (a broker down, a transport failure): say so
                // and go on, as Kafka's own clients do.
                Err(e @ KafkaError::MessageConsumption(_)) => {
                    tracing::warn!(input = %self.name, error = %e, "kafka: consumer error; librdkafka retries");
                    break;
                }
                Err(e) => return Err(kafka_error(&self.url, e)),
            }
        }
        if !ends.is_empty() {
            let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            for (p, end) in ends {
                if end && parts.assigned.contains(&p) {
                    parts.at_end.insert(p);
                } else {
                    // More after an end: the partition may hold data again.
                    parts.at_end.remove(&p);
                }
            }
        }
        Ok(())
    }

    /// The group's offsets for what was read, committed without waiting.
    fn commit(&self, mode: CommitMode) {
        let mut tpl = TopicPartitionList::new();
        for (&p, &o) in &self.emitted {
            let _ = tpl.add_partition_offset(&self.topic, p, Offset::Offset(o));
        }
        if tpl.count() > 0
            && let Err(e) = self.consumer.commit(&tpl, mode)
        {
            tracing::warn!(error = %e, "kafka: committing offsets to the group failed");
        }
    }

    fn bad(
        &mut self,
        partition: i32,
        offset: i64,
        field: Option<String>,
        message: String,
        raw: &[u8],
    ) -> Result<()> {
        let error = || Error::BadRecord {
            path: format!("{}[partition {partition}]", self.url).into(),
            line: offset as u64,
            field: field.clone(),
            message: format!("{message} (at offset {offset})"),
        };
        let entry = || {
            serde_json::json!({
                "topic": self.topic,
                "partition": partition,
                "offset": offset,
                "field": field,
                "error": message,
                "raw": String::from_utf8_lossy(raw),
            })
        };
        self.bad_records.handle(&mut self.stats, error, entry)
    }
}

impl<T, D> Drop for KafkaSource<T, D> {
    fn drop(&mut self) {
        // Leaving the group revokes this member's partitions: no rebalance to warn about.
        self.parts.lock().unwrap_or_else(|e| e.into_inner()).closing = true;
    }
}

/// Decodes one message's payload: the derive's fast path, then the decoder (serde, which names
/// the field, unless configured otherwise).
fn decode<T: Event, D: Decode<T>>(
    d: &D,
    raw: &[u8],
) -> std::result::Result<T, (Option<String>, String)> {
    if let Some(x) = T::decode_json(raw) {
        return Ok(x);
    }
    let text = std::str::from_utf8(raw).map_err(|e| (None, format!("not UTF-8: {e}")))?;
    d.json(text.trim_end())
}

impl<T: Event, D: Decode<T>> Source for KafkaSource<T, D> {
    fn name(&self) -> &str {
        &self.name
    }

    fn new_batch(&self) -> Box<dyn Any> {
        Box::new(Vec::<T>::new())
    }

    fn read_batch(&mut self, batch: &mut dyn Any, max: usize) -> Result<bool> {
        let batch = crate::io::typed::<T>(batch);
        self.fetch()?;
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        // Partitions taken away: what was buffered of them is the new owner's to read.
        let gone: Vec<i32> = self
            .buffers
            .keys()
            .copied()
            .filter(|p| !parts.assigned.contains(p))
            .collect();
        for p in gone {
            self.buffered -= self.buffers.remove(&p).map_or(0, |b| b.len());
        }
        // Merge the partitions by event time: the head with the earliest time goes first, and
        // nothing goes while a partition that may have more (not read to its end) has nothing
        // buffered, unless the buffers are full. The order is then a function of what each
        // partition holds, not of how the fetches interleaved.
        let head_key = |b: Option<&VecDeque<Pending<T>>>| -> Option<i64> {
            b?.front().map(|h| match &h.item {
                Ok(x) => x.event_time().millis(),
                // A bad record goes first: the policy handles it where it is.
                Err(_) => i64::MIN,
            })
        };
        let full = self.buffered >= MAX_BUFFERED;
        let waits = |p: &i32, parts: &Partitions| !full && !parts.at_end.contains(p);
        let mut blocked = parts
            .assigned
            .iter()
            .any(|p| waits(p, &parts) && head_key(self.buffers.get(p)).is_none());
        let mut heap: BinaryHeap<Reverse<(i64, i32)>> = parts
            .assigned
            .iter()
            .filter_map(|&p| Some(Reverse((head_key(self.buffers.get(&p))?, p))))
            .collect();
        while batch.len() < max {
            let Some(&Reverse((t, p))) = heap.peek() else {
                break;
            };
            if blocked && t != i64::MIN {
                break;
            }
            heap.pop();
            let buf = self.buffers.get_mut(&p).expect("a head was seen");
            let head = buf.pop_front().expect("a head was seen");
            match head_key(Some(buf)) {
                Some(k) => heap.push(Reverse((k, p))),
                None => blocked |= waits(&p, &parts),
            }
            self.buffered -= 1;
            self.emitted.insert(p, head.offset + 1);
            match head.item {
                Ok(x) => {
                    batch.push(x);
                    self.stats.records += 1;
                }
                Err((field, message, raw)) => {
                    drop(parts);
                    self.bad(p, head.offset, field, message, &raw)?;
                    parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
                }
            }
        }
        if self.stop_at_end
            && batch.is_empty()
            && self.buffered == 0
            && parts.joined
            && !parts.assigned.is_empty()
            && parts.at_end == parts.assigned
        {
            drop(parts);
            self.bad_records.flush()?;
            self.commit(CommitMode::Sync);
            return Ok(false);
        }
        Ok(true)
    }

    fn stats(&self) -> SourceStats {
        self.stats.clone()
    }

    fn is_live(&self) -> bool {
        true
    }

    fn progress(&self) -> Option<i64> {
        None
    }

    /// The next offset of every partition read, and of those restored and not read since.
    fn position(&self) -> Vec<u8> {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = parts.saved.clone();
        drop(parts);
        all.extend(self.emitted.iter().map(|(&p, &o)| (p, o)));
        // The group sees the progress too (lag, and where a fresh run starts).
        self.commit(CommitMode::Async);
        let v: Vec<(i32, i64)> = all.into_iter().collect();
        postcard::to_stdvec(&(self.topic.as_str(), v)).unwrap_or_default()
    }

    fn seek(&mut self, position: &[u8]) -> Result<()> {
        if position.is_empty() {
            return Ok(());
        }
        let (topic, offsets): (String, Vec<(i32, i64)>) = postcard::from_bytes(position)
            .map_err(|e| Error::config(format!("input `{}`: cannot resume: {e}", self.name)))?;
        if topic != self.topic {
            return Err(Error::config(format!(
                "input `{}`: cannot resume: the checkpoint read topic `{topic}`, this run reads `{}`; pass --fresh to start over",
                self.name, self.topic
            )));
        }
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.saved = offsets.into_iter().collect();
        Ok(())
    }
}
