//! The client judge, sans-I/O: fed what the simulation delivered to the queue and every request
//! the client made (its journal), in the order they happened, it keeps what each rule needs and
//! says, at the end, which [`ClientFindingCode`]s the client earned, each with a count and the
//! evidence (journal line numbers) of its first occurrences. Memory holds one entry per message
//! and per announced blob, whatever the number of requests.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use super::finding::{ClientFindingCode, Duties};
use crate::lifecycle::Timestamp;

/// How many examples of each finding the judge keeps (the count is always exact).
pub const EXAMPLES: usize = 20;

/// Empty receives in a row, each within [`IDLE_WINDOW_MS`] of the last, that make busy polling.
pub const BUSY_POLLS: u32 = 10;
/// See [`BUSY_POLLS`].
pub const IDLE_WINDOW_MS: u64 = 1000;
/// Empty receives this close together, on average, are busy polling however they began.
pub const BUSY_GAP_MS: u64 = 100;
/// How early a request may come before a `Retry-After` ends without counting (the journal
/// stamps requests when they arrive, answers leave a little later).
pub const RETRY_AFTER_SLACK_MS: u64 = 50;

/// The service a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// The Custom Vision training API.
    Api,
    /// The Queue service.
    Queue,
    /// The Blob service.
    Blob,
}

impl Service {
    /// `api`, `queue` or `blob`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Queue => "queue",
            Self::Blob => "blob",
        }
    }
}

macro_rules! calls {
    ($($(#[$doc:meta])* $name:ident = $text:literal, $service:ident;)*) => {
        /// The operation a request was, by the REST references' names.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Call {
            $($(#[$doc])* $name,)*
        }

        impl Call {
            /// Every operation.
            pub const ALL: &'static [Call] = &[$(Call::$name),*];

            /// The name as written.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Call::$name => $text,)*
                }
            }

            /// The service it belongs to.
            pub const fn service(self) -> Service {
                match self {
                    $(Call::$name => Service::$service,)*
                }
            }

            /// The operation named `text`.
            pub fn from_name(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|c| c.as_str() == text)
            }
        }
    };
}

calls! {
    /// List Queues.
    ListQueues = "ListQueues", Queue;
    /// Create Queue.
    CreateQueue = "CreateQueue", Queue;
    /// Delete Queue.
    DeleteQueue = "DeleteQueue", Queue;
    /// Get Queue Metadata (also the approximate count).
    GetQueueMetadata = "GetQueueMetadata", Queue;
    /// Set Queue Metadata.
    SetQueueMetadata = "SetQueueMetadata", Queue;
    /// Put Message.
    PutMessage = "PutMessage", Queue;
    /// Get Messages.
    GetMessages = "GetMessages", Queue;
    /// Peek Messages.
    PeekMessages = "PeekMessages", Queue;
    /// Update Message.
    UpdateMessage = "UpdateMessage", Queue;
    /// Delete Message.
    DeleteMessage = "DeleteMessage", Queue;
    /// Clear Messages.
    ClearMessages = "ClearMessages", Queue;
    /// List Containers.
    ListContainers = "ListContainers", Blob;
    /// Create Container.
    CreateContainer = "CreateContainer", Blob;
    /// Delete Container.
    DeleteContainer = "DeleteContainer", Blob;
    /// Get Container Properties (and Metadata).
    GetContainerProperties = "GetContainerProperties", Blob;
    /// Set Container Metadata.
    SetContainerMetadata = "SetContainerMetadata", Blob;
    /// List Blobs.
    ListBlobs = "ListBlobs", Blob;
    /// Put Blob.
    PutBlob = "PutBlob", Blob;
    /// Get Blob.
    GetBlob = "GetBlob", Blob;
    /// Get Blob Properties.
    GetBlobProperties = "GetBlobProperties", Blob;
    /// Delete Blob.
    DeleteBlob = "DeleteBlob", Blob;
    /// Copy Blob (within the account).
    CopyBlob = "CopyBlob", Blob;
    /// Put Block.
    PutBlock = "PutBlock", Blob;
    /// Put Block List.
    PutBlockList = "PutBlockList", Blob;
    /// Get Block List.
    GetBlockList = "GetBlockList", Blob;
    /// Set Blob Properties.
    SetBlobProperties = "SetBlobProperties", Blob;
    /// Set Blob Metadata.
    SetBlobMetadata = "SetBlobMetadata", Blob;
    /// Lease Blob (acquire, renew, change, release, break).
    LeaseBlob = "LeaseBlob", Blob;
    /// Lease Container (acquire, renew, change, release, break).
    LeaseContainer = "LeaseContainer", Blob;
    /// GetDomains, GetDomain.
    GetDomains = "GetDomains", Api;
    /// GetProjects.
    GetProjects = "GetProjects", Api;
    /// GetProject.
    GetProject = "GetProject", Api;
    /// CreateProject.
    CreateProject = "CreateProject", Api;
    /// UpdateProject.
    UpdateProject = "UpdateProject", Api;
    /// DeleteProject.
    DeleteProject = "DeleteProject", Api;
    /// CreateTag, GetTags, GetTag, UpdateTag, DeleteTag.
    Tags = "Tags", Api;
    /// CreateImagesFromData/Files/Urls, GetImages, the image counts.
    Images = "Images", Api;
    /// TrainProject.
    TrainProject = "TrainProject", Api;
    /// GetIterations.
    GetIterations = "GetIterations", Api;
    /// GetIteration.
    GetIteration = "GetIteration", Api;
    /// UpdateIteration.
    UpdateIteration = "UpdateIteration", Api;
    /// DeleteIteration.
    DeleteIteration = "DeleteIteration", Api;
    /// GetIterationPerformance.
    GetIterationPerformance = "GetIterationPerformance", Api;
    /// PublishIteration.
    PublishIteration = "PublishIteration", Api;
    /// UnpublishIteration.
    UnpublishIteration = "UnpublishIteration", Api;
    /// ExportIteration.
    ExportIteration = "ExportIteration", Api;
    /// GetExports.
    GetExports = "GetExports", Api;
    /// QuickTestImage, QuickTestImageUrl.
    QuickTest = "QuickTest", Api;
    /// A training API request no operation matches.
    OtherApi = "OtherApi", Api;
    /// A storage request no operation matches.
    OtherStorage = "OtherStorage", Queue;
}

