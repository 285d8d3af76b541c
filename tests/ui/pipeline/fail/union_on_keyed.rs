use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

// One mistake (a `union` on a keyed stream), one error: `b` is not also reported as unused.
#[pipeline]
fn merged(a: Stream<Bid>, b: Stream<Bid>) -> Stream<u64> {
    a.key_by(|x| x.auction).union(b).map(|x| x.auction)
}

fn main() {}
