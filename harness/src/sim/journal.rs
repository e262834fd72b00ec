//! The simulation's journal: every request a client makes (the operation, what it touched, the
//! answer's status, how long it took) and every message the simulation delivers, as recording
//! lines (`request`, `delivered`), in the order they happened. Drivers take the lines as they
//! come ([`Journal::take`]); the admin endpoint reads the latest ([`Journal::since`]). Memory is
//! bounded: the journal keeps the last [`CAPACITY`] lines, and counts the ones it dropped before
//! a driver took them. Nothing secret enters it: no query string, no header, no message text.

use std::collections::VecDeque;

use cvnotify_core::client::Call;
use sha2::Digest as _;
use wiremock::Request;

use super::context::{Facts, digest};
use super::faults::Endpoint;
use crate::recording::{At, DeliveredLine, Line, RequestLine};
use cvnotify_core::lifecycle::Timestamp;

/// The most lines the journal holds.
pub const CAPACITY: usize = 65_536;

/// The journal: lines numbered from 1.
#[derive(Debug, Default)]
pub struct Journal {
    lines: VecDeque<(u64, Line)>,
    next: u64,
    taken: u64,
    dropped: u64,
}

impl Journal {
    /// Appends a line.
    pub(crate) fn push(&mut self, line: Line) {
        self.next += 1;
        if self.lines.len() == CAPACITY
            && let Some((n, _)) = self.lines.pop_front()
            && n > self.taken
        {
            self.dropped += 1;
        }
        self.lines.push_back((self.next, line));
    }

