//! The command line: one file per subcommand, each declaring its flags (clap's derive API) and an
//! `exec` that turns them into library calls and returns an exit code. Flag groups more than one
//! command uses, the error type and the exit codes live in [`prelude`]; errors are printed in one
//! place, [`run`].

mod check;
mod diagram;
mod findings;
mod generate;
mod parse;
mod prelude;
mod replay;
mod simulate;
mod verify;
mod watch;

use clap::{Parser, Subcommand};

use prelude::CmdError;

/// Verify an Azure Custom Vision storage integration: notifications, backups, lifecycle.
#[derive(Debug, Parser)]
#[command(name = "cvnotify", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse one queue message (its raw MessageText) and say whether it is accepted.
    ///
    /// Exit 0: accepted. Exit 1: rejected (the reason on stderr). Exit 2: usage or I/O error.
    Parse(parse::Args),
    /// Judge recorded sessions (JSON Lines recordings): parse every message, follow every
    /// project's lifecycle, report findings.
    ///
    /// Exit 0: PASS or NON-STRICT (only deviations and warnings). Exit 1: FAIL (or NON-STRICT
    /// under --strict). Exit 2: usage or I/O error.
    Replay(replay::Args),
    /// Consume a notification queue: follow every project's lifecycle live, never lose a
    /// message (poison after --max-dequeue attempts), optionally record everything.
    ///
    /// With --drain it ends when the queue is empty, with replay's report and exit codes;
    /// otherwise Ctrl-C ends it after the batch in hand.
    Watch(watch::Args),
    /// Run a client through the whole storage-integration lifecycle and judge it: create a
    /// project with a queue and a container, wait for the connection test, train, export, and
    /// check every notification and backup blob. Without --training-endpoint it runs against
    /// the embedded simulation, on virtual time.
    Check(check::Args),
    /// Verify your own client: run it against the simulation once per scenario (the service's
    /// side played with chosen adversities) and judge what it did from the simulation's
    /// journal: every notification read, acted on once and deleted; malformed messages left
    /// or moved to poison; back-off when idle; Retry-After respected; backups fetched.
    ///
    /// Exit 0: PASS (or NON-STRICT without --strict). Exit 1: a client finding. Exit 2: usage
    /// or I/O error.
    Verify(verify::Args),
    /// Run the simulated Custom Vision and Storage endpoints as a standalone server, so a client
    /// in any language can be tested against them. Prints one JSON line with the endpoints, then
    /// serves until stopped.
    Simulate(simulate::Args),
    /// Write a synthetic recording (for benchmarks and demos): many projects, whole lifecycles.
    #[command(hide = true)]
    GenerateRecording(generate::Args),
    /// Render the lifecycle transition table as a state diagram.
    Diagram(diagram::Args),
    /// List every finding: code, severity, the seed section it rests on, the sources it needs.
    Findings(findings::Args),
}

impl Command {
    /// The subcommand's name, as errors are prefixed with it.
    fn name(&self) -> &'static str {
        match self {
            Self::Parse(_) => "parse",
            Self::Replay(_) => "replay",
            Self::Watch(_) => "watch",
            Self::Check(_) => "check",
            Self::Simulate(_) => "simulate",
            Self::Verify(_) => "verify",
            Self::GenerateRecording(_) => "generate-recording",
            Self::Diagram(_) => "diagram",
            Self::Findings(_) => "findings",
        }
    }

    fn exec(&self) -> Result<u8, CmdError> {
        match self {
            Self::Parse(args) => parse::exec(args),
            Self::Replay(args) => replay::exec(args),
            Self::Watch(args) => watch::exec(args),
            Self::Check(args) => check::exec(args),
            Self::Simulate(args) => simulate::exec(args),
            Self::Verify(args) => verify::exec(args),
            Self::GenerateRecording(args) => generate::exec(args),
            Self::Diagram(args) => diagram::exec(args),
            Self::Findings(args) => findings::exec(args),
        }
    }
}

/// Parses the process arguments, runs the subcommand, prints its error if it failed, and
/// returns the exit code.
pub fn run() -> u8 {
    let cli = Cli::parse();
    match cli.command.exec() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cvnotify {}: {e}", cli.command.name());
            e.exit_code()
        }
    }
}
