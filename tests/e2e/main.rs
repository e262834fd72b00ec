//! The workspace's end-to-end tests, one binary: every module is one area.

// A panic in a test is a failing test with its message: unwrap and indexing are the clearest way
// to say "this must hold" here. The workspace lints refuse them everywhere else.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod azurite;
mod claims;
mod cli_parse;
mod corpus_messages;
mod differential;
mod docs;
mod fuzz_corpus;
mod hostile;
mod leaks;
mod lifecycle;
mod lifecycle_exhaustive;
mod lifecycle_model;
mod lifecycle_properties;
mod live_replay;
mod notification_schema;
mod parse_properties;
mod redact;
mod replay;
mod reports;
mod scale;
mod sdk;
mod server_limits;
mod sim_lifecycle;
mod sim_queue;
mod spill;
mod story;
mod support;
mod training;
mod trust;
mod verify;
