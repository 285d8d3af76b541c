//! Emits the pipeline type: one concrete graph of statically dispatched operators.
//!
//! Shape (see `shared/emission-pattern.md`): operators live in one inferred tuple; each entry
//! point is a non-capturing closure typed by a witness, destructuring the tuple for disjoint
//! borrows; operators call each other through nested `&mut FnMut(T, i64)` callbacks; fan-out
//! clones for all but the last consumer; fan-in nodes (union, join) buffer their input and are
//! drained in topological order; watermarks move in one topological pass.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::lower::Lowered;
use super::model::{Consumer, Kind, PipelineGraph, type_name};
use super::registry::Flow;

/// `kind` with every closure in its arguments made `move`: the graph keeps them for the whole
/// run, so they must own what they capture, and a user who forgot `move` would otherwise meet
/// `borrowed value does not live long enough` at a local that is only read.
fn owned(kind: &Kind) -> Kind {
    let mut kind = kind.clone();
    if let Kind::Op { args, .. } = &mut kind {
        args.iter_mut().for_each(make_move);
    }
    kind
}

/// Makes `e` and the closures among its arguments (`Sum(|b: &Bid| ..)`, a tuple of such)
/// `move`.
fn make_move(e: &mut syn::Expr) {
    match e {
        syn::Expr::Closure(c) if c.capture.is_none() => {
            c.capture = Some(syn::Token![move](c.inputs_begin.span));
        }
        syn::Expr::Call(c) => c.args.iter_mut().for_each(make_move),
        syn::Expr::MethodCall(c) => c.args.iter_mut().for_each(make_move),
        syn::Expr::Tuple(t) => t.elems.iter_mut().for_each(make_move),
        syn::Expr::Paren(p) => make_move(&mut p.expr),
        _ => {}
    }
}

// Generated locals sit beside the user's own (the pipeline body's `let`s, which its closures
// capture): the `__pulse_` prefix keeps them apart, so a user's `n1` is never an operator.
fn n(k: usize) -> syn::Ident {
    format_ident!("__pulse_n{}", k)
}
fn b(k: usize) -> syn::Ident {
    format_ident!("__pulse_b{}", k)
}
fn o(j: usize) -> syn::Ident {
    format_ident!("__pulse_o{}", j)
}

struct Emitter<'a> {
    g: &'a PipelineGraph,
}

