//! Word count over tumbling one-minute windows.
//!
//! Writes typed Parquet to `out/word_count/dt=YYYY-MM-DD/part-NNNNN.parquet` by default.
//!
//! ```text
//! cargo run --example word_count
//! cargo run --example word_count -- --output -                  # print the results
//! cargo run --example word_count -- --output out/word_count.csv
//! cargo run --example word_count -- --explain mermaid
//! ```

use pulse_examples::words::word_count;

fn main() -> pulse::Result<()> {
    pulse::App::new(word_count)
        .input("lines", "examples/data/lines.jsonl")
        .output("output", "parquet:out/word_count")
        .run()
}
