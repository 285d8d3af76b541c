//! A join of `u64` keys with `String` keys: one error, on the other side's stream, naming both.
use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Person {
    name: String,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn p(bids: Stream<Bid>, people: Stream<Person>) -> Stream<u64> {
    let by_name = people.key_by(|p| p.name.clone());
    bids.key_by(|b| b.auction)
        .join(by_name, Tumbling::secs(10), |b, p| b.price + p.t as u64)
}

fn main() {}
