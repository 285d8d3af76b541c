//! The pipeline function as syntax: inputs, stream bindings as method chains, the returned
//! chains and the statements kept verbatim. Nothing here knows an operator; `lower` judges.

use proc_macro2::Span;
use syn::spanned::Spanned;

use crate::ctxt::Ctxt;

/// A pipeline parameter `name: Stream<T>`.
pub struct Input {
    pub ident: syn::Ident,
    /// `T`, or the whole type when it is not `Stream<T>` (already reported).
    pub elem: syn::Type,
    pub ty_span: Span,
}

/// One method call of a chain: `.method(args)`.
pub struct Call {
    pub method: syn::Ident,
    pub args: Vec<syn::Expr>,
    pub turbofish: Option<syn::AngleBracketedGenericArguments>,
    /// The receiver's tokens, where a use of the upstream stream is reported.
    pub receiver: Span,
}

/// `root.a(..).b(..)`: a stream name and the calls on it, in order.
pub struct Chain {
    pub root: syn::Ident,
    pub calls: Vec<Call>,
    /// The last method name, or the root: where the chain's type errors point.
    pub tail: Span,
    /// The chain is the bare name (`counts`), not a call on it.
    pub bare: bool,
}

/// `let name = chain;`
pub struct Let {
    pub ident: syn::Ident,
    pub chain: syn::Expr,
}

/// A statement of the body that involves streams, in order.
pub enum StreamStmt {
    Let(Let),
    /// `let` of a stream to a pattern that is not a plain name.
    BadPattern(syn::Pat),
    /// `let x = stream else { .. };`
    Diverging(syn::Expr),
    /// A stream expression statement whose value is dropped.
    Dropped(syn::Expr),
}

/// The function, split into what the lowering needs.
pub struct Func {
    pub name: syn::Ident,
    pub inputs: Vec<Input>,
    /// The element types of the returned streams and their spans; `None` if the signature is
    /// wrong (already reported).
    pub outputs: Option<Vec<(syn::Type, Span)>>,
    pub stmts: Vec<StreamStmt>,
    /// The returned expression.
    pub ret: Option<syn::Expr>,
    /// Statements that are not about streams, kept verbatim.
    pub prelude: Vec<syn::Stmt>,
    /// Names bound by a parameter or `let` that was refused: their uses are follow-ons of that
    /// error and report nothing more.
    pub poisoned: Vec<String>,
}

/// Splits `f` into inputs, stream statements and the rest. Reports only what is not a
/// pipeline function at all (`async`, generics, `self`, a parameter or return type that is not
/// a stream, a missing return).
pub fn parse(cx: &Ctxt, f: &syn::ItemFn) -> Func {
    check_signature(cx, f);
    let mut poisoned = vec![];
    let mut inputs = vec![];
    for arg in &f.sig.inputs {
        match input(cx, arg) {
            Some(i) => inputs.push(i),
            None => {
                if let syn::FnArg::Typed(pt) = arg {
                    poisoned.extend(names_in(&pt.pat));
                }
            }
        }
    }
    let outputs = output_types(cx, &f.sig.output);
    let is_stream = |e: &syn::Expr, lets: &[String]| {
        root_ident(e).is_some_and(|i| {
            let i = i.to_string();
            inputs.iter().any(|p| p.ident == i) || lets.contains(&i)
        })
    };
    let mut lets: Vec<String> = vec![];
    let mut stmts = vec![];
    let mut prelude = vec![];
    let mut ret = None;
    let body = &f.block.stmts;
    for (i, stmt) in body.iter().enumerate() {
        let last = i + 1 == body.len();
        match stmt {
            syn::Stmt::Local(local)
                if local
                    .init
                    .as_ref()
                    .is_some_and(|init| is_stream(&init.expr, &lets)) =>
            {
                let init = local.init.as_ref().expect("checked above");
                match (binding_ident(&local.pat), &init.diverge) {
                    (ident, Some((_, diverge))) => {
                        poisoned.extend(ident.map(|i| i.to_string()));
                        stmts.push(StreamStmt::Diverging((**diverge).clone()))
                    }
                    (Some(ident), None) => {
                        lets.push(ident.to_string());
                        stmts.push(StreamStmt::Let(Let {
                            ident: ident.clone(),
                            chain: (*init.expr).clone(),
                        }));
                    }
                    (None, None) => {
                        poisoned.extend(names_in(&local.pat));
                        stmts.push(StreamStmt::BadPattern(local.pat.clone()))
                    }
                }
            }
            syn::Stmt::Expr(e, None) if last => ret = Some(e.clone()),
            syn::Stmt::Expr(syn::Expr::Return(r), _) if last => match &r.expr {
                Some(e) => ret = Some((**e).clone()),
                None => cx.error_spanned_by(r, "the pipeline must return its output streams"),
            },
            syn::Stmt::Expr(e, _) if is_stream(e, &lets) => {
                stmts.push(StreamStmt::Dropped(e.clone()))
            }
            other => prelude.push(other.clone()),
        }
    }
    if ret.is_none() {
        cx.error_at(
            f.block.brace_token.span.close(),
            "the pipeline must end with the stream(s) it returns, e.g. `counts` or `(counts, late)`",
        );
    }
    Func {
        name: f.sig.ident.clone(),
        inputs,
        outputs,
        stmts,
        ret,
        prelude,
        poisoned,
    }
}

