//! test support crate (empty)