impl Emitter<'_> {
    /// Every slot of the state tuple, in order: nodes, join buffers, outputs, marks.
    fn slots(&self) -> Vec<syn::Ident> {
        let mut v: Vec<_> = (0..self.g.nodes.len()).map(n).collect();
        for (k, node) in self.g.nodes.iter().enumerate() {
            if node.kind.op().flow == Flow::BufferedPair {
                v.push(b(k));
            }
        }
        v.extend((0..self.g.outputs.len()).map(o));
        v.push(format_ident!("__w"));
        v
    }

    fn pattern(&self) -> TokenStream {
        let s = self.slots();
        quote!((#(#s),*))
    }

    /// Code that hands `x` (at `ts`) to every consumer of `(node, port)`.
    fn to_consumers(&self, node: usize, port: u8) -> TokenStream {
        let cs = self.g.consumers(node, port);
        if cs.is_empty() {
            return quote! { let _ = (x, ts); };
        }
        let last = cs.len() - 1;
        let pushes = cs.iter().enumerate().map(|(i, c)| {
            let push = self.push_into(*c);
            if i == last {
                push
            } else {
                let span = match c {
                    Consumer::Node { span, .. } => *span,
                    Consumer::Output(j) => self.g.outputs[*j].port.span,
                };
                let clone = quote_spanned!(span=> ::pulse::__private::ops::fan_out(&x));
                quote! { { let x = #clone; #push } }
            }
        });
        quote! { #(#pushes)* }
    }

    /// Code that pushes `x` into one consumer.
    fn push_into(&self, c: Consumer) -> TokenStream {
        let (k, input, span) = match c {
            Consumer::Output(j) => {
                let oj = o(j);
                let push = quote_spanned!(self.g.outputs[j].port.span=> ::pulse::__private::ops::push_output(#oj, x, ts));
                return quote! { #push; };
            }
            Consumer::Node { node, input, span } => (node, input, span),
        };
        let nk = n(k);
        let node = &self.g.nodes[k];
        match node.kind.op().flow {
            Flow::Buffered => {
                let push = quote_spanned!(span=> #nk.push(x, ts));
                quote! { #push; }
            }
            Flow::BufferedPair => {
                let bk = b(k);
                let side = if input == 0 {
                    quote!(Left)
                } else {
                    quote!(Right)
                };
                quote! { #bk.buf.push((::pulse::__private::Either::#side(x), ts)); }
            }
            Flow::PassThrough => self.to_consumers(k, 0),
            Flow::WithLate => {
                let main = self.to_consumers(k, 0);
                let late = self.to_consumers(k, 1);
                quote! { #nk.push(x, ts, &mut |x, ts| { #main }, &mut |x, ts| { #late }); }
            }
            Flow::Unary | Flow::Source => {
                let main = self.to_consumers(k, 0);
                quote! { #nk.push(x, ts, &mut |x, ts| { #main }); }
            }
        }
    }

    /// `let nK = ops::..(&upstream, args);` for every node, spanned at the user's operator.
    fn constructors(&self) -> TokenStream {
        let mut out = TokenStream::new();
        for (k, node) in self.g.nodes.iter().enumerate() {
            let nk = n(k);
            let sp = node.span;
            let kind = owned(&node.kind);
            let ctor = match &kind {
                Kind::Source { ty, .. } => {
                    let ts = syn::spanned::Spanned::span(ty);
                    quote_spanned!(ts=> ::pulse::__private::ops::source::<#ty>())
                }
                Kind::Op { op, ctor, args } => {
                    let ctor = format_ident!("{}", ctor, span = sp);
                    let ups: Vec<_> = node.inputs.iter().map(|e| n(e.from)).collect();
                    if op.flow == Flow::BufferedPair {
                        let bk = b(k);
                        let (l, r) = (&ups[0], &ups[1]);
                        out.extend(
                            quote! { let #bk = ::pulse::__private::ops::join_input(&#l, &#r); },
                        );
                    }
                    // A fan-in node's type comes from its first input; the others are checked
                    // where they are pushed.
                    let ups = if op.flow == Flow::Buffered {
                        &ups[..1]
                    } else {
                        &ups[..]
                    };
                    quote_spanned!(sp=> ::pulse::__private::ops::#ctor(#(&#ups,)* #(#args),*))
                }
            };
            if node.kind.op().stateful {
                let id = &node.id;
                out.extend(quote! { let #nk = ::pulse::__private::ops::identify(#ctor, #id); });
            } else {
                out.extend(quote! { let #nk = #ctor; });
            }
        }
        for (j, out_port) in self.g.outputs.iter().enumerate() {
            let oj = o(j);
            let ty = &out_port.port.ty;
            out.extend(quote! { let #oj: ::std::vec::Vec<(#ty, i64)> = ::std::vec::Vec::new(); });
        }
        out
    }

    fn fan_in_nodes(&self) -> Vec<usize> {
        (0..self.g.nodes.len())
            .filter(|&k| self.g.nodes[k].kind.op().is_fan_in())
            .collect()
    }

    /// One drain closure per fan-in node, and `__drain` running them in topological order.
    fn drains(&self) -> TokenStream {
        let pat = self.pattern();
        let mut out = TokenStream::new();
        let mut names = vec![];
        for k in self.fan_in_nodes() {
            let name = format_ident!("__drain_{}", k);
            let nk = n(k);
            let body = match self.g.nodes[k].kind.op().flow {
                Flow::Buffered => {
                    let c = self.to_consumers(k, 0);
                    quote! { for (x, ts) in #nk.buf.drain(..) { #c } }
                }
                _ => {
                    let bk = b(k);
                    let c = self.to_consumers(k, 0);
                    quote! { for (x, ts) in #bk.buf.drain(..) { #nk.push(x, ts, &mut |x, ts| { #c }); } }
                }
            };
            out.extend(quote! {
                let #name = ::pulse::__private::ops::step(&st, |st| { let #pat = &mut *st; #body });
            });
            names.push(name);
        }
        out.extend(quote! {
            let __drain = ::pulse::__private::ops::step(&st, move |st| { #( #names(st); )* });
        });
        out
    }

    /// The watermark pass: every node in topological order, min over inputs.
    fn propagate(&self) -> TokenStream {
        let pat = self.pattern();
        let steps = self
            .g
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, nd)| nd.kind.op().flow != Flow::Source)
            .map(|(k, node)| {
                let nk = n(k);
                let inputs: Vec<usize> = node.inputs.iter().map(|e| e.from).collect();
                let op = node.kind.op();
                let drain = if op.is_fan_in() {
                    let d = format_ident!("__drain_{}", k);
                    quote! { #d(st); }
                } else {
                    quote!()
                };
                let fire = if op.on_watermark {
                    let c = self.to_consumers(k, 0);
                    quote! { #nk.on_watermark(m, &mut |x, ts| { #c }); }
                } else {
                    quote!()
                };
                let out_wm = if op.makes_watermark {
                    quote! { #nk.current().max(__w.inp[#k]) }
                } else if op.exchange {
                    quote! { #nk.combine(__w.inp[#k]) }
                } else {
                    quote! { __w.inp[#k] }
                };
                quote! {
                    #drain
                    {
                        let #pat = &mut *st;
                        __w.idle[#k] = [#(#inputs),*].iter().all(|&i| __w.idle[i]);
                        if let ::std::option::Option::Some(m) = __w.min_over(&[#(#inputs),*]) {
                            if m > __w.inp[#k] {
                                __w.inp[#k] = m;
                                #fire
                            }
                        }
                        __w.out[#k] = #out_wm;
                    }
                }
            });
        quote! {
            let __prop = ::pulse::__private::ops::step(&st, move |st| {
                #(#steps)*
            });
        }
    }

    /// Whether a watermark operator moved past what it last forwarded.
    fn advanced(&self) -> TokenStream {
        let pat = self.pattern();
        let wm_checks = (0..self.g.nodes.len())
            .filter(|&k| self.g.nodes[k].kind.op().makes_watermark)
            .map(|k| {
                let nk = n(k);
                quote! { || #nk.current() > __w.out[#k] }
            });
        quote! { { let #pat = &*st; false #(#wm_checks)* } }
    }

    fn push_arms(&self) -> TokenStream {
        let pat = self.pattern();
        let advanced = self.advanced();
        let arms = self.g.nodes.iter().enumerate().filter_map(|(k, node)| {
            let Kind::Source { port, ty } = &node.kind else {
                return None;
            };
            let nk = n(k);
            let c = self.to_consumers(k, 0);
            let msg = format!("input {port} takes batches of `{}`", type_name(ty));
            let tspan = syn::spanned::Spanned::span(ty);
            let event_time = quote_spanned!(tspan=> ::pulse::__private::Event::event_time(&x));
            Some(quote! {
                #port => {
                    let batch = batch.downcast_mut::<::std::vec::Vec<#ty>>().expect(#msg);
                    // An idle input becomes active again when it has data.
                    let was_idle = { let #pat = &mut *st; ::std::mem::replace(&mut __w.idle[#k], false) };
                    if was_idle && !batch.is_empty() {
                        __prop(st);
                    }
                    for x in batch.drain(..) {
                        let ts = #event_time.millis();
                        {
                            let #pat = &mut *st;
                            #nk.push(x, ts, &mut |x, ts| { #c });
                        }
                        __drain(st);
                        if #advanced {
                            __prop(st);
                        }
                    }
                }
            })
        });
        quote! {
            let __push = ::pulse::__private::ops::pusher(&st, move |st, port, batch| {
                match port {
                    #(#arms)*
                    _ => panic!("no input port {port}"),
                }
            });
        }
    }

    fn ports(&self) -> TokenStream {
        let pat = self.pattern();
        let sources: Vec<usize> = self
            .g
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, nd)| nd.kind.op().flow == Flow::Source)
            .map(|(k, _)| k)
            .collect();
        let nsrc = sources.len();
        let drain_arms = self.g.outputs.iter().enumerate().map(|(j, op)| {
            let oj = o(j);
            let ty = &op.port.ty;
            let msg = format!("output {j} takes batches of `({}, i64)`", type_name(ty));
            quote! {
                #j => ::pulse::__private::ops::take_output(out.downcast_mut::<::std::vec::Vec<(#ty, i64)>>().expect(#msg), #oj),
            }
        });
        let stateful: Vec<_> = self
            .g
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, nd)| nd.kind.op().stateful)
            .collect();
        let visits = stateful.iter().map(|(k, nd)| {
            let nk = n(*k);
            let id = &nd.id;
            quote! { f(#id, #nk); }
        });
        let visits_mut = visits.clone();
        let clocks: Vec<_> = self
            .g
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, nd)| nd.kind.op().clock)
            .map(|(k, _)| {
                let nk = n(k);
                let c = self.to_consumers(k, 0);
                quote! {
                    {
                        let #pat = &mut *st;
                        #nk.on_processing_time(now, &mut |x, ts| { #c });
                    }
                    __drain(st);
                }
            })
            .collect();
        let advanced = self.advanced();
        let exchanges: Vec<usize> = (0..self.g.nodes.len())
            .filter(|&k| self.g.nodes[k].kind.op().exchange)
            .collect();
        // The windowed aggregate that is all a `key_by` feeds pre-aggregates in parallel runs.
        let combiner = |k: usize| match self.g.consumers(k, 0).as_slice() {
            [Consumer::Node { node, .. }] if self.g.nodes[*node].kind.op().combines => Some(*node),
            _ => None,
        };
        // Whether another `key_by` lies upstream of node `k`: its elements then arrive from that
        // exchange's owners, not in the order of the input (nodes are in topological order).
        let mut behind_exchange = vec![false; self.g.nodes.len()];
        for k in 0..self.g.nodes.len() {
            behind_exchange[k] = self.g.nodes[k]
                .inputs
                .iter()
                .any(|e| behind_exchange[e.from] || self.g.nodes[e.from].kind.op().exchange);
        }
        let visit_ex = exchanges.iter().enumerate().map(|(e, &k)| {
            let nk = n(k);
            let first = !behind_exchange[k];
            let comb = match combiner(k) {
                Some(w) => {
                    let nw = n(w);
                    quote! {{
                        #[allow(unused_imports)]
                        use ::pulse::__private::ops::{NoCombiner as _, ViaCombiner as _};
                        (&&::pulse::__private::ops::CombinerProbe::new(#nw)).combiner()
                    }}
                }
                None => quote!(::std::option::Option::None),
            };
            quote! {
                f(#e, {
                    #[allow(unused_imports)]
                    use ::pulse::__private::ops::{NoExchange as _, ViaExchange as _};
                    (&&::pulse::__private::ops::ExchangeProbe::new(#nk)).exchange()
                }, #comb, #first);
            }
        });
        let inject_arms = exchanges.iter().enumerate().map(|(e, &k)| {
            let nk = n(k);
            let c = self.to_consumers(k, 0);
            let merge = combiner(k).map(|w| {
                let nw = n(w);
                let c = self.to_consumers(w, 0);
                quote! {
                    (#e, true) => {
                        let batch = {
                            let #pat = &mut *st;
                            ::pulse::__private::ops::partial_batch(&*#nw, batch)
                        };
                        for __partial in batch.drain(..) {
                            {
                                let #pat = &mut *st;
                                #nw.merge(__partial, &mut |x, ts| { #c });
                            }
                            __drain(st);
                            if #advanced {
                                __prop(st);
                            }
                        }
                    }
                }
            });
            quote! {
                (#e, false) => {
                    let batch = {
                        let #pat = &mut *st;
                        ::pulse::__private::ops::exchange_batch(&*#nk, batch)
                    };
                    for (x, ts, wm) in batch.drain(..) {
                        if { let #pat = &mut *st; #nk.arrive(wm) } {
                            __prop(st);
                        }
                        {
                            let #pat = &mut *st;
                            #c
                        }
                        __drain(st);
                        if #advanced {
                            __prop(st);
                        }
                    }
                }
                #merge
            }
        });
        let after_clock = if clocks.is_empty() {
            quote!()
        } else {
            quote! { __prop(st); }
        };
        quote! {
            let __srcs: [usize; #nsrc] = [#(#sources),*];
            let __set_wm = ::pulse::__private::ops::setter(&st, move |st, port, wm| {
                {
                    let #pat = &mut *st;
                    let k = __srcs[port];
                    if wm > __w.out[k] {
                        __w.out[k] = wm;
                    }
                }
                __prop(st);
            });
            let __set_idle = ::pulse::__private::ops::idler(&st, move |st, port, idle| {
                {
                    let #pat = &mut *st;
                    __w.idle[__srcs[port]] = idle;
                }
                __prop(st);
            });
            let __drain_out = ::pulse::__private::ops::drainer(&st, |st, port, out| {
                let #pat = &mut *st;
                match port {
                    #(#drain_arms)*
                    _ => panic!("no output port {port}"),
                }
            });
            let __clock = ::pulse::__private::ops::clock(&st, move |st, now| {
                #(#clocks)*
                #after_clock
            });
            let __visit = ::pulse::__private::ops::visitor(&st, |st, f| {
                let #pat = st;
                #(#visits)*
                f("__watermarks", __w);
            });
            let __visit_mut = ::pulse::__private::ops::visitor_mut(&st, |st, f| {
                let #pat = st;
                #(#visits_mut)*
                f("__watermarks", __w);
            });
            let __exchanges = ::pulse::__private::ops::exchanger(&st, |st, f| {
                let #pat = st;
                #(#visit_ex)*
            });
            let __inject = ::pulse::__private::ops::injector(&st, move |st, ex, partials, batch| {
                match (ex, partials) {
                    #(#inject_arms)*
                    _ => panic!("no exchange {ex} (partials: {partials})"),
                }
            });
        }
    }
}

pub fn emit(vis: &syn::Visibility, attrs: &[syn::Attribute], parsed: &Lowered) -> TokenStream {
    let g = &parsed.graph;
    let e = Emitter { g };
    let name = syn::Ident::new(&g.name, Span::call_site());
    let name_str = &g.name;
    let prelude = &parsed.prelude;
    let ctors = e.constructors();
    let fan_out_checks = parsed.fan_outs.iter().map(|f| {
        let nk = n(f.node);
        quote_spanned!(f.span=> ::pulse::__private::ops::check_fan_out(&#nk);)
    });
    let slots = e.slots();
    let count = g.nodes.len();
    let inits = slots.iter().map(|s| {
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
    let input_impls = g.inputs.iter().enumerate().map(|(i, p)| {
        let ty = &p.ty;
        quote!(impl ::pulse::__private::Input<#i> for #name { type Item = #ty; })
    });
    let output_impls = g.outputs.iter().enumerate().map(|(j, p)| {
        let ty = &p.port.ty;
        quote!(impl ::pulse::__private::Output<#j> for #name { type Item = #ty; })
    });
    let doc =
        format!("The `{name_str}` pipeline, compiled by `#[pipeline]`.\n\n```text\n{text}```");
    let docs: Vec<_> = attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    let doc_attr = if docs.is_empty() {
        quote!(#[doc = #doc])
    } else {
        quote!(#(#docs)*)
    };
    quote! {
        #doc_attr
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #name;

        const _: () = {
            #[automatically_derived]
            impl ::pulse::__private::Pipeline for #name {
                const NAME: &'static str = #name_str;
                const INPUTS: &'static [::pulse::__private::PortInfo] = &[#(#inputs),*];
                const OUTPUTS: &'static [::pulse::__private::PortInfo] = &[#(#outputs),*];
                const EXPLAIN: ::pulse::__private::Explain = ::pulse::__private::Explain { text: #text, mermaid: #mermaid };

                #[allow(unused, clippy::all)]
                fn build(&self) -> impl ::pulse::__private::Graph + use<> {
                    // The pipeline's unit struct would make every `|#name|` closure parameter
                    // and `let #name` in the body a pattern of that struct; a function of the
                    // same name shadows it here, and a binding may shadow a function.
                    #[allow(non_snake_case, dead_code)]
                    fn #name() {}
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

                fn open_source(&self, port: usize, spec: &::pulse::__private::SourceSpec) -> ::pulse::Result<::std::boxed::Box<dyn ::pulse::__private::Source>> {
                    match port {
                        #(#open_sources)*
                        _ => ::std::result::Result::Err(::pulse::Error::config(::std::format!("pipeline `{}` has no input {port}", #name_str))),
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
                        _ => ::std::result::Result::Err(::pulse::Error::config(::std::format!("pipeline `{}` has no output {port}", #name_str))),
                    }
                }
            }
            #(#input_impls)*
            #(#output_impls)*
        };
    }
}

/// What to emit when the function has errors: the type, so uses of it do not add errors.
pub fn fallback(f: &syn::ItemFn) -> TokenStream {
    let vis = &f.vis;
    let name = &f.sig.ident;
    quote! {
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #name;
    }
}
