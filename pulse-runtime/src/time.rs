//! Event time: millisecond timestamps, durations and the watermark sentinels.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The smallest watermark: nothing is known yet.
pub const MIN_WATERMARK: i64 = i64::MIN;
/// The watermark a finite input sends when it ends: every window fires.
pub const MAX_WATERMARK: i64 = i64::MAX;

/// A point in event time: milliseconds since the Unix epoch, UTC.
///
/// Serialized as an RFC 3339 string with milliseconds (`2024-05-01T12:00:00.000Z`); deserialized
/// from such a string or from an integer number of epoch milliseconds.
///
/// # Examples
/// ```
/// use pulse_runtime::Timestamp;
/// let t = Timestamp::from_millis(1_500);
/// assert_eq!(t.millis(), 1_500);
/// assert_eq!(t.to_string(), "1970-01-01T00:00:01.500Z");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// A timestamp `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The same instant as a `chrono` date-time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Parses an RFC 3339 date-time or an integer of epoch milliseconds.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(ms) = s.parse::<i64>() {
            return Some(Timestamp(ms));
        }
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Timestamp(d.timestamp_millis()))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(d: DateTime<Utc>) -> Self {
        Timestamp(d.timestamp_millis())
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.to_datetime()
    }
}

/// [`civil_rfc3339`], remembering the last two timestamps formatted on this thread: a window's
/// results all carry its start and end, so most rows repeat the previous row's timestamps.
fn rfc3339(ms: i64) -> Option<[u8; 24]> {
    type Last = (usize, [Option<(i64, [u8; 24])>; 2]);
    thread_local! {
        static LAST: std::cell::Cell<Last> = const { std::cell::Cell::new((0, [None, None])) };
    }
    LAST.with(|last| {
        let (next, mut seen) = last.get();
        if let Some((_, b)) = seen.iter().flatten().find(|(at, _)| *at == ms) {
            return Some(*b);
        }
        let b = civil_rfc3339(ms)?;
        seen[next] = Some((ms, b));
        last.set((1 - next, seen));
        Some(b)
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for years 0 to 9999, without chrono's formatting machinery
/// (civil date from days after Howard Hinnant's algorithm).
fn civil_rfc3339(ms: i64) -> Option<[u8; 24]> {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, in_day / 3_600_000);
    put(14, 2, in_day / 60_000 % 60);
    put(17, 2, in_day / 1_000 % 60);
    put(20, 3, in_day % 1_000);
    Some(b)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match rfc3339(self.0) {
            Some(b) => f.write_str(std::str::from_utf8(&b).expect("ASCII")),
            None => write!(f, "{}", self.to_datetime().format("%Y-%m-%dT%H:%M:%S%.3fZ")),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            match rfc3339(self.0) {
                Some(b) => s.serialize_str(std::str::from_utf8(&b).expect("ASCII")),
                None => s.collect_str(self),
            }
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date-time or epoch milliseconds")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v).map(Timestamp).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            d.deserialize_i64(V)
        }
    }
}

/// Converts a `std::time::Duration` to whole milliseconds, saturating.
pub(crate) fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The wall clock in milliseconds since the Unix epoch: processing time.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {

    #[test]
    fn formats_like_chrono_across_the_calendar() {
        let mut ms = -62_135_596_800_000i64; // 0001-01-01
        while ms < 253_402_300_799_000 {
            let t = Timestamp::from_millis(ms);
            let chrono = t.to_datetime().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            assert_eq!(t.to_string(), chrono, "{ms}");
            ms += 86_399_937 * 17 + 123;
        }
        assert_eq!(
            Timestamp::from_millis(-1).to_string(),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn repeated_timestamps_format_alike() {
        let (a, b) = (1_714_521_600_000, 1_714_521_610_000);
        for ms in [a, a, b, b, a, -1, -1, b] {
            let t = Timestamp::from_millis(ms);
            let chrono = t.to_datetime().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            assert_eq!(t.to_string(), chrono, "{ms}");
        }
    }

    use super::*;

    #[test]
    fn parses_rfc3339_and_epoch_millis() {
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:10Z"),
            Some(Timestamp(10_000))
        );
        assert_eq!(Timestamp::parse("42"), Some(Timestamp(42)));
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn serde_round_trip_is_readable() {
        let t = Timestamp(1_714_564_800_123);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2024-05-01T12:00:00.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert_eq!(
            serde_json::from_str::<Timestamp>("7").unwrap(),
            Timestamp(7)
        );
        let bin = postcard::to_stdvec(&t).unwrap();
        assert_eq!(postcard::from_bytes::<Timestamp>(&bin).unwrap(), t);
    }
}