/// What a delivered message is, to the client that must handle it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageClass {
    /// A valid notification: the client must act on it and delete it.
    Notification,
    /// Well-formed, of a `type` the seed does not name: the client must not choke on it.
    Unrecognized,
    /// Not a notification at all: the client must leave it to be poisoned, or move it.
    Malformed,
}

impl MessageClass {
    /// `notification`, `unrecognized` or `malformed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "notification",
            Self::Unrecognized => "unrecognized",
            Self::Malformed => "malformed",
        }
    }
}

/// A message the simulation put on the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The queue.
    pub queue: String,
    /// Its `MessageId`.
    pub message_id: String,
    /// What it is.
    pub class: MessageClass,
    /// The backup blob it announces (an `ExportCompleted` with a `modelUri` in the container).
    pub blob: Option<String>,
    /// A digest of its text (to recognise it moved to a poison queue).
    pub digest: Option<String>,
    /// The notification's status (`TrainingFailed`, `ExportCompleted`, ...), when it has one.
    pub status: Option<String>,
    /// Whether it went out base64-encoded.
    pub base64: bool,
    /// The size of the backup blob it announces, when known.
    pub blob_size: Option<u64>,
}

/// A message a receive handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Its `MessageId`.
    pub message_id: String,
    /// The pop receipt that came with it.
    pub pop_receipt: String,
}

/// One request of the client, with what the simulation answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The operation.
    pub call: Option<Call>,
    /// The answer's status (0: none, the connection was reset).
    pub status: u16,
    /// The queue, for queue calls.
    pub queue: Option<String>,
    /// The message, for Update and Delete Message.
    pub message_id: Option<String>,
    /// The pop receipt it carried.
    pub pop_receipt: Option<String>,
    /// Update Message: the new pop receipt.
    pub new_pop_receipt: Option<String>,
    /// Get Messages: what it handed out.
    pub received: Vec<Received>,
    /// The blob, for blob calls (`container/name`).
    pub blob: Option<String>,
    /// Get Blob: the range asked for (`bytes=0-99`); none: the whole blob.
    pub range: Option<String>,
    /// The project, for training API calls about one.
    pub project: Option<String>,
    /// The iteration, for training API calls about one.
    pub iteration: Option<String>,
    /// The training API version of the path (`v3.3`).
    pub api_version: Option<String>,
    /// CreateProject/UpdateProject: whether it carried the storage URIs.
    pub storage_options: bool,
    /// Put Message: a digest of the text.
    pub digest: Option<String>,
    /// Put Message: digests of what the text holds (its base64 decoding or encoding, the
    /// string fields of a JSON object), so that a message moved in an envelope is recognised.
    pub holds: Vec<String>,
    /// Copy Blob: the source blob (`container/name`), when it is in the account.
    pub copy_source: Option<String>,
    /// Get Messages and Update Message: the visibility timeout asked for, in seconds (0 on an
    /// Update Message releases the message for another receive).
    pub visibility_timeout: Option<u64>,
    /// Which TCP connection it came on, when known.
    pub connection: Option<u32>,
    /// How many connections to the same service the client had open when it came, when
    /// known: its concurrency (a connection pool opens one for a request that finds the others
    /// busy, and keeps it).
    pub open_connections: Option<u32>,
    /// A 32-bit digest of its `x-ms-client-request-id`, when it sent one: the official SDKs
    /// keep the id across their own retries of a request, so it tells a retry from another
    /// receiver's request.
    pub client_request: Option<u32>,
    /// The answer's `Retry-After`, in milliseconds.
    pub retry_after_ms: Option<u64>,
}

/// How the client's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEnd {
    /// It exited on its own with this status.
    Exited(i32),
    /// A signal it was not sent killed it.
    Killed(i32),
    /// It was stopped once its scenario was over (SIGTERM, then SIGKILL): not a failure.
    Stopped,
    /// It could not be started.
    Unstartable(String),
    /// Its work was not done when the timeout came; it was stopped.
    TimedOut,
}

/// One thing the judge is fed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "events are fed one at a time; where many are held (replay batches) they are boxed"
)]
pub enum ClientEvent {
    /// The simulation delivered a message.
    Delivered(Delivered),
    /// The client made a request.
    Request(Request),
    /// The client was killed mid-run and started again: every message it held is given up
    /// (a receive of it after this is a retry, not a second processing).
    Restarted,
    /// The client's process ended; `note` says more (the end of its stderr).
    Ended {
        /// How.
        end: ClientEnd,
        /// What it said last, when it failed.
        note: Option<String>,
        /// Processes of its own it left running when it exited on its own (they were
        /// stopped for it).
        left: u32,
    },
}

