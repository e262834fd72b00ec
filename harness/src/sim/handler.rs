//! The handler of one endpoint of the world ([`EndpointHandler`]): a request admitted (its account and
//! credentials, before any body is read), answered by the world, its faults applied, and
//! journaled; served by wiremock (as its `Respond`) or by the standalone server (as its
//! `Handler`).

use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::admin::admin_answer;
use super::context::{self, Facts};
use super::faults::{Endpoint, HttpFault};
use super::http::{self, Reply, finish};
use super::serve::{self, Handler as _, Server};
use super::world::{Clock, MessageEncoding, World};
use super::{auth, blobs, journal, queues, shared, training};

/// The request handler of one endpoint of the world.
#[derive(Clone, Debug)]
pub struct EndpointHandler {
    world: Arc<Mutex<World>>,
    endpoint: Endpoint,
    /// The endpoint's own URL with the account (`http://127.0.0.1:PORT/devstoreaccount1`), for
    /// the `ServiceEndpoint` of listings; set once the server listens.
    base: Arc<OnceLock<String>>,
    /// The simulation's own door to the training API (a scenario playing the service's
    /// customer): its requests are neither journaled nor counted for faults.
    pub(crate) internal: bool,
}

impl EndpointHandler {
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
/// the standalone server asks it before it reads one (`EndpointHandler::refused_on_head`).
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
        Endpoint::Queue => auth::StorageService::Queue,
        _ => auth::StorageService::Blob,
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
    let blob = (service == auth::StorageService::Blob && rest.len() > 1)
        .then(|| blobs::blob_name(request, rest));
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
            let refused = (op == blobs::BlobOp::CopyBlob && world.check_auth)
                .then(|| blobs::copy_source_probe(request))
                .flatten()
                .and_then(|probe| admit(world, &probe, Endpoint::Blob).err());
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

impl EndpointHandler {
    /// The answer to a request, with the fault asked for applied, and what it said for the journal (nothing, when a fault
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
                let (answer, facts) = world.training_answer(request, segments);
                (Out::api(&answer), facts)
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

impl serve::Handler for EndpointHandler {
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

/// A world served by a wiremock server: the embedded simulation (`Simulation::start`).
impl Respond for EndpointHandler {
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
