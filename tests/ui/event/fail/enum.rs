use pulse::prelude::*;

#[derive(Event)]
enum Reading {
    Hot,
    Cold,
}

fn main() {}