/// One example of a finding: the journal line that shows it and what it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientExample {
    /// The journal line.
    pub evidence: u32,
    /// When.
    pub at: Timestamp,
    /// What it shows.
    pub detail: String,
}

/// A finding, with its exact count and its first examples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFinding {
    /// What.
    pub code: ClientFindingCode,
    /// How many times.
    pub count: u64,
    /// The first [`EXAMPLES`].
    pub examples: Vec<ClientExample>,
}

#[derive(Debug)]
struct Receipt {
    receipt: String,
    acted: bool,
    /// Given back on purpose (Update Message with visibility 0): a receive after it is a
    /// retry, not a redelivery after a visibility timeout ran out.
    released: bool,
    /// When the message becomes visible again if nothing more is done with it.
    visible_at: Timestamp,
    /// A Delete Message under it came before its visibility ended and was turned away (429,
    /// 503, or no clear answer): the client did its part in time, the redelivery is not its
    /// doing.
    delete_refused: bool,
}

/// The visibility timeout a Get Messages gets when it asks for none (Storage REST: 30 s).
pub const DEFAULT_VISIBILITY_MS: u64 = 30_000;

#[derive(Debug)]
struct Message {
    class: Option<MessageClass>,
    blob: Option<String>,
    digest: Option<String>,
    delivered_at: (u32, Timestamp),
    receipts: Vec<Receipt>,
    /// Receipts the client's own Update Messages replaced.
    updated_away: BTreeSet<String>,
    /// Whether it went out base64-encoded.
    base64: bool,
    deleted: bool,
    twice: bool,
}

#[derive(Debug, Default)]
struct Idle {
    run: u32,
    last: Option<Timestamp>,
    reported: bool,
    /// The first connection receives came on, and whether another carried one since.
    first: Option<u32>,
    several: bool,
    /// The most connections the client had open to the queue service at a receive.
    loops: u32,
    /// The run's first [`BUSY_POLLS`] gaps, added up, and how many there were.
    head: (u64, u32),
    /// The run's latest [`BUSY_POLLS`] gaps (a ring) and their sum.
    tail: [u64; BUSY_POLLS as usize],
    tail_sum: u64,
}

impl Idle {
    /// The run of empty receives goes on after a gap of `g` milliseconds.
    fn continued(&mut self, g: u64) {
        let n = self.run; // gaps so far in the run
        self.run += 1;
        if self.head.1 < BUSY_POLLS {
            self.head.0 += g;
            self.head.1 += 1;
        }
        if let Some(slot) = self.tail.get_mut(n as usize % BUSY_POLLS as usize) {
            self.tail_sum = self.tail_sum - *slot + g;
            *slot = g;
        }
    }

    /// A new run of empty receives starts.
    fn restart(&mut self) {
        self.run = 1;
        self.head = (0, 0);
        self.tail = [0; BUSY_POLLS as usize];
        self.tail_sum = 0;
    }

    /// Whether the run shows no back-off: its latest [`BUSY_POLLS`] gaps, taken together, are
    /// no longer than half again its first ones, or they come ten a second or faster.
    /// Receivers that back off (each doubling its wait) space their polls out even when
    /// several of them share the queue; a loop that does not keeps its pace.
    fn steady(&self) -> bool {
        let fast = self.tail_sum <= u64::from(BUSY_POLLS) * BUSY_GAP_MS;
        let kept_pace = self.tail_sum.saturating_mul(2) <= self.head.0.saturating_mul(3);
        self.run > 2 * BUSY_POLLS && (fast || kept_pace)
    }

    /// A receive on connection `c`, with `open` connections open.
    fn connected(&mut self, c: Option<u32>, open: Option<u32>) {
        if let Some(c) = c {
            self.several |= self.first.is_some_and(|f| f != c);
            self.first.get_or_insert(c);
        }
        self.loops = self.loops.max(open.unwrap_or(1));
    }

    /// How many receiving loops the client shows on this queue, as far as the wire can tell:
    /// the most connections it had open at once (a connection pool opens one only for a
    /// request that finds the others busy). A client that opens a connection for every
    /// request and closes it shows one loop.
    fn loops(&self) -> u32 {
        self.loops.max(1)
    }

    /// Whether receives came on more than one connection: a request on the connection another
    /// receiver was throttled on may then be that receiver's own.
    fn shared(&self) -> bool {
        self.several
    }
}

/// The judge of one client run.
#[derive(Debug, Default)]
pub struct ClientJudge {
    duties: Duties,
    messages: BTreeMap<String, Message>,
    /// Announced blob -> the message that announced it, and what of it was read.
    announced: BTreeMap<String, (String, Coverage)>,
    /// Blobs the client wrote itself.
    own_blobs: BTreeSet<String>,
    poisoned: BTreeSet<String>,
    /// The throttled answers whose Retry-After has not ended.
    throttles: Vec<Throttle>,
    /// Per queue, the run of empty receives.
    idle: BTreeMap<String, Idle>,
    /// Calls answered ambiguously, not yet looked into: (call, about) -> evidence.
    ambiguous: BTreeMap<(Call, String), u32>,
    findings: BTreeMap<ClientFindingCode, ClientFinding>,
    requests: u64,
    delivered: u64,
    end: Option<End>,
    last: Timestamp,
    configured: bool,
    trained: bool,
    exported: bool,
    /// A Training notification said the training failed: nothing to export.
    training_failed: bool,
    /// The client's last request: its line and status.
    last_request: Option<(u32, u16)>,
    /// When the first event came.
    first: Option<Timestamp>,
}

