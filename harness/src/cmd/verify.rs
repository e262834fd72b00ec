//! `cvnotify verify -- CMD [ARGS...]`: runs a client (the user's own consumer) against the
//! embedded simulation, once per scenario with a fresh simulation and a fresh process each, and
//! judges what it did from the simulation's journal (see [`crate::verify`]).

use std::time::Duration;

use super::prelude::{CmdError, DutyArg, SessionOutput, Signals, conclude, exit, print};
use crate::recording::{Duty, Outcome};
use crate::scenario::{BUILT_IN, Scenario};
use crate::session::Session;
use crate::verify::{self, Plan, ScenarioJournal};

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
    /// How many scenarios run side by side (1 to 64; by default four for each core: a
    /// scenario mostly waits on its client). Each has its own simulation and client process;
    /// the report and the recording are the same whatever the number.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: Option<u32>,
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
    let jobs = args
        .jobs
        .map_or_else(default_jobs, |j| j as usize)
        .min(scenarios.len())
        .max(1);
    crate::process::become_subreaper();
    let runtime = crate::sim::runtime().map_err(|e| CmdError::io("start", e))?;
    runtime.block_on(async {
        let mut signals = Signals::new()?;
        let progress = Progress::new(scenarios.len(), jobs);
        // Every scenario is a task of its own, at most `jobs` at a time; the session takes
        // their journals in the scenarios' order, so the report and the recording are the same
        // whatever the number of jobs.
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(jobs));
        // The scenarios that may take longest take their places first (the semaphore serves
        // in turn), so that the run lasts about as long as its slowest scenario.
        let mut order: Vec<usize> = (0..scenarios.len()).collect();
        order.sort_by_key(|&k| std::cmp::Reverse(scenarios.get(k).map(Scenario::deadline)));
        let mut slots: Vec<Option<tokio::task::JoinHandle<Result<ScenarioJournal, verify::VerifyError>>>> =
            (0..scenarios.len()).map(|_| None).collect();
        for index in order {
            let Some(scenario) = scenarios.get(index) else { continue };
            let (scenario, plan, duties) = (scenario.clone(), plan.clone(), duties.clone());
            let permits = std::sync::Arc::clone(&permits);
            let progress = progress.clone();
            let task = tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                progress.started();
                let mut journal = ScenarioJournal::new(&duties)
                    .map_err(verify::VerifyError::Recording)?;
                let note = verify::run(&mut journal, &scenario, index, &plan).await?;
                journal.say(&format!("verify: {note}"));
                progress.finished(!journal.client().findings().is_empty());
                Ok::<_, verify::VerifyError>(journal)
            });
            if let Some(slot) = slots.get_mut(index) {
                *slot = Some(task);
            }
        }
        let mut tasks: std::collections::VecDeque<_> = slots.into_iter().flatten().collect();
        let mut session: Option<Session> = None;
        let mut live = args.report.live();
        let mut stopped = None;
        for (index, scenario) in scenarios.iter().enumerate() {
            let Some(task) = tasks.pop_front() else { break };
            let header = verify::header(scenario, &duties);
            let s = match session.as_mut() {
                None => session.insert(
                    Session::new(header, args.report.recorder()?)
                        .map_err(|e| CmdError::io("write the recording", e))?,
                ),
                Some(s) => {
                    s.next_run(verify::now(), verify::OUTCOME, None, &header)
                        .map_err(|e| CmdError::io("write the recording", e))?;
                    s
                }
            };
            if index == 0 {
                s.say(&format!(
                    "verify: seed {} (--seed {} repeats this run's ids); {jobs} scenario{} at a time",
                    plan.seed,
                    plan.seed,
                    if jobs == 1 { "" } else { "s" }
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
            s.write_live(&mut live);
            let abort = task.abort_handle();
            let outcome = tokio::select! {
                outcome = task => outcome,
                () = signals.recv() => {
                    abort.abort();
                    stopped = Some("stopped by a signal".to_string());
                    break;
                }
            };
            match outcome {
                Ok(Ok(journal)) => {
                    journal
                        .replay(s)
                        .map_err(|e| CmdError::io("write the recording", e))?;
                    s.tell_live();
                    s.write_live(&mut live);
                }
                Ok(Err(e)) => {
                    stopped = Some(e.to_string());
                    break;
                }
                Err(e) => {
                    stopped = Some(format!("a scenario's task failed: {e}"));
                    break;
                }
            }
        }
        // What is still running is stopped: a dropped task drops its client, whose whole
        // process tree is killed.
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        progress.clear();
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

/// Four scenarios for each core.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 4)
}

/// Scenarios done, running and failed, on a terminal (nothing otherwise).
#[derive(Clone)]
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    counts: std::sync::Arc<std::sync::Mutex<(u64, u64, u64)>>,
}

impl Progress {
    fn new(total: usize, jobs: usize) -> Self {
        use std::io::IsTerminal as _;
        let bar = (std::io::stderr().is_terminal() && jobs > 1).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} scenarios {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            bar,
            counts: std::sync::Arc::default(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut (u64, u64, u64))) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        f(&mut counts);
        if let Some(bar) = &self.bar {
            let (done, running, failed) = *counts;
            bar.set_position(done);
            bar.set_message(format!("done, {running} running, {failed} with findings"));
        }
    }

    fn started(&self) {
        self.update(|c| c.1 += 1);
    }

    fn finished(&self, findings: bool) {
        self.update(|c| {
            c.0 += 1;
            c.1 = c.1.saturating_sub(1);
            c.2 += u64::from(findings);
        });
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
