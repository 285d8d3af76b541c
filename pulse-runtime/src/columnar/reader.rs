//! Column readers for the scalar, string, timestamp, optional and list types.

use std::marker::PhantomData;

use arrow_array::cast::AsArray;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, ArrayRef, BooleanArray, ListArray, PrimitiveArray, StringArray};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, TimeZone, Utc};

use super::ArrowField;
use super::{ColumnReader, mismatch};
use crate::error::Result;
use crate::time::Timestamp;

fn expect_type(array: &ArrayRef, path: &str, want: &DataType) -> Result<()> {
    if array.data_type() == want {
        Ok(())
    } else {
        Err(mismatch(path, &want.to_string(), array.data_type()))
    }
}

/// Reads a primitive column.
pub struct PrimReader<A: ArrowPrimitiveType>(PrimitiveArray<A>);

macro_rules! prim_reader {
    ($($t:ty => $a:ty),*) => {$(
        impl ColumnReader<$t> for PrimReader<$a> {
            fn new(array: &ArrayRef, path: &str) -> Result<Self> {
                expect_type(array, path, &<$t as ArrowField>::data_type())?;
                Ok(PrimReader(array.as_primitive::<$a>().clone()))
            }
            #[inline(always)]
            fn read(&self, i: usize) -> $t { self.0.value(i) }
            fn is_null(&self, i: usize) -> bool { self.0.is_null(i) }
        }
    )*};
}
use arrow_array::types::*;
prim_reader!(i8 => Int8Type, i16 => Int16Type, i32 => Int32Type, i64 => Int64Type,
    u8 => UInt8Type, u16 => UInt16Type, u32 => UInt32Type, u64 => UInt64Type,
    f32 => Float32Type, f64 => Float64Type);

impl ColumnReader<bool> for BooleanArray {
    fn new(array: &ArrayRef, path: &str) -> Result<Self> {
        expect_type(array, path, &DataType::Boolean)?;
        Ok(array.as_boolean().clone())
    }
    #[inline(always)]
    fn read(&self, i: usize) -> bool {
        self.value(i)
    }
    fn is_null(&self, i: usize) -> bool {
        Array::is_null(self, i)
    }
}

/// Reads a UTF-8 column into any string type.
pub struct StringReader<T>(StringArray, PhantomData<fn() -> T>);

impl<T: for<'a> From<&'a str>> ColumnReader<T> for StringReader<T> {
    fn new(array: &ArrayRef, path: &str) -> Result<Self> {
        expect_type(array, path, &DataType::Utf8)?;
        Ok(StringReader(array.as_string::<i32>().clone(), PhantomData))
    }
    #[inline(always)]
    fn read(&self, i: usize) -> T {
        T::from(self.0.value(i))
    }
    fn is_null(&self, i: usize) -> bool {
        self.0.is_null(i)
    }
}

/// Reads a timestamp column of any unit (s, ms, µs, ns), truncating to milliseconds.
pub struct TimestampReader<T> {
    values: ScalarBuffer<i64>,
    nulls: Option<arrow_buffer::NullBuffer>,
    to_ms: fn(i64) -> i64,
    _t: PhantomData<fn() -> T>,
}

/// A value built from epoch milliseconds.
pub trait FromMillis {
    /// The instant `ms` after the epoch.
    fn from_millis(ms: i64) -> Self;
}
impl FromMillis for Timestamp {
    fn from_millis(ms: i64) -> Self {
        Timestamp::from_millis(ms)
    }
}
impl FromMillis for DateTime<Utc> {
    fn from_millis(ms: i64) -> Self {
        Utc.timestamp_millis_opt(ms)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl<T: FromMillis> ColumnReader<T> for TimestampReader<T> {
    fn new(array: &ArrayRef, path: &str) -> Result<Self> {
        let (values, to_ms): (ScalarBuffer<i64>, fn(i64) -> i64) = match array.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => (
                array.as_primitive::<TimestampSecondType>().values().clone(),
                |v| v.saturating_mul(1000),
            ),
            DataType::Timestamp(TimeUnit::Millisecond, _) => (
                array
                    .as_primitive::<TimestampMillisecondType>()
                    .values()
                    .clone(),
                |v| v,
            ),
            DataType::Timestamp(TimeUnit::Microsecond, _) => (
                array
                    .as_primitive::<TimestampMicrosecondType>()
                    .values()
                    .clone(),
                |v| v.div_euclid(1000),
            ),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => (
                array
                    .as_primitive::<TimestampNanosecondType>()
                    .values()
                    .clone(),
                |v| v.div_euclid(1_000_000),
            ),
            other => return Err(mismatch(path, "a timestamp", other)),
        };
        Ok(TimestampReader {
            values,
            nulls: array.nulls().cloned(),
            to_ms,
            _t: PhantomData,
        })
    }
    #[inline(always)]
    fn read(&self, i: usize) -> T {
        T::from_millis((self.to_ms)(self.values[i]))
    }
    fn is_null(&self, i: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(i))
    }
}

