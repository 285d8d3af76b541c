//! Word count over tumbling one-minute windows.

use pulse::prelude::*;

/// A line of text with the time it was written.
#[derive(Event, Clone, Debug, Deserialize, Serialize)]
pub struct Line {
    /// The text.
    pub text: String,
    /// When it was written.
    #[event_time]
    pub ts: DateTime<Utc>,
}

/// How often a word occurred in one window.
#[derive(Record, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WordCount {
    /// The word, lower-cased.
    pub word: String,
    /// The window's first instant.
    pub window_start: Timestamp,
    /// The window's end (exclusive).
    pub window_end: Timestamp,
    /// Occurrences in the window.
    pub count: u64,
}

/// Splits lines into words and counts each word per minute.
#[pipeline]
pub fn word_count(lines: Stream<Line>) -> Stream<WordCount> {
    lines
        .watermark(BoundedOutOfOrderness::secs(5))
        .flat_map(|l| {
            l.text
                .split(|c: char| !c.is_alphanumeric() && c != '\'')
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .key_by(|w| w.clone())
        .window(Tumbling::minutes(1))
        .aggregate(Count)
        .map(|w| WordCount {
            word: w.key,
            window_start: w.start,
            window_end: w.end,
            count: w.value,
        })
}
