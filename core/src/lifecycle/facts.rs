//! What a tracker remembers about each project: for everything that can be observed, when (and
//! by which input) it was first observed. Each field merges by a rule that is associative,
//! commutative and idempotent (the earlier stamp wins; sets unite), so the facts do not depend on
//! the order inputs arrive in, and two trackers that saw parts of a stream merge into the one
//! that saw it all. Sets are sorted `Vec`s: deterministic order, no per-node overhead.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::input::{
    ContainerUri, Delivery, ExportJobStatus, IterationStatus, MessageId, Operation, RejectionCode,
    Stamp,
};
use crate::blob::PlatformType;
use crate::id::IterationId;
use crate::model_uri::ModelUri;
use crate::notification::{ExportStatus, TrainingStatus};

/// Keeps the earlier of two optional stamps (with its payload).
pub(crate) fn keep_first<T: Ord + Clone>(slot: &mut Option<T>, other: Option<&T>) {
    if let Some(o) = other
        && slot.as_ref().is_none_or(|s| o < s)
    {
        *slot = Some(o.clone());
    }
}

/// Inserts into a sorted set.
pub(crate) fn insert_sorted<T: Ord>(set: &mut Vec<T>, item: T) {
    if let Err(at) = set.binary_search(&item) {
        set.insert(at, item);
    }
}

/// Merges sorted, key-unique `other` into `set`, combining entries with equal keys.
fn merge_keyed<T: Clone, K: Ord>(
    set: &mut Vec<T>,
    other: &[T],
    key: impl Fn(&T) -> K,
    combine: impl Fn(&mut T, &T),
) {
    for item in other {
        match set.binary_search_by(|probe| key(probe).cmp(&key(item))) {
            Ok(at) => {
                if let Some(existing) = set.get_mut(at) {
                    combine(existing, item);
                }
            }
            Err(at) => set.insert(at, item.clone()),
        }
    }
}

/// One queue message, as often as it was handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Received {
    /// The message id.
    pub message_id: MessageId,
    /// Its first observation.
    pub first: Stamp,
    /// The dequeue counts seen: bit `n - 1` for count `n` (counts above 64 share bit 63).
    pub dequeues: u64,
}

impl Received {
    /// How many distinct handings-out of this message were observed.
    pub const fn times(&self) -> u32 {
        self.dequeues.count_ones()
    }
}

fn dequeue_bit(count: u32) -> u64 {
    1u64 << count.clamp(1, 64).saturating_sub(1)
}

/// The messages that carried one notification, by message id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Deliveries(Vec<Received>);

impl Deliveries {
    pub(crate) fn add(&mut self, delivery: Delivery, stamp: Stamp) {
        let bit = dequeue_bit(delivery.dequeue_count);
        match self
            .0
            .binary_search_by(|r| r.message_id.cmp(&delivery.message_id))
        {
            Ok(at) => {
                if let Some(r) = self.0.get_mut(at) {
                    r.first = r.first.min(stamp);
                    r.dequeues |= bit;
                }
            }
            Err(at) => self.0.insert(
                at,
                Received {
                    message_id: delivery.message_id,
                    first: stamp,
                    dequeues: bit,
                },
            ),
        }
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        merge_keyed(
            &mut self.0,
            &other.0,
            |r| r.message_id,
            |a, b| {
                a.first = a.first.min(b.first);
                a.dequeues |= b.dequeues;
            },
        );
    }

    /// The messages, by id.
    pub fn messages(&self) -> &[Received] {
        &self.0
    }

    /// Whether none was received.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first observation of any of the messages.
    pub fn first(&self) -> Option<Stamp> {
        self.0.iter().map(|r| r.first).min()
    }

    /// Distinct handings-out observed, across all messages.
    pub fn times(&self) -> u32 {
        self.0.iter().map(Received::times).sum()
    }
}

/// One storage configuration of a project.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Config {
    /// A queue was set.
    pub queue: bool,
    /// The container, when one was set.
    pub container: Option<ContainerUri>,
}

