//! A simulated Azure Queue service (protocol.md 2): create, put, get (receive, with visibility
//! timeouts and dequeue counts), peek, delete with pop receipt, and the approximate count, for
//! any number of queues under path-style URLs (`/{account}/{queue}/messages`). Authorization is
//! not checked. Messages live in memory; time is the wall clock (messages hidden by a receive
//! come back when their visibility timeout ends, as on Azure).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use wiremock::{Request, Respond, ResponseTemplate};

#[derive(Debug)]
struct Message {
    id: String,
    text: String,
    inserted: SystemTime,
    visible_at: SystemTime,
    dequeue_count: u32,
    pop_receipt: String,
}

#[derive(Debug, Default)]
struct Queues {
    queues: BTreeMap<String, VecDeque<Message>>,
    next: u64,
}

/// The service: mount it on a wiremock server for every request
/// (`Mock::given(wiremock::matchers::any()).respond_with(SimulatedQueues::default())`).
#[derive(Clone, Debug, Default)]
pub struct SimulatedQueues {
    state: Arc<Mutex<Queues>>,
}

#[derive(Deserialize)]
struct PutBody {
    #[serde(rename = "MessageText", default)]
    message_text: String,
}

#[derive(Serialize)]
#[serde(rename = "QueueMessagesList")]
struct List {
    #[serde(rename = "QueueMessage")]
    messages: Vec<Listed>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Listed {
    message_id: String,
    insertion_time: String,
    expiration_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pop_receipt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_next_visible: Option<String>,
    dequeue_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_text: Option<String>,
}

fn date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-ms-error-code", code)
        .set_body_string(format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
        ))
}

fn xml(status: u16, list: &List) -> ResponseTemplate {
    match quick_xml::se::to_string(list) {
        Ok(body) => ResponseTemplate::new(status)
            .insert_header("content-type", "application/xml")
            .set_body_string(format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{body}")),
        Err(_) => error(500, "InternalError"),
    }
}

impl Queues {
    fn token(&mut self) -> String {
        self.next += 1;
        format!("{:08x}-0000-4000-8000-{:012x}", self.next >> 48, self.next)
    }

    fn handle(&mut self, request: &Request) -> ResponseTemplate {
        let segments: Vec<&str> = request
            .url
            .path_segments()
            .map(|s| s.collect())
            .unwrap_or_default();
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let number = |name: &str, default: u64| {
            query
                .get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(default)
        };
        let now = SystemTime::now();
        let method = request.method.as_str();
        match segments.as_slice() {
            [_account, queue] if method == "PUT" => {
                let created = !self.queues.contains_key(*queue);
                self.queues.entry((*queue).to_string()).or_default();
                ResponseTemplate::new(if created { 201 } else { 204 })
            }
            [_account, queue] if method == "GET" => match self.queues.get(*queue) {
                Some(q) => ResponseTemplate::new(200)
                    .insert_header("x-ms-approximate-messages-count", q.len().to_string()),
                None => error(404, "QueueNotFound"),
            },
            [_account, queue, "messages"] => {
                let id = self.token();
                let receipt = self.token();
                let Some(q) = self.queues.get_mut(*queue) else {
                    return error(404, "QueueNotFound");
                };
                match method {
                    "POST" => {
                        let Ok(body) = std::str::from_utf8(&request.body) else {
                            return error(400, "InvalidXmlDocument");
                        };
                        let Ok(put) = quick_xml::de::from_str::<PutBody>(body) else {
                            return error(400, "InvalidXmlDocument");
                        };
                        let visible_at = now + Duration::from_secs(number("visibilitytimeout", 0));
                        let listed = Listed {
                            message_id: id.clone(),
                            insertion_time: date(now),
                            expiration_time: date(now + Duration::from_secs(7 * 86_400)),
                            pop_receipt: Some(receipt.clone()),
                            time_next_visible: Some(date(visible_at)),
                            dequeue_count: 0,
                            message_text: None,
                        };
                        q.push_back(Message {
                            id,
                            text: put.message_text,
                            inserted: now,
                            visible_at,
                            dequeue_count: 0,
                            pop_receipt: receipt,
                        });
                        xml(
                            201,
                            &List {
                                messages: vec![listed],
                            },
                        )
                    }
                    "GET" => {
                        let peek = query.get("peekonly").is_some_and(|v| v == "true");
                        let count = number("numofmessages", 1).clamp(1, 32) as usize;
                        let hide = Duration::from_secs(number("visibilitytimeout", 30));
                        let mut out = Vec::new();
                        let mut serial = self.next;
                        for m in q.iter_mut().filter(|m| m.visible_at <= now).take(count) {
                            if !peek {
                                serial += 1;
                                m.dequeue_count += 1;
                                m.visible_at = now + hide;
                                m.pop_receipt = format!("r{serial:x}");
                            }
                            out.push(Listed {
                                message_id: m.id.clone(),
                                insertion_time: date(m.inserted),
                                expiration_time: date(m.inserted + Duration::from_secs(7 * 86_400)),
                                pop_receipt: (!peek).then(|| m.pop_receipt.clone()),
                                time_next_visible: (!peek).then(|| date(m.visible_at)),
                                dequeue_count: m.dequeue_count,
                                message_text: Some(m.text.clone()),
                            });
                        }
                        self.next = serial;
                        xml(200, &List { messages: out })
                    }
                    _ => error(405, "UnsupportedHttpVerb"),
                }
            }
            [_account, queue, "messages", id] if method == "DELETE" => {
                let Some(q) = self.queues.get_mut(*queue) else {
                    return error(404, "QueueNotFound");
                };
                let receipt = query.get("popreceipt").map(String::as_str);
                match q.iter().position(|m| m.id == *id) {
                    Some(at) if q.get(at).map(|m| m.pop_receipt.as_str()) == receipt => {
                        q.remove(at);
                        ResponseTemplate::new(204)
                    }
                    Some(_) => error(400, "PopReceiptMismatch"),
                    None => error(404, "MessageNotFound"),
                }
            }
            _ => error(400, "UnsupportedRequest"),
        }
    }
}

impl Respond for SimulatedQueues {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        match self.state.lock() {
            Ok(mut state) => state.handle(request),
            Err(_) => error(500, "InternalError"),
        }
    }
}
