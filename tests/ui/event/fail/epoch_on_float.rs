use pulse::prelude::*;

#[derive(Event)]
struct Reading {
    #[event_time(epoch_s)]
    at: f64,
}

fn main() {}
