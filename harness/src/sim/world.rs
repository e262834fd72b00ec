//! The simulated world: the three services' states (`queues`, `blobs`, `training`, each the
//! owner of its own), the clock, the seeded sequences, the faults, the journal, and the
//! service's promised work (what it will do, and when). The world composes the services: it
//! lends each a context ([`Cx`]) for a call, applies the effects the call asks for (a blob
//! written, a notification posted, work promised), and runs promised work when it is due.

use std::time::{Duration, SystemTime};

use base64::Engine as _;

use super::blobs::Blobs;
use super::context::{Content, Cx, Effect, Facts, IdKind, Pending, Sequences, Storage};
use super::faults::{Faults, Misbehaviour};
use super::http::Reply;
use super::queues::{QueueOp, Queues};
use super::training::{Answer, Timings, Training};
use crate::storage::AccountKey;

/// Where time comes from.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    /// The wall clock (a standalone queue for benchmarks).
    Wall,
    /// Virtual time, in milliseconds since the Unix epoch: moves only when told to.
    Virtual(u64),
}

/// How the service encodes the notifications it posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MessageEncoding {
    /// The JSON text as is.
    #[default]
    Plain,
    /// Base64 of the JSON text (what the Functions queue trigger expects by default).
    Base64,
    /// Plain and base64 in turn, message by message (a consumer must read both).
    Mixed,
}

/// The whole simulated world.
#[derive(Debug)]
pub struct World {
    pub(crate) clock: Clock,
    /// The Queue service's state.
    pub(crate) queues: Queues,
    /// The Blob service's state.
    pub(crate) blobs: Blobs,
    /// The training API's state.
    pub(crate) training: Training,
    /// The storage account the services answer for, and its key.
    pub(crate) account: String,
    pub(crate) account_key: AccountKey,
    /// The account's second key, when it is given one.
    pub(crate) secondary_key: Option<AccountKey>,
    /// Whether storage requests must be authorized (Shared Key or SAS), as Azure and Azurite
    /// require; off only when asked for.
    pub(crate) check_auth: bool,
    pub(crate) pending: Vec<(SystemTime, u64, Pending)>,
    pub(crate) encoding: MessageEncoding,
    pub(crate) timings: Timings,
    /// The Training-Key the API accepts.
    pub(crate) training_key: String,
    /// What to get wrong.
    pub(crate) faults: Faults,
    /// The seeded sequences: ids, etags, random choices.
    pub(crate) seq: Sequences,
    /// Requests seen per endpoint (api, queue, blob), for HTTP faults.
    pub(crate) requests: [u32; 3],
    /// TCP connections accepted so far, by every server of the world.
    pub(crate) connections: u64,
    /// Where the Queue and Blob services are reached (`127.0.0.1:PORT`, each), set once they
    /// listen: a storage URI names one of the world's queues or containers only through them
    /// (any host while empty, for a world without servers).
    pub(crate) queue_hosts: Vec<String>,
    pub(crate) blob_hosts: Vec<String>,
    /// The journal, when one is kept.
    pub(crate) journal: Option<super::journal::Journal>,
    /// Messages posted so far (for [`MessageEncoding::Mixed`]).
    pub(crate) posted: u64,
    /// How long a Get Blob takes beyond its work (a slow download), in milliseconds.
    pub(crate) blob_delay_ms: u64,
    /// How many bytes a backup blob holds (`b"model"` when 5 or fewer).
    pub backup_bytes: usize,
}

/// The content of a backup blob of `size` bytes: `model`, then a pattern that differs from
/// byte to byte (so a download put together from ranges in the wrong order is noticed).
pub(crate) fn backup_content(size: usize) -> Vec<u8> {
    let mut out = b"model".to_vec();
    out.truncate(size);
    #[allow(clippy::cast_possible_truncation, reason = "a repeating byte pattern")]
    out.extend((out.len()..size).map(|k| (k % 251) as u8));
    out
}

impl World {
    /// An empty world.
    pub fn new(clock: Clock, encoding: MessageEncoding, training_key: &str) -> Self {
        Self {
            clock,
            queues: Queues::default(),
            blobs: Blobs::default(),
            training: Training::default(),
            account: super::auth::DEV_ACCOUNT.to_string(),
            account_key: AccountKey::from_base64(super::auth::DEV_KEY)
                .unwrap_or_else(|_| AccountKey::from_bytes(Vec::new())),
            secondary_key: None,
            check_auth: true,
            pending: Vec::new(),
            encoding,
            timings: Timings::default(),
            training_key: training_key.to_string(),
            faults: Faults::default(),
            seq: Sequences::default(),
            requests: [0; 3],
            connections: 0,
            queue_hosts: Vec::new(),
            blob_hosts: Vec::new(),
            journal: None,
            posted: 0,
            backup_bytes: 5,
            blob_delay_ms: 0,
        }
    }

