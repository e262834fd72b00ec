//! Simulations of the endpoints cvnotify talks to, on wiremock: one stateful service that
//! answers the Custom Vision training API and Azure Storage queues and containers on one
//! loopback port, behaving as the seed describes (a ConnectionTest message and a temporary
//! test blob after configuration; a Training notification when training ends; the backup blob
//! and an Export notification when an export ends). Time is virtual: it moves only when the
//! caller says, and [`Simulation::settle`] runs everything the service has promised, so tests
//! never sleep.

mod faults;
mod reset;
mod storage;
mod training;
mod world;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub use faults::{DETECTION, Endpoint, FaultSpecError, Faults, HttpFault, Misbehaviour, OUTCOMES};
pub use world::{Clock, MessageEncoding, Timings, World};

/// The runtime the simulation and its client run on (the server answers on worker threads
/// while the client awaits).
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The request handler: routes to the training API or storage by path.
#[derive(Clone, Debug)]
pub struct Service {
    world: Arc<Mutex<World>>,
}

impl Service {
    /// A service over `world`.
    pub fn new(world: World) -> Self {
        Self {
            world: Arc::new(Mutex::new(world)),
        }
    }

    /// Storage only, on the wall clock: a fast loopback queue for benchmarks.
    pub fn wall_clock_storage() -> Self {
        Self::new(World::new(Clock::Wall, MessageEncoding::Plain, ""))
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock cannot leave the world half-updated in a way that
        // matters to a simulation; keep serving.
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Respond for Service {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let segments: Vec<String> = request
            .url
            .path_segments()
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        let mut world = self.lock();
        // The standalone simulation's admin endpoint: the barrier.
        if let [admin, action] = segments.as_slice()
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
        let endpoint = match segments.as_slice() {
            [cv, _version, training, ..]
                if cv == "customvision" && training.eq_ignore_ascii_case("training") =>
            {
                Endpoint::Api
            }
            [_account, name, ..]
                if world.containers.contains_key(name)
                    || request
                        .url
                        .query()
                        .is_some_and(|q| q.contains("restype=container")) =>
            {
                Endpoint::Blob
            }
            _ => Endpoint::Queue,
        };
        let slot = match endpoint {
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
            .find(|(e, k, _)| *e == endpoint && *k == n)
            .map(|(_, _, f)| f.clone());
        match fault {
            Some(HttpFault::Status(status)) => {
                let mut r = ResponseTemplate::new(status);
                if matches!(status, 429 | 503) {
                    r = r.insert_header("retry-after", "1");
                }
                return r;
            }
            Some(HttpFault::Error(code)) => {
                return match endpoint {
                    Endpoint::Api => training::service_error(
                        training::status_of(&code),
                        &code,
                        "injected by --faults",
                    ),
                    Endpoint::Queue | Endpoint::Blob => {
                        storage::error(storage::status_of(&code), &code)
                    }
                };
            }
            Some(HttpFault::Malformed) => {
                return ResponseTemplate::new(200).set_body_string("<<< not the documented body");
            }
            Some(HttpFault::Empty) => return ResponseTemplate::new(200),
            Some(HttpFault::Delay(_) | HttpFault::RandomDelay(..)) | None => {}
        }
        let answer = match endpoint {
            Endpoint::Api => {
                let rest: Vec<&str> = segments.iter().skip(3).map(String::as_str).collect();
                world.training(request, &rest)
            }
            _ => world.storage(request),
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

/// A running simulation: its server, its URLs and its world.
pub struct Simulation {
    server: MockServer,
    service: Service,
    /// The connection-reset layer in front of the server, when one runs.
    front: Option<std::net::SocketAddr>,
}

impl Simulation {
    /// Starts a simulation on a loopback port, on virtual time starting at `start_ms`.
    pub async fn start(start_ms: u64, encoding: MessageEncoding, training_key: &str) -> Self {
        Self::start_on(None, start_ms, encoding, training_key).await
    }

    /// Starts a simulation on `listener` (a free loopback port when `None`).
    pub async fn start_on(
        listener: Option<std::net::TcpListener>,
        start_ms: u64,
        encoding: MessageEncoding,
        training_key: &str,
    ) -> Self {
        let service = Service::new(World::new(Clock::Virtual(start_ms), encoding, training_key));
        let server = match listener {
            Some(l) => MockServer::builder().listener(l).start().await,
            None => MockServer::start().await,
        };
        Mock::given(wiremock::matchers::any())
            .respond_with(service.clone())
            .mount(&server)
            .await;
        Self {
            server,
            service,
            front: None,
        }
    }

    /// Puts the connection-reset layer in front of the server: the `which`-th connections
    /// (from 1) are reset; [`Simulation::uri`] then names the layer.
    pub async fn reset_connections(&mut self, which: Vec<u32>) -> std::io::Result<()> {
        self.reset_connections_on(None, which).await
    }

    /// [`Simulation::reset_connections`] with the layer listening on `listener` (so that the
    /// port clients are given stays the one asked for; the server behind it has its own).
    pub async fn reset_connections_on(
        &mut self,
        listener: Option<std::net::TcpListener>,
        which: Vec<u32>,
    ) -> std::io::Result<()> {
        self.front = Some(reset::start(listener, *self.server.address(), which).await?);
        Ok(())
    }

    /// Creates a queue directly in the world (not through the REST: a simulation's own set-up
    /// is not a client's request, and HTTP faults count only those).
    pub fn create_queue(&self, name: &str) {
        self.service
            .lock()
            .queues
            .entry(name.to_string())
            .or_default();
    }

    /// Creates a container directly in the world (see [`Simulation::create_queue`]).
    pub fn create_container(&self, name: &str) {
        self.service
            .lock()
            .containers
            .entry(name.to_string())
            .or_default();
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        match self.front {
            Some(address) => format!("http://{address}"),
            None => self.server.uri(),
        }
    }

    /// The training endpoint.
    pub fn training_endpoint(&self) -> String {
        self.uri()
    }

    /// A queue or container URL in the development account.
    pub fn storage_url(&self, name: &str) -> String {
        format!("{}/devstoreaccount1/{name}", self.uri())
    }

    /// Runs all promised work, advancing virtual time; returns how many pieces ran.
    pub fn settle(&self) -> usize {
        self.service.lock().settle()
    }

    /// Moves virtual time forward.
    pub fn advance(&self, by: Duration) {
        self.service.lock().advance(by);
    }

    /// The virtual time now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match self.service.lock().clock {
            Clock::Virtual(ms) => ms,
            Clock::Wall => 0,
        }
    }

    /// The simulation's clock, for whoever stamps what it observes.
    pub fn clock(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let service = self.service.clone();
        move || match service.lock().clock {
            Clock::Virtual(ms) => ms,
            Clock::Wall => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }

    /// Runs the work due by virtual time `until_ms`; virtual time is then `until_ms`.
    pub fn run_due(&self, until_ms: u64) -> usize {
        self.service.lock().run_due(Some(until_ms))
    }

    /// Fixes the ids the service hands out.
    pub fn set_seed(&self, seed: u32) {
        self.service.lock().seed = seed;
    }

    /// Tells the service what to get wrong from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.service.lock().faults = faults;
    }

    /// Changes how long the service takes.
    pub fn set_timings(&self, timings: Timings) {
        self.service.lock().timings = timings;
    }
}
