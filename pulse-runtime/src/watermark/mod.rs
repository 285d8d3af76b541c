//! Watermarks: strategies that derive event-time progress from the elements they see.
//!
//! A watermark `W` asserts that no element with timestamp `<= W` is still expected (Flink's
//! convention). See the crate docs for how windows use it.

mod strategy;

pub use strategy::{Ascending, BoundedOutOfOrderness, Periodic, Punctuated, WatermarkStrategy};
