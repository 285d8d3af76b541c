//! The command line every pipeline binary gets from [`run`]: bind inputs and outputs, explain.

mod all;
mod config;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "parquet")]
mod inspect;
mod signals;
mod toml_run;
pub mod tool;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};
use pulse_runtime::exec::{CheckpointPlan, Launch, RunOptions, RunSummary, Savepoints};
use pulse_runtime::io::{BadRecordPolicy, Format, SinkSpec, SourceSpec};
use pulse_runtime::{Error, Pipeline, Result};

pub use all::{Pipelines, run_all, run_all_from};
pub use config::Config;
pub use toml_run::run_file;

/// Runs `pipeline` with bindings from the command line (or `--config`).
///
/// Prints a summary to stderr at the end. On an error it prints the error (which names the
/// file, line and field for bad input) and exits with the error's code
/// ([`Error::exit_code`]: 2 usage or configuration, 65 bad data, 74 I/O, 70 state; 130 when a
/// second Ctrl-C cuts a live run short), so a script can tell failures apart.
pub fn run<P: Pipeline>(pipeline: P) -> Result<()> {
    App::new(pipeline).run()
}

/// Prints `e` and exits with its code.
fn exit_with(e: &Error) -> ! {
    eprintln!("Error: {e}");
    std::process::exit(e.exit_code())
}

/// A pipeline binary with default bindings, overridable by flags and `--config`.
///
/// # Examples
/// ```no_run
/// # use pulse::prelude::*;
/// # #[derive(Event, Clone, Deserialize, Serialize)] struct E { #[event_time(epoch_ms)] t: i64 }
/// # #[pipeline] fn copy(xs: Stream<E>) -> Stream<E> { xs }
/// fn main() -> pulse::Result<()> {
///     pulse::App::new(copy).input("xs", "data/in.jsonl").output("output", "-").run()
/// }
/// ```
pub struct App<P> {
    pipeline: P,
    inputs: Vec<(String, String)>,
    outputs: Vec<(String, String)>,
    /// Whole default bindings (format, policy and options included), as a TOML pipeline gives.
    source_specs: Vec<SourceSpec>,
    sink_specs: Vec<SinkSpec>,
}

/// What the command line asked for: a run, or the graph printed.
#[derive(Debug)]
pub struct Plan {
    /// Bindings, options and checkpoints of the run.
    pub launch: Launch,
    /// Print the graph instead of running: `text` or `mermaid`.
    pub explain: Option<String>,
    /// Serve `/metrics`, `/healthz` and `/debug/graph` on this address (port 0: any free one).
    pub http: Option<std::net::SocketAddr>,
    /// `--log-format json`: logs as JSON lines.
    pub json_logs: bool,
    /// Where the run publishes what each operator is doing (SIGUSR1, `/debug/graph`, the
    /// summary).
    pub status: pulse_runtime::exec::StatusBoard,
}

impl<P: Pipeline> App<P> {
    /// An app for `pipeline` with no default bindings.
    pub fn new(pipeline: P) -> Self {
        App {
            pipeline,
            inputs: vec![],
            outputs: vec![],
            source_specs: vec![],
            sink_specs: vec![],
        }
    }

    /// Binds input `name` to `path` unless a flag or the config binds it.
    pub fn input(mut self, name: &str, path: &str) -> Self {
        self.inputs.push((name.into(), path.into()));
        self
    }

    /// Binds output `name` to `path` (`-` for stdout) unless a flag or the config binds it.
    pub fn output(mut self, name: &str, path: &str) -> Self {
        self.outputs.push((name.into(), path.into()));
        self
    }

    /// Binds input `spec.name` to `spec` (its format, bad-record policy and all) unless a flag
    /// or the config binds it.
    pub fn source(mut self, spec: SourceSpec) -> Self {
        self.source_specs.push(spec);
        self
    }

    /// Binds output `spec.name` to `spec` (its format and Parquet options included) unless a
    /// flag or the config binds it.
    pub fn sink(mut self, spec: SinkSpec) -> Self {
        self.sink_specs.push(spec);
        self
    }

    /// Parses `std::env::args` and runs; on an error prints it and exits with its code (see
    /// [`run`]).
    pub fn run(self) -> Result<()> {
        match self.run_from(std::env::args_os()) {
            Ok(_) => Ok(()),
            Err(e) => exit_with(&e),
        }
    }

