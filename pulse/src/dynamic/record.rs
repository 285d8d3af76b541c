//! Dynamically typed records: a JSON object and its event time, decoded by a [`Decode`] the
//! query configures (which field holds the time, which fields the query needs).

use std::sync::Arc;

use pulse_runtime::Timestamp;
use pulse_runtime::arrow_schema::Fields;
use pulse_runtime::columnar::{FieldInfo, Record};
use pulse_runtime::io::Decode;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::query::{AggKind, Query};

/// One record of a TOML pipeline: its fields as JSON values, and its event time.
///
/// Only TOML pipelines carry these; typed pipelines decode straight into the user's struct.
#[derive(Clone, Debug, PartialEq)]
pub struct DynRecord {
    /// The event time, read from the query's `time_field`.
    pub event_time: Timestamp,
    /// Every field of the record, the time field included.
    pub fields: Map<String, Value>,
}

impl DynRecord {
    /// The number in field `name`, if it holds one.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.fields.get(name).and_then(Value::as_f64)
    }

    /// Field `name` as text: a string as it is, anything else as JSON (`7`, `true`, `null`);
    /// a missing field as `null`.
    pub fn text(&self, name: &str) -> String {
        match self.fields.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "null".into(),
        }
    }
}

impl Serialize for DynRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.fields.serialize(s)
    }
}

/// Dynamic records are decoded by [`DynDecode`], which knows the query; serde alone cannot
/// know which field holds the event time.
impl<'de> Deserialize<'de> for DynRecord {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "a TOML pipeline's records are decoded by its query (`DynDecode`), not by serde",
        ))
    }
}

#[diagnostic::do_not_recommend]
impl Record for DynRecord {
    const NAME: &'static str = "DynRecord";
    const FIELDS: &'static [FieldInfo] = &[];
    fn arrow_fields() -> Fields {
        Fields::empty()
    }
    fn partition_value(&self, column: &str) -> Option<String> {
        self.fields.get(column).map(|_| self.text(column))
    }
}

// Not offered as a fix when a user's own type is not an event.
#[diagnostic::do_not_recommend]
impl pulse_runtime::Event for DynRecord {
    const EVENT_TIME_FIELD: &'static str = "event_time";
    fn event_time(&self) -> Timestamp {
        self.event_time
    }
}

/// Decodes JSON lines and CSV rows into [`DynRecord`]s for one query: the time field must hold
/// an RFC 3339 date-time or epoch milliseconds, the `count_by` field must be there, and the
/// `agg_field` of `sum`, `avg`, `min` and `max` must hold a number. Anything else is a bad
/// record, under the source's policy.
#[derive(Clone, Debug)]
pub struct DynDecode(pub Arc<Query>);

type Bad = (Option<String>, String);

impl DynDecode {
    fn check(&self, fields: Map<String, Value>) -> Result<DynRecord, Bad> {
        let q = &self.0;
        let tf = &q.time_field;
        let event_time = match fields.get(tf) {
            None => return Err((Some(tf.clone()), "missing: it holds the event time".into())),
            Some(v) => time_of(v).ok_or_else(|| {
                (
                    Some(tf.clone()),
                    format!("expected an RFC 3339 date-time or epoch milliseconds, found `{v}`"),
                )
            })?,
        };
        if let Some(k) = &q.key
            && !fields.contains_key(k)
        {
            return Err((Some(k.clone()), "missing: it is the `count_by` key".into()));
        }
        if let Some(f) = &q.agg_field {
            match fields.get(f) {
                None => {
                    return Err((
                        Some(f.clone()),
                        format!("missing: it is the `agg_field` of `{}`", q.agg.name()),
                    ));
                }
                Some(v) if q.agg != AggKind::Distinct && !v.is_number() => {
                    return Err((
                        Some(f.clone()),
                        format!("expected a number for `{}`, found `{v}`", q.agg.name()),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(DynRecord { event_time, fields })
    }
}

impl Decode<DynRecord> for DynDecode {
    fn json(&self, text: &str) -> Result<DynRecord, Bad> {
        let fields: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| (None, pulse_runtime::io::json_message(&e)))?;
        self.check(fields)
    }

    fn csv(
        &self,
        record: &csv::StringRecord,
        headers: &csv::StringRecord,
    ) -> Result<DynRecord, Bad> {
        let fields = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), cell(v)))
            .collect();
        self.check(fields)
    }
}

/// A CSV cell as the JSON value it reads as: an integer, a finite float, or text.
fn cell(v: &str) -> Value {
    if let Ok(i) = v.parse::<i64>() {
        return i.into();
    }
    if let Ok(u) = v.parse::<u64>() {
        return u.into();
    }
    if let Some(n) = v
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        && v.bytes().any(|b| b.is_ascii_digit())
    {
        return Value::Number(n);
    }
    Value::String(v.to_string())
}

/// An RFC 3339 string, or an integer of epoch milliseconds (a CSV cell of digits reads as one).
fn time_of(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Timestamp::from_millis(t.timestamp_millis())),
        Value::Number(n) => n.as_i64().map(Timestamp::from_millis),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_numbers_or_text() {
        assert_eq!(cell("7"), Value::from(7));
        assert_eq!(cell("-2.5"), Value::from(-2.5));
        assert_eq!(cell("18446744073709551615"), Value::from(u64::MAX));
        assert_eq!(cell("NaN"), Value::from("NaN"));
        assert_eq!(cell("inf"), Value::from("inf"));
        assert_eq!(cell("abc"), Value::from("abc"));
        assert_eq!(cell(""), Value::from(""));
    }

    #[test]
    fn times_are_rfc3339_or_epoch_ms() {
        let t = |v: Value| time_of(&v).map(|t| t.millis());
        assert_eq!(t("1970-01-01T00:00:01.500Z".into()), Some(1500));
        assert_eq!(t("1970-01-01T01:00:00+01:00".into()), Some(0));
        assert_eq!(t(1234.into()), Some(1234));
        assert_eq!(t(1.5.into()), None);
        assert_eq!(t("yesterday".into()), None);
        assert_eq!(t(Value::Null), None);
    }
}
