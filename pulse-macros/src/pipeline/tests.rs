//! The macro as a compiler, without compiling user code: pipelines are parsed from tokens and
//! lowered, then the model (nodes, edges, ids) is checked through its `explain` text and
//! Mermaid chart, and every validation rule through the one error it reports.

use syn::parse_quote;

use super::lower::{Lowered, lower};
use crate::ctxt::Ctxt;

fn ok(f: syn::ItemFn) -> Lowered {
    let cx = Ctxt::new();
    let l = lower(&cx, &f);
    if let Err(e) = cx.check() {
        panic!("unexpected errors: {:?}", errors_of(e));
    }
    l
}

fn errors_of(e: syn::Error) -> Vec<String> {
    e.into_iter().map(|e| e.to_string()).collect()
}

/// The errors `f` gives: there must be exactly one, whose message is returned.
fn error(f: syn::ItemFn) -> String {
    let cx = Ctxt::new();
    let _ = lower(&cx, &f);
    let errs = errors_of(cx.check().expect_err("the pipeline has an error"));
    assert_eq!(errs.len(), 1, "one mistake, one error: {errs:?}");
    errs.into_iter().next().expect("one")
}

fn text(f: syn::ItemFn) -> String {
    ok(f).graph.to_text()
}

// ---- one per operator: the nodes, edges and ids it makes ----

#[test]
fn elementwise_operators_chain_in_order() {
    assert_eq!(
        text(parse_quote! {
            fn p(xs: Stream<E>) -> Stream<u64> {
                xs.map(|x| x).filter(|x| true).filter_map(|x| Some(x)).flat_map(|x| vec![x]).inspect(|x| ()).map(|x| 1u64)
            }
        }),
        "pipeline p
  [0] xs: E        p/xs
  [1] map          p/output/map <- [0]
  [2] filter       p/output/filter <- [1]
  [3] filter_map   p/output/filter_map <- [2]
  [4] flat_map     p/output/flat_map <- [3]
  [5] inspect      p/output/inspect <- [4]
  [6] map          p/output/map2 <- [5]
  output output: u64 <- [6]
"
    );
}

#[test]
fn window_aggregate_and_its_late_port() {
    let l = ok(parse_quote! {
        fn p(xs: Stream<E>) -> (Stream<W>, Stream<E>) {
            let counts = xs
                .watermark(BoundedOutOfOrderness::secs(5))
                .key_by(|x| x.k)
                .window(Tumbling::secs(10))
                .allowed_lateness(Duration::from_secs(1))
                .aggregate(Count);
            let late = counts.late();
            (counts, late)
        }
    });
    assert_eq!(
        l.graph.to_text(),
        "pipeline p
  [0] xs: E        p/xs
  [1] watermark    p/counts/watermark <- [0]  (BoundedOutOfOrderness::secs(5))
  [2] key_by       p/counts/key_by <- [1]
  [3] window       p/counts/window <- [2]  (Tumbling::secs(10), allowed_lateness Duration::from_secs(1), aggregate Count)
  [4] late         p/late/late <- [3].late
  output counts: W <- [3]
  output late: E <- [4]
"
    );
    // The window's assigner, lateness and aggregate become the constructor's arguments.
    let super::model::Kind::Op { ctor, args, .. } = &l.graph.nodes[3].kind else {
        panic!("an operator")
    };
    assert_eq!(*ctor, "window");
    assert_eq!(args.len(), 3);
    // Without `allowed_lateness` the lateness is zero.
    let l = ok(parse_quote! {
        fn p(xs: Stream<E>) -> Stream<W> {
            xs.key_by(|x| x.k).window(Tumbling::secs(10)).aggregate(Count)
        }
    });
    let super::model::Kind::Op { args, .. } = &l.graph.nodes[2].kind else {
        panic!("an operator")
    };
    let zero = &args[1];
    assert_eq!(
        quote::quote!(#zero).to_string(),
        ":: std :: time :: Duration :: ZERO"
    );
}

/// `--explain` shows what makes a node fire; closures are abbreviated.
#[test]
fn explain_shows_window_parameters_with_closures_abbreviated() {
    let l = ok(parse_quote! {
        fn p(xs: Stream<E>) -> Stream<W> {
            xs.key_by(|x| x.k).window(Session::with_gap(Duration::from_secs(30))).aggregate((Count, Sum(|x: &E| x.v)))
        }
    });
    assert_eq!(
        l.graph.params(2),
        "Session::with_gap(Duration::from_secs(30)), aggregate (Count,Sum(|..|))"
    );
    assert_eq!(l.graph.params(1), "", "key_by has none");
}

#[test]
fn union_has_every_argument_as_an_input() {
    assert_eq!(
        text(parse_quote! {
            fn p(a: Stream<E>, b: Stream<E>, c: Stream<E>) -> Stream<E> {
                a.union(b, c.filter(|x| true))
            }
        }),
        "pipeline p
  [0] a: E         p/a
  [1] b: E         p/b
  [2] c: E         p/c
  [3] filter       p/output/filter <- [2]
  [4] union        p/output/union <- [0], [1], [3]
  output output: E <- [4]
"
    );
}

#[test]
fn join_takes_two_keyed_sides() {
    let l = ok(parse_quote! {
        fn p(a: Stream<A>, b: Stream<B>) -> Stream<O> {
            let r = b.key_by(|x| x.k);
            a.key_by(|x| x.k).join(r, Tumbling::secs(10), |l, r| O {})
        }
    });
    assert_eq!(
        l.graph.to_text(),
        "pipeline p
  [0] a: A         p/a
  [1] b: B         p/b
  [2] key_by       p/r/key_by <- [1]
  [3] key_by       p/output/key_by <- [0]
  [4] join         p/output/join <- [3], [2]  (Tumbling::secs(10))
  output output: O <- [4]
"
    );
    let super::model::Kind::Op { args, .. } = &l.graph.nodes[4].kind else {
        panic!("an operator")
    };
    assert_eq!(args.len(), 2, "the window and the function");
}

#[test]
fn process_with_and_without_timers() {
    let l = ok(parse_quote! {
        fn p(xs: Stream<E>) -> (Stream<u64>, Stream<u64>) {
            let keyed = xs.key_by(|x| x.k);
            let a = keyed.process(|ctx, x| 1u64);
            let b = keyed.process(|ctx, x| 1u64).on_timer(|ctx, t| 2u64);
            (a, b)
        }
    });
    let ctors: Vec<&str> = l
        .graph
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            super::model::Kind::Op { ctor, .. } => Some(*ctor),
            _ => None,
        })
        .collect();
    assert_eq!(ctors, ["key_by", "process", "process_timers"]);
    assert_eq!(l.fan_outs.len(), 1, "`keyed` is read twice");
    assert_eq!(l.fan_outs[0].node, 1);
}

