//! Parses a `#[pipeline]` function into a [`PipelineGraph`], checking every rule as it goes.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;

use super::model::{Edge, Kind, Node, OutputPort, PipelineGraph, Port};
use crate::ctxt::Ctxt;

/// Operators a stream expression may call, for the "unknown operator" message.
pub const KNOWN_OPS: &[&str] = &[
    "map",
    "filter",
    "filter_map",
    "flat_map",
    "inspect",
    "key_by",
    "watermark",
    "window",
    "allowed_lateness",
    "aggregate",
    "late",
    "union",
    "join",
    "process",
    "on_timer",
    "name",
];

/// The shape of a stream value, which decides the operators it accepts.
#[derive(Clone)]
enum Shape {
    Plain,
    Keyed,
    /// Output of a windowed aggregate: a plain stream that also has `.late()`.
    Aggregated,
    /// `keyed.window(w)`, waiting for `.aggregate(..)`.
    Windowed {
        assigner: Box<syn::Expr>,
        lateness: Option<Box<syn::Expr>>,
        span: Span,
    },
}

#[derive(Clone)]
struct Value {
    node: usize,
    port: u8,
    shape: Shape,
}

struct Binding {
    value: Value,
    uses: usize,
    ident: syn::Ident,
    is_input: bool,
}

/// A fan-out: the second (or later) use of `(node, port)`, where elements must be cloned.
pub struct FanOut {
    pub node: usize,
    pub span: Span,
}

pub struct Parsed {
    pub graph: PipelineGraph,
    /// Statements of the body that are not stream bindings, kept verbatim.
    pub prelude: Vec<syn::Stmt>,
    pub fan_outs: Vec<FanOut>,
}

struct Parser<'a> {
    cx: &'a Ctxt,
    graph: PipelineGraph,
    env: HashMap<String, Binding>,
    uses: HashMap<(usize, u8), usize>,
    fan_outs: Vec<FanOut>,
    /// The binding whose chain is being parsed, for operator ids.
    scope: String,
    op_counts: HashMap<(String, &'static str), usize>,
}

pub fn parse(cx: &Ctxt, f: &syn::ItemFn) -> Option<Parsed> {
    check_signature(cx, f);
    let name = f.sig.ident.to_string();
    let mut p = Parser {
        cx,
        graph: PipelineGraph {
            name: name.clone(),
            inputs: vec![],
            nodes: vec![],
            outputs: vec![],
        },
        env: HashMap::new(),
        uses: HashMap::new(),
        fan_outs: vec![],
        scope: String::new(),
        op_counts: HashMap::new(),
    };
    for arg in &f.sig.inputs {
        p.input(arg);
    }
    let out_types = output_types(cx, &f.sig.output);
    let mut prelude = vec![];
    let mut ret: Option<&syn::Expr> = None;
    let stmts = &f.block.stmts;
    for (i, stmt) in stmts.iter().enumerate() {
        match stmt {
            syn::Stmt::Local(local) if p.is_stream_let(local) => p.let_binding(local),
            syn::Stmt::Expr(e, None) if i + 1 == stmts.len() => ret = Some(e),
            syn::Stmt::Expr(syn::Expr::Return(r), _) if i + 1 == stmts.len() => match &r.expr {
                Some(e) => ret = Some(e),
                None => cx.error_spanned_by(r, "the pipeline must return its output streams"),
            },
            syn::Stmt::Expr(e, _) if p.root_is_stream(e) => {
                cx.error_spanned_by(e, "a stream expression here is never used; bind it with `let` and return it, or remove it")
            }
            other => prelude.push(other.clone()),
        }
    }
    match (ret, out_types) {
        (None, _) => cx.error_at(
            f.block.brace_token.span.close(),
            "the pipeline must end with the stream(s) it returns, e.g. `counts` or `(counts, late)`",
        ),
        (Some(e), Some(types)) => p.outputs(e, types),
        (Some(_), None) => return Some(Parsed { graph: p.graph, prelude, fan_outs: p.fan_outs }),
    }
    // A stream left unread is often the follow-on of an earlier mistake (the argument of a
    // `union` or `join` that was refused, a returned tuple of the wrong size): one mistake,
    // one error, so it is reported only when nothing else is.
    if !cx.has_errors() {
        p.check_unused();
    }
    Some(Parsed {
        graph: p.graph,
        prelude,
        fan_outs: p.fan_outs,
    })
}

