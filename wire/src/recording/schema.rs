//! The line schema of a recording: every kind of line and its fields, as written and read
//! (`corpus/README.md` documents them, `corpus/recording.schema.json` is the JSON Schema). Times
//! are RFC 3339 text held as milliseconds.

use cvnotify_core::ProjectId;
use cvnotify_core::lifecycle::{Operation, Sources, Timestamp};
use serde::{Deserialize, Serialize};

/// The recording format version this build writes. Version 2 added the `end` line and the
/// session line's `at` and `scope`; version 3 the journal of a client (`request`, `delivered`
/// and `client` lines, the session line's `scenario` and `duties`). This build reads versions
/// 1 to 3.
pub const FORMAT_VERSION: u32 = 3;

/// The oldest version this build reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// A time as RFC 3339 text, held as milliseconds since the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct At(pub Timestamp);

impl Serialize for At {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(self.0))
    }
}

impl schemars::JsonSchema for At {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "At".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A time, RFC 3339 (UTC, `Z`, milliseconds when there are any).",
            "type": "string",
            "format": "date-time"
        })
    }
}

/// The schema of a project or iteration id: a GUID.
fn uuid_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "format": "uuid" })
}

/// The schema of a digest: the first 16 hex digits of a SHA-256.
fn digest_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "pattern": "^[0-9a-f]{16}$" })
}

/// The schema of a training API operation's name.
fn operation_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
    schemars::json_schema!({ "type": "string", "enum": names })
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        in_place(d, "an RFC 3339 time", |text| parse_time(text).map(At))
    }
}

/// Reads a string where it is (in the line, or in the parser's buffer when escaped) and makes
/// `read` of it: a `Cow<str>` would be copied into a `String` first, for every line.
pub(crate) fn in_place<'de, D, T>(
    d: D,
    expecting: &'static str,
    read: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Text<F>(&'static str, F);
    impl<T, F: FnOnce(&str) -> Result<T, String>> serde::de::Visitor<'_> for Text<F> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
            (self.1)(text).map_err(E::custom)
        }
    }
    d.deserialize_str(Text(expecting, read))
}

/// RFC 3339 text to milliseconds (times before 1970 are refused).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("`at` is not an RFC 3339 time: {e}"))?;
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(millis)
        .map(Timestamp)
        .map_err(|_| "`at` is before 1970".to_string())
}

/// Milliseconds to RFC 3339 UTC text with milliseconds.
pub fn format_time(t: Timestamp) -> String {
    let nanos = i128::from(t.0) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|dt| {
            dt.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| {
            let millis = t.0;
            format!("{millis}ms")
        })
}

/// An observed source, as named in a session line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SourceName {
    /// The notification queue.
    Queue,
    /// The training API: the client's own calls and polls.
    TrainingApi,
    /// GetIteration/GetExports answers only (`watch --training-endpoint`).
    Polling,
    /// The backup container's listing.
    Container,
}

impl SourceName {
    /// The name as a session line writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::TrainingApi => "training-api",
            Self::Polling => "polling",
            Self::Container => "container",
        }
    }

    /// The names a session line gives `sources`, in order: polling only when the training API
    /// is not observed (its polls are part of it).
    pub fn names(sources: Sources) -> Vec<Self> {
        [
            (sources.queue, Self::Queue),
            (sources.training_api, Self::TrainingApi),
            (sources.polling && !sources.training_api, Self::Polling),
            (sources.container, Self::Container),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// The sources a session line's `names` stand for.
    pub fn sources(names: &[Self]) -> Sources {
        Sources {
            queue: names.contains(&Self::Queue),
            training_api: names.contains(&Self::TrainingApi),
            polling: names.contains(&Self::Polling),
            container: names.contains(&Self::Container),
        }
    }
}

/// One platform of a GetExports answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportEntry {
    /// The platform, as the API writes it.
    #[schemars(extend("enum" = cvnotify_core::ExportPlatform::ALL.map(cvnotify_core::ExportPlatform::as_str)))]
    pub platform: String,
    /// `Exporting`, `Done` or `Failed`.
    #[schemars(extend("enum" = ["Exporting", "Done", "Failed"]))]
    pub status: String,
}

