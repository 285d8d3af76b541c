use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn p(bids: Stream<Bid>) -> Stream<u64> {
    bids.key_by(|b| b.auction).aggregate(Count)
}

fn main() {}
