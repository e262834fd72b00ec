//! Reading a recording: [`Reader`] streams raw lines (memory does not grow with the file), and
//! [`read_line`] checks one strictly (unknown fields, fields of another kind, missing fields and
//! secrets are refused, each with a reason) and says what it stands for.

use std::io::{self, BufRead};

use cvnotify_core::lifecycle::Evidence;
use cvnotify_core::redact;
use serde::Deserialize;

use super::inputs::{self, Item};
use super::schema::{
    ApiLine, At, BlobEvent, BlobLine, ClientAction, ClientLine, DeliveredLine, Duty, EndLine,
    ExportEntry, Line, MessageLine, Outcome, ReceivedEntry, RequestLine, Scope, SessionLine,
    SourceName, TickLine,
};
use cvnotify_core::lifecycle::Operation;

/// Why a line could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineProblem {
    /// Not a recording line (JSON, kind, fields or values).
    Unreadable(String),
    /// It carries a secret.
    Secret(redact::SecretKind),
}

impl LineProblem {
    /// The check code a report files it under.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Unreadable(_) => "unreadable-line",
            Self::Secret(_) => "secret-in-recording",
        }
    }
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(why) => f.write_str(why),
            Self::Secret(kind) => write!(f, "the line carries {}; it was refused", kind.as_str()),
        }
    }
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
    scope: Option<Scope>,
    outcome: Option<Outcome>,
    reason: Option<String>,
    at: Option<At>,
    queue: Option<String>,
    message_id: Option<String>,
    dequeue_count: Option<u32>,
    message_text: Option<String>,
    redacted: Option<bool>,
    operation: Option<Operation>,
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
    scenario: Option<String>,
    duties: Option<Vec<Duty>>,
    service: Option<String>,
    call: Option<String>,
    ms: Option<u64>,
    blob: Option<String>,
    range: Option<String>,
    pop_receipt: Option<String>,
    new_pop_receipt: Option<String>,
    received: Option<Vec<ReceivedEntry>>,
    visibility_timeout: Option<u64>,
    digest: Option<String>,
    api_version: Option<String>,
    storage_options: Option<bool>,
    retry_after: Option<u64>,
    connection: Option<u64>,
    class: Option<String>,
    notification_type: Option<String>,
    base64: Option<bool>,
    action: Option<ClientAction>,
    program: Option<String>,
    status: Option<i32>,
    signal: Option<i32>,
    partial: Option<bool>,
}

fn required<T>(value: Option<T>, field: &str, kind: &str) -> Result<T, LineProblem> {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    value.ok_or_else(|| unreadable(format!("{article} {kind} line needs `{field}`")))
}

impl RawLine<'_> {
    /// The first present field not in `allowed` (no allocation: this runs for every line).
    fn foreign(&self, allowed: &[&str]) -> Option<&'static str> {
        let all = [
            ("version", self.version.is_some()),
            ("sources", self.sources.is_some()),
            ("scope", self.scope.is_some()),
            ("outcome", self.outcome.is_some()),
            ("reason", self.reason.is_some()),
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
            ("scenario", self.scenario.is_some()),
            ("duties", self.duties.is_some()),
            ("service", self.service.is_some()),
            ("call", self.call.is_some()),
            ("ms", self.ms.is_some()),
            ("blob", self.blob.is_some()),
            ("range", self.range.is_some()),
            ("popReceipt", self.pop_receipt.is_some()),
            ("newPopReceipt", self.new_pop_receipt.is_some()),
            ("received", self.received.is_some()),
            ("visibilityTimeout", self.visibility_timeout.is_some()),
            ("digest", self.digest.is_some()),
            ("apiVersion", self.api_version.is_some()),
            ("storageOptions", self.storage_options.is_some()),
            ("retryAfter", self.retry_after.is_some()),
            ("connection", self.connection.is_some()),
            ("class", self.class.is_some()),
            ("notificationType", self.notification_type.is_some()),
            ("base64", self.base64.is_some()),
            ("action", self.action.is_some()),
            ("program", self.program.is_some()),
            ("status", self.status.is_some()),
            ("signal", self.signal.is_some()),
            ("partial", self.partial.is_some()),
        ];
        all.into_iter()
            .find(|(name, on)| *on && !allowed.contains(name))
            .map(|(name, _)| name)
    }

    fn into_line(self) -> Result<Line, LineProblem> {
        let kind = self.kind.to_string();
        let allowed: &[&str] = match kind.as_str() {
            "session" => &[
                "version", "sources", "at", "scope", "scenario", "duties", "partial",
            ],
            "end" => &["at", "outcome", "reason"],
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
            "request" => &[
                "at",
                "service",
                "call",
                "httpStatus",
                "ms",
                "errorCode",
                "queue",
                "container",
                "blob",
                "range",
                "messageId",
                "popReceipt",
                "newPopReceipt",
                "received",
                "visibilityTimeout",
                "digest",
                "apiVersion",
                "projectId",
                "iterationId",
                "storageOptions",
                "retryAfter",
                "connection",
            ],
            "delivered" => &[
                "at",
                "queue",
                "messageId",
                "class",
                "notificationType",
                "projectId",
                "blob",
                "digest",
                "base64",
            ],
            "client" => &["at", "action", "program", "status", "signal", "reason"],
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
                at: self.at,
                scope: self.scope.unwrap_or_default(),
                scenario: self.scenario,
                duties: self.duties.unwrap_or_default(),
                partial: self.partial.unwrap_or(false),
            }),
            "end" => Line::End(EndLine {
                at: required(self.at, "at", k)?,
                outcome: required(self.outcome, "outcome", k)?,
                reason: self.reason,
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
            "request" => Line::Request(RequestLine {
                at: required(self.at, "at", k)?,
                service: required(self.service, "service", k)?,
                call: required(self.call, "call", k)?,
                http_status: required(self.http_status, "httpStatus", k)?,
                ms: self.ms.unwrap_or(0),
                error_code: self.error_code,
                queue: self.queue,
                container: self.container,
                blob: self.blob,
                range: self.range,
                message_id: self.message_id,
                pop_receipt: self.pop_receipt,
                new_pop_receipt: self.new_pop_receipt,
                received: self.received,
                visibility_timeout: self.visibility_timeout,
                digest: self.digest,
                api_version: self.api_version,
                project_id: self.project_id,
                iteration_id: self.iteration_id,
                storage_options: self.storage_options.unwrap_or(false),
                retry_after: self.retry_after,
                connection: self.connection,
            }),
            "delivered" => Line::Delivered(DeliveredLine {
                at: required(self.at, "at", k)?,
                queue: required(self.queue, "queue", k)?,
                message_id: required(self.message_id, "messageId", k)?,
                class: required(self.class, "class", k)?,
                notification_type: self.notification_type,
                project_id: self.project_id,
                blob: self.blob,
                digest: required(self.digest, "digest", k)?,
                base64: self.base64.unwrap_or(false),
            }),
            "client" => Line::Client(ClientLine {
                at: required(self.at, "at", k)?,
                action: required(self.action, "action", k)?,
                program: self.program,
                status: self.status,
                signal: self.signal,
                reason: self.reason,
            }),
            _ => Line::Tick(TickLine {
                at: required(self.at, "at", k)?,
            }),
        })
    }
}

