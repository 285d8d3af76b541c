//! The operator registry: one entry per method a stream expression may call.
//!
//! Everything the macro knows about an operator is here: the shapes of stream it accepts and
//! gives, its arguments and usage text, how it is built into the graph, its runtime
//! constructor, and how records and watermarks flow through it. Lowering, validation, the
//! "unknown operator" list, operator ids, `explain` labels and emission all read this table;
//! adding an operator is one runtime file under `pulse-runtime/src/operator/`, one constructor
//! in `__private::ops`, and one entry here (see ARCHITECTURE.md, "How to add an operator").

/// The shape of a stream value, which decides the operators it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An ordinary stream.
    Plain,
    /// After `key_by`: feeds `window`, `join` or `process`.
    Keyed,
    /// `keyed.window(w)`, waiting for `.aggregate(..)`: not a stream yet.
    Windowed,
    /// The output of a windowed aggregate: a plain stream that also has `.late()`.
    Aggregated,
}

/// How many arguments the method takes.
#[derive(Clone, Copy, Debug)]
pub enum Arity {
    Exactly(usize),
    /// `union(b, c, ..)`.
    AtLeastOne,
}

/// How lowering turns a call into the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// A node with the receiver as its one input and the arguments as its parameters.
    Node { gives: Shape },
    /// Starts a pending window on the receiver (`window(w)`).
    OpenWindow,
    /// Sets the pending window's allowed lateness.
    Lateness,
    /// Closes the pending window with an aggregate: a node with a late port (1).
    Aggregate,
    /// A node reading the late port of a windowed aggregate.
    Late,
    /// A fan-in node over the receiver and every argument stream.
    Union,
    /// A fan-in node over the receiver and the first argument, both keyed.
    Join,
    /// Adds the timer callback to the `process` node before it.
    OnTimer,
    /// Sets the stable id of the node before it.
    Name,
}

/// How records leave a node, for emission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// `node.push(x, ts, &mut emit)`.
    Unary,
    /// `node.push(x, ts, &mut emit, &mut late)`: a main and a late port.
    WithLate,
    /// Passes its input on untouched (the late port's reader).
    PassThrough,
    /// Buffers its input; drained in topological order (`union`).
    Buffered,
    /// Buffers both sides as `Either`, drained into `node.push` (`join`).
    BufferedPair,
    /// A pipeline input.
    Source,
}

/// One operator of the pipeline language.
#[derive(Debug)]
pub struct Op {
    /// The method name in the user's code.
    pub name: &'static str,
    /// The node's name in operator ids and `explain` (the method name but for `aggregate`,
    /// whose node is the whole `window`). Part of every saved state's id: never change one.
    pub node: &'static str,
    /// Receiver shapes it accepts.
    pub on: &'static [Shape],
    /// The error when the receiver has another shape: the rule, and what to write instead.
    pub refused: &'static str,
    pub arity: Arity,
    /// A correct call, shown in arity errors.
    pub usage: &'static str,
    pub build: Build,
    /// The constructor in `::pulse::__private::ops`; empty for calls that add no node.
    pub ctor: &'static str,
    /// The runtime type it builds (`module::Type` under `pulse-runtime/src/`); a unit test
    /// checks that the file defines it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub runtime: &'static str,
    /// Whether its state is saved in checkpoints (it gets a stable id).
    pub stateful: bool,
    pub flow: Flow,
    /// Whether it derives the watermark from elements (a `watermark` strategy).
    pub makes_watermark: bool,
    /// Whether it fires on the watermark (windows, joins, event-time timers).
    pub on_watermark: bool,
    /// Whether it has processing-time timers, fired by the driver's clock.
    pub clock: bool,
    /// Whether it is an exchange point of parallel runs (`key_by`).
    pub exchange: bool,
    /// Whether it can pre-aggregate before an exchange (an aligned windowed aggregate).
    pub combines: bool,
    /// Whether it emits exactly what it receives, one for one (`map`, `inspect`, `watermark`):
    /// its count is its input's, so nothing is counted per element.
    pub passes: bool,
}

const PLAIN: &[Shape] = &[Shape::Plain, Shape::Aggregated];
const KEYED: &[Shape] = &[Shape::Keyed];

/// The defaults of a stateless element-wise operator.
const fn elementwise(name: &'static str, ctor: &'static str, runtime: &'static str) -> Op {
    Op {
        name,
        node: name,
        on: PLAIN,
        refused: "",
        arity: Arity::Exactly(1),
        usage: "op(|x| ..)",
        build: Build::Node {
            gives: Shape::Plain,
        },
        ctor,
        runtime,
        stateful: false,
        flow: Flow::Unary,
        makes_watermark: false,
        on_watermark: false,
        clock: false,
        exchange: false,
        combines: false,
        passes: false,
    }
}

/// A call that adds no node of its own.
const fn modifier(name: &'static str, on: &'static [Shape], build: Build) -> Op {
    Op {
        on,
        build,
        ctor: "",
        runtime: "",
        ..elementwise(name, "", "")
    }
}

