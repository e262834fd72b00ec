//! What more than one command uses: the error every command returns ([`CmdError`], printed once
//! by [`super::run`]), the exit codes, the flag groups `watch` and `check` share, and the helpers
//! that open recordings and write reports.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal as _, Write};
use std::path::{Path, PathBuf};

use crate::report::{self, Expectations, Format, Report, Rules, Verdict, Waivers, known_codes};
use cvnotify_core::lifecycle::Timestamp;

use crate::recording::Outcome;
use crate::session::{LiveSink, Recorder, Session};

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
    /// Append everything observed to this recording (secrets redacted). An existing recording
    /// is never truncated: the run is appended after its lines, with a session line of its own.
    #[arg(long)]
    pub(crate) record: Option<PathBuf>,
    /// Report format at the end.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
    /// Write the report here instead of stdout (never the recording).
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// NON-STRICT fails too.
    #[arg(long)]
    pub(crate) strict: bool,
    #[command(flatten)]
    pub(crate) judge: JudgeArgs,
}

impl SessionOutput {
    /// Where live lines go: stdout when the report is human text on stdout, else stderr.
    pub(crate) fn live(&self) -> LiveSink {
        let on_stdout = self.output.as_deref().is_none_or(is_stdout);
        if self.format == Format::Human && on_stdout {
            Box::new(io::stdout())
        } else {
            Box::new(io::stderr())
        }
    }

    /// Checks the paths before anything runs: the report never overwrites the recording, and
    /// the report's file can be written.
    pub(crate) fn check_paths(&self) -> Result<(), CmdError> {
        if let (Some(record), Some(output)) = (&self.record, &self.output)
            && same_file(record, output)
        {
            return Err(CmdError::usage(format!(
                "--output {} is the recording: the report would overwrite the evidence",
                output.display()
            )));
        }
        if let Some(output) = self.output.as_deref().filter(|p| !is_stdout(p)) {
            writable(output)?;
        }
        Ok(())
    }

    /// The recorder: appending to the recording when one is asked for, numbering on from the
    /// lines it already has.
    pub(crate) fn recorder(&self) -> Result<Recorder, CmdError> {
        match &self.record {
            Some(path) => open_recording(path),
            None => Ok(Recorder::new(None, 0)),
        }
    }

    /// Writes the report where the flags say and returns the exit code its verdict gives.
    pub(crate) fn emit(&self, report: &Report) -> Result<u8, CmdError> {
        write_report(report, self.format, self.output.as_deref(), false)?;
        Ok(verdict_exit(report.verdict, self.strict))
    }
}

/// How sessions are judged: waivers and expectations (`replay`, `watch`, `check`).
#[derive(Debug, clap::Args)]
pub(crate) struct JudgeArgs {
    /// Only these check codes count (comma-separated or repeated); the rest are waived.
    #[arg(long, value_delimiter = ',')]
    pub(crate) select: Vec<String>,
    /// Waive these check codes (comma-separated or repeated): reported, but not counted.
    /// `--exclude nothing-judged` lets a run that saw nothing pass.
    #[arg(long, value_delimiter = ',')]
    pub(crate) exclude: Vec<String>,
    /// Fail unless at least this many projects were judged.
    #[arg(long, value_name = "N")]
    pub(crate) expect_projects: Option<u64>,
    /// Fail unless at least this many messages were accepted.
    #[arg(long, value_name = "N")]
    pub(crate) expect_messages: Option<u64>,
}

impl JudgeArgs {
    /// The rules, with every waived code checked against the catalogue.
    pub(crate) fn rules(&self) -> Result<Rules, CmdError> {
        let known = known_codes();
        for code in self.select.iter().chain(&self.exclude) {
            if !known.contains(&code.as_str()) {
                return Err(CmdError::usage(format!(
                    "unknown check code {code:?}; known codes: {}",
                    known.join(", ")
                )));
            }
        }
        Ok(Rules {
            waivers: Waivers {
                select: self.select.clone(),
                exclude: self.exclude.clone(),
            },
            expect: Expectations {
                projects: self.expect_projects,
                messages: self.expect_messages,
            },
        })
    }
}

/// Whether `a` and `b` name the same file (the same inode when both exist; the same absolute
/// path otherwise).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => match (std::path::absolute(a), std::path::absolute(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        },
    }
}

/// Checks that `path` can be written, without truncating what it holds now (a report written
/// at the end of a long run must not fail only then).
pub(crate) fn writable(path: &Path) -> Result<(), CmdError> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
        .map_err(|e| CmdError::file("write the report to", path, e))?;
    if !existed {
        // Made only to know it can be: a run that fails before its report leaves nothing.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// A writer whose errors name its file (`/dev/full: No space left on device`): a failing disk
/// is told apart from a failing peer wherever the error is printed.
struct Named<W> {
    path: String,
    inner: W,
}

impl<W: Write> Named<W> {
    fn name(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.path))
    }
}

