use pulse::prelude::*;

#[derive(Event)]
struct Tick;

fn main() {}
