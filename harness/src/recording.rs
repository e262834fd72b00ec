//! The recording format: JSON Lines, one observed input per line (`corpus/README.md` documents it,
//! `corpus/recording.schema.json` is its schema). [`Reader`] streams a recording: each line is
//! checked (secrets refused), converted to lifecycle inputs, and a line that cannot be read is
//! reported with its number without stopping the others. [`Writer`] writes lines with every
//! secret redacted.

use std::io::{self, BufRead, Write};

use cvnotify_core::lifecycle::{
    ContainerUri, Delivery, Event, Evidence, ExportFlavor, ExportJobStatus, Input, IterationStatus,
    MessageId, Operation, RejectionCode, Sources, Timestamp,
};
use cvnotify_core::{ExportPlatform, IterationId, ParseError, ParseOptions, Parsed, ProjectId};
use serde::{Deserialize, Serialize};

use crate::secrets;

/// The recording format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// A time as RFC 3339 text, held as milliseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct At(pub(crate) Timestamp);

impl Serialize for At {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(self.0))
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_time(&text).map(At).map_err(serde::de::Error::custom)
    }
}

/// RFC 3339 text to milliseconds (times before 1970 are refused).
pub(crate) fn parse_time(text: &str) -> Result<Timestamp, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("`at` is not an RFC 3339 time: {e}"))?;
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(millis)
        .map(Timestamp)
        .map_err(|_| "`at` is before 1970".to_string())
}

/// Milliseconds to RFC 3339 UTC text with milliseconds.
pub(crate) fn format_time(t: Timestamp) -> String {
    let nanos = i128::from(t.0) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|dt| {
            dt.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{}ms", t.0))
}

/// An observed source, as named in a session line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum SourceName {
    Queue,
    TrainingApi,
    /// GetIteration/GetExports answers only (`watch --training-endpoint`).
    Polling,
    Container,
}

/// A training API operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ApiOperation {
    CreateProject,
    UpdateProject,
    TrainProject,
    ExportIteration,
    GetIteration,
    GetExports,
}

/// One platform of a GetExports answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportEntry {
    pub(crate) platform: String,
    pub(crate) status: String,
}

/// Whether a blob appeared or went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BlobEvent {
    Created,
    Deleted,
}

/// One line of a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum Line {
    /// First line: what the run observed.
    Session(SessionLine),
    /// A queue message as received.
    Message(MessageLine),
    /// A training API call and its result.
    Api(ApiLine),
    /// A blob seen or gone in the backup container.
    Blob(BlobLine),
    /// Time passed.
    Tick(TickLine),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SessionLine {
    pub(crate) version: u32,
    pub(crate) sources: Vec<SourceName>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MessageLine {
    /// The queue's insertion time.
    pub(crate) at: At,
    pub(crate) queue: String,
    pub(crate) message_id: String,
    pub(crate) dequeue_count: u32,
    /// The raw MessageText (after XML unescaping), untouched but for redacted secrets.
    pub(crate) message_text: String,
    /// Whether the writer replaced a secret in `messageText`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) redacted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ApiLine {
    /// When the response arrived.
    pub(crate) at: At,
    pub(crate) operation: ApiOperation,
    pub(crate) project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iteration_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) flavor: Option<String>,
    pub(crate) http_status: u16,
    /// The `CustomVisionError` code (or the gateway's), when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<String>,
    /// CreateProject/UpdateProject: the queue URI set (its SAS, if any, redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) notification_queue_uri: Option<String>,
    /// CreateProject/UpdateProject: the container URI set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) export_model_container_uri: Option<String>,
    /// GetIteration: the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iteration_status: Option<String>,
    /// GetExports: the exports listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exports: Option<Vec<ExportEntry>>,
}

