//! The Azure Storage side: queues and blob containers over REST (reqwest with rustls, tokio),
//! authorized by Shared Key or SAS, with the XML read and written by quick-xml. Secrets (account
//! keys, SAS signatures) never appear in `Debug`, `Display` or errors.

pub(crate) mod auth;
pub(crate) mod client;
mod container;
mod queue;
pub(crate) use cvnotify_wire::xml;

pub(crate) use auth::sign;
pub use auth::{AccountKey, Credentials, STORAGE_VERSION, SasToken, Signer};
pub use client::{MAX_ANSWER_BYTES, Resource, RetryPolicy, StorageError};
pub use container::Container;
pub use queue::Queue;
pub use xml::{ListedBlob, ListedMessage, XmlError};