    /// Parses `args` (the first is the program name) and runs; returns what the run did
    /// (empty for `--explain` and `--export-savepoint`).
    pub fn run_from<I, T>(self, args: I) -> Result<RunSummary>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let plan = self.plan(args)?;
        self.execute(plan)
    }

    /// Runs what [`plan`](Self::plan) made (after a caller adjusted it, as `pulse run` does
    /// with a TOML pipeline's bindings).
    pub fn execute(&self, plan: Plan) -> Result<RunSummary> {
        init_logs(plan.json_logs)?;
        if let Some(format) = &plan.explain {
            match format.as_str() {
                "mermaid" => print!("{}", P::EXPLAIN.mermaid),
                _ => print!("{}", P::EXPLAIN.text),
            }
            return Ok(RunSummary::default());
        }
        let mut launch = plan.launch;
        if launch
            .sources
            .iter()
            .any(|s| s.follow || pulse_runtime::io::is_live(&s.path))
        {
            // A live input ends when its writer closes it, or at Ctrl-C / SIGTERM: the run then
            // ends as if every input had (the last windows fire, the outputs are published).
            launch.options.stop = Some(signals::stop_on_signals());
        }
        // What each operator is doing, for SIGUSR1, /debug/graph and the summary.
        let board = plan.status.clone();
        launch.options.status = Some(board.clone());
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = signals::status_on_usr1(board.clone(), done.clone());
        #[cfg(feature = "http")]
        let _server = match plan.http {
            Some(addr) => {
                let server = http::Server::start(addr.ip(), addr.port(), vec![board.clone()])?;
                eprintln!("metrics: http://{}/metrics", server.addr());
                launch.options.metrics = true;
                Some(server)
            }
            None => None,
        };
        #[cfg(not(feature = "http"))]
        if plan.http.is_some() {
            return Err(Error::config(
                "--http-port needs the `http` feature of the `pulse` crate",
            ));
        }
        let result = launch.run(&self.pipeline);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(w) = watcher {
            w.thread().unpark();
            let _ = w.join();
        }
        let summary = result?;
        let exported = launch
            .checkpoints
            .as_ref()
            .is_some_and(|c| c.export_savepoint.is_some());
        if !launch.quiet && !exported && !summary.finished_earlier {
            eprintln!("{} {summary}", self.pipeline.name());
            let st = board.lock().unwrap_or_else(|p| p.into_inner()).clone();
            for op in st.operators.iter().filter(|o| o.op == "window") {
                if op.records_in > 0 && op.records_out == 0 {
                    eprintln!(
                        "  window {} never fired: {} elements in{}",
                        op.id,
                        op.records_in,
                        if summary.late > 0 {
                            ", late elements counted above"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        Ok(summary)
    }

    /// Merges flags, `--config` and defaults into bindings for every port.
    pub fn plan<I, T>(&self, args: I) -> Result<Plan>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let m = command::<P>().get_matches_from(args);
        let config = match m.get_one::<PathBuf>("config") {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        let flag_inputs = named(
            m.get_many::<String>("input"),
            P::INPUTS.iter().map(|p| p.name),
            "input",
        )?;
        let flag_outputs = named(
            m.get_many::<String>("output"),
            P::OUTPUTS.iter().map(|p| p.name),
            "output",
        )?;
        for name in config.inputs.keys() {
            known(name, P::INPUTS.iter().map(|p| p.name), "input")?;
        }
        for name in config.outputs.keys() {
            known(name, P::OUTPUTS.iter().map(|p| p.name), "output")?;
        }
        let policy_flag = m
            .get_one::<String>("on-bad-record")
            .cloned()
            .or(config.on_bad_record.clone());
        let dead_flag = m
            .get_one::<PathBuf>("dead-letter")
            .cloned()
            .or(config.dead_letter.clone());
        let mut sources = vec![];
        for port in P::INPUTS {
            let conf = config.inputs.get(port.name);
            let flagged = flag_inputs.iter().any(|(n, _)| n == port.name);
            if let (false, None, Some(spec)) = (
                flagged,
                conf,
                self.source_specs.iter().find(|s| s.name == port.name),
            ) {
                sources.push(SourceSpec {
                    follow: m.get_flag("follow"),
                    ..spec.clone()
                });
                continue;
            }
            let path = flag_inputs
                .iter()
                .find(|(n, _)| n == port.name)
                .map(|(_, p)| p.clone())
                .or_else(|| conf.map(|c| c.path.clone()))
                .or_else(|| {
                    self.inputs
                        .iter()
                        .find(|(n, _)| n == port.name)
                        .map(|(_, p)| p.clone())
                })
                .ok_or_else(|| {
                    Error::config(format!(
                        "input `{}` ({}) is not bound; pass `--input {}=PATH`",
                        port.name, port.ty, port.name
                    ))
                })?;
            let (format, path) = match (
                conf.and_then(|c| c.format.as_deref()),
                path.strip_prefix("parquet:"),
            ) {
                (_, Some(p)) => (Format::Parquet, p.to_string()),
                (Some(f), None) => (Format::parse(f)?, path),
                (None, None) => (Format::from_path(&path)?, path),
            };
            let policy = conf
                .and_then(|c| c.on_bad_record.clone())
                .or(policy_flag.clone())
                .unwrap_or_else(|| "fail".into());
            let dead = conf
                .and_then(|c| c.dead_letter.clone())
                .or(dead_flag.clone());
            let on_bad_record = BadRecordPolicy::parse(&policy, dead.as_deref(), &path)?;
            sources.push(SourceSpec {
                name: port.name.into(),
                path,
                format,
                on_bad_record,
                split: Default::default(),
                follow: m.get_flag("follow"),
            });
        }
        let mut sinks = vec![];
        for port in P::OUTPUTS {
            let conf = config.outputs.get(port.name);
            let flagged = flag_outputs.iter().any(|(n, _)| n == port.name);
            if let (false, None, Some(spec)) = (
                flagged,
                conf,
                self.sink_specs.iter().find(|s| s.name == port.name),
            ) {
                sinks.push(spec.clone());
                continue;
            }
            let path = flag_outputs
                .iter()
                .find(|(n, _)| n == port.name)
                .map(|(_, p)| p.clone())
                .or_else(|| conf.map(|c| c.path.clone()))
                .or_else(|| {
                    self.outputs
                        .iter()
                        .find(|(n, _)| n == port.name)
                        .map(|(_, p)| p.clone())
                })
                .unwrap_or_else(|| "-".into());
            let mut spec = SinkSpec::new(port.name, &path)?;
            if let Some(conf) = conf {
                if let Some(f) = conf.format.as_deref() {
                    spec.format = Format::parse(f)?;
                }
                conf.parquet_options(&mut spec.parquet)?;
            }
            sinks.push(spec);
        }
        let mut options = RunOptions {
            // A line rewritten in place on a terminal, a plain line every few seconds
            // otherwise; none with --quiet.
            progress: !m.get_flag("quiet"),
            ..RunOptions::default()
        };
        if let Some(n) = m
            .get_one::<usize>("batch-size")
            .copied()
            .or(config.batch_size)
        {
            options.batch_size = n.max(1);
        }
        // The seed's opt-in drop mode: results past this many in flight to the sinks are
        // dropped (and counted) rather than waited for. Workers only: one thread has no queue.
        if let Ok(v) = std::env::var("PULSE_CHANNEL_BOUND") {
            let n = v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    Error::config(format!(
                        "PULSE_CHANNEL_BOUND={v}: expected a number of records, at least 1"
                    ))
                })?;
            options.channel_bound = Some(n);
        }
        if let Some(v) = m.get_one::<String>("idle-timeout") {
            options.idle_timeout = Some(parse_duration(v)?);
        }
        if let Some(n) = m.get_one::<usize>("workers").copied().or(config.workers) {
            if n == 0 {
                return Err(Error::config(
                    "--workers takes a number of threads, at least 1",
                ));
            }
            options.workers = n;
        }
        let checkpoints = if m.get_flag("no-checkpoints") || config.checkpoints == Some(false) {
            None
        } else {
            let dir = m
                .get_one::<PathBuf>("state-dir")
                .cloned()
                .or(config.state_dir.clone())
                .unwrap_or_else(|| PathBuf::from(".pulse").join(self.pipeline.name()));
            let interval = match m
                .get_one::<String>("checkpoint-interval")
                .or(config.checkpoint_interval.as_ref())
            {
                Some(v) => parse_duration(v)?,
                None => std::time::Duration::from_secs(10),
            };
            let memory_budget = m
                .get_one::<String>("memory-budget")
                .or(config.memory_budget.as_ref())
                .map(|v| parse_size(v))
                .transpose()?;
            let sp_interval = m
                .get_one::<String>("savepoint-interval")
                .or(config.savepoint_interval.as_ref())
                .map(|v| parse_duration(v))
                .transpose()?;
            let mut sp_default = dir.clone().into_os_string();
            sp_default.push(".savepoints");
            let savepoints = Savepoints {
                dir: m
                    .get_one::<PathBuf>("savepoint-dir")
                    .cloned()
                    .or(config.savepoint_dir.clone())
                    .unwrap_or_else(|| PathBuf::from(sp_default)),
                interval: sp_interval,
                retain: m
                    .get_one::<usize>("savepoint-retain")
                    .copied()
                    .or(config.savepoint_retain)
                    .unwrap_or(3),
                trigger: dir.join("SAVEPOINT"),
                announce: !m.get_flag("quiet"),
            };
            Some(CheckpointPlan {
                dir,
                interval,
                memory_budget,
                savepoints,
                restore_from: m.get_one::<PathBuf>("restore-from").cloned(),
                allow_non_restored_state: m.get_flag("allow-non-restored-state")
                    || config.allow_non_restored_state == Some(true),
                export_savepoint: m.get_one::<PathBuf>("export-savepoint").cloned(),
            })
        };
        if checkpoints.is_none()
            && (m.contains_id("restore-from") || m.contains_id("export-savepoint"))
        {
            return Err(Error::config(
                "--restore-from and --export-savepoint need checkpoints; drop --no-checkpoints",
            ));
        }
        Ok(Plan {
            launch: Launch {
                sources,
                sinks,
                options,
                checkpoints,
                fresh: m.get_flag("fresh"),
                append: m.get_flag("append"),
                quiet: m.get_flag("quiet"),
            },
            explain: m.get_one::<String>("explain").cloned(),
            json_logs: m
                .get_one::<String>("log-format")
                .is_some_and(|f| f == "json"),
            // Live from the start: a server polled before the first batch must not see an
            // ended run.
            status: std::sync::Arc::new(std::sync::Mutex::new(pulse_runtime::exec::RunStatus {
                pipeline: self.pipeline.name().into(),
                live: true,
                ..Default::default()
            })),
            http: m.get_one::<u16>("http-port").map(|&port| {
                let ip = m
                    .get_one::<std::net::IpAddr>("http-addr")
                    .copied()
                    .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
                std::net::SocketAddr::new(ip, port)
            }),
        })
    }
}

fn ports(ports: &[pulse_runtime::PortInfo]) -> String {
    ports
        .iter()
        .map(|p| format!("  {:<16} {}\n", p.name, p.ty))
        .collect()
}

fn command<P: Pipeline>() -> Command {
    let after = format!(
        "Inputs (--input NAME=PATH; .jsonl, .csv or .parquet, a path or a glob; a directory or parquet:PATH reads Parquet):\n{}\nOutputs (--output [NAME=]PATH; .jsonl, .csv, parquet:DIR, or - for stdout, the default):\n{}",
        ports(P::INPUTS),
        ports(P::OUTPUTS)
    );
    Command::new(P::NAME)
        .about(format!("Runs the `{}` Pulse pipeline", P::NAME))
        .after_help(after)
        .arg(
            Arg::new("input")
                .long("input")
                .short('i')
                .value_name("NAME=PATH")
                .action(ArgAction::Append)
                .help("Binds an input to a file or glob"),
        )
        .arg(
            Arg::new("output")
                .long("output")
                .short('o')
                .value_name("[NAME=]PATH")
                .action(ArgAction::Append)
                .help("Binds an output to a file or - (stdout)"),
        )
        .arg(
            Arg::new("config")
                .long("config")
                .short('c')
                .value_name("FILE.toml")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Reads bindings and options from a TOML file (flags win)"),
        )
        .arg(
            Arg::new("explain")
                .long("explain")
                .value_name("FORMAT")
                .num_args(0..=1)
                .default_missing_value("text")
                .value_parser(["text", "mermaid"])
                .help("Prints the operator graph (text or mermaid) and exits"),
        )
        .arg(
            Arg::new("on-bad-record")
                .long("on-bad-record")
                .value_name("POLICY")
                .value_parser(["fail", "skip", "dead-letter"])
                .help("What to do with a record that does not decode [default: fail]"),
        )
        .arg(
            Arg::new("dead-letter")
                .long("dead-letter")
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .help("The dead-letter file (JSON lines) for --on-bad-record dead-letter"),
        )
        .arg(
            Arg::new("batch-size")
                .long("batch-size")
                .value_name("N")
                .value_parser(clap::value_parser!(usize))
                .help("Records read per batch [default: 1024]"),
        )
        .arg(
            Arg::new("workers")
                .long("workers")
                .short('w')
                .value_name("N")
                .value_parser(clap::value_parser!(usize))
                .help("Runs N copies of the graph on N threads, split by key after each key_by [default: 1]"),
        )
        .arg(
            Arg::new("state-dir")
                .long("state-dir")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Where state and checkpoints live [default: .pulse/<pipeline>]"),
        )
        .arg(
            Arg::new("checkpoint-interval")
                .long("checkpoint-interval")
                .value_name("DURATION")
                .help("Time between checkpoints: 500ms, 10s, 1m [default: 10s]"),
        )
        .arg(
            Arg::new("no-checkpoints")
                .long("no-checkpoints")
                .action(ArgAction::SetTrue)
                .help("Runs without state on disk: a crash restarts from the beginning"),
        )
        .arg(
            Arg::new("append")
                .long("append")
                .action(ArgAction::SetTrue)
                .help("Lets a Parquet output go into a directory that holds files Pulse did not write"),
        )
        .arg(
            Arg::new("fresh")
                .long("fresh")
                .action(ArgAction::SetTrue)
                .help("Deletes earlier state and starts from the beginning"),
        )
        .arg(
            Arg::new("memory-budget")
                .long("memory-budget")
                .value_name("SIZE")
                .help("Keyed state kept in memory, e.g. 512MiB; colder state is read back from fjall [default: unlimited]"),
        )
        .arg(
            Arg::new("savepoint-dir")
                .long("savepoint-dir")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Where savepoints go [default: <state-dir>.savepoints]"),
        )
        .arg(
            Arg::new("savepoint-interval")
                .long("savepoint-interval")
                .value_name("DURATION")
                .help("Time between savepoints [default: on demand only: touch <state-dir>/SAVEPOINT]"),
        )
        .arg(
            Arg::new("savepoint-retain")
                .long("savepoint-retain")
                .value_name("N")
                .value_parser(clap::value_parser!(usize))
                .help("Savepoints to keep [default: 3]"),
        )
        .arg(
            Arg::new("restore-from")
                .long("restore-from")
                .value_name("SAVEPOINT_DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Starts from a savepoint, replacing the state in --state-dir"),
        )
        .arg(
            Arg::new("export-savepoint")
                .long("export-savepoint")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Exports the latest checkpoint in --state-dir as a savepoint and exits"),
        )
        .arg(
            Arg::new("allow-non-restored-state")
                .long("allow-non-restored-state")
                .action(ArgAction::SetTrue)
                .help("Drops the saved state of operators the pipeline no longer has"),
        )
        .arg(
            Arg::new("follow")
                .long("follow")
                .short('f')
                .action(ArgAction::SetTrue)
                .help("Follows each JSON lines input as it grows and is rotated (like tail -F), until Ctrl-C"),
        )
        .arg(
            Arg::new("idle-timeout")
                .long("idle-timeout")
                .value_name("DURATION")
                .help("A live input (stdin, a pipe) with no data for this long stops holding the watermark back until it sends again [default: never]"),
        )
        .arg(
            Arg::new("http-port")
                .long("http-port")
                .value_name("PORT")
                .value_parser(clap::value_parser!(u16))
                .help("Serves /metrics (Prometheus), /healthz and /debug/graph on PORT (0: any free port; the address is printed)"),
        )
        .arg(
            Arg::new("http-addr")
                .long("http-addr")
                .value_name("IP")
                .value_parser(clap::value_parser!(std::net::IpAddr))
                .requires("http-port")
                .help("The address --http-port binds [default: 127.0.0.1]"),
        )
        .arg(
            Arg::new("quiet")
                .long("quiet")
                .short('q')
                .action(ArgAction::SetTrue)
                .help("Prints no summary"),
        )
        .arg(
            Arg::new("log-format")
                .long("log-format")
                .value_name("FORMAT")
                .value_parser(["text", "json"])
                .default_value("text")
                .help("Logs (filtered by RUST_LOG, default `warn`) as text or JSON lines, on stderr"),
        )
}

/// Sends the runtime's `tracing` spans and events to stderr, filtered by `RUST_LOG` (targets
/// and levels, e.g. `info` or `warn,pulse_runtime::exec=debug`), as text or JSON lines. Once
/// per process: a later call keeps the first subscriber.
pub fn init_logs(json: bool) -> Result<()> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt};
    let filter: Targets = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => v
            .parse()
            .map_err(|e| Error::config(format!("RUST_LOG={v}: {e}")))?,
        _ => Targets::new().with_default(LevelFilter::WARN),
    };
    // A span is logged when it closes, with its time: per batch for sources and sinks, per
    // watermark step for operators (at `trace`), per checkpoint and run (at `info`).
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_span_events(fmt::format::FmtSpan::CLOSE);
    let layer = if json {
        layer
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        layer.with_ansi(false).boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
    Ok(())
}

