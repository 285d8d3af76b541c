use pulse::prelude::*;

#[derive(Record, Clone, Debug, Deserialize, Serialize)]
struct Location {
    lat: f64,
    lon: f64,
}

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Everything {
    flag: bool,
    a: i8,
    b: i16,
    c: i32,
    d: i64,
    e: u8,
    f: u16,
    g: u32,
    h: u64,
    x: f32,
    y: f64,
    name: String,
    maybe: Option<u32>,
    tags: Vec<String>,
    matrix: Vec<Vec<i64>>,
    place: Location,
    places: Vec<Location>,
    when: DateTime<Utc>,
    #[serde(rename = "kind")]
    kind_: String,
    #[event(rename = "label")]
    #[serde(rename = "tag")]
    tag: String,
    #[event(skip)]
    #[serde(skip)]
    cache: std::collections::HashMap<String, String>,
    #[event_time(epoch_s)]
    at: u32,
}

#[derive(Event, Clone, Debug, Deserialize, Serialize)]
struct Stamped {
    #[event_time]
    at: Timestamp,
}

fn main() {
    let schema = Everything::arrow_schema();
    assert_eq!(schema.fields().len(), 21);
    assert!(schema.field_with_name("kind").is_ok());
    assert!(schema.field_with_name("label").is_ok());
    assert!(schema.field_with_name("cache").is_err());
    assert!(schema.field_with_name("maybe").unwrap().is_nullable());
    assert_eq!(<Everything as pulse::Event>::EVENT_TIME_FIELD, "at");
    assert_eq!(Stamped::arrow_schema().fields().len(), 1);
}
