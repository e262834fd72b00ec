//! The training API's JSON bodies (docs/protocol.md §1.3), read tolerantly: fields this build does not
//! know are ignored, statuses it does not know are kept as written, and the two storage URIs are
//! read from `settings` wherever the service puts them.

use std::fmt;

use cvnotify_core::lifecycle::{ExportJobStatus, IterationStatus};
use cvnotify_core::{ExportPlatform, IterationId, ProjectId};
use serde::{Deserialize, Deserializer, Serialize};

fn guid<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: fn(&str) -> Result<T, cvnotify_core::GuidError>,
) -> Result<T, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

fn project_id<'de, D: Deserializer<'de>>(d: D) -> Result<ProjectId, D::Error> {
    guid(d, ProjectId::parse)
}

fn iteration_id<'de, D: Deserializer<'de>>(d: D) -> Result<IterationId, D::Error> {
    guid(d, IterationId::parse)
}

fn optional_project_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ProjectId>, D::Error> {
    match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
        None => Ok(None),
        Some(text) => ProjectId::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// The storage integration's two settings (docs/protocol.md §1.0). A SAS in either URI is a secret:
/// `Debug` shows the URIs with their signatures redacted.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageOptions {
    /// The blob container that receives model backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_model_container_uri: Option<String>,
    /// The queue that receives notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_queue_uri: Option<String>,
}

impl StorageOptions {
    /// Whether neither URI is set.
    pub fn is_empty(&self) -> bool {
        self.export_model_container_uri.is_none() && self.notification_queue_uri.is_none()
    }
}

impl fmt::Debug for StorageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |u: &Option<String>| {
            u.as_deref()
                .map(|t| cvnotify_core::redact::redact(t).into_owned())
        };
        f.debug_struct("StorageOptions")
            .field(
                "export_model_container_uri",
                &show(&self.export_model_container_uri),
            )
            .field(
                "notification_queue_uri",
                &show(&self.notification_queue_uri),
            )
            .finish()
    }
}

/// What CreateProject needs.
#[derive(Clone, Debug, Default)]
pub struct NewProject {
    /// The project name (required).
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// The domain (the service's default, General, when absent).
    pub domain_id: Option<uuid::Uuid>,
    /// `Multiclass` or `Multilabel`.
    pub classification_type: Option<String>,
    /// Where the storage integration sends notifications and backups.
    pub storage: StorageOptions,
}

/// A project (docs/protocol.md §1.3 `Project`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The project id.
    #[serde(deserialize_with = "project_id")]
    pub id: ProjectId,
    /// The name.
    pub name: String,
    /// The description.
    #[serde(default)]
    pub description: Option<String>,
    /// The settings.
    #[serde(default)]
    pub settings: ProjectSettings,
    /// Fields this build does not model, kept so that an update sends them back unchanged.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A project's settings (docs/protocol.md §1.3 `ProjectSettings`, with the 3.4-preview storage URIs).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    /// The storage integration.
    #[serde(flatten)]
    pub storage: StorageOptions,
    /// Everything else, kept as the service wrote it.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// An iteration (docs/protocol.md §1.3 `Iteration`): the model a training produced.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Iteration {
    /// The iteration id (the `iterationId` of the notifications).
    #[serde(deserialize_with = "iteration_id")]
    pub id: IterationId,
    /// The name.
    #[serde(default)]
    pub name: String,
    /// The status as written (`New`, `Training`, `Completed`, `Failed`; the spec has no enum).
    #[serde(default)]
    pub status: String,
    /// The project, when the service says.
    #[serde(default, deserialize_with = "optional_project_id")]
    pub project_id: Option<ProjectId>,
    /// Whether it can be exported.
    #[serde(default)]
    pub exportable: bool,
    /// The platforms it can be exported to, as written.
    #[serde(default)]
    pub exportable_to: Vec<String>,
    /// `trainedAt`, as written (RFC 3339).
    #[serde(default)]
    pub trained_at: Option<String>,
}

impl Iteration {
    /// The status, when it is one the lifecycle model uses (`New` and others are not).
    pub fn known_status(&self) -> Option<IterationStatus> {
        match self.status.as_str() {
            "Training" => Some(IterationStatus::Training),
            "Completed" => Some(IterationStatus::Completed),
            "Failed" => Some(IterationStatus::Failed),
            _ => None,
        }
    }
}

/// An export (docs/protocol.md §1.3 `Export`). `downloadUri` carries a SAS: it is not kept.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    /// The platform, as written.
    pub platform: String,
    /// The status as written (`Exporting`, `Done`, `Failed`).
    pub status: String,
    /// The flavor, as written.
    #[serde(default)]
    pub flavor: Option<String>,
    /// Whether a newer export exists.
    #[serde(default)]
    pub newer_version_available: bool,
    /// Whether the service gave a download URI (its value, a SAS URL, is dropped on purpose).
    #[serde(default, rename = "downloadUri", deserialize_with = "non_empty")]
    pub has_download_uri: bool,
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<std::borrow::Cow<'de, str>>::deserialize(d)?.is_some_and(|s| !s.is_empty()))
}

