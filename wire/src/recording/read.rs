//! Reading a recording: [`Reader`] streams raw lines (memory does not grow with the file), and
//! [`read_line`] checks one strictly (unknown fields, fields of another kind, missing fields and
//! secrets are refused, each with a reason) and says what it stands for.

use std::io::{self, BufRead};

use cvnotify_core::lifecycle::Evidence;
use cvnotify_core::redact;
use serde::Deserialize;

use super::inputs::{self, Item};
pub use super::problem::LineProblem;
use super::problem::unreadable;
use super::schema::{
    ApiLine, At, BlobEvent, BlobLine, ClientAction, ClientLine, DeliveredLine, Duty, EndLine,
    ExportEntry, Line, MessageLine, Outcome, ReceivedEntry, RequestLine, Scope, SessionLine,
    SourceName, TickLine,
};
use cvnotify_core::lifecycle::Operation;

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
    ms: Option<u32>,
    blob: Option<String>,
    range: Option<String>,
    pop_receipt: Option<String>,
    new_pop_receipt: Option<String>,
    received: Option<Vec<ReceivedEntry>>,
    visibility_timeout: Option<u32>,
    digest: Option<String>,
    api_version: Option<String>,
    storage_options: Option<bool>,
    retry_after: Option<u32>,
    connection: Option<u32>,
    open_connections: Option<u32>,
    client_request: Option<u32>,
    class: Option<String>,
    notification_type: Option<String>,
    base64: Option<bool>,
    action: Option<ClientAction>,
    program: Option<String>,
    status: Option<i32>,
    signal: Option<i32>,
    partial: Option<bool>,
    holds: Option<Vec<String>>,
    copy_source: Option<String>,
    notification_status: Option<String>,
    left: Option<u32>,
    blob_size: Option<u64>,
}

fn required<T>(value: Option<T>, field: &str, kind: &str) -> Result<T, LineProblem> {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    value.ok_or_else(|| unreadable(format!("{article} {kind} line needs `{field}`")))
}

/// Declares [`FIELDS`] and [`RawLine::present`] from one list, so that a field's name and its
/// bit cannot drift apart.
macro_rules! optional_fields {
    ($($field:ident: $name:literal),* $(,)?) => {
        /// The optional fields of a line, in the order of [`RawLine::present`]'s bits.
        const FIELDS: &[&str] = &[$($name),*];

        impl RawLine<'_> {
            /// One bit per present optional field, in the order of [`FIELDS`] (this runs for
            /// every line: no allocation, no string comparison).
            fn present(&self) -> u64 {
                [$(self.$field.is_some()),*]
                    .iter()
                    .enumerate()
                    .fold(0, |bits, (f, &on)| bits | (u64::from(on) << f))
            }
        }
    };
}

optional_fields! {
    version: "version",
    sources: "sources",
    scope: "scope",
    outcome: "outcome",
    reason: "reason",
    at: "at",
    queue: "queue",
    message_id: "messageId",
    dequeue_count: "dequeueCount",
    message_text: "messageText",
    redacted: "redacted",
    operation: "operation",
    project_id: "projectId",
    iteration_id: "iterationId",
    platform: "platform",
    flavor: "flavor",
    http_status: "httpStatus",
    error_code: "errorCode",
    notification_queue_uri: "notificationQueueUri",
    export_model_container_uri: "exportModelContainerUri",
    iteration_status: "iterationStatus",
    exports: "exports",
    container: "container",
    event: "event",
    name: "name",
    size: "size",
    scenario: "scenario",
    duties: "duties",
    service: "service",
    call: "call",
    ms: "ms",
    blob: "blob",
    range: "range",
    pop_receipt: "popReceipt",
    new_pop_receipt: "newPopReceipt",
    received: "received",
    visibility_timeout: "visibilityTimeout",
    digest: "digest",
    api_version: "apiVersion",
    storage_options: "storageOptions",
    retry_after: "retryAfter",
    connection: "connection",
    open_connections: "openConnections",
    client_request: "clientRequest",
    class: "class",
    notification_type: "notificationType",
    base64: "base64",
    action: "action",
    program: "program",
    status: "status",
    signal: "signal",
    partial: "partial",
    holds: "holds",
    copy_source: "copySource",
    notification_status: "notificationStatus",
    left: "left",
    blob_size: "blobSize",
}

