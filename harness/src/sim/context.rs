//! What the world lends a service for one request, or for one piece of the work it promised:
//! the time, the seeded sequences (ids, etags, random choices), the faults, the account, and
//! where the answer's facts for the journal and the service's effects on the rest of the world
//! go ([`Cx`]). The services (`queues`, `blobs`, `training`) take a `Cx` and their own state,
//! never the world: they do not know one another, and the world applies what they ask of it.

use std::time::{Duration, SystemTime};

use cvnotify_core::{ExportPlatform, IterationId, ProjectId};
use sha2::Digest as _;

use super::faults::{Faults, Misbehaviour};
use crate::recording::ReceivedEntry;

/// The kinds of id the service hands out, each numbered on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKind {
    Project = 0,
    Iteration = 1,
    Message = 2,
    PopReceipt = 3,
    TestBlob = 4,
    /// The iteration a `wrong-blob-name` backup names instead of its own.
    WrongIteration = 5,
    /// An answer's `x-ms-request-id`.
    Request = 6,
    Tag = 7,
    Image = 8,
}

/// How many kinds of id there are.
const ID_KINDS: usize = 9;

/// The world's seeded sequences: every id, etag and random choice the simulation makes comes
/// from here, so a seed replays them.
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    /// Fixes the ids the service hands out and every random choice.
    pub(crate) seed: u32,
    /// Numbers drawn from the seeded sequence so far.
    draws: u64,
    /// The last counter value handed out (etags, the order of promised work).
    next: u64,
    /// Ids handed out so far, per [`IdKind`].
    ids: [u64; ID_KINDS],
}

impl Sequences {
    /// The next number of the seeded sequence (splitmix64 over the seed and a counter).
    pub(crate) fn random(&mut self) -> u64 {
        self.draws += 1;
        crate::seed::splitmix64((u64::from(self.seed) << 32) | self.draws)
    }

    /// A fresh counter value.
    pub(crate) fn serial(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// A fresh etag (`0x8DD` and a counter, as Azurite's are shaped).
    pub(crate) fn etag(&mut self) -> String {
        let n = self.serial();
        format!("0x8DD{n:012X}")
    }

    /// A fresh GUID-shaped id of `kind`: the seed, the kind and that kind's own counter, so the
    /// same seed and the same calls give the same ids whatever else happened in between (a
    /// pause, a poll, a message the service posted).
    pub(crate) fn id(&mut self, kind: IdKind) -> String {
        let slot = kind as usize;
        let n = self.ids.get(slot).copied().unwrap_or(0) + 1;
        if let Some(c) = self.ids.get_mut(slot) {
            *c = n;
        }
        format!(
            "{:08x}-{:04x}-4000-8000-{n:012x}",
            self.seed,
            kind as u16 + 1
        )
    }
}

/// Work the service has promised, to be done when it is due.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    ConnectionTest {
        project: ProjectId,
    },
    RemoveBlob {
        container: String,
        name: String,
    },
    FinishTraining {
        project: ProjectId,
        iteration: IterationId,
    },
    FinishExport {
        project: ProjectId,
        iteration: IterationId,
        platform: ExportPlatform,
    },
}

/// What a blob the service writes holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// The test blob of a connection test (`test`).
    Test,
    /// A backup of a model (the world's backup size).
    Backup,
}

/// What a service asks of the rest of the world, applied in order once it has answered.
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// Write a blob into a container of the world's.
    PutBlob {
        container: String,
        name: String,
        content: Content,
    },
    /// Post a notification to a queue of the world's (in the world's encoding); `announces`
    /// is the backup blob (`container/name`) it announces, for the journal.
    Post {
        queue: String,
        json: String,
        announces: Option<String>,
    },
    /// Do `work` after `after`.
    Promise { after: Duration, work: Pending },
}

/// What the answer to one request said, beyond its status, that the journal keeps: filled in
/// by the services as they answer, and handed to the journal with the answer.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// Get Messages: what it handed out.
    pub(crate) received: Vec<ReceivedEntry>,
    /// Put Message: the text's digest, and the digests of what it holds.
    pub(crate) digest: Option<String>,
    pub(crate) holds: Vec<String>,
    /// Update Message: the new receipt.
    pub(crate) new_receipt: Option<String>,
    /// CreateProject: the new project; TrainProject: the new iteration.
    pub(crate) project: Option<String>,
    pub(crate) iteration: Option<String>,
}

/// Which of the world's queues and containers a storage URI names: what the training API may
/// know of the storage services (that a queue or container exists and what it is called).
pub(crate) trait Storage {
    /// The name of the world's queue `uri` names, if it names one that exists.
    fn queue_of(&self, uri: &str) -> Option<String>;
    /// The name of the world's container `uri` names, if it names one that exists.
    fn container_of(&self, uri: &str) -> Option<String>;
}

