//! Word count over tumbling one-minute windows.
//!
//! ```text
//! cargo run --example word_count
//! cargo run --example word_count -- --output out/word_count.csv
//! cargo run --example word_count -- --explain mermaid
//! ```

use pulse_examples::words::word_count;

fn main() -> pulse::Result<()> {
    pulse::App::new(word_count)
        .input("lines", "examples/data/lines.jsonl")
        .run()
}
