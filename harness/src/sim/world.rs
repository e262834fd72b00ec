//! The simulated world's state: queues, containers, Custom Vision projects, the clock, and the
//! service's pending work (what it will do, and when). Pure data plus the rules of the seed's
//! storage integration; the HTTP side lives in `storage` and `training`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use cvnotify_core::{ExportPlatform, IterationId, ProjectId};

use super::faults::{Faults, Misbehaviour};

/// Where time comes from.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    /// The wall clock (a standalone queue for benchmarks).
    Wall,
    /// Virtual time, in milliseconds since the Unix epoch: moves only when told to.
    Virtual(u64),
}

/// How the service encodes the notifications it posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MessageEncoding {
    /// The JSON text as is.
    #[default]
    Plain,
    /// Base64 of the JSON text (what the Functions queue trigger expects by default).
    Base64,
}

/// How long the simulated service takes.
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    /// From configuration to the ConnectionTest message and test blob.
    pub connection_test: Duration,
    /// How long the test blob stays.
    pub test_blob_lifetime: Duration,
    /// From TrainProject to the Training notification.
    pub training: Duration,
    /// From ExportIteration to the backup blob and Export notification.
    pub export: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            connection_test: Duration::from_secs(2),
            test_blob_lifetime: Duration::from_secs(10),
            training: Duration::from_secs(60),
            export: Duration::from_secs(20),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) id: String,
    pub(crate) text: String,
    pub(crate) inserted: SystemTime,
    pub(crate) visible_at: SystemTime,
    pub(crate) dequeue_count: u32,
    pub(crate) pop_receipt: String,
}

/// An iteration's state in the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IterationState {
    Training,
    Completed,
    Failed,
}

#[derive(Debug)]
pub(crate) struct SimIteration {
    pub(crate) id: IterationId,
    pub(crate) state: IterationState,
    pub(crate) created: SystemTime,
    /// Platform name -> `Exporting` or `Done`.
    pub(crate) exports: BTreeMap<&'static str, &'static str>,
}

#[derive(Debug)]
pub(crate) struct SimProject {
    pub(crate) id: ProjectId,
    pub(crate) name: String,
    pub(crate) queue_uri: Option<String>,
    pub(crate) container_uri: Option<String>,
    pub(crate) iterations: Vec<SimIteration>,
    /// Whether anything changed since the last training (the simulation has no images: a
    /// project starts changed, and each training consumes the change).
    pub(crate) changed: bool,
}

/// Work the service has promised.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    ConnectionTest {
        project: ProjectId,
    },
    RemoveBlob {
        container: String,
        name: String,
    },
    FinishTraining {
        project: ProjectId,
        iteration: IterationId,
    },
    FinishExport {
        project: ProjectId,
        iteration: IterationId,
        platform: ExportPlatform,
    },
}

/// The kinds of id the service hands out, each numbered on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKind {
    Project = 0,
    Iteration = 1,
    Message = 2,
    PopReceipt = 3,
    TestBlob = 4,
    /// The iteration a `wrong-blob-name` backup names instead of its own.
    WrongIteration = 5,
}

/// The whole simulated world.
#[derive(Debug)]
pub struct World {
    pub(crate) clock: Clock,
    pub(crate) queues: BTreeMap<String, VecDeque<Message>>,
    pub(crate) containers: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    pub(crate) projects: BTreeMap<ProjectId, SimProject>,
    pub(crate) pending: Vec<(SystemTime, u64, Pending)>,
    pub(crate) next: u64,
    pub(crate) encoding: MessageEncoding,
    pub(crate) timings: Timings,
    /// The Training-Key the API accepts.
    pub(crate) training_key: String,
    /// What to get wrong.
    pub(crate) faults: Faults,
    /// Fixes the ids the service hands out and every random choice.
    pub(crate) seed: u32,
    /// Numbers drawn from the seeded sequence so far.
    pub(crate) draws: u64,
    /// Requests seen per endpoint (api, queue, blob), for HTTP faults.
    pub(crate) requests: [u32; 3],
    /// Ids handed out so far, per [`IdKind`].
    pub(crate) ids: [u64; 6],
}

impl World {
    /// An empty world.
    pub fn new(clock: Clock, encoding: MessageEncoding, training_key: &str) -> Self {
        Self {
            clock,
            queues: BTreeMap::new(),
            containers: BTreeMap::new(),
            projects: BTreeMap::new(),
            pending: Vec::new(),
            next: 0,
            encoding,
            timings: Timings::default(),
            training_key: training_key.to_string(),
            faults: Faults::default(),
            seed: 0,
            draws: 0,
            requests: [0; 3],
            ids: [0; 6],
        }
    }

