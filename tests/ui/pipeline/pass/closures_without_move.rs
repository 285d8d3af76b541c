//! Closures the pipeline keeps need not say `move`: the expansion makes them own what they
//! capture (a local read by value), in operators and inside aggregates alike.
use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn no_move(bids: Stream<Bid>) -> Stream<(u64, u64)> {
    let limit = 10u64;
    let bonus = 1u64;
    let group = 2u64;
    bids.watermark(BoundedOutOfOrderness::millis(0))
        .filter(|b| b.price > limit)
        .key_by(|b| b.auction % group)
        .window(Tumbling::millis(10))
        .aggregate(Sum(|b: &Bid| b.price + bonus))
        .map(|w| (w.key, w.value))
}

fn main() {
    let mut h = pulse::testing::harness(no_move);
    h.push::<0>(Bid { auction: 1, price: 5, t: 1 })
        .push::<0>(Bid { auction: 3, price: 20, t: 2 })
        .push::<0>(Bid { auction: 5, price: 30, t: 3 })
        .finish();
    assert_eq!(h.output::<0>(), [(1, 52)]);
}
