//! Column builders for the scalar, string, timestamp, optional and list types.

use std::marker::PhantomData;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, PrimitiveBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{ArrayRef, ListArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::Field;
use chrono::{DateTime, Utc};

use super::ArrowField;
use super::ColumnBuilder;
use crate::time::Timestamp;

/// Builds a primitive column (integers, floats).
pub struct PrimBuilder<A: ArrowPrimitiveType>(PrimitiveBuilder<A>);

/// Builds a boolean or any primitive column from native values.
macro_rules! prim_builder {
    ($($t:ty => $a:ty),*) => {$(
        impl ColumnBuilder<$t> for PrimBuilder<$a> {
            fn with_capacity(n: usize) -> Self { PrimBuilder(PrimitiveBuilder::with_capacity(n)) }
            #[inline(always)]
            fn append(&mut self, v: &$t) { self.0.append_value(*v) }
            fn append_null(&mut self) { self.0.append_null() }
            fn finish(&mut self) -> ArrayRef { Arc::new(self.0.finish()) }
        }
    )*};
}
use arrow_array::types::*;
prim_builder!(i8 => Int8Type, i16 => Int16Type, i32 => Int32Type, i64 => Int64Type,
    u8 => UInt8Type, u16 => UInt16Type, u32 => UInt32Type, u64 => UInt64Type,
    f32 => Float32Type, f64 => Float64Type);

impl ColumnBuilder<bool> for BooleanBuilder {
    fn with_capacity(n: usize) -> Self {
        BooleanBuilder::with_capacity(n)
    }
    #[inline(always)]
    fn append(&mut self, v: &bool) {
        self.append_value(*v)
    }
    fn append_null(&mut self) {
        BooleanBuilder::append_null(self)
    }
    fn finish(&mut self) -> ArrayRef {
        Arc::new(BooleanBuilder::finish(self))
    }
}

/// Builds a UTF-8 column from any string-like type.
pub struct StringColumn<T: ?Sized>(StringBuilder, PhantomData<fn(&T)>);

impl<T: AsRef<str> + ?Sized> ColumnBuilder<T> for StringColumn<T> {
    fn with_capacity(n: usize) -> Self {
        StringColumn(StringBuilder::with_capacity(n, n * 8), PhantomData)
    }
    #[inline(always)]
    fn append(&mut self, v: &T) {
        self.0.append_value(v.as_ref())
    }
    fn append_null(&mut self) {
        self.0.append_null()
    }
    fn finish(&mut self) -> ArrayRef {
        Arc::new(self.0.finish())
    }
}

/// Builds a `timestamp(ms, "UTC")` column.
pub struct TimestampColumn<T>(TimestampMillisecondBuilder, PhantomData<fn(&T)>);

/// A value that is an instant in UTC.
pub trait AsMillis {
    /// Milliseconds since the epoch.
    fn as_millis(&self) -> i64;
}
impl AsMillis for Timestamp {
    fn as_millis(&self) -> i64 {
        self.millis()
    }
}
impl AsMillis for DateTime<Utc> {
    fn as_millis(&self) -> i64 {
        self.timestamp_millis()
    }
}

impl<T: AsMillis> ColumnBuilder<T> for TimestampColumn<T> {
    fn with_capacity(n: usize) -> Self {
        TimestampColumn(
            TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC"),
            PhantomData,
        )
    }
    #[inline(always)]
    fn append(&mut self, v: &T) {
        self.0.append_value(v.as_millis())
    }
    fn append_null(&mut self) {
        self.0.append_null()
    }
    fn finish(&mut self) -> ArrayRef {
        Arc::new(self.0.finish())
    }
}

/// Builds a nullable column of `T` from `Option<T>`.
pub struct Nullable<B>(pub B);

impl<T: ArrowField> ColumnBuilder<Option<T>> for Nullable<T::Builder> {
    fn with_capacity(n: usize) -> Self {
        Nullable(T::Builder::with_capacity(n))
    }
    #[inline(always)]
    fn append(&mut self, v: &Option<T>) {
        match v {
            Some(v) => self.0.append(v),
            None => self.0.append_null(),
        }
    }
    fn append_null(&mut self) {
        self.0.append_null()
    }
    fn finish(&mut self) -> ArrayRef {
        self.0.finish()
    }
}

/// Builds a list column from `Vec<T>`.
pub struct ListBuilder<T: ArrowField> {
    values: T::Builder,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl<T: ArrowField> ColumnBuilder<Vec<T>> for ListBuilder<T> {
    fn with_capacity(n: usize) -> Self {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        ListBuilder {
            values: T::Builder::with_capacity(n),
            offsets,
            nulls: NullBufferBuilder::new(n),
        }
    }
    #[inline]
    fn append(&mut self, v: &Vec<T>) {
        for x in v {
            self.values.append(x);
        }
        let last = *self.offsets.last().expect("offsets start at 0");
        self.offsets
            .push(last + i32::try_from(v.len()).expect("a list of at most 2^31 items"));
        self.nulls.append_non_null();
    }
    fn append_null(&mut self) {
        let last = *self.offsets.last().expect("offsets start at 0");
        self.offsets.push(last);
        self.nulls.append_null();
    }
    fn finish(&mut self) -> ArrayRef {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let field = Arc::new(Field::new_list_field(T::data_type(), T::NULLABLE));
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        Arc::new(ListArray::new(
            field,
            offsets,
            self.values.finish(),
            self.nulls.finish(),
        ))
    }
}

/// A fieldless enum stored as a dictionary-encoded string column (`#[derive(Record)]` on an enum).
pub trait UnitEnum: Sized + 'static {
    /// Variant names, in declaration order.
    const VARIANTS: &'static [&'static str];
    /// The index of this variant in [`VARIANTS`](Self::VARIANTS).
    fn index(&self) -> usize;
    /// The variant at `index`.
    fn from_index(index: usize) -> Self;
}

/// Builds a `dictionary(int32, utf8)` column of a unit enum.
pub struct EnumColumn<T> {
    keys: PrimitiveBuilder<Int32Type>,
    _t: PhantomData<fn(&T)>,
}

impl<T: UnitEnum> ColumnBuilder<T> for EnumColumn<T> {
    fn with_capacity(n: usize) -> Self {
        EnumColumn {
            keys: PrimitiveBuilder::with_capacity(n),
            _t: PhantomData,
        }
    }
    #[inline(always)]
    fn append(&mut self, v: &T) {
        self.keys.append_value(v.index() as i32)
    }
    fn append_null(&mut self) {
        self.keys.append_null()
    }
    fn finish(&mut self) -> ArrayRef {
        let values = Arc::new(arrow_array::StringArray::from(T::VARIANTS.to_vec()));
        Arc::new(
            arrow_array::DictionaryArray::<Int32Type>::try_new(self.keys.finish(), values)
                .expect("keys index the variants"),
        )
    }
}
