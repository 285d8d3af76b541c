use pulse::prelude::*;

#[derive(Event)]
struct Reading {
    sensor: u64,
    at: DateTime<Utc>,
}

fn main() {}
