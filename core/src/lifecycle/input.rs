//! What the lifecycle model is fed: an [`Input`] is one observed [`Event`] with the time it
//! happened (`at`, given by the caller: a queue insertion time, an HTTP response time) and an
//! [`Evidence`] reference the caller can resolve (a recording line number, an input index).

use core::fmt;
use core::num::NonZeroU32;

use fluent_uri::Uri;

use crate::blob::{BlobKind, ExportPlatform, classify_blob};
use crate::id::{IterationId, ProjectId};
use crate::model_uri::ModelUriError;
use crate::notification::Notification;

/// A point in time: milliseconds since the Unix epoch, UTC. The core never reads a clock.
///
/// Aligned to 4 bytes (`packed(4)`), so that a [`Stamp`] (a time and a 4-byte evidence number)
/// takes 12 bytes rather than 16: the tracker keeps several per iteration. The field is read
/// by value (`t.0`), never borrowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(C, packed(4))]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The milliseconds since the epoch (by value: the field of a packed struct cannot be
    /// borrowed, as `assert_eq!(t.0, ..)` would).
    pub const fn millis(self) -> u64 {
        self.0
    }

    /// `self + millis`, saturating.
    pub const fn plus_millis(self, millis: u64) -> Self {
        Self(self.0.saturating_add(millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0;
        write!(f, "t={millis}ms")
    }
}

/// The caller's reference for an input (1-based: a recording's line number, an input index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Evidence(pub NonZeroU32);

impl Evidence {
    /// Evidence number `n`, or `None` for 0.
    pub const fn new(n: u32) -> Option<Self> {
        match NonZeroU32::new(n) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// When and by which input something was first seen. Ordered by time, then evidence, which is
/// the order the lifecycle is judged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// When.
    pub at: Timestamp,
    /// Which input.
    pub evidence: Evidence,
}

/// A queue message id. Azure's are GUIDs and are kept as their 128 bits; any other text is
/// reduced to a 128-bit FNV-1a hash, deterministic and with a negligible chance of collision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u128);

impl MessageId {
    /// From the queue's `MessageId` text.
    pub fn from_text(text: &str) -> Self {
        if let Ok(uuid) = uuid::Uuid::try_parse(text) {
            return Self(uuid.as_u128());
        }
        const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
        const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
        Self(
            text.bytes()
                .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME)),
        )
    }
}

/// The queue envelope facts of one received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Delivery {
    /// The message id.
    pub message_id: MessageId,
    /// How many times the queue has handed the message out, this time included.
    pub dequeue_count: u32,
}

/// `GetIteration`'s `status` (docs/protocol.md §1.3: no enum in the spec; these are the values seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IterationStatus {
    /// `Training`.
    Training,
    /// `Completed`.
    Completed,
    /// `Failed`.
    Failed,
}

/// `GetExports`' `status` for one platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExportJobStatus {
    /// `Exporting`.
    Exporting,
    /// `Done`.
    Done,
    /// `Failed`.
    Failed,
}

/// ExportIteration's `flavor` (docs/protocol.md §1.3: DockerFile takes Linux, Windows or ARM;
/// TensorFlow takes TensorFlowNormal or TensorFlowLite; ONNX takes ONNX10 or ONNX12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExportFlavor {
    /// `Linux`.
    Linux,
    /// `Windows`.
    Windows,
    /// `ONNX10`.
    Onnx10,
    /// `ONNX12`.
    Onnx12,
    /// `ARM`.
    Arm,
    /// `TensorFlowNormal`.
    TensorFlowNormal,
    /// `TensorFlowLite`.
    TensorFlowLite,
}

impl ExportFlavor {
    /// Every flavor.
    pub const ALL: [Self; 7] = [
        Self::Linux,
        Self::Windows,
        Self::Onnx10,
        Self::Onnx12,
        Self::Arm,
        Self::TensorFlowNormal,
        Self::TensorFlowLite,
    ];

    /// The name as the API writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "Linux",
            Self::Windows => "Windows",
            Self::Onnx10 => "ONNX10",
            Self::Onnx12 => "ONNX12",
            Self::Arm => "ARM",
            Self::TensorFlowNormal => "TensorFlowNormal",
            Self::TensorFlowLite => "TensorFlowLite",
        }
    }

    /// The flavor with exactly this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The platform the flavor belongs to.
    pub const fn platform(self) -> ExportPlatform {
        match self {
            Self::Linux | Self::Windows | Self::Arm => ExportPlatform::DockerFile,
            Self::Onnx10 | Self::Onnx12 => ExportPlatform::Onnx,
            Self::TensorFlowNormal | Self::TensorFlowLite => ExportPlatform::TensorFlow,
        }
    }
}

/// A training API operation, for [`Event::ApiRejected`] (and, by its variant name, the
/// `operation` of a recording's `api` line).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Operation {
    /// CreateProject.
    CreateProject,
    /// UpdateProject.
    UpdateProject,
    /// TrainProject.
    TrainProject,
    /// ExportIteration.
    ExportIteration,
    /// GetIteration.
    GetIteration,
    /// GetExports.
    GetExports,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Self; 6] = [
        Self::CreateProject,
        Self::UpdateProject,
        Self::TrainProject,
        Self::ExportIteration,
        Self::GetIteration,
        Self::GetExports,
    ];

    /// The name as the API reference writes it (and a recording's `operation`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreateProject => "CreateProject",
            Self::UpdateProject => "UpdateProject",
            Self::TrainProject => "TrainProject",
            Self::ExportIteration => "ExportIteration",
            Self::GetIteration => "GetIteration",
            Self::GetExports => "GetExports",
        }
    }
}

