//! Findings: each way observed traffic departs from the documented lifecycle, with a stable
//! code, a severity, the sentence of the seed it rests on, the sources it needs, and the inputs
//! that show it. [`FindingCode::ALL`] with [`FindingCode::info`] is the catalogue, as data.

use alloc::vec::Vec;
use core::fmt;

use super::input::Stamp;
use crate::blob::PlatformType;
use crate::id::{IterationId, ProjectId};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Unusual but possibly legitimate (the portal can start a training).
    Warning,
    /// The integration did not behave as documented.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// Which sources a run observes. A finding that needs an unobserved source is never raised: a
/// consumer that reads only the queue never sees API calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sources {
    /// The notification queue.
    pub queue: bool,
    /// The training API (the client's own calls and polls).
    pub training_api: bool,
    /// GetIteration and GetExports answers only, without the project's own calls (what
    /// `cvnotify watch --training-endpoint` sees). Implied by `training_api`.
    pub polling: bool,
    /// The backup container's listing.
    pub container: bool,
}

impl Sources {
    /// Everything observed.
    pub const ALL: Self = Self {
        queue: true,
        training_api: true,
        polling: true,
        container: true,
    };
    /// Only the queue.
    pub const QUEUE: Self = Self {
        queue: true,
        training_api: false,
        polling: false,
        container: false,
    };

    /// What both observe.
    pub const fn intersect(self, other: Self) -> Self {
        Self {
            queue: self.queue && other.queue,
            training_api: self.training_api && other.training_api,
            polling: (self.polling || self.training_api) && (other.polling || other.training_api),
            container: self.container && other.container,
        }
    }

    /// Whether every source in `needed` is observed.
    pub const fn covers(self, needed: Self) -> bool {
        (self.queue || !needed.queue)
            && (self.training_api || !needed.training_api)
            && (self.training_api || self.polling || !needed.polling)
            && (self.container || !needed.container)
    }
}

/// What a finding code means: its catalogue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FindingInfo {
    /// The stable code.
    pub code: &'static str,
    /// How bad.
    pub severity: Severity,
    /// The seed section (or reference) the expectation comes from.
    pub clause: &'static str,
    /// The sources without which it cannot be judged.
    pub needs: Sources,
    /// One sentence.
    pub summary: &'static str,
}

const Q: Sources = Sources {
    queue: true,
    training_api: false,
    polling: false,
    container: false,
};
const QA: Sources = Sources {
    queue: true,
    training_api: true,
    polling: false,
    container: false,
};
/// The queue and GetIteration/GetExports answers (polling, or the whole training API).
const QP: Sources = Sources {
    queue: true,
    training_api: false,
    polling: true,
    container: false,
};
const QC: Sources = Sources {
    queue: true,
    training_api: false,
    polling: false,
    container: true,
};
const A: Sources = Sources {
    queue: false,
    training_api: true,
    polling: false,
    container: false,
};

/// Every finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingCode {
    /// A project's first observed input is not its configuration.
    UnconfiguredProject,
    /// Configured with a queue, no `ConnectionTest` by the deadline.
    ///
    /// Time matters: only a connection test at or after the latest configuration counts, and
    /// the finding appears once the latest time seen passes the deadline.
    ConnectionTestMissing,
    /// The `ConnectionTest` came, but after the deadline.
    ConnectionTestLate,
    /// Another `ConnectionTest` message without a reconfiguration.
    ///
    /// Order matters, by `at`: a configuration between two tests makes the second expected.
    ConnectionTestRepeated,
    /// A `Training` notification for an iteration TrainProject never returned.
    TrainingNotRequested,
    /// TrainProject returned an iteration, no `Training` notification by the deadline.
    TrainingNotificationMissing,
    /// The `Training` notification came, but after the deadline.
    TrainingNotificationLate,
    /// Both `TrainingCompleted` and `TrainingFailed` for one iteration.
    TrainingStatusConflict,
    /// A `Training` notification contradicts GetIteration.
    TrainingContradictsPolling,
    /// An `Export` notification for an iteration with no earlier training completion.
    ///
    /// Order matters here, by `at` (not by arrival): a completion with a later `at` than the
    /// export does not excuse it.
    ExportOfUntrainedIteration,
    /// An `Export` notification contradicts GetExports for its platform.
    ExportContradictsPolling,
    /// `ExportCompleted` with a container configured, and no backup blob by the deadline.
    BackupBlobMissing,
    /// The backup blob appeared, but later than the deadline after `ExportCompleted`.
    BackupBlobLate,
    /// A backup blob with no `ExportCompleted` for its iteration by the deadline.
    BackupBlobUnannounced,
    /// The `ExportCompleted` came, but later than the deadline after its backup blob appeared.
    ExportNotificationLate,
    /// The `modelUri`'s backup blob name names other ids than the message.
    ModelUriNamesOtherIds,
    /// The `modelUri` is not in the configured container.
    ///
    /// Order matters, by `at`: the container is the one configured last before the notice.
    ModelUriOutsideContainer,
    /// The same notification arrived more than once (at-least-once delivery).
    DuplicateDelivery,
    /// The training API refused a call.
    ApiRejected,
}

impl FindingCode {
    /// Every code, in catalogue order.
    pub const ALL: [Self; 19] = [
        Self::UnconfiguredProject,
        Self::ConnectionTestMissing,
        Self::ConnectionTestLate,
        Self::ConnectionTestRepeated,
        Self::TrainingNotRequested,
        Self::TrainingNotificationMissing,
        Self::TrainingNotificationLate,
        Self::TrainingStatusConflict,
        Self::TrainingContradictsPolling,
        Self::ExportOfUntrainedIteration,
        Self::ExportContradictsPolling,
        Self::BackupBlobMissing,
        Self::BackupBlobLate,
        Self::BackupBlobUnannounced,
        Self::ExportNotificationLate,
        Self::ModelUriNamesOtherIds,
        Self::ModelUriOutsideContainer,
        Self::DuplicateDelivery,
        Self::ApiRejected,
    ];