/// The first time GetIteration answered each status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IterationPolls {
    /// `Training`.
    pub training: Option<Stamp>,
    /// `Completed`.
    pub completed: Option<Stamp>,
    /// `Failed`.
    pub failed: Option<Stamp>,
}

impl IterationPolls {
    /// The slot of a status.
    pub fn slot_mut(&mut self, status: IterationStatus) -> &mut Option<Stamp> {
        match status {
            IterationStatus::Training => &mut self.training,
            IterationStatus::Completed => &mut self.completed,
            IterationStatus::Failed => &mut self.failed,
        }
    }

    fn merge(&mut self, other: &Self) {
        keep_first(&mut self.training, other.training.as_ref());
        keep_first(&mut self.completed, other.completed.as_ref());
        keep_first(&mut self.failed, other.failed.as_ref());
    }
}

/// The first time GetExports listed each status for one platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExportPolls {
    /// `Exporting`.
    pub exporting: Option<Stamp>,
    /// `Done`.
    pub done: Option<Stamp>,
    /// `Failed`.
    pub failed: Option<Stamp>,
}

impl ExportPolls {
    /// The slot of a status.
    pub fn slot_mut(&mut self, status: ExportJobStatus) -> &mut Option<Stamp> {
        match status {
            ExportJobStatus::Exporting => &mut self.exporting,
            ExportJobStatus::Done => &mut self.done,
            ExportJobStatus::Failed => &mut self.failed,
        }
    }

    fn merge(&mut self, other: &Self) {
        keep_first(&mut self.exporting, other.exporting.as_ref());
        keep_first(&mut self.done, other.done.as_ref());
        keep_first(&mut self.failed, other.failed.as_ref());
    }
}

/// The `Training` notifications of one iteration, by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TrainingNotices {
    /// `TrainingCompleted`.
    pub completed: Deliveries,
    /// `TrainingFailed`.
    pub failed: Deliveries,
}

impl TrainingNotices {
    /// The messages of a status.
    pub fn slot_mut(&mut self, status: TrainingStatus) -> &mut Deliveries {
        match status {
            TrainingStatus::TrainingCompleted => &mut self.completed,
            TrainingStatus::TrainingFailed => &mut self.failed,
        }
    }

    fn merge(&mut self, other: &Self) {
        self.completed.merge(&other.completed);
        self.failed.merge(&other.failed);
    }
}

/// What was seen of one export platform of an iteration (API and container side).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlatformFacts {
    /// The platform (from the API, or from a backup blob's name).
    pub platform: PlatformType,
    /// ExportIteration accepted.
    pub requested: Option<Stamp>,
    /// GetExports statuses.
    pub polled: ExportPolls,
    /// The backup blob appeared, with its size.
    pub blob: Option<(Stamp, u64)>,
    /// The backup blob disappeared.
    pub blob_gone: Option<Stamp>,
}

impl PlatformFacts {
    fn new(platform: PlatformType) -> Self {
        Self {
            platform,
            requested: None,
            polled: ExportPolls::default(),
            blob: None,
            blob_gone: None,
        }
    }

    fn merge(&mut self, other: &Self) {
        keep_first(&mut self.requested, other.requested.as_ref());
        self.polled.merge(&other.polled);
        keep_first(&mut self.blob, other.blob.as_ref());
        keep_first(&mut self.blob_gone, other.blob_gone.as_ref());
    }
}

/// One `Export` notification content (status and model URI) and the messages that carried it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportNotice {
    /// `exportStatus`.
    pub status: ExportStatus,
    /// `modelUri`.
    pub model_uri: Option<ModelUri>,
    /// The messages.
    pub deliveries: Deliveries,
}

impl ExportNotice {
    /// The platform named by the model URI's backup blob name, when it has one.
    pub fn platform(&self) -> Option<PlatformType> {
        match self.model_uri.as_ref().and_then(ModelUri::backup_blob_name) {
            Some(Ok(name)) => Some(name.platform().clone()),
            _ => None,
        }
    }

    fn key(&self) -> (ExportStatus, Option<&ModelUri>) {
        (self.status, self.model_uri.as_ref())
    }
}

