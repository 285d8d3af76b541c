//! `#[derive(Event)]` and `#[derive(Record)]`: parse → validate → emit.

mod ast;
mod emit;
mod validate;

pub fn expand(input: &syn::DeriveInput, is_event: bool) -> syn::Result<proc_macro2::TokenStream> {
    let cx = crate::ctxt::Ctxt::new();
    let parsed = ast::Container::from_ast(&cx, input, is_event);
    if let Some(c) = &parsed {
        validate::check(&cx, c, is_event);
    }
    cx.check()?;
    Ok(emit::emit(&parsed.expect("errors were reported"), is_event))
}