/// What of an announced blob the client read: its size (when the delivery said) and the byte
/// ranges its successful Get Blobs covered, merged. A download in ranges (the SDKs switch to
/// them for a large blob) counts once the ranges cover the whole blob.
#[derive(Clone, Debug, Default)]
struct Coverage {
    size: Option<u64>,
    /// Disjoint, sorted, half-open ranges; at most [`RANGES`] of them.
    ranges: Vec<(u64, u64)>,
    /// A Get Blob without a range (the whole blob) answered.
    all: bool,
}

/// The most disjoint ranges kept for one blob (a client reading it in scattered pieces beyond
/// that is not credited with more).
const RANGES: usize = 64;

impl Coverage {
    /// A successful Get Blob with `range` (`bytes=A-B`, `bytes=A-`; none: the whole blob).
    fn read(&mut self, range: Option<&str>) {
        let Some(range) = range else {
            self.all = true;
            return;
        };
        let Some((start, end)) = parse_range(range, self.size) else {
            return;
        };
        if start >= end {
            return;
        }
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.ranges.len() + 1);
        let mut new = (start, end);
        for &(a, b) in &self.ranges {
            if b < new.0 || a > new.1 {
                merged.push((a, b));
            } else {
                new = (new.0.min(a), new.1.max(b));
            }
        }
        if merged.len() < RANGES {
            merged.push(new);
        }
        merged.sort_unstable();
        self.ranges = merged;
    }

    /// Whether the whole blob was read.
    fn whole(&self) -> bool {
        if self.all {
            return true;
        }
        match self.size {
            Some(size) => self
                .ranges
                .first()
                .is_some_and(|&(a, b)| a == 0 && b >= size),
            // Without its size, any read of it counts.
            None => !self.ranges.is_empty(),
        }
    }

    /// How many bytes the ranges cover.
    fn read_bytes(&self) -> u64 {
        self.ranges.iter().map(|(a, b)| b - a).sum()
    }
}

/// `bytes=A-B` (inclusive) or `bytes=A-` as a half-open range; `None` when it is neither.
fn parse_range(range: &str, size: Option<u64>) -> Option<(u64, u64)> {
    let (a, b) = range.trim().strip_prefix("bytes=")?.split_once('-')?;
    let start = a.trim().parse::<u64>().ok()?;
    let end = match b.trim() {
        "" => size?,
        b => b.parse::<u64>().ok()?.checked_add(1)?,
    };
    Some((start, size.map_or(end, |s| end.min(s))))
}

/// A throttled answer whose Retry-After has not ended: what it was to, where it came from.
#[derive(Clone, Debug)]
struct Throttle {
    until: Timestamp,
    line: u32,
    target: String,
    service: Service,
    connection: Option<u32>,
    client_request: Option<u32>,
}

impl Throttle {
    /// Whether `r` repeats the throttled request: the same call to the same resource, and
    /// either the same client request id (an SDK that keeps it across its retries, as the
    /// JavaScript one does) or, from a client that shows one receiving loop, the same
    /// connection (the Python SDK gives every try an id of its own; a raw client sends none).
    /// Where the client shows several loops, a request on the connection another loop was
    /// throttled on may be that loop's own: only the id tells.
    fn repeated_by(&self, r: &Request, service: Service, target: &str, loops: u32) -> bool {
        let same_request = self.client_request.is_some() && self.client_request == r.client_request;
        let same_connection =
            loops == 1 && self.service == service && self.connection == r.connection;
        self.target == target && (same_request || same_connection)
    }
}

/// The most throttled answers kept waiting for their Retry-After at once.
const THROTTLES: usize = 1024;

#[derive(Debug)]
struct End {
    end: ClientEnd,
    line: u32,
    at: Timestamp,
    note: Option<String>,
    left: u32,
}

/// Statuses that do not say whether a call took effect: no answer, a timeout, a server error
/// (429 and 503 say it was turned away).
const fn ambiguous(status: u16) -> bool {
    matches!(status, 0 | 408 | 500 | 502 | 504)
}

/// Statuses that turn a request away for a while.
const fn throttled(status: u16) -> bool {
    matches!(status, 429 | 503)
}

const fn ok(status: u16) -> bool {
    status >= 200 && status < 300
}

/// What a request was to: its operation and the resource, to tell a repeat.
fn target(r: &Request) -> String {
    let parts = [
        r.call.map_or("", Call::as_str),
        r.queue.as_deref().unwrap_or_default(),
        r.message_id.as_deref().unwrap_or_default(),
        r.blob.as_deref().unwrap_or_default(),
        r.project.as_deref().unwrap_or_default(),
        r.iteration.as_deref().unwrap_or_default(),
    ];
    parts.join("\u{1f}")
}

impl ClientJudge {
    /// A judge for a client with `duties`.
    pub fn new(duties: Duties) -> Self {
        Self {
            duties,
            ..Self::default()
        }
    }

    /// The duties it judges against.
    pub const fn duties(&self) -> Duties {
        self.duties
    }

    /// How long the run lasted, in milliseconds: from the first event to the last.
    pub fn span_ms(&self) -> u64 {
        self.first.map_or(0, |f| self.last.0.saturating_sub(f.0))
    }

    /// How many requests and deliveries it was fed.
    pub const fn counts(&self) -> (u64, u64) {
        (self.requests, self.delivered)
    }

