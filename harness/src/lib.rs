//! # cvnotify-harness
//!
//! Everything around [`cvnotify_core`] that touches the world: the recording format, replay and
//! its reports, the live session behind `watch` and `check`, the storage and training API
//! clients, and the simulated endpoints. The `cvnotify` binary is [`run`].
//!
//! ## Layout
//!
//! Arrows point one way: commands → drivers → [`session`] / [`replay`] → [`report`] →
//! [`recording`] → the core. No command uses another command (what several share is in
//! `cmd::prelude`, by job), and no driver uses another driver: what two drivers need lives with
//! what it is about (the training set in [`training`], a container's listing in [`storage`], a
//! received message's view in [`session`]). No file imports a file that imports it back
//! (`scripts/check-cycles` holds this).
//!
//! - `cmd` (private): the command line, one file per subcommand turning flags into library
//!   calls; errors are printed in one place. `cmd::prelude` holds what several share: the error
//!   and exit codes, shared flags, recordings and reports, colour, signals.
//! - [`watch`]: the queue consumer (poll, hand to the session, delete, poison) and
//!   [`check`]: the lifecycle check (create, train, export, wait, judge). Both are drivers: the
//!   I/O around a [`session::Session`]. [`cross_check`] is what both ask the training API.
//! - [`session`]: the live session, sans-I/O: a recorder and a [`report::Ledger`], and the
//!   live lines. Every observation becomes a recording line, is recorded (redacted, numbered)
//!   and is posted as recorded to the ledger, as replay posts what it reads: a live report
//!   equals the replay of its recording by construction.
//! - [`replay`]: a recording streamed and posted (`report::post` on parse workers, the
//!   tracker on one collector) and judged; `replay::spill` keeps the tracker's projects
//!   bounded, spilling the lines of the rest to disk and reading them back by ranges (the
//!   report's message tally keeps itself bounded the same way).
//! - [`report`]: the report model (its verdict tiers and waivers a leaf of their own), the
//!   ledger (how every line is posted, and `report::judge`, the one function a session is
//!   judged by), and its renderers (human, JSON, JUnit, HTML).
//! - [`recording`]: the recording format (schema, reading, what a line stands for, writing),
//!   from the `cvnotify-wire` crate, re-exported here (as is the storage XML, under
//!   [`storage`]); it depends only on the core.
//! - [`storage`], [`training`]: the Azure Storage and Custom Vision training API clients (and
//!   the smallest training set the service trains on).
//! - [`sim`]: the simulated endpoints, sans-I/O at heart: one world (`world`: the clock, the
//!   seeded sequences, the faults, the journal, promised work) composing three services that
//!   own their state and do not know one another, as Azure has them: `queues` and `blobs`
//!   (the storage REST operations, as Azurite answers them; what they share in `shared`;
//!   their XML bodies written by `xml`, on quick-xml's writer), behind `auth` (Shared Key and
//!   SAS) and `http` (what every storage answer carries), with
//!   `lease` (blob and container leases, one transition table), and `training` (the Custom
//!   Vision API, and what its promised work does). A service is lent a `context` for a call
//!   and answers with a reply, facts for the `journal` and effects the world applies. The
//!   `handler` of an endpoint admits a request, has the world answer it and journals it, with
//!   `faults` (what the service gets wrong) and `admin` (the standalone simulation's barrier,
//!   journal and raw delivery); a `simulation` runs it on wiremock when embedded, or on
//!   `serve` (the standalone hyper server) with `reset` (the connection-reset layer) and
//!   `header_case` (the case of metadata names, which hyper lowers, read off the wire).
//! - [`verify`]: the client verification driver (a scenario played against the user's client)
//!   and [`process`]: the client's process tree, started in a group of its own and stopped
//!   whole, with [`scenario`] the built-in and file scenarios it plays.
//! - [`catalogue`]: the transition table and findings catalogue rendered for people.
//!   [`contract`]: the notifications' published JSON Schema and AsyncAPI document.
//! - [`generate`]: synthetic recordings for benchmarks. [`endpoint`]: where credentials may go.
//!   [`clock`]: where times come from. [`seed`]: deterministic sequences. [`scratch`]:
//!   anonymous temporary files for what does not fit in memory.
//! - `fuzzing`, `hostile`: scaffolding for the fuzz targets (from `cvnotify-wire`) and the
//!   hostile-input tests (hidden from the documentation; not part of the library's face).

pub mod catalogue;
pub mod check;
pub mod clock;
mod cmd;
pub mod contract;
pub mod cross_check;
pub mod endpoint;
#[doc(hidden)]
pub use cvnotify_wire::fuzzing;
pub mod generate;
#[doc(hidden)]
pub mod hostile;
pub use cvnotify_wire::recording;
pub mod process;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod scratch;
pub mod seed;
pub mod session;
pub mod sim;
pub mod storage;
pub mod training;
pub mod verify;
pub mod watch;

pub use cmd::run;