    /// The lines not taken yet, oldest first (they stay for [`Journal::since`] until newer
    /// ones push them out).
    pub fn take(&mut self) -> Vec<Line> {
        let taken = self.taken;
        self.taken = self.next;
        self.lines
            .iter()
            .filter(|(n, _)| *n > taken)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// The lines after number `after` still held (the admin endpoint's view), and the number
    /// of the last.
    pub fn since(&self, after: u64) -> (Vec<&Line>, u64) {
        let lines = self
            .lines
            .iter()
            .filter(|(n, _)| *n > after)
            .map(|(_, l)| l)
            .collect();
        (lines, self.next)
    }

    /// How many lines were dropped unread.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// A 32-bit digest of a client request id: enough to tell one request's retries from other
/// requests of the same run, and nothing of the id itself.
pub(crate) fn client_request(id: &[u8]) -> u32 {
    let hash = sha2::Sha256::digest(id);
    let mut four = [0u8; 4];
    four.copy_from_slice(hash.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(four)
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

fn decoded(segment: &str) -> String {
    super::shared::percent_decoded(segment)
}

/// The journal line of a request, before its answer: the operation and what it touched.
pub(crate) fn describe(endpoint: Endpoint, request: &Request, at: Timestamp) -> RequestLine {
    let segments: Vec<&str> = request
        .url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let mut line = RequestLine {
        at: At(at),
        client_request: super::http::header(request, "x-ms-client-request-id")
            .map(|id| client_request(id.as_bytes())),
        ..RequestLine::default()
    };
    match endpoint {
        Endpoint::Queue => {
            line.service = "queue".into();
            let rest = segments.get(1..).unwrap_or_default();
            line.call = super::queues::operation(request, rest)
                .map_or(Call::OtherStorage, |op| op.call())
                .as_str()
                .into();
            line.queue = rest.first().map(|q| decoded(q));
            line.message_id = rest.get(2).map(|m| decoded(m));
            line.pop_receipt = query(request, "popreceipt");
            line.visibility_timeout =
                query(request, "visibilitytimeout").and_then(|v| v.parse().ok());
        }
        Endpoint::Blob => {
            line.service = "blob".into();
            let rest = segments.get(1..).unwrap_or_default();
            line.call = super::blobs::operation(request, rest)
                .map_or(Call::OtherStorage, |op| op.call())
                .as_str()
                .into();
            line.container = rest.first().map(|c| decoded(c));
            if rest.len() > 1 {
                line.blob = Some(super::blobs::blob_name(request, rest));
            }
            // A copy's source in the same account, as `container/name`.
            line.copy_source = super::http::header(request, "x-ms-copy-source")
                .and_then(|source| url::Url::parse(source).ok())
                .and_then(|u| {
                    let path = u.path().trim_start_matches('/').to_string();
                    let mut parts = path.splitn(3, '/');
                    let (account, container, blob) = (parts.next()?, parts.next()?, parts.next()?);
                    (Some(account) == segments.first().copied() && !blob.is_empty()).then(|| {
                        format!(
                            "{}/{}",
                            super::shared::percent_decoded(container),
                            super::shared::percent_decoded(blob).replace('\\', "/")
                        )
                        .into_boxed_str()
                    })
                });
            line.range = super::http::header(request, "x-ms-range")
                .or_else(|| super::http::header(request, "range"))
                .map(str::to_string);
        }
        Endpoint::Api => {
            line.service = "api".into();
            line.api_version = segments.get(1).map(|v| (*v).to_string());
            let rest = segments.get(3..).unwrap_or_default();
            let method = request.method.as_str();
            line.call = super::training::call_of(method, rest).as_str().into();
            if let ["projects", p, ..] = rest {
                line.project_id = Some(decoded(p));
            }
            if let ["projects", _, "iterations", i, ..] = rest {
                line.iteration_id = Some(decoded(i));
            }
            if matches!(line.call.as_str(), "CreateProject" | "UpdateProject") {
                line.storage_options = storage_options(request);
            }
        }
    }
    line
}

/// Whether a CreateProject or UpdateProject carries a storage URI (query or body).
fn storage_options(request: &Request) -> bool {
    const NAMES: [&str; 2] = ["notificationQueueUri", "exportModelContainerUri"];
    if NAMES.iter().any(|n| query(request, n).is_some()) {
        return true;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
        return false;
    };
    let has = |v: &serde_json::Value| {
        NAMES.iter().any(|n| {
            v.get(*n)
                .is_some_and(|x| x.as_str().is_some_and(|s| !s.is_empty()))
        })
    };
    has(&body) || body.get("settings").is_some_and(has)
}

/// Completes a request's line with its answer.
pub(crate) fn answered(
    line: &mut RequestLine,
    status: u16,
    error_code: Option<String>,
    retry_after: Option<u32>,
    ms: u64,
    facts: Facts,
) {
    line.http_status = status;
    line.error_code = error_code;
    line.retry_after = retry_after;
    line.ms = u32::try_from(ms).unwrap_or(u32::MAX);
    if line.call == "GetMessages" && (200..300).contains(&status) {
        line.received = Some(facts.received);
    }
    line.digest = facts.digest;
    line.holds = facts.holds.into_boxed_slice();
    line.new_pop_receipt = facts.new_receipt;
    if line.project_id.is_none() {
        line.project_id = facts.project;
    }
    if line.iteration_id.is_none() {
        line.iteration_id = facts.iteration;
    }
}

/// The line of a message the simulation delivered: `wire` is the text as it went out (base64
/// when `base64`), `json` the text it encodes; `blob` the backup blob it announces.
pub(crate) fn delivered(
    at: Timestamp,
    queue: &str,
    message_id: &str,
    wire: &str,
    json: &str,
    base64: bool,
    blob: Option<(String, Option<u64>)>,
) -> Line {
    use cvnotify_core::{Notification, ParseOptions};
    let (class, kind, project, status) =
        match cvnotify_core::parse(json.as_bytes(), ParseOptions::TOLERANT) {
            Ok(p) => match &p.notification {
                Notification::ConnectionTest { project_id } => (
                    "notification",
                    "ConnectionTest".to_string(),
                    Some(*project_id),
                    None,
                ),
                Notification::Training {
                    project_id, status, ..
                } => (
                    "notification",
                    "Training".to_string(),
                    Some(*project_id),
                    Some(status.as_str()),
                ),
                Notification::Export {
                    project_id, status, ..
                } => (
                    "notification",
                    "Export".to_string(),
                    Some(*project_id),
                    Some(status.as_str()),
                ),
                Notification::Unrecognized { kind } => ("unrecognized", kind.clone(), None, None),
            },
            Err(_) => ("malformed", String::new(), None, None),
        };
    Line::Delivered(DeliveredLine {
        at: At(at),
        queue: queue.to_string(),
        message_id: message_id.to_string(),
        class: class.into(),
        notification_type: (!kind.is_empty()).then_some(kind),
        project_id: project.map(|p| p.to_string()),
        blob: blob
            .as_ref()
            .map(|(b, _)| b.clone())
            .filter(|_| class == "notification"),
        blob_size: blob
            .as_ref()
            .and_then(|(_, n)| *n)
            .filter(|_| class == "notification"),
        notification_status: status.map(str::to_string),
        digest: digest(wire.as_bytes()),
        base64,
    })
}
