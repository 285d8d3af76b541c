//! Sensor averages on sliding windows, with allowed lateness and a late-data side output.

use std::time::Duration;

use pulse::prelude::*;
use pulse::{Avg, Max};

/// A temperature reading.
#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Reading {
    /// The sensor's id.
    pub sensor: String,
    /// Degrees Celsius.
    pub celsius: f64,
    /// When it was measured.
    #[event_time]
    pub at: DateTime<Utc>,
}

/// One sensor's statistics over one window.
#[derive(Record, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorAverage {
    /// The sensor's id.
    pub sensor: String,
    /// The window's first instant.
    pub window_start: Timestamp,
    /// The window's end (exclusive).
    pub window_end: Timestamp,
    /// Readings in the window.
    pub readings: u64,
    /// Mean temperature.
    pub avg_celsius: f64,
    /// Highest temperature.
    pub max_celsius: f64,
}

/// One-minute averages every 30 seconds; readings up to 10 s behind the watermark still count
/// (and re-emit their windows); later ones go to the `late` output.
#[pipeline]
pub fn sensor_averages(readings: Stream<Reading>) -> (Stream<SensorAverage>, Stream<Reading>) {
    let windows = readings
        .filter(|r| r.celsius.is_finite())
        .watermark(BoundedOutOfOrderness::secs(5))
        .key_by(|r| r.sensor.clone())
        .window(Sliding::secs(60, 30))
        .allowed_lateness(Duration::from_secs(10))
        .aggregate((
            Count,
            Avg(|r: &Reading| r.celsius),
            Max(|r: &Reading| r.celsius),
        ));
    let late = windows.late();
    let averages = windows.map(|w| SensorAverage {
        sensor: w.key,
        window_start: w.start,
        window_end: w.end,
        readings: w.value.0,
        avg_celsius: (w.value.1 * 100.0).round() / 100.0,
        max_celsius: w.value.2,
    });
    (averages, late)
}
