//! Compile-time guarantees: every error the macros emit has a failing case with its expected
//! message (`.stderr`, rustc 1.95); passing cases prove what must compile.
//! Regenerate with `TRYBUILD=overwrite cargo test -p pulse-tests --test ui` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/event/pass/*.rs");
    t.pass("ui/pipeline/pass/*.rs");
    t.compile_fail("ui/event/fail/*.rs");
    t.compile_fail("ui/pipeline/fail/*.rs");
}
