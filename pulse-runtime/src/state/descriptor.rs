//! Typed state descriptors: a `const` per piece of keyed state a `process` function keeps.
//!
//! ```
//! use std::time::Duration;
//! use pulse_runtime::state::{ListState, MapState, ReducingState, Ttl, ValueState};
//!
//! const LAST_SEEN: ValueState<i64> = ValueState::new("last_seen");
//! const RECENT: ListState<u64> = ListState::new("recent").with_ttl(Ttl::after_write(Duration::from_secs(60)));
//! const BY_PAGE: MapState<String, u32> = MapState::new("by_page");
//! const TOTAL: ReducingState<u64> = ReducingState::new("total", |acc, x| *acc += x);
//! ```

use std::marker::PhantomData;
use std::time::Duration;

/// How long state lives after it was last written (or read), in processing time.
///
/// An expired value is never returned: reading it gives `None` (or an empty list/map) and
/// deletes it. Expired values that are not read are cleaned up at checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttl {
    pub(crate) ms: i64,
    pub(crate) refresh_on_read: bool,
}

impl Ttl {
    /// Expires `d` after the value was created or last written.
    pub const fn after_write(d: Duration) -> Ttl {
        Ttl {
            ms: d.as_millis() as i64,
            refresh_on_read: false,
        }
    }
    /// Expires `d` after the value was last written or read.
    pub const fn after_access(d: Duration) -> Ttl {
        Ttl {
            ms: d.as_millis() as i64,
            refresh_on_read: true,
        }
    }
}

/// What every state descriptor has: a name unique within its operator, and a TTL.
pub trait StateDescriptor {
    /// The name the state is stored under.
    fn name(&self) -> &'static str;
    /// The time to live, if any.
    fn ttl(&self) -> Option<Ttl>;
}

macro_rules! descriptor {
    ($(#[$doc:meta])* $name:ident<$($p:ident),*>) => {
        $(#[$doc])*
        pub struct $name<$($p),*> {
            name: &'static str,
            ttl: Option<Ttl>,
            _t: PhantomData<fn() -> ($($p,)*)>,
        }

        impl<$($p),*> $name<$($p),*> {
            /// A descriptor for state stored under `name` (unique within the operator).
            pub const fn new(name: &'static str) -> Self {
                assert!(!name.is_empty(), "state names must not be empty");
                $name { name, ttl: None, _t: PhantomData }
            }
            /// The same state, expiring after `ttl`.
            pub const fn with_ttl(mut self, ttl: Ttl) -> Self {
                self.ttl = Some(ttl);
                self
            }
        }

        impl<$($p),*> StateDescriptor for $name<$($p),*> {
            fn name(&self) -> &'static str {
                self.name
            }
            fn ttl(&self) -> Option<Ttl> {
                self.ttl
            }
        }
    };
}

descriptor! {
    /// One value per key.
    ValueState<T>
}
descriptor! {
    /// A list per key: append and read in order.
    ListState<T>
}
descriptor! {
    /// A map per key, ordered by its keys.
    MapState<K, V>
}

/// One value per key, folded from everything added with a reduce function.
pub struct ReducingState<T> {
    name: &'static str,
    ttl: Option<Ttl>,
    pub(crate) reduce: fn(&mut T, T),
}

impl<T> ReducingState<T> {
    /// A descriptor for state under `name` that folds added values with `reduce`.
    pub const fn new(name: &'static str, reduce: fn(&mut T, T)) -> Self {
        assert!(!name.is_empty(), "state names must not be empty");
        ReducingState {
            name,
            ttl: None,
            reduce,
        }
    }
    /// The same state, expiring after `ttl`.
    pub const fn with_ttl(mut self, ttl: Ttl) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl<T> StateDescriptor for ReducingState<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn ttl(&self) -> Option<Ttl> {
        self.ttl
    }
}

/// One accumulator per key, fed by an [`Aggregate`](crate::aggregate::Aggregate).
pub struct AggregatingState<T, A> {
    name: &'static str,
    ttl: Option<Ttl>,
    pub(crate) agg: A,
    _t: PhantomData<fn(T)>,
}

impl<T, A> AggregatingState<T, A> {
    /// A descriptor for state under `name` that accumulates with `agg`.
    pub const fn new(name: &'static str, agg: A) -> Self {
        assert!(!name.is_empty(), "state names must not be empty");
        AggregatingState {
            name,
            ttl: None,
            agg,
            _t: PhantomData,
        }
    }
    /// The same state, expiring after `ttl`.
    pub const fn with_ttl(mut self, ttl: Ttl) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl<T, A> StateDescriptor for AggregatingState<T, A> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn ttl(&self) -> Option<Ttl> {
        self.ttl
    }
}
