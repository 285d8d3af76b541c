//! The operators' dynamic parts: the window the TOML chose, the aggregate over a named field,
//! filters, and the rows a TOML pipeline writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use pulse_runtime::Timestamp;
use pulse_runtime::aggregate::Aggregate;
use pulse_runtime::arrow_schema::DataType;
use pulse_runtime::columnar::{ArrayRef, ArrowField, ColumnBuilder, ColumnReader};
use pulse_runtime::window::{Session, Sliding, Tumbling, Window, WindowAssigner};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::query::AggKind;
use super::record::DynRecord;

/// The `[window]` of a TOML pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynWindow {
    /// `type = "tumbling"`.
    Tumbling(Tumbling),
    /// `type = "sliding"`.
    Sliding(Sliding),
    /// `type = "session"`.
    Session(Session),
}

impl WindowAssigner for DynWindow {
    fn assign(&self, ts: i64, f: impl FnMut(i64, i64)) {
        match self {
            DynWindow::Tumbling(w) => w.assign(ts, f),
            DynWindow::Sliding(w) => w.assign(ts, f),
            DynWindow::Session(w) => w.assign(ts, f),
        }
    }
    fn same_windows(&self, ts: i64) -> (i64, i64) {
        match self {
            DynWindow::Tumbling(w) => w.same_windows(ts),
            DynWindow::Sliding(w) => w.same_windows(ts),
            DynWindow::Session(w) => w.same_windows(ts),
        }
    }
    fn session_gap(&self) -> Option<i64> {
        match self {
            DynWindow::Session(w) => w.session_gap(),
            _ => None,
        }
    }
    fn describe(&self) -> String {
        match self {
            DynWindow::Tumbling(w) => w.describe(),
            DynWindow::Sliding(w) => w.describe(),
            DynWindow::Session(w) => w.describe(),
        }
    }
}

/// `agg` over `agg_field`.
#[derive(Clone, Debug)]
pub struct DynAgg {
    /// Which aggregate.
    pub kind: AggKind,
    /// The field it reads (none for `count`).
    pub field: Arc<str>,
}

/// The running state of a [`DynAgg`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DynAcc {
    /// Elements so far.
    Count(u64),
    /// The sum so far.
    Sum(f64),
    /// The sum and count so far.
    Avg(f64, u64),
    /// The least value so far.
    Min(Option<f64>),
    /// The greatest value so far.
    Max(Option<f64>),
    /// The distinct values so far, as JSON text.
    Distinct(BTreeSet<String>),
}

/// A window's value: an integer (`count`, `distinct`) or a float (`sum`, `avg`, `min`, `max`).
///
/// JSON lines and CSV write it as the number it is; Parquet writes a `Float64` column for
/// every aggregate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    /// A count.
    Int(u64),
    /// A sum, mean or extreme.
    Float(f64),
}

impl Num {
    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(n) => n as f64,
            Num::Float(f) => f,
        }
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Num::Int(n) => s.serialize_u64(n),
            Num::Float(f) => s.serialize_f64(f),
        }
    }
}

impl Aggregate<DynRecord> for DynAgg {
    type Acc = DynAcc;
    type Out = Num;

    fn init(&self) -> DynAcc {
        match self.kind {
            AggKind::Count => DynAcc::Count(0),
            AggKind::Sum => DynAcc::Sum(0.0),
            AggKind::Avg => DynAcc::Avg(0.0, 0),
            AggKind::Min => DynAcc::Min(None),
            AggKind::Max => DynAcc::Max(None),
            AggKind::Distinct => DynAcc::Distinct(BTreeSet::new()),
        }
    }

    fn add(&self, acc: &mut DynAcc, x: &DynRecord, _ts: i64) {
        // The decoder let through only records whose field holds a number (or, for
        // `distinct`, anything).
        let v = || x.number(&self.field).unwrap_or(0.0);
        match acc {
            DynAcc::Count(n) => *n += 1,
            DynAcc::Sum(s) => *s += v(),
            DynAcc::Avg(s, n) => {
                *s += v();
                *n += 1;
            }
            DynAcc::Min(m) => *m = Some(m.map_or(v(), |m| m.min(v()))),
            DynAcc::Max(m) => *m = Some(m.map_or(v(), |m| m.max(v()))),
            DynAcc::Distinct(set) => {
                if let Some(f) = x.fields.get(&*self.field) {
                    set.insert(f.to_string());
                }
            }
        }
    }

