//! Simulations of the endpoints cvnotify talks to: one stateful world answered by three
//! loopback services, as Azure (and Azurite) has them: the Custom Vision training API, the
//! Blob service and the Queue service, each on its own port. The storage services authorize
//! requests as Azure does (Shared Key or SAS against the account key) and answer as Azurite
//! does; the training service behaves as the seed describes (a ConnectionTest message and a
//! temporary test blob after configuration; a Training notification when training ends; the
//! backup blob and an Export notification when an export ends).
//!
//! Two ways to serve it, one world behind both ([`Service`] answers a parsed request):
//! - embedded ([`Simulation::start`]): on wiremock servers (request recording off, the service
//!   as their `Respond`), on virtual time that moves only when the caller says
//!   ([`Simulation::settle`] runs everything the service has promised, so tests never sleep).
//!   `check` and the test suite check clients against these wiremock-simulated endpoints.
//! - standalone ([`Simulation::start_world`], `simulate`, `verify`): on the simulation's own
//!   hyper server (`serve`), on the wall clock, where a client's storage timers must be real
//!   and the service's own delays are short settings ([`Timings`]). It does what wiremock
//!   cannot: bounds what an unauthorized peer can make it read, numbers connections, and
//!   keeps the case of metadata names as sent (`header_case`).

mod auth;
mod blobs;
mod context;
mod faults;
mod header_case;
mod http;
mod journal;
mod lease;
mod queues;
mod reset;
mod serve;
mod shared;
mod training;
mod world;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub use auth::{DEV_ACCOUNT, DEV_KEY};
pub use faults::{DETECTION, Endpoint, FaultSpecError, Faults, HttpFault, Misbehaviour, OUTCOMES};
pub use journal::{CAPACITY as JOURNAL_CAPACITY, Journal};
pub use serve::{MAX_BODY, Server};
pub use training::Timings;
pub use world::{Clock, MessageEncoding, World};

use self::context::Facts;
use self::http::{Reply, finish};
use self::serve::Handler as _;
use crate::storage::AccountKey;

/// The runtime the simulation and its client run on (the server answers on worker threads
/// while the client awaits).
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The request handler of one endpoint of the world.
#[derive(Clone, Debug)]
pub struct Service {
    world: Arc<Mutex<World>>,
    endpoint: Endpoint,
    /// The endpoint's own URL with the account (`http://127.0.0.1:PORT/devstoreaccount1`), for
    /// the `ServiceEndpoint` of listings; set once the server listens.
    base: Arc<OnceLock<String>>,
    /// The simulation's own door to the training API (a scenario playing the service's
    /// customer): its requests are neither journaled nor counted for faults.
    internal: bool,
}

impl Service {
    /// The `endpoint` of a world.
    pub fn new(world: Arc<Mutex<World>>, endpoint: Endpoint) -> Self {
        Self {
            world,
            endpoint,
            base: Arc::new(OnceLock::new()),
            internal: false,
        }
    }

    /// A Queue service alone, on the wall clock: a fast loopback queue for benchmarks (it
    /// checks Shared Key and SAS against the development account, as Azurite does).
    pub fn wall_clock_queue() -> Self {
        let world = World::new(Clock::Wall, MessageEncoding::Plain, "");
        Self::new(Arc::new(Mutex::new(world)), Endpoint::Queue)
    }

    /// Serves this endpoint on `listener` (a free loopback port when `None`), on a server of
    /// its own whose memory does not grow with the requests it serves.
    pub async fn serve(&self, listener: Option<TcpListener>) -> std::io::Result<Server> {
        let server = Server::start(listener, self.clone()).await?;
        let _ = self
            .base
            .set(format!("{}/{}", server.uri(), self.lock().account));
        Ok(server)
    }

