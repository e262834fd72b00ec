//! What a tracker remembers about each project: for everything that can be observed, when (and
//! by which input) it was first observed. Each field merges by a rule that is associative,
//! commutative and idempotent (the earlier stamp wins; sets unite), so the facts do not depend on
//! the order inputs arrive in, and two trackers that saw parts of a stream merge into the one
//! that saw it all.
//!
//! The layout is compact, because a tracker may follow many thousands of iterations: sets keep
//! their first one or two elements inline ([`Small1`], [`Small2`]), an iteration keeps one box
//! per kind of source, made when that source first says something about it (what the queue
//! said, [`IterationNotices`]; what only the training API or the container reports, with its
//! first two platforms inline, [`IterationExtra`]), and a model URI in the documented backup
//! form is kept as its container prefix (shared between all notices) and platform
//! ([`StoredUri::Backup`]), which rebuilds it exactly.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::input::{
    ContainerUri, Delivery, Evidence, ExportFlavor, ExportJobStatus, IterationStatus, MessageId,
    Operation, RejectionCode, Stamp, Timestamp,
};
use super::small::{Small1, Small2};
use crate::blob::{ExportPlatform, PlatformType};
use crate::id::{IterationId, ProjectId};
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
        set.reserve_exact(1);
        set.insert(at, item);
    }
}

/// One queue message, as often as it was handed out. 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Received {
    /// The message id, high and low halves (two `u64`s keep the record 8-aligned).
    id: [u64; 2],
    /// When it was first observed.
    at: Timestamp,
    /// By which input.
    evidence: Evidence,
    /// The dequeue counts seen: bit `n - 1` for count `n` (counts above 32 share bit 31).
    dequeues: u32,
}

impl Received {
    fn new(delivery: Delivery, stamp: Stamp) -> Self {
        let id = delivery.message_id.0;
        // Splitting a u128 into halves: the shifts and truncations are exact.
        let (hi, lo) = ((id >> 64) as u64, id as u64);
        let bit = 1u32 << delivery.dequeue_count.clamp(1, 32).saturating_sub(1);
        Self {
            id: [hi, lo],
            at: stamp.at,
            evidence: stamp.evidence,
            dequeues: bit,
        }
    }

    fn combine(&mut self, other: &Self) {
        if (other.at, other.evidence) < (self.at, self.evidence) {
            (self.at, self.evidence) = (other.at, other.evidence);
        }
        self.dequeues |= other.dequeues;
    }

    /// The message id.
    pub fn message_id(&self) -> MessageId {
        let [hi, lo] = self.id;
        MessageId(u128::from(hi) << 64 | u128::from(lo))
    }

    /// Its first observation.
    pub const fn first(&self) -> Stamp {
        Stamp {
            at: self.at,
            evidence: self.evidence,
        }
    }

    /// How many distinct handings-out of this message were observed.
    pub const fn times(&self) -> u32 {
        self.dequeues.count_ones()
    }
}

/// The messages that carried one notification, by message id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Deliveries(Small1<Received>);

impl Deliveries {
    pub(crate) fn add(&mut self, delivery: Delivery, stamp: Stamp) {
        self.0.upsert(
            Received::new(delivery, stamp),
            |a, b| a.id.cmp(&b.id),
            |a, b| a.combine(&b),
        );
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        self.0
            .merge_with(&other.0, |a, b| a.id.cmp(&b.id), Received::combine);
    }

    /// The messages, by id.
    pub fn messages(&self) -> &[Received] {
        self.0.as_slice()
    }

    /// Whether none was received.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first observation of any of the messages.
    pub fn first(&self) -> Option<Stamp> {
        self.messages().iter().map(Received::first).min()
    }