#[test]
fn name_sets_the_stable_id() {
    assert_eq!(
        text(parse_quote! {
            fn p(xs: Stream<E>) -> Stream<W> {
                xs.key_by(|x| x.k).name("by-k").window(Tumbling::secs(1)).aggregate(Count).name("counts")
            }
        }),
        "pipeline p
  [0] xs: E        p/xs
  [1] key_by       p/by-k <- [0]
  [2] window       p/counts <- [1]  (Tumbling::secs(1), aggregate Count)
  output output: W <- [2]
"
    );
}

#[test]
fn mermaid_draws_sources_outputs_and_late_edges() {
    let l = ok(parse_quote! {
        fn p(xs: Stream<E>) -> (Stream<W>, Stream<E>) {
            let counts = xs.key_by(|x| x.k).window(Tumbling::secs(10)).aggregate(Count);
            (counts, counts.late())
        }
    });
    assert_eq!(
        l.graph.to_mermaid(),
        "flowchart LR
  n0([\"xs: E\"])
  n1[\"key_by\"]
  n2[\"window: Tumbling::secs(10), aggregate Count\"]
  n3[\"late\"]
  o0[[\"counts: W\"]]
  o1[[\"out1: E\"]]
  n0 --> n1
  n1 --> n2
  n2 -. late .-> n3
  n2 --> o0
  n3 --> o1
"
    );
}

// ---- one per validation rule: exactly one error, saying what to write ----

#[test]
fn unknown_operators_list_the_known_ones() {
    let e = error(parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.mapp(|x| x) } });
    assert!(
        e.starts_with("unknown operator `mapp`; expected one of: map, filter"),
        "{e}"
    );
    assert!(e.contains("process, on_timer, name"), "{e}");
}

#[test]
fn shape_rules() {
    let cases: &[(syn::ItemFn, &str)] = &[
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<W> { xs.window(Tumbling::secs(1)).aggregate(Count) } },
            "`window` needs a keyed stream; call `.key_by(|x| ..)` first",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<W> { xs.key_by(|x| 1).aggregate(Count) } },
            "`aggregate` is only allowed on a window; write `.key_by(..).window(..).aggregate(..)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.allowed_lateness(D) } },
            "`allowed_lateness` is only allowed right after `.window(..)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.key_by(|x| 1).window(T).map(|x| x) } },
            "`window(..)` must be followed by `.aggregate(..)`, e.g. `.window(Tumbling::secs(10)).aggregate(Count)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.key_by(|x| 1).window(T) } },
            "`window(..)` must be followed by `.aggregate(..)`, e.g. `.window(Tumbling::secs(10)).aggregate(Count)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.late() } },
            "`late()` is the late-element output of a windowed aggregate; call it on `.window(..).aggregate(..)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.key_by(|x| 1).map(|x| x) } },
            "`map` is not available on a keyed stream; a keyed stream feeds `window`, `join` or `process`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.process(|c, x| x) } },
            "`process` needs a keyed stream for its per-key state; call `.key_by(|x| ..)` first",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>, ys: Stream<E>) -> Stream<E> { xs.join(ys, T, |l, r| l) } },
            "`join` needs a keyed stream on both sides; call `.key_by(|x| ..)` first",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>, ys: Stream<E>) -> Stream<E> { xs.key_by(|x| 1).join(ys, T, |l, r| l) } },
            "the other side of `join` must be keyed too; call `.key_by(|x| ..)` on it",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>, ys: Stream<E>) -> Stream<E> { xs.union(ys.key_by(|y| 1)) } },
            "`union` merges unkeyed streams; union before `key_by`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.key_by(|x| 1).process(|c, x| x).on_timer(|c, t| 1).on_timer(|c, t| 2) } },
            "this `process` already has an `on_timer`; handle every timer in one function",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.map(|x| x).on_timer(|c, t| 1) } },
            "`on_timer` is only allowed right after `.process(..)`: `.process(|ctx, x| ..).on_timer(|ctx, timer| ..)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.key_by(|x| 1).window(T).name("w").aggregate(Count) } },
            "name the aggregate, not the window: `.window(..).aggregate(..).name(\"..\")`",
        ),
    ];
    for (f, want) in cases {
        assert_eq!(error(f.clone()), *want);
    }
}

