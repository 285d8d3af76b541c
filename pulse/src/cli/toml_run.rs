//! `pulse run --config pipeline.toml` and `pulse serve`: TOML pipelines from the command line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use pulse_runtime::exec::RunSummary;
use pulse_runtime::{Error, Pipeline, Result};

use super::{App, Plan};
use crate::dynamic::{self, Configured, Job};

pub(super) const RUN_HELP: &str = "\
Runs a pipeline declared in TOML (see `pulse::dynamic` for the format)

Usage: pulse run --config PIPELINE.toml [FLAGS]

FLAGS are a pipeline binary's: --workers N, --http-port PORT, --explain, --fresh, --quiet,
--state-dir DIR, --checkpoint-interval D, --idle-timeout D, --follow, --input source=PATH,
--output PATH, ... (`pulse run --config PIPELINE.toml --help` lists them). A flag wins over
the file.";

pub(super) const SERVE_HELP: &str = "\
Runs several TOML pipelines in one process and serves their metrics on one port

Usage: pulse serve [--port PORT] [--http-addr ADDR] --config A.toml [--config B.toml ...] [--exit-when-done]

/metrics labels every series with `pipeline` (each file's `name`, or its stem); /healthz and
/debug/graph list every pipeline. After the pipelines end, the metrics stay up until Ctrl-C or
SIGTERM, unless --exit-when-done. The port defaults to 9898; 0 picks a free one, printed as
`metrics: http://ADDR/metrics`.";

/// Takes every `--config X` / `--config=X` out of `args`.
fn take_configs(args: &mut Vec<OsString>) -> Result<Vec<PathBuf>> {
    let mut configs = vec![];
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy().into_owned();
        if a == "--config" {
            if i + 1 >= args.len() {
                return Err(Error::config(
                    "--config needs a file: --config PIPELINE.toml",
                ));
            }
            configs.push(PathBuf::from(args.remove(i + 1)));
            args.remove(i);
        } else if let Some(v) = a.strip_prefix("--config=") {
            configs.push(PathBuf::from(v));
            args.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(configs)
}

/// Whether `flag` is among `args`.
fn given(args: &[OsString], flag: &str) -> bool {
    args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == flag || a.starts_with(&format!("{flag}="))
    })
}

/// The plan of `p` for `job`: the file's bindings and checkpoints, unless `args` say otherwise.
fn plan<P: Pipeline>(app: &App<P>, job: &Job, program: &str, args: &[OsString]) -> Result<Plan> {
    let mut full = vec![OsString::from(program)];
    if let Some(d) = job
        .state_dir
        .as_ref()
        .filter(|_| !given(args, "--state-dir"))
    {
        full.extend(["--state-dir".into(), d.clone().into_os_string()]);
    }
    if let Some(i) = job
        .checkpoint_interval
        .filter(|_| !given(args, "--checkpoint-interval"))
    {
        full.extend([
            "--checkpoint-interval".into(),
            format!("{}ms", i.as_millis()).into(),
        ]);
    }
    if job.no_checkpoints && !given(args, "--no-checkpoints") {
        full.push("--no-checkpoints".into());
    }
    full.extend(args.iter().cloned());
    app.plan(full)
}

/// The app for `job`'s pipeline: which of the two graphs, with the file's bindings.
macro_rules! with_app {
    ($job:expr, |$app:ident| $body:expr) => {{
        let job: &Job = $job;
        if job.query.key.is_some() {
            let p = Configured::new(dynamic::toml_windows, job.query.clone());
            let $app = App::new(p)
                .source(job.source.clone())
                .sink(job.sink.clone());
            $body
        } else {
            let p = Configured::new(dynamic::toml_records, job.query.clone());
            let $app = App::new(p)
                .source(job.source.clone())
                .sink(job.sink.clone());
            $body
        }
    }};
}

/// `pulse run`: `args` are what follows `run`.
pub(super) fn run(mut args: Vec<OsString>) -> Result<RunSummary> {
    let configs = take_configs(&mut args)?;
    let config = match configs.as_slice() {
        [one] => one,
        [] if given(&args, "--help") || given(&args, "-h") => {
            println!("{RUN_HELP}");
            return Ok(RunSummary::default());
        }
        [] => {
            return Err(Error::config(format!(
                "`pulse run` needs --config\n\n{RUN_HELP}"
            )));
        }
        _ => {
            return Err(Error::config(
                "`pulse run` runs one pipeline; `pulse serve --config A --config B` runs several",
            ));
        }
    };
    let job = dynamic::load(config)?;
    let summary = with_app!(&job, |app| {
        let plan = plan(&app, &job, "pulse run", &args)?;
        app.execute(plan)
    })?;
    if given(&args, "--explain") {
        // The graph's parameters are the file's, not the generic graph's expressions.
        println!("  with {}", job.query.describe());
    }
    Ok(summary)
}