    /// Distinct handings-out observed, across all messages.
    pub fn times(&self) -> u32 {
        self.messages().iter().map(Received::times).sum()
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

/// The `Training` notifications of one iteration: by status, the messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TrainingNotices(Small1<(TrainingStatus, Received)>);

impl TrainingNotices {
    pub(crate) fn add(&mut self, status: TrainingStatus, delivery: Delivery, stamp: Stamp) {
        let item = (status, Received::new(delivery, stamp));
        self.0.upsert(
            item,
            |a, b| (a.0, a.1.id).cmp(&(b.0, b.1.id)),
            |a, b| a.1.combine(&b.1),
        );
    }

    fn merge(&mut self, other: &Self) {
        self.0.merge_with(
            &other.0,
            |a, b| (a.0, a.1.id).cmp(&(b.0, b.1.id)),
            |a, b| a.1.combine(&b.1),
        );
    }

    /// The messages with one status.
    pub fn of(&self, status: TrainingStatus) -> impl Iterator<Item = &Received> {
        self.0
            .as_slice()
            .iter()
            .filter(move |(s, _)| *s == status)
            .map(|(_, r)| r)
    }

    /// The first message with one status.
    pub fn first(&self, status: TrainingStatus) -> Option<Stamp> {
        self.of(status).map(Received::first).min()
    }

    /// Distinct handings-out with one status.
    pub fn times(&self, status: TrainingStatus) -> u32 {
        self.of(status).map(Received::times).sum()
    }
}

/// What was seen of one export platform of an iteration (API and container side).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlatformFacts {
    /// The platform (from the API, or from a backup blob's name).
    pub platform: PlatformType,
    /// ExportIteration accepted (the first time), with the flavor it asked for.
    pub requested: Option<(Stamp, Option<ExportFlavor>)>,
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

/// The last answer of [`StoredUri::in_container`] for a backup-form prefix: the prefix (the
/// very same shared text), the container, and the answer.
#[derive(Clone, Debug)]
pub(crate) struct ContainmentMemo {
    prefix: Arc<str>,
    container: ContainerUri,
    inside: bool,
}

/// A notice's `modelUri`, stored compactly where it can be rebuilt exactly.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoredUri {
    /// `{prefix}/{projectId}%20-%20{iterationId}.{platform}` with the notice's own ids, lower-case
    /// GUIDs, a known platform and nothing after: the documented backup form.
    Backup {
        /// Everything before the last `/` (shared by every notice of the container).
        prefix: Arc<str>,
        /// The platform of the blob name.
        platform: ExportPlatform,
    },
    /// Any other URI, kept whole.
    Other(Box<ModelUri>),
}

/// The last path segment of a backup in the documented form.
fn backup_segment(p: ProjectId, i: IterationId, platform: ExportPlatform) -> String {
    alloc::format!("{p}%20-%20{i}.{platform}")
}

/// The platform, when `segment` is exactly `{p}%20-%20{i}.{platform}` with lower-case GUIDs
/// and a known platform name. Compares in place, without allocating.
fn canonical_backup_platform(
    segment: &str,
    p: ProjectId,
    i: IterationId,
) -> Option<ExportPlatform> {
    const GUID: usize = uuid::fmt::Hyphenated::LENGTH;
    const SEPARATOR: &[u8] = b"%20-%20";
    // `{p}%20-%20{i}.` written once into one buffer, compared in one go.
    let mut expected = [0u8; 2 * GUID + SEPARATOR.len() + 1];
    let (head, tail) = expected.split_at_mut(GUID);
    p.as_uuid().hyphenated().encode_lower(head);
    let (middle, tail) = tail.split_at_mut(SEPARATOR.len());
    middle.copy_from_slice(SEPARATOR);
    let (last, dot) = tail.split_at_mut(GUID);
    i.as_uuid().hyphenated().encode_lower(last);
    dot.fill(b'.');
    if !segment.as_bytes().starts_with(&expected) {
        return None;
    }
    ExportPlatform::from_name(segment.get(expected.len()..)?)
}

impl StoredUri {
    /// Stores `uri` of a notice about `p`/`i`, sharing the prefix through `pool`.
    pub(crate) fn new(
        uri: ModelUri,
        p: ProjectId,
        i: IterationId,
        pool: &mut BTreeSet<Arc<str>>,
    ) -> Self {
        let text = uri.expose_secret();
        // The backup form also needs the segment to be the end of the path (no query or
        // fragment after it, and its `/` not the authority's): then the URI's host, port and
        // the path before the segment are the prefix's, whatever the ids ([`Self::in_container`]).
        // The last `/` is found by memchr, not core's byte loop: this runs for every Export.
        let slash = memchr::memrchr(b'/', text.as_bytes());
        if let Some((prefix, segment)) =
            slash.and_then(|at| Some((text.get(..at)?, text.get(at + 1..)?)))
            && !uri.has_query_or_fragment()
            && uri.path().len() > segment.len()
            && let Some(platform) = canonical_backup_platform(segment, p, i)
        {
            let prefix = match pool.get(prefix) {
                Some(shared) => Arc::clone(shared),
                None => {
                    let shared: Arc<str> = Arc::from(prefix);
                    pool.insert(Arc::clone(&shared));
                    shared
                }
            };
            return Self::Backup { prefix, platform };
        }
        Self::Other(Box::new(uri))
    }

