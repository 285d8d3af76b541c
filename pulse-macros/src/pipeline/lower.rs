//! Lowers the syntax of a pipeline function into a [`PipelineGraph`], checking every rule of
//! the operator registry on the way and reporting each mistake once, at the user's tokens.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;

use super::ast::{self, Call, Chain, Func, StreamStmt};
use super::model::{Edge, Kind, Node, OutputPort, PipelineGraph, Port};
use super::registry::{self, Arity, Build, Op, Shape};
use crate::ctxt::Ctxt;

const WINDOW_NEEDS_AGGREGATE: &str = "`window(..)` must be followed by `.aggregate(..)`, e.g. `.window(Tumbling::secs(10)).aggregate(Count)`";
const NOT_A_STREAM: &str =
    "expected a stream: a pipeline input, a `let` binding, or a method chain on one";

/// A stream value during lowering.
#[derive(Clone)]
struct Value {
    node: usize,
    port: u8,
    shape: Shape,
    /// For [`Shape::Windowed`]: the pending window's assigner, lateness and `window` span.
    window: Option<Box<Pending>>,
}

#[derive(Clone)]
struct Pending {
    assigner: syn::Expr,
    lateness: Option<syn::Expr>,
    span: Span,
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

/// The lowered pipeline.
pub struct Lowered {
    pub graph: PipelineGraph,
    /// Statements of the body that are not stream bindings, kept verbatim.
    pub prelude: Vec<syn::Stmt>,
    pub fan_outs: Vec<FanOut>,
}

struct Lower<'a> {
    cx: &'a Ctxt,
    graph: PipelineGraph,
    env: HashMap<String, Binding>,
    uses: HashMap<(usize, u8), usize>,
    fan_outs: Vec<FanOut>,
    /// The binding whose chain is being lowered, for operator ids.
    scope: String,
    op_counts: HashMap<(String, &'static str), usize>,
    /// Names whose binding was refused (see [`Func::poisoned`]).
    poisoned: Vec<String>,
}

/// Parses and lowers `f`; `None` only if it cannot be lowered at all.
pub fn lower(cx: &Ctxt, f: &syn::ItemFn) -> Lowered {
    lower_func(cx, ast::parse(cx, f))
}

fn lower_func(cx: &Ctxt, f: Func) -> Lowered {
    let mut l = Lower {
        cx,
        graph: PipelineGraph {
            name: f.name.to_string(),
            inputs: vec![],
            nodes: vec![],
            outputs: vec![],
        },
        env: HashMap::new(),
        uses: HashMap::new(),
        fan_outs: vec![],
        scope: String::new(),
        op_counts: HashMap::new(),
        poisoned: f.poisoned,
    };
    for input in &f.inputs {
        l.input(input);
    }
    for stmt in &f.stmts {
        l.stmt(stmt);
    }
    if let (Some(e), Some(types)) = (&f.ret, f.outputs) {
        l.outputs(e, types);
        // A stream left unread is often the follow-on of an earlier mistake (the argument of
        // a `union` or `join` that was refused, a returned tuple of the wrong size): one
        // mistake, one error, so it is reported only when nothing else is.
        if !cx.has_errors() {
            l.check_unused();
        }
    }
    Lowered {
        graph: l.graph,
        prelude: f.prelude,
        fan_outs: l.fan_outs,
    }
}

impl Lower<'_> {
    fn input(&mut self, input: &ast::Input) {
        let port = self.graph.inputs.len();
        let name = input.ident.to_string();
        self.graph.inputs.push(Port {
            name: name.clone(),
            ty: input.elem.clone(),
            span: input.ty_span,
        });
        let node = self.add(
            Kind::Source {
                port,
                ty: Box::new(input.elem.clone()),
            },
            vec![],
            input.ident.span(),
        );
        self.graph.nodes[node].id = format!("{}/{name}", self.graph.name);
        self.bind(&input.ident, Value::plain(node), true);
    }

    fn stmt(&mut self, stmt: &StreamStmt) {
        match stmt {
            StreamStmt::Let(l) => {
                self.scope = l.ident.to_string();
                match self.stream(&l.chain) {
                    Some(value) => {
                        if let Some(old) = self.env.get(&self.scope)
                            && old.uses == 0
                        {
                            self.unused(old);
                        }
                        self.bind(&l.ident, value, false);
                    }
                    None => {
                        self.env.remove(&self.scope);
                        self.poisoned.push(self.scope.clone());
                    }
                }
            }
            StreamStmt::BadPattern(p) => self
                .cx
                .error_spanned_by(p, "bind a stream to a plain name, e.g. `let keyed = ..;`"),
            StreamStmt::Diverging(e) => self
                .cx
                .error_spanned_by(e, "a stream binding cannot have an `else` branch"),
            StreamStmt::Dropped(e) => self.cx.error_spanned_by(
                e,
                "a stream expression here is never used; bind it with `let` and return it, or remove it",
            ),
        }
    }

