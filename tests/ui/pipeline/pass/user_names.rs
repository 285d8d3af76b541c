//! The pipeline body's own names, whatever they are, are the user's: locals named like the
//! expansion's would-be nodes, buffers and outputs are captured by closures as written.
use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn named_like_nodes(bids: Stream<Bid>) -> (Stream<u64>, Stream<u64>) {
    let (n0, n1, n2, n3, n4, n5, n6, n7, n8, n9) = (0u64, 10u64, 2u64, 3u64, 4u64, 5u64, 6u64, 7u64, 8u64, 9u64);
    let (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9) = (1u64, 1u64, 1u64, 1u64, 1u64, 1u64, 1u64, 1u64, 1u64, 1u64);
    let (o0, o1, o2, o3, o4, o5, o6, o7, o8, o9) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let (st, x, ts, m) = (100u64, 1u64, 0u64, 2u64);
    let cheap = bids
        .filter(|b| b.auction > 0)
        .filter(move |b| b.price > n1)
        .map(move |b| b.price + n0 + n2 + n3 + n4 + n5 + n6 + n7 + n8 + n9 - 44);
    let marked = cheap.map(move |p| {
        p * (b0 * b1 * b2 * b3 * b4 * b5 * b6 * b7 * b8 * b9) + o0 + o1 + o2 + o3 + o4 + o5 + o6 + o7 + o8 + o9
    });
    let scaled = marked.map(move |p| p * x * m + st + ts);
    (marked, scaled)
}

fn main() {
    let mut h = pulse::testing::harness(named_like_nodes);
    h.push::<0>(Bid { auction: 1, price: 5, t: 1 })
        .push::<0>(Bid { auction: 1, price: 50, t: 2 })
        .push::<0>(Bid { auction: 0, price: 70, t: 3 })
        .finish();
    // Only the bid above `n1 = 10` with an auction passes; 50 + 44 - 44.
    assert_eq!(h.output::<0>(), [50]);
    assert_eq!(h.output::<1>(), [200]);
}
