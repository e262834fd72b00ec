//! What more than one command uses: the error every command returns ([`CmdError`], printed once
//! by [`super::run`]), the exit codes, the flag groups `watch` and `check` share, and the helpers
//! that open recordings and write reports.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal as _, Write};
use std::path::{Path, PathBuf};

use crate::report::{self, Format, Report, Verdict};
use crate::session::{LiveSink, RecordingSink};

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

/// Where CreateProject puts the storage URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FormArg {
    /// Query parameters on v3.3 (the seed's example).
    Query,
    /// A CreateProjectOptions JSON body on v3.4-preview (the SDKs).
    Body,
}

impl From<FormArg> for crate::training::OptionsForm {
    fn from(f: FormArg) -> Self {
        match f {
            FormArg::Query => Self::Query,
            FormArg::Body => Self::Body,
        }
    }
}

/// How the simulated service encodes its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EncodingArg {
    /// JSON text.
    Plain,
    /// Base64 of the JSON text.
    Base64,
}

impl From<EncodingArg> for crate::sim::MessageEncoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Plain => Self::Plain,
            EncodingArg::Base64 => Self::Base64,
        }
    }
}

/// Where a live session's recording and report go (`watch`, `check`).
#[derive(Debug, clap::Args)]
pub(crate) struct SessionOutput {
    /// Write everything observed to this recording (secrets redacted).
    #[arg(long)]
    pub(crate) record: Option<PathBuf>,
    /// Report format at the end.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
    /// Write the report here instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// NON-STRICT fails too.
    #[arg(long)]
    pub(crate) strict: bool,
}

impl SessionOutput {
    /// Where live lines go: stdout when the report is human text on stdout, else stderr.
    pub(crate) fn live(&self) -> LiveSink {
        if self.format == Format::Human && self.output.is_none() {
            Box::new(io::stdout())
        } else {
            Box::new(io::stderr())
        }
    }

    /// The recording's file, opened for writing.
    pub(crate) fn recording(&self) -> Result<Option<RecordingSink>, CmdError> {
        match &self.record {
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| CmdError::file("write the recording", path, e))?;
                Ok(Some(Box::new(BufWriter::new(file))))
            }
            None => Ok(None),
        }
    }

    /// Writes the report where the flags say and returns the exit code its verdict gives.
    pub(crate) fn emit(&self, report: &Report) -> Result<u8, CmdError> {
        write_report(report, self.format, self.output.as_deref(), false)?;
        Ok(verdict_exit(report.verdict, self.strict))
    }
}

/// Whether colour is wanted on stdout: a terminal, and no non-empty `NO_COLOR`.
pub(crate) fn stdout_color() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `report` to `output` (stdout when `None`; colour only there, and only when asked for
/// and wanted).
pub(crate) fn write_report(
    report: &Report,
    format: Format,
    output: Option<&Path>,
    no_color: bool,
) -> Result<(), CmdError> {
    match output {
        Some(path) => {
            let file =
                File::create(path).map_err(|e| CmdError::file("write the report to", path, e))?;
            let mut out = BufWriter::new(file);
            report::render(report, format, false, &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| CmdError::file("write the report to", path, e))
        }
        None => {
            let color = format == Format::Human && !no_color && stdout_color();
            let mut out = BufWriter::new(io::stdout().lock());
            report::render(report, format, color, &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| CmdError::run(format!("cannot write the report: {e}")))
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

/// A secret from the environment variable `var` (trimmed; empty counts as unset).
pub(crate) fn secret_from_env(var: &str, what: &str) -> Result<String, CmdError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(CmdError::usage(format!(
            "environment variable {var} holds no {what}"
        ))),
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
