//! Attribute and option names.

pub const EVENT_TIME: &str = "event_time";
pub const EVENT: &str = "event";
pub const SERDE: &str = "serde";
pub const RENAME: &str = "rename";
pub const SKIP: &str = "skip";
pub const EPOCH_MS: &str = "epoch_ms";
pub const EPOCH_S: &str = "epoch_s";
pub const EPOCH_US: &str = "epoch_us";
