//! Where a command's evidence and verdicts go: recordings opened for appending, reports written
//! to stdout or files, and a live session concluded into both.

use super::args::JudgeArgs;
use super::color::stdout_color;
use super::error::{CmdError, verdict_exit};

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::report::{self, Format, Report, Rules};
use cvnotify_core::lifecycle::Timestamp;

use crate::recording::Outcome;
use crate::session::{Finished, Recorder, Session, write_lines};

/// Where a session's live lines are shown.
pub(crate) type LiveSink = Box<dyn Write + Send>;

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
                .map_err(|e| CmdError::io("write the report", e))
        }
    }
}

/// Whether an `--output` path means standard output (`-`).
pub(crate) fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
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
    let Finished {
        report,
        written: recorded,
        live,
    } = session.finish(at, outcome, reason.clone(), label, rules);
    write_lines(&mut output.live(), live);
    let code = output.emit(&Report::new(command, vec![report], output.strict))?;
    recorded.map_err(|e| CmdError::io("finish the recording", e))?;
    match (outcome, reason) {
        (Outcome::Aborted, Some(why)) => Err(CmdError::Run(why)),
        _ => Ok(code),
    }
}
