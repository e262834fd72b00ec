//! The client findings: each way a client of the storage integration (a consumer of the
//! notification queue, and with its duties the one that configures projects or fetches
//! backups) departs from what the seed, the Storage REST reference and the Functions queue
//! trigger's conventions ask of it. [`ClientFindingCode::ALL`] with [`ClientFindingCode::info`]
//! is the catalogue, as data.

use crate::lifecycle::Severity;

/// What a client is responsible for beyond consuming the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Duties {
    /// It downloads the backup blob each `ExportCompleted` notification announces.
    pub fetch_backups: bool,
    /// It creates and configures the projects, trains and exports itself (the scenario does
    /// not play the service's customer).
    pub configure: bool,
}

/// A client finding's stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientFindingCode {
    /// A valid notification was delivered and never deleted.
    NotificationNotDeleted,
    /// A message was deleted without having been received (a peeked message, a guessed id).
    DeletedUnreceived,
    /// A message was deleted or updated with a pop receipt a later receive had replaced.
    StaleReceipt,
    /// A message was received again after its visibility timeout ran out, and acted on both
    /// times.
    ProcessedTwice,
    /// A malformed message was deleted without being moved to `<queue>-poison`: it is lost.
    MalformedLost,
    /// An empty queue was polled again and again without backing off.
    BusyPolling,
    /// A request was repeated before the `Retry-After` of its throttled answer had passed.
    RetryAfterIgnored,
    /// CreateProject, TrainProject or ExportIteration was repeated after an answer that did not
    /// say whether it took effect, without looking at the state first.
    UnsafeRepeat,
    /// An announced backup blob was never downloaded (duty `fetch-backups`).
    BackupNotFetched,
    /// A blob no notification announced was downloaded (a name made up instead of read from
    /// `modelUri`).
    UnannouncedBlobFetched,
    /// The storage URIs were sent on an API version that ignores them (before 3.3).
    StorageOptionsIgnored,
    /// The client exited with a failure status (or was killed by a signal) on its own.
    ClientFailed,
    /// The client could not be started.
    ClientUnstartable,
    /// The client had not done its work when the timeout came.
    ClientTimeout,
    /// The client exited on its own, with status 0, before its work was done (or having
    /// done nothing at all): work handed to a process in the background is not work done.
    ClientExitedEarly,
    /// The client's process ended and left processes of its own running.
    ClientLeftProcesses,
}

/// What a client finding means, and what it rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientFindingInfo {
    /// The stable code (kebab-case).
    pub code: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// The document it rests on.
    pub rests_on: &'static str,
    /// What it means.
    pub summary: &'static str,
}

const SEED: &str =
    "seed: Verify the connection and after (the notifications are the client's to consume)";
const REST_DELETE: &str = "Storage REST: Delete Message (a message not deleted comes back when its visibility timeout ends; the pop receipt of the latest Get Messages is required)";
const REST_VISIBILITY: &str = "Storage REST: Get Messages (visibilitytimeout; work outlasting it must extend it with Update Message)";
const FUNCTIONS_POISON: &str = "Functions queue trigger: poison messages (left for redelivery up to maxDequeueCount, then moved to <queue>-poison)";
const FUNCTIONS_POLLING: &str = "Functions queue trigger: polling algorithm (an idle queue is polled with a random exponential back-off)";
const RETRY_AFTER: &str = "Storage REST: server busy errors (429/503; a Retry-After, where the service sends one, says how long to wait; the data plane does not promise one)";
const TRAINING_API: &str = "Training API: CreateProject, TrainProject and ExportIteration are not idempotent (look before repeating)";
const SEED_BACKUP: &str = "seed: Get the backup model (modelUri names the backup blob)";
const SEED_VERSION: &str =
    "seed: Integrate Custom Vision project (the storage options are read from API version 3.3)";
const VERIFY: &str = "cvnotify verify: the client's own process";

