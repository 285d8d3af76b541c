//! Per-user click sessions over CSV input.
//!
//! ```text
//! cargo run --example click_sessions
//! cargo run --example click_sessions -- --output out/sessions.jsonl
//! ```

use pulse_examples::clicks::click_sessions;

fn main() -> pulse::Result<()> {
    pulse::App::new(click_sessions)
        .input("clicks", "examples/data/clicks.csv")
        .run()
}
