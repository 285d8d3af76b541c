//! `#[pipeline]`: parse the function into a graph, validate it, emit one static graph type.

mod ast;
mod emit;
mod lower;
mod model;
mod registry;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

pub fn expand(args: TokenStream, f: syn::ItemFn) -> TokenStream {
    let cx = Ctxt::new();
    if !args.is_empty() {
        cx.error_spanned_by(
            &args,
            "`#[pipeline]` takes no arguments; name operators with `.name(\"..\")`",
        );
    }
    let lowered = lower::lower(&cx, &f);
    let out = match cx.check() {
        Ok(()) => emit::emit(&f.vis, &f.attrs, &lowered),
        Err(e) => {
            let mut ts = emit::fallback(&f, &lowered.graph);
            ts.extend(e.into_compile_error());
            ts
        }
    };
    if std::env::var_os("PULSE_MACROS_DEBUG").is_some() {
        eprintln!("{out}");
    }
    out
}

#[cfg(test)]
mod tests;
