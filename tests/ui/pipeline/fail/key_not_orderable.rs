use pulse::prelude::*;
use pulse::Window;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn p(bids: Stream<Bid>) -> Stream<Window<f64, u64>> {
    bids.key_by(|b| b.price as f64).window(Tumbling::secs(1)).aggregate(Count)
}

fn main() {}
