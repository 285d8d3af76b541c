//! Per-user click sessions: session windows that close after 30 minutes of inactivity.

use pulse::prelude::*;
use pulse::{Distinct, First, Last};

/// A page view.
#[derive(Event, Clone, Debug, Deserialize, Serialize)]
pub struct Click {
    /// Who clicked.
    pub user: String,
    /// Which page.
    pub page: String,
    /// When, in epoch milliseconds.
    #[event_time(epoch_ms)]
    pub ts: i64,
}

/// One user's session.
#[derive(Record, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserSession {
    /// The user.
    pub user: String,
    /// The first click.
    pub start: Timestamp,
    /// Thirty minutes after the last click.
    pub end: Timestamp,
    /// Clicks in the session.
    pub clicks: u64,
    /// Distinct pages viewed.
    pub pages: u64,
    /// The first page viewed.
    pub entry_page: String,
    /// The last page viewed.
    pub exit_page: String,
}

/// Groups clicks into per-user sessions.
#[pipeline]
pub fn click_sessions(clicks: Stream<Click>) -> Stream<UserSession> {
    clicks
        .watermark(BoundedOutOfOrderness::secs(30))
        .key_by(|c| c.user.clone())
        .window(Session::minutes(30))
        .aggregate((
            Count,
            Distinct(|c: &Click| c.page.clone()),
            First(|c: &Click| c.page.clone()),
            Last(|c: &Click| c.page.clone()),
        ))
        .map(|w| UserSession {
            user: w.key,
            start: w.start,
            end: w.end,
            clicks: w.value.0,
            pages: w.value.1,
            entry_page: w.value.2,
            exit_page: w.value.3,
        })
}
