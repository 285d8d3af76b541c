//! The `pulse` command: tools around pipelines. (Pipelines themselves are binaries that call
//! [`run`](super::run).)

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};
use pulse_runtime::Result;

/// Runs the `pulse` command with `args` (the first is the program name); returns what to print.
pub fn main_from<I, T>(args: I) -> Result<String>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // `run` and `serve` take a pipeline binary's flags after the file: parsed by its own parser.
    match args.get(1).and_then(|a| a.to_str()) {
        Some("run") => return super::toml_run::run(args[2..].to_vec()).map(|_| String::new()),
        Some("serve") => return super::toml_run::serve(args[2..].to_vec()).map(|_| String::new()),
        _ => {}
    }
    let cmd = Command::new("pulse")
        .about("Tools for Pulse pipelines")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .subcommand(
            Command::new("run")
                .about("Runs a pipeline declared in TOML: pulse run --config PIPELINE.toml [FLAGS]")
                .long_about(super::toml_run::RUN_HELP),
        )
        .subcommand(
            Command::new("serve")
                .about("Runs several TOML pipelines and serves their metrics: pulse serve --port P --config A.toml --config B.toml")
                .long_about(super::toml_run::SERVE_HELP),
        )
        .subcommand(
            Command::new("inspect")
                .about(
                    "Shows the schema, rows, row groups and codecs of Parquet files or directories",
                )
                .arg(
                    Arg::new("paths")
                        .required(true)
                        .action(ArgAction::Append)
                        .value_parser(clap::value_parser!(PathBuf)),
                ),
        );
    let m = cmd.get_matches_from(args);
    match m.subcommand() {
        #[cfg(feature = "parquet")]
        Some(("inspect", sub)) => {
            let paths: Vec<PathBuf> = sub
                .get_many::<PathBuf>("paths")
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            super::inspect::inspect(&paths)
        }
        #[cfg(not(feature = "parquet"))]
        Some(("inspect", _)) => Err(pulse_runtime::Error::config(
            "`pulse inspect` needs the `parquet` feature",
        )),
        _ => unreachable!("clap requires a known subcommand; run and serve are handled above"),
    }
}
