//! The simulated Queue service (learn.microsoft.com, "Queue service REST API"), path style
//! (`/{account}/{queue}/messages/{id}`), as Azurite 3.35 answers it: list queues; create,
//! delete, get and set metadata of a queue; put, get, peek, update, delete and clear messages;
//! with the service's validation (names, sizes, ranges) and errors, on the world's clock.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use cvnotify_core::client::Call;
use wiremock::Request;

use super::auth::{Level, Needs};
use super::context::{Cx, IdKind, digest, holds};
use super::http::{Reply, detailed_error, error, http_date, message_of, query, storage_error};
use super::shared::{check_name, metadata, metadata_xml};
use super::xml::Xml;

/// The longest message text, in UTF-8 bytes (the service's limit since version 2011-08-18).
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// The longest time a message can be hidden or live with a number of seconds: seven days.
const SEVEN_DAYS: u64 = 604_800;
/// "Never expires" (`messagettl=-1`): the date the service gives.
fn never() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(253_402_300_799_999)
}

/// One message in a queue.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) id: String,
    pub(crate) text: String,
    pub(crate) inserted: SystemTime,
    pub(crate) expires: SystemTime,
    pub(crate) visible_at: SystemTime,
    pub(crate) dequeue_count: u32,
    pub(crate) pop_receipt: String,
}

/// One queue.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueueState {
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) messages: VecDeque<Message>,
}

impl QueueState {
    /// Drops the messages that expired by `now`.
    fn expire(&mut self, now: SystemTime) {
        self.messages.retain(|m| m.expires > now);
        self.fit();
    }

    /// Gives back room a drained queue no longer needs: once it holds under a quarter of its
    /// capacity, it keeps twice what it holds (a queue filled with 5,000 messages and drained
    /// kept room for 5,000, 0.6 MiB, for as long as the simulation ran). Shrinking halves the
    /// room at least, so its copies cost less than the removals that led to it.
    fn fit(&mut self) {
        const FLOOR: usize = 64;
        if self.messages.capacity() > FLOOR && self.messages.len() < self.messages.capacity() / 4 {
            self.messages
                .shrink_to((2 * self.messages.len()).max(FLOOR));
        }
    }
}

/// An integer query parameter, checked against `lo..=hi`: `Ok(None)` when absent.
fn ranged(request: &Request, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, Reply> {
    let Some(text) = query(request, name) else {
        return Ok(None);
    };
    match text.parse::<i64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(Some(v)),
        Ok(_) => Err(detailed_error(
            400,
            "OutOfRangeQueryParameterValue",
            message_of("OutOfRangeQueryParameterValue"),
            &[
                ("QueryParameterName", name.to_string()),
                ("QueryParameterValue", text),
                ("MinimumAllowed", lo.to_string()),
                ("MaximumAllowed", hi.to_string()),
            ],
            request,
        )),
        Err(_) => Err(error(400, "InvalidQueryParameterValue", request)),
    }
}

/// The message text of a Put or Update body (`<QueueMessage><MessageText>`), XML-unescaped;
/// `None` for a body that is not well-formed XML (an element left open) or holds more than one
/// `MessageText`, which Azurite refuses too.
fn message_text(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut inside = false;
    let mut out = String::new();
    let mut found = false;
    let mut depth = 0u32;
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) => {
                depth += 1;
                if e.name().as_ref() == b"MessageText" {
                    if found {
                        return None;
                    }
                    inside = true;
                    found = true;
                }
            }
            quick_xml::events::Event::Empty(e) if e.name().as_ref() == b"MessageText" => {
                if found {
                    return None;
                }
                found = true;
            }
            quick_xml::events::Event::End(e) => {
                depth = depth.checked_sub(1)?;
                if e.name().as_ref() == b"MessageText" {
                    inside = false;
                }
            }
            quick_xml::events::Event::Text(t) if inside => {
                out.push_str(&t.decode().ok()?);
            }
            quick_xml::events::Event::CData(t) if inside => {
                out.push_str(std::str::from_utf8(&t).ok()?);
            }
            quick_xml::events::Event::GeneralRef(r) if inside => {
                // Character and entity references come between text events.
                let ch = match r.resolve_char_ref().ok()? {
                    Some(c) => c,
                    None => match &*r {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => return None,
                    },
                };
                out.push(ch);
            }
            quick_xml::events::Event::Eof if depth > 0 => return None,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    found.then_some(out)
}