    /// The next number of the seeded sequence (splitmix64 over the seed and a counter): the
    /// simulation's only random choices draw from it, so a seed replays them.
    pub(crate) fn random(&mut self) -> u64 {
        self.draws += 1;
        crate::seed::splitmix64((u64::from(self.seed) << 32) | self.draws)
    }

    pub(crate) fn misbehaves(&self, m: Misbehaviour) -> bool {
        self.faults.has(m)
    }

    pub(crate) fn now(&self) -> SystemTime {
        match self.clock {
            Clock::Wall => SystemTime::now(),
            Clock::Virtual(ms) => SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
        }
    }

    /// A fresh counter value.
    pub(crate) fn serial(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// A fresh GUID-shaped id of `kind`: the seed, the kind and that kind's own counter, so the
    /// same seed and the same calls give the same ids whatever else happened in between (a
    /// pause, a poll, a message the service posted).
    pub(crate) fn id(&mut self, kind: IdKind) -> String {
        let slot = kind as usize;
        let n = self.ids.get(slot).copied().unwrap_or(0) + 1;
        if let Some(c) = self.ids.get_mut(slot) {
            *c = n;
        }
        format!(
            "{:08x}-{:04x}-4000-8000-{n:012x}",
            self.seed,
            kind as u16 + 1
        )
    }

    pub(crate) fn schedule(&mut self, after: Duration, work: Pending) {
        let at = self.now() + after;
        let order = self.serial();
        self.pending.push((at, order, work));
    }

    /// Runs every pending piece of work, advancing virtual time to each one's due time, until
    /// nothing is pending (work may schedule more). Returns how many ran.
    pub fn settle(&mut self) -> usize {
        self.run_due(None)
    }

    /// Runs the work due by `until` (all of it when `None`), in due order, with virtual time at
    /// each one's due time; then virtual time is `until`. Returns how many ran.
    pub fn run_due(&mut self, until: Option<u64>) -> usize {
        let mut ran = 0;
        while let Some(k) = (0..self.pending.len())
            .min_by_key(|&k| self.pending.get(k).map(|(at, order, _)| (*at, *order)))
        {
            let due_ms = self.pending.get(k).map_or(0, |(at, _, _)| {
                at.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64)
            });
            if until.is_some_and(|u| due_ms > u) {
                break;
            }
            let (at, _, work) = self.pending.remove(k);
            if let Clock::Virtual(ms) = &mut self.clock {
                let due = at
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                *ms = (*ms).max(due);
            }
            self.run(work);
            ran += 1;
        }
        if let (Some(u), Clock::Virtual(ms)) = (until, &mut self.clock) {
            *ms = (*ms).max(u);
        }
        ran
    }

    /// Moves virtual time forward (a no-op on the wall clock).
    pub fn advance(&mut self, by: Duration) {
        if let Clock::Virtual(ms) = &mut self.clock {
            *ms += by.as_millis() as u64;
        }
    }

