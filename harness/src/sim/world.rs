//! The simulated world's state: queues, containers, Custom Vision projects, the clock, and the
//! service's pending work (what it will do, and when). Pure data plus the rules of the seed's
//! storage integration; the HTTP side lives in `queues`, `blobs` and `training`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use cvnotify_core::{ExportPlatform, IterationId, ProjectId};

use super::blobs::ContainerState;
use super::faults::{Faults, Misbehaviour};
use super::queues::QueueState;
use super::training::{ExportState, IterationState, SimProject};
use crate::storage::AccountKey;

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
    /// Plain and base64 in turn, message by message (a consumer must read both).
    Mixed,
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
    /// An answer's `x-ms-request-id`.
    Request = 6,
    Tag = 7,
    Image = 8,
}

/// How many kinds of id there are.
const ID_KINDS: usize = 9;

/// The whole simulated world.
#[derive(Debug)]
pub struct World {
    pub(crate) clock: Clock,
    pub(crate) queues: BTreeMap<String, QueueState>,
    pub(crate) containers: BTreeMap<String, ContainerState>,
    /// The storage account the services answer for, and its key.
    pub(crate) account: String,
    pub(crate) account_key: AccountKey,
    /// The account's second key, when it is given one.
    pub(crate) secondary_key: Option<AccountKey>,
    /// Whether storage requests must be authorized (Shared Key or SAS), as Azure and Azurite
    /// require; off only when asked for.
    pub(crate) check_auth: bool,
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
    /// TCP connections accepted so far, by every server of the world.
    pub(crate) connections: u64,
    /// Where the Queue and Blob services are reached (`127.0.0.1:PORT`, each), set once they
    /// listen: a storage URI names one of the world's queues or containers only through them
    /// (any host while empty, for a world without servers).
    pub(crate) queue_hosts: Vec<String>,
    pub(crate) blob_hosts: Vec<String>,
    /// Ids handed out so far, per [`IdKind`].
    pub(crate) ids: [u64; ID_KINDS],
    /// The journal, when one is kept.
    pub(crate) journal: Option<super::journal::Journal>,
    /// What the request being answered said beyond its status, for the journal.
    pub(crate) scratch: super::journal::Scratch,
    /// Messages posted so far (for [`MessageEncoding::Mixed`]).
    pub(crate) posted: u64,
    /// How long a Get Blob takes beyond its work (a slow download), in milliseconds.
    pub(crate) blob_delay_ms: u64,
    /// How many bytes a backup blob holds (`b"model"` when 5 or fewer).
    pub backup_bytes: usize,
}

/// The content of a backup blob of `size` bytes: `model`, then a pattern that differs from
/// byte to byte (so a download put together from ranges in the wrong order is noticed).
pub(crate) fn backup_content(size: usize) -> Vec<u8> {
    let mut out = b"model".to_vec();
    out.truncate(size);
    #[allow(clippy::cast_possible_truncation, reason = "a repeating byte pattern")]
    out.extend((out.len()..size).map(|k| (k % 251) as u8));
    out
}