    /// The URI, rebuilt (exactly as received).
    pub fn model_uri(&self, p: ProjectId, i: IterationId) -> Option<ModelUri> {
        match self {
            Self::Backup { prefix, platform } => ModelUri::parse(&alloc::format!(
                "{prefix}/{}",
                backup_segment(p, i, *platform)
            ))
            .ok(),
            Self::Other(uri) => Some((**uri).clone()),
        }
    }

    /// Whether the URI names a blob directly inside `container` ([`ContainerUri::contains`]).
    /// For the backup form, the answer depends only on the prefix (the segment is the end of
    /// the path and holds no delimiter): it is worked out once, on the prefix with a stand-in
    /// segment, and kept in `memo` for the next notice of the same prefix and container.
    pub(crate) fn in_container(
        &self,
        p: ProjectId,
        i: IterationId,
        container: &ContainerUri,
        memo: &mut Option<ContainmentMemo>,
    ) -> bool {
        let prefix = match self {
            Self::Other(uri) => return container.contains(uri),
            Self::Backup { prefix, .. } => prefix,
        };
        if let Some(m) = memo
            && Arc::ptr_eq(&m.prefix, prefix)
            && m.container == *container
        {
            return m.inside;
        }
        let inside = ModelUri::parse(&alloc::format!("{prefix}/x")).map_or_else(
            |_| self.model_uri(p, i).is_some_and(|u| container.contains(&u)),
            |u| container.contains(&u),
        );
        *memo = Some(ContainmentMemo {
            prefix: Arc::clone(prefix),
            container: container.clone(),
            inside,
        });
        inside
    }

    /// The platform named by the backup blob name in the URI, when it has one.
    pub fn platform(&self) -> Option<PlatformType> {
        match self {
            Self::Backup { platform, .. } => Some(PlatformType::Known(*platform)),
            Self::Other(uri) => match uri.backup_blob_name() {
                Some(Ok(name)) => Some(name.platform().clone()),
                _ => None,
            },
        }
    }
}

/// One `Export` notification content (status and model URI) and the messages that carried it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportNotice {
    /// `exportStatus`.
    pub status: ExportStatus,
    /// `modelUri`.
    pub uri: Option<StoredUri>,
    /// The messages.
    pub deliveries: Deliveries,
}

impl ExportNotice {
    /// The platform named by the model URI's backup blob name, when it has one.
    pub fn platform(&self) -> Option<PlatformType> {
        self.uri.as_ref().and_then(StoredUri::platform)
    }

