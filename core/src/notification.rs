//! [`Notification`]: a queue message read into the domain's terms, and its canonical wire form
//! (seed, "Verify the connection", "Get event notifications", "Get model export backups").

use alloc::string::String;
use core::fmt;

use serde::Serialize;

use crate::id::{IterationId, ProjectId};
use crate::model_uri::ModelUri;

/// The documented envelope version.
pub const DOCUMENTED_VERSION: &str = "1.0";

/// `Content.trainingStatus` of a `Training` notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TrainingStatus {
    /// `TrainingCompleted`.
    TrainingCompleted,
    /// `TrainingFailed`.
    TrainingFailed,
}

impl TrainingStatus {
    /// Every documented value.
    pub const ALL: [Self; 2] = [Self::TrainingCompleted, Self::TrainingFailed];

    /// The documented spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TrainingCompleted => "TrainingCompleted",
            Self::TrainingFailed => "TrainingFailed",
        }
    }
}

/// `Content.exportStatus` of an `Export` notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ExportStatus {
    /// `ExportCompleted`.
    ExportCompleted,
    /// `ExportFailed`.
    ExportFailed,
}

impl ExportStatus {
    /// Every documented value.
    pub const ALL: [Self; 2] = [Self::ExportCompleted, Self::ExportFailed];

    /// The documented spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ExportCompleted => "ExportCompleted",
            Self::ExportFailed => "ExportFailed",
        }
    }
}

/// The three documented `type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationKind {
    /// `ConnectionTest`: storage was configured on the project.
    ConnectionTest,
    /// `Training`: a training run ended.
    Training,
    /// `Export`: an export ended.
    Export,
}

impl NotificationKind {
    /// Every documented kind.
    pub const ALL: [Self; 3] = [Self::ConnectionTest, Self::Training, Self::Export];

    /// The documented `type` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionTest => "ConnectionTest",
            Self::Training => "Training",
            Self::Export => "Export",
        }
    }
}

/// Longest version accepted: `1.` and nine digits.
const VERSION_MAX: usize = 11;

/// The version string of a message: `"1.0"` or another `"1.<digits>"` (1 to 9 digits). Kept
/// inline, without allocation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    bytes: [u8; VERSION_MAX],
    len: u8,
}

impl Version {
    /// The documented `"1.0"`.
    pub const fn documented() -> Self {
        Self {
            bytes: *b"1.0\0\0\0\0\0\0\0\0",
            len: 3,
        }
    }

    /// Accepts `1.` followed by 1 to 9 ASCII digits.
    pub fn parse(text: &str) -> Option<Self> {
        let minor = text.strip_prefix("1.")?;
        if minor.is_empty()
            || text.len() > VERSION_MAX
            || !minor.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut bytes = [0; VERSION_MAX];
        bytes
            .get_mut(..text.len())?
            .copy_from_slice(text.as_bytes());
        Some(Self {
            bytes,
            len: u8::try_from(text.len()).ok()?,
        })
    }

    /// Whether this is the documented `"1.0"`.
    pub fn is_documented(&self) -> bool {
        *self == Self::documented()
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and '.' are ever stored, so this never falls back.
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or(DOCUMENTED_VERSION)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", self.as_str())
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One notification from the queue.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Notification {
    /// Storage was configured on a project (CreateProject or UpdateProject with the URIs).
    ConnectionTest {
        /// `Content.projectId`.
        project_id: ProjectId,
    },
    /// A training run ended.
    Training {
        /// `Content.projectId`.
        project_id: ProjectId,
        /// `Content.iterationId`: the trained model.
        iteration_id: IterationId,
        /// `Content.trainingStatus`.
        status: TrainingStatus,
    },
    /// An export ended.
    Export {
        /// `Content.projectId`.
        project_id: ProjectId,
        /// `Content.iterationId`.
        iteration_id: IterationId,
        /// `Content.exportStatus`.
        status: ExportStatus,
        /// `Content.modelUri`: always present when the export completed; may be absent or null
        /// when it failed.
        model_uri: Option<ModelUri>,
    },
    /// A `type` the documentation does not have. Its `Content` is not interpreted; whoever
    /// received the message keeps its raw text (the recording format does).
    Unrecognized {
        /// The `type` value as written.
        kind: String,
    },
}

/// Whether a serialised form may contain the SAS signature of a `modelUri`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrets {
    /// Replace secrets with `REDACTED` (reports, logs, anything a person reads).
    Redact,
    /// Keep the text exact (storage, round trips).
    Expose,
}

impl Notification {
    /// The documented kind, `None` for [`Notification::Unrecognized`].
    pub const fn kind(&self) -> Option<NotificationKind> {
        match self {
            Self::ConnectionTest { .. } => Some(NotificationKind::ConnectionTest),
            Self::Training { .. } => Some(NotificationKind::Training),
            Self::Export { .. } => Some(NotificationKind::Export),
            Self::Unrecognized { .. } => None,
        }
    }