/// What was seen of one iteration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IterationFacts {
    /// TrainProject returned it.
    pub requested: Option<Stamp>,
    /// GetIteration statuses.
    pub polled: IterationPolls,
    /// `Training` notifications.
    pub training: TrainingNotices,
    /// Per platform, sorted by platform.
    pub platforms: Vec<PlatformFacts>,
    /// `Export` notifications, sorted by (status, model URI).
    pub notices: Vec<ExportNotice>,
}

impl IterationFacts {
    pub(crate) fn platform_mut(&mut self, platform: PlatformType) -> Option<&mut PlatformFacts> {
        let at = match self
            .platforms
            .binary_search_by(|p| p.platform.cmp(&platform))
        {
            Ok(at) => at,
            Err(at) => {
                self.platforms.insert(at, PlatformFacts::new(platform));
                at
            }
        };
        self.platforms.get_mut(at)
    }

    /// The facts of one platform.
    pub fn platform(&self, platform: &PlatformType) -> Option<&PlatformFacts> {
        self.platforms.iter().find(|p| p.platform == *platform)
    }

    pub(crate) fn add_notice(
        &mut self,
        status: ExportStatus,
        model_uri: Option<ModelUri>,
        delivery: Delivery,
        stamp: Stamp,
    ) {
        let found = self
            .notices
            .binary_search_by(|n| n.key().cmp(&(status, model_uri.as_ref())));
        let at = match found {
            Ok(at) => at,
            Err(at) => {
                let notice = ExportNotice {
                    status,
                    model_uri,
                    deliveries: Deliveries::default(),
                };
                self.notices.insert(at, notice);
                at
            }
        };
        if let Some(n) = self.notices.get_mut(at) {
            n.deliveries.add(delivery, stamp);
        }
    }

    /// The earliest evidence that training completed: a `TrainingCompleted` notification or
    /// GetIteration `Completed`.
    pub fn completed_at(&self) -> Option<Stamp> {
        let notified = self.training.completed.first();
        match (notified, self.polled.completed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn merge(&mut self, other: &Self) {
        keep_first(&mut self.requested, other.requested.as_ref());
        self.polled.merge(&other.polled);
        self.training.merge(&other.training);
        merge_keyed(
            &mut self.platforms,
            &other.platforms,
            |p| p.platform.clone(),
            PlatformFacts::merge,
        );
        for notice in &other.notices {
            let found = self
                .notices
                .binary_search_by(|n| n.key().cmp(&notice.key()));
            match found {
                Ok(at) => {
                    if let Some(n) = self.notices.get_mut(at) {
                        n.deliveries.merge(&notice.deliveries);
                    }
                }
                Err(at) => self.notices.insert(at, notice.clone()),
            }
        }
    }
}

/// What was seen of one project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProjectFacts {
    /// Storage configurations, sorted.
    pub configs: Vec<(Stamp, Config)>,
    /// `ConnectionTest` notifications.
    pub connection_tests: Deliveries,
    /// Iterations.
    pub iterations: BTreeMap<IterationId, IterationFacts>,
    /// Refused API calls, sorted.
    pub rejections: Vec<(Stamp, Operation, RejectionCode)>,
}

impl ProjectFacts {
    pub(crate) fn iteration_mut(&mut self, id: IterationId) -> &mut IterationFacts {
        self.iterations.entry(id).or_default()
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for c in &other.configs {
            insert_sorted(&mut self.configs, c.clone());
        }
        self.connection_tests.merge(&other.connection_tests);
        for (id, facts) in &other.iterations {
            self.iteration_mut(*id).merge(facts);
        }
        for r in &other.rejections {
            insert_sorted(&mut self.rejections, *r);
        }
    }

    /// The configuration in force at `stamp`: the latest at or before it, else the first.
    pub fn config_at(&self, stamp: Stamp) -> Option<&Config> {
        let before = self.configs.iter().rev().find(|(s, _)| *s <= stamp);
        before.or(self.configs.first()).map(|(_, c)| c)
    }
}