    fn key(&self) -> (ExportStatus, Option<&StoredUri>) {
        (self.status, self.uri.as_ref())
    }
}

/// What only the training API or the container reports about an iteration (boxed: a
/// queue-only consumer never pays for it). Its first two platforms are kept inline: an
/// iteration is exported to one or two, and this saves their own allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IterationExtra {
    /// TrainProject returned it.
    pub requested: Option<Stamp>,
    /// GetIteration statuses.
    pub polled: IterationPolls,
    /// Per platform, sorted by platform.
    platforms: Small2<PlatformFacts>,
}

impl IterationExtra {
    fn merge(&mut self, other: &Self) {
        keep_first(&mut self.requested, other.requested.as_ref());
        self.polled.merge(&other.polled);
        self.platforms.merge_with(
            &other.platforms,
            |a, b| a.platform.cmp(&b.platform),
            PlatformFacts::merge,
        );
    }

    /// Per platform, sorted by platform.
    pub fn platforms(&self) -> &[PlatformFacts] {
        self.platforms.as_slice()
    }

    pub(crate) fn platform_mut(&mut self, platform: PlatformType) -> Option<&mut PlatformFacts> {
        self.platforms.get_or_insert_with(
            |p| p.platform.cmp(&platform),
            || PlatformFacts::new(platform.clone()),
        )
    }
}

/// What the queue said about an iteration (boxed: a view without the queue never pays for it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IterationNotices {
    /// `Training` notifications.
    pub training: TrainingNotices,
    /// `Export` notifications, sorted by (status, model URI).
    pub exports: Small2<ExportNotice>,
}

impl IterationNotices {
    fn merge(&mut self, other: &Self) {
        self.training.merge(&other.training);
        self.exports.merge_with(
            &other.exports,
            |a, b| a.key().cmp(&b.key()),
            |a, b| {
                a.deliveries.merge(&b.deliveries);
            },
        );
    }
}

/// No `Training` notification (what an iteration without queue facts answers).
static NO_TRAINING_NOTICES: TrainingNotices = TrainingNotices(Small1::Empty);

/// What was seen of one iteration: one box per kind of source, each made when its first fact
/// arrives, so an iteration costs only what its sources said (32 bytes with its id when the
/// view has neither). Never holds an empty box: equality compares contents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IterationFacts {
    /// Queue facts.
    notified: Option<Box<IterationNotices>>,
    /// API and container facts.
    extra: Option<Box<IterationExtra>>,
}

impl IterationFacts {
    pub(crate) fn extra_mut(&mut self) -> &mut IterationExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    fn notified_mut(&mut self) -> &mut IterationNotices {
        self.notified.get_or_insert_with(Box::default)
    }

    /// `Training` notifications.
    pub fn training(&self) -> &TrainingNotices {
        self.notified
            .as_ref()
            .map_or(&NO_TRAINING_NOTICES, |n| &n.training)
    }

    /// `Export` notifications, sorted by (status, model URI).
    pub fn notices(&self) -> &[ExportNotice] {
        self.notified.as_ref().map_or(&[], |n| n.exports.as_slice())
    }

    pub(crate) fn add_training(
        &mut self,
        status: TrainingStatus,
        delivery: Delivery,
        stamp: Stamp,
    ) {
        self.notified_mut().training.add(status, delivery, stamp);
    }

    /// TrainProject returned it.
    pub fn requested(&self) -> Option<Stamp> {
        self.extra.as_ref().and_then(|e| e.requested)
    }

    /// GetIteration statuses.
    pub fn polled(&self) -> IterationPolls {
        self.extra.as_ref().map(|e| e.polled).unwrap_or_default()
    }

    /// Per platform, sorted by platform.
    pub fn platforms(&self) -> &[PlatformFacts] {
        self.extra.as_ref().map_or(&[], |e| e.platforms())
    }

    /// The facts of one platform.
    pub fn platform(&self, platform: &PlatformType) -> Option<&PlatformFacts> {
        self.platforms().iter().find(|p| p.platform == *platform)
    }

