//! Nexmark-style events, a deterministic generator, and the benchmark queries as pipelines.
//!
//! The generator emits persons, auctions and bids in the usual 1 : 3 : 46 proportion, ten events
//! per millisecond of event time, each event delayed by up to `disorder_ms` (so the stream is out
//! of order by at most that much). The same seed gives the same events, in process or as JSONL
//! (`cargo bench -p pulse-examples --bench nexmark` uses both).

use std::io::Write;
use std::path::Path;

use pulse::prelude::*;
use pulse::{Max, Reduce, Window};

/// Someone who sells or bids.
#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Person {
    /// Person id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// US state.
    pub state: String,
    /// When they joined.
    #[event_time(epoch_ms)]
    pub date_time: i64,
}

/// An item for sale.
#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Auction {
    /// Auction id.
    pub id: u64,
    /// The seller (a person id).
    pub seller: u64,
    /// Item category.
    pub category: u64,
    /// Opening price.
    pub initial_bid: u64,
    /// When it opened.
    #[event_time(epoch_ms)]
    pub date_time: i64,
}

/// A bid on an auction.
#[derive(Event, Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
pub struct Bid {
    /// The auction bid on.
    pub auction: u64,
    /// The bidder (a person id).
    pub bidder: u64,
    /// The price, in cents.
    pub price: u64,
    /// When it was placed.
    #[event_time(epoch_ms)]
    pub date_time: i64,
}

/// One generated event.
#[derive(Clone, Debug, PartialEq)]
pub enum NexmarkEvent {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const FIRST: [&str; 8] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie",
];
/// Event time of the first event: 2023-11-14T22:13:20Z.
pub const START_MS: i64 = 1_700_000_000_000;

/// A deterministic Nexmark-style event generator.
pub struct Generator {
    rng: u64,
    n: u64,
    persons: u64,
    auctions: u64,
    disorder_ms: i64,
}

impl Generator {
    /// A generator from `seed`, with events up to `disorder_ms` late.
    pub fn new(seed: u64, disorder_ms: i64) -> Self {
        Generator {
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            n: 0,
            persons: 0,
            auctions: 0,
            disorder_ms,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn time(&mut self) -> i64 {
        let on_time = START_MS + (self.n / 10) as i64;
        let late = if self.disorder_ms > 0 {
            (self.next_u64() % (self.disorder_ms as u64 + 1)) as i64
        } else {
            0
        };
        on_time - late
    }

    /// A recent id out of `count` (skewed towards the newest, as Nexmark's hot items are).
    fn recent(&mut self, count: u64, window: u64) -> u64 {
        let r = self.next_u64();
        count.saturating_sub(1 + r % window.min(count.max(1)))
    }

    /// The next event.
    pub fn next_event(&mut self) -> NexmarkEvent {
        let slot = self.n % 50;
        let date_time = self.time();
        self.n += 1;
        if slot == 0 || self.persons == 0 {
            let id = self.persons;
            self.persons += 1;
            let r = self.next_u64();
            NexmarkEvent::Person(Person {
                id,
                name: format!("{} {}", FIRST[(r % 8) as usize], id),
                state: STATES[(r >> 8) as usize % STATES.len()].to_string(),
                date_time,
            })
        } else if slot <= 3 || self.auctions == 0 {
            let id = self.auctions;
            self.auctions += 1;
            let seller = self.recent(self.persons, 1_000);
            let r = self.next_u64();
            NexmarkEvent::Auction(Auction {
                id,
                seller,
                category: r % 10,
                initial_bid: 1 + (r >> 8) % 1_000,
                date_time,
            })
        } else {
            let auction = self.recent(self.auctions, 10_000);
            let bidder = self.recent(self.persons, 10_000);
            let r = self.next_u64();
            NexmarkEvent::Bid(Bid {
                auction,
                bidder,
                price: 100 + r % 100_000,
                date_time,
            })
        }
    }

    /// The next `n` bids (skipping persons and auctions).
    pub fn bids(&mut self, n: usize) -> Vec<Bid> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if let NexmarkEvent::Bid(b) = self.next_event() {
                out.push(b);
            }
        }
        out
    }

    /// Writes the next `n` bids to `path` as JSON lines.
    pub fn write_bids(&mut self, n: usize, path: &Path) -> std::io::Result<u64> {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let mut written = 0;
        while written < n {
            if let NexmarkEvent::Bid(b) = self.next_event() {
                writeln!(
                    w,
                    "{{\"auction\":{},\"bidder\":{},\"price\":{},\"date_time\":{}}}",
                    b.auction, b.bidder, b.price, b.date_time
                )?;
                written += 1;
            }
        }
        w.flush()?;
        Ok(std::fs::metadata(path)?.len())
    }
}