/// The names a pattern binds.
fn names_in(pat: &syn::Pat) -> Vec<String> {
    struct Names(Vec<String>);
    impl<'a> syn::visit::Visit<'a> for Names {
        fn visit_pat_ident(&mut self, p: &'a syn::PatIdent) {
            self.0.push(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut names = Names(vec![]);
    syn::visit::Visit::visit_pat(&mut names, pat);
    names.0
}

/// `root.a(..).b(..)` as a chain; `None` if the expression is not rooted at a plain name.
pub fn chain(e: &syn::Expr) -> Option<Chain> {
    let mut calls = vec![];
    let mut cur = e;
    let root = loop {
        match cur {
            syn::Expr::Paren(p) => cur = &p.expr,
            syn::Expr::MethodCall(m) => {
                calls.push(Call {
                    method: m.method.clone(),
                    args: m.args.iter().cloned().collect(),
                    turbofish: m.turbofish.clone(),
                    receiver: m.receiver.span(),
                });
                cur = &m.receiver;
            }
            syn::Expr::Path(p) if p.qself.is_none() => break p.path.get_ident()?.clone(),
            _ => return None,
        }
    };
    calls.reverse();
    let tail = calls.last().map_or(root.span(), |c| c.method.span());
    Some(Chain {
        bare: calls.is_empty() && matches!(e, syn::Expr::Path(_)),
        root,
        calls,
        tail,
    })
}

fn binding_ident(pat: &syn::Pat) -> Option<&syn::Ident> {
    match pat {
        syn::Pat::Ident(pi) => Some(&pi.ident),
        syn::Pat::Type(pt) => binding_ident(&pt.pat),
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

fn input(cx: &Ctxt, arg: &syn::FnArg) -> Option<Input> {
    let syn::FnArg::Typed(pt) = arg else {
        cx.error_spanned_by(
            arg,
            "a pipeline function takes no `self`; its parameters are `Stream<T>` inputs",
        );
        return None;
    };
    let syn::Pat::Ident(pi) = &*pt.pat else {
        cx.error_spanned_by(
            &pt.pat,
            "name each pipeline input with a plain identifier, e.g. `bids: Stream<Bid>`",
        );
        return None;
    };
    let elem = match stream_elem(&pt.ty) {
        Some(e) => e,
        None => {
            cx.error_spanned_by(&pt.ty, "pipeline parameters must be `Stream<T>` where `T: Event`, e.g. `bids: Stream<Bid>`");
            // Keep the parameter as a stream so its uses add no follow-on errors.
            &pt.ty
        }
    };
    Some(Input {
        ident: pi.ident.clone(),
        elem: elem.clone(),
        ty_span: pt.ty.span(),
    })
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

/// The element types of the returned streams as far as the signature names them, without
/// judging it: for the fallback after an error.
pub fn output_elems(ret: &syn::ReturnType) -> Vec<syn::Type> {
    let syn::ReturnType::Type(_, ty) = ret else {
        return vec![];
    };
    let types: Vec<&syn::Type> = match &**ty {
        syn::Type::Tuple(t) => t.elems.iter().collect(),
        other => vec![other],
    };
    types
        .into_iter()
        .map_while(|t| stream_elem(t).cloned())
        .collect()
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