// Each field has a bit of a `u64`.
const _: () = assert!(FIELDS.len() <= 64);

/// Whether two names are equal (in a constant).
const fn same(a: &[u8], b: &[u8]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (Some((x, a)), Some((y, b))) => *x == *y && same(a, b),
        _ => false,
    }
}

/// The place of `name` in `fields`, counted from `at` (past the end when it is not there).
const fn place(fields: &[&str], name: &str, at: u32) -> u32 {
    match fields.split_first() {
        Some((f, _)) if same(f.as_bytes(), name.as_bytes()) => at,
        Some((_, rest)) => place(rest, name, at + 1),
        None => u32::MAX,
    }
}

/// The bits of `names` among [`FIELDS`]. Only evaluated in constants, where a name not there
/// stops the build.
#[allow(
    clippy::panic,
    reason = "a panic in a constant is a build error, not a run-time one"
)]
const fn mask(names: &[&str]) -> u64 {
    match names.split_first() {
        Some((name, rest)) => match 1u64.checked_shl(place(FIELDS, name, 0)) {
            Some(bit) => bit | mask(rest),
            None => panic!("a line kind allows a field that RawLine does not have"),
        },
        None => 0,
    }
}

/// The fields a line of each kind may have; `None` for an unknown kind.
fn allowed(kind: &str) -> Option<u64> {
    Some(match kind {
        "session" => {
            const {
                mask(&[
                    "version", "sources", "at", "scope", "scenario", "duties", "partial",
                ])
            }
        }
        "end" => const { mask(&["at", "outcome", "reason"]) },
        "message" => {
            const {
                mask(&[
                    "at",
                    "queue",
                    "messageId",
                    "dequeueCount",
                    "messageText",
                    "redacted",
                ])
            }
        }
        "api" => {
            const {
                mask(&[
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
                ])
            }
        }
        "blob" => const { mask(&["at", "container", "event", "name", "size"]) },
        "tick" => const { mask(&["at"]) },
        "request" => {
            const {
                mask(&[
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
                    "openConnections",
                    "clientRequest",
                    "holds",
                    "copySource",
                ])
            }
        }
        "delivered" => {
            const {
                mask(&[
                    "at",
                    "queue",
                    "messageId",
                    "class",
                    "notificationType",
                    "projectId",
                    "blob",
                    "blobSize",
                    "notificationStatus",
                    "digest",
                    "base64",
                ])
            }
        }
        "client" => {
            const {
                mask(&[
                    "at", "action", "program", "status", "signal", "reason", "left",
                ])
            }
        }
        _ => return None,
    })
}

