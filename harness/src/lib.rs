//! `cvnotify-harness`: everything around `cvnotify-core` that touches the world: the command
//! line, the recording format, replay and its reports. The `cvnotify` binary is [`run`]; the
//! [`fuzzing`] module gives fuzz targets and their stable-Rust replays the same entry points.

mod check_cmd;
mod cli;
mod cross_check;
mod docs_cmd;
pub mod fuzzing;
mod generate_cmd;
pub mod hostile;
mod parse_cmd;
mod recording;
mod replay;
mod replay_cmd;
mod report;
mod secrets;
pub mod sim;
mod simulate_cmd;
pub mod storage;
pub mod training;
mod watch;

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

/// Parses the process arguments, runs the subcommand, and returns the exit code.
pub fn run() -> u8 {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Parse(args) => parse_cmd::run(&args),
        cli::Command::Replay(args) => replay_cmd::run(&args),
        cli::Command::Watch(args) => watch::run(&args),
        cli::Command::Check(args) => check_cmd::run(&args),
        cli::Command::Simulate(args) => simulate_cmd::run(&args),
        cli::Command::GenerateRecording(args) => generate_cmd::run(&args),
        cli::Command::Diagram(args) => docs_cmd::diagram(&args),
        cli::Command::Findings(args) => docs_cmd::findings(&args),
    }
}