/// Splits `NAME=PATH` values; a bare `PATH` binds the only port.
fn named<'a>(
    values: Option<clap::parser::ValuesRef<'a, String>>,
    names: impl Iterator<Item = &'a str> + Clone,
    what: &str,
) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    for v in values.into_iter().flatten() {
        let (name, path) = match v.split_once('=') {
            Some((n, p)) if names.clone().any(|k| k == n) => (n.to_string(), p.to_string()),
            Some((n, _)) if !n.contains(['/', '.']) => {
                known(n, names.clone(), what)?;
                unreachable!("known() fails for unknown names")
            }
            _ => {
                let all: Vec<&str> = names.clone().collect();
                match all.as_slice() {
                    [only] => (only.to_string(), v.clone()),
                    _ => {
                        return Err(Error::config(format!(
                            "--{what} `{v}`: name the {what}, e.g. `--{what} {}=PATH`",
                            all.first().copied().unwrap_or("NAME")
                        )));
                    }
                }
            }
        };
        out.push((name, path));
    }
    Ok(out)
}

fn known<'a>(
    name: &str,
    mut names: impl Iterator<Item = &'a str> + Clone,
    what: &str,
) -> Result<()> {
    if names.clone().any(|k| k == name) {
        return Ok(());
    }
    let list: Vec<&str> = names.by_ref().collect();
    Err(Error::config(format!(
        "this pipeline has no {what} `{name}`; its {what}s are: {}",
        list.join(", ")
    )))
}