impl ClientFindingCode {
    /// Every code, in catalogue order.
    pub const ALL: [Self; 16] = [
        Self::NotificationNotDeleted,
        Self::DeletedUnreceived,
        Self::StaleReceipt,
        Self::ProcessedTwice,
        Self::MalformedLost,
        Self::BusyPolling,
        Self::RetryAfterIgnored,
        Self::UnsafeRepeat,
        Self::BackupNotFetched,
        Self::UnannouncedBlobFetched,
        Self::StorageOptionsIgnored,
        Self::ClientFailed,
        Self::ClientUnstartable,
        Self::ClientTimeout,
        Self::ClientExitedEarly,
        Self::ClientLeftProcesses,
    ];

    /// The code as written.
    pub const fn as_str(self) -> &'static str {
        self.info().code
    }

    /// The code of `text`, if it is one.
    pub fn from_name(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// What the finding means.
    pub const fn info(self) -> ClientFindingInfo {
        let (code, severity, rests_on, summary) = match self {
            Self::NotificationNotDeleted => (
                "notification-not-deleted",
                Severity::Error,
                SEED,
                "a valid notification was delivered and never deleted: it comes back, and the work it asked for is not known to be done",
            ),
            Self::DeletedUnreceived => (
                "deleted-unreceived",
                Severity::Error,
                REST_DELETE,
                "a message was deleted without having been received (peeked, or an id made up)",
            ),
            Self::StaleReceipt => (
                "stale-receipt",
                Severity::Error,
                REST_DELETE,
                "a message was deleted or updated with a pop receipt that a later receive had replaced",
            ),
            Self::ProcessedTwice => (
                "processed-twice",
                Severity::Error,
                REST_VISIBILITY,
                "a message came back after its visibility timeout ran out and was acted on both times",
            ),
            Self::MalformedLost => (
                "malformed-lost",
                Severity::Error,
                FUNCTIONS_POISON,
                "a malformed message was deleted without being moved to <queue>-poison (as it was, base64 of it, or in a string field of a JSON object): it is lost",
            ),
            Self::BusyPolling => (
                "busy-polling",
                Severity::Warning,
                FUNCTIONS_POLLING,
                "an empty queue was polled more than 10 times in a row for each receiving loop, each within a second of the last, without backing off",
            ),
            Self::RetryAfterIgnored => (
                "retry-after-ignored",
                Severity::Warning,
                RETRY_AFTER,
                "a throttled request was repeated on the same connection before its answer's Retry-After had passed (retrying later is never a finding)",
            ),
            Self::UnsafeRepeat => (
                "unsafe-repeat",
                Severity::Error,
                TRAINING_API,
                "a call that is not idempotent was repeated after an answer that did not say whether it took effect, without looking first",
            ),
            Self::BackupNotFetched => (
                "backup-not-fetched",
                Severity::Error,
                SEED_BACKUP,
                "an announced backup blob was never downloaded (duty fetch-backups)",
            ),
            Self::UnannouncedBlobFetched => (
                "unannounced-blob-fetched",
                Severity::Error,
                SEED_BACKUP,
                "a blob no notification announced was downloaded: a name made up instead of read from modelUri",
            ),
            Self::StorageOptionsIgnored => (
                "storage-options-ignored",
                Severity::Error,
                SEED_VERSION,
                "the storage URIs were sent on an API version that ignores them (before 3.3)",
            ),
            Self::ClientFailed => (
                "client-failed",
                Severity::Error,
                VERIFY,
                "the client exited with a failure status, or was killed by a signal, on its own",
            ),
            Self::ClientUnstartable => (
                "client-unstartable",
                Severity::Error,
                VERIFY,
                "the client could not be started",
            ),
            Self::ClientTimeout => (
                "client-timeout",
                Severity::Error,
                VERIFY,
                "the client had not done its work when the timeout came",
            ),
            Self::ClientExitedEarly => (
                "client-exited-early",
                Severity::Error,
                VERIFY,
                "the client exited with status 0 before its work was done (work left to a process in the background is not done)",
            ),
            Self::ClientLeftProcesses => (
                "client-left-processes",
                Severity::Error,
                VERIFY,
                "the client's process ended on its own and left processes of its own running",
            ),
        };
        ClientFindingInfo {
            code,
            severity,
            rests_on,
            summary,
        }
    }
}
