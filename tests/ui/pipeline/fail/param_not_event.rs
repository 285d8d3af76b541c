use pulse::prelude::*;

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Bid {
    price: u64,
}

#[pipeline]
fn p(bids: Stream<Bid>) -> Stream<Bid> {
    bids
}

fn main() {}