/// What a service is lent for one request or one piece of promised work.
pub(crate) struct Cx<'w> {
    /// The time now.
    pub(crate) now: SystemTime,
    /// The seeded sequences.
    pub(crate) seq: &'w mut Sequences,
    /// What the service gets wrong.
    pub(crate) faults: &'w Faults,
    /// The storage account the services answer for.
    pub(crate) account: &'w str,
    /// Where the answer's facts for the journal go.
    pub(crate) facts: Facts,
    /// What the service asks of the world, in order.
    pub(crate) effects: Vec<Effect>,
    /// A Copy Blob whose source SAS the world refused to let read the source: the refusal.
    pub(crate) copy_source_refused: Option<super::http::Reply>,
}

impl<'w> Cx<'w> {
    /// A context at `now`.
    pub(crate) fn new(
        now: SystemTime,
        seq: &'w mut Sequences,
        faults: &'w Faults,
        account: &'w str,
    ) -> Self {
        Self {
            now,
            seq,
            faults,
            account,
            facts: Facts::default(),
            effects: Vec::new(),
            copy_source_refused: None,
        }
    }

    /// Whether the service gets `m` wrong.
    pub(crate) fn misbehaves(&self, m: Misbehaviour) -> bool {
        self.faults.has(m)
    }

    /// A fresh id of `kind`.
    pub(crate) fn id(&mut self, kind: IdKind) -> String {
        self.seq.id(kind)
    }

    /// Promises `work` after `after`.
    pub(crate) fn promise(&mut self, after: Duration, work: Pending) {
        self.effects.push(Effect::Promise { after, work });
    }

    /// Posts a notification to `queue` (announcing the backup blob `announces`).
    pub(crate) fn post(&mut self, queue: &str, json: String, announces: Option<String>) {
        self.effects.push(Effect::Post {
            queue: queue.to_string(),
            json,
            announces,
        });
    }
}

/// The first 16 hex digits of the SHA-256 of `text`: enough to recognise a message moved
/// elsewhere, nothing of its content.
pub(crate) fn digest(text: &[u8]) -> String {
    let hash = sha2::Sha256::digest(text);
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// How many string values of a JSON message [`holds`] looks at.
pub(crate) const HELD_STRINGS: usize = 16;

/// The digests of what a message text holds, beside the text itself: its base64 decoding
/// and its base64 encoding (a message moved to a poison queue by an SDK's base64 policy, or
/// decoded first), and, when it is a JSON object, each string value in it (depth-first, at
/// most [`HELD_STRINGS`]) and its base64 decoding: a poison envelope that carries the original
/// text beside the error. Nothing of the text itself is kept.
pub(crate) fn holds(text: &str) -> Vec<String> {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let decoded = |t: &str| b64.decode(t.trim()).ok().filter(|d| !d.is_empty());
    let mut out = vec![digest(b64.encode(text.as_bytes()).as_bytes())];
    out.extend(decoded(text).map(|d| digest(&d)));
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let mut strings = Vec::new();
        let mut stack = vec![&value];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::String(s) => strings.push(s.as_str()),
                serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
                serde_json::Value::Object(map) => stack.extend(map.values().rev()),
                _ => {}
            }
            if strings.len() == HELD_STRINGS {
                break;
            }
        }
        for s in strings {
            out.push(digest(s.as_bytes()));
            out.extend(decoded(s).map(|d| digest(&d)));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn a_poison_copy_is_recognised_as_is_in_base64_and_in_a_json_envelope() {
        let original = r#"{"version":"1.0","type":"#;
        let wanted = digest(original.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(original);
        let envelope = serde_json::json!({
            "error": "not JSON",
            "dequeueCount": 5,
            "original": {"messageText": original},
        })
        .to_string();
        let b64_envelope = serde_json::json!({"body": b64}).to_string();
        for text in [b64.as_str(), envelope.as_str(), b64_envelope.as_str()] {
            assert!(holds(text).contains(&wanted), "{text}");
        }
        // The decoded text put where the base64 one was delivered: its encoding matches.
        assert!(holds(original).contains(&digest(b64.as_bytes())));
        // Something else is not the message.
        assert!(!holds(r#"{"error":"x","text":"another"}"#).contains(&wanted));
        // A JSON value with thousands of strings is looked at only so far.
        let many = serde_json::to_string(&vec!["x"; 10_000]).unwrap();
        assert!(holds(&many).len() <= 2 * HELD_STRINGS + 2);
    }
}