/// Reads a nullable column into `Option<T>`.
pub struct NullableReader<R>(R);

impl<T: ArrowField> ColumnReader<Option<T>> for NullableReader<T::Reader> {
    fn new(array: &ArrayRef, path: &str) -> Result<Self> {
        Ok(NullableReader(T::Reader::new(array, path)?))
    }
    #[inline(always)]
    fn read(&self, i: usize) -> Option<T> {
        if self.0.is_null(i) {
            None
        } else {
            Some(self.0.read(i))
        }
    }
    fn is_null(&self, i: usize) -> bool {
        self.0.is_null(i)
    }
}

/// Reads a list column into `Vec<T>`.
pub struct ListReader<T: ArrowField> {
    list: ListArray,
    values: T::Reader,
}

impl<T: ArrowField> ColumnReader<Vec<T>> for ListReader<T> {
    fn new(array: &ArrayRef, path: &str) -> Result<Self> {
        let DataType::List(_) = array.data_type() else {
            return Err(mismatch(path, "a list", array.data_type()));
        };
        let list = array.as_list::<i32>().clone();
        let item = super::join(path, "item");
        if !T::NULLABLE && list.values().null_count() > 0 {
            return Err(crate::Error::Config(format!(
                "column `{item}` has nulls; use `Option<_>` for the items"
            )));
        }
        let values = T::Reader::new(list.values(), &item)?;
        Ok(ListReader { list, values })
    }
    fn read(&self, i: usize) -> Vec<T> {
        let offsets = self.list.value_offsets();
        (offsets[i] as usize..offsets[i + 1] as usize)
            .map(|j| self.values.read(j))
            .collect()
    }
    fn is_null(&self, i: usize) -> bool {
        self.list.is_null(i)
    }
}

/// Reads a dictionary-encoded (or plain UTF-8) string column into a unit enum.
pub struct EnumReader<T> {
    /// Variant index per row (0 for nulls).
    rows: Vec<u16>,
    nulls: Option<arrow_buffer::NullBuffer>,
    _t: PhantomData<fn() -> T>,
}

impl<T: super::builder::UnitEnum> ColumnReader<T> for EnumReader<T> {
    fn new(array: &ArrayRef, path: &str) -> Result<Self> {
        let lookup = |s: &str| -> Result<u16> {
            T::VARIANTS
                .iter()
                .position(|v| *v == s)
                .map(|i| i as u16)
                .ok_or_else(|| {
                    crate::Error::Config(format!(
                        "column `{path}`: `{s}` is not a variant; expected one of {}",
                        T::VARIANTS.join(", ")
                    ))
                })
        };
        let nulls = array.nulls().cloned();
        let is_null = |i: usize| nulls.as_ref().is_some_and(|n| n.is_null(i));
        let rows = match array.data_type() {
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let dict = array.as_dictionary::<Int32Type>();
                let names = dict.values().as_string::<i32>();
                let map = (0..names.len())
                    .map(|i| lookup(names.value(i)))
                    .collect::<Result<Vec<u16>>>()?;
                dict.keys()
                    .iter()
                    .map(|k| k.map_or(0, |k| map[k as usize]))
                    .collect()
            }
            DataType::Utf8 => {
                let s = array.as_string::<i32>();
                (0..s.len())
                    .map(|i| {
                        if is_null(i) {
                            Ok(0)
                        } else {
                            lookup(s.value(i))
                        }
                    })
                    .collect::<Result<Vec<u16>>>()?
            }
            other => return Err(mismatch(path, "dictionary<int32, utf8> or utf8", other)),
        };
        Ok(EnumReader {
            rows,
            nulls,
            _t: PhantomData,
        })
    }
    #[inline(always)]
    fn read(&self, i: usize) -> T {
        T::from_index(self.rows[i] as usize)
    }
    fn is_null(&self, i: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(i))
    }
}
