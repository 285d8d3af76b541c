use pulse::prelude::*;

#[derive(Record)]
struct Row {
    #[event_time]
    at: DateTime<Utc>,
}

fn main() {}
