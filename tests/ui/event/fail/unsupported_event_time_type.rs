use pulse::prelude::*;

#[derive(Event)]
struct Reading {
    sensor: u64,
    #[event_time]
    at: String,
}

fn main() {}