impl ApiLine {
    /// A successful call's line with only the fields every operation has.
    pub(crate) fn ok(at: Timestamp, operation: ApiOperation, project_id: ProjectId) -> Self {
        Self {
            at: At(at),
            operation,
            project_id: project_id.to_string(),
            iteration_id: None,
            platform: None,
            flavor: None,
            http_status: 200,
            error_code: None,
            notification_queue_uri: None,
            export_model_container_uri: None,
            iteration_status: None,
            exports: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BlobLine {
    pub(crate) at: At,
    pub(crate) container: String,
    pub(crate) event: BlobEvent,
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TickLine {
    pub(crate) at: At,
}

impl Line {
    /// Every string value of the line.
    pub(crate) fn strings(&self) -> Vec<&str> {
        match self {
            Self::Session(_) | Self::Tick(_) => vec![],
            Self::Message(m) => vec![&m.queue, &m.message_id, &m.message_text],
            Self::Api(a) => {
                let mut v: Vec<&str> = vec![&a.project_id];
                v.extend(
                    [
                        &a.iteration_id,
                        &a.platform,
                        &a.flavor,
                        &a.error_code,
                        &a.notification_queue_uri,
                        &a.export_model_container_uri,
                        &a.iteration_status,
                    ]
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
                );
                for e in a.exports.iter().flatten() {
                    v.extend([e.platform.as_str(), e.status.as_str()]);
                }
                v
            }
            Self::Blob(b) => vec![&b.container, &b.name],
        }
    }

    /// Every string value of the line, to rewrite.
    fn strings_mut(&mut self) -> Vec<&mut String> {
        match self {
            Self::Session(_) | Self::Tick(_) => vec![],
            Self::Message(m) => vec![&mut m.queue, &mut m.message_id, &mut m.message_text],
            Self::Api(a) => {
                let mut v: Vec<&mut String> = vec![&mut a.project_id];
                v.extend(
                    [
                        &mut a.iteration_id,
                        &mut a.platform,
                        &mut a.flavor,
                        &mut a.error_code,
                        &mut a.notification_queue_uri,
                        &mut a.export_model_container_uri,
                        &mut a.iteration_status,
                    ]
                    .into_iter()
                    .flatten(),
                );
                for e in a.exports.iter_mut().flatten() {
                    v.extend([&mut e.platform, &mut e.status]);
                }
                v
            }
            Self::Blob(b) => vec![&mut b.container, &mut b.name],
        }
    }
}

/// Why a line could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LineProblem {
    /// Not a recording line (JSON, kind, fields or values).
    Unreadable(String),
    /// It carries a secret.
    Secret(secrets::Secret),
    /// A session line after the first line.
    LateSession,
}

impl LineProblem {
    pub(crate) const fn code(&self) -> &'static str {
        match self {
            Self::Unreadable(_) => "unreadable-line",
            Self::Secret(_) => "secret-in-recording",
            Self::LateSession => "unreadable-line",
        }
    }
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(why) => f.write_str(why),
            Self::Secret(kind) => write!(f, "the line carries {}; it was refused", kind.as_str()),
            Self::LateSession => f.write_str("a session line may only be the first line"),
        }
    }
}

/// What one line amounts to. Returned once per line and consumed at once, so the size of the
/// `Message` variant costs a move, where boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Item {
    /// The session header.
    Session(Sources),
    /// Lifecycle inputs (a GetExports answer may give several).
    Inputs(Vec<Input>),
    /// A queue message, parsed or rejected, with its input when it was accepted.
    Message {
        parsed: Result<Parsed, ParseError>,
        input: Option<Input>,
    },
}

fn unreadable(why: impl Into<String>) -> LineProblem {
    LineProblem::Unreadable(why.into())
}

fn project(text: &str) -> Result<ProjectId, LineProblem> {
    ProjectId::parse(text).map_err(|e| unreadable(format!("projectId: {e}")))
}

fn iteration(text: Option<&str>) -> Result<IterationId, LineProblem> {
    let text = text.ok_or_else(|| unreadable("iterationId is required for this operation"))?;
    IterationId::parse(text).map_err(|e| unreadable(format!("iterationId: {e}")))
}