impl RawLine<'_> {
    fn into_line(self) -> Result<Line, LineProblem> {
        let Some(allowed) = allowed(&self.kind) else {
            return Err(unreadable(format!("unknown line kind {:?}", &*self.kind)));
        };
        let foreign = self.present() & !allowed;
        if foreign != 0 {
            let name = FIELDS
                .get(foreign.trailing_zeros() as usize)
                .copied()
                .unwrap_or_default();
            return Err(unreadable(format!(
                "`{name}` does not belong in a {} line",
                &*self.kind
            )));
        }
        let kind = self.kind;
        let k: &str = &kind;
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
            "request" => Line::Request(Box::new(RequestLine {
                at: required(self.at, "at", k)?,
                service: required(self.service, "service", k)?,
                call: required(self.call, "call", k)?,
                http_status: required(self.http_status, "httpStatus", k)?,
                ms: self.ms.unwrap_or(0),
                error_code: self.error_code,
                queue: self.queue,
                container: self.container,
                blob: self.blob,
                copy_source: self.copy_source.map(String::into_boxed_str),
                range: self.range,
                message_id: self.message_id,
                pop_receipt: self.pop_receipt,
                new_pop_receipt: self.new_pop_receipt,
                received: self.received,
                visibility_timeout: self.visibility_timeout,
                digest: self.digest,
                holds: self.holds.unwrap_or_default().into_boxed_slice(),
                api_version: self.api_version,
                project_id: self.project_id,
                iteration_id: self.iteration_id,
                storage_options: self.storage_options.unwrap_or(false),
                retry_after: self.retry_after,
                connection: self.connection,
                open_connections: self.open_connections,
                client_request: self.client_request,
            })),
            "delivered" => Line::Delivered(DeliveredLine {
                at: required(self.at, "at", k)?,
                queue: required(self.queue, "queue", k)?,
                message_id: required(self.message_id, "messageId", k)?,
                class: required(self.class, "class", k)?,
                notification_type: self.notification_type,
                project_id: self.project_id,
                blob: self.blob,
                notification_status: self.notification_status,
                blob_size: self.blob_size,
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
                left: self.left.unwrap_or(0),
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
    match decode_common(text) {
        Some(line) => without_secret(line),
        None => decode_any(text).and_then(without_secret),
    }
}

/// The line, unless one of its strings carries a secret.
fn without_secret(line: Line) -> Result<Line, LineProblem> {
    match line.strings().into_iter().find_map(redact::find) {
        Some(secret) => Err(LineProblem::Secret(secret)),
        None => Ok(line),
    }
}

/// Decodes a line of any kind, its fields in any order, into a [`RawLine`] that takes every
/// field of every kind, then checks it against its kind: the typed problem of a line that is
/// not right says what is wrong and where.
pub fn decode_any(text: &str) -> Result<Line, LineProblem> {
    let raw: RawLine<'_> = serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => unreadable(format!("not JSON: {e}")),
            Category::Data => unreadable(format!("not a recording line: {e}")),
        }
    })?;
    raw.into_line()
}

/// Decodes the lines most of a recording is (message, api and blob lines, `kind` first, as
/// the writer puts it) straight into their line type: a struct of a few fields instead of
/// [`RawLine`]'s fifty. `None` for anything else and for any line that is not right, which
/// [`decode_any`] then decodes (to the same line, or to its problem): this path only ever
/// accepts a line that one accepts too, with the same result (a property test and the
/// `recording_line` fuzz target check it).
pub fn decode_common(text: &str) -> Option<Line> {
    let mut json = serde_json::Deserializer::from_str(text);
    let line = serde::Deserializer::deserialize_map(&mut json, Common).ok()??;
    // Nothing but whitespace may follow the object.
    json.end().ok()?;
    Some(line)
}

/// The visitor of [`decode_common`]: the first key must be `kind`, and the rest of the object
/// is the kind's line type.
struct Common;

impl<'de> serde::de::Visitor<'de> for Common {
    type Value = Option<Line>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a recording line")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::value::MapAccessDeserializer;
        if map.next_key::<Word>()? != Some(Word::Kind) {
            return Ok(None);
        }
        let kind = map.next_value::<Word>()?;
        let rest = MapAccessDeserializer::new(map);
        Ok(Some(match kind {
            Word::Message => Line::Message(MessageLine::deserialize(rest)?),
            Word::Api => Line::Api(ApiLine::deserialize(rest)?),
            Word::Blob => Line::Blob(BlobLine::deserialize(rest)?),
            Word::Kind | Word::Other => return Ok(None),
        }))
    }
}

/// The words [`Common`] looks for, read where they are (a `Cow` would copy each into a
/// `String`).
#[derive(Debug, PartialEq, Eq)]
enum Word {
    Kind,
    Message,
    Api,
    Blob,
    Other,
}

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::schema::in_place(d, "a string", |text| {
            Ok(match text {
                "kind" => Self::Kind,
                "message" => Self::Message,
                "api" => Self::Api,
                "blob" => Self::Blob,
                _ => Self::Other,
            })
        })
    }
}

/// One line read: its number and what it amounts to.
#[derive(Debug)]
pub struct ReadLine {
    /// Its line number (from 1).
    pub number: u32,
    /// What it amounts to, or why it cannot be used.
    pub item: Result<Item, LineProblem>,
}