/// Whether a blob appeared or went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BlobEvent {
    /// Listed for the first time.
    Created,
    /// No longer listed.
    Deleted,
}

/// Which projects a run judges.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every project observed (what a consumer of a queue sees).
    #[default]
    All,
    /// Only the projects the run itself configured (CreateProject/UpdateProject lines): what
    /// `check` judges; other projects seen in the queue or the container are reported as
    /// information, not judged.
    Created,
}

impl Scope {
    fn is_all(&self) -> bool {
        *self == Self::All
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It did what it set out to do (a drained queue, a whole lifecycle, a page peeked).
    Completed,
    /// It was stopped (Ctrl-C, SIGTERM) after the batch in hand: a consumer's normal end.
    Stopped,
    /// It ended before its work was done (a refused call, a notification that never came
    /// within the timeout): what it saw is judged, but the run cannot pass.
    Incomplete,
    /// It could not go on (storage, the training API or the recording failed for good).
    Aborted,
}

impl Outcome {
    /// Whether a run that ended so may pass.
    pub const fn is_normal(self) -> bool {
        matches!(self, Self::Completed | Self::Stopped)
    }

    /// The name as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Stopped => "stopped",
            Self::Incomplete => "incomplete",
            Self::Aborted => "aborted",
        }
    }
}

/// One line of a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Line {
    /// A run starts: what it observes. The first line; a later one starts another run appended
    /// to the same recording (a consumer restarted).
    Session(SessionLine),
    /// A run ended, and how (version 2).
    End(EndLine),
    /// A queue message as received.
    Message(MessageLine),
    /// A training API call and its result.
    Api(ApiLine),
    /// A blob seen or gone in the backup container.
    Blob(BlobLine),
    /// Time passed.
    Tick(TickLine),
    /// A client's request to the simulation, and the answer (version 3).
    Request(Box<RequestLine>),
    /// A message the simulation delivered to a client's queue (version 3).
    Delivered(DeliveredLine),
    /// The client's process started or ended (version 3).
    Client(ClientLine),
}

/// The first line: the format version and what the run observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionLine {
    /// The format version ([`FORMAT_VERSION`]).
    #[schemars(range(min = 1, max = FORMAT_VERSION))]
    pub version: u32,
    /// The sources observed.
    pub sources: Vec<SourceName>,
    /// When the run started (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<At>,
    /// Which projects the run judges (version 2; every project when absent).
    #[serde(default, skip_serializing_if = "Scope::is_all")]
    pub scope: Scope,
    /// The scenario the simulation played, for a client's journal (version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The client's duties beyond consuming (`fetch-backups`, `configure`; version 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duties: Vec<Duty>,
    /// The run saw only its share of the queue (one of several consumers; version 3): what
    /// rests on a message not having come waits for the merge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// A duty of a client, as named in a session line.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Duty {
    /// It downloads the backup blob each `ExportCompleted` notification announces.
    FetchBackups,
    /// It creates, configures, trains and exports the projects itself.
    Configure,
}

impl Duty {
    /// Every duty.
    pub const ALL: [Self; 2] = [Self::FetchBackups, Self::Configure];

    /// The name as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FetchBackups => "fetch-backups",
            Self::Configure => "configure",
        }
    }

    /// The duties of a list, for the judge.
    pub fn duties(list: &[Self]) -> cvnotify_core::client::Duties {
        cvnotify_core::client::Duties {
            fetch_backups: list.contains(&Self::FetchBackups),
            configure: list.contains(&Self::Configure),
        }
    }
}

/// A message a receive handed out, in a `request` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceivedEntry {
    /// `MessageId`.
    pub message_id: String,
    /// The pop receipt handed out with it.
    pub pop_receipt: String,
    /// `DequeueCount`.
    pub dequeue_count: u32,
}

