//! A pipeline's name does not capture the user's names: a pipeline named `s` beside a
//! `#[derive(Event)]` struct, one named `bid` whose closures take a parameter `bid`, and
//! `let bid`, `let s` and `|s|` elsewhere in the module.
use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn s(bids: Stream<Bid>) -> Stream<u64> {
    bids.map(|s| s.price)
}

#[pipeline]
fn bid(bids: Stream<Bid>) -> Stream<u64> {
    let bid = 2u64;
    bids.filter(move |b| b.price > bid).map(|bid| bid.price + bid.auction)
}

/// Bindings named after the pipelines, outside them.
fn total(bids: &[Bid]) -> u64 {
    let bid = bids.iter().map(|s| s.price).sum::<u64>();
    let s = bid * 2;
    s
}

fn main() {
    assert_eq!(total(&[Bid { auction: 1, price: 5, t: 1 }]), 10);
    let mut h = pulse::testing::harness(s);
    h.push::<0>(Bid { auction: 1, price: 5, t: 1 }).finish();
    assert_eq!(h.output::<0>(), [5]);
    let mut h = pulse::testing::harness(bid);
    h.push::<0>(Bid { auction: 1, price: 1, t: 1 })
        .push::<0>(Bid { auction: 7, price: 3, t: 2 })
        .finish();
    assert_eq!(h.output::<0>(), [10]);
}