    /// Whether the finding rests on a message *not* having come (or not before another): what
    /// a consumer that sees only its share of a queue (one of several competing consumers)
    /// cannot judge, since the message may have gone to another. Such findings wait for the
    /// merge of every consumer's recording.
    pub const fn needs_every_message(self) -> bool {
        matches!(
            self,
            Self::ConnectionTestMissing
                | Self::TrainingNotificationMissing
                | Self::ExportOfUntrainedIteration
                | Self::BackupBlobUnannounced
        )
    }

    /// The catalogue entry.
    pub const fn info(self) -> FindingInfo {
        use Severity::{Error, Info, Warning};
        let (code, severity, clause, needs, summary) = match self {
            Self::UnconfiguredProject => (
                "unconfigured-project",
                Error,
                "seed: Integrate Custom Vision project",
                A,
                "a project's first observed input is not CreateProject/UpdateProject with storage",
            ),
            Self::ConnectionTestMissing => (
                "connection-test-missing",
                Error,
                "seed: Verify the connection",
                QA,
                "configured with a queue, but no ConnectionTest notification by the deadline",
            ),
            Self::ConnectionTestLate => (
                "connection-test-late",
                Warning,
                "seed: Verify the connection",
                QA,
                "the ConnectionTest notification came, but after the deadline",
            ),
            Self::ConnectionTestRepeated => (
                "connection-test-repeated",
                Info,
                "seed: Verify the connection",
                QA,
                "another ConnectionTest message without a reconfiguration",
            ),
            Self::TrainingNotRequested => (
                "training-not-requested",
                Warning,
                "seed: Get event notifications",
                QA,
                "Training notification for an iteration TrainProject never returned (portal training?)",
            ),
            Self::TrainingNotificationMissing => (
                "training-notification-missing",
                Error,
                "seed: Get event notifications",
                QA,
                "TrainProject returned an iteration, but no Training notification by the deadline",
            ),
            Self::TrainingNotificationLate => (
                "training-notification-late",
                Warning,
                "seed: Get event notifications",
                QA,
                "the Training notification came, but after the deadline",
            ),
            Self::TrainingStatusConflict => (
                "training-status-conflict",
                Error,
                "seed: Get event notifications",
                Q,
                "both TrainingCompleted and TrainingFailed for one iteration",
            ),
            Self::TrainingContradictsPolling => (
                "training-contradicts-polling",
                Error,
                "seed: Get event notifications",
                QP,
                "the Training notification disagrees with GetIteration's status",
            ),
            Self::ExportOfUntrainedIteration => (
                "export-of-untrained-iteration",
                Error,
                "seed: Get model export backups",
                Q,
                "Export notification for an iteration with no earlier training completion",
            ),
            Self::ExportContradictsPolling => (
                "export-contradicts-polling",
                Error,
                "seed: Get model export backups",
                QP,
                "the Export notification disagrees with GetExports for its platform",
            ),
            Self::BackupBlobMissing => (
                "backup-blob-missing",
                Error,
                "seed: Get model export backups",
                QC,
                "ExportCompleted, but no backup blob {projectId} - {iterationId}.{platformType} by the deadline",
            ),
            Self::BackupBlobLate => (
                "backup-blob-late",
                Warning,
                "seed: Get model export backups",
                QC,
                "the backup blob appeared, but later than the deadline after ExportCompleted",
            ),
            Self::BackupBlobUnannounced => (
                "backup-blob-unannounced",
                Warning,
                "seed: Get model export backups",
                QC,
                "a backup blob appeared, but no ExportCompleted for its iteration by the deadline",
            ),
            Self::ExportNotificationLate => (
                "export-notification-late",
                Warning,
                "seed: Get model export backups",
                QC,
                "ExportCompleted came, but later than the deadline after its backup blob appeared",
            ),
            Self::ModelUriNamesOtherIds => (
                "model-uri-names-other-ids",
                Error,
                "seed: Get model export backups",
                Q,
                "the modelUri's backup blob name names another project or iteration than the message",
            ),
            Self::ModelUriOutsideContainer => (
                "model-uri-outside-container",
                Error,
                "seed: Get model export backups",
                QA,
                "the modelUri is not a blob in the configured container",
            ),
            Self::DuplicateDelivery => (
                "duplicate-delivery",
                Info,
                "docs/protocol.md §2: queues deliver at least once",
                Q,
                "the same notification arrived more than once",
            ),
            Self::ApiRejected => (
                "api-rejected",
                Info,
                "docs/protocol.md §1.4",
                A,
                "the training API refused a call",
            ),
        };
        FindingInfo {
            code,
            severity,
            clause,
            needs,
            summary,
        }
    }

    /// The stable code.
    pub const fn as_str(self) -> &'static str {
        self.info().code
    }

    /// The severity.
    pub const fn severity(self) -> Severity {
        self.info().severity
    }

    /// The code named `code`.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding about one project.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Finding {
    /// When the finding is first shown (its earliest evidence, or the deadline that expired).
    pub at: super::input::Timestamp,
    /// What.
    pub code: FindingCode,
    /// The project.
    pub project_id: ProjectId,
    /// The iteration, when it is about one.
    pub iteration_id: Option<IterationId>,
    /// The export platform, when it is about one.
    pub platform: Option<PlatformType>,
    /// The inputs that show it, in judging order.
    pub evidence: Vec<Stamp>,
}
