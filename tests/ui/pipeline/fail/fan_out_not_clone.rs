use pulse::prelude::*;

#[derive(Event, Debug, Deserialize, Serialize)]
struct Bid {
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn p(bids: Stream<Bid>) -> (Stream<Bid>, Stream<Bid>) {
    let cheap = bids.filter(|b| b.price < 10);
    let dear = bids.filter(|b| b.price >= 10);
    (cheap, dear)
}

fn main() {}
