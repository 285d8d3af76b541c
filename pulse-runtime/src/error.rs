//! Errors: every failure names where it happened (file, line, field) and what was expected.

use std::fmt;
use std::path::PathBuf;

/// The result type of Pulse's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while configuring or running a pipeline.
///
/// `Debug` prints the same sentence as `Display` (as `anyhow` does), so `fn main() ->
/// pulse::Result<()>` reports `Error: in.jsonl:2: field `price`: ...`, not the enum's fields.
#[non_exhaustive]
pub enum Error {
    /// A record could not be decoded into the event type.
    BadRecord {
        /// The file the record came from.
        path: PathBuf,
        /// 1-based line number (for CSV: the line of the record).
        line: u64,
        /// The field at fault, when it is known.
        field: Option<String>,
        /// What went wrong and what was expected.
        message: String,
    },
    /// An I/O error, with the path it concerns.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record could not be written to a sink.
    Write {
        /// The sink's name or path.
        sink: String,
        /// What went wrong.
        message: String,
    },
    /// A configuration, flag or binding problem.
    Config(String),
    /// State could not be saved or restored.
    State {
        /// The stable id of the operator.
        operator: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// A configuration error with the given message.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    /// The process exit code for this error, by kind: 2 for usage and configuration (as
    /// clap's usage errors), 65 for bad input data, 74 for I/O and writing, 70 for state that
    /// cannot be saved or restored (`sysexits.h`).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 2,
            Error::BadRecord { .. } => 65,
            Error::Io { .. } | Error::Write { .. } => 74,
            Error::State { .. } => 70,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRecord {
                path,
                line,
                field,
                message,
            } => {
                write!(f, "{}:{line}: ", path.display())?;
                if let Some(field) = field {
                    write!(f, "field `{field}`: ")?;
                }
                write!(f, "{message}")
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Write { sink, message } => write!(f, "writing to {sink}: {message}"),
            Error::Config(message) => f.write_str(message),
            Error::State { operator, message } => {
                write!(f, "state of operator `{operator}`: {message}")
            }
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message already holds an I/O error's cause; nothing else has one.
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_reads_as_the_message() {
        let bad = Error::BadRecord {
            path: "in.jsonl".into(),
            line: 2,
            field: Some("price".into()),
            message: "invalid type: string \"x\", expected u64".into(),
        };
        let text = "in.jsonl:2: field `price`: invalid type: string \"x\", expected u64";
        assert_eq!(format!("{bad}"), text);
        assert_eq!(format!("{bad:?}"), text);
        let io = Error::io(
            "missing.csv",
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        );
        assert_eq!(format!("{io:?}"), "missing.csv: no such file");
        // What `fn main() -> pulse::Result<()>` prints after `Error: `.
        assert_eq!(
            format!("{:?}", Error::config("bad duration `5x`")),
            "bad duration `5x`"
        );
    }
}
