//! The items `#[pipeline] fn name(..)` expands to: a braced struct `name {}` (in the type
//! namespace only) with the `Pipeline` impl, its graph built in `build`, and the port tables;
//! and the function `name()` (in the value namespace) returning it. Or, after an error, a
//! fallback with the same shape.
//!
//! The value `name` is a function, not a unit struct: a unit struct in scope turns every
//! `|name|` closure parameter and `let name` in the module into a pattern of that struct,
//! whereas a binding may shadow a function. A function returning a pipeline is a pipeline (a
//! blanket impl in the runtime), so `pulse::run(name)` and `name.open_sink(..)` work, and
//! `<name as Output<0>>::Item` still names the type.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use super::{Emitter, n};
use crate::pipeline::lower::Lowered;
use crate::pipeline::model::{PipelineGraph, type_name};

/// `struct name {}` and `fn name() -> name`, documented with the user's docs or the graph.
fn items(vis: &syn::Visibility, name: &syn::Ident, docs: TokenStream) -> TokenStream {
    quote! {
        #docs
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #name {}

        #[doc(hidden)]
        #vis fn #name() -> #name {
            #name {}
        }
    }
}

pub fn emit(vis: &syn::Visibility, attrs: &[syn::Attribute], parsed: &Lowered) -> TokenStream {
    let g = &parsed.graph;
    let name = syn::Ident::new(&g.name, Span::call_site());
    let ty = &name;
    let text = g.to_text();
    let doc = format!(
        "The `{}` pipeline, compiled by `#[pipeline]`.\n\n```text\n{text}```",
        g.name
    );
    let docs: Vec<_> = attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    let docs = if docs.is_empty() {
        quote!(#[doc = #doc])
    } else {
        quote!(#(#docs)*)
    };
    let items = items(vis, &name, docs);
    let consts = consts(g);
    let build = build(parsed);
    let io = io_methods(g);
    let port_impls = port_impls(g, ty);
    quote! {
        #items

        const _: () = {
            #[automatically_derived]
            impl ::pulse::__private::Pipeline for #ty {
                #consts
                #build
                #io
            }
            #port_impls
        };
    }
}

/// `NAME`, `INPUTS`, `OUTPUTS` and `EXPLAIN`.
fn consts(g: &PipelineGraph) -> TokenStream {
    let name = &g.name;
    let inputs = g.inputs.iter().map(|p| {
        let (pn, ty) = (&p.name, type_name(&p.ty));
        quote!(::pulse::__private::PortInfo { name: #pn, ty: #ty })
    });
    let outputs = g.outputs.iter().map(|p| {
        let (pn, ty) = (&p.port.name, type_name(&p.port.ty));
        quote!(::pulse::__private::PortInfo { name: #pn, ty: #ty })
    });
    let text = g.to_text();
    let mermaid = g.to_mermaid();
    let nodes = g.nodes.iter().map(|n| {
        let id = &n.id;
        let op = n.kind.op().node;
        let passes = n.kind.op().passes;
        let inputs = n.inputs.iter().map(|e| {
            let (from, port) = (e.from, e.port);
            quote!((#from, #port))
        });
        quote!(::pulse::__private::NodeInfo { id: #id, op: #op, inputs: &[#(#inputs),*], passes: #passes })
    });
    quote! {
        const NAME: &'static str = #name;
        const NODES: &'static [::pulse::__private::NodeInfo] = &[#(#nodes),*];
        const INPUTS: &'static [::pulse::__private::PortInfo] = &[#(#inputs),*];
        const OUTPUTS: &'static [::pulse::__private::PortInfo] = &[#(#outputs),*];
        const EXPLAIN: ::pulse::__private::Explain = ::pulse::__private::Explain { text: #text, mermaid: #mermaid };
    }
}

/// `build()`: the user's other statements, the operators, and the graph's entry points.
fn build(parsed: &Lowered) -> TokenStream {
    let g = &parsed.graph;
    let e = Emitter { g };
    let prelude = &parsed.prelude;
    let ctors = e.constructors();
    let fan_out_checks = parsed.fan_outs.iter().map(|f| {
        let nk = n(f.node);
        quote_spanned!(f.span=> ::pulse::__private::ops::check_fan_out(&#nk);)
    });
    let count = g.nodes.len();
    let inits = e.slots().into_iter().map(|s| {
        if s == "__w" {
            quote!(::pulse::__private::Marks::<#count>::new())
        } else {
            quote!(#s)
        }
    });
    let drains = e.drains();
    let prop = e.propagate();
    let push = e.push_arms();
    let ports = e.ports();
    quote! {
        #[allow(unused, clippy::all)]
        fn build(&self) -> impl ::pulse::__private::Graph + use<> {
            #(#prelude)*
            #ctors
            #(#fan_out_checks)*
            let st = (#(#inits,)*);
            #drains
            #prop
            #push
            #ports
            ::pulse::__private::CompiledGraph {
                st,
                push: __push,
                watermark: __set_wm,
                idle: __set_idle,
                drain: __drain_out,
                clock: __clock,
                visit: __visit,
                visit_mut: __visit_mut,
                exchanges: __exchanges,
                inject: __inject,
                propagate: __prop,
            }
        }
    }
}

/// `open_source`, `open_sink` and `output_batch`, one arm per port.
fn io_methods(g: &PipelineGraph) -> TokenStream {
    let name = &g.name;
    let probe_use = quote! {
        #[allow(unused_imports)]
        use ::pulse::__private::{NoParquet as _, ViaParquet as _};
    };
    let open_sources = g.inputs.iter().enumerate().map(|(i, p)| {
        let ty = &p.ty;
        quote_spanned!(p.span=> #i => ::pulse::__private::open_source::<#ty>(spec, |spec| {
            #probe_use
            (&&::pulse::__private::Probe::<#ty>::new()).parquet_source(spec)
        }),)
    });
    let open_sinks = g.outputs.iter().enumerate().map(|(j, p)| {
        let ty = &p.port.ty;
        quote_spanned!(p.port.span=> #j => ::pulse::__private::open_sink::<#ty>(spec, |spec| {
            #probe_use
            (&&::pulse::__private::Probe::<#ty>::new()).parquet_sink(spec)
        }),)
    });
    let output_batches = g.outputs.iter().enumerate().map(|(j, p)| {
        let ty = &p.port.ty;
        quote!(#j => (&&::pulse::__private::ops::SendProbe::<#ty>::new()).output_batch(),)
    });
    quote! {
        fn open_source(&self, port: usize, spec: &::pulse::__private::SourceSpec) -> ::pulse::Result<::std::boxed::Box<dyn ::pulse::__private::Source>> {
            match port {
                #(#open_sources)*
                _ => ::std::result::Result::Err(::pulse::Error::config(::std::format!("pipeline `{}` has no input {port}", #name))),
            }
        }

        fn output_batch(&self, port: usize) -> ::std::option::Option<::std::boxed::Box<dyn ::pulse::__private::OutputBatch>> {
            #[allow(unused_imports)]
            use ::pulse::__private::ops::{NoSend as _, ViaSend as _};
            match port {
                #(#output_batches)*
                _ => ::std::option::Option::None,
            }
        }

        fn open_sink(&self, port: usize, spec: &::pulse::__private::SinkSpec) -> ::pulse::Result<::std::boxed::Box<dyn ::pulse::__private::Sink>> {
            match port {
                #(#open_sinks)*
                _ => ::std::result::Result::Err(::pulse::Error::config(::std::format!("pipeline `{}` has no output {port}", #name))),
            }
        }
    }
}

/// `Input<I>` and `Output<J>`: the element type of each port, for typed tests and benches.
fn port_impls(g: &PipelineGraph, ty: &syn::Ident) -> TokenStream {
    let inputs = g.inputs.iter().enumerate().map(|(i, p)| {
        let item = &p.ty;
        quote!(impl ::pulse::__private::Input<#i> for #ty { type Item = #item; })
    });
    let outputs = g.outputs.iter().enumerate().map(|(j, p)| {
        let item = &p.port.ty;
        quote!(impl ::pulse::__private::Output<#j> for #ty { type Item = #item; })
    });
    quote! { #(#inputs)* #(#outputs)* }
}

/// What to emit when the function has errors: the same items with a `Pipeline` impl that is
/// never run and the port types the signature names, so `pulse::run(name)`, a test harness's
/// `push::<0>` and other uses add no errors of their own.
pub fn fallback(f: &syn::ItemFn, g: &PipelineGraph) -> TokenStream {
    let ty = &f.sig.ident;
    let items = items(&f.vis, ty, quote!());
    let name = ty.to_string();
    let inputs = g.inputs.iter().enumerate().map(|(i, p)| {
        let item = &p.ty;
        quote!(impl ::pulse::__private::Input<#i> for #ty { type Item = #item; })
    });
    let outputs = crate::pipeline::ast::output_elems(&f.sig.output)
        .into_iter()
        .enumerate()
        .map(
            |(j, item)| quote!(impl ::pulse::__private::Output<#j> for #ty { type Item = #item; }),
        );
    quote! {
        #items
        #(#inputs)*
        #(#outputs)*

        const _: () = {
            impl ::pulse::__private::Pipeline for #ty {
                const NAME: &'static str = #name;
                const INPUTS: &'static [::pulse::__private::PortInfo] = &[];
                const OUTPUTS: &'static [::pulse::__private::PortInfo] = &[];
                const EXPLAIN: ::pulse::__private::Explain = ::pulse::__private::Explain { text: "", mermaid: "" };
                fn build(&self) -> impl ::pulse::__private::Graph + use<> {
                    ::pulse::__private::Unbuilt
                }
                fn open_source(&self, _: usize, _: &::pulse::__private::SourceSpec) -> ::pulse::Result<::std::boxed::Box<dyn ::pulse::__private::Source>> {
                    ::std::unimplemented!("the pipeline did not compile")
                }
                fn output_batch(&self, _: usize) -> ::std::option::Option<::std::boxed::Box<dyn ::pulse::__private::OutputBatch>> {
                    ::std::unimplemented!("the pipeline did not compile")
                }
                fn open_sink(&self, _: usize, _: &::pulse::__private::SinkSpec) -> ::pulse::Result<::std::boxed::Box<dyn ::pulse::__private::Sink>> {
                    ::std::unimplemented!("the pipeline did not compile")
                }
            }
        };
    }
}
