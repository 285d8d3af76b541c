//! What a bad record's error says: the field, the expected type, the value out of range, and
//! the original bytes of a dead letter.

use super::*;

/// Re-decodes a failed line, tracking the path, to name the field at fault.
pub(super) fn json_error<T: DeserializeOwned>(text: &str) -> (Option<String>, String) {
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => match de.end() {
            Err(e) => (
                None,
                format!(
                    "unexpected characters after the record (column {})",
                    e.column()
                ),
            ),
            Ok(()) => (None, "record did not decode".into()),
        },
        Err(e) => {
            let path = e.path().to_string();
            // `?`: the error came before a key was read whole (a cut-off line).
            let field = (path != "." && path != "?" && !path.is_empty()).then_some(path);
            let inner = e.into_inner();
            if inner.is_eof() {
                return (
                    field,
                    format!(
                        "the line ends inside the record (column {}): is it cut off?",
                        inner.column()
                    ),
                );
            }
            (field, out_of_range(crate::io::json_message(&inner)))
        }
    }
}

/// Standard base64 with padding, for bytes a dead letter cannot hold as text.
pub(super) fn base64(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(DIGITS[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// serde_json reads an integer too large for `u64` as a float, and then reports a float where
/// an integer was expected: say that the number is out of range instead.
pub(super) fn out_of_range(message: String) -> String {
    let Some(rest) = message.strip_prefix("invalid type: floating point `") else {
        return message;
    };
    let Some((number, expected)) = rest.split_once("`, expected ") else {
        return message;
    };
    let whole = number
        .parse::<f64>()
        .is_ok_and(|v| v.fract() == 0.0 && v.abs() >= 9.2e18);
    let integer = [
        "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "usize", "isize",
    ]
    .iter()
    .any(|t| expected.starts_with(t));
    if whole && integer {
        let ty = expected.split(' ').next().unwrap_or(expected);
        return format!("number {number} is out of range for {ty}");
    }
    message
}

pub(super) fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    Error::BadRecord {
        path: path.to_path_buf(),
        line,
        field: None,
        message: e.to_string(),
    }
}
