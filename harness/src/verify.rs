//! The client verification driver behind `cvnotify verify`: for each scenario, a fresh
//! simulation on the wall clock (the client's timers are real), a fresh client process with the
//! endpoints in its environment, the scenario played on the other side, and the simulation's
//! journal fed to a [`Session`] as it comes, so that the client judge sees what a replay of the
//! recording sees. The client is stopped (SIGTERM, then SIGKILL after a grace period) once its
//! scenario is over and its work is done and a quiet period has passed, or when the timeout
//! comes; how it ended is journaled.

use std::time::{Duration, Instant};

use cvnotify_core::client::ClientJudge;
use cvnotify_core::lifecycle::{Evidence, Timestamp};

use crate::clock;
use crate::process::ClientProcess;
use crate::recording::{At, ClientAction, ClientLine, Duty, Item, Line, Outcome, Scope, Writer};
use crate::scenario::{Customer, Scenario};
use crate::session::{Header, Session};
use crate::sim::{Clock, Listeners, Simulation, Timings, World};
use crate::storage::RetryPolicy;
use crate::training::{OptionsForm, TrainingClient, TrainingKey};

/// The queue and container a scenario's client is given.
pub const QUEUE: &str = "notifications";
/// See [`QUEUE`].
pub const CONTAINER: &str = "backups";

/// How long the service takes in a scenario: short, on the wall clock.
pub const TIMINGS: Timings = Timings {
    connection_test: Duration::from_millis(200),
    test_blob_lifetime: Duration::from_secs(5),
    training: Duration::from_millis(1000),
    export: Duration::from_millis(500),
};

/// How often the driver looks (journal, customer, client).
const TICK: Duration = Duration::from_millis(50);

/// How long after a message held by a restarted client becomes visible again the scenario
/// waits for the new client to handle it: an idle client may be polling at long intervals by
/// then (the Functions host's back-off reaches a minute).
const REDELIVERY_ROOM: Duration = Duration::from_secs(90);

/// How much of the client's stderr a finding quotes, at most.
const STDERR_TAIL: usize = 2048;

/// What `verify` runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The client command and its arguments.
    pub command: Vec<String>,
    /// The client's duties.
    pub duties: Vec<Duty>,
    /// The run's seed: each scenario's ids and random choices follow from it and the scenario's
    /// place in the run, so every scenario of a run, and every run, has ids of its own, and the
    /// same seed replays them.
    pub seed: u64,
    /// How long a scenario may take before the client is stopped as timed out; `None`: the
    /// scenario's own deadline ([`Scenario::deadline`]).
    pub timeout: Option<Duration>,
    /// How long a stopped client has between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// A run seed nobody chose: the clock and the process id, mixed.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    #[allow(
        clippy::cast_possible_truncation,
        reason = "only the low bits are mixed in"
    )]
    let low = nanos as u64;
    crate::seed::splitmix64(low ^ u64::from(std::process::id()).rotate_left(32))
}

/// The seed of the scenario at `index` in a run seeded with `run`.
pub fn scenario_seed(run: u64, index: usize) -> u32 {
    let mixed = crate::seed::splitmix64(run ^ (index as u64).wrapping_mul(0x9e37_79b9));
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the simulation takes 32 bits"
    )]
    let seed = (mixed >> 32) as u32;
    seed
}

/// How the client's command line is shown (report labels, test names): the program's file name
/// and the arguments, path-like ones by their file name, every secret the core's rule knows
/// redacted.
pub fn shown_command(command: &[String]) -> String {
    let shown: Vec<String> = command
        .iter()
        .enumerate()
        .map(|(k, arg)| {
            let path = std::path::Path::new(arg);
            let short = if (k == 0 || arg.contains('/')) && !arg.contains(['=', '?']) {
                path.file_name()
                    .map_or_else(|| arg.clone(), |n| n.to_string_lossy().into_owned())
            } else {
                arg.clone()
            };
            cvnotify_core::redact::redact_deep(&short).0.into_owned()
        })
        .collect();
    shown.join(" ")
}

