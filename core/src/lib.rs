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
//! Start at [`parse()`]:
//!
//! ```
//! use cvnotify_core::{Encoding, Notification, ParseOptions, TrainingStatus, parse};
//!
//! let text = br#"{"version":"1.0","type":"Training","Content":{
//!     "projectId":"0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b",
//!     "iterationId":"1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
//!     "trainingStatus":"TrainingFailed"}}"#;
//! let parsed = parse(text, ParseOptions::STRICT)?;
//! assert_eq!(parsed.encoding, Encoding::Plain);
//! assert!(matches!(
//!     parsed.notification,
//!     Notification::Training { status: TrainingStatus::TrainingFailed, .. }
//! ));
//!
//! // The same message with a braced GUID: rejected, naming the field and the byte.
//! let braced = br#"{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"{0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b}"}}"#;
//! let error = parse(braced, ParseOptions::TOLERANT).unwrap_err();
//! assert_eq!(error.to_string(),
//!     "Content.projectId (byte 65): not a GUID: braces around the GUID are not allowed");
//! # Ok::<(), cvnotify_core::ParseError>(())
//! ```
//!
//! The source document is the Custom Vision guide "Integrate Azure storage
//! for notifications and backup" (the *seed*); `docs/protocol.md` gathers the wire facts around it.

// No std prelude: an accidental use of std fails to compile, and the crate builds for targets
// without an operating system. `alloc` is the only runtime dependency.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod blob;
pub mod client;
pub mod deviation;
pub mod encoding;
pub mod error;
pub mod id;
pub mod lifecycle;
pub mod model_uri;
pub mod notification;
pub mod parse;
pub mod path;
pub mod redact;

pub use blob::{BackupBlobName, BlobKind, BlobNameError, ExportPlatform, PlatformType};
pub use deviation::{Deviation, DeviationCode, DeviationKind};
pub use encoding::Encoding;
pub use error::{JsonKind, ParseError, ParseErrorCode, ParseErrorKind, SyntaxProblem};
pub use id::{GuidError, IterationId, ProjectId};
pub use model_uri::{ModelUri, ModelUriError};
pub use notification::{
    ExportStatus, Notification, NotificationKind, Secrets, TrainingStatus, Version,
};
pub use parse::{MAX_DEPTH, MAX_MESSAGE_BYTES, ParseOptions, Parsed, parse};
pub use path::{FieldPath, Snippet};
