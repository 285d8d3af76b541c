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
    let prices = bids.map(|b| b.price);
    let names = bids.map(|b| b.auction.to_string());
    prices.union(names)
}

fn main() {}