fn platform(text: Option<&str>) -> Result<ExportPlatform, LineProblem> {
    let text = text.ok_or_else(|| unreadable("platform is required for this operation"))?;
    ExportPlatform::from_name(text).ok_or_else(|| unreadable(format!("unknown platform {text:?}")))
}

fn flavor(text: &str) -> Result<ExportFlavor, LineProblem> {
    ExportFlavor::from_name(text).ok_or_else(|| unreadable(format!("unknown flavor {text:?}")))
}

fn rejection(code: Option<&str>) -> RejectionCode {
    match code {
        Some("BadRequestExportAlreadyInProgress") => RejectionCode::ExportAlreadyInProgress,
        Some("BadRequestTrainingNotNeeded") => RejectionCode::TrainingNotNeeded,
        Some("BadRequestIterationIsNotTrained") => RejectionCode::IterationIsNotTrained,
        Some("NotFoundProject" | "NotFoundIteration") => RejectionCode::NotFound,
        _ => RejectionCode::Other,
    }
}

fn operation(op: ApiOperation) -> Operation {
    match op {
        ApiOperation::CreateProject => Operation::CreateProject,
        ApiOperation::UpdateProject => Operation::UpdateProject,
        ApiOperation::TrainProject => Operation::TrainProject,
        ApiOperation::ExportIteration => Operation::ExportIteration,
        ApiOperation::GetIteration => Operation::GetIteration,
        ApiOperation::GetExports => Operation::GetExports,
    }
}

/// The events an API line stands for.
pub(crate) fn api_events(line: &ApiLine) -> Result<Vec<Event>, LineProblem> {
    let project_id = project(&line.project_id)?;
    if line.http_status >= 300 {
        let code = rejection(line.error_code.as_deref());
        return Ok(vec![Event::ApiRejected {
            project_id,
            operation: operation(line.operation),
            code,
        }]);
    }
    let iteration_id = || iteration(line.iteration_id.as_deref());
    Ok(match line.operation {
        ApiOperation::CreateProject | ApiOperation::UpdateProject => {
            let container = line
                .export_model_container_uri
                .as_deref()
                .map(ContainerUri::parse)
                .transpose()
                .map_err(|e| unreadable(format!("exportModelContainerUri: {e}")))?;
            vec![Event::Configured {
                project_id,
                queue: line.notification_queue_uri.is_some(),
                container,
            }]
        }
        ApiOperation::TrainProject => vec![Event::TrainingRequested {
            project_id,
            iteration_id: iteration_id()?,
        }],
        ApiOperation::ExportIteration => vec![Event::ExportRequested {
            project_id,
            iteration_id: iteration_id()?,
            platform: platform(line.platform.as_deref())?,
            flavor: line.flavor.as_deref().map(flavor).transpose()?,
        }],
        ApiOperation::GetIteration => {
            let status = match line.iteration_status.as_deref() {
                Some("Training") => IterationStatus::Training,
                Some("Completed") => IterationStatus::Completed,
                Some("Failed") => IterationStatus::Failed,
                // `New` (a blank iteration) and statuses the model has no use for.
                Some(_) => return Ok(vec![]),
                None => return Err(unreadable("iterationStatus is required for GetIteration")),
            };
            vec![Event::IterationPolled {
                project_id,
                iteration_id: iteration_id()?,
                status,
            }]
        }
        ApiOperation::GetExports => {
            let iteration_id = iteration_id()?;
            let exports = line
                .exports
                .as_deref()
                .ok_or_else(|| unreadable("exports is required for GetExports"))?;
            exports
                .iter()
                .map(|e| {
                    let status = match e.status.as_str() {
                        "Exporting" => ExportJobStatus::Exporting,
                        "Done" => ExportJobStatus::Done,
                        "Failed" => ExportJobStatus::Failed,
                        other => {
                            return Err(unreadable(format!("unknown export status {other:?}")));
                        }
                    };
                    Ok(Event::ExportPolled {
                        project_id,
                        iteration_id,
                        platform: platform(Some(&e.platform))?,
                        status,
                    })
                })
                .collect::<Result<_, _>>()?
        }
    })
}