// The function becomes a type with a fixed graph: async, generics and receivers have no meaning.
fn check_signature(cx: &Ctxt, f: &syn::ItemFn) {
    if let Some(a) = &f.sig.asyncness {
        cx.error_spanned_by(
            a,
            "a pipeline function cannot be `async`; the runtime drives it",
        );
    }
    if !f.sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &f.sig.generics,
            "a pipeline function cannot be generic; name the event types",
        );
    }
}

/// The element types of `-> Stream<T>` or `-> (Stream<A>, Stream<B>)`.
fn output_types(cx: &Ctxt, ret: &syn::ReturnType) -> Option<Vec<(syn::Type, Span)>> {
    const MSG: &str = "the pipeline must return `Stream<T>` or a tuple of streams such as `(Stream<A>, Stream<B>)`";
    let ty = match ret {
        syn::ReturnType::Default => {
            cx.error_at(Span::call_site(), MSG);
            return None;
        }
        syn::ReturnType::Type(_, ty) => ty,
    };
    let types: Vec<&syn::Type> = match &**ty {
        syn::Type::Tuple(t) if !t.elems.is_empty() => t.elems.iter().collect(),
        other => vec![other],
    };
    let mut out = vec![];
    for t in types {
        match stream_elem(t) {
            Some(e) => out.push((e.clone(), t.span())),
            None => {
                cx.error_spanned_by(t, MSG);
                return None;
            }
        }
    }
    Some(out)
}

/// `T` of `Stream<T>` (any path ending in `Stream`).
fn stream_elem(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Stream" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(t)] => Some(t),
        _ => None,
    }
}

fn root_ident(e: &syn::Expr) -> Option<&syn::Ident> {
    match e {
        syn::Expr::MethodCall(m) => root_ident(&m.receiver),
        syn::Expr::Paren(p) => root_ident(&p.expr),
        syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    }
}