/// The `CustomVisionError` codes the model gives a meaning to; every other code is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectionCode {
    /// `BadRequestExportAlreadyInProgress`: documented behaviour of a second export request.
    ExportAlreadyInProgress,
    /// `BadRequestTrainingNotNeeded`.
    TrainingNotNeeded,
    /// `BadRequestIterationIsNotTrained`.
    IterationIsNotTrained,
    /// `NotFoundProject` or `NotFoundIteration`.
    NotFound,
    /// Any other code.
    Other,
}

/// A backup container, as configured with `exportModelContainerUri`: where backups must be.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerUri {
    /// Lower-cased host.
    host: alloc::string::String,
    /// The port, when written.
    port: Option<u16>,
    /// The path, without a trailing `/` (`/backups`, `/devstoreaccount1/backups`).
    path: alloc::string::String,
}

impl ContainerUri {
    /// Parses the container URL (a query, such as a SAS, is ignored and not kept).
    pub fn parse(text: &str) -> Result<Self, ModelUriError> {
        let model = crate::ModelUri::parse(text)?;
        let uri = Uri::parse(model.expose_secret())
            .map_err(|e| ModelUriError::Syntax { index: e.index() })?;
        let auth = uri.authority().ok_or(ModelUriError::MissingHost)?;
        let port = auth.port_to_u16().map_err(|_| ModelUriError::MissingHost)?;
        let path = uri.path().as_str().trim_end_matches('/');
        Ok(Self {
            host: auth.host().to_ascii_lowercase(),
            port,
            path: alloc::string::String::from(path),
        })
    }

    /// Whether `uri` names a blob directly inside this container (same host and port, path
    /// `{container path}/{blob name}`).
    pub fn contains(&self, uri: &crate::ModelUri) -> bool {
        let port = uri.port().and_then(|p| p.parse::<u16>().ok());
        uri.host().eq_ignore_ascii_case(&self.host)
            && port == self.port
            && uri
                .path()
                .strip_prefix(self.path.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|blob| !blob.is_empty())
    }
}

impl fmt::Display for ContainerUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.path)
    }
}

/// One thing observed about the integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A notification read from the queue.
    Notification {
        /// What it says.
        notification: Notification,
        /// Its queue envelope.
        delivery: Delivery,
    },
    /// CreateProject or UpdateProject succeeded with storage settings.
    Configured {
        /// The project.
        project_id: ProjectId,
        /// A notification queue was set.
        queue: bool,
        /// The backup container, when one was set.
        container: Option<ContainerUri>,
    },
    /// TrainProject returned this iteration.
    TrainingRequested {
        /// The project.
        project_id: ProjectId,
        /// The iteration the call returned.
        iteration_id: IterationId,
    },
    /// ExportIteration was accepted.
    ExportRequested {
        /// The project.
        project_id: ProjectId,
        /// The iteration.
        iteration_id: IterationId,
        /// The platform asked for.
        platform: ExportPlatform,
        /// The flavor asked for, if any.
        flavor: Option<ExportFlavor>,
    },
    /// GetIteration answered.
    IterationPolled {
        /// The project.
        project_id: ProjectId,
        /// The iteration.
        iteration_id: IterationId,
        /// Its status.
        status: IterationStatus,
    },
    /// GetExports listed this platform.
    ExportPolled {
        /// The project.
        project_id: ProjectId,
        /// The iteration.
        iteration_id: IterationId,
        /// The platform.
        platform: ExportPlatform,
        /// Its status.
        status: ExportJobStatus,
    },
    /// A training API call was refused with a CustomVisionError.
    ApiRejected {
        /// The project.
        project_id: ProjectId,
        /// The call.
        operation: Operation,
        /// The code, as the model reads it.
        code: RejectionCode,
    },
    /// A blob was listed in the backup container for the first time.
    BlobCreated {
        /// Its name in the container.
        name: alloc::string::String,
        /// Its size in bytes.
        size: u64,
    },
    /// A blob previously listed is gone.
    BlobDeleted {
        /// Its name in the container.
        name: alloc::string::String,
    },
    /// Time passed; deadlines up to `at` may expire.
    Tick,
}

impl Event {
    /// The project whose facts the event adds to, when it has one: a notification's project,
    /// an API call's, a backup blob's (by its name). Ticks, unrecognized notifications and
    /// blobs that are not backups add to no project's facts.
    pub fn project_id(&self) -> Option<ProjectId> {
        match self {
            Self::Notification { notification, .. } => notification.project_id(),
            Self::Configured { project_id, .. }
            | Self::TrainingRequested { project_id, .. }
            | Self::ExportRequested { project_id, .. }
            | Self::IterationPolled { project_id, .. }
            | Self::ExportPolled { project_id, .. }
            | Self::ApiRejected { project_id, .. } => Some(*project_id),
            Self::BlobCreated { name, .. } | Self::BlobDeleted { name } => {
                match classify_blob(name) {
                    BlobKind::Backup(b) => Some(b.project_id()),
                    _ => None,
                }
            }
            Self::Tick => None,
        }
    }
}

/// One observed event, when it happened, and the caller's reference for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// When it happened.
    pub at: Timestamp,
    /// The caller's reference.
    pub evidence: Evidence,
    /// What happened.
    pub event: Event,
}

impl Input {
    /// The stamp of this input.
    pub const fn stamp(&self) -> Stamp {
        Stamp {
            at: self.at,
            evidence: self.evidence,
        }
    }
}