/// The watermark bound the windowed queries use: the generator's disorder.
pub const DISORDER_MS: i64 = 2_000;

/// q0: pass-through; measures the framework and I/O alone.
#[pipeline]
pub fn q0(bids: Stream<Bid>) -> Stream<Bid> {
    bids
}

/// A bid priced in euros.
#[derive(Record, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EuroBid {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// Price in euro cents.
    pub price_eur: u64,
    /// When.
    pub date_time: i64,
}

/// q1: projection with currency conversion (dollars to euros at 0.908).
#[pipeline]
pub fn q1(bids: Stream<Bid>) -> Stream<EuroBid> {
    bids.map(|b| EuroBid {
        auction: b.auction,
        bidder: b.bidder,
        price_eur: b.price * 908 / 1000,
        date_time: b.date_time,
    })
}

/// q2: selection: bids on every 123rd auction.
#[pipeline]
pub fn q2(bids: Stream<Bid>) -> Stream<(u64, u64)> {
    bids.filter(|b| b.auction % 123 == 0)
        .map(|b| (b.auction, b.price))
}

/// q5: hot items: per 2 s, the auction with the most bids in the last 10 s.
#[pipeline]
pub fn q5(bids: Stream<Bid>) -> Stream<Window<i64, Window<u64, u64>>> {
    bids.watermark(BoundedOutOfOrderness::millis(DISORDER_MS))
        .key_by(|b| b.auction)
        .window(Sliding::secs(10, 2))
        .aggregate(Count)
        .key_by(|w| w.end.millis())
        .window(Tumbling::secs(2))
        .aggregate(Reduce(|a: &Window<u64, u64>, b: &Window<u64, u64>| {
            if (b.value, a.key) > (a.value, b.key) {
                b.clone()
            } else {
                a.clone()
            }
        }))
}

/// q7: the highest bid per 10 s.
#[pipeline]
pub fn q7(bids: Stream<Bid>) -> Stream<Window<u8, u64>> {
    bids.watermark(BoundedOutOfOrderness::millis(DISORDER_MS))
        .key_by(|_| 0u8)
        .window(Tumbling::secs(10))
        .aggregate(Max(|b: &Bid| b.price))
}

/// The canonical query: bids and volume per auction per 10 s tumbling window.
#[pipeline]
pub fn canonical(bids: Stream<Bid>) -> Stream<Window<u64, (u64, u64)>> {
    bids.watermark(BoundedOutOfOrderness::millis(DISORDER_MS))
        .key_by(|b| b.auction)
        .window(Tumbling::secs(10))
        .aggregate((Count, Sum(|b: &Bid| b.price)))
}

/// q8: people who opened an auction in the same 10 s window as they joined.
#[pipeline]
pub fn q8(persons: Stream<Person>, auctions: Stream<Auction>) -> Stream<(u64, String, u64)> {
    let people = persons
        .watermark(BoundedOutOfOrderness::millis(DISORDER_MS))
        .key_by(|p| p.id);
    let sellers = auctions
        .watermark(BoundedOutOfOrderness::millis(DISORDER_MS))
        .key_by(|a| a.seller);
    people.join(sellers, Tumbling::secs(10), |p: &Person, a: &Auction| {
        (p.id, p.name.clone(), a.id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_keeps_its_proportions() {
        let events: Vec<_> = {
            let mut g = Generator::new(7, 2_000);
            (0..50_000).map(|_| g.next_event()).collect()
        };
        let mut again = Generator::new(7, 2_000);
        assert!(events.iter().all(|e| *e == again.next_event()));
        let count = |f: fn(&NexmarkEvent) -> bool| events.iter().filter(|e| f(e)).count();
        assert_eq!(count(|e| matches!(e, NexmarkEvent::Person(_))), 1_000);
        assert_eq!(count(|e| matches!(e, NexmarkEvent::Auction(_))), 3_000);
        assert_eq!(count(|e| matches!(e, NexmarkEvent::Bid(_))), 46_000);
        let mut max_seen = i64::MIN;
        for (i, e) in events.iter().enumerate() {
            let t = match e {
                NexmarkEvent::Person(p) => p.date_time,
                NexmarkEvent::Auction(a) => a.date_time,
                NexmarkEvent::Bid(b) => b.date_time,
            };
            assert!(t >= START_MS + i as i64 / 10 - 2_000 && t <= START_MS + i as i64 / 10);
            assert!(
                t >= max_seen.saturating_sub(2_100),
                "disorder stays within the bound"
            );
            max_seen = max_seen.max(t);
        }
    }
}
