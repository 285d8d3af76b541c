use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn p(bids: Stream<Bid>) -> Stream<Bid> {
    bids.filter(|b| b.price > 0).on_timer(|_ctx, _timer| {})
}

fn main() {}
