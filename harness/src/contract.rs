//! The published contracts: the notifications' JSON Schema (2020-12) and the AsyncAPI 3.0
//! document of the notification queue, as `docs/` holds them; and the JSON Schemas of
//! cvnotify's own formats, the recording and the JSON report, derived from the Rust types that
//! write them (`corpus/` holds them; a test fails when they differ). `cvnotify schema` prints
//! them;
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

/// A derived schema with the `$id` and title it is published under.
fn published(mut schema: schemars::Schema, id: &str, title: &str) -> String {
    schema.insert("$id".into(), id.into());
    schema.insert("title".into(), title.into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// `corpus/recording.schema.json`: the JSON Schema of one recording line, derived from
/// [`crate::recording::Line`]: what the reader takes (a field it defaults is not required).
pub fn recording_schema() -> String {
    published(
        schemars::schema_for!(crate::recording::Line),
        "https://cvnotify.invalid/recording.schema.json",
        "cvnotify recording line (JSON Lines: one per line)",
    )
}

/// `corpus/report.schema.json`: the JSON Schema of `--format json` reports, derived from
/// [`crate::report::Report`].
pub fn report_schema() -> String {
    // What cvnotify writes: a field it leaves out when empty is not required.
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    published(
        generator.into_root_schema_for::<crate::report::Report>(),
        "https://cvnotify.invalid/report.schema.json",
        "cvnotify report (--format json)",
    )
}
