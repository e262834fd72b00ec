//! `cvnotify`: the command-line harness around `cvnotify-core`. Each subcommand lives in its own
//! module; this file only parses arguments and maps outcomes to exit codes.

mod cli;
mod docs_cmd;
mod generate_cmd;
mod parse_cmd;
mod recording;
mod replay;
mod replay_cmd;
mod report;
mod secrets;

use std::process::ExitCode;

use clap::Parser as _;

/// Exit codes shared by every subcommand.
pub(crate) mod exit {
    /// Accepted / passed.
    pub(crate) const OK: u8 = 0;
    /// Rejected / failed.
    pub(crate) const REJECTED: u8 = 1;
    /// Usage or I/O error (clap uses 2 for usage errors as well).
    pub(crate) const USAGE_OR_IO: u8 = 2;
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Parse(args) => parse_cmd::run(&args),
        cli::Command::Replay(args) => replay_cmd::run(&args),
        cli::Command::GenerateRecording(args) => generate_cmd::run(&args),
        cli::Command::Diagram(args) => docs_cmd::diagram(&args),
        cli::Command::Findings(args) => docs_cmd::findings(&args),
    };
    ExitCode::from(code)
}