/// `pulse serve`: `args` are what follows `serve`.
pub(super) fn serve(mut args: Vec<OsString>) -> Result<RunSummary> {
    if given(&args, "--help") || given(&args, "-h") {
        println!("{SERVE_HELP}");
        return Ok(RunSummary::default());
    }
    let configs = take_configs(&mut args)?;
    let mut port: u16 = 9898;
    let mut ip = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let mut exit_when_done = false;
    let mut rest = args.into_iter();
    while let Some(a) = rest.next() {
        let a = a.to_string_lossy().into_owned();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| rest.next().map(|v| v.to_string_lossy().into_owned()))
                .ok_or_else(|| Error::config(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--port" | "--http-port" => {
                let v = value()?;
                port = v
                    .parse()
                    .map_err(|_| Error::config(format!("--port: `{v}` is not a port number")))?;
            }
            "--http-addr" => {
                let v = value()?;
                ip = v.parse().map_err(|_| {
                    Error::config(format!("--http-addr: `{v}` is not an IP address"))
                })?;
            }
            "--exit-when-done" => exit_when_done = true,
            _ => {
                return Err(Error::config(format!(
                    "`pulse serve` does not take `{a}`\n\n{SERVE_HELP}"
                )));
            }
        }
    }
    if configs.is_empty() {
        return Err(Error::config(format!(
            "`pulse serve` needs at least one --config\n\n{SERVE_HELP}"
        )));
    }
    serve_jobs(&configs, ip, port, exit_when_done)
}

#[cfg(not(feature = "http"))]
fn serve_jobs(_: &[PathBuf], _: std::net::IpAddr, _: u16, _: bool) -> Result<RunSummary> {
    Err(Error::config(
        "`pulse serve` needs the `http` feature of the `pulse` crate",
    ))
}

#[cfg(feature = "http")]
fn serve_jobs(
    configs: &[PathBuf],
    ip: std::net::IpAddr,
    port: u16,
    exit_when_done: bool,
) -> Result<RunSummary> {
    let jobs = configs
        .iter()
        .map(|c| dynamic::load(c))
        .collect::<Result<Vec<_>>>()?;
    let mut names = std::collections::BTreeSet::new();
    for (job, path) in jobs.iter().zip(configs) {
        if !names.insert(job.query.name.clone()) {
            return Err(Error::config(format!(
                "{}: a second pipeline named `{}`; give each file its own `name`",
                path.display(),
                job.query.name
            )));
        }
    }
    let stop = super::signals::stop_on_signals();
    // Plans first (so a bad flag fails before anything runs), then the server, then the runs.
    let mut runs: Vec<Box<dyn FnOnce() -> Result<RunSummary> + Send>> = vec![];
    let mut boards = vec![];
    for job in jobs {
        with_app!(&job, |app| {
            let mut plan = plan(&app, &job, "pulse serve", &[])?;
            plan.launch.options.metrics = true;
            boards.push(plan.status.clone());
            runs.push(Box::new(move || app.execute(plan)));
        });
    }
    let server = super::http::Server::start(ip, port, boards)?;
    eprintln!("metrics: http://{}/metrics", server.addr());
    let threads: Vec<_> = runs
        .into_iter()
        .zip(configs)
        .map(|(run, path)| {
            let path = path.clone();
            std::thread::spawn(move || run().map_err(|e| (path, e)))
        })
        .collect();
    let mut total = RunSummary::default();
    let mut failed = None;
    for t in threads {
        match t.join() {
            Ok(Ok(s)) => {
                total.inputs.extend(s.inputs);
                total.outputs.extend(s.outputs);
                total.output_bytes.extend(s.output_bytes);
                total.late += s.late;
            }
            Ok(Err((path, e))) => {
                eprintln!("{}: {e}", path.display());
                failed.get_or_insert(e);
            }
            Err(_) => {
                failed.get_or_insert(Error::config("a pipeline's thread panicked"));
            }
        }
    }
    if !exit_when_done && !stop.load(Ordering::Relaxed) {
        eprintln!("every pipeline has ended; serving their metrics until Ctrl-C or SIGTERM");
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    drop(server);
    match failed {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Runs the pipeline file `path` as `pulse run --config PATH ARGS..` does.
pub fn run_file(path: &Path, args: &[&str]) -> Result<RunSummary> {
    let mut a: Vec<OsString> = vec!["--config".into(), path.into()];
    a.extend(args.iter().map(OsString::from));
    run(a)
}
