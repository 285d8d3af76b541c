//! # Pulse
//!
//! Event-time stream processing in ordinary annotated Rust. Derive [`Event`] on a struct with an
//! `#[event_time]` field, write a [`pipeline`] function over [`Stream`]s, and [`run`] it: the
//! macro compiles the function into one statically dispatched operator graph.
//!
//! ```
//! use pulse::prelude::*;
//!
//! #[derive(Event, Clone, Debug, Deserialize)]
//! struct Bid {
//!     auction: u64,
//!     price: u64,
//!     #[event_time(epoch_ms)]
//!     at: i64,
//! }
//!
//! #[derive(Record, Debug, PartialEq, Serialize)]
//! struct Stats {
//!     auction: u64,
//!     end: Timestamp,
//!     bids: u64,
//!     volume: u64,
//! }
//!
//! #[pipeline]
//! fn auction_stats(bids: Stream<Bid>) -> Stream<Stats> {
//!     bids.watermark(BoundedOutOfOrderness::secs(5))
//!         .key_by(|b| b.auction)
//!         .window(Tumbling::secs(10))
//!         .aggregate((Count, Sum(|b: &Bid| b.price)))
//!         .map(|w| Stats { auction: w.key, end: w.end, bids: w.value.0, volume: w.value.1 })
//! }
//!
//! let mut h = pulse::testing::harness(auction_stats);
//! h.push::<0>(Bid { auction: 1, price: 5, at: 1_000 })
//!  .push::<0>(Bid { auction: 1, price: 7, at: 9_999 })
//!  .finish();
//! assert_eq!(h.output::<0>(), [Stats { auction: 1, end: Timestamp::from_millis(10_000), bids: 2, volume: 12 }]);
//! ```
//!
//! A binary runs it with `fn main() -> pulse::Result<()> { pulse::run(auction_stats) }` and binds
//! inputs and outputs at run time: `--input bids=bids.jsonl --output stats.csv`.
//!
//! # Events
//!
//! `#[derive(Event)]` needs exactly one `#[event_time]` field of type `chrono::DateTime<Utc>` or
//! [`Timestamp`], or an integer with `#[event_time(epoch_ms)]` (also `epoch_s`, `epoch_us`). It
//! also derives the Arrow schema of the struct. `#[derive(Record)]` derives only the schema, for
//! output rows. Column names are field names; `#[event(rename = "..")]` renames a column, and
//! otherwise `#[serde(rename = "..")]` does; `#[event(skip)]` leaves a field out of the schema.
//!
//! # Operators
//!
//! | operator | on | does |
//! |---|---|---|
//! | `map(f)`, `filter(p)`, `filter_map(f)`, `flat_map(f)`, `inspect(f)` | stream | element-wise, keeping each element's timestamp |
//! | `watermark(strategy)` | stream | derives the watermark ([`BoundedOutOfOrderness`], [`Ascending`], [`Periodic`], [`Punctuated`]) |
//! | `key_by(f)` | stream | keys the stream for `window`, `join` and `process` |
//! | `window(w)[.allowed_lateness(d)].aggregate(a)` | keyed | [`Tumbling`], [`Sliding`] or [`Session`] windows; emits [`Window`] values |
//! | `late()` | windowed aggregate | the elements that arrived after their windows were cleaned up |
//! | `union(b, ..)` | stream | merges streams of one type |
//! | `join(other, w, f)` | keyed | inner window join: `f(&l, &r)` for each pair with one key in one window |
//! | `process(f)` | keyed | `f(&mut Context, x)` with one value of state per key |
//! | `name("id")` | any operator | sets its stable id (state is saved under it) |
//!
//! Aggregates: [`Count`], [`Sum`], [`Min`], [`Max`], [`Avg`], [`Distinct`], [`First`], [`Last`],
//! [`Reduce`], [`Fold`], tuples of them, and any [`Aggregate`] implementation.
//!
//! Closures that the pipeline keeps must own what they use (`move |x| x.v > limit`).
//!
//! # Semantics
//!
//! Event time follows Apache Flink's conventions; see [`pulse_runtime`]'s crate docs. In short: a
//! watermark `W` says no element `<= W` is still expected; bounded out-of-orderness `B` gives
//! `W = max_seen - B - 1`; a window `[start, end)` fires at `W >= end - 1` and is kept until
//! `W >= end - 1 + lateness`; the end of a finite input fires every window.

#![deny(missing_docs)]

// The crate's own `#[pipeline]`s (the TOML pipelines) name it `::pulse`, as users' do.
extern crate self as pulse;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod dynamic;

pub use pulse_runtime::aggregate::{
    self, Aggregate, Avg, Count, Distinct, First, Fold, Last, Max, Min, Reduce, Sum,
};
pub use pulse_runtime::operator::Context;
pub use pulse_runtime::state::{
    self, AggregatingState, ListState, MapState, ReducingState, TimeDomain, Timer, Ttl, ValueState,
};
pub use pulse_runtime::watermark::{self, Ascending, BoundedOutOfOrderness, Periodic, Punctuated};
pub use pulse_runtime::window::{self, Session, Sliding, Tumbling, Window};
pub use pulse_runtime::{
    ArrowField, Error, Event, Explain, Graph, Pipeline, PortInfo, Record, Result, Snapshot,
    Timestamp,
};
pub use pulse_runtime::{Input, Output};
pub use pulse_runtime::{arrow_schema, checkpoint, columnar, exec, io, testing};

#[cfg(feature = "macros")]
pub use pulse_macros::{Event, Record, pipeline};

#[cfg(feature = "cli")]
pub use cli::{App, run, run_all};

/// A stream of `T` in a `#[pipeline]` function's signature.
///
/// It exists for the signature only: the macro turns the function's body into a graph.
pub struct Stream<T>(std::marker::PhantomData<fn() -> T>);

/// The items most pipelines use.
///
/// Fifteen items: the signature type, the derives, time, the common windows and aggregates.
/// Everything else is at its home path, e.g. `pulse::{Avg, Max, Ascending}`.
pub mod prelude {
    #[doc(hidden)]
    pub use crate::{
        BoundedOutOfOrderness, Count, Session, Sliding, Stream, Sum, Timestamp, Tumbling,
    };
    #[cfg(feature = "macros")]
    #[doc(hidden)]
    pub use crate::{Event, Record, pipeline};
    #[doc(hidden)]
    pub use chrono::{DateTime, Utc};
    #[doc(hidden)]
    pub use serde::{Deserialize, Serialize};
}

#[doc(hidden)]
pub mod __private {
    pub use pulse_runtime::__private::*;
}

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
