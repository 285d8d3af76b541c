//! Word count from one Kafka topic to another, self-contained: the example starts librdkafka's
//! in-process mock cluster (a real Kafka protocol server on a loopback port), produces the
//! shipped lines to topic `lines` (4 partitions), runs the `word_count` pipeline from `lines`
//! to `counts` (keyed by word), and reads `counts` back.
//!
//! ```text
//! cargo run -p pulse-examples --features kafka --example kafka_word_count
//! ```
//!
//! Against a real broker, step by step:
//! 1. create the topics: `kafka-topics.sh --create --topic lines --partitions 4` and the same
//!    for `counts`;
//! 2. produce JSON lines to `lines`: `kafka-console-producer.sh --topic lines < examples/data/lines.jsonl`;
//! 3. run the pipeline:
//!    `cargo run --features pulse/kafka --example word_count -- --input 'lines=kafka://localhost:9092/lines?group=wc&start=earliest' --output 'kafka://localhost:9092/counts?key=word'`
//!    (Ctrl-C ends it: the last windows fire, the outputs are flushed, the offsets committed);
//! 4. read the results: `kafka-console-consumer.sh --topic counts --from-beginning --property print.key=true`.

use std::time::{Duration, Instant};

use pulse_examples::words::word_count;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

fn main() -> pulse::Result<()> {
    let kafka = |e: rdkafka::error::KafkaError| pulse::Error::config(e.to_string());
    let mock = MockCluster::new(1).map_err(kafka)?;
    for topic in ["lines", "counts"] {
        mock.create_topic(topic, 4, 1).map_err(kafka)?;
    }
    let brokers = mock.bootstrap_servers();
    println!("mock cluster at {brokers}");

    // 1. The shipped lines, produced to `lines`.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .map_err(kafka)?;
    let text = std::fs::read_to_string("examples/data/lines.jsonl")
        .map_err(|e| pulse::Error::config(format!("examples/data/lines.jsonl: {e}")))?;
    for line in text.lines() {
        producer
            .send(BaseRecord::<str, str>::to("lines").payload(line))
            .map_err(|(e, _)| kafka(e))?;
    }
    producer.flush(Duration::from_secs(30)).map_err(kafka)?;
    println!("produced {} lines to `lines`", text.lines().count());

    // 2. The pipeline, topic to topic; `eof=stop` ends it when `lines` is read to its end.
    let input = format!("lines=kafka://{brokers}/lines?group=demo&start=earliest&eof=stop");
    let output = format!("kafka://{brokers}/counts?key=word");
    let summary = pulse::App::new(word_count).run_from([
        "word_count",
        "--input",
        &input,
        "--output",
        &output,
        "--no-checkpoints",
        "-q",
    ])?;
    let written = summary.outputs[0].1 as usize;
    println!("word_count wrote {written} windows to `counts`");

    // 3. The results, read back from every partition.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "reader")
        .create()
        .map_err(kafka)?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..4 {
        tpl.add_partition_offset("counts", p, Offset::Beginning)
            .map_err(kafka)?;
    }
    consumer.assign(&tpl).map_err(kafka)?;
    let (mut read, deadline) = (0, Instant::now() + Duration::from_secs(30));
    while read < written && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default());
            let value = String::from_utf8_lossy(m.payload().unwrap_or_default());
            println!("partition {} key {key:<8} {value}", m.partition());
            read += 1;
        }
    }
    if read < written {
        return Err(pulse::Error::config(format!(
            "read back {read} of {written} results"
        )));
    }
    Ok(())
}