/// A line as written, every field optional and borrowed where JSON allows: one pass of
/// serde_json, no intermediate tree (an internally tagged enum would buffer every line first).
/// [`RawLine::into_line`] then checks that each field belongs to the line's kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawLine<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    version: Option<u32>,
    sources: Option<Vec<SourceName>>,
    at: Option<At>,
    queue: Option<String>,
    message_id: Option<String>,
    dequeue_count: Option<u32>,
    message_text: Option<String>,
    redacted: Option<bool>,
    operation: Option<ApiOperation>,
    project_id: Option<String>,
    iteration_id: Option<String>,
    platform: Option<String>,
    flavor: Option<String>,
    http_status: Option<u16>,
    error_code: Option<String>,
    notification_queue_uri: Option<String>,
    export_model_container_uri: Option<String>,
    iteration_status: Option<String>,
    exports: Option<Vec<ExportEntry>>,
    container: Option<String>,
    event: Option<BlobEvent>,
    name: Option<String>,
    size: Option<u64>,
}

fn required<T>(value: Option<T>, field: &str, kind: &str) -> Result<T, LineProblem> {
    value.ok_or_else(|| unreadable(format!("a {kind} line needs `{field}`")))
}

impl RawLine<'_> {
    /// The first present field not in `allowed` (no allocation: this runs for every line).
    fn foreign(&self, allowed: &[&str]) -> Option<&'static str> {
        let all = [
            ("version", self.version.is_some()),
            ("sources", self.sources.is_some()),
            ("at", self.at.is_some()),
            ("queue", self.queue.is_some()),
            ("messageId", self.message_id.is_some()),
            ("dequeueCount", self.dequeue_count.is_some()),
            ("messageText", self.message_text.is_some()),
            ("redacted", self.redacted.is_some()),
            ("operation", self.operation.is_some()),
            ("projectId", self.project_id.is_some()),
            ("iterationId", self.iteration_id.is_some()),
            ("platform", self.platform.is_some()),
            ("flavor", self.flavor.is_some()),
            ("httpStatus", self.http_status.is_some()),
            ("errorCode", self.error_code.is_some()),
            (
                "notificationQueueUri",
                self.notification_queue_uri.is_some(),
            ),
            (
                "exportModelContainerUri",
                self.export_model_container_uri.is_some(),
            ),
            ("iterationStatus", self.iteration_status.is_some()),
            ("exports", self.exports.is_some()),
            ("container", self.container.is_some()),
            ("event", self.event.is_some()),
            ("name", self.name.is_some()),
            ("size", self.size.is_some()),
        ];
        all.into_iter()
            .find(|(name, on)| *on && !allowed.contains(name))
            .map(|(name, _)| name)
    }

    fn into_line(self) -> Result<Line, LineProblem> {
        let kind = self.kind.to_string();
        let allowed: &[&str] = match kind.as_str() {
            "session" => &["version", "sources"],
            "message" => &[
                "at",
                "queue",
                "messageId",
                "dequeueCount",
                "messageText",
                "redacted",
            ],
            "api" => &[
                "at",
                "operation",
                "projectId",
                "iterationId",
                "platform",
                "flavor",
                "httpStatus",
                "errorCode",
                "notificationQueueUri",
                "exportModelContainerUri",
                "iterationStatus",
                "exports",
            ],
            "blob" => &["at", "container", "event", "name", "size"],
            "tick" => &["at"],
            other => return Err(unreadable(format!("unknown line kind {other:?}"))),
        };
        if let Some(foreign) = self.foreign(allowed) {
            return Err(unreadable(format!(
                "`{foreign}` does not belong in a {kind} line"
            )));
        }
        let k = kind.as_str();
        Ok(match k {
            "session" => Line::Session(SessionLine {
                version: required(self.version, "version", k)?,
                sources: required(self.sources, "sources", k)?,
            }),
            "message" => Line::Message(MessageLine {
                at: required(self.at, "at", k)?,
                queue: required(self.queue, "queue", k)?,
                message_id: required(self.message_id, "messageId", k)?,
                dequeue_count: required(self.dequeue_count, "dequeueCount", k)?,
                message_text: required(self.message_text, "messageText", k)?,
                redacted: self.redacted.unwrap_or(false),
            }),
            "api" => Line::Api(ApiLine {
                at: required(self.at, "at", k)?,
                operation: required(self.operation, "operation", k)?,
                project_id: required(self.project_id, "projectId", k)?,
                iteration_id: self.iteration_id,
                platform: self.platform,
                flavor: self.flavor,
                http_status: required(self.http_status, "httpStatus", k)?,
                error_code: self.error_code,
                notification_queue_uri: self.notification_queue_uri,
                export_model_container_uri: self.export_model_container_uri,
                iteration_status: self.iteration_status,
                exports: self.exports,
            }),
            "blob" => Line::Blob(BlobLine {
                at: required(self.at, "at", k)?,
                container: required(self.container, "container", k)?,
                event: required(self.event, "event", k)?,
                name: required(self.name, "name", k)?,
                size: self.size,
            }),
            _ => Line::Tick(TickLine {
                at: required(self.at, "at", k)?,
            }),
        })
    }
}

