//! A pipeline with a mistake gives one error, at the mistake: using the pipeline (running it,
//! testing it with a harness) adds none.
use pulse::prelude::*;

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Bid {
    price: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

#[pipeline]
fn p(bids: Stream<Bid>) -> Stream<u64> {
    bids.mapp(|b| b.price)
}

fn main() -> pulse::Result<()> {
    let mut h = pulse::testing::harness(p);
    h.push::<0>(Bid { price: 1, t: 1 }).finish();
    let _: Vec<u64> = h.output::<0>();
    pulse::run(p)
}
