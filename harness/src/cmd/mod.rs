//! The command line: one file per subcommand, each declaring its flags (clap's derive API) and an
//! `exec` that turns them into library calls and returns an exit code. Flag groups more than one
//! command uses, the error type and the exit codes live in [`prelude`]; errors are printed in one
//! place, [`run`].

mod check;
mod completions;
mod diagram;
mod findings;
mod generate;
mod parse;
mod prelude;
mod replay;
mod schema;
mod simulate;
mod verify;
mod watch;

use clap::{Parser, Subcommand};

use prelude::CmdError;

/// Exit codes, for every command's help.
const EXIT_CODES: &str = "Exit codes: 0 PASS (and NON-STRICT without --strict), or the command did its job; 1 FAIL \
(or NON-STRICT under --strict), a rejected message; 2 a usage or I/O error, or a run that could \
not go on.";

/// Verify an Azure Custom Vision storage integration: notifications, backups, lifecycle.
#[derive(Debug, Parser)]
#[command(
    name = "cvnotify",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CVNOTIFY_COMMIT"), ")"),
    about,
    long_about = None,
    after_help = EXIT_CODES,
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour in human reports: `auto` (a terminal that takes colour, unless NO_COLOR or
    /// CLICOLOR=0; CLICOLOR_FORCE forces it), `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t = prelude::ColorChoice::Auto)]
    color: prelude::ColorChoice,
    /// More log lines on stderr: -v what happens, -vv every HTTP call (method, path, status,
    /// time; never a query, header or body), -vvv everything. RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Fewer log lines: errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

/// Logging to stderr, through `tracing`: the level from -v/-q, unless RUST_LOG says.
fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "cvnotify_harness={level},cvnotify={level},warn"
        ))
    });
    // The HTTP crates' own logs show URLs, which may carry a SAS: never above warn, whatever
    // RUST_LOG says.
    for quiet in [
        "reqwest=warn",
        "hyper=warn",
        "hyper_util=warn",
        "h2=warn",
        "wiremock=warn",
    ] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
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
    GenerateRecording(generate::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the man pages (roff): cvnotify and each command.
    Man(completions::ManArgs),
    /// Render the lifecycle transition table as a state diagram.
    Diagram(diagram::Args),
    /// List every finding: code, severity, the seed section it rests on, the sources it needs.
    Findings(findings::Args),
    /// Print the notifications' published contract: their JSON Schema, or the AsyncAPI
    /// document of the notification queue (--out DIR writes both).
    Schema(schema::Args),
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
            Self::Completions(_) => "completions",
            Self::Man(_) => "man",
            Self::Diagram(_) => "diagram",
            Self::Findings(_) => "findings",
            Self::Schema(_) => "schema",
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
            Self::Completions(args) => {
                completions::completions(args, <Cli as clap::CommandFactory>::command())
            }
            Self::Man(args) => completions::man(args, <Cli as clap::CommandFactory>::command()),
            Self::Diagram(args) => diagram::exec(args),
            Self::Findings(args) => findings::exec(args),
            Self::Schema(args) => schema::exec(args),
        }
    }
}

/// A clearer message than clap's for two mistakes: a flag of another command (clap would
/// suggest a flag of this one that merely looks alike), and a mistyped command (clap would
/// suggest `generate-recording`, a helper for benchmarks, for anything ending in `-recording`
/// or starting with `gen`; it is suggested only for what begins like it).
fn better_usage_error(command: &clap::Command, e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let value = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let used = args
        .iter()
        .find_map(|a| command.find_subcommand(a).map(|c| c.get_name().to_string()));
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let given = value(ContextKind::InvalidArg)?;
            let used = used?;
            let flag = given.split('=').next()?.trim_start_matches('-').to_string();
            let owners: Vec<&str> = command
                .get_subcommands()
                .filter(|c| c.get_name() != used)
                .filter(|c| {
                    c.get_arguments()
                        .any(|a| a.get_long() == Some(flag.as_str()))
                })
                .map(|c| c.get_name())
                .collect();
            if owners.is_empty() {
                return None;
            }
            let owners: Vec<String> = owners.iter().map(|o| format!("`{o}`")).collect();
            Some(format!(
                "error: `{used}` has no `--{flag}`; it is a flag of {}\n\nFor `{used}`'s flags, try 'cvnotify {used} --help'.\n",
                owners.join(" and ")
            ))
        }
        ErrorKind::InvalidSubcommand => {
            let given = value(ContextKind::InvalidSubcommand)?;
            let suggested = match e.get(ContextKind::SuggestedSubcommand) {
                Some(ContextValue::Strings(s)) => s.clone(),
                Some(ContextValue::String(s)) => vec![s.clone()],
                _ => return None,
            };
            let kept: Vec<String> = suggested
                .iter()
                .filter(|s| *s != "generate-recording" || given.starts_with("gen"))
                .map(|s| format!("'{s}'"))
                .collect();
            if kept.len() == suggested.len() {
                return None;
            }
            let tip = match kept.as_slice() {
                [] => String::new(),
                [one] => format!("\n  tip: a similar subcommand exists: {one}\n"),
                many => format!(
                    "\n  tip: some similar subcommands exist: {}\n",
                    many.join(", ")
                ),
            };
            Some(format!(
                "error: unrecognized subcommand '{given}'\n{tip}\nUsage: cvnotify [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
            ))
        }
        _ => None,
    }
}

/// Parses the process arguments, runs the subcommand, prints its error if it failed, and
/// returns the exit code.
pub fn run() -> u8 {
    use clap::{CommandFactory as _, FromArgMatches as _};
    // Every command's help ends with the exit codes.
    let command = Cli::command().mut_subcommands(|c| c.after_help(EXIT_CODES));
    let matches = match command.clone().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            if let Some(text) = better_usage_error(&command, &e) {
                eprint!("{text}");
                return 2;
            }
            e.exit()
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    prelude::set_color(cli.color);
    init_logging(cli.verbose, cli.quiet);
    match cli.command.exec() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cvnotify {}: {e}", cli.command.name());
            e.exit_code()
        }
    }
}