    fn find(&mut self, code: ClientFindingCode, evidence: u32, at: Timestamp, detail: String) {
        record(&mut self.findings, code, evidence, at, detail);
    }

    /// Takes in one event, from journal line `evidence`, at `at`. Events must come in the
    /// order they happened.
    pub fn handle(&mut self, at: Timestamp, evidence: u32, event: ClientEvent) {
        self.last = self.last.max(at);
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        match event {
            ClientEvent::Delivered(d) => {
                self.delivered += 1;
                if let Some(blob) = &d.blob {
                    self.announced.entry(blob.clone()).or_insert_with(|| {
                        (
                            d.message_id.clone(),
                            Coverage {
                                size: d.blob_size,
                                ..Coverage::default()
                            },
                        )
                    });
                }
                if d.status.as_deref() == Some("TrainingFailed") {
                    self.training_failed = true;
                }
                let m = self.message(&d.message_id, evidence, at);
                m.class = Some(d.class);
                m.blob = d.blob;
                m.digest = d.digest;
                m.delivered_at = (evidence, at);
                m.base64 = d.base64;
            }
            ClientEvent::Request(r) => self.request(at, evidence, r),
            ClientEvent::Restarted => {
                for m in self.messages.values_mut() {
                    for r in &mut m.receipts {
                        r.released = true;
                    }
                }
            }
            ClientEvent::Ended { end, note, left } => {
                self.end = Some(End {
                    end,
                    line: evidence,
                    at,
                    note,
                    left,
                });
            }
        }
    }

    fn message(&mut self, id: &str, evidence: u32, at: Timestamp) -> &mut Message {
        self.messages
            .entry(String::from(id))
            .or_insert_with(|| Message {
                class: None,
                blob: None,
                digest: None,
                delivered_at: (evidence, at),
                receipts: Vec::new(),
                updated_away: BTreeSet::new(),
                base64: false,
                deleted: false,
                twice: false,
            })
    }

    fn request(&mut self, at: Timestamp, evidence: u32, r: Request) {
        self.requests += 1;
        self.last_request = Some((evidence, r.status));
        let service = r.call.map_or(Service::Queue, Call::service);
        let target = target(&r);
        self.throttles.retain(|t| at < t.until);
        let loops = match (service, &r.queue) {
            (Service::Queue, Some(q)) if self.idle.get(q).is_some_and(Idle::shared) => 2,
            _ => 1,
        };
        if let Some(k) = self
            .throttles
            .iter()
            .position(|t| t.repeated_by(&r, service, &target, loops))
        {
            let t = self.throttles.remove(k);
            if at.0 + RETRY_AFTER_SLACK_MS < t.until.0 {
                let how = if t.client_request.is_some() && t.client_request == r.client_request {
                    String::from(" (the same request: its client request id)")
                } else {
                    r.connection
                        .map(|c| alloc::format!(", on the same connection ({c})"))
                        .unwrap_or_default()
                };
                self.find(
                    ClientFindingCode::RetryAfterIgnored,
                    evidence,
                    at,
                    alloc::format!(
                        "{} repeated {} ms before the Retry-After of line {} ended{how}",
                        r.call.map_or("a request", Call::as_str),
                        t.until.0 - at.0,
                        t.line,
                    ),
                );
            }
        }
        if let Some(ms) = r.retry_after_ms {
            self.throttles
                .retain(|t| !(t.service == service && t.connection == r.connection));
            if self.throttles.len() == THROTTLES {
                self.throttles.remove(0);
            }
            self.throttles.push(Throttle {
                until: at.plus_millis(ms),
                line: evidence,
                target,
                service,
                connection: r.connection,
                client_request: r.client_request,
            });
        }
        let Some(call) = r.call else { return };
        match call {
            Call::GetMessages => self.got(at, evidence, &r),
            Call::DeleteMessage | Call::UpdateMessage => self.settle(at, evidence, call, &r),
            Call::PutMessage => {
                if let Some(q) = &r.queue
                    && q.ends_with("-poison")
                    && ok(r.status)
                {
                    self.poisoned
                        .extend(r.digest.iter().chain(&r.holds).cloned());
                }
            }
            Call::PutBlob | Call::PutBlockList | Call::CopyBlob => {
                if let Some(b) = &r.blob {
                    self.own_blobs.insert(b.clone());
                }
                // Copying an announced backup (into a registry container, say) is fetching
                // it: the service reads every byte for the client.
                if call == Call::CopyBlob
                    && ok(r.status)
                    && let Some(source) = &r.copy_source
                {
                    self.read_announced(at, evidence, source, None);
                }
            }
            Call::GetBlob => self.fetched(at, evidence, &r),
            _ => {}
        }
        if call.service() == Service::Api {
            self.api(at, evidence, call, &r);
        }
    }