    fn bind(&mut self, ident: &syn::Ident, value: Value, is_input: bool) {
        self.env.insert(
            ident.to_string(),
            Binding {
                value,
                uses: 0,
                ident: ident.clone(),
                is_input,
            },
        );
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
        let single = types.len() == 1;
        for (j, (expr, (ty, _))) in exprs.into_iter().zip(types).enumerate() {
            let Some(chain) = self.chain(expr) else {
                continue;
            };
            let name = match () {
                _ if chain.bare => chain.root.to_string(),
                _ if single => "output".to_string(),
                _ => format!("out{j}"),
            };
            self.scope = name.clone();
            let Some(v) = self.lower_chain(&chain) else {
                continue;
            };
            let Some(v) = self.finished(v) else { continue };
            self.use_value(&v, expr.span());
            self.graph.outputs.push(OutputPort {
                // Type errors point at the last operator of the returned chain.
                port: Port {
                    name,
                    ty,
                    span: chain.tail,
                },
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

    /// Adds a node with an id `pipeline/scope/op` (numbered from the second in a scope).
    fn add(&mut self, kind: Kind, inputs: Vec<Edge>, span: Span) -> usize {
        let op = kind.op().node;
        let n = self.op_counts.entry((self.scope.clone(), op)).or_insert(0);
        *n += 1;
        let id = if *n == 1 {
            format!("{}/{}/{op}", self.graph.name, self.scope)
        } else {
            format!("{}/{}/{op}{n}", self.graph.name, self.scope)
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
        if *n > 1 && v.port == 0 {
            self.fan_outs.push(FanOut { node: v.node, span });
        }
        Edge {
            from: v.node,
            port: v.port,
            span,
        }
    }

    fn chain(&self, e: &syn::Expr) -> Option<Chain> {
        let chain = ast::chain(e);
        if chain.is_none() {
            self.cx.error_spanned_by(e, NOT_A_STREAM);
        }
        chain
    }

    /// A stream expression: a binding or a method chain on one.
    fn stream(&mut self, e: &syn::Expr) -> Option<Value> {
        let chain = self.chain(e)?;
        self.lower_chain(&chain)
    }

    fn lower_chain(&mut self, chain: &Chain) -> Option<Value> {
        let ident = &chain.root;
        let mut v = match self.env.get_mut(&ident.to_string()) {
            Some(b) => {
                b.uses += 1;
                b.value.clone()
            }
            None if self.poisoned.contains(&ident.to_string()) => return None,
            None => {
                self.cx.error_spanned_by(
                    ident,
                    format!("`{ident}` is not a stream of this pipeline; expected an input or a `let` binding"),
                );
                return None;
            }
        };
        for call in &chain.calls {
            v = self.call(v, call)?;
        }
        Some(v)
    }

    /// A finished stream value: a pending `window` must have been aggregated.
    fn finished(&self, v: Value) -> Option<Value> {
        if let Some(w) = &v.window {
            self.cx.error_at(w.span, WINDOW_NEEDS_AGGREGATE);
            return None;
        }
        Some(v)
    }

    /// Checks a call against the registry: known, right receiver shape, right arity.
    fn check(&self, recv: &Value, call: &Call) -> Option<&'static Op> {
        let m = &call.method;
        let name = m.to_string();
        if let Some(t) = &call.turbofish {
            self.cx.error_spanned_by(
                t,
                "pipeline operators take no type arguments; annotate the closure parameter instead",
            );
        }
        let Some(op) = registry::lookup(&name) else {
            self.cx.error_spanned_by(
                m,
                format!(
                    "unknown operator `{name}`; expected one of: {}",
                    registry::names().join(", ")
                ),
            );
            return None;
        };
        if !op.on.contains(&recv.shape) {
            match (&recv.window, recv.shape) {
                (Some(w), _) if op.build != Build::Name => {
                    self.cx.error_at(w.span, WINDOW_NEEDS_AGGREGATE)
                }
                (_, Shape::Keyed) if op.on.contains(&Shape::Plain) => self.cx.error_spanned_by(
                    m,
                    format!("`{name}` is not available on a keyed stream; a keyed stream feeds `window`, `join` or `process`"),
                ),
                _ => self.cx.error_spanned_by(m, op.refused),
            }
            return None;
        }
        let ok = match op.arity {
            Arity::Exactly(n) => call.args.len() == n,
            Arity::AtLeastOne => !call.args.is_empty(),
        };
        if !ok {
            let msg = match op.arity {
                Arity::Exactly(n) => format!(
                    "`{name}` takes {n} argument{}, found {}; write `{}`",
                    if n == 1 { "" } else { "s" },
                    call.args.len(),
                    op.usage
                ),
                Arity::AtLeastOne => {
                    format!("`{name}` takes at least one other stream: `{}`", op.usage)
                }
            };
            self.cx.error_spanned_by(m, msg);
            return None;
        }
        Some(op)
    }

    fn call(&mut self, recv: Value, call: &Call) -> Option<Value> {
        let op = self.check(&recv, call)?;
        let span = call.method.span();
        let arg = |i: usize| call.args[i].clone();
        match op.build {
            Build::Node { gives } => {
                let e = self.use_value(&recv, call.receiver);
                let node = self.add(Kind::new(op, call.args.clone()), vec![e], span);
                Some(Value::plain(node).with_shape(gives))
            }
            Build::OpenWindow => Some(Value {
                shape: Shape::Windowed,
                window: Some(Box::new(Pending {
                    assigner: arg(0),
                    lateness: None,
                    span,
                })),
                ..recv
            }),
            Build::Lateness => {
                let mut w = recv.window.clone().expect("a windowed value has a window");
                w.lateness = Some(arg(0));
                Some(Value {
                    window: Some(w),
                    ..recv
                })
            }
            Build::Aggregate => {
                let w = recv.window.clone().expect("a windowed value has a window");
                let e = self.use_value(&recv, call.receiver);
                let lateness = w
                    .lateness
                    .unwrap_or_else(|| syn::parse_quote!(::std::time::Duration::ZERO));
                let kind = Kind::new(op, vec![w.assigner, lateness, arg(0)]);
                let node = self.add(kind, vec![e], span);
                Some(Value::plain(node).with_shape(Shape::Aggregated))
            }
            Build::Late => {
                let late = Value { port: 1, ..recv };
                let e = self.use_value(&late, call.receiver);
                Some(Value::plain(self.add(Kind::new(op, vec![]), vec![e], span)))
            }
            Build::Union => {
                let mut edges = vec![self.use_value(&recv, call.receiver)];
                for a in &call.args {
                    let v = self.stream(a)?;
                    let v = self.finished(v)?;
                    if v.shape == Shape::Keyed {
                        self.cx.error_spanned_by(
                            a,
                            "`union` merges unkeyed streams; union before `key_by`",
                        );
                        return None;
                    }
                    edges.push(self.use_value(&v, a.span()));
                }
                Some(Value::plain(self.add(Kind::new(op, vec![]), edges, span)))
            }
            Build::Join => {
                let other = self.stream(&call.args[0])?;
                if other.shape != Shape::Keyed {
                    self.cx.error_spanned_by(
                        &call.args[0],
                        "the other side of `join` must be keyed too; call `.key_by(|x| ..)` on it",
                    );
                    return None;
                }
                let l = self.use_value(&recv, call.receiver);
                let r = self.use_value(&other, call.args[0].span());
                let kind = Kind::new(op, vec![arg(1), arg(2)]);
                Some(Value::plain(self.add(kind, vec![l, r], span)))
            }
            Build::OnTimer => self.on_timer(recv, call),
            Build::Name => self.rename(recv, call),
        }
    }

    fn on_timer(&mut self, recv: Value, call: &Call) -> Option<Value> {
        let m = &call.method;
        match &mut self.graph.nodes[recv.node].kind {
            Kind::Op { op, ctor, args } if op.name == "process" && args.len() == 1 => {
                args.push(call.args[0].clone());
                *ctor = registry::PROCESS_TIMERS;
                Some(recv)
            }
            Kind::Op { op, .. } if op.name == "process" => {
                self.cx.error_spanned_by(
                    m,
                    "this `process` already has an `on_timer`; handle every timer in one function",
                );
                None
            }
            _ => {
                let on_timer = registry::lookup("on_timer").expect("registered");
                self.cx.error_spanned_by(m, on_timer.refused);
                None
            }
        }
    }

    fn rename(&mut self, recv: Value, call: &Call) -> Option<Value> {
        let lit = match call.args.as_slice() {
            [
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }),
            ] => s.value(),
            _ => {
                self.cx.error_spanned_by(
                    &call.method,
                    "`name` takes one string literal: `.name(\"parse\")`",
                );
                return None;
            }
        };
        let id = format!("{}/{lit}", self.graph.name);
        if self.graph.nodes.iter().any(|n| n.id == id) {
            self.cx.error_spanned_by(
                &call.args[0],
                format!("operator name `{lit}` is used twice; operator names must be unique within a pipeline"),
            );
            return None;
        }
        self.graph.nodes[recv.node].id = id;
        Some(recv)
    }
}

impl Value {
    fn plain(node: usize) -> Self {
        Value {
            node,
            port: 0,
            shape: Shape::Plain,
            window: None,
        }
    }

    fn with_shape(self, shape: Shape) -> Self {
        Value { shape, ..self }
    }
}