    pub(crate) fn add_notice(
        &mut self,
        status: ExportStatus,
        uri: Option<StoredUri>,
        delivery: Delivery,
        stamp: Stamp,
    ) {
        let mut deliveries = Deliveries::default();
        deliveries.add(delivery, stamp);
        let notice = ExportNotice {
            status,
            uri,
            deliveries,
        };
        self.notified_mut().exports.upsert(
            notice,
            |a, b| a.key().cmp(&b.key()),
            |a, b| a.deliveries.merge(&b.deliveries),
        );
    }

    /// The earliest evidence that training completed: a `TrainingCompleted` notification or
    /// GetIteration `Completed`.
    pub fn completed_at(&self) -> Option<Stamp> {
        let notified = self.training().first(TrainingStatus::TrainingCompleted);
        match (notified, self.polled().completed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn merge(&mut self, other: &Self) {
        if let Some(notified) = &other.notified {
            self.notified_mut().merge(notified);
        }
        if let Some(extra) = &other.extra {
            self.extra_mut().merge(extra);
        }
    }
}

/// What was seen of one project.
#[derive(Clone, Debug, Default)]
pub struct ProjectFacts {
    /// Storage configurations, sorted.
    pub configs: Vec<(Stamp, Config)>,
    /// `ConnectionTest` notifications.
    pub connection_tests: Deliveries,
    /// Iterations, sorted by id (an ordered map without per-node overhead).
    pub iterations: Vec<(IterationId, IterationFacts)>,
    /// Refused API calls, sorted.
    pub rejections: Vec<(Stamp, Operation, RejectionCode)>,
    /// The index of the iteration touched last: notifications mostly concern the newest
    /// iteration, and finding it without a search saves cache misses. Not part of the facts
    /// (equality and hashing ignore it).
    recent: usize,
}

impl PartialEq for ProjectFacts {
    fn eq(&self, other: &Self) -> bool {
        self.configs == other.configs
            && self.connection_tests == other.connection_tests
            && self.iterations == other.iterations
            && self.rejections == other.rejections
    }
}

impl Eq for ProjectFacts {}

impl core::hash::Hash for ProjectFacts {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.configs.hash(state);
        self.connection_tests.hash(state);
        self.iterations.hash(state);
        self.rejections.hash(state);
    }
}

impl ProjectFacts {
    pub(crate) fn iteration_mut(&mut self, id: IterationId) -> Option<&mut IterationFacts> {
        if self
            .iterations
            .get(self.recent)
            .is_some_and(|(i, _)| *i == id)
        {
            return self.iterations.get_mut(self.recent).map(|(_, facts)| facts);
        }
        let at = match self.iterations.binary_search_by(|(i, _)| i.cmp(&id)) {
            Ok(at) => at,
            Err(at) => {
                // Growth by an eighth: a project has tens of iterations, and doubling would
                // leave up to half the memory empty; growing by one would copy them all each time.
                if self.iterations.len() == self.iterations.capacity() {
                    self.iterations
                        .reserve_exact((self.iterations.len() / 8).max(1));
                }
                self.iterations.insert(at, (id, IterationFacts::default()));
                at
            }
        };
        self.recent = at;
        self.iterations.get_mut(at).map(|(_, facts)| facts)
    }

    /// One iteration's facts.
    pub fn iteration(&self, id: IterationId) -> Option<&IterationFacts> {
        self.iterations
            .binary_search_by(|(i, _)| i.cmp(&id))
            .ok()
            .and_then(|at| self.iterations.get(at))
            .map(|(_, f)| f)
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for c in &other.configs {
            insert_sorted(&mut self.configs, c.clone());
        }
        self.connection_tests.merge(&other.connection_tests);
        for (id, facts) in &other.iterations {
            if let Some(mine) = self.iteration_mut(*id) {
                mine.merge(facts);
            }
        }
        for r in &other.rejections {
            insert_sorted(&mut self.rejections, *r);
        }
    }