    fn merge(&self, acc: &mut DynAcc, other: DynAcc) {
        match (acc, other) {
            (DynAcc::Count(a), DynAcc::Count(b)) => *a += b,
            (DynAcc::Sum(a), DynAcc::Sum(b)) => *a += b,
            (DynAcc::Avg(s, n), DynAcc::Avg(s2, n2)) => {
                *s += s2;
                *n += n2;
            }
            (DynAcc::Min(a), DynAcc::Min(b)) => *a = min_opt(*a, b, f64::min),
            (DynAcc::Max(a), DynAcc::Max(b)) => *a = min_opt(*a, b, f64::max),
            (DynAcc::Distinct(a), DynAcc::Distinct(b)) => a.extend(b),
            (a, b) => unreachable!("one aggregate's states differ: {a:?} and {b:?}"),
        }
    }

    fn result(&self, acc: &DynAcc) -> Num {
        match acc {
            DynAcc::Count(n) => Num::Int(*n),
            DynAcc::Sum(s) => Num::Float(*s),
            DynAcc::Avg(s, n) => Num::Float(if *n == 0 { 0.0 } else { s / *n as f64 }),
            DynAcc::Min(m) | DynAcc::Max(m) => Num::Float(m.unwrap_or(f64::NAN)),
            DynAcc::Distinct(set) => Num::Int(set.len() as u64),
        }
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// A comparison in `filter`: `FIELD OP VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// The field compared.
    pub field: String,
    /// `==`, `!=`, `<`, `<=`, `>` or `>=`.
    pub op: &'static str,
    /// A JSON literal.
    pub value: Value,
}

/// The comparison operators of a filter, longest first.
pub const FILTER_OPS: [&str; 6] = ["==", "!=", "<=", ">=", "<", ">"];

impl Filter {
    /// Parses `FIELD OP VALUE`; `None` if it is not of that form.
    pub fn parse(s: &str) -> Option<Filter> {
        let (at, op) = FILTER_OPS
            .iter()
            .filter_map(|op| s.find(op).map(|i| (i, *op)))
            .min_by_key(|(i, op)| (*i, std::cmp::Reverse(op.len())))?;
        let field = s[..at].trim();
        let value = serde_json::from_str(s[at + op.len()..].trim()).ok()?;
        let ok = !field.is_empty()
            && field
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
        ok.then(|| Filter {
            field: field.into(),
            op,
            value,
        })
    }

