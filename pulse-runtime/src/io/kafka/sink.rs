//! Results written to a Kafka topic as JSON, by an idempotent (optionally transactional)
//! producer.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use serde::Serialize;

use super::{KafkaUrl, kafka_error};
use crate::error::{Error, Result};
use crate::io::{Sink, SinkSpec};

/// Counts deliveries and keeps the first failure.
#[derive(Default)]
struct Deliveries {
    failed: Mutex<Option<String>>,
}

struct Ctx(Arc<Deliveries>);

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            let mut f = self.0.failed.lock().unwrap_or_else(|p| p.into_inner());
            f.get_or_insert_with(|| e.to_string());
        }
    }
}

/// How long a flush (at a checkpoint and at the end) may take.
const FLUSH: Duration = Duration::from_secs(60);

/// Writes results of type `T` to one topic, one JSON message each.
///
/// URL parameters: `key=FIELD` takes the message key from a field of the result (its JSON text,
/// or the string itself); `transactional.id=ID` makes each checkpoint interval one Kafka
/// transaction, committed when the checkpoint is taken. Every other parameter is a librdkafka
/// property. The producer is idempotent (`enable.idempotence=true`): a retry inside librdkafka
/// never writes a message twice. Message timestamps are the results' event times.
pub struct KafkaSink<T> {
    name: String,
    url: String,
    topic: String,
    key: Option<String>,
    producer: ThreadedProducer<Ctx>,
    deliveries: Arc<Deliveries>,
    transactional: bool,
    written: u64,
    bytes: u64,
    payload: Vec<u8>,
    _t: PhantomData<fn(T)>,
}

const OWN: [&str; 1] = ["key"];

impl<T: Serialize + 'static> KafkaSink<T> {
    /// Connects a producer to the URL in `spec`.
    pub fn open(spec: &SinkSpec, url: &str) -> Result<Self> {
        let parsed = KafkaUrl::parse(url)?;
        let mut config = parsed.client_config(&OWN);
        config.set("enable.idempotence", "true");
        let transactional = parsed.params.contains_key("transactional.id");
        let deliveries = Arc::new(Deliveries::default());
        let producer: ThreadedProducer<Ctx> = config
            .create_with_context(Ctx(deliveries.clone()))
            .map_err(|e| kafka_error(url, e))?;
        if transactional {
            producer
                .init_transactions(FLUSH)
                .map_err(|e| kafka_error(url, e))?;
            producer
                .begin_transaction()
                .map_err(|e| kafka_error(url, e))?;
        }
        Ok(KafkaSink {
            name: format!("{} ({url})", spec.name),
            url: url.to_string(),
            topic: parsed.topic,
            key: parsed.params.get("key").cloned(),
            producer,
            deliveries,
            transactional,
            written: 0,
            bytes: 0,
            payload: Vec::new(),
            _t: PhantomData,
        })
    }

    /// Fails if any message so far could not be delivered.
    fn check(&self) -> Result<()> {
        match self
            .deliveries
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(e) => Err(Error::Write {
                sink: self.name.clone(),
                message: format!("a message was not delivered: {e}"),
            }),
            None => Ok(()),
        }
    }

    fn flush(&self) -> Result<()> {
        self.producer
            .flush(FLUSH)
            .map_err(|e| kafka_error(&self.url, e))?;
        self.check()
    }

    fn key_of(&self, x: &T) -> Result<Option<String>> {
        let Some(field) = &self.key else {
            return Ok(None);
        };
        let v = serde_json::to_value(x).map_err(|e| Error::Write {
            sink: self.name.clone(),
            message: e.to_string(),
        })?;
        match v.get(field) {
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Ok(Some(other.to_string())),
            None => Err(Error::Write {
                sink: self.name.clone(),
                message: format!("key={field}: the results have no field `{field}`"),
            }),
        }
    }
}

impl<T: Serialize + 'static> Sink for KafkaSink<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn new_batch(&self) -> Box<dyn Any> {
        Box::new(Vec::<(T, i64)>::new())
    }

    fn write_batch(&mut self, batch: &mut dyn Any) -> Result<()> {
        let rows = crate::io::typed::<(T, i64)>(batch);
        for (x, ts) in rows.drain(..) {
            self.payload.clear();
            serde_json::to_writer(&mut self.payload, &x).map_err(|e| Error::Write {
                sink: self.name.clone(),
                message: e.to_string(),
            })?;
            let key = self.key_of(&x)?;
            loop {
                let mut record = BaseRecord::<str, [u8]>::to(&self.topic)
                    .payload(&self.payload)
                    .timestamp(ts);
                if let Some(k) = &key {
                    record = record.key(k.as_str());
                }
                match self.producer.send(record) {
                    Ok(()) => break,
                    // The local queue is full: wait for librdkafka to deliver some.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err((e, _)) => return Err(kafka_error(&self.url, e)),
                }
            }
            self.written += 1;
            self.bytes += self.payload.len() as u64;
        }
        self.check()
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()?;
        if self.transactional {
            self.producer
                .commit_transaction(FLUSH)
                .map_err(|e| kafka_error(&self.url, e))?;
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Everything sent so far is delivered (and, transactional, committed) before the
    /// checkpoint records it: at-least-once (see the module docs).
    fn pre_commit(&mut self) -> Result<Vec<u8>> {
        self.flush()?;
        if self.transactional {
            self.producer
                .commit_transaction(FLUSH)
                .map_err(|e| kafka_error(&self.url, e))?;
            self.producer
                .begin_transaction()
                .map_err(|e| kafka_error(&self.url, e))?;
        }
        Ok(Vec::new())
    }
}