/// A pop receipt: opaque, base64, new each time a message is handed out or updated.
fn receipt(cx: &mut Cx<'_>) -> String {
    let id = cx.id(IdKind::PopReceipt);
    base64::engine::general_purpose::STANDARD.encode(id)
}

/// One message as a `QueueMessage` element: with receipt and next-visible time (put, get), or
/// without them (peek); with the text and dequeue count (get, peek).
fn message_xml(xml: &mut Xml, m: &Message, receipt: bool, text: bool) {
    xml.open("QueueMessage")
        .element("MessageId", &m.id)
        .element("InsertionTime", http_date(m.inserted))
        .element("ExpirationTime", http_date(m.expires));
    if receipt {
        xml.element("PopReceipt", &m.pop_receipt)
            .element("TimeNextVisible", http_date(m.visible_at));
    }
    if text {
        xml.element("DequeueCount", m.dequeue_count)
            .element("MessageText", &m.text);
    }
    xml.close("QueueMessage");
}

/// What a queue request is, for authorization and for the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueOp {
    ListQueues,
    CreateQueue,
    DeleteQueue,
    GetQueueMetadata,
    SetQueueMetadata,
    PutMessage,
    GetMessages,
    PeekMessages,
    ClearMessages,
    DeleteMessage,
    UpdateMessage,
}

impl QueueOp {
    /// The operation, as the core names it (and the journal writes it).
    pub(crate) fn call(self) -> Call {
        match self {
            Self::ListQueues => Call::ListQueues,
            Self::CreateQueue => Call::CreateQueue,
            Self::DeleteQueue => Call::DeleteQueue,
            Self::GetQueueMetadata => Call::GetQueueMetadata,
            Self::SetQueueMetadata => Call::SetQueueMetadata,
            Self::PutMessage => Call::PutMessage,
            Self::GetMessages => Call::GetMessages,
            Self::PeekMessages => Call::PeekMessages,
            Self::ClearMessages => Call::ClearMessages,
            Self::DeleteMessage => Call::DeleteMessage,
            Self::UpdateMessage => Call::UpdateMessage,
        }
    }

    /// What it needs of a SAS (account SAS letters; queue SAS letters).
    pub(crate) fn needs(self) -> Needs {
        let n = |level, account, service| Needs {
            level,
            account,
            service,
        };
        match self {
            Self::ListQueues => n(Level::Service, "l", ""),
            Self::CreateQueue => n(Level::Container, "cw", ""),
            Self::DeleteQueue => n(Level::Container, "d", ""),
            Self::GetQueueMetadata => n(Level::Container, "r", "r"),
            Self::SetQueueMetadata => n(Level::Container, "w", ""),
            Self::PutMessage => n(Level::Object, "a", "a"),
            Self::GetMessages => n(Level::Object, "p", "p"),
            Self::PeekMessages => n(Level::Object, "r", "r"),
            // A queue service SAS has no delete permission: it never clears (as Azurite has it).
            Self::ClearMessages => n(Level::Container, "d", "d"),
            Self::DeleteMessage => n(Level::Container, "p", "p"),
            Self::UpdateMessage => n(Level::Container, "u", "u"),
        }
    }
}

/// Which operation a request is (`segments` after the account), or the error for one that is
/// none.
pub(crate) fn operation(request: &Request, segments: &[&str]) -> Result<QueueOp, Reply> {
    let method = request.method.as_str();
    let comp = query(request, "comp");
    Ok(match (segments, method, comp.as_deref()) {
        ([], "GET", Some("list")) => QueueOp::ListQueues,
        ([_], "PUT", Some("metadata")) => QueueOp::SetQueueMetadata,
        ([_], "GET" | "HEAD", Some("metadata")) => QueueOp::GetQueueMetadata,
        ([_], "PUT", None) => QueueOp::CreateQueue,
        ([_], "DELETE", None) => QueueOp::DeleteQueue,
        ([_, "messages"], "POST", None) => QueueOp::PutMessage,
        ([_, "messages"], "GET", None) => {
            if query(request, "peekonly").is_some_and(|p| p.eq_ignore_ascii_case("true")) {
                QueueOp::PeekMessages
            } else {
                QueueOp::GetMessages
            }
        }
        ([_, "messages"], "DELETE", None) => QueueOp::ClearMessages,
        ([_, "messages", _], "DELETE", None) => QueueOp::DeleteMessage,
        ([_, "messages", _], "PUT", None) => QueueOp::UpdateMessage,
        ([], _, _) | ([_], _, _) | ([_, "messages"], _, _) | ([_, "messages", _], _, _) => {
            return Err(error(405, "UnsupportedHttpVerb", request));
        }
        _ => return Err(error(400, "InvalidUri", request)),
    })
}

