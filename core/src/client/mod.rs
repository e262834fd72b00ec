//! The client side of the integration: what a consumer of the notification queue (and, with its
//! duties, the code that configures projects and fetches backups) must do, judged from what the
//! simulation delivered and the client's journal of requests. [`ClientJudge`] is the judge, a
//! plain value fed [`ClientEvent`]s in order; [`ClientFindingCode`] the catalogue.

mod finding;
mod judge;

pub use finding::{ClientFindingCode, ClientFindingInfo, Duties};
pub use judge::{
    BUSY_GAP_MS, BUSY_POLLS, Call, ClientEnd, ClientEvent, ClientExample, ClientFinding,
    ClientJudge, DEFAULT_VISIBILITY_MS, Delivered, EXAMPLES, IDLE_WINDOW_MS, MessageClass,
    RETRY_AFTER_SLACK_MS, Received, Request, Service,
};

#[cfg(test)]
mod tests;
