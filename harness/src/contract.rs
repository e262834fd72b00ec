//! The published contract of the notifications: their JSON Schema (2020-12) and the AsyncAPI
//! 3.0 document of the notification queue, as `docs/` holds them. `cvnotify schema` prints them;
//! `tests/e2e/notification_schema.rs` holds the schema to the parser over the message corpus,
//! and `scripts/validate-asyncapi.mjs` validates the AsyncAPI document with the AsyncAPI
//! project's own parser.

use std::path::Path;

/// `docs/notifications.schema.json`: the documented shape, which the parser accepts in strict
/// mode; its description says what a schema cannot say.
pub const NOTIFICATIONS_SCHEMA: &str = include_str!("../../docs/notifications.schema.json");

/// `docs/asyncapi.yaml`: the queue as a channel the service sends on and the consumer receives
/// from, the three messages with payloads referring to `notifications.schema.json` beside it.
pub const ASYNCAPI: &str = include_str!("../../docs/asyncapi.yaml");

/// The file name each document has in `docs/` (the AsyncAPI document refers to the schema by
/// it).
pub const SCHEMA_FILE: &str = "notifications.schema.json";
/// See [`SCHEMA_FILE`].
pub const ASYNCAPI_FILE: &str = "asyncapi.yaml";

/// Writes both documents into `dir` (created if missing), so that the AsyncAPI document's
/// references resolve: the paths written.
pub fn write_to(dir: &Path) -> std::io::Result<[std::path::PathBuf; 2]> {
    std::fs::create_dir_all(dir)?;
    let schema = dir.join(SCHEMA_FILE);
    let asyncapi = dir.join(ASYNCAPI_FILE);
    std::fs::write(&schema, NOTIFICATIONS_SCHEMA)?;
    std::fs::write(&asyncapi, ASYNCAPI)?;
    Ok([schema, asyncapi])
}
