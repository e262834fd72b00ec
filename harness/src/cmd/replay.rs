//! `cvnotify replay FILE...`: each recording streamed and judged, one report for all of them.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal as _, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::path::PathBuf;

use super::prelude::{
    CmdError, JudgeArgs, is_stdout, same_file, verdict_exit, writable, write_report,
};
use crate::replay::replay_streaming;
use crate::replay::spill::{DEFAULT_PROJECTS, Spill};
use crate::report::{
    Format, JunitStream, ProjectSection, ProjectSink, Report, Rules, SessionReport, Verdict,
    project_line, report_line, session_line,
};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Recordings to judge (`-` reads stdin).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// NON-STRICT (deviations and warnings) fails too.
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report here instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    judge: JudgeArgs,
    /// Judge the recordings as one session: what several consumers of one queue recorded
    /// (each with `watch --partial`), judged as one consumer that saw everything. Evidence is
    /// `file:line`.
    #[arg(long)]
    merge: bool,
    /// Projects held in memory at most: lines about further projects are spilled to temporary
    /// files and read back, one range of project ids at a time, when the session is judged
    /// (the report is the same; memory does not grow with the number of projects).
    #[arg(long, value_name = "PROJECTS", default_value_t = DEFAULT_PROJECTS as u64,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    spill_after: u64,
    /// Where spilled projects go (anonymous files, removed however the run ends; default: the
    /// system's temporary directory, `TMPDIR`).
    #[arg(long, value_name = "DIR")]
    spill_dir: Option<PathBuf>,
    /// The same as `--color never` (kept for scripts written before `--color`).
    #[arg(long, alias = "no-colour", hide = true)]
    no_color: bool,
}

fn progress_bar(len: Option<u64>) -> ProgressBar {
    // Drawn on stderr, and only when stderr is a terminal.
    let target = if io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(len, target);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    let rules = args.judge.rules()?;
    if let Some(output) = args.output.as_deref().filter(|p| !is_stdout(p)) {
        if let Some(input) = args.files.iter().find(|f| same_file(f, output)) {
            return Err(CmdError::usage(format!(
                "--output {} is the recording {}: the report would overwrite its input",
                output.display(),
                input.display()
            )));
        }
        writable(output)?;
    }
    if let Some(dir) = args.spill_dir.as_deref()
        && !dir.is_dir()
    {
        return Err(CmdError::usage(format!(
            "--spill-dir {} is not a directory",
            dir.display()
        )));
    }
    let spill = Spill {
        projects: usize::try_from(args.spill_after)
            .ok()
            .and_then(std::num::NonZeroUsize::new)
            .unwrap_or(std::num::NonZeroUsize::MIN),
        dir: args.spill_dir.clone(),
    };
    // The sessions to judge: one merge of every file, or each file alone.
    let mut jobs: Vec<Job> = Vec::new();
    if args.merge {
        if args.files.iter().any(|p| p.as_os_str() == "-") {
            return Err(CmdError::usage("--merge reads files, not stdin"));
        }
        let names: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
        jobs.push(Job {
            label: format!("merge of {}", names.join(", ")),
            files: args.files.clone(),
        });
    } else {
        jobs.extend(args.files.iter().map(|p| Job {
            label: p.display().to_string(),
            files: vec![p.clone()],
        }));
    }
    if matches!(args.format, Format::Jsonl | Format::Junit) {
        return stream(args, &jobs, &rules, &spill);
    }
    let mut sessions = Vec::new();
    for job in &jobs {
        sessions.push(judge(job, &rules, &spill, None)?);
    }
    let report = Report::new("replay", sessions, args.strict);
    write_report(&report, args.format, args.output.as_deref(), args.no_color)?;
    Ok(verdict_exit(report.verdict, args.strict))
}

/// One session to judge: its label and its recordings (several for a merge).
struct Job {
    label: String,
    files: Vec<PathBuf>,
}

/// Judges one job, handing its projects to `sink` when there is one.
fn judge(
    job: &Job,
    rules: &Rules,
    spill: &Spill,
    sink: Option<ProjectSink<'_>>,
) -> Result<SessionReport, CmdError> {
    if let [path] = job.files.as_slice()
        && path.as_os_str() == "-"
    {
        let input: Vec<(String, Box<dyn io::BufRead>)> =
            vec![("-".to_string(), Box::new(io::stdin().lock()))];
        return replay_streaming("-", input, rules, |_| {}, sink, spill.clone())
            .map_err(|e| CmdError::file("read", path, e));
    }
    let mut inputs: Vec<(String, Box<dyn io::BufRead>)> = Vec::new();
    let mut total = 0;
    for path in &job.files {
        let file = File::open(path).map_err(|e| CmdError::file("read", path, e))?;
        total += file.metadata().map_or(0, |m| m.len());
        inputs.push((
            path.display().to_string(),
            Box::new(BufReader::with_capacity(1 << 16, file)),
        ));
    }
    let bar = progress_bar(Some(total));
    bar.set_message(job.label.clone());
    let session = replay_streaming(
        &job.label,
        inputs,
        rules,
        |n| bar.inc(n as u64),
        sink,
        spill.clone(),
    );
    bar.finish_and_clear();
    session.map_err(|e| match job.files.as_slice() {
        [path] => CmdError::file("read", path, e),
        _ => CmdError::io("read the recordings", e),
    })
}

/// `--format jsonl` and `junit`: each project's line (or cases) is written as it is judged;
/// nothing of the report is held but the sessions' own parts.
fn stream(args: &Args, jobs: &[Job], rules: &Rules, spill: &Spill) -> Result<u8, CmdError> {
    let path = args.output.as_deref().filter(|p| !is_stdout(p));
    let target: Box<dyn Write> = match path {
        Some(p) => {
            Box::new(File::create(p).map_err(|e| CmdError::file("write the report to", p, e))?)
        }
        None => Box::new(io::stdout().lock()),
    };
    let mut out = io::BufWriter::new(target);
    let fail = |e: io::Error| match path {
        Some(p) => CmdError::file("write the report to", p, e),
        None => CmdError::io("write the report", e),
    };
    let mut verdict = Verdict::Pass;
    let mut junit = match args.format {
        Format::Junit => Some(JunitStream::new("replay", args.strict).map_err(fail)?),
        _ => None,
    };
    for job in jobs {
        let mut written: io::Result<()> = Ok(());
        let mut sink = |s: &SessionReport, section: ProjectSection| {
            if written.is_ok() {
                written = match junit.as_mut() {
                    Some(j) => j.project(s, &section),
                    None => project_line(&mut out, &job.label, &section),
                };
            }
        };
        let session = judge(job, rules, spill, Some(&mut sink))?;
        written.map_err(fail)?;
        match junit.as_mut() {
            Some(j) => j.session(&session),
            None => session_line(&mut out, &session, session.projects_streamed),
        }
        .map_err(fail)?;
        verdict = verdict.max(session.verdict);
    }
    match junit {
        Some(j) => j.finish(&mut out),
        None => report_line(&mut out, "replay", args.strict, verdict),
    }
    .map_err(fail)?;
    out.flush().map_err(fail)?;
    Ok(verdict_exit(verdict, args.strict))
}