/// The Queue service's state: its queues, by name.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    pub(crate) by_name: BTreeMap<String, QueueState>,
}

impl Queues {
    /// Answers one queue request; `segments` are the path after the account.
    pub(crate) fn answer(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request,
        op: QueueOp,
        segments: &[&str],
        endpoint: &str,
    ) -> Reply {
        let now = cx.now;
        if op == QueueOp::ListQueues {
            return self.list_queues(request, endpoint);
        }
        let Some(&name) = segments.first() else {
            return error(400, "InvalidUri", request);
        };
        if let Err(code) = check_name(name) {
            return error(400, code, request);
        }
        if op == QueueOp::CreateQueue {
            let wanted = metadata(request);
            return match self.by_name.get(name) {
                None => {
                    self.by_name.insert(
                        name.to_string(),
                        QueueState {
                            metadata: wanted,
                            messages: VecDeque::new(),
                        },
                    );
                    Reply::new(201)
                }
                Some(q) if q.metadata == wanted => Reply::new(204),
                Some(_) => error(409, "QueueAlreadyExists", request),
            };
        }
        if op == QueueOp::DeleteQueue {
            return match self.by_name.remove(name) {
                Some(_) => Reply::new(204),
                None => error(404, "QueueNotFound", request),
            };
        }
        let Some(queue) = self.by_name.get_mut(name) else {
            return error(404, "QueueNotFound", request);
        };
        queue.expire(now);
        match op {
            QueueOp::GetQueueMetadata => {
                let mut r = Reply::new(200).header(
                    "x-ms-approximate-messages-count",
                    queue.messages.len().to_string(),
                );
                for (k, v) in &queue.metadata {
                    r = r.header(&format!("x-ms-meta-{k}"), v.clone());
                }
                r
            }
            QueueOp::SetQueueMetadata => {
                queue.metadata = metadata(request);
                Reply::new(204)
            }
            QueueOp::ClearMessages => {
                queue.messages.clear();
                queue.fit();
                Reply::new(204)
            }
            QueueOp::PutMessage => self.put_message(cx, request, name, now),
            QueueOp::GetMessages | QueueOp::PeekMessages => {
                self.get_messages(cx, request, name, op == QueueOp::PeekMessages, now)
            }
            QueueOp::DeleteMessage | QueueOp::UpdateMessage => {
                let id = segments.get(2).copied().unwrap_or_default();
                self.message_call(cx, request, name, id, op, now)
            }
            QueueOp::ListQueues | QueueOp::CreateQueue | QueueOp::DeleteQueue => {
                error(400, "InvalidUri", request)
            }
        }
    }

    fn list_queues(&self, request: &Request, endpoint: &str) -> Reply {
        let prefix = query(request, "prefix").unwrap_or_default();
        let marker = query(request, "marker").unwrap_or_default();
        let max = match ranged(request, "maxresults", 1, 5000) {
            Ok(m) => m.unwrap_or(5000) as usize,
            Err(e) => return e,
        };
        let with_metadata = query(request, "include").is_some_and(|i| i.contains("metadata"));
        let names: Vec<(&String, &QueueState)> = self
            .by_name
            .iter()
            .filter(|(n, _)| n.starts_with(&prefix) && n.as_str() >= marker.as_str())
            .take(max + 1)
            .collect();
        let (page, next) = match names.get(max) {
            Some((n, _)) => (names.get(..max).unwrap_or_default(), Some((*n).clone())),
            None => (names.as_slice(), None),
        };
        let mut xml = Xml::new();
        xml.open_with("EnumerationResults", &[("ServiceEndpoint", endpoint)])
            .tag("Prefix", &prefix);
        if !marker.is_empty() {
            xml.tag("Marker", &marker);
        }
        xml.element("MaxResults", max).open("Queues");
        for (n, q) in page {
            xml.open("Queue").element("Name", n);
            if with_metadata {
                metadata_xml(&mut xml, &q.metadata);
            }
            xml.close("Queue");
        }
        xml.close("Queues")
            .tag("NextMarker", next.as_deref().unwrap_or_default())
            .close("EnumerationResults");
        Reply::new(200).xml(xml)
    }