/// A client's request to the simulation, and the answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestLine {
    /// When the request arrived.
    pub at: At,
    /// `api`, `queue` or `blob`.
    #[schemars(extend("enum" = ["api", "queue", "blob"]))]
    pub service: String,
    /// The operation (`GetMessages`, `CreateProject`, ...; the REST references' names).
    pub call: String,
    /// The answer's status (0: none, the connection was reset).
    #[schemars(range(max = 999))]
    pub http_status: u16,
    /// How long the answer took, in milliseconds (injected delays included).
    pub ms: u32,
    /// The storage error code, or the training API's, when the answer was an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The blob (not percent-encoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// Copy Blob: the source blob (`container/name`, not percent-encoded), when it is in the
    /// account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_source: Option<Box<str>>,
    /// A Get Blob's range (`bytes=0-99`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// Update and Delete Message: the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Update and Delete Message: the pop receipt sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pop_receipt: Option<String>,
    /// Update Message: the new pop receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_pop_receipt: Option<String>,
    /// Get Messages: what it handed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Vec<ReceivedEntry>>,
    /// Get Messages, Put and Update Message: the visibility timeout asked for, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_timeout: Option<u32>,
    /// Put Message: the first 16 hex digits of the SHA-256 of the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^[0-9a-f]{16}$"))]
    pub digest: Option<String>,
    /// Put Message: digests, of the same form, of what the text holds (its base64 decoding
    /// and encoding, the string fields of a JSON object and their base64 decodings), so that a
    /// message moved to a poison queue in an envelope is recognised.
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    #[schemars(inner(regex(pattern = "^[0-9a-f]{16}$")))]
    pub holds: Box<[String]>,
    /// The training API version of the path (`v3.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The project a training API call was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The iteration a training API call was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration_id: Option<String>,
    /// CreateProject/UpdateProject: whether it carried the storage URIs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub storage_options: bool,
    /// The answer's `Retry-After`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
    /// Which TCP connection the request came on (numbered from 1 per simulation, in the order
    /// they were accepted): a client that opens a connection per request, or one that keeps
    /// using a connection the simulation reset, shows here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub connection: Option<u32>,
    /// How many connections to the same service were open when it came (this one included):
    /// a client's concurrency, as the server sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub open_connections: Option<u32>,
    /// A 32-bit digest of the request's `x-ms-client-request-id`, when it sent one (the
    /// official SDKs keep the id across their own retries of a request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request: Option<u32>,
}

/// A message the simulation delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveredLine {
    /// When.
    pub at: At,
    /// The queue.
    pub queue: String,
    /// Its `MessageId`.
    pub message_id: String,
    /// `notification`, `unrecognized` or `malformed`.
    #[schemars(extend("enum" = ["notification", "unrecognized", "malformed"]))]
    pub class: String,
    /// The notification's `type`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<String>,
    /// The project it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uuid"))]
    pub project_id: Option<String>,
    /// The backup blob it announces (`container/name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// The notification's status (`TrainingCompleted`, `TrainingFailed`, `ExportCompleted`,
    /// `ExportFailed`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_status: Option<String>,
    /// The size of the backup blob it announces, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_size: Option<u64>,
    /// The first 16 hex digits of the SHA-256 of its text.
    #[schemars(schema_with = "digest_schema")]
    pub digest: String,
    /// Whether it went out base64-encoded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
}

/// What happened to the client's process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAction {
    /// It started.
    Started,
    /// It exited on its own (`status`), or a signal killed it (`signal`).
    Exited,
    /// It was stopped once its scenario was over: not a failure.
    Stopped,
    /// It could not be started (`reason`).
    Unstartable,
    /// The timeout came before it had done its work; it was stopped.
    TimedOut,
    /// It was killed mid-scenario and started again (the scenario's restart): what it held
    /// was given up, and the next receive of it is not a second processing.
    Restarted,
}