    /// The `type` value.
    pub fn type_name(&self) -> &str {
        match (self.kind(), self) {
            (Some(kind), _) => kind.as_str(),
            (None, Self::Unrecognized { kind }) => kind,
            (None, _) => "",
        }
    }

    /// The project the notification is about.
    pub const fn project_id(&self) -> Option<ProjectId> {
        match self {
            Self::ConnectionTest { project_id }
            | Self::Training { project_id, .. }
            | Self::Export { project_id, .. } => Some(*project_id),
            Self::Unrecognized { .. } => None,
        }
    }

    /// The iteration the notification is about.
    pub const fn iteration_id(&self) -> Option<IterationId> {
        match self {
            Self::Training { iteration_id, .. } | Self::Export { iteration_id, .. } => {
                Some(*iteration_id)
            }
            Self::ConnectionTest { .. } | Self::Unrecognized { .. } => None,
        }
    }

    /// The documented status value (`TrainingCompleted`, `ExportFailed`, ...), for the kinds
    /// that have one.
    pub const fn status_name(&self) -> Option<&'static str> {
        match self {
            Self::Training { status, .. } => Some(status.as_str()),
            Self::Export { status, .. } => Some(status.as_str()),
            Self::ConnectionTest { .. } | Self::Unrecognized { .. } => None,
        }
    }

    /// The documented wire shape as a serialisable value: `{"version":"1.0","type":..,"Content":{..}}`
    /// with lower-case GUIDs. With [`Secrets::Redact`] the `modelUri` signature is replaced.
    pub fn wire(&self, secrets: Secrets) -> WireMessage<'_> {
        WireMessage {
            notification: self,
            secrets,
        }
    }

    /// The canonical JSON text, exact (`modelUri` included verbatim, SAS signature and all):
    /// parsing it gives this value back. Not for logs; see [`Notification::wire`].
    pub fn canonical_json(&self) -> String {
        // Serialising plain strings and GUIDs into a String cannot fail; an empty string is
        // returned rather than panicking should serde_json ever report an error.
        serde_json::to_string(&self.wire(Secrets::Expose)).unwrap_or_default()
    }
}

/// The wire shape of a [`Notification`], for serde.
#[derive(Clone, Copy, Debug)]
pub struct WireMessage<'a> {
    notification: &'a Notification,
    secrets: Secrets,
}

#[derive(Serialize)]
struct WireEnvelope<'a> {
    version: &'static str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "Content", skip_serializing_if = "Option::is_none")]
    content: Option<WireContent<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireContent<'a> {
    project_id: ProjectId,
    #[serde(skip_serializing_if = "Option::is_none")]
    iteration_id: Option<IterationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    training_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_uri: Option<Option<WireUri<'a>>>,
}

enum WireUri<'a> {
    Exact(&'a str),
    Redacted(&'a ModelUri),
}

impl Serialize for WireUri<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Exact(text) => s.serialize_str(text),
            Self::Redacted(uri) => s.collect_str(&uri.redacted()),
        }
    }
}

impl Serialize for WireMessage<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.notification;
        let base = |project_id| WireContent {
            project_id,
            iteration_id: None,
            training_status: None,
            export_status: None,
            model_uri: None,
        };
        let content = match n {
            Notification::ConnectionTest { project_id } => Some(base(*project_id)),
            Notification::Training {
                project_id,
                iteration_id,
                status,
            } => Some(WireContent {
                iteration_id: Some(*iteration_id),
                training_status: Some(status.as_str()),
                ..base(*project_id)
            }),
            Notification::Export {
                project_id,
                iteration_id,
                status,
                model_uri,
            } => {
                let uri = model_uri.as_ref().map(|u| match self.secrets {
                    Secrets::Expose => WireUri::Exact(u.expose_secret()),
                    Secrets::Redact => WireUri::Redacted(u),
                });
                Some(WireContent {
                    iteration_id: Some(*iteration_id),
                    export_status: Some(status.as_str()),
                    model_uri: Some(uri),
                    ..base(*project_id)
                })
            }
            Notification::Unrecognized { .. } => None,
        };
        // An unrecognized type is text a queue writer chose: redacted like any quotation.
        let kind: alloc::borrow::Cow<'_, str> = match self.secrets {
            Secrets::Redact => crate::redact::redact(n.type_name()),
            Secrets::Expose => alloc::borrow::Cow::Borrowed(n.type_name()),
        };
        WireEnvelope {
            version: DOCUMENTED_VERSION,
            kind: &kind,
            content,
        }
        .serialize(s)
    }
}