    /// The configuration in force at `stamp`: the latest at or before its time (configurations
    /// at the same instant are ordered by their content, never by evidence), else the first.
    pub fn config_at(&self, stamp: Stamp) -> Option<&Config> {
        let before = self
            .configs
            .iter()
            .filter(|(s, _)| s.at <= stamp.at)
            .max_by(|(a, x), (b, y)| (a.at, x).cmp(&(b.at, y)));
        before
            .or_else(|| {
                self.configs
                    .iter()
                    .min_by(|(a, x), (b, y)| (a.at, x).cmp(&(b.at, y)))
            })
            .map(|(_, c)| c)
    }

    /// The latest configuration with a queue, by time (then content, never evidence).
    pub fn latest_queue_config(&self) -> Option<&(Stamp, Config)> {
        self.configs
            .iter()
            .filter(|(_, c)| c.queue)
            .max_by(|(a, x), (b, y)| (a.at, x).cmp(&(b.at, y)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo's answer for a backup-form URI is the full rebuild's, for URIs whose segment is
    /// or is not the end of the path, containers whose path is shorter, equal, longer or
    /// reaches into the segment, and with the memo kept from one container to the next.
    #[test]
    fn in_container_answers_as_the_rebuilt_uri_does() {
        let p = ProjectId::from_bytes(0x1111_2222_3333_4444_5555_6666_7777_8888_u128.to_be_bytes());
        let i =
            IterationId::from_bytes(0xaaaa_bbbb_cccc_dddd_eeee_ffff_0000_1111_u128.to_be_bytes());
        let segment = alloc::format!("{p}%20-%20{i}.{}", ExportPlatform::Onnx);
        let uris = [
            "https://acct.blob.core.windows.net/backups",
            "https://acct.blob.core.windows.net/backups/sub",
            "https://ACCT.blob.core.windows.net:443/backups",
            "http://127.0.0.1:10000/devstoreaccount1/backups",
            "https://acct.blob.core.windows.net",
            "https://acct.blob.core.windows.net/backups?sv=1&x=",
            "https://acct.blob.core.windows.net/backups#f",
            "https:/",
        ];
        let mut prefix_of_segment = String::from("https://acct.blob.core.windows.net/backups/");
        prefix_of_segment.push_str(&segment[..8]);
        let containers = [
            "https://acct.blob.core.windows.net/backups",
            "https://acct.blob.core.windows.net/backups/",
            "https://acct.blob.core.windows.net/back",
            "https://acct.blob.core.windows.net/backups/sub",
            "https://acct.blob.core.windows.net/",
            "https://acct.blob.core.windows.net:443/backups",
            "http://127.0.0.1:10000/devstoreaccount1/backups",
            "https://other.blob.core.windows.net/backups",
            prefix_of_segment.as_str(),
        ];
        let mut pool = BTreeSet::new();
        let mut backups = 0;
        for base in uris {
            let Ok(uri) = ModelUri::parse(&alloc::format!("{base}/{segment}")) else {
                continue;
            };
            let stored = StoredUri::new(uri.clone(), p, i, &mut pool);
            backups += usize::from(matches!(stored, StoredUri::Backup { .. }));
            assert_eq!(stored.model_uri(p, i).as_ref(), Some(&uri), "{base}");
            let mut memo = None;
            for _ in 0..2 {
                for text in containers {
                    let container = ContainerUri::parse(text).expect(text);
                    assert_eq!(
                        stored.in_container(p, i, &container, &mut memo),
                        container.contains(&uri),
                        "{base}/{{segment}} in {text}"
                    );
                }
            }
        }
        // The first five are the backup form; a query, a fragment or no path are kept whole.
        assert_eq!(backups, 5);
    }
}
