//! The fast JSON-lines path: a byte scanner the `Event` derive drives with the struct's own
//! fields, so a line decodes straight into the struct with no intermediate values and no UTF-8
//! pass over the whole line.
//!
//! It handles the common shape: one flat object, keys without escapes, integers, floats, bools,
//! strings without escapes, `null` for `Option`s; unknown keys are skipped. Anything else (an
//! escape, a nested value for a typed field, a duplicate or missing key, a malformed line) makes
//! it give up, and the source decodes the line with serde instead, which also produces the
//! error message. Both paths give the same value for every line the fast path accepts.

use std::marker::PhantomData;

/// A cursor over one line.
pub struct JsonScanner<'a> {
    b: &'a [u8],
    i: usize,
    first: bool,
}

impl<'a> JsonScanner<'a> {
    /// A scanner at the start of `line`.
    pub fn new(line: &'a [u8]) -> Self {
        JsonScanner {
            b: line,
            i: 0,
            first: true,
        }
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// Enters the object.
    #[inline]
    pub fn begin(&mut self) -> Option<()> {
        self.ws();
        self.eat(b'{')
    }

    /// The next key (`None` at the closing brace), positioned at its value.
    #[inline(always)]
    pub fn key(&mut self) -> Option<Option<&'a [u8]>> {
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(None);
        }
        if !self.first {
            self.eat(b',')?;
            self.ws();
        }
        self.first = false;
        let k = self.raw_str()?;
        // A key matched against the struct's is text; an unknown one must be too.
        std::str::from_utf8(k).ok()?;
        self.ws();
        self.eat(b':')?;
        self.ws();
        Some(Some(k))
    }

    /// Whether the next key is `quoted` (the key in quotes followed by `:`, as the derive
    /// writes it); if so, positioned at its value. Lines written by a program list the fields
    /// in one order, so the decoder tries the struct's own order first with one comparison per
    /// key, and falls back to [`key`](Self::key) at the first surprise.
    #[inline(always)]
    pub fn key_is(&mut self, quoted: &[u8]) -> bool {
        self.ws();
        let at = self.i + usize::from(!self.first);
        if !self.first && self.peek() != Some(b',') {
            return false;
        }
        if !self
            .b
            .get(at..)
            .is_some_and(|rest| rest.starts_with(quoted))
        {
            return false;
        }
        self.i = at + quoted.len();
        self.first = false;
        self.ws();
        true
    }

    /// Nothing but whitespace after the object.
    #[inline]
    pub fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    /// A string without escapes or control characters (which JSON does not allow raw), without
    /// its quotes.
    #[inline]
    fn raw_str(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        // Keys and most string values are short: a plain loop over their first bytes beats
        // setting up a vector search.
        for (len, &c) in self.b[start..].iter().take(16).enumerate() {
            match c {
                b'"' => {
                    self.i = start + len + 1;
                    return Some(&self.b[start..start + len]);
                }
                b'\\' | 0..0x20 => return None,
                _ => {}
            }
        }
        let len = memchr::memchr2(b'"', b'\\', &self.b[start..])?;
        if self.b[start + len] == b'\\' || self.b[start..start + len].iter().any(|&c| c < 0x20) {
            return None;
        }
        self.i = start + len + 1;
        Some(&self.b[start..start + len])
    }

    #[inline]
    fn digits(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let n = self.i - start;
        // No empty numbers, no leading zeros, no fractions or exponents for integers.
        if n == 0
            || (n > 1 && self.b[start] == b'0')
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        Some(v)
    }

    /// An unsigned integer.
    #[inline]
    pub fn u64(&mut self) -> Option<u64> {
        self.digits()
    }

    /// A signed integer.
    #[inline]
    pub fn i64(&mut self) -> Option<i64> {
        if self.peek()? == b'-' {
            self.i += 1;
            let v = self.digits()?;
            if v <= i64::MAX as u64 + 1 {
                Some((v as i64).wrapping_neg())
            } else {
                None
            }
        } else {
            i64::try_from(self.digits()?).ok()
        }
    }

    /// A number as a float type, parsed by serde_json so both paths round alike.
    #[inline]
    pub fn float<F: serde::de::DeserializeOwned>(&mut self) -> Option<F> {
        let start = self.i;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.i += 1;
        }
        serde_json::from_slice(&self.b[start..self.i]).ok()
    }

    /// `true` or `false`.
    #[inline]
    pub fn bool(&mut self) -> Option<bool> {
        if self.b[self.i..].starts_with(b"true") {
            self.i += 4;
            Some(true)
        } else if self.b[self.i..].starts_with(b"false") {
            self.i += 5;
            Some(false)
        } else {
            None
        }
    }

    /// `null`, consumed if present.
    #[inline]
    pub fn null(&mut self) -> bool {
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    /// A string without escapes.
    #[inline]
    pub fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.raw_str()?)
            .ok()
            .map(str::to_string)
    }

    /// Skips any value (strings with escapes, nested objects and arrays included), as
    /// serde_json reads it: a value it would reject (invalid UTF-8 or a raw control character
    /// in a string, a bad escape, `@@`) ends the fast path, and serde then reports the line.
    /// Only unknown keys' values are skipped, so this is off the hot path.
    pub fn skip_value(&mut self) -> Option<()> {
        let mut values = serde_json::Deserializer::from_slice(&self.b[self.i..])
            .into_iter::<serde::de::IgnoredAny>();
        values.next()?.ok()?;
        let skipped = &self.b[self.i..self.i + values.byte_offset()];
        // serde_json ignores a value without checking its strings' UTF-8; a line is text.
        std::str::from_utf8(skipped).ok()?;
        self.i += skipped.len();
        self.ws();
        Some(())
    }
}