    fn put_message(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request,
        name: &str,
        now: SystemTime,
    ) -> Reply {
        let Some(text) = message_text(&request.body) else {
            return error(400, "InvalidXmlDocument", request);
        };
        cx.facts.digest = Some(digest(text.as_bytes()));
        if name.ends_with("-poison") {
            cx.facts.holds = holds(&text);
        }
        if text.len() > MAX_MESSAGE_BYTES {
            return detailed_error(
                413,
                "RequestBodyTooLarge",
                message_of("RequestBodyTooLarge"),
                &[("MaxLimit", MAX_MESSAGE_BYTES.to_string())],
                request,
            );
        }
        let visibility = match ranged(request, "visibilitytimeout", 0, SEVEN_DAYS as i64) {
            Ok(v) => v.unwrap_or(0),
            Err(e) => return e,
        };
        let invalid = |name: &str, value: String, reason: &str| {
            detailed_error(
                400,
                "InvalidQueryParameterValue",
                message_of("InvalidQueryParameterValue"),
                &[
                    ("QueryParameterName", name.to_string()),
                    ("QueryParameterValue", value),
                    ("Reason", reason.to_string()),
                ],
                request,
            )
        };
        let given_ttl = query(request, "messagettl");
        let ttl = match given_ttl.as_deref().map(str::parse::<i64>) {
            None => Some(SEVEN_DAYS as i64),
            Some(Ok(-1)) => None,
            Some(Ok(t)) if t >= 1 => Some(t),
            Some(Ok(_)) => {
                return invalid(
                    "messagettl",
                    given_ttl.unwrap_or_default(),
                    "Value must be greater than or equal to 1, or -1 to indicate an infinite TTL.",
                );
            }
            Some(Err(_)) => return error(400, "InvalidQueryParameterValue", request),
        };
        if given_ttl.is_some()
            && let Some(t) = ttl
            && visibility >= t
        {
            return invalid(
                "visibilitytimeout",
                visibility.to_string(),
                "messagettl must be greater than visibilitytimeout.",
            );
        }
        let (id, pop_receipt) = (cx.id(IdKind::Message), receipt(cx));
        let expires = match ttl {
            None => never(),
            Some(t) => now
                .checked_add(Duration::from_secs(t.unsigned_abs()))
                .map_or(never(), |e| e.min(never())),
        };
        let message = Message {
            id,
            text,
            inserted: now,
            expires,
            visible_at: now + Duration::from_secs(visibility.unsigned_abs()),
            dequeue_count: 0,
            pop_receipt,
        };
        let mut xml = Xml::new();
        xml.open("QueueMessagesList");
        message_xml(&mut xml, &message, true, false);
        xml.close("QueueMessagesList");
        self.insert_message(cx, name, message);
        Reply::new(201).xml(xml)
    }

