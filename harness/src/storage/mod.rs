//! The Azure Storage side: queues and blob containers over REST (reqwest with rustls, tokio),
//! authorized by Shared Key or SAS, with the XML read and written by quick-xml. Secrets (account
//! keys, SAS signatures) never appear in `Debug`, `Display` or errors.

pub mod auth;
pub mod client;
pub mod container;
pub mod queue;
pub mod xml;

pub use auth::{AccountKey, Credentials, SasToken};
pub use client::{Resource, RetryPolicy, StorageError};
pub use container::Container;
pub use queue::Queue;
