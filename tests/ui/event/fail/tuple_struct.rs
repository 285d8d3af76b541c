use pulse::prelude::*;

#[derive(Event)]
struct Reading(u64, DateTime<Utc>);

fn main() {}
