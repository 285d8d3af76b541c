use pulse::prelude::*;

#[derive(Event)]
struct Reading<T> {
    value: T,
    #[event_time]
    at: DateTime<Utc>,
}

fn main() {}
