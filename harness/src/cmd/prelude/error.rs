//! The error every command returns ([`CmdError`], printed once by the command line's `run`),
//! the exit codes, and the exit code of a verdict.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::report::Verdict;

/// Exit codes shared by every subcommand.
pub(crate) mod exit {
    /// Accepted / passed.
    pub(crate) const OK: u8 = 0;
    /// Rejected / failed.
    pub(crate) const REJECTED: u8 = 1;
    /// Usage or I/O error (clap uses 2 for usage errors as well).
    pub(crate) const USAGE_OR_IO: u8 = 2;
}

/// Why a command could not do its job.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CmdError {
    /// The flags or their values do not make sense.
    #[error("{0}")]
    Usage(String),
    /// A file could not be opened, read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done (`read`, `write the recording`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Something the command needs of the system failed (standard output, the recording, a
    /// port, the runtime).
    #[error("cannot {action}: {source}")]
    Io {
        /// What was being done (`write the report`, `start the simulation`).
        action: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The run could not go on (storage, the training API, the simulation's set-up).
    #[error("{0}")]
    Run(String),
}

impl CmdError {
    /// The exit code the error ends the process with.
    pub(crate) fn exit_code(&self) -> u8 {
        exit::USAGE_OR_IO
    }

    pub(crate) fn usage(why: impl fmt::Display) -> Self {
        Self::Usage(why.to_string())
    }

    pub(crate) fn run(why: impl fmt::Display) -> Self {
        Self::Run(why.to_string())
    }

    /// `action` (what was being done: `write the report`) failed with `source`.
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn file(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::File {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The exit code of a verdict: 0 for PASS, and for NON-STRICT unless `strict`; 1 otherwise.
pub(crate) fn verdict_exit(verdict: Verdict, strict: bool) -> u8 {
    match (verdict, strict) {
        (Verdict::Pass, _) | (Verdict::NonStrict, false) => exit::OK,
        (Verdict::NonStrict, true) | (Verdict::Fail, _) => exit::REJECTED,
    }
}

/// Writes `text` to stdout.
pub(crate) fn print(text: &str) -> Result<u8, CmdError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CmdError::io("write output", e))?;
    Ok(exit::OK)
}
