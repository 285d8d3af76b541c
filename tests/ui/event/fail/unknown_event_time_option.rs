use pulse::prelude::*;

#[derive(Event)]
struct Reading {
    #[event_time(epoch_ns)]
    at: i64,
}

fn main() {}