impl<W: Write> Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.name(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.name(e))
    }
}

/// Opens a recording for appending: counts the lines it has (a last line cut short by a crash
/// is ended, so that it stays a line of its own) and numbers on from there.
pub(crate) fn open_recording(path: &Path) -> Result<Recorder, CmdError> {
    use std::io::{Read as _, Seek as _};
    let fail = |e| CmdError::file("write the recording", path, e);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(fail)?;
    let (mut lines, mut last, mut buf) = (0u64, None, vec![0u8; 1 << 16]);
    // Only a regular file has lines to count (a pipe or a device has none to read back).
    let regular = file.metadata().map_err(fail)?.is_file();
    // A recording is evidence: two processes appending to one file would interleave their
    // lines. The writer holds an advisory lock for as long as it writes; a second is refused.
    if regular {
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(CmdError::usage(format!(
                    "{} is being written by another cvnotify process: two writers would \
                     interleave their lines; give each its own --record file, or \
                     `replay --merge` several",
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
        }
    }
    if regular {
        file.rewind().map_err(fail)?;
        loop {
            let n = file.read(&mut buf).map_err(fail)?;
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            last = chunk.last().copied();
        }
    }
    if last.is_some_and(|b| b != b'\n') {
        file.write_all(b"\n").map_err(fail)?;
        lines += 1;
    }
    let lines = u32::try_from(lines).map_err(|_| {
        CmdError::usage(format!(
            "{} already holds more lines than a recording can number",
            path.display()
        ))
    })?;
    let sink = Named {
        path: path.display().to_string(),
        inner: BufWriter::new(file),
    };
    Ok(Recorder::new(Some(Box::new(sink)), lines))
}

/// Whether colour is wanted on stdout: a terminal, and no non-empty `NO_COLOR`.
/// When reports are coloured (`--color`, on every command).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (and non-empty); `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

static COLOR: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

/// Sets the colour choice for the process (once, from the command line).
pub(crate) fn set_color(choice: ColorChoice) {
    let _ = COLOR.set(choice);
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether a report written to stdout is coloured: `--color always`, or `auto` with
/// `CLICOLOR_FORCE` set, or `auto` on a terminal without `NO_COLOR`.
pub(crate) fn stdout_color() -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            env_set("CLICOLOR_FORCE") || (io::stdout().is_terminal() && !env_set("NO_COLOR"))
        }
    }
}

/// Writes `report` to `output` (stdout when `None`; colour only there, and only when asked for
/// and wanted).
pub(crate) fn write_report(
    report: &Report,
    format: Format,
    output: Option<&Path>,
    no_color: bool,
) -> Result<(), CmdError> {
    match output.filter(|p| !is_stdout(p)) {
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

/// Whether an `--output` path means standard output (`-`).
pub(crate) fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
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

/// SIGINT (Ctrl-C) and SIGTERM, registered the moment this is made (inside the runtime), so a
/// signal that comes before the first wait is not lost.
pub(crate) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> Result<Self, CmdError> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| {
            signal(kind).map_err(|e| CmdError::run(format!("cannot listen for signals: {e}")))
        };
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
        })
    }

    /// Waits for either.
    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Ends a live session: writes its end line and its report (always, whatever happened), and
/// returns the exit code, or the error that stopped the run (after the report is written).
pub(crate) fn conclude(
    command: &'static str,
    session: Session,
    end: (Timestamp, Outcome, Option<String>),
    label: &str,
    output: &SessionOutput,
    rules: &Rules,
) -> Result<u8, CmdError> {
    let (at, outcome, reason) = end;
    let (report, recorded) = session.finish(at, outcome, reason.clone(), label, rules);
    let code = output.emit(&Report::new(command, vec![report], output.strict))?;
    recorded.map_err(|e| CmdError::run(format!("cannot finish the recording: {e}")))?;
    match (outcome, reason) {
        (Outcome::Aborted, Some(why)) => Err(CmdError::Run(why)),
        _ => Ok(code),
    }
}

/// A number of seconds from `lo` to `hi`, for clap (`inf`, `NaN` and anything out of range are
/// refused with the range).
pub(crate) fn seconds_between(lo: f64, hi: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text: &str| {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a number of seconds"))?;
        if value.is_finite() && (lo..=hi).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{text} is outside {lo}..={hi} seconds"))
        }
    }
}
