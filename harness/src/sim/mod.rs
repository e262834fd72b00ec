//! Simulations of the endpoints cvnotify talks to, on wiremock: one stateful world answered by
//! three loopback services, as Azure (and Azurite) has them: the Custom Vision training API, the
//! Blob service and the Queue service, each on its own port. The storage services authorize
//! requests as Azure does (Shared Key or SAS against the account key) and answer as Azurite
//! does; the training service behaves as the seed describes (a ConnectionTest message and a
//! temporary test blob after configuration; a Training notification when training ends; the
//! backup blob and an Export notification when an export ends).
//!
//! Time is the world's: virtual for embedded runs (it moves only when the caller says, and
//! [`Simulation::settle`] runs everything the service has promised, so tests never sleep), or
//! the wall clock for the standalone server, where a client's storage timers must be real and
//! the service's own delays are short settings ([`Timings`]).

mod auth;
mod blobs;
mod faults;
mod http;
mod queues;
mod reset;
mod training;
mod world;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub use auth::{DEV_ACCOUNT, DEV_KEY};
pub use faults::{DETECTION, Endpoint, FaultSpecError, Faults, HttpFault, Misbehaviour, OUTCOMES};
pub use world::{Clock, MessageEncoding, Timings, World};

use self::http::{Reply, finish};
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
}

impl Service {
    /// The `endpoint` of a world.
    pub fn new(world: Arc<Mutex<World>>, endpoint: Endpoint) -> Self {
        Self {
            world,
            endpoint,
            base: Arc::new(OnceLock::new()),
        }
    }

    /// A Queue service alone, on the wall clock: a fast loopback queue for benchmarks (it
    /// checks Shared Key and SAS against the development account, as Azurite does).
    pub fn wall_clock_queue() -> Self {
        let world = World::new(Clock::Wall, MessageEncoding::Plain, "");
        Self::new(Arc::new(Mutex::new(world)), Endpoint::Queue)
    }

    /// Serves this endpoint on `server` (whose URL names it in listings).
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

/// The answer to a storage request, authorized first.
fn storage(world: &mut World, request: &Request, endpoint: Endpoint, base: &str) -> Reply {
    let segments: Vec<&str> = request
        .url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let Some((&account, rest)) = segments.split_first() else {
        return http::error(400, "InvalidUri", request);
    };
    if account != world.account {
        return http::error(404, "ResourceNotFound", request);
    }
    let (needs, service, op) = match endpoint {
        Endpoint::Queue => match queues::operation(request, rest) {
            Ok(op) => (op.needs(), auth::Service::Queue, Op::Queue(op)),
            Err(reply) => return reply,
        },
        _ => match blobs::operation(request, rest) {
            Ok(op) => (op.needs(), auth::Service::Blob, Op::Blob(op)),
            Err(reply) => return reply,
        },
    };
    if world.check_auth {
        let blob =
            (service == auth::Service::Blob && rest.len() > 1).then(|| blobs::blob_name(rest));
        let authorizer = auth::Authorizer {
            account: &world.account,
            key: &world.account_key,
        };
        if let Err(refusal) = authorizer.check(
            request,
            service,
            needs,
            rest.first().copied(),
            blob.as_deref(),
            world.now(),
        ) {
            return http::error(403, refusal.code(service), request);
        }
    }
    match op {
        Op::Queue(op) => world.queue_request(request, op, rest, base),
        Op::Blob(op) => world.blob_request(request, op, rest, base),
    }
}

/// A storage operation of either service.
enum Op {
    Queue(queues::QueueOp),
    Blob(blobs::BlobOp),
}

impl Respond for Service {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut world = self.lock();
        let segments: Vec<String> = request
            .url
            .path_segments()
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        // The standalone simulation's admin endpoint (on the API's port): the barrier.
        if self.endpoint == Endpoint::Api
            && let [admin, action] = segments.as_slice()
            && admin == "admin"
        {
            return match action.as_str() {
                "settle" => {
                    let ran = world.settle();
                    ResponseTemplate::new(200).set_body_json(serde_json::json!({ "ran": ran }))
                }
                _ => ResponseTemplate::new(404),
            };
        }
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
        let request_id = world.id(world::IdKind::Request);
        match fault {
            Some(HttpFault::Status(status)) => {
                let mut r = ResponseTemplate::new(status);
                if matches!(status, 429 | 503) {
                    r = r.insert_header("retry-after", "1");
                }
                return r;
            }
            Some(HttpFault::Error(code)) => {
                return match self.endpoint {
                    Endpoint::Api => training::service_error(
                        training::status_of(&code),
                        &code,
                        "injected by --faults",
                    ),
                    Endpoint::Queue | Endpoint::Blob => finish(
                        http::error(http::status_of(&code), &code, request),
                        request,
                        &request_id,
                        now,
                    ),
                };
            }
            Some(HttpFault::Malformed) => {
                return ResponseTemplate::new(200).set_body_string("<<< not the documented body");
            }
            Some(HttpFault::Empty) => return ResponseTemplate::new(200),
            Some(HttpFault::Delay(_) | HttpFault::RandomDelay(..)) | None => {}
        }
        let answer = match self.endpoint {
            Endpoint::Api => training::route(&mut world, request, &segments),
            storage_endpoint => {
                let base = self.base.get().cloned().unwrap_or_default();
                let reply = storage(&mut world, request, storage_endpoint, &base);
                finish(reply, request, &request_id, now)
            }
        };
        match fault {
            Some(HttpFault::Delay(ms)) => answer.set_delay(Duration::from_millis(ms)),
            Some(HttpFault::RandomDelay(lo, hi)) => {
                let ms = lo + world.random() % (hi - lo + 1);
                answer.set_delay(Duration::from_millis(ms))
            }
            _ => answer,
        }
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
    api: MockServer,
    blob: MockServer,
    queue: MockServer,
    /// The connection-reset layers in front of the servers (api, blob, queue), when they run.
    fronts: Option<[SocketAddr; 3]>,
}

async fn server(listener: Option<TcpListener>) -> MockServer {
    // Request recording keeps every request ever served: a long run would grow without end.
    let builder = MockServer::builder().disable_request_recording();
    match listener {
        Some(l) => builder.listener(l).start().await,
        None => builder.start().await,
    }
}

impl Simulation {
    /// Starts a simulation on free loopback ports, on virtual time starting at `start_ms`.
    pub async fn start(start_ms: u64, encoding: MessageEncoding, training_key: &str) -> Self {
        let world = World::new(Clock::Virtual(start_ms), encoding, training_key);
        Self::start_world(world, Listeners::default()).await
    }

