//! `cvnotify replay FILE...`: each recording streamed and judged, one report for all of them.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal as _};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::path::PathBuf;

use super::prelude::{
    CmdError, JudgeArgs, is_stdout, same_file, verdict_exit, writable, write_report,
};
use crate::replay::{replay, replay_merged};
use crate::report::{Format, Report};

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
    if args.merge {
        let mut inputs: Vec<(String, Box<dyn io::BufRead>)> = Vec::new();
        for path in &args.files {
            if path.as_os_str() == "-" {
                return Err(CmdError::usage("--merge reads files, not stdin"));
            }
            let file = File::open(path).map_err(|e| CmdError::file("read", path, e))?;
            inputs.push((
                path.display().to_string(),
                Box::new(BufReader::with_capacity(1 << 16, file)),
            ));
        }
        let names: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
        let label = format!("merge of {}", names.join(", "));
        let session = replay_merged(&label, inputs, &rules, |_| {})
            .map_err(|e| CmdError::run(format!("cannot read the recordings: {e}")))?;
        let report = Report::new("replay", vec![session], args.strict);
        write_report(&report, args.format, args.output.as_deref(), args.no_color)?;
        return Ok(verdict_exit(report.verdict, args.strict));
    }
    let mut sessions = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let session = if path.as_os_str() == "-" {
            replay("-", io::stdin().lock(), &rules, |_| {})
        } else {
            File::open(path).and_then(|file| {
                let bar = progress_bar(file.metadata().ok().map(|m| m.len()));
                bar.set_message(name.clone());
                let session = replay(
                    &name,
                    BufReader::with_capacity(1 << 16, file),
                    &rules,
                    |n| bar.inc(n as u64),
                );
                bar.finish_and_clear();
                session
            })
        };
        sessions.push(session.map_err(|e| CmdError::file("read", path, e))?);
    }
    let report = Report::new("replay", sessions, args.strict);
    write_report(&report, args.format, args.output.as_deref(), args.no_color)?;
    Ok(verdict_exit(report.verdict, args.strict))
}