/// Why verification could not go on (not a verdict on the client).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The recording could not be written.
    #[error("cannot write the recording: {0}")]
    Recording(#[from] std::io::Error),
    /// The simulation could not be started.
    #[error("cannot start the simulation: {0}")]
    Simulation(String),
}

/// What one scenario's run journals, kept apart until the scenario is over so that scenarios
/// can run side by side: its lines, in order, in an anonymous scratch file (a client that
/// floods the simulation with requests costs disk, not memory), judged as they come by a
/// client judge of its own (the driver asks it whether the work is done), and the notes for
/// the live output. [`ScenarioJournal::replay`] hands the lines to the session, which numbers
/// and judges them as a replay of the recording does.
pub struct ScenarioJournal {
    file: Writer<std::io::BufWriter<std::fs::File>>,
    lines: u32,
    judge: ClientJudge,
    notes: Vec<String>,
}

impl std::fmt::Debug for ScenarioJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioJournal")
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

impl ScenarioJournal {
    /// An empty journal for a client with `duties`.
    pub fn new(duties: &[Duty]) -> std::io::Result<Self> {
        let file = crate::scratch::file(None, "for a scenario's journal")?;
        Ok(Self {
            file: Writer::new(std::io::BufWriter::new(file)),
            lines: 0,
            judge: ClientJudge::new(Duty::duties(duties)),
            notes: Vec::new(),
        })
    }

    /// Keeps `line` and feeds it to the judge.
    pub fn journal(&mut self, line: Line) -> std::io::Result<()> {
        self.file.write(&line)?;
        self.lines = self.lines.saturating_add(1);
        let evidence = Evidence::new(self.lines).ok_or_else(|| std::io::Error::other("line 0"))?;
        if let Ok(Item::Client { at, event }) = crate::recording::item_of(line, evidence) {
            self.judge.handle(at, evidence.get(), event);
        }
        Ok(())
    }

    /// The scenario's judge, fed so far.
    pub fn client(&self) -> &ClientJudge {
        &self.judge
    }

    /// A note for the live output.
    pub fn say(&mut self, text: &str) {
        self.notes.push(text.to_string());
    }

    /// Hands every line, in order, to `session` (whose run for the scenario has started), then
    /// the notes.
    pub fn replay(self, session: &mut Session) -> std::io::Result<()> {
        use std::io::{BufRead as _, Seek as _};
        let mut file = self
            .file
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.seek(std::io::SeekFrom::Start(0))?;
        for text in std::io::BufReader::new(file).lines() {
            let text = text?;
            let line = crate::recording::decode(&text).map_err(|e| {
                std::io::Error::other(format!("a journal line reads back wrong: {e}"))
            })?;
            session.journal(line)?;
        }
        for note in &self.notes {
            session.say(note);
        }
        Ok(())
    }
}

/// The header of a scenario's run.
pub fn header(scenario: &Scenario, duties: &[Duty]) -> Header {
    let mut header = Header::new(
        cvnotify_core::lifecycle::Sources {
            queue: false,
            training_api: false,
            polling: false,
            container: false,
        },
        Scope::All,
        clock::wall(),
    );
    header.scenario = Some(scenario.name.clone());
    header.duties = duties.to_vec();
    header
}

