//! The Arrow schema `#[derive(Event)]` and `#[derive(Record)]` produce, type by type.

use std::sync::Arc;

use pulse::Record as _;
use pulse::arrow_schema::{DataType, Field, Fields, TimeUnit};
use pulse::prelude::*;

#[derive(Record, Clone, Debug, Deserialize, Serialize)]
struct Point {
    x: f32,
    label: Option<String>,
}

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Row {
    ok: bool,
    small: i16,
    big: u64,
    ratio: f64,
    name: String,
    maybe: Option<i32>,
    tags: Vec<String>,
    #[event(rename = "where")]
    at: Point,
    #[event_time]
    ts: DateTime<Utc>,
    seen: Timestamp,
}

#[test]
fn every_supported_type_maps_to_its_arrow_type() {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let point = DataType::Struct(Fields::from(vec![
        Field::new("x", DataType::Float32, false),
        Field::new("label", DataType::Utf8, true),
    ]));
    let want = vec![
        Field::new("ok", DataType::Boolean, false),
        Field::new("small", DataType::Int16, false),
        Field::new("big", DataType::UInt64, false),
        Field::new("ratio", DataType::Float64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("maybe", DataType::Int32, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, false))),
            false,
        ),
        Field::new("where", point, false),
        Field::new("ts", ts.clone(), false),
        Field::new("seen", ts, false),
    ];
    let got = Row::arrow_schema();
    assert_eq!(
        got.fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect::<Vec<_>>(),
        want
    );
    assert_eq!(<Row as pulse::Event>::EVENT_TIME_FIELD, "ts");
    assert_eq!(Row::FIELDS[7].name, "where");
    assert_eq!(Row::FIELDS[6].rust_type, "Vec<String>");
}
