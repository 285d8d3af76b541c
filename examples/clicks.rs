//! Per-user click activity: session windows that close after 30 minutes of inactivity, and the
//! same idea with keyed state and timers (`idle_users`).

use pulse::prelude::*;
use pulse::{Context, Distinct, First, Last, ListState, ValueState};

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

/// A user who went quiet: no click for [`IDLE_MS`] after their last one.
#[derive(Record, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdleUser {
    /// The user.
    pub user: String,
    /// Their last click.
    pub last_click: Timestamp,
    /// Clicks since they last went idle.
    pub clicks: u64,
    /// Pages viewed since they last went idle, in order.
    pub pages: Vec<String>,
}

/// How long without a click before a user counts as idle: 30 minutes.
pub const IDLE_MS: i64 = 30 * 60 * 1000;

const CLICKS: ValueState<u64> = ValueState::new("clicks");
const PAGES: ListState<String> = ListState::new("pages");
const LAST_CLICK: ValueState<i64> = ValueState::new("last_click");

/// Reports each user who goes idle, with what they did since they were last idle: keyed state
/// and an event-time timer per user, re-armed by every click.
#[pipeline]
pub fn idle_users(clicks: Stream<Click>) -> Stream<IdleUser> {
    clicks
        .watermark(BoundedOutOfOrderness::secs(30))
        .key_by(|c| c.user.clone())
        .process(|ctx: &mut Context<'_, String, (), IdleUser>, c: Click| {
            let n = ctx.value(&CLICKS).unwrap_or(0);
            ctx.set_value(&CLICKS, n + 1);
            ctx.append(&PAGES, c.page);
            let last = ctx.value(&LAST_CLICK).map_or(c.ts, |l| l.max(c.ts));
            ctx.set_value(&LAST_CLICK, last);
            ctx.set_event_timer(Timestamp::from_millis(last + IDLE_MS));
        })
        .on_timer(|ctx, timer| {
            // Every click set a timer; only the one after the latest click means idle.
            let Some(last) = ctx.value(&LAST_CLICK) else {
                return;
            };
            if last + IDLE_MS != timer.time.millis() {
                return;
            }
            let idle = IdleUser {
                user: ctx.key().clone(),
                last_click: Timestamp::from_millis(last),
                clicks: ctx.value(&CLICKS).unwrap_or(0),
                pages: ctx.list(&PAGES),
            };
            ctx.clear_state(&CLICKS);
            ctx.clear_state(&PAGES);
            ctx.clear_state(&LAST_CLICK);
            ctx.emit(idle);
        })
}