impl Parser<'_> {
    fn input(&mut self, arg: &syn::FnArg) {
        let syn::FnArg::Typed(pt) = arg else {
            self.cx.error_spanned_by(
                arg,
                "a pipeline function takes no `self`; its parameters are `Stream<T>` inputs",
            );
            return;
        };
        let syn::Pat::Ident(pi) = &*pt.pat else {
            self.cx.error_spanned_by(
                &pt.pat,
                "name each pipeline input with a plain identifier, e.g. `bids: Stream<Bid>`",
            );
            return;
        };
        let elem = match stream_elem(&pt.ty) {
            Some(e) => e,
            None => {
                self.cx.error_spanned_by(&pt.ty, "pipeline parameters must be `Stream<T>` where `T: Event`, e.g. `bids: Stream<Bid>`");
                // Keep the parameter as a stream so its uses add no follow-on errors.
                &pt.ty
            }
        };
        let port = self.graph.inputs.len();
        let name = pi.ident.to_string();
        self.graph.inputs.push(Port {
            name: name.clone(),
            ty: elem.clone(),
            span: pt.ty.span(),
        });
        let node = self.add(
            Kind::Source {
                port,
                ty: elem.clone(),
            },
            vec![],
            &name,
            pi.ident.span(),
        );
        self.graph.nodes[node].id = format!("{}/{name}", self.graph.name);
        self.env.insert(
            name,
            Binding {
                value: Value {
                    node,
                    port: 0,
                    shape: Shape::Plain,
                },
                uses: 0,
                ident: pi.ident.clone(),
                is_input: true,
            },
        );
    }

    fn root_is_stream(&self, e: &syn::Expr) -> bool {
        root_ident(e).is_some_and(|i| self.env.contains_key(&i.to_string()))
    }

    fn is_stream_let(&self, local: &syn::Local) -> bool {
        local
            .init
            .as_ref()
            .is_some_and(|init| self.root_is_stream(&init.expr))
    }

    fn let_binding(&mut self, local: &syn::Local) {
        let ident = match &local.pat {
            syn::Pat::Ident(pi) => &pi.ident,
            syn::Pat::Type(pt) => match &*pt.pat {
                syn::Pat::Ident(pi) => &pi.ident,
                other => {
                    return self.cx.error_spanned_by(
                        other,
                        "bind a stream to a plain name, e.g. `let keyed = ..;`",
                    );
                }
            },
            other => {
                return self.cx.error_spanned_by(
                    other,
                    "bind a stream to a plain name, e.g. `let keyed = ..;`",
                );
            }
        };
        let init = local
            .init
            .as_ref()
            .expect("stream lets have an initializer");
        if let Some((_, diverge)) = &init.diverge {
            return self
                .cx
                .error_spanned_by(diverge, "a stream binding cannot have an `else` branch");
        }
        self.scope = ident.to_string();
        if let Some(value) = self.stream(&init.expr) {
            let name = ident.to_string();
            if let Some(old) = self.env.get(&name)
                && old.uses == 0
            {
                self.unused(old);
            }
            self.env.insert(
                name,
                Binding {
                    value,
                    uses: 0,
                    ident: ident.clone(),
                    is_input: false,
                },
            );
        }
    }

    fn outputs(&mut self, e: &syn::Expr, types: Vec<(syn::Type, Span)>) {
        let exprs: Vec<&syn::Expr> = match e {
            syn::Expr::Tuple(t) => t.elems.iter().collect(),
            other => vec![other],
        };
        if exprs.len() != types.len() {
            return self.cx.error_spanned_by(
                e,
                format!(
                    "the signature returns {} stream(s) but this returns {}",
                    types.len(),
                    exprs.len()
                ),
            );
        }
        let types_len = types.len();
        for (j, (expr, (ty, _))) in exprs.into_iter().zip(types).enumerate() {
            let name = match root_ident(expr) {
                Some(i) if matches!(expr, syn::Expr::Path(_)) => i.to_string(),
                _ if types_len == 1 => "output".to_string(),
                _ => format!("out{j}"),
            };
            self.scope = name.clone();
            let Some(v) = self.stream(expr) else { continue };
            let Some(v) = self.finished(v, expr) else {
                continue;
            };
            self.use_value(&v, expr.span());
            // Point type errors at the last operator of the returned chain.
            let span = match expr {
                syn::Expr::MethodCall(m) => m.method.span(),
                other => other.span(),
            };
            self.graph.outputs.push(OutputPort {
                port: Port { name, ty, span },
                from: v.node,
                from_port: v.port,
            });
        }
    }

    // A stream nobody reads is almost always a mistake (a dropped branch, a typo in a name).
    fn check_unused(&mut self) {
        let mut unused: Vec<&Binding> = self.env.values().filter(|b| b.uses == 0).collect();
        unused.sort_by_key(|b| b.ident.to_string());
        for b in unused {
            self.unused(b);
        }
    }

    fn unused(&self, b: &Binding) {
        if b.ident.to_string().starts_with('_') {
            return;
        }
        let what = if b.is_input { "input" } else { "stream" };
        self.cx.error_spanned_by(
            &b.ident,
            format!(
                "{what} `{}` is never used; route it to an operator or an output, or remove it",
                b.ident
            ),
        );
    }

    fn add(&mut self, kind: Kind, inputs: Vec<Edge>, scope: &str, span: Span) -> usize {
        let op = kind.op_name();
        let n = self.op_counts.entry((scope.to_string(), op)).or_insert(0);
        *n += 1;
        let id = if *n == 1 {
            format!("{}/{scope}/{op}", self.graph.name)
        } else {
            format!("{}/{scope}/{op}{n}", self.graph.name)
        };
        self.graph.nodes.push(Node {
            kind,
            inputs,
            id,
            span,
        });
        self.graph.nodes.len() - 1
    }

    /// Records a use of `v`; a second use of the same output is a fan-out.
    fn use_value(&mut self, v: &Value, span: Span) -> Edge {
        let n = self.uses.entry((v.node, v.port)).or_insert(0);
        *n += 1;
        if *n > 1 {
            let node = if v.port == 1 { usize::MAX } else { v.node };
            if node != usize::MAX {
                self.fan_outs.push(FanOut { node, span });
            }
        }
        Edge {
            from: v.node,
            port: v.port,
            span,
        }
    }

    /// A stream expression: a binding or a method chain on one.
    fn stream(&mut self, e: &syn::Expr) -> Option<Value> {
        match e {
            syn::Expr::Paren(p) => self.stream(&p.expr),
            syn::Expr::Path(p) => {
                let Some(ident) = p.path.get_ident() else {
                    self.cx.error_spanned_by(e, "expected a stream: a pipeline input, a `let` binding, or a method chain on one");
                    return None;
                };
                match self.env.get_mut(&ident.to_string()) {
                    Some(b) => {
                        b.uses += 1;
                        Some(b.value.clone())
                    }
                    None => {
                        self.cx.error_spanned_by(ident, format!("`{ident}` is not a stream of this pipeline; expected an input or a `let` binding"));
                        None
                    }
                }
            }
            syn::Expr::MethodCall(m) => {
                let recv = self.stream(&m.receiver)?;
                self.method(recv, m)
            }
            _ => {
                self.cx.error_spanned_by(e, "expected a stream: a pipeline input, a `let` binding, or a method chain on one");
                None
            }
        }
    }

    /// A finished stream value: a pending `window` must have been aggregated.
    fn finished(&self, v: Value, at: &syn::Expr) -> Option<Value> {
        if let Shape::Windowed { span, .. } = v.shape {
            let _ = at;
            self.cx.error_at(span, "`window(..)` must be followed by `.aggregate(..)`, e.g. `.window(Tumbling::secs(10)).aggregate(Count)`");
            return None;
        }
        Some(v)
    }

    fn arity(&self, m: &syn::ExprMethodCall, n: usize, usage: &str) -> bool {
        if m.args.len() == n {
            return true;
        }
        self.cx.error_spanned_by(
            &m.method,
            format!(
                "`{}` takes {n} argument{}, found {}; write `{usage}`",
                m.method,
                if n == 1 { "" } else { "s" },
                m.args.len()
            ),
        );
        false
    }

    fn method(&mut self, recv: Value, m: &syn::ExprMethodCall) -> Option<Value> {
        let name = m.method.to_string();
        let span = m.method.span();
        let arg = |i: usize| m.args[i].clone();
        if let Some(t) = &m.turbofish {
            self.cx.error_spanned_by(
                t,
                "pipeline operators take no type arguments; annotate the closure parameter instead",
            );
        }
        if name == "name" {
            return self.rename(recv, m);
        }
        if !KNOWN_OPS.contains(&name.as_str()) {
            self.cx.error_spanned_by(
                &m.method,
                format!(
                    "unknown operator `{name}`; expected one of: {}",
                    KNOWN_OPS.join(", ")
                ),
            );
            return None;
        }
        match (&recv.shape, name.as_str()) {
            (Shape::Windowed { .. }, "aggregate")
            | (Shape::Windowed { .. }, "allowed_lateness") => {}
            (Shape::Windowed { span, .. }, _) => {
                self.cx.error_at(*span, "`window(..)` must be followed by `.aggregate(..)`, e.g. `.window(Tumbling::secs(10)).aggregate(Count)`");
                return None;
            }
            (_, "aggregate") => {
                self.cx.error_spanned_by(&m.method, "`aggregate` is only allowed on a window; write `.key_by(..).window(..).aggregate(..)`");
                return None;
            }
            (_, "allowed_lateness") => {
                self.cx.error_spanned_by(
                    &m.method,
                    "`allowed_lateness` is only allowed right after `.window(..)`",
                );
                return None;
            }
            (Shape::Keyed, "window" | "join" | "process" | "key_by") => {}
            (_, "window") => {
                self.cx.error_spanned_by(
                    &m.method,
                    "`window` needs a keyed stream; call `.key_by(|x| ..)` first",
                );
                return None;
            }
            (_, "join") => {
                self.cx.error_spanned_by(
                    &m.method,
                    "`join` needs a keyed stream on both sides; call `.key_by(|x| ..)` first",
                );
                return None;
            }
            (_, "process") => {
                self.cx.error_spanned_by(&m.method, "`process` needs a keyed stream for its per-key state; call `.key_by(|x| ..)` first");
                return None;
            }
            (Shape::Keyed, other) => {
                self.cx.error_spanned_by(&m.method, format!("`{other}` is not available on a keyed stream; a keyed stream feeds `window`, `join` or `process`"));
                return None;
            }
            (Shape::Plain, "late") => {
                self.cx.error_spanned_by(&m.method, "`late()` is the late-element output of a windowed aggregate; call it on `.window(..).aggregate(..)`");
                return None;
            }
            _ => {}
        }
        let scope = self.scope.clone();
        let plain = |node| {
            Some(Value {
                node,
                port: 0,
                shape: Shape::Plain,
            })
        };
        match name.as_str() {
            "map" | "filter" | "filter_map" | "flat_map" | "inspect" | "watermark" | "key_by" => {
                let usage = if name == "watermark" {
                    "watermark(BoundedOutOfOrderness::secs(5))"
                } else {
                    "op(|x| ..)"
                };
                if !self.arity(m, 1, usage) {
                    return None;
                }
                let a = arg(0);
                let kind = match name.as_str() {
                    "map" => Kind::Map(a),
                    "filter" => Kind::Filter(a),
                    "filter_map" => Kind::FilterMap(a),
                    "flat_map" => Kind::FlatMap(a),
                    "inspect" => Kind::Inspect(a),
                    "watermark" => Kind::Watermark(a),
                    _ => Kind::KeyBy(a),
                };
                let keyed = matches!(kind, Kind::KeyBy(_));
                let e = self.use_value(&recv, m.receiver.span());
                let node = self.add(kind, vec![e], &scope, span);
                Some(Value {
                    node,
                    port: 0,
                    shape: if keyed { Shape::Keyed } else { Shape::Plain },
                })
            }
            "window" => {
                if !self.arity(m, 1, "window(Tumbling::secs(10))") {
                    return None;
                }
                Some(Value {
                    shape: Shape::Windowed {
                        assigner: Box::new(arg(0)),
                        lateness: None,
                        span,
                    },
                    ..recv
                })
            }
            "allowed_lateness" => {
                if !self.arity(m, 1, "allowed_lateness(Duration::from_secs(10))") {
                    return None;
                }
                let Shape::Windowed {
                    assigner, span: ws, ..
                } = recv.shape
                else {
                    unreachable!("checked above")
                };
                Some(Value {
                    shape: Shape::Windowed {
                        assigner,
                        lateness: Some(Box::new(arg(0))),
                        span: ws,
                    },
                    ..recv
                })
            }
            "aggregate" => {
                if !self.arity(m, 1, "aggregate(Count)") {
                    return None;
                }
                let Shape::Windowed {
                    assigner, lateness, ..
                } = recv.shape.clone()
                else {
                    unreachable!("checked above")
                };
                let e = self.use_value(&recv, m.receiver.span());
                let node = self.add(
                    Kind::Window {
                        assigner: *assigner,
                        lateness: lateness.map(|l| *l),
                        agg: arg(0),
                    },
                    vec![e],
                    &scope,
                    span,
                );
                Some(Value {
                    node,
                    port: 0,
                    shape: Shape::Aggregated,
                })
            }
            "late" => {
                if !self.arity(m, 0, "late()") {
                    return None;
                }
                let e = self.use_value(
                    &Value {
                        port: 1,
                        ..recv.clone()
                    },
                    m.receiver.span(),
                );
                let node = self.add(Kind::Late, vec![e], &scope, span);
                plain(node)
            }
            "union" => {
                if m.args.is_empty() {
                    self.cx.error_spanned_by(
                        &m.method,
                        "`union` takes at least one other stream: `a.union(b)`",
                    );
                    return None;
                }
                let mut edges = vec![self.use_value(&recv, m.receiver.span())];
                for a in &m.args {
                    let v = self.stream(a)?;
                    let v = self.finished(v, a)?;
                    if matches!(v.shape, Shape::Keyed) {
                        self.cx.error_spanned_by(
                            a,
                            "`union` merges unkeyed streams; union before `key_by`",
                        );
                        return None;
                    }
                    edges.push(self.use_value(&v, a.span()));
                }
                let node = self.add(Kind::Union, edges, &scope, span);
                plain(node)
            }
            "join" => {
                if !self.arity(m, 3, "left.join(right, Tumbling::secs(10), |l, r| ..)") {
                    return None;
                }
                let other = self.stream(&m.args[0])?;
                if !matches!(other.shape, Shape::Keyed) {
                    self.cx.error_spanned_by(
                        &m.args[0],
                        "the other side of `join` must be keyed too; call `.key_by(|x| ..)` on it",
                    );
                    return None;
                }
                let l = self.use_value(&recv, m.receiver.span());
                let r = self.use_value(&other, m.args[0].span());
                let node = self.add(
                    Kind::Join {
                        assigner: arg(1),
                        f: arg(2),
                    },
                    vec![l, r],
                    &scope,
                    span,
                );
                plain(node)
            }
            "process" => {
                if !self.arity(m, 1, "process(|ctx, x| ..)") {
                    return None;
                }
                let e = self.use_value(&recv, m.receiver.span());
                let node = self.add(
                    Kind::Process {
                        f: arg(0),
                        on_timer: None,
                    },
                    vec![e],
                    &scope,
                    span,
                );
                plain(node)
            }
            "on_timer" => {
                if !self.arity(m, 1, "on_timer(|ctx, timer| ..)") {
                    return None;
                }
                match &mut self.graph.nodes[recv.node].kind {
                    Kind::Process {
                        on_timer: t @ None, ..
                    } => {
                        *t = Some(arg(0));
                        Some(recv)
                    }
                    Kind::Process { .. } => {
                        self.cx.error_spanned_by(&m.method, "this `process` already has an `on_timer`; handle every timer in one function");
                        None
                    }
                    _ => {
                        self.cx.error_spanned_by(&m.method, "`on_timer` is only allowed right after `.process(..)`: `.process(|ctx, x| ..).on_timer(|ctx, timer| ..)`");
                        None
                    }
                }
            }
            _ => unreachable!("every known operator is handled"),
        }
    }

    fn rename(&mut self, recv: Value, m: &syn::ExprMethodCall) -> Option<Value> {
        let lit = match m.args.iter().collect::<Vec<_>>().as_slice() {
            [
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }),
            ] => s.value(),
            _ => {
                self.cx.error_spanned_by(
                    &m.method,
                    "`name` takes one string literal: `.name(\"parse\")`",
                );
                return None;
            }
        };
        if matches!(recv.shape, Shape::Windowed { .. }) {
            self.cx.error_spanned_by(
                &m.method,
                "name the aggregate, not the window: `.window(..).aggregate(..).name(\"..\")`",
            );
            return None;
        }
        let id = format!("{}/{lit}", self.graph.name);
        if self.graph.nodes.iter().any(|n| n.id == id) {
            self.cx.error_spanned_by(&m.args[0], format!("operator name `{lit}` is used twice; operator names must be unique within a pipeline"));
            return None;
        }
        self.graph.nodes[recv.node].id = id;
        Some(recv)
    }
}