impl Export {
    /// The status, when it is a documented one.
    pub fn known_status(&self) -> Option<ExportJobStatus> {
        match self.status.as_str() {
            "Exporting" => Some(ExportJobStatus::Exporting),
            "Done" => Some(ExportJobStatus::Done),
            "Failed" => Some(ExportJobStatus::Failed),
            _ => None,
        }
    }

    /// The platform, when it is one this build knows.
    pub fn known_platform(&self) -> Option<ExportPlatform> {
        ExportPlatform::from_name(&self.platform)
    }
}

/// A tag (docs/protocol.md §1.3 `Tag`): a label images carry, which training learns.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    /// The tag id (what images name in `tagIds`).
    pub id: uuid::Uuid,
    /// The name.
    pub name: String,
    /// How many images carry it.
    #[serde(default)]
    pub image_count: u64,
}

/// One image of a CreateImagesFromFiles batch: its name, bytes (sent as base64) and tags.
#[derive(Clone)]
pub struct ImageFile {
    /// The file name the service keeps.
    pub name: String,
    /// The image (JPEG, PNG, BMP or GIF).
    pub contents: Vec<u8>,
    /// The tags it carries.
    pub tags: Vec<uuid::Uuid>,
}

impl fmt::Debug for ImageFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageFile")
            .field("name", &self.name)
            .field("bytes", &self.contents.len())
            .field("tags", &self.tags)
            .finish()
    }
}

/// What a batch upload did (docs/protocol.md §1.3 `ImageCreateSummary`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageCreateSummary {
    /// Whether every image was taken.
    pub is_batch_successful: bool,
    /// Each image's own result.
    #[serde(default)]
    pub images: Vec<ImageCreateResult>,
}

/// One image's result in a batch.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageCreateResult {
    /// `OK`, `OKDuplicate` or why it was refused (`ErrorImageFormat`, ...).
    pub status: String,
}

/// TrainProject's options.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// `trainingType=Advanced` instead of `Regular`.
    pub advanced: bool,
    /// `reservedBudgetInHours` (Advanced only).
    pub reserved_budget_in_hours: Option<u32>,
    /// `forceTrain`: train even when nothing changed.
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn a_project_keeps_unknown_fields_and_reads_the_storage_uris() {
        let text = format!(
            r#"{{"id":"{P}","name":"p","description":null,"created":"2026-01-01T00:00:00Z",
            "settings":{{"domainId":"ee85a74c-405e-4adc-bb47-ffa8ca0c9f31","useNegativeSet":true,
            "exportModelContainerUri":"https://a.blob.core.windows.net/c",
            "notificationQueueUri":"https://a.queue.core.windows.net/q?sv=1&sig=CANARY"}}}}"#
        );
        let p: Project = serde_json::from_str(&text).unwrap();
        assert_eq!(p.id.to_string(), P);
        assert_eq!(
            p.settings.storage.export_model_container_uri.as_deref(),
            Some("https://a.blob.core.windows.net/c")
        );
        assert!(p.settings.other.contains_key("domainId"));
        assert!(p.other.contains_key("created"));
        assert!(!format!("{p:?}").contains("CANARY"));
        // What an update sends back: everything, unknown fields included.
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(back["settings"]["useNegativeSet"], true);
        assert_eq!(back["created"], "2026-01-01T00:00:00Z");
        assert_eq!(
            back["settings"]["notificationQueueUri"],
            "https://a.queue.core.windows.net/q?sv=1&sig=CANARY"
        );
    }

    #[test]
    fn statuses_outside_the_known_set_are_kept() {
        let it: Iteration = serde_json::from_str(&format!(
            r#"{{"id":"{P}","name":"Iteration 1","status":"Queued","projectId":null}}"#
        ))
        .unwrap();
        assert_eq!(it.known_status(), None);
        assert_eq!(it.status, "Queued");
        let e: Export = serde_json::from_str(
            r#"{"platform":"TensorFlow","status":"Exporting","downloadUri":"","newerVersionAvailable":false}"#,
        )
        .unwrap();
        assert_eq!(e.known_status(), Some(ExportJobStatus::Exporting));
        assert!(!e.has_download_uri);
        assert_eq!(e.known_platform(), Some(ExportPlatform::TensorFlow));
        let bad = serde_json::from_str::<Iteration>(r#"{"id":"nope","status":"New"}"#).unwrap_err();
        assert!(bad.to_string().contains("line 1"), "{bad}");
    }
}