    /// The next number of the seeded sequence.
    pub(crate) fn random(&mut self) -> u64 {
        self.seq.random()
    }

    pub(crate) fn misbehaves(&self, m: Misbehaviour) -> bool {
        self.faults.has(m)
    }

    pub(crate) fn now(&self) -> SystemTime {
        match self.clock {
            Clock::Wall => SystemTime::now(),
            Clock::Virtual(ms) => SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
        }
    }

    /// A fresh id of `kind`.
    pub(crate) fn id(&mut self, kind: IdKind) -> String {
        self.seq.id(kind)
    }

    pub(crate) fn schedule(&mut self, after: Duration, work: Pending) {
        let at = self.now() + after;
        let order = self.seq.serial();
        self.pending.push((at, order, work));
    }

    /// Runs every pending piece of work, advancing virtual time to each one's due time, until
    /// nothing is pending (work may schedule more). Returns how many ran.
    pub fn settle(&mut self) -> usize {
        self.run_due(None)
    }

    /// Runs the work due by `until` (all of it when `None`), in due order, with virtual time at
    /// each one's due time; then virtual time is `until`. Returns how many ran.
    pub fn run_due(&mut self, until: Option<u64>) -> usize {
        let mut ran = 0;
        while let Some(k) = (0..self.pending.len())
            .min_by_key(|&k| self.pending.get(k).map(|(at, order, _)| (*at, *order)))
        {
            let due_ms = self.pending.get(k).map_or(0, |(at, _, _)| {
                at.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64)
            });
            if until.is_some_and(|u| due_ms > u) {
                break;
            }
            let (_, _, work) = self.pending.remove(k);
            if let Clock::Virtual(ms) = &mut self.clock {
                *ms = (*ms).max(due_ms);
            }
            self.run(work);
            ran += 1;
        }
        if let (Some(u), Clock::Virtual(ms)) = (until, &mut self.clock) {
            *ms = (*ms).max(u);
        }
        ran
    }

    /// Moves virtual time forward (a no-op on the wall clock).
    pub fn advance(&mut self, by: Duration) {
        if let Clock::Virtual(ms) = &mut self.clock {
            *ms += by.as_millis() as u64;
        }
    }

    fn run(&mut self, work: Pending) {
        if let Pending::RemoveBlob { container, name } = work {
            if let Some(c) = self.blobs.containers.get_mut(&container) {
                c.blobs.remove(&name);
            }
            return;
        }
        self.with_training(|training, cx, directory, timings, _| {
            training.due(cx, directory, timings, work);
        });
    }

    /// Lends the training API, for one call, its context, the directory of the world's queues
    /// and containers, its timings and the key it takes; applies the effects the call asks for
    /// and gives back its outcome and the facts for the journal.
    fn with_training<T>(
        &mut self,
        call: impl FnOnce(&mut Training, &mut Cx<'_>, &Directory<'_>, Timings, &str) -> T,
    ) -> (T, Facts) {
        let now = self.now();
        let directory = Directory {
            queues: &self.queues,
            blobs: &self.blobs,
            queue_hosts: &self.queue_hosts,
            blob_hosts: &self.blob_hosts,
            account: &self.account,
        };
        let mut cx = Cx::new(now, &mut self.seq, &self.faults, &self.account);
        let out = call(
            &mut self.training,
            &mut cx,
            &directory,
            self.timings,
            &self.training_key,
        );
        let (facts, effects) = (cx.facts, cx.effects);
        self.apply(effects);
        (out, facts)
    }

    /// Answers a queue request: the reply and the facts for the journal.
    pub(crate) fn queue_answer(
        &mut self,
        request: &wiremock::Request,
        op: QueueOp,
        segments: &[&str],
        endpoint: &str,
    ) -> (Reply, Facts) {
        let now = self.now();
        let mut cx = Cx::new(now, &mut self.seq, &self.faults, &self.account);
        let reply = self.queues.answer(&mut cx, request, op, segments, endpoint);
        (reply, cx.facts)
    }

    /// Answers a blob request: the reply and the facts for the journal. `copy_source_refused`
    /// is the refusal of a Copy Blob's source SAS, when the world refused it.
    pub(crate) fn blob_answer(
        &mut self,
        request: &mut wiremock::Request,
        op: super::blobs::BlobOp,
        segments: &[&str],
        endpoint: &str,
        copy_source_refused: Option<Reply>,
    ) -> (Reply, Facts) {
        let now = self.now();
        let mut cx = Cx::new(now, &mut self.seq, &self.faults, &self.account);
        cx.copy_source_refused = copy_source_refused;
        let reply = self.blobs.answer(&mut cx, request, op, segments, endpoint);
        (reply, cx.facts)
    }

    /// Answers a training API request (`segments` of the whole path): the answer and the facts
    /// for the journal; what the call asks of storage is applied.
    pub(crate) fn training_answer(
        &mut self,
        request: &wiremock::Request,
        segments: &[String],
    ) -> (Answer, Facts) {
        self.with_training(|training, cx, directory, timings, key| {
            training.route(cx, directory, timings, key, request, segments)
        })
    }

    /// Applies what a service asked of the world, in order.
    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::PutBlob {
                    container,
                    name,
                    content,
                } => {
                    let body = match content {
                        Content::Test => b"test".to_vec(),
                        Content::Backup => backup_content(self.backup_bytes),
                    };
                    let now = self.now();
                    let mut cx = Cx::new(now, &mut self.seq, &self.faults, &self.account);
                    self.blobs.put_blob(&mut cx, &container, &name, body);
                }
                Effect::Post {
                    queue,
                    json,
                    announces,
                } => self.post_with(&queue, &json, announces),
                Effect::Promise { after, work } => self.schedule(after, work),
            }
        }
    }

    /// Posts a notification the way the service does (in the configured encoding), announcing
    /// the backup blob `blob` (`container/name`), for the journal.
    pub(crate) fn post_with(&mut self, queue: &str, json: &str, blob: Option<String>) {
        let copies = if self.misbehaves(Misbehaviour::DuplicateDelivery) {
            2
        } else {
            1
        };
        self.posted += 1;
        let base64 = match self.encoding {
            MessageEncoding::Plain => false,
            MessageEncoding::Base64 => true,
            MessageEncoding::Mixed => self.posted.is_multiple_of(2),
        };
        for _ in 0..copies {
            self.deliver(queue, json, base64, blob.clone());
        }
    }

    /// Puts `text` on `queue` (base64 of it when `base64`) as the service does, and journals
    /// the delivery. Any text: a scenario delivers malformed messages this way too.
    pub(crate) fn deliver(&mut self, queue: &str, text: &str, base64: bool, blob: Option<String>) {
        let wire = if base64 {
            base64::engine::general_purpose::STANDARD.encode(text)
        } else {
            text.to_string()
        };
        let now = self.now();
        let mut cx = Cx::new(now, &mut self.seq, &self.faults, &self.account);
        let Some(id) = self.queues.enqueue(&mut cx, queue, wire.clone()) else {
            return;
        };
        if self.journal.is_some() {
            let at = self.timestamp();
            // The announced blob with its size, as the container holds it now.
            let blob = blob.map(|b| {
                let size = b
                    .split_once('/')
                    .and_then(|(c, name)| self.blobs.containers.get(c)?.blobs.get(name))
                    .map(|blob| blob.body.len() as u64);
                (b, size)
            });
            let line = super::journal::delivered(at, queue, &id, &wire, text, base64, blob);
            if let Some(j) = &mut self.journal {
                j.push(line);
            }
        }
    }

    /// The time now, as the journal stamps it.
    pub(crate) fn timestamp(&self) -> cvnotify_core::lifecycle::Timestamp {
        cvnotify_core::lifecycle::Timestamp(
            self.now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        )
    }
}

