use pulse::prelude::*;
use pulse::Window;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

struct Other {
    v: u64,
}

#[pipeline]
fn p(bids: Stream<Bid>) -> Stream<Window<u64, u64>> {
    bids.key_by(|b| b.auction).window(Tumbling::secs(1)).aggregate(Sum(|o: &Other| o.v))
}

fn main() {}
