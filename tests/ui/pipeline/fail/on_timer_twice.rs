use pulse::prelude::*;
use pulse::Context;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    auction: u64,
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn p(bids: Stream<Bid>) -> Stream<u64> {
    bids.key_by(|b| b.auction)
        .process(|ctx: &mut Context<'_, u64, (), u64>, b: Bid| ctx.emit(b.price))
        .on_timer(|_ctx, _timer| {})
        .on_timer(|_ctx, _timer| {})
}

fn main() {}