/// Parses `500ms`, `10s`, `2m`, `1h` or plain milliseconds.
pub fn parse_duration(v: &str) -> Result<std::time::Duration> {
    let v = v.trim();
    let (num, unit) = v
        .find(|c: char| !c.is_ascii_digit())
        .map_or((v, "ms"), |i| (&v[..i], &v[i..]));
    let n: u64 = num
        .parse()
        .map_err(|_| Error::config(format!("bad duration `{v}`; write e.g. 500ms, 10s or 1m")))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        _ => {
            return Err(Error::config(format!(
                "bad duration unit in `{v}`; use ms, s, m or h"
            )));
        }
    };
    Ok(std::time::Duration::from_millis(ms))
}

/// Parses `512MiB`, `2GB`, `64KiB` or plain bytes.
pub fn parse_size(v: &str) -> Result<usize> {
    let v = v.trim();
    let (num, unit) = v
        .find(|c: char| !c.is_ascii_digit())
        .map_or((v, ""), |i| (&v[..i], v[i..].trim()));
    let n: usize = num
        .parse()
        .map_err(|_| Error::config(format!("bad size `{v}`; write e.g. 512MiB or 2GB")))?;
    let mult: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => {
            return Err(Error::config(format!(
                "bad size unit in `{v}`; use B, KB, KiB, MB, MiB, GB or GiB"
            )));
        }
    };
    Ok(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("3 parsecs").is_err());
    }
}
