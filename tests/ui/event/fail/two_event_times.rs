use pulse::prelude::*;

#[derive(Event)]
struct Reading {
    #[event_time]
    measured: DateTime<Utc>,
    #[event_time]
    received: DateTime<Utc>,
}

fn main() {}