/// One raw line of a [`RawLines`]: its number, and where its text is in the batch's buffer (or
/// why it has none).
#[derive(Debug)]
struct RawSpan {
    number: u32,
    text: Result<std::ops::Range<usize>, LineProblem>,
}

/// Raw lines read in one go, their texts end to end in one buffer: one allocation for many
/// lines, and the reading thread only copies bytes and finds newlines (UTF-8 checks and
/// decoding happen in [`RawLines::read`], on whichever thread takes the batch).
#[derive(Debug)]
pub struct RawLines {
    buf: Vec<u8>,
    lines: Vec<RawSpan>,
    bytes: usize,
    /// Full at this many lines,
    most_lines: usize,
    /// or at this many bytes of text (the line that reaches it is kept whole).
    most_bytes: usize,
}

/// The buffer a batch of `bytes` starts with: a quarter more, for the line that reaches the
/// limit.
const fn room(bytes: usize) -> usize {
    bytes + bytes / 4
}

impl RawLines {
    /// An empty batch, full at `lines` lines or `bytes` bytes of text, whichever comes first.
    pub fn new(lines: usize, bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(room(bytes)),
            lines: Vec::new(),
            bytes: 0,
            most_lines: lines,
            most_bytes: bytes,
        }
    }

    /// An empty batch with the same limits.
    pub fn emptied(&self) -> Self {
        Self::new(self.most_lines, self.most_bytes)
    }

    /// This batch emptied for another round, its buffers kept (no allocation, no fresh pages
    /// to fault in), unless a long line grew them past twice their size.
    pub fn recycled(mut self) -> Self {
        if self.buf.capacity() > 2 * room(self.most_bytes)
            || self.lines.capacity() > 2 * self.most_lines
        {
            return self.emptied();
        }
        self.buf.clear();
        self.lines.clear();
        self.bytes = 0;
        self
    }

    /// Whether it has reached a limit.
    pub fn is_full(&self) -> bool {
        self.lines.len() >= self.most_lines || self.buf.len() >= self.most_bytes
    }

    /// How many lines it holds.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The bytes of the recording it covers, line endings and skipped blank lines included.
    pub const fn bytes(&self) -> usize {
        self.bytes
    }

    /// The number of its last line, if it has one.
    pub fn last_number(&self) -> Option<u32> {
        self.lines.last().map(|l| l.number)
    }

    /// What each line amounts to, in order (the expensive part: UTF-8, JSON, checks, message
    /// parsing).
    pub fn read(&self) -> impl Iterator<Item = ReadLine> + '_ {
        self.lines.iter().map(|line| {
            let item = match &line.text {
                Ok(range) => match self.buf.get(range.clone()).map(std::str::from_utf8) {
                    Some(Ok(text)) => read_line(text, line.number),
                    _ => Err(unreadable("the line is not UTF-8")),
                },
                Err(problem) => Err(problem.clone()),
            };
            ReadLine {
                number: line.number,
                item,
            }
        })
    }

    /// Adds a line read before (its number and text, kept whole), as a spilled line is read
    /// back. Its text is found by its place in the batch ([`RawLines::text_at`]): spilled
    /// lines need not come in the order of their numbers.
    pub fn push(&mut self, number: u32, text: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(text);
        self.bytes += text.len();
        self.lines.push(RawSpan {
            number,
            text: Ok(start..self.buf.len()),
        });
    }

    /// The text of the batch's `index`th line, if it has one.
    pub fn text_at(&self, index: usize) -> Option<&[u8]> {
        let range = self.lines.get(index)?.text.as_ref().ok()?;
        self.buf.get(range.clone())
    }

    /// The text of line `number`, if the batch holds it (its lines are numbered in order, as
    /// a [`Reader`] fills it) (and it has one: an over-long line
    /// does not).
    pub fn text(&self, number: u32) -> Option<&[u8]> {
        let at = self
            .lines
            .binary_search_by_key(&number, |l| l.number)
            .ok()?;
        let range = self.lines.get(at)?.text.as_ref().ok()?;
        self.buf.get(range.clone())
    }
}

