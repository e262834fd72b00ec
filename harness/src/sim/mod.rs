//! Simulations of the endpoints cvnotify talks to: one stateful world answered by three
//! loopback services, as Azure (and Azurite) has them: the Custom Vision training API, the
//! Blob service and the Queue service, each on its own port. The storage services authorize
//! requests as Azure does (Shared Key or SAS against the account key) and answer as Azurite
//! does; the training service behaves as the seed describes (a ConnectionTest message and a
//! temporary test blob after configuration; a Training notification when training ends; the
//! backup blob and an Export notification when an export ends).
//!
//! Two ways to serve it, one world behind both ([`EndpointHandler`] answers a parsed request):
//! - embedded ([`Simulation::start`]): on wiremock servers (request recording off, the service
//!   as their `Respond`), on virtual time that moves only when the caller says
//!   ([`Simulation::settle`] runs everything the service has promised, so tests never sleep).
//!   `check` and the test suite check clients against these wiremock-simulated endpoints.
//! - standalone ([`Simulation::start_world`], `simulate`, `verify`): on the simulation's own
//!   hyper server (`serve`), on the wall clock, where a client's storage timers must be real
//!   and the service's own delays are short settings ([`Timings`]). It does what wiremock
//!   cannot: bounds what an unauthorized peer can make it read, numbers connections, and
//!   keeps the case of metadata names as sent (`header_case`).

mod admin;
mod auth;
mod blobs;
mod context;
mod faults;
mod handler;
mod header_case;
mod http;
mod journal;
mod lease;
mod queues;
mod reset;
mod serve;
mod shared;
mod simulation;
mod training;
mod world;
mod xml;

pub use auth::{DEV_ACCOUNT, DEV_KEY, account_sas, dev_account_sas};
pub use faults::{DETECTION, Endpoint, FaultSpecError, Faults, HttpFault, Misbehaviour, OUTCOMES};
pub use handler::EndpointHandler;
pub use journal::{CAPACITY as JOURNAL_CAPACITY, Journal};
pub use serve::{MAX_BODY, Server};
pub use simulation::{Listeners, Simulation};
pub use training::Timings;
pub use world::{Clock, MessageEncoding, World};

/// The runtime the simulation and its client run on (the server answers on worker threads
/// while the client awaits).
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
