//! `cvnotify replay FILE...`: each recording streamed and judged, one report for all of them.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal as _, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ReplayArgs;
use crate::exit;
use crate::replay::{self, Report, Verdict, Waivers};
use crate::report::{self, Format};

/// Whether to colour human output: a terminal, no `--no-color`, no non-empty `NO_COLOR`.
fn use_color(args: &ReplayArgs) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    args.format == Format::Human
        && args.output.is_none()
        && !args.no_color
        && !no_color
        && io::stdout().is_terminal()
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

pub(crate) fn run(args: &ReplayArgs) -> u8 {
    let known = replay::known_codes();
    for code in args.select.iter().chain(&args.exclude) {
        if !known.contains(&code.as_str()) {
            eprintln!(
                "cvnotify replay: unknown check code {code:?}; known codes: {}",
                known.join(", ")
            );
            return exit::USAGE_OR_IO;
        }
    }
    let waivers = Waivers {
        select: args.select.clone(),
        exclude: args.exclude.clone(),
    };
    let mut sessions = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let result = if path.as_os_str() == "-" {
            replay::replay("-", io::stdin().lock(), &waivers, |_| {})
        } else {
            match File::open(path) {
                Ok(file) => {
                    let bar = progress_bar(file.metadata().ok().map(|m| m.len()));
                    bar.set_message(name.clone());
                    let session = replay::replay(
                        &name,
                        BufReader::with_capacity(1 << 16, file),
                        &waivers,
                        |n| {
                            bar.inc(n as u64);
                        },
                    );
                    bar.finish_and_clear();
                    session
                }
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(session) => sessions.push(session),
            Err(e) => {
                eprintln!("cvnotify replay: cannot read {name}: {e}");
                return exit::USAGE_OR_IO;
            }
        }
    }
    let report = Report::new(sessions, args.strict);
    let written = match &args.output {
        Some(path) => File::create(path).and_then(|f| {
            let mut out = io::BufWriter::new(f);
            report::render(&report, args.format, false, &mut out)?;
            out.flush()
        }),
        None => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            report::render(&report, args.format, use_color(args), &mut out)
                .and_then(|()| out.flush())
        }
    };
    if let Err(e) = written {
        eprintln!("cvnotify replay: cannot write the report: {e}");
        return exit::USAGE_OR_IO;
    }
    match (report.verdict, args.strict) {
        (Verdict::Pass, _) | (Verdict::NonStrict, false) => exit::OK,
        (Verdict::NonStrict, true) | (Verdict::Fail, _) => exit::REJECTED,
    }
}