/// The client's process started or ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientLine {
    /// When.
    pub at: At,
    /// What.
    pub action: ClientAction,
    /// Started: the program (its name, not its arguments, which may hold secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// Exited: its status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    /// Exited: the signal that killed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Unstartable: why (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Exited: how many processes of its own it left running (cvnotify stopped them).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 1))]
    pub left: u32,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The last line of a run: when and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndLine {
    /// When it ended.
    pub at: At,
    /// How.
    pub outcome: Outcome,
    /// Why, when it did not complete (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A queue message as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageLine {
    /// The queue's insertion time.
    pub at: At,
    /// The queue's name.
    pub queue: String,
    /// `MessageId`.
    pub message_id: String,
    /// `DequeueCount`: how many times the queue has handed it out, this time included.
    #[schemars(range(min = 1))]
    pub dequeue_count: u32,
    /// The raw MessageText (after XML unescaping), untouched but for redacted secrets.
    pub message_text: String,
    /// Whether the writer replaced a secret in `messageText`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

/// A training API call and its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiLine {
    /// When the response arrived.
    pub at: At,
    /// The call.
    #[schemars(schema_with = "operation_schema")]
    pub operation: Operation,
    /// The project it was about.
    #[schemars(schema_with = "uuid_schema")]
    pub project_id: String,
    /// The iteration, for the calls about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uuid"))]
    pub iteration_id: Option<String>,
    /// ExportIteration: the platform asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = cvnotify_core::ExportPlatform::ALL.map(cvnotify_core::ExportPlatform::as_str)))]
    pub platform: Option<String>,
    /// ExportIteration: the flavor asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = cvnotify_core::lifecycle::ExportFlavor::ALL.map(cvnotify_core::lifecycle::ExportFlavor::as_str)))]
    pub flavor: Option<String>,
    /// The HTTP status of the answer.
    #[schemars(range(max = 599))]
    pub http_status: u16,
    /// The `CustomVisionError` code (or the gateway's), when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// CreateProject/UpdateProject: the queue URI set (its SAS, if any, redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_queue_uri: Option<String>,
    /// CreateProject/UpdateProject: the container URI set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_model_container_uri: Option<String>,
    /// GetIteration: the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration_status: Option<String>,
    /// GetExports: the exports listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exports: Option<Vec<ExportEntry>>,
}