/// A field type the fast path can read.
pub trait JsonField: Sized {
    /// Reads one value.
    fn scan(s: &mut JsonScanner<'_>) -> Option<Self>;
    /// The value of a missing key, if the type has one (`None` for `Option`).
    fn missing() -> Option<Self> {
        None
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl JsonField for $t {
            #[inline(always)]
            fn scan(s: &mut JsonScanner<'_>) -> Option<Self> {
                <$t>::try_from(s.u64()?).ok()
            }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty),*) => {$(
        impl JsonField for $t {
            #[inline(always)]
            fn scan(s: &mut JsonScanner<'_>) -> Option<Self> {
                <$t>::try_from(s.i64()?).ok()
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);
signed!(i8, i16, i32, i64, isize);

impl JsonField for f64 {
    #[inline(always)]
    fn scan(s: &mut JsonScanner<'_>) -> Option<Self> {
        s.float()
    }
}

impl JsonField for f32 {
    #[inline(always)]
    fn scan(s: &mut JsonScanner<'_>) -> Option<Self> {
        s.float()
    }
}

impl JsonField for bool {
    #[inline(always)]
    fn scan(s: &mut JsonScanner<'_>) -> Option<Self> {
        s.bool()
    }
}

impl JsonField for String {
    #[inline(always)]
    fn scan(s: &mut JsonScanner<'_>) -> Option<Self> {
        s.string()
    }
}

impl<T: JsonField> JsonField for Option<T> {
    #[inline(always)]
    fn scan(s: &mut JsonScanner<'_>) -> Option<Self> {
        if s.null() {
            Some(None)
        } else {
            T::scan(s).map(Some)
        }
    }
    fn missing() -> Option<Self> {
        Some(None)
    }
}

/// Picks the fast reader for field types that have one, by autoref specialisation in generated
/// code: `(&&JsonProbe::<T>::new()).scan(s)`.
pub struct JsonProbe<T>(PhantomData<fn() -> T>);

impl<T> JsonProbe<T> {
    /// A probe for `T`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        JsonProbe(PhantomData)
    }
}

/// The fast reader, for types with one.
pub trait ViaJson<T> {
    /// Whether `T` has a fast reader.
    fn fast(&self) -> bool;
    /// Reads one value.
    fn scan(&self, s: &mut JsonScanner<'_>) -> Option<T>;
    /// The value of a missing key.
    fn missing(&self) -> Option<T>;
}

impl<T: JsonField> ViaJson<T> for &JsonProbe<T> {
    #[inline(always)]
    fn fast(&self) -> bool {
        true
    }
    #[inline(always)]
    fn scan(&self, s: &mut JsonScanner<'_>) -> Option<T> {
        T::scan(s)
    }
    #[inline(always)]
    fn missing(&self) -> Option<T> {
        T::missing()
    }
}

/// The fallback: no fast reader, so the line goes to serde.
pub trait NoJson<T> {
    /// Whether `T` has a fast reader.
    fn fast(&self) -> bool;
    /// Reads one value.
    fn scan(&self, s: &mut JsonScanner<'_>) -> Option<T>;
    /// The value of a missing key.
    fn missing(&self) -> Option<T>;
}

impl<T> NoJson<T> for JsonProbe<T> {
    fn fast(&self) -> bool {
        false
    }
    fn scan(&self, _: &mut JsonScanner<'_>) -> Option<T> {
        None
    }
    fn missing(&self) -> Option<T> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(line: &str) -> Option<(u64, i64, f64, Option<String>, bool)> {
        let mut s = JsonScanner::new(line.as_bytes());
        s.begin()?;
        let (mut a, mut b, mut c, mut d, mut e) = (None, None, None, None, None);
        while let Some(k) = s.key()? {
            match k {
                b"a" => a = Some(u64::scan(&mut s)?),
                b"b" => b = Some(i64::scan(&mut s)?),
                b"c" => c = Some(f64::scan(&mut s)?),
                b"d" => d = Some(Option::<String>::scan(&mut s)?),
                b"e" => e = Some(bool::scan(&mut s)?),
                _ => s.skip_value()?,
            }
        }
        s.end()?;
        Some((a?, b?, c?, d.or_else(Option::missing)?, e?))
    }

    #[test]
    fn reads_flat_objects_and_skips_unknown_keys() {
        assert_eq!(
            flat(r#"{"a":1,"x":{"y":[1,"}",{"z":null}]},"b":-7,"c":2.5e1,"d":"hé","e":true}"#),
            Some((1, -7, 25.0, Some("hé".into()), true))
        );
        assert_eq!(
            flat(r#" { "e" : false , "c" : 3 , "b" : 0 , "a" : 18446744073709551615 } "#),
            Some((u64::MAX, 0, 3.0, None, false)),
            "whitespace anywhere; a missing Option is None"
        );
        assert_eq!(
            flat(r#"{"a":1,"b":-9223372036854775808,"c":0,"d":null,"e":false}"#)
                .unwrap()
                .1,
            i64::MIN
        );
    }

    #[test]
    fn gives_up_on_what_serde_should_judge() {
        for line in [
            r#"{"a":1.5,"b":1,"c":1,"e":true}"#, // fraction for an integer
            r#"{"a":01,"b":1,"c":1,"e":true}"#,  // leading zero
            r#"{"a":-1,"b":1,"c":1,"e":true}"#,  // negative unsigned
            r#"{"a":18446744073709551616,"b":1,"c":1,"e":true}"#, // overflow
            r#"{"a":1,"b":1,"c":1,"d":"a\"b","e":true}"#, // escape
            r#"{"a":1,"b":1,"c":1,"e":true},"#,  // trailing garbage
            r#"{"a":1,"b":1,"c":1,"e":true,}"#,  // trailing comma
            r#"{"a":1,"b":1,"c":1}"#,            // missing field
            r#"{"a":"1","b":1,"c":1,"e":true}"#, // string for a number
        ] {
            assert_eq!(flat(line), None, "{line}");
        }
    }
}

#[cfg(test)]
mod skip_tests {
    use super::JsonScanner;

    /// What serde_json rejects, skipping rejects too.
    #[test]
    fn skipping_rejects_what_serde_rejects() {
        for bad in [
            &b"\"a\xffb\"}"[..],
            b"@@}",
            b"\"a\tb\"}",
            b"\"\\q\"}",
            b"tru}",
        ] {
            let mut s = JsonScanner::new(bad);
            assert!(
                s.skip_value().is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut s = JsonScanner::new(b"{\"a\":[1,2.5e3,\"\\u00e9\"]} ,");
        assert!(s.skip_value().is_some());
        assert_eq!(s.peek(), Some(b','));
    }
}