    /// Starts a simulation of `world` on `listeners`.
    pub async fn start_world(world: World, listeners: Listeners) -> Self {
        let world = Arc::new(Mutex::new(world));
        let (api, blob, queue) = (
            server(listeners.api).await,
            server(listeners.blob).await,
            server(listeners.queue).await,
        );
        for (endpoint, s) in [
            (Endpoint::Api, &api),
            (Endpoint::Blob, &blob),
            (Endpoint::Queue, &queue),
        ] {
            Service::new(world.clone(), endpoint).mount(s).await;
        }
        {
            let mut w = world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            w.queue_hosts.push(queue.address().to_string());
            w.blob_hosts.push(blob.address().to_string());
        }
        Self {
            world,
            api,
            blob,
            queue,
            fronts: None,
        }
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
        let start =
            |l, s: &MockServer| reset::start(l, *s.address(), which.clone(), counter.clone());
        let api = start(listeners.api, &self.api).await?;
        let blob = start(listeners.blob, &self.blob).await?;
        let queue = start(listeners.queue, &self.queue).await?;
        self.fronts = Some([api, blob, queue]);
        let mut world = self.lock();
        world.queue_hosts.push(queue.to_string());
        world.blob_hosts.push(blob.to_string());
        Ok(())
    }

    fn url(&self, index: usize, server: &MockServer) -> String {
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
        self.lock().queues.entry(name.to_string()).or_default();
    }

    /// Creates a container directly in the world (see [`Simulation::create_queue`]).
    pub fn create_container(&self, name: &str) {
        let mut world = self.lock();
        let now = world.now();
        let etag = world.etag();
        world
            .containers
            .entry(name.to_string())
            .or_insert_with(|| blobs::ContainerState {
                etag,
                last_modified: now,
                metadata: Default::default(),
                blobs: Default::default(),
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
        self.lock().seed = seed;
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

    /// Whether storage requests must be authorized (on by default, as in Azure and Azurite).
    pub fn set_auth_checks(&self, on: bool) {
        self.lock().check_auth = on;
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
    use base64::Engine as _;
    use hmac::Mac as _;
    let (sp, ss, srt, se, spr, sv) = (
        "rwdlacup",
        "bq",
        "sco",
        "2099-01-01T00:00:00Z",
        "https,http",
        "2021-08-06",
    );
    let to_sign = format!("{account}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n\n");
    let sig = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key.bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
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