impl ApiLine {
    /// A successful call's line with only the fields every operation has.
    pub fn ok(at: Timestamp, operation: Operation, project_id: ProjectId) -> Self {
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

/// A blob seen or gone in the backup container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlobLine {
    /// When the listing showed it.
    pub at: At,
    /// The container's name.
    pub container: String,
    /// Seen or gone.
    pub event: BlobEvent,
    /// The blob's name (not percent-encoded).
    pub name: String,
    /// Its size in bytes, when listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// Time passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TickLine {
    /// What time it is.
    pub at: At,
}

/// A line's strings: those it always has, those of its optional fields that are present, and
/// its lists' pairs, in one vector sized once (growing it cost more than checking them).
fn gathered<'a, const A: usize, const O: usize>(
    always: [&'a String; A],
    optional: [&'a Option<String>; O],
    pairs: impl ExactSizeIterator<Item = [&'a str; 2]>,
) -> Vec<&'a str> {
    let mut v = Vec::with_capacity(A + O + 2 * pairs.len());
    v.extend(always.map(String::as_str));
    v.extend(optional.into_iter().flatten().map(String::as_str));
    pairs.for_each(|pair| v.extend(pair));
    v
}

impl Line {
    /// What the line stands for, in words a reader without the recording has (the call, the
    /// message id, the blob, and when); `None` for the lines that are not inputs (a run's start
    /// and end, a tick).
    pub fn describe(&self) -> Option<String> {
        let when = |at: &At| format_time(at.0);
        match self {
            Self::Session(_) | Self::End(_) | Self::Tick(_) => None,
            Self::Message(m) => Some(format!(
                "message {} of queue {} (inserted {}, dequeue {})",
                m.message_id,
                m.queue,
                when(&m.at),
                m.dequeue_count
            )),
            Self::Api(a) => Some(format!(
                "{} of project {} answered {} at {}",
                a.operation.as_str(),
                a.project_id,
                a.http_status,
                when(&a.at)
            )),
            Self::Blob(b) => Some(format!(
                "blob `{}` {} in container {} at {}",
                b.name,
                match b.event {
                    BlobEvent::Created => "listed",
                    BlobEvent::Deleted => "gone",
                },
                b.container,
                when(&b.at)
            )),
            Self::Request(r) => Some(format!(
                "{} answered {} at {}",
                r.call,
                r.http_status,
                when(&r.at)
            )),
            Self::Delivered(d) => Some(format!(
                "message {} delivered to queue {} at {}",
                d.message_id,
                d.queue,
                when(&d.at)
            )),
            Self::Client(c) => Some(format!("the client's process at {}", when(&c.at))),
        }
    }

    /// Every string value of the line.
    pub fn strings(&self) -> Vec<&str> {
        match self {
            Self::Session(s) => s.scenario.iter().map(String::as_str).collect(),
            Self::Tick(_) => vec![],
            Self::End(e) => e.reason.iter().map(String::as_str).collect(),
            Self::Message(m) => vec![&m.queue, &m.message_id, &m.message_text],
            Self::Api(a) => gathered(
                [&a.project_id],
                [
                    &a.iteration_id,
                    &a.platform,
                    &a.flavor,
                    &a.error_code,
                    &a.notification_queue_uri,
                    &a.export_model_container_uri,
                    &a.iteration_status,
                ],
                a.exports
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|e| [e.platform.as_str(), e.status.as_str()]),
            ),
            Self::Blob(b) => vec![&b.container, &b.name],
            Self::Request(r) => gathered(
                [&r.service, &r.call],
                [
                    &r.error_code,
                    &r.queue,
                    &r.container,
                    &r.blob,
                    &r.range,
                    &r.message_id,
                    &r.pop_receipt,
                    &r.new_pop_receipt,
                    &r.digest,
                    &r.api_version,
                    &r.project_id,
                    &r.iteration_id,
                ],
                r.received
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|e| [e.message_id.as_str(), e.pop_receipt.as_str()]),
            ),
            Self::Delivered(d) => gathered(
                [&d.queue, &d.message_id, &d.class, &d.digest],
                [&d.notification_type, &d.project_id, &d.blob],
                std::iter::empty(),
            ),
            Self::Client(c) => [&c.program, &c.reason]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
        }
    }

    /// Every string value of the line, to rewrite.
    pub(crate) fn strings_mut(&mut self) -> Vec<&mut String> {
        match self {
            Self::Session(s) => s.scenario.iter_mut().collect(),
            Self::Tick(_) => vec![],
            Self::End(e) => e.reason.iter_mut().collect(),
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
            Self::Request(r) => {
                let mut v: Vec<&mut String> = vec![&mut r.service, &mut r.call];
                v.extend(
                    [
                        &mut r.error_code,
                        &mut r.queue,
                        &mut r.container,
                        &mut r.blob,
                        &mut r.range,
                        &mut r.message_id,
                        &mut r.pop_receipt,
                        &mut r.new_pop_receipt,
                        &mut r.digest,
                        &mut r.api_version,
                        &mut r.project_id,
                        &mut r.iteration_id,
                    ]
                    .into_iter()
                    .flatten(),
                );
                for e in r.received.iter_mut().flatten() {
                    v.extend([&mut e.message_id, &mut e.pop_receipt]);
                }
                v
            }
            Self::Delivered(d) => {
                let mut v: Vec<&mut String> =
                    vec![&mut d.queue, &mut d.message_id, &mut d.class, &mut d.digest];
                v.extend(
                    [&mut d.notification_type, &mut d.project_id, &mut d.blob]
                        .into_iter()
                        .flatten(),
                );
                v
            }
            Self::Client(c) => [&mut c.program, &mut c.reason]
                .into_iter()
                .flatten()
                .collect(),
        }
    }
}
