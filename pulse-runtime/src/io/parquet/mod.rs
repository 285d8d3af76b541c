//! Typed Parquet: a partitioned, rotating sink and a source, both from the derived schema.

mod options;
#[cfg(feature = "parquet")]
mod sink;
#[cfg(feature = "parquet")]
mod source;

pub use options::{Compression, ParquetOptions, Partitioning};
#[cfg(feature = "parquet")]
pub(crate) use sink::recover;
#[cfg(feature = "parquet")]
pub use sink::{ParquetSink, PendingFile};
#[cfg(feature = "parquet")]
pub use source::ParquetSource;
