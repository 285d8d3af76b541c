//! Sensor averages on sliding windows with a late-data side output.
//!
//! ```text
//! cargo run --example sensor_averages
//! cargo run --example sensor_averages -- --output averages=out/averages.csv --output late=out/late.jsonl
//! ```

use pulse_examples::sensors::sensor_averages;

fn main() -> pulse::Result<()> {
    pulse::App::new(sensor_averages)
        .input("readings", "examples/data/readings.jsonl")
        .output("averages", "-")
        .output("late", "out/late_readings.jsonl")
        .run()
}
