//! Several pipelines in one binary: `pulse::run_all((a, b, c))` makes each a subcommand.

use std::ffi::OsString;

use pulse_runtime::exec::RunSummary;
use pulse_runtime::{Error, Pipeline, Result};

use super::App;

/// A tuple of pipelines, each run as a subcommand named after it.
pub trait Pipelines {
    /// Each pipeline's name, inputs and outputs, in order.
    fn list() -> Vec<(&'static str, String)>;
    /// Runs the pipeline called `name` with `args` (the first is the program name).
    fn run_named(self, name: &str, args: Vec<OsString>) -> Option<Result<RunSummary>>;
}

fn describe<P: Pipeline>() -> (&'static str, String) {
    let ports = |ps: &[pulse_runtime::PortInfo]| {
        ps.iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect::<Vec<_>>()
            .join(", ")
    };
    (
        P::NAME,
        format!("{} -> {}", ports(P::INPUTS), ports(P::OUTPUTS)),
    )
}

macro_rules! pipelines {
    ($($p:ident),+) => {
        impl<$($p: Pipeline),+> Pipelines for ($($p,)+) {
            fn list() -> Vec<(&'static str, String)> {
                vec![$(describe::<$p>()),+]
            }
            #[allow(non_snake_case)]
            fn run_named(self, name: &str, args: Vec<OsString>) -> Option<Result<RunSummary>> {
                let ($($p,)+) = self;
                $(
                    if name == $p::NAME {
                        return Some(App::new($p).run_from(args));
                    }
                )+
                None
            }
        }
    };
}

pipelines!(A);
pipelines!(A, B);
pipelines!(A, B, C);
pipelines!(A, B, C, D);
pipelines!(A, B, C, D, E);
pipelines!(A, B, C, D, E, F);
pipelines!(A, B, C, D, E, F, G);
pipelines!(A, B, C, D, E, F, G, H);

/// The usage text: the subcommands with their ports.
fn usage<T: Pipelines>(program: &str) -> String {
    let mut s = format!(
        "Usage: {program} <PIPELINE> [OPTIONS]\n\nRuns one of the Pulse pipelines below; `{program} <PIPELINE> --help` lists its options.\n\nPipelines:\n"
    );
    for (name, ports) in T::list() {
        s.push_str(&format!("  {name:<20} {ports}\n"));
    }
    s
}

/// Runs the pipeline named by the first argument of `args` with the rest; `--help` (or no
/// pipeline) prints the list of pipelines. An unknown name is an error that lists them.
pub fn run_all_from<T: Pipelines, I, S>(pipelines: T, args: I) -> Result<RunSummary>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let program = args
        .first()
        .map(|a| {
            std::path::Path::new(a)
                .file_name()
                .unwrap_or(a)
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_else(|| "pulse-app".into());
    let Some(name) = args.get(1).map(|a| a.to_string_lossy().into_owned()) else {
        return Err(Error::config(usage::<T>(&program)));
    };
    if name == "--help" || name == "-h" || name == "help" {
        print!("{}", usage::<T>(&program));
        return Ok(RunSummary::default());
    }
    let mut rest: Vec<OsString> = vec![format!("{program} {name}").into()];
    rest.extend(args[2..].iter().cloned());
    pipelines.run_named(&name, rest).unwrap_or_else(|| {
        let names: Vec<&str> = T::list().into_iter().map(|(n, _)| n).collect();
        Err(Error::config(format!(
            "no pipeline `{name}` in this binary; it runs: {}",
            names.join(", ")
        )))
    })
}

/// [`run_all_from`] on the process's arguments; on an error prints it and exits with its code.
pub fn run_all<T: Pipelines>(pipelines: T) -> Result<()> {
    match run_all_from(pipelines, std::env::args_os()) {
        Ok(_) => Ok(()),
        Err(e) => super::exit_with(&e),
    }
}
