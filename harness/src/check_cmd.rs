//! `cvnotify check`: runs a client through the whole storage-integration lifecycle (create a
//! project with a queue and a container, wait for the connection test, train, wait for the
//! Training notification, export to each platform, wait for the Export notifications and the
//! backup blobs), records everything in the recording format and judges it with the lifecycle
//! model, reporting like `cvnotify replay`. Without `--training-endpoint` it starts the embedded
//! simulation, whose virtual time makes the run take well under a second.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cvnotify_core::lifecycle::{Sources, Timestamp};
use cvnotify_core::{ExportPlatform, IterationId, Notification, ParseOptions, ProjectId};

use crate::cli::{CheckArgs, FormArg};
use crate::cross_check::Outcome;
use crate::exit;
use crate::recording::{ApiLine, ApiOperation};
use crate::report::Format;
use crate::sim::{Faults, MessageEncoding, Simulation};
use crate::storage::{Container, Queue, Resource, RetryPolicy};
use crate::training::{
    NewProject, OptionsForm, StorageOptions, TrainOptions, TrainingClient, TrainingError,
    TrainingKey,
};
use crate::watch::{self, State};

/// The key the embedded simulation accepts (it guards nothing: the simulation is local).
const SIM_KEY: &str = "cvnotify-simulation-key";

/// Where the run happens.
enum Environment {
    Simulated(Simulation),
    Real { timeout: Duration },
}

struct Run {
    state: State,
    api: TrainingClient,
    queue: Queue,
    container: Container,
    env: Environment,
    /// Every notification read so far.
    seen: Vec<Notification>,
}

/// Why a scenario stopped early.
enum Stop {
    /// The API refused a call (recorded and judged; the report says the rest).
    Refused(TrainingError),
    /// Storage or the recording failed.
    Broken(String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Broken(format!("recording: {e}"))
    }
}

impl From<crate::storage::StorageError> for Stop {
    fn from(e: crate::storage::StorageError) -> Self {
        Stop::Broken(e.to_string())
    }
}

impl Run {
    fn line(&self, operation: ApiOperation, project: ProjectId) -> ApiLine {
        ApiLine::ok(self.state.now(), operation, project)
    }

    /// Records a refused call and stops the scenario; a call without a service answer
    /// (transport, gateway, unreadable body) breaks the run.
    fn refused(
        &mut self,
        operation: ApiOperation,
        project: ProjectId,
        e: TrainingError,
    ) -> Result<Stop, Stop> {
        let TrainingError::Service { status, code, .. } = &e else {
            return Ok(Stop::Broken(e.to_string()));
        };
        let mut line = self.line(operation, project);
        line.http_status = status.as_u16();
        line.error_code = Some(code.as_str().to_string());
        self.state.api(line)?;
        Ok(Stop::Refused(e))
    }

    /// GetIteration or GetExports, recorded as `watch --training-endpoint` records them; a
    /// refusal stops the scenario, no answer breaks the run.
    async fn poll(
        &mut self,
        operation: ApiOperation,
        p: ProjectId,
        i: IterationId,
    ) -> Result<(), Stop> {
        let state = &self.state;
        match crate::cross_check::poll(&self.api, operation, p, i, || state.now()).await {
            Outcome::Answered { line, left_out } => Ok(self.state.polled(line, &left_out)?),
            Outcome::Refused { line, error } => {
                self.state.api(line)?;
                Err(Stop::Refused(error))
            }
            Outcome::Failed(e) => Err(Stop::Broken(e.to_string())),
            Outcome::NotApplicable => Ok(()),
        }
    }

    /// Reads everything the queue holds now.
    async fn consume(&mut self) -> Result<(), Stop> {
        let name = self.queue.resource().name().to_string();
        loop {
            let batch = self.queue.receive(32, Duration::from_secs(60)).await?;
            if batch.is_empty() {
                return Ok(());
            }
            for m in &batch {
                // A message that cannot be parsed is recorded and judged, then deleted: a check
                // has no later consumer to redeliver to.
                watch::handle_message(&mut self.state, &name, m, 1, None).await?;
                if let Some(text) = &m.message_text
                    && let Ok(p) = cvnotify_core::parse(text.as_bytes(), ParseOptions::TOLERANT)
                {
                    self.seen.push(p.notification);
                }
            }
            self.state.flush()?;
            for m in &batch {
                if let Some(receipt) = &m.pop_receipt {
                    self.queue.delete(&m.message_id, receipt).await?;
                }
            }
        }
    }

