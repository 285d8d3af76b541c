//! Emits the pipeline type: one concrete graph of statically dispatched operators.
//!
//! Shape (see `shared/emission-pattern.md`): operators live in one inferred tuple; each entry
//! point is a non-capturing closure typed by a witness, destructuring the tuple for disjoint
//! borrows; operators call each other through nested `&mut FnMut(T, i64)` callbacks; fan-out
//! clones for all but the last consumer; fan-in nodes (union, join) buffer their input and are
//! drained in topological order; watermarks move in one topological pass.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::model::{Consumer, Kind, PipelineGraph, type_name};
use super::registry::Flow;

mod item;
mod ports;

pub use item::{emit, fallback};

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
        // Counted once per element where it is handed on: a node's input count is the sum of
        // what its inputs emitted, so one increment per element and node covers both.
        // Sources count per batch, and a node that emits what it receives is not counted.
        let op = self.g.nodes[node].kind.op();
        let count = if port == 1 {
            quote! { ::pulse::__private::ops::count(&__w.emitted_late[#node]); }
        } else if op.passes || op.flow == Flow::Source {
            quote!()
        } else {
            quote! { ::pulse::__private::ops::count(&__w.emitted[#node]); }
        };
        let cs = self.g.consumers(node, port);
        if cs.is_empty() {
            return quote! { #count let _ = (x, ts); };
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
        quote! { #count #(#pushes)* }
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
                if input == 0 {
                    quote! { #bk.buf.push((::pulse::__private::Either::Left(x), ts)); }
                } else {
                    // The right side takes the left side's key type here, at the user's
                    // argument: the one place a join of different keys is reported.
                    let push =
                        quote_spanned!(span=> ::pulse::__private::ops::push_right(#bk, x, ts));
                    quote! { #push; }
                }
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
                    // A span per operator and watermark step (RUST_LOG=trace): what fires in
                    // it, and how long it takes, is the operator's.
                    let id = &node.id;
                    quote! {
                        let __span = ::pulse::__private::tracing::trace_span!("operator", id = #id, watermark = m).entered();
                        #nk.on_watermark(m, &mut |x, ts| { #c });
                        drop(__span);
                    }
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
                    { let #pat = &mut *st; ::pulse::__private::ops::count_n(&__w.emitted[#k], batch.len()); }
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
}