    /// Whether `r` passes: numbers compare as numbers, strings as strings; a missing field or
    /// values of different kinds pass only `!=`.
    pub fn keeps(&self, r: &DynRecord) -> bool {
        use std::cmp::Ordering;
        let ord = match (r.fields.get(&self.field), &self.value) {
            (Some(Value::Number(a)), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
            (Some(Value::String(a)), Value::String(b)) => Some(a.cmp(b)),
            (Some(a), b) if a == b => Some(Ordering::Equal),
            _ => None,
        };
        match (self.op, ord) {
            ("!=", o) => o != Some(Ordering::Equal),
            (_, None) => false,
            ("==", Some(o)) => o == Ordering::Equal,
            ("<", Some(o)) => o == Ordering::Less,
            ("<=", Some(o)) => o != Ordering::Greater,
            (">", Some(o)) => o == Ordering::Greater,
            (">=", Some(o)) => o != Ordering::Less,
            _ => false,
        }
    }
}

/// One window's result, as a TOML pipeline writes it.
#[derive(crate::Record, Clone, Debug, PartialEq, Serialize)]
pub struct WindowRow {
    /// The `count_by` field's value, as text.
    pub key: String,
    /// The window's first instant.
    pub window_start: Timestamp,
    /// The first instant after the window.
    pub window_end: Timestamp,
    /// The aggregate.
    pub value: Num,
}

impl From<Window<String, Num>> for WindowRow {
    fn from(w: Window<String, Num>) -> Self {
        WindowRow {
            key: w.key,
            window_start: w.start,
            window_end: w.end,
            value: w.value,
        }
    }
}

/// A record a TOML pipeline without `count_by` writes: JSON lines get the (selected) fields;
/// Parquet gets `event_time` and the fields as one JSON text column, `payload`.
#[derive(crate::Record, Clone, Debug, PartialEq)]
pub struct Selected {
    /// The record's event time.
    pub event_time: Timestamp,
    /// The fields, as a JSON object.
    pub payload: String,
    /// The fields.
    #[event(skip)]
    pub fields: Map<String, Value>,
}

impl Selected {
    /// `r` with only the fields in `select` (all of them if it is empty).
    pub fn of(r: DynRecord, select: &[String]) -> Selected {
        let fields: Map<String, Value> = if select.is_empty() {
            r.fields
        } else {
            let mut f = r.fields;
            select.iter().filter_map(|k| f.remove_entry(k)).collect()
        };
        Selected {
            event_time: r.event_time,
            payload: Value::Object(fields.clone()).to_string(),
            fields,
        }
    }
}

impl Serialize for Selected {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.fields.serialize(s)
    }
}

/// Builds the `Float64` column of [`Num`]s.
pub struct NumColumn(<f64 as ArrowField>::Builder);

impl ColumnBuilder<Num> for NumColumn {
    fn with_capacity(n: usize) -> Self {
        NumColumn(ColumnBuilder::<f64>::with_capacity(n))
    }
    fn append(&mut self, v: &Num) {
        self.0.append(&v.as_f64())
    }
    fn append_null(&mut self) {
        self.0.append_null()
    }
    fn finish(&mut self) -> ArrayRef {
        self.0.finish()
    }
}

/// Reads a `Float64` column back as [`Num`]s.
pub struct NumReader(<f64 as ArrowField>::Reader);

impl ColumnReader<Num> for NumReader {
    fn new(array: &ArrayRef, path: &str) -> pulse_runtime::Result<Self> {
        Ok(NumReader(ColumnReader::<f64>::new(array, path)?))
    }
    fn read(&self, i: usize) -> Num {
        Num::Float(self.0.read(i))
    }
    fn is_null(&self, i: usize) -> bool {
        self.0.is_null(i)
    }
}

#[diagnostic::do_not_recommend]
impl ArrowField for Num {
    fn data_type() -> DataType {
        DataType::Float64
    }
    type Builder = NumColumn;
    type Reader = NumReader;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: Value) -> DynRecord {
        DynRecord {
            event_time: Timestamp::from_millis(0),
            fields: v.as_object().cloned().unwrap(),
        }
    }

    #[test]
    fn filters_parse_and_compare() {
        let f = Filter::parse("value >= 3").unwrap();
        assert_eq!((f.field.as_str(), f.op), ("value", ">="));
        assert!(f.keeps(&rec(serde_json::json!({"value": 3}))));
        assert!(f.keeps(&rec(serde_json::json!({"value": 3.5}))));
        assert!(!f.keeps(&rec(serde_json::json!({"value": 2}))));
        assert!(
            !f.keeps(&rec(serde_json::json!({"value": "9"}))),
            "kinds differ"
        );
        assert!(!f.keeps(&rec(serde_json::json!({}))), "missing");
        let ne = Filter::parse(r#"word != "the""#).unwrap();
        assert!(ne.keeps(&rec(serde_json::json!({"word": "a"}))));
        assert!(!ne.keeps(&rec(serde_json::json!({"word": "the"}))));
        assert!(ne.keeps(&rec(serde_json::json!({}))), "missing passes !=");
        assert_eq!(Filter::parse("a<-1").unwrap().op, "<");
        assert_eq!(Filter::parse("value > three"), None, "not a JSON literal");
        assert_eq!(Filter::parse("value"), None);
        assert_eq!(Filter::parse(" == 3"), None);
    }

    #[test]
    fn aggregates_add_merge_and_result() {
        let agg = |kind| DynAgg {
            kind,
            field: "v".into(),
        };
        let xs = [1.0, 4.0, 2.5].map(|v| rec(serde_json::json!({ "v": v })));
        let run = |a: &DynAgg| {
            let (mut l, mut r) = (a.init(), a.init());
            a.add(&mut l, &xs[0], 0);
            a.add(&mut r, &xs[1], 0);
            a.add(&mut r, &xs[2], 0);
            a.merge(&mut l, r);
            a.result(&l)
        };
        assert_eq!(run(&agg(AggKind::Count)), Num::Int(3));
        assert_eq!(run(&agg(AggKind::Sum)), Num::Float(7.5));
        assert_eq!(run(&agg(AggKind::Avg)), Num::Float(2.5));
        assert_eq!(run(&agg(AggKind::Min)), Num::Float(1.0));
        assert_eq!(run(&agg(AggKind::Max)), Num::Float(4.0));
        assert_eq!(run(&agg(AggKind::Distinct)), Num::Int(3));
    }
}
