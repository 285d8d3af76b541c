//! Procedural macros for Pulse: `#[derive(Event)]`, `#[derive(Record)]` and `#[pipeline]`.
//!
//! Each macro runs parse → validate → model → emit; only this file touches `proc_macro`, so
//! everything else is unit-testable on `proc_macro2` tokens.

mod ctxt;
mod event;
mod pipeline;
mod symbol;

use proc_macro::TokenStream;

/// Derives `pulse::Event` (and `pulse::Record`) for a struct with one `#[event_time]` field.
///
/// See the `pulse` crate docs for the attributes.
#[proc_macro_derive(Event, attributes(event_time, event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    event::expand(&input, true)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `pulse::Record`: an Arrow schema for output rows and nested structs.
#[proc_macro_derive(Record, attributes(event, event_time))]
pub fn derive_record(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    event::expand(&input, false)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Compiles a function over `Stream<T>`s into a statically dispatched operator graph.
///
/// See the `pulse` crate docs for the operators and the rules.
#[proc_macro_attribute]
pub fn pipeline(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(input as syn::ItemFn);
    pipeline::expand(args.into(), item).into()
}