/// The longest line a reader takes, in bytes: a message line holds at most a 64 KiB message,
/// which JSON escaping can grow at most six times; anything longer is not a recording line.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Streams a recording in batches of lines; memory does not grow with its length, nor with the
/// length of a line (a line longer than [`MAX_LINE_BYTES`] is skipped as unreadable without
/// being held).
pub struct Reader<R> {
    inner: R,
    number: u32,
}

impl<R: BufRead> Reader<R> {
    /// A reader of `inner`.
    pub fn new(inner: R) -> Self {
        Self::numbered_after(inner, 0)
    }

    /// A reader whose first line is numbered `base + 1` (a file's lines after the files
    /// before it).
    pub fn numbered_after(inner: R, base: u32) -> Self {
        Self {
            inner,
            number: base,
        }
    }

    /// Appends up to the next newline to `buf`, keeping at most `MAX_LINE_BYTES + 1` bytes of
    /// the line; returns how many bytes the line had (0 at the end).
    fn read_bounded(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let start = buf.len();
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
            let (chunk, done) = match memchr::memchr(b'\n', available) {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            let room = (MAX_LINE_BYTES + 1).saturating_sub(buf.len() - start);
            buf.extend_from_slice(available.get(..chunk.min(room)).unwrap_or_default());
            self.inner.consume(chunk);
            total += chunk;
            if done {
                return Ok(total);
            }
        }
    }

