use pulse::prelude::*;

#[derive(Event)]
struct Reading {
    #[event(rename = "value")]
    celsius: f64,
    value: f64,
    #[event_time]
    at: DateTime<Utc>,
}

fn main() {}
