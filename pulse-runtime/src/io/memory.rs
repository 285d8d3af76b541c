//! Events from memory: pre-made batches handed to the graph as they are.

use std::any::Any;
use std::collections::VecDeque;

use super::{Source, SourceStats};
use crate::error::Result;

/// A source over batches of events already in memory, one batch per read.
pub struct MemorySource<T> {
    name: String,
    batches: VecDeque<Vec<T>>,
    stats: SourceStats,
}

impl<T> MemorySource<T> {
    /// A source named `name` that yields `batches` in order.
    pub fn new(name: impl Into<String>, batches: impl IntoIterator<Item = Vec<T>>) -> Self {
        MemorySource {
            name: name.into(),
            batches: batches.into_iter().collect(),
            stats: SourceStats::default(),
        }
    }
}

impl<T: 'static> Source for MemorySource<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn new_batch(&self) -> Box<dyn Any> {
        Box::new(Vec::<T>::new())
    }

    /// Appends the next whole batch, whatever `max` is.
    fn read_batch(&mut self, batch: &mut dyn Any, _max: usize) -> Result<bool> {
        let batch = super::typed::<T>(batch);
        if let Some(mut next) = self.batches.pop_front() {
            self.stats.records += next.len() as u64;
            if batch.is_empty() {
                *batch = next;
            } else {
                batch.append(&mut next);
            }
        }
        Ok(!self.batches.is_empty())
    }

    fn stats(&self) -> SourceStats {
        self.stats.clone()
    }
}