/// Reads one line (without its newline) of a recording.
pub(crate) fn read_line(text: &str, number: u32, first: bool) -> Result<Item, LineProblem> {
    let raw: RawLine<'_> = serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => unreadable(format!("not JSON: {e}")),
            Category::Data => unreadable(format!("not a recording line: {e}")),
        }
    })?;
    let line = raw.into_line()?;
    if let Some(secret) = line.strings().into_iter().find_map(secrets::find_plain) {
        return Err(LineProblem::Secret(secret));
    }
    let evidence = Evidence::new(number).ok_or_else(|| unreadable("line number 0"))?;
    let input = |at: At, event| Input {
        at: at.0,
        evidence,
        event,
    };
    Ok(match line {
        Line::Session(s) if first => {
            if s.version != FORMAT_VERSION {
                return Err(unreadable(format!(
                    "recording version {} (this build reads {FORMAT_VERSION})",
                    s.version
                )));
            }
            Item::Session(Sources {
                queue: s.sources.contains(&SourceName::Queue),
                training_api: s.sources.contains(&SourceName::TrainingApi),
                polling: s.sources.contains(&SourceName::Polling),
                container: s.sources.contains(&SourceName::Container),
            })
        }
        Line::Session(_) => return Err(LineProblem::LateSession),
        Line::Message(m) => {
            let parsed = cvnotify_core::parse(m.message_text.as_bytes(), ParseOptions::TOLERANT);
            // Inside base64 the plain scan sees nothing: the parsed modelUri says whether the
            // message carries a signature; a base64 message that did not parse is decoded and
            // scanned.
            let hidden = match &parsed {
                Ok(p) => match &p.notification {
                    cvnotify_core::Notification::Export {
                        model_uri: Some(uri),
                        ..
                    } => {
                        p.encoding == cvnotify_core::Encoding::Base64
                            && secrets::find_plain(uri.expose_secret()).is_some()
                    }
                    _ => false,
                },
                Err(e) => {
                    e.encoding() == Some(cvnotify_core::Encoding::Base64)
                        && secrets::find(&m.message_text).is_some()
                }
            };
            if hidden {
                return Err(LineProblem::Secret(secrets::Secret::SasSignature));
            }
            let input = parsed.as_ref().ok().map(|p| {
                let delivery = Delivery {
                    message_id: MessageId::from_text(&m.message_id),
                    dequeue_count: m.dequeue_count,
                };
                input(
                    m.at,
                    Event::Notification {
                        notification: p.notification.clone(),
                        delivery,
                    },
                )
            });
            Item::Message { parsed, input }
        }
        Line::Api(a) => Item::Inputs(
            api_events(&a)?
                .into_iter()
                .map(|e| input(a.at, e))
                .collect(),
        ),
        Line::Blob(b) => {
            let event = match b.event {
                BlobEvent::Created => Event::BlobCreated {
                    name: b.name,
                    size: b.size.unwrap_or(0),
                },
                BlobEvent::Deleted => Event::BlobDeleted { name: b.name },
            };
            Item::Inputs(vec![input(b.at, event)])
        }
        Line::Tick(t) => Item::Inputs(vec![input(t.at, Event::Tick)]),
    })
}

