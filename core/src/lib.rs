//! # cvnotify-core
//!
//! The sans-I/O heart of cvnotify: it reads the notifications that Azure Custom Vision posts to a
//! storage queue when a project is configured with `notificationQueueUri` and
//! `exportModelContainerUri`, and the names of the backup blobs it writes.
//!
//! The contract, which every module keeps:
//! - **No I/O, no clock, no randomness.** `#![no_std]` with `alloc`. Bytes and times come in as
//!   arguments; values and errors go out. The same input always gives the same output.
//! - **No panics on input.** Bad input is a typed error that says what and where (a JSON path,
//!   a byte offset). Anything a queue writer controls is quoted only as a bounded, escaped
//!   snippet; a `modelUri` is never quoted and prints with its SAS signature redacted.
//! - **Exact.** A message is accepted only when it can be read without guessing. What a tolerant
//!   reader accepts beyond the documented shape is reported as a [`Deviation`], and strict mode
//!   rejects it.
//!
//! Start at [`parse`]. The source document is the Custom Vision guide "Integrate Azure storage
//! for notifications and backup" (the *seed*); `protocol.md` gathers the wire facts around it.

// No std prelude: an accidental use of std fails to compile, and the crate builds for targets
// without an operating system. `alloc` is the only runtime dependency.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod blob;
pub mod deviation;
pub mod encoding;
pub mod error;
pub mod id;
pub mod model_uri;
pub mod notification;
pub mod parse;
pub mod path;

pub use blob::{BackupBlobName, BlobKind, BlobNameError, ExportPlatform, PlatformType};
pub use deviation::{Deviation, DeviationKind};
pub use encoding::Encoding;
pub use error::{JsonKind, ParseError, ParseErrorKind, SyntaxProblem};
pub use id::{GuidError, IterationId, ProjectId};
pub use model_uri::{ModelUri, ModelUriError};
pub use notification::{
    ExportStatus, Notification, NotificationKind, Secrets, TrainingStatus, Version,
};
pub use parse::{MAX_DEPTH, MAX_MESSAGE_BYTES, ParseOptions, Parsed, parse};
pub use path::{FieldPath, Snippet};
