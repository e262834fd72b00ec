//! The lifecycle check: a client run through the whole storage-integration lifecycle (create a
//! project with a queue and a container in an exportable domain, give it the smallest training
//! set the service takes, wait for the connection test, train, wait for the
//! Training notification, export to each platform, wait for the Export notifications and the
//! backup blobs), everything fed to a [`Session`], judged like a replay. It runs against the
//! embedded simulation, whose virtual time makes the run take well under a second, or against a
//! real Custom Vision resource and storage account.

use std::io;
use std::time::{Duration, Instant};

use cvnotify_core::lifecycle::{Operation, Timestamp};
use cvnotify_core::{ExportPlatform, IterationId, Notification, ProjectId, TrainingStatus};

use crate::clock::Now;
use crate::cross_check::{self, Outcome};
use crate::recording::ApiLine;
use crate::session::{Received, Session};
use crate::sim::Simulation;
use crate::storage::{Container, Queue, StorageError};
use crate::training::{
    EXPORTABLE_DOMAIN, IMAGES_PER_TAG, NewProject, StorageOptions, TAGS, TrainOptions,
    TrainingClient, TrainingError, upload_training_set,
};

/// Where the run happens.
pub enum Environment {
    /// The embedded simulation (its clock is virtual: waiting is settling).
    Simulated(Box<Simulation>),
    /// A real service, polled for up to `timeout` per step.
    Real {
        /// The longest wait for each notification.
        timeout: Duration,
    },
}

/// What a check runs against and feeds.
pub struct Check {
    /// The session it feeds.
    pub session: Session,
    /// The training API.
    pub api: TrainingClient,
    /// The notification queue (the check's own: every message on it is judged).
    pub queue: Queue,
    /// The backup container.
    pub container: Container,
    /// Where it runs.
    pub env: Environment,
    /// Where its times come from.
    pub clock: Now,
    /// What never came within the timeout (a real endpoint only).
    pub shortfalls: Vec<String>,
    /// Whether to delete the project at the end (a real resource has few projects to spare).
    pub delete_project: bool,
    /// The project the check created and has not deleted.
    pub created: Option<ProjectId>,
    /// Where the session's live lines are shown.
    pub live: Box<dyn io::Write + Send>,
}

/// How a check ended.
#[derive(Debug)]
pub enum Ending {
    /// The lifecycle ran to its end (the report says whether it was right).
    Completed,
    /// The API refused a call; it was recorded and judged, and the rest did not run.
    Refused(TrainingError),
    /// It ran to its end, but something it waited for never came within the timeout, before
    /// the deadline that would make its absence a finding: the run cannot pass.
    Incomplete(String),
}

/// Why a check could not go on.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A training API call got no usable answer (transport, gateway, unreadable body). The
    /// training client's errors name their call already.
    #[error("{error}")]
    Training {
        /// The call.
        operation: Operation,
        /// What happened.
        error: TrainingError,
    },
    /// A set-up call (tags, images) got no usable answer.
    #[error("{0}")]
    Setup(TrainingError),
    /// Storage failed for good.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The recording could not be written.
    #[error("cannot write the recording: {0}")]
    Recording(#[from] io::Error),
}

/// Why the scenario stopped before its end.
enum Stop {
    Refused(TrainingError),
    Broken(CheckError),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Broken(e.into())
    }
}

impl From<StorageError> for Stop {
    fn from(e: StorageError) -> Self {
        Stop::Broken(e.into())
    }
}

/// Every notification read so far.
struct Seen(Vec<Notification>);