    /// Reads more non-empty lines into `batch`, until it is full; false at the end of the
    /// input. A line longer than [`MAX_LINE_BYTES`] is a bad line, not the end of the file.
    pub fn fill(&mut self, batch: &mut RawLines) -> io::Result<bool> {
        while !batch.is_full() {
            let start = batch.buf.len();
            let read = self.read_bounded(&mut batch.buf)?;
            if read == 0 {
                return Ok(false);
            }
            batch.bytes += read;
            self.number = self.number.saturating_add(1);
            let line = batch.buf.get(start..).unwrap_or_default();
            let content = read - usize::from(line.last() == Some(&b'\n'));
            let text = if content > MAX_LINE_BYTES {
                batch.buf.truncate(start);
                Err(unreadable(format!(
                    "the line has {content} bytes, more than a recording line can have ({MAX_LINE_BYTES}); skipped"
                )))
            } else {
                let body = line.len()
                    - line
                        .iter()
                        .rev()
                        .take_while(|b| matches!(b, b'\n' | b'\r'))
                        .count();
                let kept = line.get(..body).unwrap_or_default();
                // Blank: whitespace only (Unicode whitespace too, as `str::trim` has it).
                let blank = match kept.iter().find(|b| !b.is_ascii_whitespace()) {
                    None => true,
                    Some(&b) if b >= 0x80 => {
                        std::str::from_utf8(kept).is_ok_and(|t| t.trim().is_empty())
                    }
                    Some(_) => false,
                };
                if blank {
                    batch.buf.truncate(start);
                    continue;
                }
                batch.buf.truncate(start + body);
                Ok(start..start + body)
            };
            batch.lines.push(RawSpan {
                number: self.number,
                text,
            });
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The fields of a message, an api and a blob line, and what a field may be instead of
    /// its own value: absent, null, of another type, twice, or beside a field of another kind.
    const LINES: [&[(&str, &str)]; 3] = [
        &[
            ("kind", r#""message""#),
            ("at", r#""2026-01-01T00:00:00.2Z""#),
            ("queue", r#""notifications""#),
            ("messageId", r#""f569c12d-6194-598d-a4b6-c111a2b7145e""#),
            ("dequeueCount", "1"),
            (
                "messageText",
                r#""{\"version\":\"1.0\",\"type\":\"ConnectionTest\",\"Content\":{\"projectId\":\"c9ed9924-11bb-b661-5a44-bf355479a647\"}}""#,
            ),
            ("redacted", "true"),
        ],
        &[
            ("kind", r#""api""#),
            ("at", r#""2026-01-01T00:00:00.1Z""#),
            ("operation", r#""ExportIteration""#),
            ("projectId", r#""c9ed9924-11bb-b661-5a44-bf355479a647""#),
            ("iterationId", r#""e9fb109b-8401-34ff-9ff0-041396333a16""#),
            ("platform", r#""ONNX""#),
            ("flavor", "null"),
            ("httpStatus", "200"),
            ("errorCode", r#""BadRequest""#),
            (
                "notificationQueueUri",
                r#""https://a.queue.core.windows.net/q?sv=1&sig=abc""#,
            ),
            (
                "exportModelContainerUri",
                r#""https://a.blob.core.windows.net/c""#,
            ),
            ("iterationStatus", r#""Completed""#),
            ("exports", r#"[{"platform":"ONNX","status":"Done"}]"#),
        ],
        &[
            ("kind", r#""blob""#),
            ("at", r#""2026-01-01T00:03:21Z""#),
            ("container", r#""backups""#),
            ("event", r#""created""#),
            (
                "name",
                r#""c9ed9924-11bb-b661-5a44-bf355479a647 - e9fb109b-8401-34ff-9ff0-041396333a16.ONNX""#,
            ),
            ("size", "4200000"),
        ],
    ];

    /// What a field becomes in a generated line.
    #[derive(Clone, Debug)]
    enum Change {
        Keep,
        Drop,
        Null,
        Other(&'static str),
        Twice,
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            1 => Just(Change::Keep),
            1 => Just(Change::Drop),
            1 => Just(Change::Null),
            1 => prop::sample::select(vec![
                "0", "-1", "70000", "\"\"", "\"x\"", "[]", "{}", "false", "1.5",
                "\"tick\"", "\"session\"",
            ])
            .prop_map(Change::Other),
            1 => Just(Change::Twice),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// However a common line is changed (up to two fields dropped, null, of another type or
        /// kind, or twice; the fields in another order, `kind` not first; a field of another
        /// kind or of none; text after the object), the fast path gives what the
        /// general one gives: the same line, or nothing and the general path's problem.
        #[test]
        fn the_common_path_decodes_as_the_general_one(
            which in 0usize..3,
            changes in prop::collection::vec((any::<prop::sample::Index>(), change()), 0..3),
            order in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            after in prop::sample::select(vec!["", "", "", " \t", "}", "x", "{}", "\"\"", "26-01"]),
            foreign in prop::option::weighted(0.3, prop::sample::select(vec![
                r#""scope":"created""#, r#""ms":3"#, r#""queue":"q""#, r#""size":1"#,
                r#""version":3"#, r#""unknownField":1"#,
            ])),
        ) {
            let fields = LINES.get(which).copied().unwrap_or_default();
            let mut parts: Vec<String> = Vec::new();
            for (at, (name, value)) in fields.iter().enumerate() {
                // The last change of a field is the one it gets.
                let change = changes
                    .iter()
                    .rev()
                    .find(|(i, _)| i.index(fields.len()) == at)
                    .map_or(&Change::Keep, |(_, c)| c);
                let pair = |v: &str| format!("\"{name}\":{v}");
                match change {
                    Change::Keep => parts.push(pair(value)),
                    Change::Drop => {}
                    Change::Null => parts.push(pair("null")),
                    Change::Other(v) => parts.push(pair(v)),
                    Change::Twice => {
                        parts.push(pair(value));
                        parts.push(pair(value));
                    }
                }
            }
            for index in &order {
                if !parts.is_empty() {
                    let at = index.index(parts.len());
                    let part = parts.remove(at);
                    parts.push(part);
                }
            }
            parts.extend(foreign.map(str::to_string));
            let text = format!("{{{}}}{after}", parts.join(","));
            let general = decode_any(&text);
            if let Some(fast) = decode_common(&text) {
                prop_assert_eq!(general.as_ref(), Ok(&fast), "{}", text);
            }
            // The whole decode is the general path's, secret check included.
            let whole = general.and_then(without_secret);
            prop_assert_eq!(decode(&text), whole, "{}", text);
        }
    }

    /// Lines as the writer writes them take the fast path.
    #[test]
    fn written_lines_take_the_common_path() {
        for fields in LINES {
            let text = format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(n, v)| format!("\"{n}\":{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            assert!(decode_common(&text).is_some(), "{text}");
        }
    }
}
