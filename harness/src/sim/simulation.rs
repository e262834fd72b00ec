//! A running simulation ([`Simulation`]): the world behind three services on loopback ports
//! (wiremock servers when embedded, the standalone server otherwise), its URLs and credentials,
//! and what a test or a scenario does to the world directly (virtual time, faults, queues and
//! containers made without a request).

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use wiremock::MockServer;

use super::auth::account_sas;
use super::context;
use super::faults::{Endpoint, Faults};
use super::handler::EndpointHandler;
use super::journal::Journal;
use super::serve::Server;
use super::training::Timings;
use super::world::{Clock, MessageEncoding, World};
use super::{blobs, reset};
use crate::storage::AccountKey;

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
        service: EndpointHandler,
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
            let service = EndpointHandler::new(world.clone(), endpoint);
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
            .or_insert_with(|| blobs::ContainerState::new(etag, now));
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
        let mut service = EndpointHandler::new(self.world.clone(), Endpoint::Api);
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
}
