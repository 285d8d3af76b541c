//! Windows: assigners (tumbling, sliding, session) and the typed result a window emits.

mod assigner;
mod result;

pub use assigner::{Session, Sliding, Tumbling, WindowAssigner};
pub use result::Window;