#[test]
fn call_rules() {
    let cases: &[(syn::ItemFn, &str)] = &[
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<u64> { xs.map(|x| x.v, 2) } },
            "`map` takes 1 argument, found 2; write `map(|x| ..)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.union() } },
            "`union` takes at least one other stream: `a.union(b)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<u64> { xs.map::<u64>(|x| x.v) } },
            "pipeline operators take no type arguments; annotate the closure parameter instead",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.name(x) } },
            "`name` takes one string literal: `.name(\"parse\")`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.map(|x| x).name("a").filter(|x| true).name("a") } },
            "operator name `a` is used twice; operator names must be unique within a pipeline",
        ),
    ];
    for (f, want) in cases {
        assert_eq!(error(f.clone()), *want);
    }
}

#[test]
fn binding_rules() {
    let cases: &[(syn::ItemFn, &str)] = &[
        (
            parse_quote! { fn p(xs: Stream<E>, ys: Stream<E>) -> Stream<E> { xs } },
            "input `ys` is never used; route it to an operator or an output, or remove it",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { let a = xs.map(|x| x); xs } },
            "stream `a` is never used; route it to an operator or an output, or remove it",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { ys } },
            "`ys` is not a stream of this pipeline; expected an input or a `let` binding",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { xs.map(|x| x); xs } },
            "a stream expression here is never used; bind it with `let` and return it, or remove it",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { let (a, b) = xs; a } },
            "bind a stream to a plain name, e.g. `let keyed = ..;`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { let a = xs else { return }; a } },
            "a stream binding cannot have an `else` branch",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { f(xs) } },
            "expected a stream: a pipeline input, a `let` binding, or a method chain on one",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>, ys: Stream<E>) -> (Stream<E>, Stream<E>) { xs } },
            "the signature returns 2 stream(s) but this returns 1",
        ),
    ];
    for (f, want) in cases {
        assert_eq!(error(f.clone()), *want);
    }
}

/// A binding whose chain was refused is not reported again where it is used.
#[test]
fn a_refused_binding_is_not_reported_again() {
    let e = error(parse_quote! {
        fn p(xs: Stream<E>) -> Stream<E> { let a = xs.mapp(|x| x); a.filter(|x| true) }
    });
    assert!(e.starts_with("unknown operator `mapp`"), "{e}");
}

/// A refused `union` leaves its argument unread: that is not a second mistake.
#[test]
fn never_used_is_not_reported_beside_another_error() {
    let e = error(parse_quote! {
        fn p(xs: Stream<E>, ys: Stream<E>) -> Stream<E> { xs.key_by(|x| 1).union(ys) }
    });
    assert!(
        e.starts_with("`union` is not available on a keyed stream"),
        "{e}"
    );
}

#[test]
fn signature_rules() {
    let cases: &[(syn::ItemFn, &str)] = &[
        (
            parse_quote! { async fn p(xs: Stream<E>) -> Stream<E> { xs } },
            "a pipeline function cannot be `async`; the runtime drives it",
        ),
        (
            parse_quote! { fn p<T>(xs: Stream<T>) -> Stream<T> { xs } },
            "a pipeline function cannot be generic; name the event types",
        ),
        (
            parse_quote! { fn p(self, xs: Stream<E>) -> Stream<E> { xs } },
            "a pipeline function takes no `self`; its parameters are `Stream<T>` inputs",
        ),
        (
            parse_quote! { fn p(xs: Vec<E>) -> Stream<E> { xs } },
            "pipeline parameters must be `Stream<T>` where `T: Event`, e.g. `bids: Stream<Bid>`",
        ),
        (
            parse_quote! { fn p((a, b): Stream<E>) -> Stream<E> { a } },
            "name each pipeline input with a plain identifier, e.g. `bids: Stream<Bid>`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Vec<E> { xs } },
            "the pipeline must return `Stream<T>` or a tuple of streams such as `(Stream<A>, Stream<B>)`",
        ),
        (
            parse_quote! { fn p(xs: Stream<E>) -> Stream<E> { let a = 1; } },
            "the pipeline must end with the stream(s) it returns, e.g. `counts` or `(counts, late)`",
        ),
    ];
    for (f, want) in cases {
        assert_eq!(error(f.clone()), *want);
    }
}