    /// Waits until `count` notifications read so far satisfy `done` (the simulation runs its
    /// promised work at once; a real service is polled until the timeout).
    async fn wait_for(
        &mut self,
        count: usize,
        done: impl Fn(&Notification) -> bool,
    ) -> Result<bool, Stop> {
        let started = Instant::now();
        let mut interval = Duration::from_millis(100);
        loop {
            if let Environment::Simulated(sim) = &self.env {
                sim.settle();
            }
            self.consume().await?;
            watch::observe_container(&mut self.state, &self.container).await?;
            if self.seen.iter().filter(|n| done(n)).count() >= count {
                return Ok(true);
            }
            match &self.env {
                Environment::Simulated(_) => return Ok(false),
                Environment::Real { timeout } if started.elapsed() >= *timeout => return Ok(false),
                Environment::Real { .. } => {
                    // Poll soon, then less often: 0.1 s doubling up to 5 s.
                    tokio::time::sleep(interval).await;
                    interval = (interval * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn say(&mut self, text: &str) {
        let _ = writeln!(self.state.live(), "check: {text}");
    }

    async fn scenario(&mut self, platforms: &[ExportPlatform]) -> Result<(), Stop> {
        let storage = StorageOptions {
            export_model_container_uri: Some(self.container_uri()),
            notification_queue_uri: Some(self.queue_uri()),
        };
        let name = format!("cvnotify-check-{}", self.state.now().0);
        let project = match self
            .api
            .create_project(&NewProject {
                name,
                storage: storage.clone(),
                ..NewProject::default()
            })
            .await
        {
            Ok(p) => p,
            Err(e) => return Err(Stop::Broken(e.to_string())),
        };
        let p = project.id;
        let mut line = self.line(ApiOperation::CreateProject, p);
        line.notification_queue_uri = storage.notification_queue_uri.clone();
        line.export_model_container_uri = storage.export_model_container_uri.clone();
        self.state.api(line)?;
        self.say(&format!("created project {p} with a queue and a container"));

        if !self
            .wait_for(
                1,
                |n| matches!(n, Notification::ConnectionTest { project_id } if *project_id == p),
            )
            .await?
        {
            self.say("no ConnectionTest arrived");
        }

        let iteration = match self.api.train_project(p, &TrainOptions::default()).await {
            Ok(it) => it,
            Err(e) => return Err(self.refused(ApiOperation::TrainProject, p, e)?),
        };
        let i = iteration.id;
        let mut line = self.line(ApiOperation::TrainProject, p);
        line.iteration_id = Some(i.to_string());
        self.state.api(line)?;
        self.say(&format!("training iteration {i}"));
        if !self.wait_for(1, |n| is_training(n, p, i)).await? {
            self.say("no Training notification arrived");
        }
        let failed = self.seen.iter().any(|n| {
            matches!(n, Notification::Training { project_id, iteration_id, status }
                if *project_id == p && *iteration_id == i
                    && *status == cvnotify_core::TrainingStatus::TrainingFailed)
        });
        self.poll(ApiOperation::GetIteration, p, i).await?;
        if failed {
            // A failed training, notified as such: the lifecycle ends there, nothing to export.
            self.say("training failed; nothing to export");
            return self.end().await;
        }

        for platform in platforms {
            match self.api.export_iteration(p, i, *platform, None).await {
                Ok(_) => {
                    let mut line = self.line(ApiOperation::ExportIteration, p);
                    line.iteration_id = Some(i.to_string());
                    line.platform = Some(platform.as_str().to_string());
                    self.state.api(line)?;
                    self.say(&format!("exporting to {}", platform.as_str()));
                }
                Err(e) => return Err(self.refused(ApiOperation::ExportIteration, p, e)?),
            }
        }
        if !self
            .wait_for(platforms.len(), |n| is_export(n, p, i))
            .await?
        {
            self.say("not every Export notification arrived");
        }
        self.poll(ApiOperation::GetExports, p, i).await?;
        self.end().await
    }

    /// Time for the backup blobs, then a last look and a tick for the deadlines.
    async fn end(&mut self) -> Result<(), Stop> {
        if let Environment::Simulated(sim) = &self.env {
            sim.settle();
        }
        self.consume().await?;
        watch::observe_container(&mut self.state, &self.container).await?;
        self.finish_time();
        self.state.tick()?;
        Ok(())
    }

    /// On the simulation, lets every deadline pass (the longest is a day for training), so
    /// whatever never came is reported; a real run ends when it ends.
    fn finish_time(&self) {
        if let Environment::Simulated(sim) = &self.env {
            sim.advance(Duration::from_secs(25 * 3600));
        }
    }

    fn queue_uri(&self) -> String {
        self.queue.resource().url().to_string()
    }

    fn container_uri(&self) -> String {
        self.container.resource().url().to_string()
    }
}

fn is_training(n: &Notification, p: ProjectId, i: IterationId) -> bool {
    matches!(n, Notification::Training { project_id, iteration_id, .. } if *project_id == p && *iteration_id == i)
}

fn is_export(n: &Notification, p: ProjectId, i: IterationId) -> bool {
    matches!(n, Notification::Export { project_id, iteration_id, .. } if *project_id == p && *iteration_id == i)
}

pub(crate) fn run(args: &CheckArgs) -> u8 {
    let usage = |why: String| {
        eprintln!("cvnotify check: {why}");
        exit::USAGE_OR_IO
    };
    let mut platforms = Vec::new();
    for name in &args.platforms {
        match ExportPlatform::from_name(name) {
            Some(p) if !platforms.contains(&p) => platforms.push(p),
            Some(_) => {}
            None => {
                let known: Vec<&str> = ExportPlatform::ALL.iter().map(|p| p.as_str()).collect();
                return usage(format!(
                    "unknown platform {name:?} (known: {})",
                    known.join(", ")
                ));
            }
        }
    }
    let form = match args.form {
        FormArg::Query => OptionsForm::Query,
        FormArg::Body => OptionsForm::Body,
    };
    let runtime = match crate::sim::runtime() {
        Ok(r) => r,
        Err(e) => return usage(format!("cannot start: {e}")),
    };
    let live: Box<dyn Write> =
        if args.report.format == Format::Human && args.report.output.is_none() {
            Box::new(io::stdout())
        } else {
            Box::new(io::stderr())
        };
    let sources = Sources::ALL;
    let outcome = runtime.block_on(async {
        let (env, endpoint, key, queue_url, container_url, clock): (_, _, _, _, _, watch::ClockFn) =
            match &args.training_endpoint {
                None => {
                    // On a whole second: queue times (HTTP dates) have no milliseconds.
                    let start = watch::now().0 / 1000 * 1000;
                    let encoding = MessageEncoding::from(args.encoding);
                    let mut sim = Simulation::start(start, encoding, SIM_KEY).await;
                    sim.set_seed(args.seed);
                    if let Some(spec) = &args.faults {
                        let faults = Faults::parse(spec).map_err(|e| e.to_string())?;
                        if !faults.resets.is_empty() {
                            sim.reset_connections(faults.resets.clone())
                                .await
                                .map_err(|e| format!("cannot start the reset layer: {e}"))?;
                        }
                        sim.set_faults(faults);
                    }
                    let clock = sim.clock();
                    let (endpoint, q, c) = (
                        sim.training_endpoint(),
                        sim.storage_url("cvnotify-check-notifications"),
                        sim.storage_url("cvnotify-check-backups"),
                    );
                    (
                        Environment::Simulated(sim),
                        endpoint,
                        SIM_KEY.to_string(),
                        q,
                        c,
                        Arc::new(move || Timestamp(clock())) as watch::ClockFn,
                    )
                }
                Some(endpoint) => {
                    let var = args.training_key_env.as_deref().unwrap_or_default();
                    let key = std::env::var(var)
                        .map_err(|_| format!("environment variable {var} holds no Training-Key"))?;
                    for url in [
                        endpoint,
                        args.queue.as_ref().unwrap_or(endpoint),
                        args.container.as_ref().unwrap_or(endpoint),
                    ] {
                        watch::check_scheme(url, false)?;
                    }
                    (
                        Environment::Real {
                            timeout: Duration::from_secs(args.timeout),
                        },
                        endpoint.clone(),
                        key,
                        args.queue.clone().unwrap_or_default(),
                        args.container.clone().unwrap_or_default(),
                        Arc::new(watch::now) as watch::ClockFn,
                    )
                }
            };
        let simulated = matches!(env, Environment::Simulated(_));
        let queue = Queue::new(
            Resource::new(
                &queue_url,
                watch::credentials(&queue_url, args.account_key_env.as_deref())?,
                RetryPolicy::default(),
            )
            .map_err(|e| e.to_string())?,
        );
        let container = Container::new(
            Resource::new(
                &container_url,
                watch::credentials(&container_url, args.account_key_env.as_deref())?,
                RetryPolicy::default(),
            )
            .map_err(|e| e.to_string())?,
        );
        if simulated {
            queue.create().await.map_err(|e| e.to_string())?;
            container.create().await.map_err(|e| e.to_string())?;
        }
        let api = TrainingClient::new(
            &endpoint,
            TrainingKey::new(&key),
            form,
            RetryPolicy::default(),
        )
        .map_err(|e| e.to_string())?;
        let state = State::new(sources, args.report.record.as_deref(), live, None, clock)
            .map_err(|e| format!("cannot write the recording: {e}"))?;
        let mut run = Run {
            state,
            api,
            queue,
            container,
            env,
            seen: Vec::new(),
        };
        let label = if simulated {
            "check (embedded simulation)".to_string()
        } else {
            format!("check {endpoint}")
        };
        let stopped = match run.scenario(&platforms).await {
            Ok(()) => false,
            Err(Stop::Refused(e)) => {
                run.say(&format!("stopped early: {e}"));
                run.finish_time();
                run.state.tick().map_err(|e| format!("recording: {e}"))?;
                true
            }
            Err(Stop::Broken(why)) => return Err(why),
        };
        Ok::<_, String>((run.state, label, stopped))
    });
    match outcome {
        Ok((state, label, stopped)) => {
            let code = watch::finish(
                "check",
                &label,
                state,
                args.report.format,
                args.report.output.as_deref(),
                args.report.strict,
            );
            // A scenario that could not run to its end does not pass, whatever was judged.
            if stopped && code == exit::OK {
                exit::REJECTED
            } else {
                code
            }
        }
        Err(why) => usage(why),
    }
}
