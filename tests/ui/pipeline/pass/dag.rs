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
    id: u64,
    name: String,
    #[event_time(epoch_ms)]
    t: i64,
}

/// Fan-out, union, a join of two inputs, process without annotations, named operators.
#[pipeline]
fn everything(bids: Stream<Bid>, people: Stream<Person>) -> (Stream<(String, u64)>, Stream<u64>, Stream<Bid>) {
    let limit = 1_000;
    let timed = bids.watermark(BoundedOutOfOrderness::secs(1)).name("bid-time");
    let cheap = timed.filter(move |b| b.price < limit);
    let dear = timed.filter(move |b| b.price >= limit);
    let all = cheap.union(dear).inspect(|b| assert!(b.t >= 0));
    let by_bidder = all.key_by(|b| b.auction);
    let windows = by_bidder.window(Tumbling::secs(10)).aggregate(Count);
    let late = windows.late();
    let counts = windows.map(|w| w.value);
    let named = people.watermark(pulse::Ascending::new()).key_by(|p| p.id);
    let joined = by_bidder.join(named, Sliding::secs(10, 5), |b: &Bid, p: &Person| (p.name.clone(), b.price));
    let firsts = joined.key_by(|(n, _)| n.clone()).process(|ctx, x: (String, u64)| {
        if ctx.state().is_none() {
            *ctx.state() = Some(x.1);
            ctx.emit(x);
        }
    });
    (firsts, counts, late)
}

fn main() {
    let _ = pulse::testing::harness(everything);
}