    /// Serves this endpoint on a wiremock `server` (whose URL names it in listings): the
    /// embedded simulation. Start the server with request recording off, or it keeps every
    /// request it answered.
    pub async fn mount(&self, server: &MockServer) {
        let _ = self
            .base
            .set(format!("{}/{}", server.uri(), self.lock().account));
        Mock::given(wiremock::matchers::any())
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock cannot leave the world half-updated in a way that
        // matters to a simulation; keep serving.
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A storage request's operation and the path after the account, once its path names the
/// account and its credentials allow it; the refusal otherwise. Nothing here reads the body:
/// the standalone server asks it before it reads one ([`Service::refused_on_head`]).
fn admit<'r>(
    world: &World,
    request: &'r Request,
    endpoint: Endpoint,
) -> Result<(Op, Vec<&'r str>), Reply> {
    let segments: Vec<&str> = request
        .url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let Some((&account, rest)) = segments.split_first() else {
        return Err(http::error(400, "InvalidUri", request));
    };
    if account != world.account {
        return Err(http::error(404, "ResourceNotFound", request));
    }
    let service = match endpoint {
        Endpoint::Queue => auth::Service::Queue,
        _ => auth::Service::Blob,
    };
    let operation = match endpoint {
        Endpoint::Queue => queues::operation(request, rest).map(Op::Queue),
        _ => blobs::operation(request, rest).map(Op::Blob),
    };
    let authorizer = auth::Authorizer {
        account: &world.account,
        key: &world.account_key,
        secondary: world.secondary_key.as_ref(),
    };
    let blob =
        (service == auth::Service::Blob && rest.len() > 1).then(|| blobs::blob_name(request, rest));
    let op = match operation {
        Ok(op) => op,
        // An operation the simulation does not have is answered as such only to a request whose
        // credentials are good (as Azure authenticates first): a bad one hears 403.
        Err(unsupported) => {
            if world.check_auth {
                let level = match rest.len() {
                    0 => auth::Level::Service,
                    1 => auth::Level::Container,
                    _ => auth::Level::Object,
                };
                let any = auth::Needs {
                    level,
                    account: "rwdlacupxtfi",
                    service: "rwdlacupxtfi",
                };
                authorizer
                    .check(
                        request,
                        service,
                        any,
                        rest.first().copied(),
                        blob.as_deref(),
                        world.now(),
                    )
                    .map_err(|refusal| http::error(403, refusal.code(service), request))?;
            }
            return Err(unsupported);
        }
    };
    let mut needs = match op {
        Op::Queue(op) => op.needs(),
        Op::Blob(op) => op.needs(),
    };
    // Writing over a blob that exists takes the write permission: create alone makes new ones.
    if let Op::Blob(blobs::BlobOp::PutBlob | blobs::BlobOp::CopyBlob | blobs::BlobOp::PutBlockList) =
        op
        && let (Some(c), Some(b)) = (rest.first(), &blob)
        && world
            .blobs
            .containers
            .get(&shared::percent_decoded(c))
            .is_some_and(|c| c.blobs.contains_key(b))
    {
        needs.account = "w";
        needs.service = "w";
    }
    // A container created for public read access lets anybody read what it opened (a request
    // with credentials is judged by them, as Azure does).
    let anonymous = request.headers.get("authorization").is_none()
        && !request.url.query_pairs().any(|(n, _)| n == "sig");
    let public = match op {
        Op::Blob(blob_op) if anonymous => rest
            .first()
            .and_then(|c| world.blobs.containers.get(&shared::percent_decoded(c)))
            .and_then(|c| c.public_access)
            .is_some_and(|access| access.allows(blob_op)),
        _ => false,
    };
    if world.check_auth
        && !public
        && let Err(refusal) = authorizer.check(
            request,
            service,
            needs,
            rest.first().copied(),
            blob.as_deref(),
            world.now(),
        )
    {
        return Err(http::error(403, refusal.code(service), request));
    }
    Ok((op, rest.to_vec()))
}

/// Whether the operation takes metadata (`x-ms-meta-*`) whose names the service checks: the Blob
/// service's (Azurite's Queue service keeps any name, and it is the oracle here).
fn takes_metadata(op: &Op) -> bool {
    matches!(
        op,
        Op::Blob(
            blobs::BlobOp::CreateContainer
                | blobs::BlobOp::SetContainerMetadata
                | blobs::BlobOp::PutBlob
                | blobs::BlobOp::SetBlobMetadata
        )
    )
}

/// A metadata name must be a C# identifier (a letter or `_`, then letters, digits and `_`), as
/// the Blob service requires.
fn valid_metadata_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The answer to a storage request, authorized first, and what it said for the journal.
fn storage(
    world: &mut World,
    request: &mut Request,
    endpoint: Endpoint,
    base: &str,
) -> (Reply, Facts) {
    let (op, rest) = match admit(world, request, endpoint) {
        Ok((op, rest)) => (op, rest.into_iter().map(str::to_string).collect::<Vec<_>>()),
        Err(refusal) => return (refusal, Facts::default()),
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let bad_metadata = request.headers.keys().any(|n| {
        n.as_str()
            .strip_prefix("x-ms-meta-")
            .is_some_and(|m| !valid_metadata_name(m))
    });
    if takes_metadata(&op) && bad_metadata {
        return (
            http::error(400, "InvalidMetadata", request),
            Facts::default(),
        );
    }
    match op {
        Op::Queue(op) => world.queue_answer(request, op, &rest, base),
        Op::Blob(op) => {
            // A Copy Blob whose source carries a SAS: the SAS must let the source be read.
            let refused = match blobs::copy_source_probe(request) {
                Some(probe) if op == blobs::BlobOp::CopyBlob && world.check_auth => {
                    admit(world, &probe, Endpoint::Blob).err()
                }
                _ => None,
            };
            world.blob_answer(request, op, &rest, base, refused)
        }
    }
}

/// A storage operation of either service.
enum Op {
    Queue(queues::QueueOp),
    Blob(blobs::BlobOp),
}

/// What one request was answered with, before it goes out: the status, code and
/// `Retry-After` for the journal, the delay to hold it back by, and the reply.
struct Out {
    status: u16,
    error_code: Option<String>,
    retry_after: Option<u32>,
    delay_ms: u64,
    reply: Reply,
}

impl Out {
    fn plain(reply: Reply) -> Self {
        Self {
            status: reply.status,
            error_code: None,
            retry_after: None,
            delay_ms: 0,
            reply,
        }
    }

    fn api(answer: &training::Answer) -> Self {
        Self {
            error_code: (answer.status >= 300)
                .then(|| answer.error_code())
                .flatten(),
            ..Self::plain(answer.reply())
        }
    }

    fn storage(
        reply: Reply,
        request: &Request,
        request_id: &str,
        now: std::time::SystemTime,
    ) -> Self {
        let error_code = reply
            .headers
            .iter()
            .find(|(n, _)| n == "x-ms-error-code")
            .map(|(_, v)| v.clone());
        Self {
            error_code,
            ..Self::plain(finish(reply, request, request_id, now))
        }
    }
}

impl Service {
    /// The answer to a request, with the fault asked for applied.
    /// The answer to a request, and what it said for the journal (nothing, when a fault
    /// answered in the service's place).
    fn answer(
        &self,
        world: &mut World,
        request: &mut Request,
        segments: &[String],
    ) -> (Out, Facts) {
        let slot = match self.endpoint {
            Endpoint::Api => 0,
            Endpoint::Queue => 1,
            Endpoint::Blob => 2,
        };
        let n = world.requests.get(slot).copied().unwrap_or(0) + 1;
        if let Some(count) = world.requests.get_mut(slot) {
            *count = n;
        }
        let fault = world
            .faults
            .http
            .iter()
            .find(|(e, k, _)| *e == self.endpoint && *k == n)
            .map(|(_, _, f)| f.clone());
        let now = world.now();
        let request_id = world.id(context::IdKind::Request);
        match fault {
            Some(HttpFault::Status(status)) => {
                // The training API's gateway answers bare; the storage services with their
                // `<Error>` (`ServerBusy` for throttling, `InternalError` otherwise).
                let mut out = match self.endpoint {
                    Endpoint::Api => Out::plain(Reply::new(status)),
                    Endpoint::Queue | Endpoint::Blob => {
                        let code = if matches!(status, 429 | 503) {
                            "ServerBusy"
                        } else {
                            "InternalError"
                        };
                        let reply =
                            http::storage_error(status, code, http::message_of(code), request);
                        Out::storage(reply, request, &request_id, now)
                    }
                };
                if matches!(status, 429 | 503) {
                    out.reply.set("retry-after", "1".into());
                    out.retry_after = Some(1);
                }
                return (out, Facts::default());
            }
            Some(HttpFault::Error(code)) => {
                let out = match self.endpoint {
                    Endpoint::Api => Out::api(&training::service_error(
                        training::status_of(&code),
                        &code,
                        "injected by --faults",
                    )),
                    Endpoint::Queue | Endpoint::Blob => Out::storage(
                        http::error(http::status_of(&code), &code, request),
                        request,
                        &request_id,
                        now,
                    ),
                };
                return (out, Facts::default());
            }
            Some(HttpFault::Malformed) => {
                let reply =
                    Reply::new(200).bytes(b"<<< not the documented body".to_vec(), "text/plain");
                return (Out::plain(reply), Facts::default());
            }
            Some(HttpFault::Empty) => return (Out::plain(Reply::new(200)), Facts::default()),
            Some(HttpFault::Delay(_) | HttpFault::RandomDelay(..)) | None => {}
        }
        let (mut out, facts) = match self.endpoint {
            Endpoint::Api => {
                let (answer, mut told) = world.training_answer(request, segments);
                if let Some(id) = answer
                    .body
                    .as_ref()
                    .and_then(|b| b.get("id"))
                    .and_then(|v| v.as_str())
                {
                    // CreateProject names its project, TrainProject its iteration, in the answer.
                    match segments.last().map(String::as_str) {
                        Some("projects") => told.project = Some(id.to_string()),
                        Some("train") => told.iteration = Some(id.to_string()),
                        _ => {}
                    }
                }
                (Out::api(&answer), told)
            }
            storage_endpoint => {
                let base = self.base.get().cloned().unwrap_or_default();
                let (reply, facts) = storage(world, request, storage_endpoint, &base);
                let slow = storage_endpoint == Endpoint::Blob
                    && request.method.as_str() == "GET"
                    && reply.status < 300
                    && reply.content_type.as_deref() != Some("application/xml");
                let mut out = Out::storage(reply, request, &request_id, now);
                if slow {
                    out.delay_ms = world.blob_delay_ms;
                }
                (out, facts)
            }
        };
        match fault {
            Some(HttpFault::Delay(ms)) => out.delay_ms += ms,
            Some(HttpFault::RandomDelay(lo, hi)) => {
                out.delay_ms += lo + world.random() % (hi - lo + 1)
            }
            _ => {}
        }
        (out, facts)
    }
}

impl serve::Handler for Service {
    /// Whether a storage request is refused on its head alone (its path, its account, its
    /// credentials): the standalone server then answers it without reading its body, so an
    /// unauthorized upload costs no memory.
    fn refused_on_head(&self, head: &Request) -> bool {
        if self.internal || self.endpoint == Endpoint::Api {
            return false;
        }
        admit(&self.lock(), head, self.endpoint).is_err()
    }

    /// The largest body this service reads: a queue's requests carry at most one message (64
    /// KiB of text, base64 and XML around it), the Blob service's a model backup.
    fn max_body(&self) -> usize {
        match self.endpoint {
            Endpoint::Queue => serve::MAX_QUEUE_BODY,
            Endpoint::Blob | Endpoint::Api => serve::MAX_BODY,
        }
    }

    /// The number of the next TCP connection accepted (from 1, across the world's servers).
    fn next_connection(&self) -> u64 {
        let mut world = self.lock();
        world.connections += 1;
        world.connections
    }

    /// Answers one request, which came on TCP connection `connection` (when the server knows
    /// it): the reply and how long to hold it back.
    fn handle(&self, request: &mut Request, connection: Option<(u64, u32)>) -> (Reply, Duration) {
        let started = std::time::Instant::now();
        let mut world = self.lock();
        let segments: Vec<String> = request
            .url
            .path_segments()
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        // The standalone simulation's admin endpoints (on the API's port): the barrier and the
        // journal. Not client requests: neither counted for faults nor journaled.
        if self.endpoint == Endpoint::Api
            && let [admin, action] = segments.as_slice()
            && admin == "admin"
        {
            return (admin_answer(&mut world, action, request), Duration::ZERO);
        }
        if self.internal {
            let (answer, _) = world.training_answer(request, &segments);
            return (answer.reply(), Duration::ZERO);
        }
        let mut line = world
            .journal
            .is_some()
            .then(|| journal::describe(self.endpoint, request, world.timestamp()));
        if let Some((line, (number, open))) = line.as_mut().zip(connection) {
            line.connection = Some(u32::try_from(number).unwrap_or(u32::MAX));
            line.open_connections = Some(open);
        }
        let (out, facts) = self.answer(&mut world, request, &segments);
        if let Some(mut line) = line.take() {
            let ms = started.elapsed().as_millis() as u64 + out.delay_ms;
            journal::answered(
                &mut line,
                out.status,
                out.error_code,
                out.retry_after,
                ms,
                facts,
            );
            if let Some(j) = &mut world.journal {
                j.push(crate::recording::Line::Request(Box::new(line)));
            }
        }
        (out.reply, Duration::from_millis(out.delay_ms))
    }
}

/// A world served by a wiremock server: the embedded simulation ([`Simulation::start`]).
impl Respond for Service {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        // wiremock does not say which connection a request came on; it lends the request, and
        // the world takes an upload's body (so the standalone server need not copy it).
        let (reply, delay) = self.handle(&mut request.clone(), None);
        let template = reply.template();
        if delay.is_zero() {
            template
        } else {
            template.set_delay(delay)
        }
    }
}

/// `POST /admin/settle` runs everything pending; `GET /admin/journal?after=N` gives the journal
/// lines after number N (JSON Lines, the number of the last in `x-cvnotify-journal-last`);
/// `POST /admin/deliver?queue=NAME[&base64=true]` puts the body on the queue as the service puts
/// a notification (journaled as delivered, not as a client's request): a test's raw message.
fn admin_answer(world: &mut World, action: &str, request: &Request) -> Reply {
    match (request.method.as_str(), action) {
        ("POST", "settle") => {
            let ran = world.settle();
            Reply::new(200).bytes(
                serde_json::json!({ "ran": ran }).to_string().into_bytes(),
                "application/json",
            )
        }
        ("POST", "deliver") => {
            let query = |name: &str| {
                request
                    .url
                    .query_pairs()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.into_owned())
            };
            let Some(queue) = query("queue") else {
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
            let base64 = query("base64").is_some_and(|b| b == "true");
            world.deliver(&queue, text, base64, None);
            Reply::new(201)
        }
        ("GET", "journal") => {
            let after = request
                .url
                .query_pairs()
                .find(|(n, _)| n == "after")
                .and_then(|(_, v)| v.parse().ok())
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

/// Where each of the simulation's services listens (a free loopback port when `None`).
#[derive(Debug, Default)]
pub struct Listeners {
    /// The training API (and the admin endpoints).
    pub api: Option<TcpListener>,
    /// The Blob service.
    pub blob: Option<TcpListener>,
    /// The Queue service.
    pub queue: Option<TcpListener>,
}

/// A running simulation: its servers, its URLs and its world.
pub struct Simulation {
    world: Arc<Mutex<World>>,
    /// Whether the services answer on wiremock ([`Simulation::start`]) rather than on the
    /// standalone server ([`Simulation::start_world`]).
    embedded: bool,
    /// The simulation's own door to the training API, started when first asked for.
    internal: Option<Door>,
    api: Door,
    blob: Door,
    queue: Door,
    /// The connection-reset layers in front of the servers (api, blob, queue), when they run.
    fronts: Option<[SocketAddr; 3]>,
}

/// Where one service of a running simulation answers: a wiremock server (the embedded
/// simulation: `check` and the tests, on virtual time) or the standalone server (`simulate` and
/// `verify`, which need what wiremock cannot do: a bound on bodies read before the credentials
/// are checked, connection numbers for the journal, the case of metadata names as sent, and
/// memory that does not grow with the requests).
enum Door {
    /// On a wiremock `MockServer`, request recording off, the world as its `Respond`.
    Wiremock(MockServer),
    /// On the simulation's own hyper server.
    Standalone(Server),
}

impl Door {
    /// Opens `service` on `listener` (a free loopback port when `None`).
    async fn open(
        service: Service,
        embedded: bool,
        listener: Option<TcpListener>,
    ) -> std::io::Result<Self> {
        if !embedded {
            return service.serve(listener).await.map(Self::Standalone);
        }
        let builder = MockServer::builder().disable_request_recording();
        let server = match listener {
            Some(l) => builder.listener(l).start().await,
            None => builder.start().await,
        };
        service.mount(&server).await;
        Ok(Self::Wiremock(server))
    }

    fn address(&self) -> SocketAddr {
        match self {
            Self::Wiremock(m) => *m.address(),
            Self::Standalone(s) => *s.address(),
        }
    }

    fn uri(&self) -> String {
        match self {
            Self::Wiremock(m) => m.uri(),
            Self::Standalone(s) => s.uri(),
        }
    }
}

impl Simulation {
    /// Starts an embedded simulation on free loopback ports, served by wiremock, on virtual
    /// time starting at `start_ms`.
    pub async fn start(
        start_ms: u64,
        encoding: MessageEncoding,
        training_key: &str,
    ) -> std::io::Result<Self> {
        let world = World::new(Clock::Virtual(start_ms), encoding, training_key);
        Self::open(world, Listeners::default(), true).await
    }

    /// Starts a simulation of `world` on `listeners`, served by the standalone server.
    pub async fn start_world(world: World, listeners: Listeners) -> std::io::Result<Self> {
        Self::open(world, listeners, false).await
    }

    async fn open(world: World, listeners: Listeners, embedded: bool) -> std::io::Result<Self> {
        let world = Arc::new(Mutex::new(world));
        let serve = |endpoint, listener| {
            let service = Service::new(world.clone(), endpoint);
            Door::open(service, embedded, listener)
        };
        let api = serve(Endpoint::Api, listeners.api).await?;
        let blob = serve(Endpoint::Blob, listeners.blob).await?;
        let queue = serve(Endpoint::Queue, listeners.queue).await?;
        {
            let mut w = world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            w.queue_hosts.push(queue.address().to_string());
            w.blob_hosts.push(blob.address().to_string());
        }
        Ok(Self {
            world,
            embedded,
            internal: None,
            api,
            blob,
            queue,
            fronts: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts the connection-reset layer in front of the servers: the `which`-th connections (from
    /// 1, counted across the three services) are reset; the URLs then name the layer.
    pub async fn reset_connections(&mut self, which: Vec<u32>) -> std::io::Result<()> {
        self.reset_connections_on(Listeners::default(), which).await
    }

    /// [`Simulation::reset_connections`] with the layers on `listeners` (so that the ports
    /// clients are given stay the ones asked for; the servers behind them have their own).
    pub async fn reset_connections_on(
        &mut self,
        listeners: Listeners,
        which: Vec<u32>,
    ) -> std::io::Result<()> {
        let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let start = |l, s: &Door| reset::start(l, s.address(), which.clone(), counter.clone());
        let api = start(listeners.api, &self.api).await?;
        let blob = start(listeners.blob, &self.blob).await?;
        let queue = start(listeners.queue, &self.queue).await?;
        self.fronts = Some([api, blob, queue]);
        let mut world = self.lock();
        world.queue_hosts.push(queue.to_string());
        world.blob_hosts.push(blob.to_string());
        Ok(())
    }

    fn url(&self, index: usize, server: &Door) -> String {
        match self.fronts {
            Some(fronts) => fronts
                .get(index)
                .map_or_else(|| server.uri(), |a| format!("http://{a}")),
            None => server.uri(),
        }
    }

    /// The training endpoint (`http://127.0.0.1:PORT`), where the admin endpoints are too.
    pub fn training_endpoint(&self) -> String {
        self.url(0, &self.api)
    }

    /// The Blob service with the account (`http://127.0.0.1:PORT/devstoreaccount1`).
    pub fn blob_endpoint(&self) -> String {
        format!("{}/{}", self.url(1, &self.blob), self.lock().account)
    }

    /// The Queue service with the account.
    pub fn queue_endpoint(&self) -> String {
        format!("{}/{}", self.url(2, &self.queue), self.lock().account)
    }

    /// A queue's URL (no credentials).
    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/{name}", self.queue_endpoint())
    }

    /// A container's URL (no credentials).
    pub fn container_url(&self, name: &str) -> String {
        format!("{}/{name}", self.blob_endpoint())
    }

    /// An account SAS (the query, without `?`) for both services, every permission, valid until
    /// 2099, signed with the account key.
    pub fn account_sas(&self) -> String {
        let world = self.lock();
        account_sas(&world.account, &world.account_key)
    }

    /// The connection string the storage SDKs take.
    pub fn connection_string(&self) -> String {
        let (account, key) = {
            let world = self.lock();
            (world.account.clone(), world.account_key.to_base64())
        };
        format!(
            "DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={};QueueEndpoint={};",
            self.blob_endpoint(),
            self.queue_endpoint()
        )
    }

    /// Creates a queue directly in the world (not through the REST: a simulation's own set-up
    /// is not a client's request, and HTTP faults count only those).
    pub fn create_queue(&self, name: &str) {
        self.lock()
            .queues
            .by_name
            .entry(name.to_string())
            .or_default();
    }

    /// Creates a container directly in the world (see [`Simulation::create_queue`]).
    pub fn create_container(&self, name: &str) {
        let mut world = self.lock();
        let now = world.now();
        let etag = world.seq.etag();
        world
            .blobs
            .containers
            .entry(name.to_string())
            .or_insert_with(|| blobs::ContainerState {
                staged: std::collections::BTreeMap::new(),
                uncommitted: std::collections::BTreeMap::new(),
                etag,
                last_modified: now,
                metadata: Default::default(),
                blobs: Default::default(),
                lease: Default::default(),
                public_access: None,
            });
    }

    /// Runs all promised work, advancing virtual time; returns how many pieces ran.
    pub fn settle(&self) -> usize {
        self.lock().settle()
    }

    /// Moves virtual time forward.
    pub fn advance(&self, by: Duration) {
        self.lock().advance(by);
    }

    /// The virtual time now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match self.lock().clock {
            Clock::Virtual(ms) => ms,
            Clock::Wall => 0,
        }
    }

    /// The simulation's clock, for whoever stamps what it observes.
    pub fn clock(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let world = self.world.clone();
        move || {
            let clock = world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clock;
            match clock {
                Clock::Virtual(ms) => ms,
                Clock::Wall => crate::clock::wall().0,
            }
        }
    }

    /// Runs the work due by `until_ms` (all of it on the wall clock when it is due by now);
    /// virtual time is then `until_ms`.
    pub fn run_due(&self, until_ms: u64) -> usize {
        self.lock().run_due(Some(until_ms))
    }

    /// Fixes the ids the service hands out.
    pub fn set_seed(&self, seed: u32) {
        self.lock().seq.seed = seed;
    }

    /// Tells the service what to get wrong from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// Changes how long the service takes.
    pub fn set_timings(&self, timings: Timings) {
        self.lock().timings = timings;
    }

    /// Answers for `account` with `key` instead of the development account.
    pub fn set_account(&self, account: &str, key: AccountKey) {
        let mut world = self.lock();
        world.account = account.to_string();
        world.account_key = key;
    }

    /// Gives the account a second key: what either key signs is authorized.
    pub fn set_secondary_key(&self, key: AccountKey) {
        self.lock().secondary_key = Some(key);
    }

    /// Whether storage requests must be authorized (on by default, as in Azure and Azurite).
    pub fn set_auth_checks(&self, on: bool) {
        self.lock().check_auth = on;
    }

    /// Starts keeping the journal: every client request and every delivery from now on.
    pub fn keep_journal(&self) {
        self.lock().journal.get_or_insert_with(Journal::default);
    }

    /// The journal lines not taken yet, oldest first.
    pub fn take_journal(&self) -> Vec<crate::recording::Line> {
        self.lock()
            .journal
            .as_mut()
            .map(Journal::take)
            .unwrap_or_default()
    }

    /// How many journal lines were dropped before they were taken.
    pub fn journal_dropped(&self) -> u64 {
        self.lock().journal.as_ref().map_or(0, Journal::dropped)
    }

    /// The simulation's own door to the training API (for a scenario playing the service's
    /// customer): requests through it are neither journaled nor counted for faults.
    pub async fn internal_training_endpoint(&mut self) -> std::io::Result<String> {
        if let Some(s) = &self.internal {
            return Ok(s.uri());
        }
        let mut service = Service::new(self.world.clone(), Endpoint::Api);
        service.internal = true;
        let door = Door::open(service, self.embedded, None).await?;
        let uri = door.uri();
        self.internal = Some(door);
        Ok(uri)
    }

    /// Makes every Get Blob that returns content take `ms` longer (a slow download).
    pub fn set_blob_delay(&self, ms: u64) {
        self.lock().blob_delay_ms = ms;
    }

    /// Delivers `text` to `queue` as the service would post a message (base64 of it when
    /// `base64`), journaled as a delivery: a scenario's malformed or unrecognised messages.
    pub fn deliver(&self, queue: &str, text: &str, base64: bool) {
        self.lock().deliver(queue, text, base64, None);
    }

    /// How much work the service has promised and not yet done.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// How many notifications the service has still to post (the removal of test blobs
    /// aside).
    pub fn pending_notifications(&self) -> usize {
        self.lock()
            .pending
            .iter()
            .filter(|(_, _, w)| !matches!(w, context::Pending::RemoveBlob { .. }))
            .count()
    }

    /// Changes how the service encodes what it posts from now on.
    pub fn set_encoding(&self, encoding: MessageEncoding) {
        self.lock().encoding = encoding;
    }
}

/// [`account_sas`] for Azurite's development account (the token Azurite's documentation gives).
pub fn dev_account_sas() -> String {
    let key =
        AccountKey::from_base64(DEV_KEY).unwrap_or_else(|_| AccountKey::from_bytes(Vec::new()));
    account_sas(DEV_ACCOUNT, &key)
}

/// An account SAS for `account` signed with `key`: both services, every resource type and
/// permission, valid until 2099 (version 2021-08-06).
pub fn account_sas(account: &str, key: &AccountKey) -> String {
    let (sp, ss, srt, se, spr, sv) = (
        "rwdlacup",
        "bq",
        "sco",
        "2099-01-01T00:00:00Z",
        "https,http",
        "2021-08-06",
    );
    let to_sign = format!("{account}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n\n");
    let sig = crate::storage::sign(key.bytes(), &to_sign);
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    format!(
        "sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={}&spr={}&sig={}",
        enc(se),
        enc(spr),
        enc(&sig)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_development_account_sas_is_the_one_azurite_documents() {
        assert_eq!(
            super::dev_account_sas(),
            "sv=2021-08-06&ss=bq&srt=sco&sp=rwdlacup&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig=1tmwxodjvXAEaYjPSDfgKvuIi8qNP7dj%2FNoQuCE3hXg%3D"
        );
    }
}