/// One line read: its number and what it amounts to.
#[derive(Debug)]
pub(crate) struct ReadLine {
    pub(crate) number: u32,
    pub(crate) item: Result<Item, LineProblem>,
}

/// One raw line: its number, its length in bytes, its text (or why it has none).
#[derive(Debug)]
pub(crate) struct RawText {
    pub(crate) number: u32,
    pub(crate) bytes: usize,
    pub(crate) text: Result<String, LineProblem>,
}

impl RawText {
    /// What the line amounts to (the expensive part: JSON, checks, message parsing).
    pub(crate) fn read(self) -> ReadLine {
        let item = self
            .text
            .and_then(|text| read_line(&text, self.number, self.number == 1));
        ReadLine {
            number: self.number,
            item,
        }
    }
}

/// Streams a recording line by line; memory does not grow with its length.
pub(crate) struct Reader<R> {
    inner: R,
    buf: Vec<u8>,
    number: u32,
}

impl<R: BufRead> Reader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            number: 0,
        }
    }

    /// The next non-empty raw line. `None` at the end. A line that is not UTF-8 is a bad line,
    /// not the end of the file.
    pub(crate) fn next_raw(&mut self) -> io::Result<Option<RawText>> {
        loop {
            self.buf.clear();
            let read = self.inner.read_until(b'\n', &mut self.buf)?;
            if read == 0 {
                return Ok(None);
            }
            self.number = self.number.saturating_add(1);
            let text = match std::str::from_utf8(&self.buf) {
                Ok(text) => text.trim_end_matches(['\n', '\r']),
                Err(_) => {
                    let text = Err(unreadable("the line is not UTF-8"));
                    return Ok(Some(RawText {
                        number: self.number,
                        bytes: read,
                        text,
                    }));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            let text = Ok(text.to_string());
            return Ok(Some(RawText {
                number: self.number,
                bytes: read,
                text,
            }));
        }
    }
}

/// Writes a recording: each line with its secrets redacted.
pub(crate) struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    pub(crate) fn new(out: W) -> Self {
        Self { out }
    }

    /// Writes one line, redacting every secret first.
    pub(crate) fn write(&mut self, line: &Line) -> io::Result<()> {
        let mut line = line.clone();
        let mut changed = false;
        for value in line.strings_mut() {
            let (redacted, this) = secrets::redact(value);
            if this {
                *value = redacted;
                changed = true;
            }
        }
        if let Line::Message(m) = &mut line {
            m.redacted |= changed;
        }
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")
    }

    /// Flushes what was written so far.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the output.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";

    fn message(text: &str) -> Line {
        Line::Message(MessageLine {
            at: At(Timestamp(1_767_258_000_000)),
            queue: "q".into(),
            message_id: "m1".into(),
            dequeue_count: 1,
            message_text: text.into(),
            redacted: false,
        })
    }

    fn write(lines: &[Line]) -> String {
        let mut w = Writer::new(Vec::new());
        for l in lines {
            w.write(l).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn written_lines_read_back_and_carry_no_secret() {
        let uri = "https://svc.blob.core.windows.net/m/x.zip?sv=1&sig=CANARY%2Bsig%3D";
        let json = format!(
            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{P}","exportStatus":"ExportCompleted","modelUri":"{uri}"}}}}"#
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(&json);
        let mut api = ApiLine {
            at: At(Timestamp(1_767_258_001_000)),
            operation: ApiOperation::CreateProject,
            project_id: P.into(),
            iteration_id: None,
            platform: None,
            flavor: None,
            http_status: 200,
            error_code: None,
            notification_queue_uri: Some("https://a.queue.core.windows.net/q?sig=CANARY".into()),
            export_model_container_uri: None,
            iteration_status: None,
            exports: None,
        };
        let text = write(&[message(&json), message(&b64), Line::Api(api.clone())]);
        assert!(!text.contains("CANARY"), "{text}");
        for (n, line) in text.lines().enumerate() {
            let item = read_line(line, u32::try_from(n + 2).unwrap(), false).unwrap();
            if let Item::Message { parsed, .. } = item {
                let parsed = parsed.unwrap();
                assert!(parsed.deviations.is_empty());
            }
        }
        let written: Line = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert!(matches!(
            written,
            Line::Message(MessageLine { redacted: true, .. })
        ));
        api.export_model_container_uri = Some("https://a.blob.core.windows.net/c".into());
        let again = write(&[Line::Api(api.clone())]);
        let read: Line = serde_json::from_str(again.trim_end()).unwrap();
        assert_eq!(
            read,
            Line::Api(ApiLine {
                notification_queue_uri: Some(
                    "https://a.queue.core.windows.net/q?sig=REDACTED".into()
                ),
                ..api
            })
        );
    }

    #[test]
    fn the_reader_refuses_secrets_even_inside_base64() {
        let uri = "https://svc.blob.core.windows.net/m/x.zip?sig=CANARY";
        let json = format!(
            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{P}","exportStatus":"ExportCompleted","modelUri":"{uri}"}}}}"#
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(&json);
        for text in [json.as_str(), b64.as_str()] {
            let line = serde_json::to_string(&message(text)).unwrap();
            let problem = read_line(&line, 2, false).unwrap_err();
            assert_eq!(problem, LineProblem::Secret(secrets::Secret::SasSignature));
            assert!(!problem.to_string().contains("CANARY"));
        }
    }

    #[test]
    fn lines_with_foreign_or_missing_fields_are_refused_with_a_reason() {
        let tick = r#"{"kind":"tick","at":"2026-01-01T09:00:00Z","name":"x"}"#;
        assert_eq!(
            read_line(tick, 2, false).unwrap_err().to_string(),
            "`name` does not belong in a tick line"
        );
        let blob =
            r#"{"kind":"blob","at":"2026-01-01T09:00:00Z","container":"c","event":"created"}"#;
        assert_eq!(
            read_line(blob, 2, false).unwrap_err().to_string(),
            "a blob line needs `name`"
        );
        let odd = r#"{"kind":"gossip","at":"2026-01-01T09:00:00Z"}"#;
        assert_eq!(
            read_line(odd, 2, false).unwrap_err().to_string(),
            "unknown line kind \"gossip\""
        );
        let session = r#"{"kind":"session","version":1,"sources":["queue"]}"#;
        assert_eq!(
            read_line(session, 5, false).unwrap_err(),
            LineProblem::LateSession
        );
        let time = r#"{"kind":"tick","at":"yesterday"}"#;
        assert!(
            read_line(time, 2, false)
                .unwrap_err()
                .to_string()
                .contains("RFC 3339")
        );
        let typo = r#"{"kind":"tick","at":"2026-01-01T09:00:00Z","att":"x"}"#;
        assert!(
            read_line(typo, 2, false)
                .unwrap_err()
                .to_string()
                .contains("unknown field `att`")
        );
    }
}
