//! Columnar rows: typed Arrow builders and readers per field type, composed by the derives.
//!
//! `#[derive(Record)]` emits one builder struct and one reader struct per record type, whose
//! fields are the builders/readers of the field types; no `serde_json::Value`, no per-row
//! allocation beyond the field data.

mod builder;
mod reader;
mod record;

pub use builder::{
    AsMillis, EnumColumn, ListBuilder, Nullable, PrimBuilder, StringColumn, TimestampColumn,
    UnitEnum,
};
pub use reader::{
    EnumReader, FromMillis, ListReader, NullableReader, PrimReader, StringReader, TimestampReader,
};

/// A finished Arrow column, what a [`ColumnBuilder`] makes and a [`ColumnReader`] reads.
pub use arrow_array::ArrayRef;
use arrow_array::{Array, RecordBatch, StructArray};

use crate::error::{Error, Result};
pub use record::{ArrowField, FieldInfo, Record};

/// Appends values of `T` to one Arrow column.
pub trait ColumnBuilder<T: ?Sized> {
    /// An empty builder with room for `capacity` values.
    fn with_capacity(capacity: usize) -> Self;
    /// Appends one value.
    fn append(&mut self, v: &T);
    /// Appends a null (for nullable columns and null parents).
    fn append_null(&mut self);
    /// The column so far; the builder is empty afterwards.
    fn finish(&mut self) -> ArrayRef;
}

/// Reads values of `T` back from one Arrow column.
pub trait ColumnReader<T>: Sized {
    /// Checks `array`'s type against `T`'s and prepares to read; `path` names the column.
    fn new(array: &ArrayRef, path: &str) -> Result<Self>;
    /// The value at row `i`.
    fn read(&self, i: usize) -> T;
    /// Whether row `i` is null.
    fn is_null(&self, i: usize) -> bool;
}

/// Builds `RecordBatch`es of `T` row by row.
pub struct BatchBuilder<T: Record + ArrowField> {
    inner: T::Builder,
    rows: usize,
}

impl<T: Record + ArrowField> BatchBuilder<T> {
    /// A builder with room for `capacity` rows.
    pub fn with_capacity(capacity: usize) -> Self {
        BatchBuilder {
            inner: T::Builder::with_capacity(capacity),
            rows: 0,
        }
    }
    /// Appends one row.
    #[inline]
    pub fn append(&mut self, row: &T) {
        self.inner.append(row);
        self.rows += 1;
    }
    /// Rows appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }
    /// Whether no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
    /// The rows so far as a batch with `T`'s schema.
    pub fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        let array = self.inner.finish();
        let s = array
            .as_any()
            .downcast_ref::<StructArray>()
            .expect("records build struct arrays");
        RecordBatch::from(s.clone())
    }
}

/// Reads every row of `batch` as a `T`, after checking the batch's schema against `T`'s.
///
/// Columns are matched by name (extra columns are ignored); the first column that is missing or
/// of another type is named in the error.
pub fn read_batch<T: Record + ArrowField>(batch: &RecordBatch, out: &mut Vec<T>) -> Result<()> {
    let array: ArrayRef = std::sync::Arc::new(StructArray::from(batch.clone()));
    let reader = T::Reader::new(&array, "")?;
    out.reserve(batch.num_rows());
    for i in 0..batch.num_rows() {
        out.push(reader.read(i));
    }
    Ok(())
}

/// The column `name` of a struct array, or an error naming it.
pub fn struct_column(array: &ArrayRef, path: &str, name: &str, record: &str) -> Result<ArrayRef> {
    let s = array
        .as_any()
        .downcast_ref::<StructArray>()
        .ok_or_else(|| mismatch(path, &format!("a struct for `{record}`"), array.data_type()))?;
    let full = join(path, name);
    s.column_by_name(name).cloned().ok_or_else(|| {
        Error::Config(format!(
            "column `{full}` of `{record}` is missing from the file"
        ))
    })
}

/// Fails if `child` has a null where its parent row is valid: the Rust field is not an `Option`.
pub fn check_no_nulls(
    child: &ArrayRef,
    parent: &ArrayRef,
    path: &str,
    rust_type: &str,
) -> Result<()> {
    let Some(nulls) = child.nulls() else {
        return Ok(());
    };
    if let Some(i) = (0..child.len()).find(|&i| nulls.is_null(i) && !parent.is_null(i)) {
        return Err(Error::Config(format!(
            "column `{path}` has a null in row {i}, but the field is `{rust_type}`; make it `Option<{rust_type}>`"
        )));
    }
    Ok(())
}

/// `path.name`, or `name` at the top level.
pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

pub(crate) fn mismatch(path: &str, want: &str, got: &arrow_schema::DataType) -> Error {
    Error::Config(format!(
        "column `{path}`: the file has {got}, the type expects {want}"
    ))
}

#[cfg(test)]
mod tests;