impl Check {
    /// Runs the lifecycle, exporting to `platforms`; `name` is the project's name.
    pub async fn run(
        &mut self,
        name: &str,
        platforms: &[ExportPlatform],
    ) -> Result<Ending, CheckError> {
        let mut seen = Seen(Vec::new());
        match self.scenario(name, platforms, &mut seen).await {
            Ok(()) if self.shortfalls.is_empty() => Ok(Ending::Completed),
            Ok(()) => Ok(Ending::Incomplete(self.shortfalls.join("; "))),
            Err(Stop::Refused(e)) => {
                self.say(&format!("stopped early: {e}"));
                if let Some(p) = self.created {
                    self.tidy(p).await;
                }
                self.finish_time();
                self.session.tick(self.now())?;
                Ok(Ending::Refused(e))
            }
            Err(Stop::Broken(e)) => Err(e),
        }
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    fn line(&self, operation: Operation, project: ProjectId) -> ApiLine {
        ApiLine::ok(self.now(), operation, project)
    }

    fn say(&mut self, text: &str) {
        self.session.say(&format!("check: {text}"));
        self.session.write_live(&mut self.live);
    }

    /// Records a failed call and stops the scenario: a refusal is judged and ends the run
    /// early; a call without a service answer (transport, gateway, unreadable body) is recorded
    /// as such and breaks the run.
    fn refused(&mut self, operation: Operation, project: ProjectId, e: TrainingError) -> Stop {
        let mut line = self.line(operation, project);
        cross_check::failed(&mut line, &e);
        if let Err(io) = self.session.api(line) {
            return Stop::Broken(CheckError::Recording(io));
        }
        match e {
            TrainingError::Service { .. } => Stop::Refused(e),
            error => Stop::Broken(CheckError::Training { operation, error }),
        }
    }

    /// GetIteration or GetExports, recorded as `watch --training-endpoint` records them; a
    /// refusal stops the scenario, no answer breaks the run.
    async fn poll(
        &mut self,
        operation: Operation,
        p: ProjectId,
        i: IterationId,
    ) -> Result<(), Stop> {
        let clock = self.clock.clone();
        match cross_check::poll(&self.api, operation, p, i, || clock()).await {
            Outcome::Answered { line, left_out } => Ok(self.session.polled(line, &left_out)?),
            Outcome::Refused { line, error } => {
                self.session.api(line)?;
                Err(Stop::Refused(error))
            }
            Outcome::Failed { line, error } => {
                self.session.api(line)?;
                Err(Stop::Broken(CheckError::Training { operation, error }))
            }
            Outcome::NotApplicable => Ok(()),
        }
    }

    /// Reads everything the queue holds now.
    async fn consume(&mut self, seen: &mut Seen) -> Result<(), Stop> {
        let name = self.queue.resource().name().to_string();
        loop {
            let batch = self.queue.receive(32, Duration::from_secs(60)).await?;
            if batch.is_empty() {
                return Ok(());
            }
            for m in &batch {
                // A message that cannot be parsed is recorded and judged, then deleted: a check
                // has no later consumer to redeliver to.
                let handled = self.session.message(Received::listed(&name, m), 1)?;
                seen.0.extend(handled.notification);
            }
            self.session.flush()?;
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
        seen: &mut Seen,
        what: &str,
        count: usize,
        done: impl Fn(&Notification) -> bool,
    ) -> Result<bool, Stop> {
        let started = Instant::now();
        let mut interval = Duration::from_millis(100);
        loop {
            if let Environment::Simulated(sim) = &self.env {
                sim.settle();
            }
            self.consume(seen).await?;
            self.session.container(
                (self.clock)(),
                self.container.resource().name(),
                &self.container.listing().await?,
            )?;
            if seen.0.iter().filter(|n| done(n)).count() >= count {
                return Ok(true);
            }
            match &self.env {
                Environment::Simulated(_) => return Ok(false),
                Environment::Real { timeout } if started.elapsed() >= *timeout => {
                    self.shortfalls.push(format!(
                        "{what} did not arrive within {} s",
                        timeout.as_secs()
                    ));
                    return Ok(false);
                }
                Environment::Real { .. } => {
                    // Poll soon, then less often: 0.1 s doubling up to 5 s.
                    tokio::time::sleep(interval).await;
                    interval = (interval * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn scenario(
        &mut self,
        name: &str,
        platforms: &[ExportPlatform],
        seen: &mut Seen,
    ) -> Result<(), Stop> {
        let storage = StorageOptions {
            export_model_container_uri: Some(self.container.resource().url().to_string()),
            notification_queue_uri: Some(self.queue.resource().url().to_string()),
        };
        let created = self
            .api
            .create_project(&NewProject {
                name: name.to_string(),
                domain_id: Some(EXPORTABLE_DOMAIN),
                storage: storage.clone(),
                ..NewProject::default()
            })
            .await;
        let project = match created {
            Ok(p) => p,
            // No project yet: the line names the nil id, which stands for no project.
            Err(e) => {
                let nil = ProjectId::from_bytes([0; 16]);
                return Err(self.refused(Operation::CreateProject, nil, e));
            }
        };
        let p = project.id;
        self.created = Some(p);
        let mut line = self.line(Operation::CreateProject, p);
        line.notification_queue_uri = storage.notification_queue_uri.clone();
        line.export_model_container_uri = storage.export_model_container_uri.clone();
        self.session.api(line)?;
        self.say(&format!("created project {p} with a queue and a container"));
        self.training_set(p).await?;

        let tested = |n: &Notification| matches!(n, Notification::ConnectionTest { project_id } if *project_id == p);
        if !self.wait_for(seen, "the ConnectionTest", 1, tested).await? {
            self.say("no ConnectionTest arrived");
        }

        let iteration = match self.api.train_project(p, &TrainOptions::default()).await {
            Ok(it) => it,
            Err(e) => return Err(self.refused(Operation::TrainProject, p, e)),
        };
        let i = iteration.id;
        let mut line = self.line(Operation::TrainProject, p);
        line.iteration_id = Some(i.to_string());
        self.session.api(line)?;
        self.say(&format!("training iteration {i}"));
        if !self
            .wait_for(seen, "the Training notification", 1, |n| {
                is_training(n, p, i)
            })
            .await?
        {
            self.say("no Training notification arrived");
        }
        let failed = seen.0.iter().any(|n| {
            matches!(n, Notification::Training { project_id, iteration_id, status }
                if *project_id == p && *iteration_id == i
                    && *status == TrainingStatus::TrainingFailed)
        });
        self.poll(Operation::GetIteration, p, i).await?;
        if failed {
            // A failed training, notified as such: the lifecycle ends there, nothing to export.
            self.say("training failed; nothing to export");
            return self.end(seen, p).await;
        }

        for platform in platforms {
            match self.api.export_iteration(p, i, *platform, None).await {
                Ok(_) => {
                    let mut line = self.line(Operation::ExportIteration, p);
                    line.iteration_id = Some(i.to_string());
                    line.platform = Some(platform.as_str().to_string());
                    self.session.api(line)?;
                    self.say(&format!("exporting to {}", platform.as_str()));
                }
                Err(e) => return Err(self.refused(Operation::ExportIteration, p, e)),
            }
        }
        if !self
            .wait_for(seen, "every Export notification", platforms.len(), |n| {
                is_export(n, p, i)
            })
            .await?
        {
            self.say("not every Export notification arrived");
        }
        self.poll(Operation::GetExports, p, i).await?;
        self.end(seen, p).await
    }

    /// Tags and images, the least the service trains on. Not part of the lifecycle: a refusal
    /// is told and stops the run, with nothing recorded.
    async fn training_set(&mut self, p: ProjectId) -> Result<(), Stop> {
        match upload_training_set(&self.api, p).await {
            Ok(summary) if summary.is_batch_successful => {}
            Ok(summary) => {
                let statuses: Vec<&str> =
                    summary.images.iter().map(|i| i.status.as_str()).collect();
                self.say(&format!(
                    "the service did not take every image ({}); training may be refused",
                    statuses.join(", ")
                ));
            }
            Err(e) => return Err(self.setup_failed(e)),
        }
        self.say(&format!(
            "uploaded {} images under {} tags",
            TAGS.len() * usize::from(IMAGES_PER_TAG),
            TAGS.len()
        ));
        Ok(())
    }

    fn setup_failed(&mut self, e: TrainingError) -> Stop {
        self.say(&format!("could not set up the training set: {e}"));
        match e {
            TrainingError::Service { .. } => Stop::Refused(e),
            error => Stop::Broken(CheckError::Setup(error)),
        }
    }

    /// Deletes the check's project (when asked): told, never judged.
    async fn tidy(&mut self, p: ProjectId) {
        if !self.delete_project || std::mem::take(&mut self.created).is_none() {
            return;
        }
        match self.api.delete_project(p).await {
            Ok(()) => self.say(&format!("deleted project {p}")),
            Err(e) => self.say(&format!("could not delete project {p}: {e}")),
        }
    }

    /// Time for the backup blobs, then a last look and a tick for the deadlines.
    async fn end(&mut self, seen: &mut Seen, p: ProjectId) -> Result<(), Stop> {
        if let Environment::Simulated(sim) = &self.env {
            sim.settle();
        }
        self.consume(seen).await?;
        self.session.container(
            (self.clock)(),
            self.container.resource().name(),
            &self.container.listing().await?,
        )?;
        self.tidy(p).await;
        self.finish_time();
        self.session.tick(self.now())?;
        Ok(())
    }

    /// On the simulation, lets every deadline pass (the longest is a day for training), so
    /// whatever never came is reported; a real run ends when it ends.
    fn finish_time(&self) {
        if let Environment::Simulated(sim) = &self.env {
            sim.advance(Duration::from_secs(25 * 3600));
        }
    }
}

fn is_training(n: &Notification, p: ProjectId, i: IterationId) -> bool {
    matches!(n, Notification::Training { project_id, iteration_id, .. } if *project_id == p && *iteration_id == i)
}

fn is_export(n: &Notification, p: ProjectId, i: IterationId) -> bool {
    matches!(n, Notification::Export { project_id, iteration_id, .. } if *project_id == p && *iteration_id == i)
}
