use pulse::prelude::*;
use std::collections::HashMap;

#[derive(Event)]
struct Reading {
    tags: HashMap<String, String>,
    #[event_time]
    at: DateTime<Utc>,
}

fn main() {}
