//! The derive's JSON decoder against serde: on every line it accepts, it gives serde's value;
//! on plain lines it does accept them; and what it gives up on still decodes through serde.

use proptest::prelude::*;
use pulse::Event as _;
use pulse::prelude::*;

#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Wide {
    id: u64,
    delta: i32,
    small: u8,
    ratio: f64,
    note: Option<String>,
    name: String,
    ok: bool,
    #[serde(rename = "ts")]
    #[event_time(epoch_ms)]
    at: i64,
}

/// With a serde attribute other than `rename`, the derive leaves every line to serde.
#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Defaulted {
    #[serde(default)]
    n: u64,
    #[event_time(epoch_ms)]
    t: i64,
}

fn wide() -> impl Strategy<Value = Wide> {
    (
        any::<u64>(),
        any::<i32>(),
        any::<u8>(),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        proptest::option::of("[a-z \"\\\\é]{0,8}"),
        "[a-zA-Z0-9 é\"\\\\]{0,12}",
        any::<bool>(),
        any::<i64>(),
    )
        .prop_map(|(id, delta, small, ratio, note, name, ok, at)| Wide {
            id,
            delta,
            small,
            ratio,
            note,
            name,
            ok,
            at,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_fast_path_agrees_with_serde(w in wide(), extra in "[a-z]{1,6}", spaced in any::<bool>()) {
        let mut line = serde_json::to_string(&w).unwrap();
        // An unknown key with a nested value, which both must skip.
        line.insert_str(1, &format!("\"{extra}x\":{{\"a\":[1,\"}}\",null]}},"));
        if spaced {
            line = line.replace(':', " : ").replace(',', " , ");
        }
        // (serde_json's float parsing is not exact round-trip, so `serde` is the reference, not `w`.)
        let serde: Wide = serde_json::from_str(&line).unwrap();
        prop_assert_eq!(&serde.name, &w.name);
        let escapes = line.contains('\\');
        match Wide::decode_json(line.as_bytes()) {
            Some(fast) => prop_assert_eq!(fast, serde),
            None => prop_assert!(escapes, "a line without escapes stays on the fast path: {}", line),
        }
    }

    /// Keys in the struct's order take the decoder's in-order path; a key out of place, an
    /// unknown key anywhere or whitespace before a colon sends the rest of the line to the
    /// general loop, and the value is the same.
    #[test]
    fn keys_in_any_order_decode_alike(
        w in wide(),
        swap in (0usize..8, 0usize..8),
        unknown in proptest::option::of(0usize..=8),
        spaced in proptest::option::of(0usize..8),
    ) {
        let mut fields = [
            ("id", serde_json::to_string(&w.id).unwrap()),
            ("delta", serde_json::to_string(&w.delta).unwrap()),
            ("small", serde_json::to_string(&w.small).unwrap()),
            ("ratio", serde_json::to_string(&w.ratio).unwrap()),
            ("note", serde_json::to_string(&w.note).unwrap()),
            ("name", serde_json::to_string(&w.name).unwrap()),
            ("ok", serde_json::to_string(&w.ok).unwrap()),
            ("ts", serde_json::to_string(&w.at).unwrap()),
        ];
        fields.swap(swap.0, swap.1);
        let mut parts: Vec<String> = fields
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let colon = if spaced == Some(i) { " :" } else { ":" };
                format!("\"{k}\"{colon}{v}")
            })
            .collect();
        if let Some(at) = unknown {
            parts.insert(at, r#""idx":[1,{"id":2}]"#.to_string());
        }
        let line = format!("{{{}}}", parts.join(","));
        let serde: Wide = serde_json::from_str(&line).unwrap();
        match Wide::decode_json(line.as_bytes()) {
            Some(fast) => prop_assert_eq!(fast, serde),
            None => prop_assert!(line.contains('\\'), "a line without escapes stays on the fast path: {}", line),
        }
    }
}

#[test]
fn malformed_lines_are_left_to_serde() {
    for line in [
        r#"{"id":1,"delta":1,"small":256,"ratio":1,"name":"a","ok":true,"ts":1}"#,
        r#"{"id":1,"delta":1,"small":1,"ratio":1,"name":"a","ok":true}"#,
        r#"{"id":1,"id":2,"delta":1,"small":1,"ratio":1,"name":"a","ok":true,"ts":1}"#,
        r#"{"id":1,"delta":1,"small":1,"ratio":1,"name":"a","ok":true,"ts":1,"id":2}"#,
        r#"{"id":1,"delta":1,"small":1,"ratio":1,"name":"a","ok":true,"ts":1,"delta":2}"#,
        r#"{"id":1,"delta":1,"small":1,"ratio":1,"name":"a","ok":"yes","ts":1}"#,
        r#"{"id":1,"delta":1,"small":1,"ratio":1,"name":"a","ok":true,"ts":1"#,
    ] {
        assert_eq!(Wide::decode_json(line.as_bytes()), None, "{line}");
        assert!(
            serde_json::from_str::<Wide>(line).is_err(),
            "serde rejects it too: {line}"
        );
    }
    assert_eq!(
        Defaulted::decode_json(br#"{"n":1,"t":2}"#),
        None,
        "serde attributes leave decoding to serde"
    );
}

/// Cases of the byte-level differential fuzz below: `PULSE_FUZZ_CASES` for a long run.
fn fuzz_cases() -> u32 {
    std::env::var("PULSE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096)
}

/// One edit of a line: overwrite, insert or delete a byte, cut the line, or splice a piece of
/// trouble in (invalid UTF-8, control characters, huge or odd numbers, escapes, a BOM, CRLF,
/// a duplicate key, deep nesting).
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Cut(usize),
    Splice(usize, &'static [u8]),
}

const TROUBLE: &[&[u8]] = &[
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\x00",
    b"\x1f",
    b"\t",
    b"\r",
    b"\xef\xbb\xbf",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1e400",
    b"-0",
    b"1.0e-400",
    b"NaN",
    b"Infinity",
    b"\\u0000",
    b"\\ud800",
    b"\\q",
    b"\"id\":7,",
    b"\"ts\":7,",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    b"{\"a\":{\"b\":{\"c\":{}}}}",
    b"\"zz\":@@,",
    b" ",
    b",",
    b"}",
    b"\"",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Cut),
        (any::<usize>(), proptest::sample::select(TROUBLE)).prop_map(|(i, t)| Edit::Splice(i, t)),
    ]
}

fn apply(line: &mut Vec<u8>, e: &Edit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match *e {
        Edit::Set(i, b) if !line.is_empty() => {
            let i = i % line.len();
            line[i] = b;
        }
        Edit::Insert(i, b) => line.insert(at(i, line.len()), b),
        Edit::Delete(i) if !line.is_empty() => {
            line.remove(i % line.len());
        }
        Edit::Cut(i) => line.truncate(at(i, line.len())),
        Edit::Splice(i, t) => {
            let i = at(i, line.len());
            line.splice(i..i, t.iter().copied());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

    /// Differential fuzzing of the derive's decoder against the reference (the line as UTF-8
    /// text through `serde_json`): on mutated lines, whatever the fast path accepts, the
    /// reference accepts with the same value; what it gives up on goes to the reference anyway.
    /// Nothing panics.
    #[test]
    fn mutated_lines_decode_as_serde_or_not_at_all(
        w in wide(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let mut line = serde_json::to_vec(&w).unwrap();
        for e in &edits {
            apply(&mut line, e);
        }
        let reference = std::str::from_utf8(&line)
            .ok()
            .and_then(|t| serde_json::from_str::<Wide>(t).ok());
        if let Some(fast) = Wide::decode_json(&line) {
            prop_assert_eq!(
                Some(&fast),
                reference.as_ref(),
                "accepted what the reference does not, or gave another value: {:?}",
                String::from_utf8_lossy(&line)
            );
        }
    }
}