    fn run(&mut self, work: Pending) {
        match work {
            Pending::ConnectionTest { project } => {
                let Some(p) = self.projects.get(&project) else {
                    return;
                };
                let (queue, container) = (p.queue_uri.clone(), p.container_uri.clone());
                if let Some(c) = container.as_deref().and_then(resource_name) {
                    let name = format!("CustomVision-TestPermission/{}", self.id(IdKind::TestBlob));
                    self.put_blob(&c, &name, b"test".to_vec());
                    let life = self.timings.test_blob_lifetime;
                    self.schedule(life, Pending::RemoveBlob { container: c, name });
                }
                if let Some(q) = queue.as_deref().and_then(resource_name)
                    && !self.misbehaves(Misbehaviour::SkipConnectionTest)
                {
                    let json = format!(
                        r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{project}"}}}}"#
                    );
                    self.post(&q, &json);
                }
            }
            Pending::RemoveBlob { container, name } => {
                if let Some(c) = self.containers.get_mut(&container) {
                    c.remove(&name);
                }
            }
            Pending::FinishTraining { project, iteration } => {
                let Some(p) = self.projects.get_mut(&project) else {
                    return;
                };
                let fails = self.faults.has(Misbehaviour::TrainingFails);
                if let Some(it) = p.iterations.iter_mut().find(|i| i.id == iteration) {
                    it.state = if fails {
                        IterationState::Failed
                    } else {
                        IterationState::Completed
                    };
                }
                let queue = p.queue_uri.as_deref().and_then(resource_name);
                if let Some(q) = queue
                    && !self.misbehaves(Misbehaviour::DropTrainingNotification)
                {
                    let training = |status: &str| {
                        format!(
                            r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{project}","iterationId":"{iteration}","trainingStatus":"{status}"}}}}"#
                        )
                    };
                    if fails {
                        self.post(&q, &training("TrainingFailed"));
                        return;
                    }
                    self.post(&q, &training("TrainingCompleted"));
                    if self.misbehaves(Misbehaviour::ConflictingTrainingStatus) {
                        self.post(&q, &training("TrainingFailed"));
                    }
                }
            }
            Pending::FinishExport {
                project,
                iteration,
                platform,
            } => {
                let Some(p) = self.projects.get_mut(&project) else {
                    return;
                };
                let fails = self.faults.has(Misbehaviour::ExportFails);
                if let Some(it) = p.iterations.iter_mut().find(|i| i.id == iteration) {
                    it.exports
                        .insert(platform.as_str(), if fails { "Failed" } else { "Done" });
                }
                if fails {
                    if let Some(q) = p.queue_uri.as_deref().and_then(resource_name) {
                        let json = format!(
                            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{project}","iterationId":"{iteration}","exportStatus":"ExportFailed"}}}}"#
                        );
                        self.post(&q, &json);
                    }
                    return;
                }
                let (queue, container_uri) = (
                    p.queue_uri.as_deref().and_then(resource_name),
                    p.container_uri.clone(),
                );
                let named = if self.misbehaves(Misbehaviour::WrongBlobName) {
                    self.id(IdKind::WrongIteration)
                } else {
                    iteration.to_string()
                };
                let name = format!("{project} - {named}.{}", platform.as_str());
                let model_uri = match container_uri.as_deref() {
                    Some(uri) => {
                        if let Some(c) = resource_name(uri)
                            && !self.misbehaves(Misbehaviour::NoBackupBlob)
                        {
                            self.put_blob(&c, &name, b"model".to_vec());
                        }
                        let mut base = container_base(uri);
                        if self.misbehaves(Misbehaviour::ModelUriOutsideContainer) {
                            base.push_str("-elsewhere");
                        }
                        format!("{base}/{}", name.replace(' ', "%20"))
                    }
                    None => service_model_uri(iteration),
                };
                if let Some(q) = queue
                    && !self.misbehaves(Misbehaviour::DropExportNotification)
                {
                    let json = export_completed(project, iteration, &model_uri);
                    self.post(&q, &json);
                }
            }
        }
    }

    /// Posts a notification the way the service does (in the configured encoding).
    pub(crate) fn post(&mut self, queue: &str, json: &str) {
        let text = match self.encoding {
            MessageEncoding::Plain => json.to_string(),
            MessageEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(json),
        };
        let copies = if self.misbehaves(Misbehaviour::DuplicateDelivery) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            self.enqueue(queue, text.clone(), Duration::ZERO);
        }
    }

    /// Adds a message to a queue (created on demand, as the service would fail otherwise but a
    /// simulation that loses notifications would hide the client's behaviour).
    pub(crate) fn enqueue(
        &mut self,
        queue: &str,
        text: String,
        delay: Duration,
    ) -> (String, String) {
        let (id, receipt) = (self.id(IdKind::Message), self.id(IdKind::PopReceipt));
        let now = self.now();
        let front = self.misbehaves(Misbehaviour::ReorderNotifications);
        let message = Message {
            id: id.clone(),
            text,
            inserted: now,
            visible_at: now + delay,
            dequeue_count: 0,
            pop_receipt: receipt.clone(),
        };
        let q = self.queues.entry(queue.to_string()).or_default();
        if front {
            q.push_front(message);
        } else {
            q.push_back(message);
        }
        (id, receipt)
    }

    pub(crate) fn put_blob(&mut self, container: &str, name: &str, body: Vec<u8>) {
        self.containers
            .entry(container.to_string())
            .or_default()
            .insert(name.to_string(), body);
    }
}

/// An ExportCompleted notification.
pub(crate) fn export_completed(
    project: ProjectId,
    iteration: IterationId,
    model_uri: &str,
) -> String {
    format!(
        r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{project}","iterationId":"{iteration}","exportStatus":"ExportCompleted","modelUri":"{model_uri}"}}}}"#
    )
}

/// A container URL without its query (a SAS) and trailing `/`: where its blobs' URLs start.
pub(crate) fn container_base(uri: &str) -> String {
    uri.split('?')
        .next()
        .unwrap_or(uri)
        .trim_end_matches('/')
        .to_string()
}

/// The URL of the service's own copy of a model (a SAS URL), where an export points when no
/// backup container is configured.
pub(crate) fn service_model_uri(iteration: IterationId) -> String {
    format!(
        "https://irisprodsim.blob.core.windows.net/models/{iteration}.zip?sv=2021-08-06&sr=b&sig=SIMULATEDSERVICESAS"
    )
}

/// The last path segment of a resource URL (`http://h/devstoreaccount1/q?sas` -> `q`).
pub(crate) fn resource_name(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let last = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    Some(last.to_string())
}
