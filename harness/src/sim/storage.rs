//! The simulated Azure Storage side (protocol.md 2 and 3), path-style (`/{account}/{name}`):
//! queues (create, put, get with visibility timeouts and dequeue counts, peek, delete with pop
//! receipt, the approximate count) and containers (create, list with prefix and paging, put, get,
//! head). Authorization is not checked.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use wiremock::{Request, ResponseTemplate};

use super::world::World;

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

/// How long a message lives (the service default: 7 days).
const MESSAGE_TTL: Duration = Duration::from_secs(7 * 86_400);

fn date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// The HTTP status of a storage error code (the queue and blob services' error tables).
pub(crate) fn status_of(code: &str) -> u16 {
    match code {
        "QueueNotFound" | "MessageNotFound" | "ContainerNotFound" | "BlobNotFound"
        | "ResourceNotFound" => 404,
        "QueueAlreadyExists"
        | "QueueBeingDeleted"
        | "QueueDisabled"
        | "QueueNotEmpty"
        | "ContainerAlreadyExists"
        | "ContainerBeingDeleted"
        | "BlobAlreadyExists" => 409,
        "AuthenticationFailed" | "AuthorizationFailure" | "AuthorizationPermissionMismatch" => 403,
        "InternalError" | "OperationTimedOut" => 500,
        "ServerBusy" => 503,
        _ => 400,
    }
}

pub(crate) fn error(status: u16, code: &str) -> ResponseTemplate {
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

impl World {
    /// Answers one storage request.
    pub(crate) fn storage(&mut self, request: &Request) -> ResponseTemplate {
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
        let now = self.now();
        let method = request.method.as_str();
        if query.get("restype").is_some_and(|v| v == "container") {
            return self.container(method, &segments, &query);
        }
        match segments.as_slice() {
            [_account, container, blob @ ..]
                if !blob.is_empty() && self.containers.contains_key(*container) =>
            {
                let name = blob.join("/");
                let name = percent_decode(&name);
                self.blob(method, container, &name, &request.body)
            }
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
                if !self.queues.contains_key(*queue) {
                    return error(404, "QueueNotFound");
                }
                match method {
                    "POST" => {
                        let Ok(body) = std::str::from_utf8(&request.body) else {
                            return error(400, "InvalidXmlDocument");
                        };
                        let Ok(put) = quick_xml::de::from_str::<PutBody>(body) else {
                            return error(400, "InvalidXmlDocument");
                        };
                        let delay = Duration::from_secs(number("visibilitytimeout", 0));
                        let (id, receipt) = self.enqueue(queue, put.message_text, delay);
                        let listed = Listed {
                            message_id: id,
                            insertion_time: date(now),
                            expiration_time: date(now + MESSAGE_TTL),
                            pop_receipt: Some(receipt),
                            time_next_visible: Some(date(now + delay)),
                            dequeue_count: 0,
                            message_text: None,
                        };
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
                        let Some(q) = self.queues.get_mut(*queue) else {
                            return error(404, "QueueNotFound");
                        };
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
                                expiration_time: date(m.inserted + MESSAGE_TTL),
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

impl World {
    fn container(
        &mut self,
        method: &str,
        segments: &[&str],
        query: &BTreeMap<String, String>,
    ) -> ResponseTemplate {
        let [_account, name] = segments else {
            return error(400, "InvalidUri");
        };
        match method {
            "PUT" if self.containers.contains_key(*name) => error(409, "ContainerAlreadyExists"),
            "PUT" => {
                self.containers.insert((*name).to_string(), BTreeMap::new());
                ResponseTemplate::new(201)
            }
            "GET" if query.get("comp").is_some_and(|c| c == "list") => {
                let Some(blobs) = self.containers.get(*name) else {
                    return error(404, "ContainerNotFound");
                };
                let prefix = query.get("prefix").map_or("", String::as_str);
                let max = query
                    .get("maxresults")
                    .and_then(|m| m.parse::<usize>().ok())
                    .unwrap_or(5000)
                    .max(1);
                let start = query.get("marker").map_or("", String::as_str);
                let mut page: Vec<(&String, &Vec<u8>)> = blobs
                    .range(start.to_string()..)
                    .filter(|(n, _)| n.starts_with(prefix))
                    .take(max + 1)
                    .collect();
                let next = if page.len() > max {
                    page.pop().map(|(n, _)| n.clone())
                } else {
                    None
                };
                let list = Enumeration {
                    blobs: BlobsXml {
                        blob: page
                            .into_iter()
                            .map(|(n, b)| BlobOut {
                                name: n.clone(),
                                properties: PropertiesOut {
                                    content_length: b.len() as u64,
                                },
                            })
                            .collect(),
                    },
                    next_marker: next.unwrap_or_default(),
                };
                match quick_xml::se::to_string(&list) {
                    Ok(body) => ResponseTemplate::new(200)
                        .insert_header("content-type", "application/xml")
                        .set_body_string(body),
                    Err(_) => error(500, "InternalError"),
                }
            }
            _ => error(400, "UnsupportedRequest"),
        }
    }

    fn blob(&mut self, method: &str, container: &str, name: &str, body: &[u8]) -> ResponseTemplate {
        let Some(blobs) = self.containers.get_mut(container) else {
            return error(404, "ContainerNotFound");
        };
        match (method, blobs.get(name)) {
            ("PUT", _) => {
                blobs.insert(name.to_string(), body.to_vec());
                ResponseTemplate::new(201)
            }
            ("GET", Some(b)) => ResponseTemplate::new(200).set_body_bytes(b.clone()),
            ("HEAD", Some(b)) => {
                ResponseTemplate::new(200).insert_header("content-length", b.len().to_string())
            }
            ("GET" | "HEAD", None) => error(404, "BlobNotFound"),
            _ => error(400, "UnsupportedRequest"),
        }
    }
}

#[derive(Serialize)]
#[serde(rename = "EnumerationResults")]
struct Enumeration {
    #[serde(rename = "Blobs")]
    blobs: BlobsXml,
    #[serde(rename = "NextMarker")]
    next_marker: String,
}

#[derive(Serialize)]
struct BlobsXml {
    #[serde(rename = "Blob")]
    blob: Vec<BlobOut>,
}

#[derive(Serialize)]
struct BlobOut {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Properties")]
    properties: PropertiesOut,
}

#[derive(Serialize)]
struct PropertiesOut {
    #[serde(rename = "Content-Length")]
    content_length: u64,
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| text.to_string(), |(_, v)| v.into_owned())
}
