//! The Pulse runtime: event time and watermarks, windows and aggregates, operators, state,
//! file I/O and the driver that runs a compiled graph.
//!
//! Most users depend on the `pulse` crate, which re-exports what they need from here.
//!
//! # Event-time semantics
//!
//! Pulse follows Apache Flink's conventions exactly, so intuition carries over:
//!
//! - Every element carries an event timestamp in UTC milliseconds.
//! - A watermark `W` asserts that no element with timestamp `<= W` is still expected.
//!   Bounded out-of-orderness `B` emits `W = max_seen - B - 1`; ascending emits `max_seen - 1`.
//! - A window `[start, end)` fires when `W >= end - 1` and emits its result with timestamp
//!   `end - 1`.
//! - With allowed lateness `L` its state is kept until `W >= end - 1 + L`. An element arriving
//!   for a fired window before that updates it and the window re-emits at once.
//! - An element all of whose windows are past that point is *late*: it goes to the window's late
//!   output (if the pipeline routes `.late()` somewhere) and is always counted.
//! - A multi-input operator's watermark is the minimum over its inputs; an idle input is left out.
//! - When a finite input ends it sends `W = i64::MAX`, which fires every window.
//! - Watermarks advance after every element, so results do not depend on how input is batched.

#![deny(missing_docs)]

pub mod aggregate;
pub mod checkpoint;
pub mod columnar;
mod error;
mod event;
pub mod exec;
mod graph;
pub mod io;
pub mod operator;
pub mod state;
pub mod testing;
mod time;
pub mod watermark;
pub mod window;

#[doc(hidden)]
pub mod __private;

pub use error::{Error, Result};
pub use event::{ArrowField, EpochInt, Event, EventTimeType, FieldInfo, Record};
pub use graph::{
    Explain, Graph, Input, NodeInfo, Output, OutputBatch, Pipeline, PortInfo, Snapshot,
};
pub use time::{MAX_WATERMARK, MIN_WATERMARK, Timestamp};

/// The Arrow schema types of derived records.
pub use arrow_schema;
