//! The pipeline graph as plain Rust: nodes, edges and outputs, with spans for errors.

use proc_macro2::Span;

use super::registry::{self, Flow, Op};

/// What a node does: a pipeline input, or a registered operator with the user's argument
/// expressions, which ride along for emission.
#[derive(Clone)]
pub enum Kind {
    Source {
        port: usize,
        ty: Box<syn::Type>,
    },
    Op {
        op: &'static Op,
        /// The constructor in `__private::ops` (`process` becomes `process_timers` with an
        /// `on_timer`).
        ctor: &'static str,
        /// The constructor's arguments after the upstream node(s).
        args: Vec<syn::Expr>,
    },
}

impl Kind {
    pub fn new(op: &'static Op, args: Vec<syn::Expr>) -> Self {
        Kind::Op {
            op,
            ctor: op.ctor,
            args,
        }
    }

    /// The registry entry; inputs have the `source` pseudo-entry.
    pub fn op(&self) -> &'static Op {
        match self {
            Kind::Source { .. } => &registry::SOURCE,
            Kind::Op { op, .. } => op,
        }
    }
}

/// An edge into a node: from `(node, port)`; port 1 is a window's late output.
#[derive(Clone, Copy)]
pub struct Edge {
    pub from: usize,
    pub port: u8,
    /// Where the user wrote the use of the upstream stream.
    pub span: Span,
}

pub struct Node {
    pub kind: Kind,
    pub inputs: Vec<Edge>,
    /// Stable operator id: `pipeline/binding/op`, or `pipeline/name` with `.name("..")`.
    pub id: String,
    /// The operator's method name in the user's code.
    pub span: Span,
}

pub struct Port {
    pub name: String,
    pub ty: syn::Type,
    pub span: Span,
}

pub struct OutputPort {
    pub port: Port,
    pub from: usize,
    pub from_port: u8,
}

/// A consumer of a node's output port.
#[derive(Clone, Copy)]
pub enum Consumer {
    /// Input `input` (position among the node's inputs) of node `node`.
    Node {
        node: usize,
        input: usize,
        span: Span,
    },
    Output(usize),
}

pub struct PipelineGraph {
    pub name: String,
    pub inputs: Vec<Port>,
    pub nodes: Vec<Node>,
    pub outputs: Vec<OutputPort>,
}

impl PipelineGraph {
    /// Who receives what `(node, port)` emits, in the order the user wrote them.
    pub fn consumers(&self, node: usize, port: u8) -> Vec<Consumer> {
        let mut out = vec![];
        for (c, n) in self.nodes.iter().enumerate() {
            for (i, e) in n.inputs.iter().enumerate() {
                if e.from == node && e.port == port {
                    out.push(Consumer::Node {
                        node: c,
                        input: i,
                        span: e.span,
                    });
                }
            }
        }
        for (j, o) in self.outputs.iter().enumerate() {
            if o.from == node && o.from_port == port {
                out.push(Consumer::Output(j));
            }
        }
        out
    }

    fn label(&self, k: usize) -> String {
        let n = &self.nodes[k];
        match &n.kind {
            Kind::Source { port, .. } => {
                let p = &self.inputs[*port];
                format!("{}: {}", p.name, type_name(&p.ty))
            }
            k => k.op().node.to_string(),
        }
    }

    /// The parameters of node `k` that say when it fires: a window's assigner, allowed
    /// lateness and aggregate, a watermark strategy, a join's window. Closures show as `|..|`.
    pub fn params(&self, k: usize) -> String {
        let Kind::Op { op, args, .. } = &self.nodes[k].kind else {
            return String::new();
        };
        let shown: Vec<String> = match op.node {
            "window" => {
                let mut v = vec![render(&args[0])];
                let lateness = render(&args[1]);
                if lateness != "::std::time::Duration::ZERO" {
                    v.push(format!("allowed_lateness {lateness}"));
                }
                v.push(format!("aggregate {}", render(&args[2])));
                v
            }
            "watermark" => vec![render(&args[0])],
            "join" => vec![render(&args[0])],
            _ => vec![],
        };
        shown.join(", ")
    }

    /// One line per node (`[index] id  op <- inputs`, then what makes it fire) and one per
    /// output.
    pub fn to_text(&self) -> String {
        let mut s = format!("pipeline {}\n", self.name);
        for (k, n) in self.nodes.iter().enumerate() {
            let inputs: Vec<String> = n
                .inputs
                .iter()
                .map(|e| {
                    if e.port == 1 {
                        format!("[{}].late", e.from)
                    } else {
                        format!("[{}]", e.from)
                    }
                })
                .collect();
            let arrow = if inputs.is_empty() {
                String::new()
            } else {
                format!(" <- {}", inputs.join(", "))
            };
            let params = self.params(k);
            let params = if params.is_empty() {
                String::new()
            } else {
                format!("  ({params})")
            };
            s.push_str(&format!(
                "  [{k}] {:<12} {}{arrow}{params}\n",
                self.label(k),
                n.id
            ));
        }
        for o in &self.outputs {
            let from = if o.from_port == 1 {
                format!("[{}].late", o.from)
            } else {
                format!("[{}]", o.from)
            };
            s.push_str(&format!(
                "  output {}: {} <- {from}\n",
                o.port.name,
                type_name(&o.port.ty)
            ));
        }
        s
    }

    /// A Mermaid flowchart of the graph.
    pub fn to_mermaid(&self) -> String {
        let mut s = String::from("flowchart LR\n");
        for (k, n) in self.nodes.iter().enumerate() {
            let params = self.params(k);
            let label = if params.is_empty() {
                self.label(k)
            } else {
                format!("{}: {params}", self.label(k))
            };
            let label = label.replace('"', "'");
            match n.kind.op().flow {
                Flow::Source => s.push_str(&format!("  n{k}([\"{label}\"])\n")),
                _ => s.push_str(&format!("  n{k}[\"{label}\"]\n")),
            }
        }
        for (j, o) in self.outputs.iter().enumerate() {
            s.push_str(&format!(
                "  o{j}[[\"{}: {}\"]]\n",
                o.port.name,
                type_name(&o.port.ty).replace('"', "'")
            ));
        }
        for (k, n) in self.nodes.iter().enumerate() {
            for e in &n.inputs {
                s.push_str(&edge(format!("n{}", e.from), format!("n{k}"), e.port));
            }
        }
        for (j, o) in self.outputs.iter().enumerate() {
            s.push_str(&edge(format!("n{}", o.from), format!("o{j}"), o.from_port));
        }
        s
    }
}

fn edge(from: String, to: String, port: u8) -> String {
    if port == 1 {
        format!("  {from} -. late .-> {to}\n")
    } else {
        format!("  {from} --> {to}\n")
    }
}

/// An argument as the user wrote it, spaces squeezed; a closure as `|..|`.
fn render(e: &syn::Expr) -> String {
    struct Closures;
    impl syn::visit_mut::VisitMut for Closures {
        fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
            if let syn::Expr::Closure(_) = e {
                *e = syn::parse_quote!(__closure__);
            } else {
                syn::visit_mut::visit_expr_mut(self, e);
            }
        }
    }
    let mut e = e.clone();
    syn::visit_mut::VisitMut::visit_expr_mut(&mut Closures, &mut e);
    quote::quote!(#e)
        .to_string()
        .replace(' ', "")
        .replace("__closure__", "|..|")
}

pub fn type_name(ty: &syn::Type) -> String {
    quote::quote!(#ty).to_string().replace(' ', "")
}
