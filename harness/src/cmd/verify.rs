//! `cvnotify verify -- CMD [ARGS...]`: runs a client (the user's own consumer) against the
//! embedded simulation, once per scenario with a fresh simulation and a fresh process each, and
//! judges what it did from the simulation's journal (see [`crate::verify`]).

use std::time::Duration;

use super::prelude::{CmdError, SessionOutput, Signals, conclude, exit, print};
use crate::recording::{Duty, Outcome};
use crate::scenario::{BUILT_IN, Scenario};
use crate::session::Session;
use crate::verify::{self, Plan};

/// A duty, as the flag names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DutyArg {
    /// The client downloads the backup blob each ExportCompleted announces.
    FetchBackups,
    /// The client creates, configures, trains and exports the projects itself.
    Configure,
}

impl From<DutyArg> for Duty {
    fn from(d: DutyArg) -> Self {
        match d {
            DutyArg::FetchBackups => Self::FetchBackups,
            DutyArg::Configure => Self::Configure,
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A built-in scenario's name, a scenario file, or `all` (every built-in one, in turn).
    /// Repeat for several.
    #[arg(long = "scenario", default_values_t = ["all".to_string()])]
    scenarios: Vec<String>,
    /// What the client is responsible for beyond consuming the queue (repeat for both).
    #[arg(long = "duty", value_enum)]
    duties: Vec<DutyArg>,
    /// Fixes the ids the simulation hands out and its random choices (every scenario gets ids
    /// of its own from it). By default a fresh seed, printed, so that a run can be repeated.
    #[arg(long)]
    seed: Option<u64>,
    /// Longest a scenario may take, in seconds (1 to 3600); a client that has not done its
    /// work by then fails (`client-timeout`). By default each scenario's own deadline: 60 s,
    /// plus 30 s for every request it fails and connection it resets (room for the official
    /// SDKs' default back-off), plus 40 s for every restart.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: Option<u64>,
    /// Seconds a stopped client has between SIGTERM and SIGKILL (0 to 60).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=60))]
    grace: u64,
    /// List the built-in scenarios and exit.
    #[arg(long, exclusive = true)]
    list_scenarios: bool,
    #[command(flatten)]
    report: SessionOutput,
    /// The client to verify, and its arguments (after `--`).
    #[arg(last = true, required_unless_present = "list_scenarios")]
    command: Vec<String>,
}

fn scenarios(names: &[String]) -> Result<Vec<Scenario>, CmdError> {
    let mut all = Vec::new();
    for name in names {
        if name == "all" {
            all.extend(Scenario::all().map_err(CmdError::usage)?);
        } else {
            all.push(Scenario::load(name).map_err(CmdError::usage)?);
        }
    }
    Ok(all)
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    if args.list_scenarios {
        let mut text = String::new();
        for (name, what, _) in BUILT_IN {
            text.push_str(&format!("{name:<18} {what}\n"));
        }
        return print(&text);
    }
    args.report.check_paths()?;
    let rules = args.report.judge.rules()?;
    let scenarios = scenarios(&args.scenarios)?;
    let mut duties: Vec<Duty> = args.duties.iter().map(|d| Duty::from(*d)).collect();
    duties.sort();
    duties.dedup();
    let plan = Plan {
        command: args.command.clone(),
        duties: duties.clone(),
        seed: args.seed.unwrap_or_else(verify::fresh_seed),
        timeout: args.timeout.map(Duration::from_secs),
        grace: Duration::from_secs(args.grace),
    };
    let label = format!("verify {}", verify::shown_command(&args.command));
    crate::process::become_subreaper();
    let runtime = crate::sim::runtime().map_err(|e| CmdError::run(format!("cannot start: {e}")))?;
    runtime.block_on(async {
        let mut signals = Signals::new()?;
        let mut session: Option<Session> = None;
        let mut stopped = None;
        for (index, scenario) in scenarios.iter().enumerate() {
            let header = verify::header(scenario, &duties);
            let s = match session.as_mut() {
                None => session.insert(
                    Session::new(header, args.report.recorder()?, args.report.live())
                        .map_err(|e| CmdError::run(format!("cannot write the recording: {e}")))?,
                ),
                Some(s) => {
                    s.next_run(verify::now(), verify::OUTCOME, None, &header)
                        .map_err(|e| CmdError::run(format!("cannot write the recording: {e}")))?;
                    s
                }
            };
            if index == 0 {
                s.say(&format!(
                    "verify: seed {} (--seed {} repeats this run's ids)",
                    plan.seed, plan.seed
                ));
            }
            s.say(&format!(
                "verify: scenario {} ({})",
                scenario.name,
                BUILT_IN
                    .iter()
                    .find(|(n, ..)| *n == scenario.name)
                    .map_or(scenario.description.as_str(), |(_, what, _)| what)
            ));
            let outcome = tokio::select! {
                outcome = verify::run(s, scenario, index, &plan) => outcome,
                () = signals.recv() => {
                    stopped = Some("stopped by a signal".to_string());
                    break;
                }
            };
            match outcome {
                Ok(note) => s.say(&format!("verify: {note}")),
                Err(e) => {
                    stopped = Some(e.to_string());
                    break;
                }
            }
        }
        let Some(session) = session else {
            return Ok(exit::OK);
        };
        let (outcome, reason) = match stopped {
            None => (Outcome::Completed, None),
            Some(why) if why.contains("signal") => (Outcome::Stopped, Some(why)),
            Some(why) => (Outcome::Aborted, Some(why)),
        };
        conclude(
            "verify",
            session,
            (verify::now(), outcome, reason),
            &label,
            &args.report,
            &rules,
        )
    })
}