/// The world's queues and containers as storage URIs name them: on one of the hosts the
/// services listen on (any host while none is known, for a world without servers), in the
/// world's account.
pub(crate) struct Directory<'a> {
    queues: &'a Queues,
    blobs: &'a Blobs,
    queue_hosts: &'a [String],
    blob_hosts: &'a [String],
    account: &'a str,
}

impl Storage for Directory<'_> {
    fn queue_of(&self, uri: &str) -> Option<String> {
        let name = self.resource_of(uri, self.queue_hosts)?;
        self.queues.by_name.contains_key(&name).then_some(name)
    }

    fn container_of(&self, uri: &str) -> Option<String> {
        let name = self.resource_of(uri, self.blob_hosts)?;
        self.blobs.containers.contains_key(&name).then_some(name)
    }
}

impl Directory<'_> {
    /// The resource a storage URI names on one of `hosts` in the world's account.
    fn resource_of(&self, uri: &str, hosts: &[String]) -> Option<String> {
        let url = url::Url::parse(uri).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let authority = format!("{}:{}", url.host_str()?, url.port_or_known_default()?);
        let authority = authority.replacen("localhost:", "127.0.0.1:", 1);
        if !hosts.is_empty() && !hosts.contains(&authority) {
            return None;
        }
        let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [account, name] if *account == self.account => Some((*name).to_string()),
            _ => None,
        }
    }
}