impl World {
    /// An empty world.
    pub fn new(clock: Clock, encoding: MessageEncoding, training_key: &str) -> Self {
        Self {
            clock,
            queues: BTreeMap::new(),
            containers: BTreeMap::new(),
            account: super::auth::DEV_ACCOUNT.to_string(),
            account_key: AccountKey::from_base64(super::auth::DEV_KEY)
                .unwrap_or_else(|_| AccountKey::from_bytes(Vec::new())),
            secondary_key: None,
            check_auth: true,
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
            connections: 0,
            ids: [0; ID_KINDS],
            queue_hosts: Vec::new(),
            blob_hosts: Vec::new(),
            journal: None,
            scratch: super::journal::Scratch::default(),
            posted: 0,
            backup_bytes: 5,
            blob_delay_ms: 0,
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
                if let Some(c) = container.as_deref().and_then(|u| self.container_of(u)) {
                    let name = format!("CustomVision-TestPermission/{}", self.id(IdKind::TestBlob));
                    self.put_blob(&c, &name, b"test".to_vec());
                    let life = self.timings.test_blob_lifetime;
                    self.schedule(life, Pending::RemoveBlob { container: c, name });
                }
                if let Some(q) = queue.as_deref().and_then(|u| self.queue_of(u))
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
                    c.blobs.remove(&name);
                }
            }
            Pending::FinishTraining { project, iteration } => {
                let fails = self.faults.has(Misbehaviour::TrainingFails);
                let now = self.now();
                let Some(p) = self.projects.get_mut(&project) else {
                    return;
                };
                if let Some(it) = p.iterations.iter_mut().find(|i| i.id == iteration) {
                    it.state = if fails {
                        IterationState::Failed
                    } else {
                        IterationState::Completed
                    };
                    it.last_modified = now;
                    if !fails {
                        it.trained_at = Some(now);
                    }
                }
                let queue = p.queue_uri.clone();
                let queue = queue.as_deref().and_then(|u| self.queue_of(u));
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
                let fails = self.faults.has(Misbehaviour::ExportFails);
                let Some(p) = self.projects.get_mut(&project) else {
                    return;
                };
                if let Some(it) = p.iterations.iter_mut().find(|i| i.id == iteration) {
                    let status = if fails { "Failed" } else { "Done" };
                    it.exports
                        .entry(platform.as_str())
                        .and_modify(|e| e.status = status)
                        .or_insert(ExportState {
                            status,
                            flavor: None,
                        });
                }
                let (queue_uri, container_uri) = (p.queue_uri.clone(), p.container_uri.clone());
                let queue = queue_uri.as_deref().and_then(|u| self.queue_of(u));
                if fails {
                    if let Some(q) = queue {
                        let json = format!(
                            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{project}","iterationId":"{iteration}","exportStatus":"ExportFailed"}}}}"#
                        );
                        self.post(&q, &json);
                    }
                    return;
                }
                let named = if self.misbehaves(Misbehaviour::WrongBlobName) {
                    self.id(IdKind::WrongIteration)
                } else {
                    iteration.to_string()
                };
                let name = format!("{project} - {named}.{}", platform.as_str());
                let model_uri = match container_uri.as_deref() {
                    Some(uri) => {
                        if let Some(c) = self.container_of(uri)
                            && !self.misbehaves(Misbehaviour::NoBackupBlob)
                        {
                            self.put_blob(&c, &name, backup_content(self.backup_bytes));
                        }
                        let mut base = container_base(uri);
                        if self.misbehaves(Misbehaviour::ModelUriOutsideContainer) {
                            base.push_str("-elsewhere");
                        }
                        format!("{base}/{}", name.replace(' ', "%20"))
                    }
                    None => service_model_uri(iteration),
                };
                let announced = container_uri
                    .as_deref()
                    .and_then(|u| self.container_of(u))
                    .filter(|_| !self.misbehaves(Misbehaviour::ModelUriOutsideContainer))
                    .map(|c| format!("{c}/{name}"));
                if let Some(q) = queue
                    && !self.misbehaves(Misbehaviour::DropExportNotification)
                {
                    let json = export_completed(project, iteration, &model_uri);
                    self.post_with(&q, &json, announced);
                }
            }
        }
    }

    /// Posts a notification the way the service does (in the configured encoding).
    pub(crate) fn post(&mut self, queue: &str, json: &str) {
        self.post_with(queue, json, None);
    }

    /// [`World::post`] of a notification that announces the backup blob `blob`
    /// (`container/name`), for the journal.
    pub(crate) fn post_with(&mut self, queue: &str, json: &str, blob: Option<String>) {
        let copies = if self.misbehaves(Misbehaviour::DuplicateDelivery) {
            2
        } else {
            1
        };
        self.posted += 1;
        let base64 = match self.encoding {
            MessageEncoding::Plain => false,
            MessageEncoding::Base64 => true,
            MessageEncoding::Mixed => self.posted.is_multiple_of(2),
        };
        for _ in 0..copies {
            self.deliver(queue, json, base64, blob.clone());
        }
    }

    /// Puts `text` on `queue` (base64 of it when `base64`) as the service does, and journals
    /// the delivery. Any text: a scenario delivers malformed messages this way too.
    pub(crate) fn deliver(&mut self, queue: &str, text: &str, base64: bool, blob: Option<String>) {
        let wire = if base64 {
            base64::engine::general_purpose::STANDARD.encode(text)
        } else {
            text.to_string()
        };
        let Some(id) = self.enqueue(queue, wire.clone()) else {
            return;
        };
        if self.journal.is_some() {
            let at = self.timestamp();
            // The announced blob with its size, as the container holds it now.
            let blob = blob.map(|b| {
                let size = b
                    .split_once('/')
                    .and_then(|(c, name)| self.containers.get(c)?.blobs.get(name))
                    .map(|blob| blob.body.len() as u64);
                (b, size)
            });
            let line = super::journal::delivered(at, queue, &id, &wire, text, base64, blob);
            if let Some(j) = &mut self.journal {
                j.push(line);
            }
        }
    }

    /// The time now, as the journal stamps it.
    pub(crate) fn timestamp(&self) -> cvnotify_core::lifecycle::Timestamp {
        cvnotify_core::lifecycle::Timestamp(
            self.now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        )
    }

    /// The name of the world's queue a URI names (`http://HOST/ACCOUNT/NAME`, any query), if it
    /// names one that exists: where the service can post.
    pub(crate) fn queue_of(&self, uri: &str) -> Option<String> {
        let name = self.resource_of(uri, &self.queue_hosts)?;
        self.queues.contains_key(&name).then_some(name)
    }

    /// The name of the world's container a URI names, if it exists.
    pub(crate) fn container_of(&self, uri: &str) -> Option<String> {
        let name = self.resource_of(uri, &self.blob_hosts)?;
        self.containers.contains_key(&name).then_some(name)
    }

    /// The resource a storage URI names on one of `hosts` in this world's account.
    fn resource_of(&self, uri: &str, hosts: &[String]) -> Option<String> {
        let url = url::Url::parse(uri).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let authority = format!("{}:{}", url.host_str()?, url.port_or_known_default()?);
        let authority = authority.replacen("localhost:", "127.0.0.1:", 1);
        if !hosts.is_empty() && !hosts.contains(&authority) {
            return None;
        }
        let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [account, name] if *account == self.account => Some((*name).to_string()),
            _ => None,
        }
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