fn program(command: &[String]) -> String {
    command
        .first()
        .map(|p| {
            std::path::Path::new(p)
                .file_name()
                .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

fn client_line(action: ClientAction) -> ClientLine {
    ClientLine {
        at: At(clock::wall()),
        action,
        program: None,
        status: None,
        signal: None,
        reason: None,
        left: 0,
    }
}

/// The environment a client is given.
fn environment(
    sim: &Simulation,
    scenario: &Scenario,
    duties: &[Duty],
    key: &str,
) -> Vec<(String, String)> {
    let sas = sim.account_sas();
    let duties: Vec<&str> = duties.iter().map(|d| d.as_str()).collect();
    [
        ("AZURE_STORAGE_CONNECTION_STRING", sim.connection_string()),
        ("CVNOTIFY_TRAINING_ENDPOINT", sim.training_endpoint()),
        ("CVNOTIFY_TRAINING_KEY", key.to_string()),
        (
            "CVNOTIFY_QUEUE_URL",
            format!("{}?{sas}", sim.queue_url(QUEUE)),
        ),
        (
            "CVNOTIFY_CONTAINER_URL",
            format!("{}?{sas}", sim.container_url(CONTAINER)),
        ),
        ("CVNOTIFY_QUEUE_NAME", QUEUE.to_string()),
        ("CVNOTIFY_CONTAINER_NAME", CONTAINER.to_string()),
        ("CVNOTIFY_NOTIFICATION_QUEUE_URI", sim.queue_url(QUEUE)),
        (
            "CVNOTIFY_EXPORT_MODEL_CONTAINER_URI",
            sim.container_url(CONTAINER),
        ),
        ("CVNOTIFY_SCENARIO", scenario.name.clone()),
        ("CVNOTIFY_DUTIES", duties.join(",")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The line of a client that could not be started: its program and why (redacted).
fn unstartable(command: &[String], e: &std::io::Error) -> Line {
    let mut line = client_line(ClientAction::Unstartable);
    line.program = Some(program(command));
    line.reason =
        Some(cvnotify_core::redact::redact(&format!("{}: {e}", program(command))).into_owned());
    Line::Client(line)
}

/// The scenario's customer, started: its projects created and their trainings begun (or why
/// it could not go on).
async fn start_customer(
    api: TrainingClient,
    scenario: &Scenario,
    sim: &Simulation,
) -> (Option<Customer>, Option<String>) {
    match Customer::start(
        api,
        scenario,
        &sim.queue_url(QUEUE),
        &sim.container_url(CONTAINER),
    )
    .await
    {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// Hands what the simulation journaled since the last call to the scenario's journal.
fn drain(sim: &Simulation, session: &mut ScenarioJournal) -> std::io::Result<()> {
    for line in sim.take_journal() {
        session.journal(line)?;
    }
    Ok(())
}

/// The customer's next calls; a refusal ends its part (kept as the reason).
async fn step_customer(customer: &mut Option<Customer>, error: &mut Option<String>) {
    if let Some(c) = customer
        && let Err(e) = c.step().await
    {
        *error = Some(e.to_string());
        *customer = None;
    }
}

/// The end of a client that exited on its own.
fn exited(status: std::process::ExitStatus) -> ClientLine {
    use std::os::unix::process::ExitStatusExt as _;
    let mut line = client_line(ClientAction::Exited);
    line.status = status.code();
    line.signal = status.signal();
    line
}

/// The end of the client's stderr for a finding: redacted by the core's rule, and the key it
/// was given replaced too (a client may print its environment).
async fn stderr_note(client: &mut ClientProcess, key: &str) -> Option<String> {
    let tail: String = client.stderr_tail(STDERR_TAIL).await;
    let tail = cvnotify_core::redact::redact_deep(&tail)
        .0
        .replace(key, cvnotify_core::redact::REDACTED);
    let tail = tail.trim();
    (!tail.is_empty()).then(|| format!("stderr ends: {tail}"))
}

/// Runs one scenario (the `index`-th of the run) against the client, feeding `session` (whose
/// run for the scenario has started). Returns a note for the live output.
///
/// The scenario is played to its end whatever the client does: a client that exits early
/// still has every notification delivered after it, so what it left undone is on the record.
/// The client is stopped once its work is done and the quiet period has passed, or at the
/// deadline; a client that exits on its own has what it left running stopped at once. Every
/// wait is bounded: a run ends within its deadline, the grace period and a few seconds.
pub async fn run(
    session: &mut ScenarioJournal,
    scenario: &Scenario,
    index: usize,
    plan: &Plan,
) -> Result<String, VerifyError> {
    let seed = scenario_seed(plan.seed, index);
    let key = format!("cvnotify-verify-key-{seed:08x}");
    let mut world = World::new(Clock::Wall, scenario.encoding.into(), &key);
    world.timings = TIMINGS;
    world.backup_bytes = usize::try_from(scenario.backup_bytes).unwrap_or(usize::MAX);
    let mut sim = Simulation::start_world(world, Listeners::default())
        .await
        .map_err(|e| VerifyError::Simulation(e.to_string()))?;
    sim.set_seed(seed);
    sim.keep_journal();
    let faults = scenario.faults();
    if !faults.resets.is_empty() {
        sim.reset_connections(faults.resets.clone())
            .await
            .map_err(|e| VerifyError::Simulation(e.to_string()))?;
    }
    sim.create_queue(QUEUE);
    sim.create_container(CONTAINER);
    sim.set_blob_delay(scenario.slow_download_ms);
    sim.set_faults(faults);
    let configure = plan.duties.contains(&Duty::Configure);
    let internal = sim.internal_training_endpoint().await.map_err(|e| {
        VerifyError::Simulation(format!(
            "cannot start the scenario's own door to the training API: {e}"
        ))
    })?;
    // The deadline counts from here, the service's side of a backlog included.
    let begun = Instant::now();
    let mut deadline = plan.timeout.unwrap_or_else(|| scenario.deadline());
    let env = environment(&sim, scenario, &plan.duties, &key);
    let token = format!(
        "{:016x}",
        crate::seed::splitmix64(plan.seed ^ u64::from(seed) ^ fresh_seed())
    );
    let mut customer = None;
    let mut customer_error = None;
    let mut customer_api = (!configure && scenario.projects > 0)
        .then(|| {
            TrainingClient::new(
                &internal,
                TrainingKey::new(&key),
                OptionsForm::Body,
                RetryPolicy::NONE,
            )
        })
        .transpose()
        .map_err(|e| VerifyError::Simulation(e.to_string()))?;
    // A backlog: the service's side runs first, and the client starts once every notification
    // is waiting for it.
    let backlog = scenario.backlog;
    if backlog && let Some(api) = customer_api.take() {
        (customer, customer_error) = start_customer(api, scenario, &sim).await;
        while begun.elapsed() < deadline {
            tokio::time::sleep(TICK).await;
            sim.run_due(clock::wall().0);
            step_customer(&mut customer, &mut customer_error).await;
            if customer.as_ref().is_none_or(Customer::done) && sim.pending_notifications() == 0 {
                break;
            }
        }
        drain(&sim, session)?;
    }
    let started = Instant::now();
    let mut client = match ClientProcess::spawn(&plan.command, &env, &token) {
        Ok(client) => client,
        Err(e) => {
            session.journal(unstartable(&plan.command, &e))?;
            return Ok(format!(
                "{}: the client could not be started: {e}",
                scenario.name
            ));
        }
    };
    let mut started_line = client_line(ClientAction::Started);
    started_line.program = Some(program(&plan.command));
    session.journal(Line::Client(started_line))?;
    if let Some(api) = customer_api {
        (customer, customer_error) = start_customer(api, scenario, &sim).await;
    }
    let mut deliveries = scenario.deliveries().into_iter().peekable();
    let quiet = Duration::from_secs_f64(scenario.quiet_seconds);
    let mut quiet_since: Option<Instant> = None;
    let mut restarts = scenario.restarts();
    // The client's own end, once it exited by itself: the scenario plays on without it.
    let mut gone: Option<&'static str> = None;
    let ending = loop {
        tokio::time::sleep(TICK).await;
        sim.run_due(clock::wall().0);
        drain(&sim, session)?;
        step_customer(&mut customer, &mut customer_error).await;
        while deliveries
            .peek()
            .is_some_and(|(at, _)| started.elapsed() >= *at)
        {
            if let Some((_, d)) = deliveries.next() {
                sim.deliver(QUEUE, &d.text, d.base64);
            }
        }
        if gone.is_none() && restarts.peek().is_some_and(|at| started.elapsed() >= *at) {
            // The consumer killed mid-stream (a deployment, a crash) and started again: what
            // it held comes back to the new process after the visibility timeout.
            restarts.next();
            // What the client holds comes back when its own visibility timeout ends: the
            // scenario waits for that, and for the new client to handle it.
            if plan.timeout.is_none()
                && let Some(until) = session.client().held_until()
            {
                let back = Duration::from_millis(until.0.saturating_sub(clock::wall().0));
                deadline = deadline.max(begun.elapsed() + back + REDELIVERY_ROOM);
            }
            client.stop(Duration::ZERO).await;
            drain(&sim, session)?;
            session.journal(Line::Client(client_line(ClientAction::Restarted)))?;
            // A token of its own: the old tree's drop must not reach the new one.
            let again = format!(
                "{token}-{}",
                scenario.restart_after_seconds.len() - restarts.len()
            );
            match ClientProcess::spawn(&plan.command, &env, &again) {
                Ok(c) => client = c,
                Err(e) => {
                    session.journal(unstartable(&plan.command, &e))?;
                    gone = Some("could not be started again");
                }
            }
            continue;
        }
        if gone.is_none()
            && let Ok(Some(status)) = client.try_wait()
        {
            drain(&sim, session)?;
            let mut line = exited(status);
            let left = client.descendants().len();
            line.left = u32::try_from(left).unwrap_or(u32::MAX);
            client.stop(plan.grace).await;
            line.reason = stderr_note(&mut client, &key).await;
            line.at = At(clock::wall());
            session.journal(Line::Client(line))?;
            gone = Some("exited");
        }
        let scenario_over = customer.as_ref().is_none_or(Customer::done)
            && deliveries.peek().is_none()
            && sim.pending_notifications() == 0;
        if gone.is_some() {
            if scenario_over || begun.elapsed() >= deadline {
                break None;
            }
            continue;
        }
        let work_done = session.client().work_done();
        if scenario_over && work_done && restarts.peek().is_none() {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= quiet {
                client.stop(plan.grace).await;
                break Some(client_line(ClientAction::Stopped));
            }
        } else {
            quiet_since = None;
        }
        if begun.elapsed() >= deadline {
            client.stop(plan.grace).await;
            let mut line = client_line(ClientAction::TimedOut);
            line.reason = stderr_note(&mut client, &key).await;
            break Some(line);
        }
    };
    drain(&sim, session)?;
    let action = match ending {
        Some(mut end) => {
            end.at = At(clock::wall());
            let action = end.action;
            session.journal(Line::Client(end))?;
            Some(action)
        }
        None => None,
    };
    if sim.journal_dropped() > 0 {
        session.say(&format!(
            "verify: {} journal lines were dropped before they were read",
            sim.journal_dropped()
        ));
    }
    let mut note = format!(
        "{}: client {} after {:.1} s",
        scenario.name,
        match (action, gone) {
            (Some(ClientAction::Stopped), _) => "stopped once its work was done",
            (Some(ClientAction::TimedOut), _) => "stopped at the deadline",
            (_, Some(how)) => how,
            _ => "ended",
        },
        started.elapsed().as_secs_f64()
    );
    if let Some(e) = customer_error {
        note.push_str(&format!(" (the scenario's customer could not go on: {e})"));
    }
    Ok(note)
}

/// The time now, for the end lines.
pub fn now() -> Timestamp {
    clock::wall()
}

/// How a scenario's run ends in the recording: always completed (what the client did is the
/// verdict, not how the run ended).
pub const OUTCOME: Outcome = Outcome::Completed;
