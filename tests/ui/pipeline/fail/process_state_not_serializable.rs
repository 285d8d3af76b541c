use pulse::prelude::*;
use pulse::Context;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

struct Seen(u64);

#[pipeline]
fn p(bids: Stream<Bid>) -> Stream<u64> {
    bids.key_by(|b| b.auction)
        .process(|ctx: &mut Context<'_, u64, Seen, u64>, b: Bid| ctx.emit(b.price))
}

fn main() {}
