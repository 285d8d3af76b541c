//! Round trips of the generic builders and readers, and reading columns other writers produce.

use std::sync::Arc;

use arrow_array::builder::TimestampMicrosecondBuilder;
use arrow_array::{ArrayRef, StringArray};

use super::*;
use crate::time::Timestamp;

fn round_trip<T: ArrowField + Clone + PartialEq + std::fmt::Debug>(values: &[T]) {
    let mut b = T::Builder::with_capacity(values.len());
    for v in values {
        b.append(v);
    }
    let array = b.finish();
    assert_eq!(array.len(), values.len());
    assert_eq!(array.data_type(), &T::data_type());
    let r = T::Reader::new(&array, "col").unwrap();
    let back: Vec<T> = (0..values.len()).map(|i| r.read(i)).collect();
    assert_eq!(back, values);
}

#[test]
fn scalars_options_and_lists_round_trip() {
    round_trip(&[1u64, u64::MAX, 0]);
    round_trip(&[-1.5f64, f64::MAX]);
    round_trip(&[true, false]);
    round_trip(&["".to_string(), "ünï".to_string()]);
    round_trip(&[Some(3i32), None, Some(-3)]);
    round_trip(&[
        vec![Some("a".to_string()), None],
        vec![],
        vec![Some("b".into())],
    ]);
    round_trip(&[Some(vec![1u8, 2]), None, Some(vec![])]);
    round_trip(&[vec![vec![1i64], vec![]], vec![]]);
    round_trip(&[
        Timestamp::from_millis(-1),
        Timestamp::from_millis(1_714_564_800_123),
    ]);
}

#[test]
fn timestamps_of_other_units_are_read_as_milliseconds() {
    let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    b.append_value(1_500_999);
    b.append_null();
    let array: ArrayRef = Arc::new(b.finish());
    let r = <<Option<Timestamp> as ArrowField>::Reader as ColumnReader<Option<Timestamp>>>::new(
        &array, "t",
    )
    .unwrap();
    assert_eq!(r.read(0), Some(Timestamp::from_millis(1_500)));
    assert_eq!(r.read(1), None::<Timestamp>);
}

#[test]
fn type_mismatches_name_the_column() {
    let array: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
    let err = <<u64 as ArrowField>::Reader as ColumnReader<u64>>::new(&array, "outer.price")
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "column `outer.price`: the file has Utf8, the type expects UInt64"
    );
}

#[test]
fn nulls_in_a_non_optional_column_are_refused() {
    let parent: ArrayRef = Arc::new(StringArray::from(vec![Some("p"), Some("q")]));
    let child: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
    let err = check_no_nulls(&child, &parent, "name", "String").unwrap_err();
    assert_eq!(
        err.to_string(),
        "column `name` has a null in row 1, but the field is `String`; make it `Option<String>`"
    );
    let null_parent: ArrayRef = Arc::new(StringArray::from(vec![Some("p"), None]));
    check_no_nulls(&child, &null_parent, "name", "String").unwrap();
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Buy,
    Sell,
}

impl UnitEnum for Side {
    const VARIANTS: &'static [&'static str] = &["buy", "sell"];
    fn index(&self) -> usize {
        *self as usize
    }
    fn from_index(i: usize) -> Self {
        [Side::Buy, Side::Sell][i]
    }
}

#[test]
fn enums_are_dictionaries_and_plain_strings_read_too() {
    let mut b = EnumColumn::<Side>::with_capacity(3);
    for s in [Side::Sell, Side::Buy, Side::Sell] {
        b.append(&s);
    }
    let array = b.finish();
    let r = EnumReader::<Side>::new(&array, "side").unwrap();
    assert_eq!(
        (0..3).map(|i| r.read(i)).collect::<Vec<_>>(),
        [Side::Sell, Side::Buy, Side::Sell]
    );
    let plain: ArrayRef = Arc::new(StringArray::from(vec!["buy", "sell"]));
    let r = EnumReader::<Side>::new(&plain, "side").unwrap();
    assert_eq!(r.read(1), Side::Sell);
    let bad: ArrayRef = Arc::new(StringArray::from(vec!["hold"]));
    let err = EnumReader::<Side>::new(&bad, "side").err().unwrap();
    assert_eq!(
        err.to_string(),
        "column `side`: `hold` is not a variant; expected one of buy, sell"
    );
}
