//! What may live in operator state: keys and values that checkpoints can serialize.

use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value that can be kept in state: checkpoints serialize it with a compact binary format.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be kept in operator state",
    label = "state must be serializable for checkpoints",
    note = "derive `serde::Serialize` and `serde::Deserialize` for `{Self}`"
)]
pub trait StateValue: Serialize + DeserializeOwned + 'static {}
impl<T: Serialize + DeserializeOwned + 'static> StateValue for T {}

/// A key of a keyed stream.
///
/// Keys are hashed to find their state, ordered so that results fire in a deterministic order,
/// and serialized into checkpoints.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a key",
    label = "returned by this `key_by`",
    note = "keys must be `Clone + Eq + Hash + Ord + Serialize + Deserialize`: integers, `String`, `bool`, or tuples of them"
)]
pub trait Key: Clone + Eq + Hash + Ord + StateValue {}
impl<K: Clone + Eq + Hash + Ord + StateValue> Key for K {}

mod descriptor;
mod table;
mod timers;

pub use descriptor::{
    AggregatingState, ListState, MapState, ReducingState, StateDescriptor, Ttl, ValueState,
};
pub use table::{Backing, StateTable};
pub use timers::{TimeDomain, Timer, Timers};

/// State as bytes: postcard, the format of every checkpoint.
pub(crate) fn encode<T: serde::Serialize>(v: &T) -> crate::error::Result<Option<Vec<u8>>> {
    postcard::to_stdvec(v)
        .map(Some)
        .map_err(|e| crate::Error::State {
            operator: String::new(),
            message: e.to_string(),
        })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> crate::error::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| crate::Error::State {
        operator: String::new(),
        message: format!("cannot decode saved state: {e}"),
    })
}

/// A short, readable form of a type name: `alloc::string::String` becomes `String`.
pub fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut word = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(word.rsplit("::").next().unwrap_or(&word));
    out
}

#[cfg(test)]
mod name_tests {
    #[test]
    fn short_type_names_drop_paths() {
        assert_eq!(
            super::short_type_name(std::any::type_name::<(String, Vec<Option<u64>>)>()),
            "(String, Vec<Option<u64>>)"
        );
    }
}