/// Every operator, in the order the "unknown operator" message lists them.
pub const OPS: &[Op] = &[
    Op {
        usage: "map(|x| ..)",
        passes: true,
        ..elementwise("map", "map", "operator::stateless::MapOp")
    },
    Op {
        usage: "filter(|x| ..)",
        ..elementwise("filter", "filter", "operator::stateless::FilterOp")
    },
    Op {
        usage: "filter_map(|x| ..)",
        ..elementwise("filter_map", "filter_map", "operator::stateless::FilterMap")
    },
    Op {
        usage: "flat_map(|x| ..)",
        ..elementwise("flat_map", "flat_map", "operator::stateless::FlatMap")
    },
    Op {
        usage: "inspect(|x| ..)",
        passes: true,
        ..elementwise("inspect", "inspect", "operator::stateless::Inspect")
    },
    Op {
        on: &[Shape::Plain, Shape::Aggregated, Shape::Keyed],
        usage: "key_by(|x| ..)",
        build: Build::Node {
            gives: Shape::Keyed,
        },
        exchange: true,
        ..elementwise("key_by", "key_by", "operator::key_by::KeyBy")
    },
    Op {
        usage: "watermark(BoundedOutOfOrderness::secs(5))",
        stateful: true,
        makes_watermark: true,
        passes: true,
        ..elementwise("watermark", "watermark", "operator::watermark::WatermarkOp")
    },
    Op {
        refused: "`window` needs a keyed stream; call `.key_by(|x| ..)` first",
        usage: "window(Tumbling::secs(10))",
        ..modifier("window", KEYED, Build::OpenWindow)
    },
    Op {
        refused: "`allowed_lateness` is only allowed right after `.window(..)`",
        usage: "allowed_lateness(Duration::from_secs(10))",
        ..modifier("allowed_lateness", &[Shape::Windowed], Build::Lateness)
    },
    Op {
        on: &[Shape::Windowed],
        refused: "`aggregate` is only allowed on a window; write `.key_by(..).window(..).aggregate(..)`",
        usage: "aggregate(Count)",
        node: "window",
        build: Build::Aggregate,
        stateful: true,
        flow: Flow::WithLate,
        on_watermark: true,
        combines: true,
        ..elementwise("aggregate", "window", "operator::window::WindowAggregate")
    },
    Op {
        on: &[Shape::Aggregated],
        refused: "`late()` is the late-element output of a windowed aggregate; call it on `.window(..).aggregate(..)`",
        arity: Arity::Exactly(0),
        usage: "late()",
        build: Build::Late,
        flow: Flow::PassThrough,
        ..elementwise("late", "late", "operator::fan_in::LatePort")
    },
    Op {
        arity: Arity::AtLeastOne,
        usage: "a.union(b)",
        build: Build::Union,
        flow: Flow::Buffered,
        ..elementwise("union", "union", "operator::fan_in::FanIn")
    },
    Op {
        on: KEYED,
        refused: "`join` needs a keyed stream on both sides; call `.key_by(|x| ..)` first",
        arity: Arity::Exactly(3),
        usage: "left.join(right, Tumbling::secs(10), |l, r| ..)",
        build: Build::Join,
        stateful: true,
        flow: Flow::BufferedPair,
        on_watermark: true,
        ..elementwise("join", "join", "operator::join::WindowJoin")
    },
    Op {
        on: KEYED,
        refused: "`process` needs a keyed stream for its per-key state; call `.key_by(|x| ..)` first",
        usage: "process(|ctx, x| ..)",
        stateful: true,
        on_watermark: true,
        clock: true,
        ..elementwise("process", "process", "operator::process::Process")
    },
    Op {
        refused: "`on_timer` is only allowed right after `.process(..)`: `.process(|ctx, x| ..).on_timer(|ctx, timer| ..)`",
        usage: "on_timer(|ctx, timer| ..)",
        ..modifier("on_timer", PLAIN, Build::OnTimer)
    },
    Op {
        refused: "name the aggregate, not the window: `.window(..).aggregate(..).name(\"..\")`",
        usage: "name(\"parse\")",
        ..modifier(
            "name",
            &[Shape::Plain, Shape::Aggregated, Shape::Keyed],
            Build::Name,
        )
    },
];

/// The pipeline inputs' pseudo-operator.
pub const SOURCE: Op = Op {
    on: &[],
    arity: Arity::Exactly(0),
    usage: "",
    ctor: "source",
    runtime: "operator::source::Source",
    flow: Flow::Source,
    ..elementwise("source", "source", "")
};

impl Op {
    /// Whether several inputs meet here: elements wait in a buffer until drained in order.
    pub fn is_fan_in(&self) -> bool {
        matches!(self.flow, Flow::Buffered | Flow::BufferedPair)
    }
}

/// The operator called `name`.
pub fn lookup(name: &str) -> Option<&'static Op> {
    OPS.iter().find(|op| op.name == name)
}

/// The names of every operator, for the "unknown operator" message.
pub fn names() -> Vec<&'static str> {
    OPS.iter().map(|op| op.name).collect()
}

/// The runtime constructor `process` uses once it has an `on_timer`.
pub const PROCESS_TIMERS: &str = "process_timers";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_node_has_a_constructor() {
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OPS.len());
        for op in OPS {
            let adds_node = !matches!(
                op.build,
                Build::OpenWindow | Build::Lateness | Build::OnTimer | Build::Name
            );
            assert_eq!(adds_node, !op.ctor.is_empty(), "{}", op.name);
            if !op.runtime.is_empty() {
                let (module, ty) = op.runtime.rsplit_once("::").expect("module::Type");
                let base = format!(
                    "{}/../pulse-runtime/src/{}",
                    env!("CARGO_MANIFEST_DIR"),
                    module.replace("::", "/")
                );
                let file = [format!("{base}.rs"), format!("{base}/mod.rs")]
                    .into_iter()
                    .find(|f| std::path::Path::new(f).exists())
                    .expect(&base);
                let text = std::fs::read_to_string(&file).expect(&file);
                assert!(
                    text.contains(&format!("pub struct {ty}<")),
                    "{file} defines {ty}"
                );
            }
            // A refused plain stream needs its own message; other shapes have shared ones.
            if !op.on.contains(&Shape::Plain) {
                assert!(!op.refused.is_empty(), "{} says why it refuses", op.name);
            }
        }
    }
}
