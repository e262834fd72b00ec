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
#[derive(Debug)]
pub(crate) enum CmdError {
    /// The flags or their values do not make sense.
    Usage(String),
    /// A file could not be opened, read or written.
    File {
        /// What was being done (`read`, `write the recording`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The run could not go on (storage, the training API, the simulation, standard output).
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

    pub(crate) fn file(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::File {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(why) | Self::Run(why) => f.write_str(why),
            Self::File {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
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
        .map_err(|e| CmdError::run(format!("cannot write output: {e}")))?;
    Ok(exit::OK)
}
