//! The standalone simulation's admin endpoints, on the training API's port: the barrier
//! (`settle`), the journal, and a raw delivery; not client requests, so neither counted for
//! faults nor journaled.

use wiremock::Request;

use super::http::{Reply, query};
use super::world::World;

/// `POST /admin/settle` runs everything pending; `GET /admin/journal?after=N` gives the journal
/// lines after number N (JSON Lines, the number of the last in `x-cvnotify-journal-last`);
/// `POST /admin/deliver?queue=NAME[&base64=true]` puts the body on the queue as the service puts
/// a notification (journaled as delivered, not as a client's request): a test's raw message.
pub(crate) fn admin_answer(world: &mut World, action: &str, request: &Request) -> Reply {
    match (request.method.as_str(), action) {
        ("POST", "settle") => {
            let ran = world.settle();
            Reply::new(200).bytes(
                serde_json::json!({ "ran": ran }).to_string().into_bytes(),
                "application/json",
            )
        }
        ("POST", "deliver") => {
            let Some(queue) = query(request, "queue") else {
                return Reply::new(400).bytes(b"deliver needs ?queue=NAME".to_vec(), "text/plain");
            };
            let Ok(text) = std::str::from_utf8(&request.body) else {
                return Reply::new(400)
                    .bytes(b"the message must be UTF-8 text".to_vec(), "text/plain");
            };
            if !world.queues.by_name.contains_key(&queue) {
                return Reply::new(404)
                    .bytes(format!("no queue {queue}").into_bytes(), "text/plain");
            }
            if text.len() > 64 * 1024 {
                return Reply::new(413)
                    .bytes(b"a message is at most 64 KiB".to_vec(), "text/plain");
            }
            let base64 = query(request, "base64").is_some_and(|b| b == "true");
            world.deliver(&queue, text, base64, None);
            Reply::new(201)
        }
        ("GET", "journal") => {
            let after = query(request, "after")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let Some(journal) = &world.journal else {
                return Reply::new(404).bytes(b"no journal is kept".to_vec(), "text/plain");
            };
            let (lines, last) = journal.since(after);
            let mut body = String::new();
            for l in lines {
                if let Ok(text) = serde_json::to_string(l) {
                    body.push_str(&text);
                    body.push('\n');
                }
            }
            Reply::new(200)
                .header("x-cvnotify-journal-last", last.to_string())
                .bytes(body.into_bytes(), "application/x-ndjson")
        }
        _ => Reply::new(404),
    }
}
