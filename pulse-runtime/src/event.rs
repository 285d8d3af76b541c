//! Typed events: the trait `#[derive(Event)]` implements, and the event-time field types.
//! `Record` and `ArrowField` (the row schema) live in `columnar`, a layer below.

use chrono::{DateTime, Utc};

pub use crate::columnar::{ArrowField, FieldInfo, Record};
use crate::time::Timestamp;

/// A record that happened at a point in event time.
///
/// Implement it with `#[derive(Event)]` on a struct with exactly one `#[event_time]` field.
///
/// # Examples
/// ```
/// use pulse_runtime::{Event, Record, Timestamp};
/// # use pulse_runtime::{FieldInfo};
/// # use arrow_schema::Fields;
/// struct Ping { at: Timestamp }
/// # impl Record for Ping {
/// #     const NAME: &'static str = "Ping";
/// #     const FIELDS: &'static [FieldInfo] = &[];
/// #     fn arrow_fields() -> Fields { Fields::empty() }
/// #     fn partition_value(&self, _: &str) -> Option<String> { None }
/// # }
/// impl Event for Ping {
///     const EVENT_TIME_FIELD: &'static str = "at";
///     fn event_time(&self) -> Timestamp { self.at }
/// }
/// assert_eq!(Ping { at: Timestamp::from_millis(5) }.event_time().millis(), 5);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Pulse event",
    label = "streams carry events",
    note = "add `#[derive(Event)]` to `{Self}` and mark its event-time field with `#[event_time]`"
)]
pub trait Event: Record {
    /// The name of the event-time field.
    const EVENT_TIME_FIELD: &'static str;
    /// When this event happened.
    fn event_time(&self) -> Timestamp;
    /// Decodes one JSON line on the fast path, or `None` to let serde decode it (and report
    /// what is wrong). The derive implements it from the struct's fields.
    #[inline(always)]
    fn decode_json(_line: &[u8]) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// A field type that can be an event time without a unit attribute.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event time",
    label = "unsupported event-time type",
    note = "use `chrono::DateTime<Utc>` or `pulse::Timestamp`, or an integer with `#[event_time(epoch_ms)]` (or `epoch_s`, `epoch_us`)"
)]
pub trait EventTimeType {
    /// The instant this value denotes.
    fn to_timestamp(&self) -> Timestamp;
}

impl EventTimeType for Timestamp {
    fn to_timestamp(&self) -> Timestamp {
        *self
    }
}

impl EventTimeType for DateTime<Utc> {
    fn to_timestamp(&self) -> Timestamp {
        Timestamp::from_millis(self.timestamp_millis())
    }
}

/// An integer that counts time since the epoch (`#[event_time(epoch_ms)]` and friends).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an integer and cannot hold epoch time",
    label = "`epoch_ms`, `epoch_s` and `epoch_us` need an integer field",
    note = "use `i64` or `u64`, or drop the unit and use `chrono::DateTime<Utc>` or `pulse::Timestamp`"
)]
pub trait EpochInt: Copy {
    /// The value as `i64`, saturating.
    fn to_i64(self) -> i64;
}

macro_rules! epoch_int {
    ($($t:ty),*) => {
        $(impl EpochInt for $t {
            fn to_i64(self) -> i64 { i64::try_from(self).unwrap_or(i64::MAX) }
        })*
    };
}
epoch_int!(i32, i64, u32, u64);

/// Epoch seconds to a timestamp.
pub fn from_epoch_s<T: EpochInt>(v: T) -> Timestamp {
    Timestamp::from_millis(v.to_i64().saturating_mul(1000))
}

/// Epoch milliseconds to a timestamp.
pub fn from_epoch_ms<T: EpochInt>(v: T) -> Timestamp {
    Timestamp::from_millis(v.to_i64())
}

/// Epoch microseconds to a timestamp (truncated to milliseconds).
pub fn from_epoch_us<T: EpochInt>(v: T) -> Timestamp {
    Timestamp::from_millis(v.to_i64().div_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_units_convert() {
        assert_eq!(from_epoch_s(3u64).millis(), 3000);
        assert_eq!(from_epoch_us(-1i64).millis(), -1);
        assert_eq!(from_epoch_ms(7i32).millis(), 7);
    }
}
