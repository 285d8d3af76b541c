//! Records and their fields: the Arrow schema of a row (`Record`, derived) and the Arrow column
//! type, builder and reader of each field type (`ArrowField`).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use chrono::{DateTime, Utc};

use crate::time::Timestamp;

/// One field of a record, as the derive saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    /// The column name (after renames).
    pub name: &'static str,
    /// The Rust type as written in the struct.
    pub rust_type: &'static str,
}

/// A typed row with an Arrow schema: output rows, nested structs and every [`Event`].
///
/// Implement it with `#[derive(Record)]` (or `#[derive(Event)]`, which implies it).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Pulse record",
    label = "this type has no derived schema",
    note = "add `#[derive(Record)]` to `{Self}` (or `#[derive(Event)]` if it has an event-time field)"
)]
pub trait Record: 'static {
    /// The type's name.
    const NAME: &'static str;
    /// The fields in declaration order.
    const FIELDS: &'static [FieldInfo];
    /// The Arrow fields the record maps to, in declaration order.
    fn arrow_fields() -> Fields;
    /// The Arrow schema of one row.
    fn arrow_schema() -> Schema {
        Schema::new(Self::arrow_fields())
    }
    /// The value of scalar column `column` as a partition directory value.
    fn partition_value(&self, column: &str) -> Option<String>;
}

/// A Rust type that maps to one Arrow column type.
#[diagnostic::on_unimplemented(
    message = "field type `{Self}` has no Arrow mapping",
    label = "no Arrow column type for this field",
    note = "supported: bool, integers, f32, f64, String, Option<T>, Vec<T>, chrono::DateTime<Utc>, pulse::Timestamp, and structs with `#[derive(Record)]`",
    note = "skip the field with `#[event(skip)]` if it should not be a column"
)]
pub trait ArrowField: Sized {
    /// The Arrow type of the column.
    fn data_type() -> DataType;
    /// Whether the column may hold nulls.
    const NULLABLE: bool = false;
    /// Appends values of this type to a column.
    type Builder: ColumnBuilder<Self>;
    /// Reads values of this type from a column.
    type Reader: ColumnReader<Self>;
    /// The value as a partition directory value (`field=value`), for scalar types.
    fn partition_value(&self) -> Option<String> {
        None
    }
}

macro_rules! arrow_prim {
    ($($t:ty => $dt:expr, $b:ty, $r:ty;)*) => {
        $(impl ArrowField for $t {
            fn data_type() -> DataType { $dt }
            type Builder = $b;
            type Reader = $r;
            fn partition_value(&self) -> Option<String> { Some(self.to_string()) }
        })*
    };
}

use super::*;
use arrow_array::types::*;

arrow_prim! {
    bool => DataType::Boolean, arrow_array::builder::BooleanBuilder, arrow_array::BooleanArray;
    i8 => DataType::Int8, PrimBuilder<Int8Type>, PrimReader<Int8Type>;
    i16 => DataType::Int16, PrimBuilder<Int16Type>, PrimReader<Int16Type>;
    i32 => DataType::Int32, PrimBuilder<Int32Type>, PrimReader<Int32Type>;
    i64 => DataType::Int64, PrimBuilder<Int64Type>, PrimReader<Int64Type>;
    u8 => DataType::UInt8, PrimBuilder<UInt8Type>, PrimReader<UInt8Type>;
    u16 => DataType::UInt16, PrimBuilder<UInt16Type>, PrimReader<UInt16Type>;
    u32 => DataType::UInt32, PrimBuilder<UInt32Type>, PrimReader<UInt32Type>;
    u64 => DataType::UInt64, PrimBuilder<UInt64Type>, PrimReader<UInt64Type>;
    f32 => DataType::Float32, PrimBuilder<Float32Type>, PrimReader<Float32Type>;
    f64 => DataType::Float64, PrimBuilder<Float64Type>, PrimReader<Float64Type>;
    String => DataType::Utf8, StringColumn<String>, StringReader<String>;
    Box<str> => DataType::Utf8, StringColumn<Box<str>>, StringReader<Box<str>>;
    Arc<str> => DataType::Utf8, StringColumn<Arc<str>>, StringReader<Arc<str>>;
}

impl ArrowField for DateTime<Utc> {
    fn data_type() -> DataType {
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    }
    type Builder = TimestampColumn<Self>;
    type Reader = TimestampReader<Self>;
    fn partition_value(&self) -> Option<String> {
        Some(Timestamp::from(*self).to_string())
    }
}

impl ArrowField for Timestamp {
    fn data_type() -> DataType {
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    }
    type Builder = TimestampColumn<Self>;
    type Reader = TimestampReader<Self>;
    fn partition_value(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl<T: ArrowField> ArrowField for Option<T> {
    fn data_type() -> DataType {
        T::data_type()
    }
    const NULLABLE: bool = true;
    type Builder = Nullable<T::Builder>;
    type Reader = NullableReader<T::Reader>;
    fn partition_value(&self) -> Option<String> {
        self.as_ref().and_then(ArrowField::partition_value)
    }
}

impl<T: ArrowField> ArrowField for Vec<T> {
    fn data_type() -> DataType {
        DataType::List(Arc::new(Field::new_list_field(T::data_type(), T::NULLABLE)))
    }
    type Builder = ListBuilder<T>;
    type Reader = ListReader<T>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_types_map_to_arrow() {
        assert_eq!(<Option<u32>>::data_type(), DataType::UInt32);
        const { assert!(<Option<u32> as ArrowField>::NULLABLE) };
        assert_eq!(
            <Vec<Option<String>>>::data_type(),
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
        );
    }
}
