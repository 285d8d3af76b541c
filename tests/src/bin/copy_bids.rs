//! A pipeline binary as users write one, for tests of its exit codes and signals.

use pulse::prelude::*;
use pulse_tests::Bid;

#[pipeline]
fn copy_bids(bids: Stream<Bid>) -> Stream<Bid> {
    bids
}

fn main() -> pulse::Result<()> {
    pulse::run(copy_bids)
}