    fn got(&mut self, at: Timestamp, evidence: u32, r: &Request) {
        let queue = r.queue.clone().unwrap_or_default();
        let idle = self.idle.entry(queue.clone()).or_default();
        idle.connected(r.connection, r.open_connections);
        if r.received.is_empty() && ok(r.status) {
            let gap = idle
                .last
                .map(|l| at.0.saturating_sub(l.0))
                .filter(|g| *g <= IDLE_WINDOW_MS);
            match gap {
                Some(g) => idle.continued(g),
                None => idle.restart(),
            }
            idle.last = Some(at);
            let loops = idle.loops();
            if idle.run > BUSY_POLLS.saturating_mul(loops) && idle.steady() && !idle.reported {
                idle.reported = true;
                let run = idle.run;
                self.find(
                    ClientFindingCode::BusyPolling,
                    evidence,
                    at,
                    if loops == 1 {
                        alloc::format!(
                            "{run} empty receives of {queue} in a row, each within {IDLE_WINDOW_MS} ms of the last, without backing off"
                        )
                    } else {
                        alloc::format!(
                            "{run} empty receives of {queue} in a row, each within {IDLE_WINDOW_MS} ms of the last, without backing off: \
                             more than {BUSY_POLLS} for each of the {loops} connections the client had open"
                        )
                    },
                );
            }
        } else if !r.received.is_empty() {
            idle.restart();
            idle.run = 0;
            idle.last = None;
            idle.reported = false;
        }
        for got in &r.received {
            let m = self.message(&got.message_id, evidence, at);
            m.receipts.push(Receipt {
                receipt: got.pop_receipt.clone(),
                acted: false,
                released: false,
                delete_refused: false,
                visible_at: at.plus_millis(
                    r.visibility_timeout
                        .map_or(DEFAULT_VISIBILITY_MS, |v| v.saturating_mul(1000)),
                ),
            });
        }
    }

    /// An act on `id` under receipt number `k`: acting under a second receipt, when an earlier
    /// one was acted on and not given back on purpose, is processing twice (the visibility
    /// timeout ran out while the first receiver still held the message).
    fn act(&mut self, id: &str, k: usize, evidence: u32, at: Timestamp) {
        let Some(m) = self.messages.get_mut(id) else {
            return;
        };
        if let Some(r) = m.receipts.get_mut(k) {
            r.acted = true;
        }
        let earlier = m
            .receipts
            .iter()
            .take(k)
            .filter(|r| r.acted && !r.released && !r.delete_refused)
            .count();
        if earlier > 0 && !m.twice && m.class.is_some() {
            m.twice = true;
            let detail = alloc::format!(
                "message {id} was received {} times and acted on under receive {} after an \
                 earlier receive had acted on it without deleting or releasing it (its \
                 visibility timeout ran out while it was held)",
                m.receipts.len(),
                k + 1
            );
            self.find(ClientFindingCode::ProcessedTwice, evidence, at, detail);
        }
    }

    fn settle(&mut self, at: Timestamp, evidence: u32, call: Call, r: &Request) {
        let id = r.message_id.clone().unwrap_or_default();
        let receipt = r.pop_receipt.clone().unwrap_or_default();
        let (known, position, latest) = match self.messages.get(&id) {
            Some(m) if !m.receipts.is_empty() => (
                true,
                m.receipts.iter().position(|x| x.receipt == receipt),
                m.receipts.len() - 1,
            ),
            _ => (false, None, 0),
        };
        if !known {
            self.find(
                ClientFindingCode::DeletedUnreceived,
                evidence,
                at,
                alloc::format!(
                    "{} of message {id}, which no receive handed out",
                    call.as_str()
                ),
            );
            return;
        }
        // The SDK's own retry of a Delete that was turned away in time is not a fresh use of a
        // stale receipt: the client tried while the receipt was good.
        let retried = call == Call::DeleteMessage
            && position.is_some_and(|k| {
                self.messages
                    .get(&id)
                    .and_then(|m| m.receipts.get(k))
                    .is_some_and(|x| x.delete_refused)
            });
        if position != Some(latest) && !retried {
            let by_update = self
                .messages
                .get(&id)
                .is_some_and(|m| m.updated_away.contains(&receipt));
            self.find(
                ClientFindingCode::StaleReceipt,
                evidence,
                at,
                alloc::format!(
                    "{} of message {id} with a pop receipt {}",
                    call.as_str(),
                    if by_update {
                        "that the client's own Update Message replaced (an update answers with a new receipt)"
                    } else {
                        "that a later receive replaced (its visibility timeout had run out)"
                    }
                ),
            );
        }
        if !ok(r.status) {
            if call == Call::DeleteMessage
                && (throttled(r.status) || ambiguous(r.status))
                && let Some(k) = position
                && let Some(x) = self
                    .messages
                    .get_mut(&id)
                    .and_then(|m| m.receipts.get_mut(k))
                && at < x.visible_at
            {
                x.delete_refused = true;
            }
            return;
        }
        if call == Call::DeleteMessage
            && let Some(k) = position
        {
            self.act(&id, k, evidence, at);
        }
        let Some(m) = self.messages.get_mut(&id) else {
            return;
        };
        match call {
            Call::UpdateMessage => {
                // The new receipt carries on the old one: extending a visibility timeout is
                // not a second receive, and neither is it acting on the message. A visibility
                // of 0 gives the message back on purpose: the next receive is a retry.
                if let Some(k) = position
                    && let Some(x) = m.receipts.get_mut(k)
                {
                    if let Some(new) = &r.new_pop_receipt {
                        let old = core::mem::replace(&mut x.receipt, new.clone());
                        m.updated_away.insert(old);
                    }
                    if r.visibility_timeout == Some(0) {
                        x.released = true;
                    }
                    if let Some(v) = r.visibility_timeout {
                        x.visible_at = at.plus_millis(v.saturating_mul(1000));
                    }
                }
            }
            _ => {
                m.deleted = true;
                let lost = m.class == Some(MessageClass::Malformed)
                    && m.digest.as_ref().is_none_or(|d| !self.poisoned.contains(d));
                if lost {
                    self.find(
                        ClientFindingCode::MalformedLost,
                        evidence,
                        at,
                        alloc::format!(
                            "malformed message {id} was deleted without being moved to a -poison queue (as it was, base64 of it, or in a string field of a JSON object)"
                        ),
                    );
                }
            }
        }
    }

