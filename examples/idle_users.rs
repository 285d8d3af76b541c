//! Users who went idle, found with keyed state and event-time timers.
//!
//! ```text
//! cargo run --example idle_users
//! cargo run --example idle_users -- --output out/idle.jsonl
//! ```

use pulse_examples::clicks::idle_users;

fn main() -> pulse::Result<()> {
    pulse::App::new(idle_users)
        .input("clicks", "examples/data/clicks.csv")
        .run()
}
