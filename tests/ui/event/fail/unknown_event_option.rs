use pulse::prelude::*;

#[derive(Event)]
struct Reading {
    #[event(flatten)]
    sensor: u64,
    #[event_time]
    at: DateTime<Utc>,
}

fn main() {}