    fn get_messages(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request,
        name: &str,
        peek: bool,
        now: SystemTime,
    ) -> Reply {
        let count = match ranged(request, "numofmessages", 1, 32) {
            Ok(n) => n.unwrap_or(1) as usize,
            Err(e) => return e,
        };
        let hide = if peek {
            0
        } else {
            match ranged(request, "visibilitytimeout", 1, SEVEN_DAYS as i64) {
                Ok(v) => v.unwrap_or(30),
                Err(e) => return e,
            }
        };
        // The visible messages, longest visible first (as Azurite orders them), then in the
        // order they came.
        let visible: Vec<usize> = match self.by_name.get(name) {
            Some(q) => {
                let mut v: Vec<(SystemTime, usize)> = q
                    .messages
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.visible_at <= now)
                    .map(|(k, m)| (m.visible_at, k))
                    .collect();
                v.sort();
                v.into_iter().map(|(_, k)| k).take(count).collect()
            }
            None => return error(404, "QueueNotFound", request),
        };
        let mut receipts = Vec::new();
        if !peek {
            for _ in &visible {
                receipts.push(receipt(cx));
            }
        }
        let Some(queue) = self.by_name.get_mut(name) else {
            return error(404, "QueueNotFound", request);
        };
        let mut xml = Xml::new();
        xml.open("QueueMessagesList");
        let mut handed = Vec::new();
        for (n, k) in visible.into_iter().enumerate() {
            let Some(m) = queue.messages.get_mut(k) else {
                continue;
            };
            if !peek {
                m.dequeue_count += 1;
                m.visible_at = now + Duration::from_secs(hide.unsigned_abs());
                if let Some(r) = receipts.get(n) {
                    m.pop_receipt = r.clone();
                }
                handed.push(crate::recording::ReceivedEntry {
                    message_id: m.id.clone(),
                    pop_receipt: m.pop_receipt.clone(),
                    dequeue_count: m.dequeue_count,
                });
            }
            message_xml(&mut xml, m, !peek, true);
        }
        xml.close("QueueMessagesList");
        cx.facts.received = handed;
        Reply::new(200).xml(xml)
    }

    fn message_call(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request,
        name: &str,
        id: &str,
        op: QueueOp,
        now: SystemTime,
    ) -> Reply {
        let Some(pop) = query(request, "popreceipt") else {
            return storage_error(
                400,
                "MissingRequiredQueryParameter",
                "A query parameter that's mandatory for this request is not specified.",
                request,
            );
        };
        let text = if op == QueueOp::UpdateMessage && !request.body.is_empty() {
            match message_text(&request.body) {
                Some(t) if t.len() > MAX_MESSAGE_BYTES => {
                    return error(413, "RequestBodyTooLarge", request);
                }
                Some(t) => Some(t),
                None => return error(400, "InvalidXmlDocument", request),
            }
        } else {
            None
        };
        let visibility = if op == QueueOp::UpdateMessage {
            // Update Message requires its visibility timeout (Storage REST; Azurite refuses a
            // request without one).
            match ranged(request, "visibilitytimeout", 0, SEVEN_DAYS as i64) {
                Ok(Some(v)) => v,
                Ok(None) => {
                    return detailed_error(
                        400,
                        "MissingRequiredQueryParameter",
                        message_of("MissingRequiredQueryParameter"),
                        &[("QueryParameterName", "visibilitytimeout".to_string())],
                        request,
                    );
                }
                Err(e) => return e,
            }
        } else {
            0
        };
        let fresh = receipt(cx);
        let Some(queue) = self.by_name.get_mut(name) else {
            return error(404, "QueueNotFound", request);
        };
        let Some(at) = queue.messages.iter().position(|m| m.id == id) else {
            return error(404, "MessageNotFound", request);
        };
        if queue.messages.get(at).is_none_or(|m| m.pop_receipt != pop) {
            return error(400, "PopReceiptMismatch", request);
        }
        if op == QueueOp::DeleteMessage {
            queue.messages.remove(at);
            queue.fit();
            return Reply::new(204);
        }
        let Some(m) = queue.messages.get_mut(at) else {
            return error(404, "MessageNotFound", request);
        };
        m.pop_receipt = fresh;
        let new_receipt = m.pop_receipt.clone();
        m.visible_at = now + Duration::from_secs(visibility.unsigned_abs());
        if let Some(t) = text {
            m.text = t;
        }
        let reply = Reply::new(204)
            .header("x-ms-popreceipt", m.pop_receipt.clone())
            .header("x-ms-time-next-visible", http_date(m.visible_at));
        cx.facts.new_receipt = Some(new_receipt);
        reply
    }

    /// Adds a message to a queue (at the back, or the front when the service reorders).
    pub(crate) fn insert_message(&mut self, cx: &Cx<'_>, name: &str, message: Message) {
        let front = cx.misbehaves(super::faults::Misbehaviour::ReorderNotifications);
        let q = self.by_name.entry(name.to_string()).or_default();
        if front {
            // Delivered before the ones already there: visible since the first of them.
            let mut message = message;
            if let Some(first) = q.messages.front() {
                message.visible_at = message.visible_at.min(first.visible_at);
            }
            q.messages.push_front(message);
        } else {
            q.messages.push_back(message);
        }
    }

    /// Puts a message the service posts itself (a notification): visible now, seven days to
    /// live. Nothing is posted to a queue that does not exist, as the service could not.
    pub(crate) fn enqueue(&mut self, cx: &mut Cx<'_>, name: &str, text: String) -> Option<String> {
        if !self.by_name.contains_key(name) {
            return None;
        }
        let now = cx.now;
        let (id, pop_receipt) = (cx.id(IdKind::Message), receipt(cx));
        let message = Message {
            id: id.clone(),
            text,
            inserted: now,
            expires: now + Duration::from_secs(SEVEN_DAYS),
            visible_at: now,
            dequeue_count: 0,
            pop_receipt,
        };
        self.insert_message(cx, name, message);
        Some(id)
    }
}