    /// A successful read of `blob` (a `range` of it, or all of it): whether it is an announced
    /// backup, whose coverage and notification it then advances.
    fn read_announced(
        &mut self,
        at: Timestamp,
        evidence: u32,
        blob: &str,
        range: Option<&str>,
    ) -> bool {
        let Some((message, coverage)) = self.announced.get_mut(blob) else {
            return false;
        };
        coverage.read(range);
        let message = message.clone();
        let latest = self
            .messages
            .get(&message)
            .and_then(|m| m.receipts.len().checked_sub(1));
        if let Some(k) = latest {
            self.act(&message, k, evidence, at);
        }
        true
    }

    fn fetched(&mut self, at: Timestamp, evidence: u32, r: &Request) {
        let Some(blob) = r.blob.clone() else { return };
        match self.announced.contains_key(&blob) {
            true => {
                if ok(r.status) {
                    self.read_announced(at, evidence, &blob, r.range.as_deref());
                }
            }
            false if self.own_blobs.contains(&blob) => {}
            false => self.find(
                ClientFindingCode::UnannouncedBlobFetched,
                evidence,
                at,
                if ok(r.status) {
                    alloc::format!("GetBlob {blob}, which no notification announced: downloaded")
                } else {
                    alloc::format!(
                        "GetBlob {blob}, which no notification announced: a name tried (answered {}), nothing downloaded",
                        r.status
                    )
                },
            ),
        }
    }

    fn api(&mut self, at: Timestamp, evidence: u32, call: Call, r: &Request) {
        let project = r.project.clone().unwrap_or_default();
        let iteration = r.iteration.clone().unwrap_or_default();
        // What a look at the state clears.
        let cleared: &[(Call, &str)] = match call {
            Call::GetProjects => &[(Call::CreateProject, "")],
            Call::GetProject | Call::GetIterations | Call::GetIteration => {
                &[(Call::TrainProject, project.as_str())]
            }
            Call::GetExports => &[(Call::ExportIteration, "")],
            _ => &[],
        };
        for (c, key) in cleared {
            let key = match c {
                Call::ExportIteration => alloc::format!("{project}/{iteration}"),
                _ => String::from(*key),
            };
            self.ambiguous.remove(&(*c, key));
        }
        if !matches!(
            call,
            Call::CreateProject | Call::TrainProject | Call::ExportIteration | Call::UpdateProject
        ) {
            return;
        }
        if matches!(call, Call::CreateProject | Call::UpdateProject) && r.storage_options {
            let old = r
                .api_version
                .as_deref()
                .is_some_and(|v| matches!(v, "v3.0" | "v3.1" | "v3.2"));
            if old {
                self.find(
                    ClientFindingCode::StorageOptionsIgnored,
                    evidence,
                    at,
                    alloc::format!(
                        "{} with the storage URIs on {}, which ignores them",
                        call.as_str(),
                        r.api_version.as_deref().unwrap_or_default()
                    ),
                );
            } else if ok(r.status) {
                self.configured = true;
            }
        }
        if call == Call::UpdateProject {
            return;
        }
        if ok(r.status) {
            match call {
                Call::TrainProject => self.trained = true,
                Call::ExportIteration => self.exported = true,
                _ => {}
            }
        }
        let key = match call {
            Call::CreateProject => String::new(),
            Call::TrainProject => project,
            _ => alloc::format!("{project}/{iteration}"),
        };
        if let Some(first) = self.ambiguous.remove(&(call, key.clone())) {
            self.find(
                ClientFindingCode::UnsafeRepeat,
                evidence,
                at,
                alloc::format!(
                    "{} repeated after the unclear answer of line {first}, without a look at the state",
                    call.as_str()
                ),
            );
        }
        if ambiguous(r.status) {
            self.ambiguous.insert((call, key), evidence);
        }
    }

    /// Whether the client has done all its work: every valid notification deleted, every
    /// announced backup fetched (duty `fetch-backups`), and (duty `configure`) a project
    /// configured, trained and, unless its training failed, exported.
    pub fn work_done(&self) -> bool {
        self.work_undone().is_empty()
    }

    /// When the last notification the client holds (received, not deleted, not given back)
    /// becomes visible again: a client killed now sees it again only then.
    pub fn held_until(&self) -> Option<Timestamp> {
        self.messages
            .values()
            .filter(|m| m.class == Some(MessageClass::Notification) && !m.deleted)
            .filter_map(|m| m.receipts.last())
            .filter(|r| !r.released)
            .map(|r| r.visible_at)
            .max()
    }

    /// The work left undone, each item said for a person (empty when it is all done).
    pub fn work_undone(&self) -> Vec<String> {
        let mut undone = Vec::new();
        let not_deleted = self
            .messages
            .values()
            .filter(|m| m.class == Some(MessageClass::Notification) && !m.deleted)
            .count();
        if not_deleted > 0 {
            undone.push(alloc::format!(
                "{not_deleted} notification{} not deleted",
                plural(not_deleted)
            ));
        }
        if self.duties.fetch_backups {
            let unfetched = self.announced.values().filter(|(_, c)| !c.whole()).count();
            if unfetched > 0 {
                undone.push(alloc::format!(
                    "{unfetched} announced backup{} not downloaded",
                    plural(unfetched)
                ));
            }
        }
        if self.duties.configure {
            for (done, what) in [
                (
                    self.configured,
                    "no project configured with the storage URIs",
                ),
                (self.trained, "no training started"),
                (
                    self.exported || self.training_failed,
                    "no export of the trained iteration",
                ),
            ] {
                if !done {
                    undone.push(String::from(what));
                }
            }
        }
        undone
    }

