//! The project lifecycle as a deterministic, mergeable model (seed, all sections).
//!
//! A [`Tracker`] takes [`Input`]s (notifications with their queue envelope, what the client saw of
//! the training API, blobs seen in the container, ticks), each with the time it happened, and
//! keeps per project only *facts*: when each thing was first observed. [`Tracker::report`]
//! judges them: it folds the [`transitions`] table over each project's steps in time order and
//! checks the deadlines and cross-checks in [`finding`]. Because facts merge by
//! associative, commutative, idempotent rules, the report depends only on the set of inputs.

pub mod facts;
pub mod finding;
pub mod input;
pub mod small;
pub mod tracker;
pub mod transitions;

pub use finding::{Finding, FindingCode, FindingInfo, Severity, Sources};
pub use input::{
    ContainerUri, Delivery, Event, Evidence, ExportFlavor, ExportJobStatus, Input, IterationStatus,
    MessageId, Operation, RejectionCode, Stamp, Timestamp,
};
pub use tracker::{Deadlines, MergeError, ProjectReport, Settings, Tracker, Verdicts};
pub use transitions::{Guard, Next, Phase, Row, Step};
