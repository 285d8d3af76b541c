//! The graph's entry points besides pushing input: watermarks and idleness per input, output
//! drains, the processing-time clock, state visitors, and the exchanges of parallel runs.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Emitter, n, o};
use crate::pipeline::model::{Consumer, type_name};
use crate::pipeline::registry::Flow;

impl Emitter<'_> {
    /// Every entry point the driver calls, as `let __name = ops::..(&st, ..);`.
    pub(super) fn ports(&self) -> TokenStream {
        let setters = self.setters();
        let clock = self.clock();
        let visitors = self.visitors();
        let exchanges = self.exchanges();
        quote! { #setters #clock #visitors #exchanges }
    }

    /// `__set_wm` and `__set_idle` per input port, `__drain_out` per output port.
    fn setters(&self) -> TokenStream {
        let pat = self.pattern();
        let sources: Vec<usize> = (0..self.g.nodes.len())
            .filter(|&k| self.g.nodes[k].kind.op().flow == Flow::Source)
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
        }
    }

    /// `__clock`: processing-time timers of every operator that has them.
    fn clock(&self) -> TokenStream {
        let pat = self.pattern();
        let clocks: Vec<_> = (0..self.g.nodes.len())
            .filter(|&k| self.g.nodes[k].kind.op().clock)
            .map(|k| {
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
        let after_clock = if clocks.is_empty() {
            quote!()
        } else {
            quote! { __prop(st); }
        };
        quote! {
            let __clock = ::pulse::__private::ops::clock(&st, move |st, now| {
                #(#clocks)*
                #after_clock
            });
        }
    }

    /// `__visit` and `__visit_mut`: every stateful operator by its stable id.
    fn visitors(&self) -> TokenStream {
        let pat = self.pattern();
        let visits: Vec<_> = self
            .g
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, nd)| nd.kind.op().stateful)
            .map(|(k, nd)| {
                let nk = n(k);
                let id = &nd.id;
                quote! { f(#id, #nk); }
            })
            .collect();
        quote! {
            let __visit = ::pulse::__private::ops::visitor(&st, |st, f| {
                let #pat = st;
                #(#visits)*
                f("__watermarks", __w);
            });
            let __visit_mut = ::pulse::__private::ops::visitor_mut(&st, |st, f| {
                let #pat = st;
                #(#visits)*
                f("__watermarks", __w);
            });
        }
    }

    /// The windowed aggregate that is all a `key_by` feeds: it pre-aggregates in parallel runs.
    fn combiner(&self, k: usize) -> Option<usize> {
        match self.g.consumers(k, 0).as_slice() {
            [Consumer::Node { node, .. }] if self.g.nodes[*node].kind.op().combines => Some(*node),
            _ => None,
        }
    }

    /// `__exchanges` (each exchange point, its combiner, and whether it reads the input's own
    /// order) and `__inject` (elements and partials arriving from other workers).
    fn exchanges(&self) -> TokenStream {
        let pat = self.pattern();
        let exchanges: Vec<usize> = (0..self.g.nodes.len())
            .filter(|&k| self.g.nodes[k].kind.op().exchange)
            .collect();
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
            let comb = match self.combiner(k) {
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
        let inject_arms = exchanges
            .iter()
            .enumerate()
            .map(|(e, &k)| self.inject_arm(e, k));
        quote! {
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

    /// What exchange `e` (node `k`) does with a batch from another worker: elements go on to
    /// the exchange's consumers, partials merge into its combiner.
    fn inject_arm(&self, e: usize, k: usize) -> TokenStream {
        let pat = self.pattern();
        let advanced = self.advanced();
        let nk = n(k);
        let c = self.to_consumers(k, 0);
        let merge = self.combiner(k).map(|w| {
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
    }
}
