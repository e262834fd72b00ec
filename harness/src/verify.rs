//! The client verification driver behind `cvnotify verify`: for each scenario, a fresh
//! simulation on the wall clock (the client's timers are real), a fresh client process with the
//! endpoints in its environment, the scenario played on the other side, and the simulation's
//! journal fed to a [`Session`] as it comes, so that the client judge sees what a replay of the
//! recording sees. The client is stopped (SIGTERM, then SIGKILL after a grace period) once its
//! scenario is over and its work is done and a quiet period has passed, or when the timeout
//! comes; how it ended is journaled.

use std::process::Stdio;
use std::time::{Duration, Instant};

use cvnotify_core::lifecycle::Timestamp;
use tokio::io::AsyncReadExt as _;

use crate::clock;
use crate::recording::{At, ClientAction, ClientLine, Duty, Line, Outcome, Scope};
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

/// How much of the client's stderr a finding quotes, at most.
const STDERR_TAIL: usize = 2048;

/// What `verify` runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The client command and its arguments.
    pub command: Vec<String>,
    /// The client's duties.
    pub duties: Vec<Duty>,
    /// Fixes the simulation's ids and random choices.
    pub seed: u32,
    /// How long a scenario may take before the client is stopped as timed out.
    pub timeout: Duration,
    /// How long a stopped client has between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Why verification could not go on (not a verdict on the client).
#[derive(Debug)]
pub enum VerifyError {
    /// The recording could not be written.
    Recording(std::io::Error),
    /// The simulation could not be started.
    Simulation(String),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Recording(e) => write!(f, "cannot write the recording: {e}"),
            Self::Simulation(why) => write!(f, "cannot start the simulation: {why}"),
        }
    }
}

impl std::error::Error for VerifyError {}

impl From<std::io::Error> for VerifyError {
    fn from(e: std::io::Error) -> Self {
        Self::Recording(e)
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

/// Sends SIGTERM, waits up to `grace`, then kills.
async fn stop(child: &mut tokio::process::Child, grace: Duration) {
    if let Some(pid) = child.id() {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
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

/// Runs one scenario against the client, feeding `session` (whose run for the scenario has
/// started). Returns a note for the live output.
pub async fn run(
    session: &mut Session,
    scenario: &Scenario,
    plan: &Plan,
) -> Result<String, VerifyError> {
    let key = format!("cvnotify-verify-key-{:08x}", plan.seed);
    let mut world = World::new(Clock::Wall, scenario.encoding.into(), &key);
    world.timings = TIMINGS;
    let mut sim = Simulation::start_world(world, Listeners::default())
        .await
        .map_err(|e| VerifyError::Simulation(e.to_string()))?;
    sim.set_seed(plan.seed);
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
    let internal = sim.internal_training_endpoint().await;
    let started = Instant::now();
    let env = environment(&sim, scenario, &plan.duties, &key);
    let mut command = tokio::process::Command::new(plan.command.first().map_or("", String::as_str));
    command
        .args(plan.command.get(1..).unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let mut line = client_line(ClientAction::Unstartable);
            line.program = Some(program(&plan.command));
            line.reason = Some(cvnotify_core::redact::redact(&e.to_string()).into_owned());
            session.journal(Line::Client(line))?;
            return Ok(format!(
                "{}: the client could not be started: {e}",
                scenario.name
            ));
        }
    };
    let mut started_line = client_line(ClientAction::Started);
    started_line.program = Some(program(&plan.command));
    session.journal(Line::Client(started_line))?;
    // The client's stderr, its tail kept for the findings.
    let mut stderr = child.stderr.take();
    let tail = tokio::spawn(async move {
        let mut kept = Vec::new();
        if let Some(err) = stderr.as_mut() {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = err.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(chunk.get(..n).unwrap_or_default());
                if kept.len() > 4 * STDERR_TAIL {
                    kept.drain(..kept.len() - STDERR_TAIL);
                }
            }
        }
        let text = String::from_utf8_lossy(&kept).into_owned();
        let start = text.len().saturating_sub(STDERR_TAIL);
        let start = (start..text.len())
            .find(|&k| text.is_char_boundary(k))
            .unwrap_or(text.len());
        cvnotify_core::redact::redact_deep(text.get(start..).unwrap_or_default())
            .0
            .into_owned()
    });
    let mut customer = None;
    let mut customer_error = None;
    if !configure && scenario.projects > 0 {
        let api = TrainingClient::new(
            &internal,
            TrainingKey::new(&key),
            OptionsForm::Body,
            RetryPolicy::NONE,
        )
        .map_err(|e| VerifyError::Simulation(e.to_string()))?;
        match Customer::start(
            api,
            scenario.projects,
            scenario.platforms(),
            &sim.queue_url(QUEUE),
            &sim.container_url(CONTAINER),
        )
        .await
        {
            Ok(c) => customer = Some(c),
            Err(e) => customer_error = Some(e.to_string()),
        }
    }
    let mut deliveries = scenario.deliveries().into_iter().peekable();
    let quiet = Duration::from_secs_f64(scenario.quiet_seconds);
    let mut quiet_since: Option<Instant> = None;
    let ending = loop {
        tokio::time::sleep(TICK).await;
        sim.run_due(clock::wall().0);
        for line in sim.take_journal() {
            session.journal(line)?;
        }
        if let Some(c) = &mut customer
            && let Err(e) = c.step().await
        {
            customer_error = Some(e.to_string());
            customer = None;
        }
        while deliveries
            .peek()
            .is_some_and(|(at, _)| started.elapsed() >= *at)
        {
            if let Some((_, d)) = deliveries.next() {
                sim.deliver(QUEUE, &d.text, d.base64);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            for line in sim.take_journal() {
                session.journal(line)?;
            }
            break exited(status);
        }
        let scenario_over = customer.as_ref().is_none_or(Customer::done)
            && deliveries.peek().is_none()
            && sim.pending_notifications() == 0;
        let work_done = session.client().is_some_and(|j| j.work_done());
        if scenario_over && work_done {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= quiet {
                stop(&mut child, plan.grace).await;
                break client_line(ClientAction::Stopped);
            }
        } else {
            quiet_since = None;
        }
        if started.elapsed() >= plan.timeout {
            stop(&mut child, plan.grace).await;
            break client_line(ClientAction::TimedOut);
        }
    };
    for line in sim.take_journal() {
        session.journal(line)?;
    }
    // The client may print its environment: the key it was given is a secret too.
    let stderr = tail
        .await
        .unwrap_or_default()
        .replace(&key, cvnotify_core::redact::REDACTED);
    let mut end = ending;
    end.at = At(clock::wall());
    let failed = matches!(end.action, ClientAction::TimedOut)
        || (matches!(end.action, ClientAction::Exited)
            && (end.status != Some(0) || end.signal.is_some()));
    if failed && !stderr.trim().is_empty() {
        end.reason = Some(format!("stderr ends: {}", stderr.trim()));
    }
    let action = end.action;
    session.journal(Line::Client(end))?;
    if sim.journal_dropped() > 0 {
        session.say(&format!(
            "verify: {} journal lines were dropped before they were read",
            sim.journal_dropped()
        ));
    }
    let mut note = format!(
        "{}: client {} after {:.1} s",
        scenario.name,
        match action {
            ClientAction::Stopped => "stopped once its work was done",
            ClientAction::TimedOut => "stopped at the timeout",
            ClientAction::Exited => "exited",
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