    /// The findings, by code, once the run is over.
    pub fn findings(&self) -> Vec<ClientFinding> {
        let explained = self
            .messages
            .values()
            .any(|m| m.class == Some(MessageClass::Notification) && !m.deleted)
            || (self.duties.fetch_backups && self.announced.values().any(|(_, c)| !c.whole()));
        let mut all = self.findings.clone();
        let mut add = |code: ClientFindingCode, evidence: u32, at: Timestamp, detail: String| {
            record(&mut all, code, evidence, at, detail);
        };
        // A deadline that came while the client waited after a throttled answer cut it off.
        let waiting = match (&self.end, self.last_request) {
            (Some(e), Some((line, status)))
                if e.end == ClientEnd::TimedOut && throttled(status) =>
            {
                alloc::format!(
                    "; the deadline came while the client was waiting after the throttled answer of line {line}"
                )
            }
            _ => String::new(),
        };
        for (id, m) in &self.messages {
            if m.class == Some(MessageClass::Notification) && !m.deleted {
                let (evidence, at) = m.delivered_at;
                let how = if m.base64 {
                    " (sent base64-encoded)"
                } else {
                    ""
                };
                add(
                    ClientFindingCode::NotificationNotDeleted,
                    evidence,
                    at,
                    match m.receipts.len() {
                        0 => alloc::format!("notification {id}{how} was never received{waiting}"),
                        1 => alloc::format!(
                            "notification {id}{how} was received once and never deleted{waiting}"
                        ),
                        n => alloc::format!(
                            "notification {id}{how} was received {n} times and never deleted{waiting}"
                        ),
                    },
                );
            }
        }
        if self.duties.fetch_backups {
            for (blob, (message, coverage)) in &self.announced {
                if !coverage.whole() {
                    let (evidence, at) = self
                        .messages
                        .get(message)
                        .map_or((0, self.last), |m| m.delivered_at);
                    let how = match (coverage.read_bytes(), coverage.size) {
                        (0, _) => String::from("was never downloaded"),
                        (read, Some(size)) => {
                            alloc::format!("was read only in part ({read} of its {size} bytes)")
                        }
                        (read, None) => alloc::format!("was read only in part ({read} bytes)"),
                    };
                    add(
                        ClientFindingCode::BackupNotFetched,
                        evidence,
                        at,
                        alloc::format!("{blob}, announced by message {message}, {how}"),
                    );
                }
            }
        }
        let Some(end) = &self.end else {
            return all.into_values().collect();
        };
        let undone = self.work_undone();
        let finding = match &end.end {
            ClientEnd::Stopped => None,
            ClientEnd::Exited(0) if !undone.is_empty() => Some((
                ClientFindingCode::ClientExitedEarly,
                alloc::format!(
                    "the client exited with status 0 before its work was done: {}",
                    undone.join(", ")
                ),
            )),
            ClientEnd::Exited(0) if self.requests == 0 => Some((
                ClientFindingCode::ClientExitedEarly,
                String::from("the client exited with status 0 without making a single request"),
            )),
            ClientEnd::Exited(0) => None,
            ClientEnd::Exited(code) => Some((
                ClientFindingCode::ClientFailed,
                alloc::format!("the client exited with status {code}"),
            )),
            ClientEnd::Killed(signal) => Some((
                ClientFindingCode::ClientFailed,
                alloc::format!("the client was killed by signal {signal}"),
            )),
            ClientEnd::Unstartable(why) => Some((
                ClientFindingCode::ClientUnstartable,
                alloc::format!("the client could not be started: {why}"),
            )),
            // A timeout the work left undone already explains is not a finding of its own.
            ClientEnd::TimedOut if explained => None,
            ClientEnd::TimedOut => Some((
                ClientFindingCode::ClientTimeout,
                if undone.is_empty() {
                    String::from("the timeout came before the client had done its work")
                } else {
                    alloc::format!(
                        "the timeout came before the client had done its work: {}",
                        undone.join(", ")
                    )
                },
            )),
        };
        if let Some((code, mut detail)) = finding {
            if let Some(n) = &end.note {
                detail.push_str("; ");
                detail.push_str(n);
            }
            add(code, end.line, end.at, detail);
        }
        if end.left > 0 {
            add(
                ClientFindingCode::ClientLeftProcesses,
                end.line,
                end.at,
                alloc::format!(
                    "the client's process ended and left {} process{} of its own running (stopped by cvnotify)",
                    end.left,
                    if end.left == 1 { "" } else { "es" }
                ),
            );
        }
        all.into_values().collect()
    }
}

const fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Counts one occurrence of `code`, keeping it as an example while there are fewer than
/// [`EXAMPLES`].
fn record(
    findings: &mut BTreeMap<ClientFindingCode, ClientFinding>,
    code: ClientFindingCode,
    evidence: u32,
    at: Timestamp,
    detail: String,
) {
    let f = findings.entry(code).or_insert_with(|| ClientFinding {
        code,
        count: 0,
        examples: Vec::new(),
    });
    f.count += 1;
    if f.examples.len() < EXAMPLES {
        f.examples.push(ClientExample {
            evidence,
            at,
            detail,
        });
    }
}
