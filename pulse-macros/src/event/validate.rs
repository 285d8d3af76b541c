//! The derive's rules, one function each.

use super::ast::Container;
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, c: &Container<'_>, is_event: bool) {
    check_generics(cx, c);
    if c.variants.is_some() {
        return;
    }
    if is_event {
        check_one_event_time(cx, c);
    } else {
        check_no_event_time_on_record(cx, c);
    }
    check_unique_columns(cx, c);
}

// The derived schema is one fixed Arrow schema per type; a generic struct would need one per
// instantiation, which a derive cannot list.
fn check_generics(cx: &Ctxt, c: &Container<'_>) {
    if !c.original.generics.params.is_empty() {
        cx.error_spanned_by(
            &c.original.generics,
            "events and records cannot be generic; use concrete field types",
        );
    }
}

// Windows, watermarks and lateness all read one timestamp per element; zero or two would make
// event time ambiguous.
fn check_one_event_time(cx: &Ctxt, c: &Container<'_>) {
    let marked: Vec<_> = c.fields.iter().filter(|f| f.event_time.is_some()).collect();
    match marked.len() {
        1 => {
            if marked[0].skip {
                cx.error_at(marked[0].span(), "the `#[event_time]` field cannot be skipped; remove `#[event(skip)]`");
            }
        }
        0 => cx.error_spanned_by(
            &c.original.ident,
            "expected exactly one `#[event_time]` field, found none; mark the field that holds when the event happened, e.g. `#[event_time] ts: DateTime<Utc>`",
        ),
        n => {
            for f in &marked[1..] {
                let (attr, _) = f.event_time.expect("marked");
                cx.error_spanned_by(attr, format!("expected exactly one `#[event_time]` field, found {n}; keep it on one field"));
            }
        }
    }
}

// A record (output row) has no event time; the attribute would be silently ignored.
fn check_no_event_time_on_record(cx: &Ctxt, c: &Container<'_>) {
    for f in &c.fields {
        if let Some((attr, _)) = f.event_time {
            cx.error_spanned_by(
                attr,
                "`#[event_time]` has no effect on a `Record`; derive `Event` instead",
            );
        }
    }
}

// Two fields with one column name would give a schema Parquet and Arrow readers reject.
fn check_unique_columns(cx: &Ctxt, c: &Container<'_>) {
    let mut seen = std::collections::HashSet::new();
    for f in c.fields.iter().filter(|f| !f.skip) {
        if !seen.insert(f.column.as_str()) {
            cx.error_at(
                f.span(),
                format!(
                    "duplicate column name `{}`; rename one field with `#[event(rename = \"..\")]`",
                    f.column
                ),
            );
        }
    }
}