/// Reads one line (without its newline) of a recording.
pub fn read_line(text: &str, number: u32) -> Result<Item, LineProblem> {
    let line = decode(text)?;
    let evidence = Evidence::new(number).ok_or_else(|| unreadable("line number 0"))?;
    inputs::item(line, evidence)
}

/// Decodes one line strictly: JSON, a known kind, only that kind's fields, the required ones
/// present, no secret in any string.
pub fn decode(text: &str) -> Result<Line, LineProblem> {
    let raw: RawLine<'_> = serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => unreadable(format!("not JSON: {e}")),
            Category::Data => unreadable(format!("not a recording line: {e}")),
        }
    })?;
    let line = raw.into_line()?;
    if let Some(secret) = line.strings().into_iter().find_map(redact::find) {
        return Err(LineProblem::Secret(secret));
    }
    Ok(line)
}

/// One line read: its number and what it amounts to.
#[derive(Debug)]
pub struct ReadLine {
    /// Its line number (from 1).
    pub number: u32,
    /// What it amounts to, or why it cannot be used.
    pub item: Result<Item, LineProblem>,
}

/// One raw line: its number, its length in bytes, its text (or why it has none).
#[derive(Debug)]
pub struct RawText {
    /// Its line number (from 1).
    pub number: u32,
    /// Its length in bytes, line ending included.
    pub bytes: usize,
    /// Its text, or why it has none (not UTF-8).
    pub text: Result<String, LineProblem>,
}

impl RawText {
    /// What the line amounts to (the expensive part: JSON, checks, message parsing).
    pub fn read(self) -> ReadLine {
        let item = self.text.and_then(|text| read_line(&text, self.number));
        ReadLine {
            number: self.number,
            item,
        }
    }
}

/// The longest line a reader takes, in bytes: a message line holds at most a 64 KiB message,
/// which JSON escaping can grow at most six times; anything longer is not a recording line.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Streams a recording line by line; memory does not grow with its length, nor with the length
/// of a line (a line longer than [`MAX_LINE_BYTES`] is skipped as unreadable without being held).
pub struct Reader<R> {
    inner: R,
    buf: Vec<u8>,
    number: u32,
}

impl<R: BufRead> Reader<R> {
    /// A reader of `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            number: 0,
        }
    }

    /// Reads up to the next newline into `self.buf`, keeping at most `MAX_LINE_BYTES + 1`
    /// bytes of it; returns how many bytes the line had (0 at the end).
    fn read_bounded(&mut self) -> io::Result<usize> {
        self.buf.clear();
        let mut total = 0;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(total);
            }
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            let room = (MAX_LINE_BYTES + 1).saturating_sub(self.buf.len());
            self.buf
                .extend_from_slice(available.get(..chunk.min(room)).unwrap_or_default());
            self.inner.consume(chunk);
            total += chunk;
            if done {
                return Ok(total);
            }
        }
    }

    /// The next non-empty raw line. `None` at the end. A line that is not UTF-8, or longer than
    /// [`MAX_LINE_BYTES`], is a bad line, not the end of the file.
    pub fn next_raw(&mut self) -> io::Result<Option<RawText>> {
        loop {
            let read = self.read_bounded()?;
            if read == 0 {
                return Ok(None);
            }
            self.number = self.number.saturating_add(1);
            let content = read - usize::from(self.buf.last() == Some(&b'\n'));
            if content > MAX_LINE_BYTES {
                let text = Err(unreadable(format!(
                    "the line has {content} bytes, more than a recording line can have ({MAX_LINE_BYTES}); skipped"
                )));
                return Ok(Some(RawText {
                    number: self.number,
                    bytes: read,
                    text,
                }));
            }
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

/// A line that is not a recording line, with the reason.
pub(crate) fn unreadable(why: impl Into<String>) -> LineProblem {
    LineProblem::Unreadable(why.into())
}
