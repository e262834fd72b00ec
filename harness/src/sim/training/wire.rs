//! The training API's wire shapes: its answers (a status and a JSON body, the service's
//! `CustomVisionError` and the gateway's refusals), the domains it offers, the JSON of its
//! projects, iterations, tags and images, and the texts and URLs of what it posts.

use std::time::SystemTime;

use cvnotify_core::{IterationId, ProjectId};
use serde_json::{Value, json};

use super::state::{IterationState, SimImage, SimIteration, SimProject, SimTag};

/// A training API answer: its status and JSON body (kept apart from wiremock's template so the
/// journal can read them).
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
}

impl Answer {
    pub(crate) fn new(status: u16) -> Self {
        Self { status, body: None }
    }

    pub(crate) fn set_body_json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The `code` of a `CustomVisionError` body (or the gateway's `error.code`).
    pub(crate) fn error_code(&self) -> Option<String> {
        let body = self.body.as_ref()?;
        body.get("code")
            .or_else(|| body.get("error").and_then(|e| e.get("code")))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The answer as it goes out: JSON when there is a body.
    pub(crate) fn reply(&self) -> super::super::http::Reply {
        let reply = super::super::http::Reply::new(self.status);
        match &self.body {
            Some(b) => reply.bytes(
                serde_json::to_vec(b).unwrap_or_default(),
                "application/json; charset=utf-8",
            ),
            None => reply,
        }
    }
}

/// A domain: id, name, type, whether its models can be exported.
pub(super) struct Domain {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) kind: &'static str,
    pub(super) exportable: bool,
}

/// The domains the service offers (ids as the service has them).
pub(super) const DOMAINS: [Domain; 11] = [
    Domain {
        id: "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31",
        name: "General",
        kind: "Classification",
        exportable: false,
    },
    Domain {
        id: "c151d5b5-dd07-472a-acc8-15d29dea8518",
        name: "Food",
        kind: "Classification",
        exportable: false,
    },
    Domain {
        id: "ca455789-012d-4b50-9fec-5bb63841c793",
        name: "Landmarks",
        kind: "Classification",
        exportable: false,
    },
    Domain {
        id: "b30a91ae-e3c1-4f73-a81e-c270bff27c39",
        name: "Retail",
        kind: "Classification",
        exportable: false,
    },
    Domain {
        id: "0732100f-1a38-4e49-a514-c9b44c697ab5",
        name: "General (compact)",
        kind: "Classification",
        exportable: true,
    },
    Domain {
        id: "8882951b-82cd-4c32-970b-d5f8cb8bf6d7",
        name: "Food (compact)",
        kind: "Classification",
        exportable: true,
    },
    Domain {
        id: "b5cfd229-2ac7-4b2b-8d0a-2b0661344894",
        name: "Landmarks (compact)",
        kind: "Classification",
        exportable: true,
    },
    Domain {
        id: "6b4faeda-8396-481b-9f8b-177b9fa3097f",
        name: "Retail (compact)",
        kind: "Classification",
        exportable: true,
    },
    Domain {
        id: "da2e3a8a-40a5-4171-82f4-58522f70fbc1",
        name: "General",
        kind: "ObjectDetection",
        exportable: false,
    },
    Domain {
        id: "1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4",
        name: "Logo",
        kind: "ObjectDetection",
        exportable: false,
    },
    Domain {
        id: "a27d5ca5-bb19-49d8-a70a-fec086c47f5b",
        name: "General (compact)",
        kind: "ObjectDetection",
        exportable: true,
    },
];

/// The default domain (General, classification).
pub(super) const GENERAL: &str = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31";

/// The platforms an exportable domain exports to.
pub(super) const EXPORT_PLATFORMS: [&str; 6] = [
    "CoreML",
    "TensorFlow",
    "DockerFile",
    "ONNX",
    "VAIDK",
    "OpenVino",
];

/// The HTTP status of a `CustomVisionError` code, by its prefix (the spec gives none; this is
/// the convention the codes follow).
pub(crate) fn status_of(code: &str) -> u16 {
    [
        ("BadRequest", 400),
        ("Forbidden", 403),
        ("NotFound", 404),
        ("Conflict", 409),
        ("Error", 500),
        ("UnsupportedMediaType", 415),
    ]
    .into_iter()
    .find(|(prefix, _)| code.starts_with(prefix))
    .map_or(400, |(_, status)| status)
}

/// A `CustomVisionError` answer.
pub(crate) fn service_error(status: u16, code: &str, message: &str) -> Answer {
    Answer::new(status).set_body_json(json!({"code": code, "message": message}))
}

pub(super) fn refuse(code: &str, message: &str) -> Answer {
    service_error(status_of(code), code, message)
}

pub(super) fn not_found_project() -> Answer {
    refuse("NotFoundProject", "Project not found")
}

/// The API gateway's own answers (before the service sees the request).
pub(super) fn gateway(status: u16, message: &str) -> Answer {
    Answer::new(status)
        .set_body_json(json!({"error": {"code": status.to_string(), "message": message}}))
}

pub(super) fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(super) fn ok(body: Value) -> Answer {
    Answer::new(200).set_body_json(body)
}

pub(super) fn domain(id: &str) -> Option<&'static Domain> {
    DOMAINS.iter().find(|d| d.id.eq_ignore_ascii_case(id))
}

pub(super) fn domain_json(d: &Domain) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "type": d.kind,
        "exportable": d.exportable,
        "enabled": true,
        "exportablePlatforms": if d.exportable { EXPORT_PLATFORMS.to_vec() } else { vec![] },
        "modelInformation": {
            "estimatedModelSizeInMegabytes": if d.exportable { 6 } else { 0 },
            "description": format!("{} {} domain", d.name, d.kind),
        },
    })
}

pub(super) fn project_json(p: &SimProject) -> Value {
    json!({
        "id": p.id.to_string(),
        "name": p.name,
        "description": p.description,
        "settings": {
            "domainId": p.domain_id,
            "classificationType": p.classification_type,
            "targetExportPlatforms": p.target_export_platforms,
            "useNegativeSet": true,
            "detectionParameters": null,
            "imageProcessingSettings": {"augmentationMethods": null},
            "exportModelContainerUri": p.container_uri,
            "notificationQueueUri": p.queue_uri,
        },
        "created": rfc3339(p.created),
        "lastModified": rfc3339(p.last_modified),
        "thumbnailUri": null,
        "drModeEnabled": false,
        "status": "Succeeded",
    })
}

/// An iteration as the API shows it; `contradicted`: a completed one shows as `Failed` (the
/// `training-contradicts-polling` fault).
pub(super) fn iteration_json(p: &SimProject, it: &SimIteration, contradicted: bool) -> Value {
    let status = match it.state {
        IterationState::Training => "Training",
        IterationState::Completed if contradicted => "Failed",
        IterationState::Completed => "Completed",
        IterationState::Failed => "Failed",
    };
    let exportable = it.state == IterationState::Completed
        && domain(&it.domain_id).is_some_and(|d| d.exportable);
    json!({
        "id": it.id.to_string(),
        "name": it.name,
        "status": status,
        "created": rfc3339(it.created),
        "lastModified": rfc3339(it.last_modified),
        "trainedAt": it.trained_at.map(rfc3339),
        "projectId": p.id.to_string(),
        "exportable": exportable,
        "exportableTo": if exportable { EXPORT_PLATFORMS.to_vec() } else { vec![] },
        "domainId": it.domain_id,
        "classificationType": it.classification_type,
        "trainingType": it.training_type,
        "reservedBudgetInHours": it.reserved_budget_in_hours,
        "trainingTimeInMinutes": if it.trained_at.is_some() { 1 } else { 0 },
        "publishName": it.publish_name,
        "originalPublishResourceId": it.prediction_resource_id,
        "customBaseModelInfo": null,
        "trainingErrorDetails": null,
    })
}

pub(super) fn tag_json(p: &SimProject, t: &SimTag) -> Value {
    let count = p.images.iter().filter(|i| i.tags.contains(&t.id)).count();
    json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "type": t.kind,
        "imageCount": count,
    })
}

pub(super) fn image_json(p: &SimProject, i: &SimImage) -> Value {
    let tags: Vec<Value> = i
        .tags
        .iter()
        .filter_map(|id| p.tags.iter().find(|t| t.id == *id))
        .map(|t| json!({"tagId": t.id, "tagName": t.name, "created": rfc3339(i.created)}))
        .collect();
    json!({
        "id": i.id,
        "created": rfc3339(i.created),
        "width": 64,
        "height": 64,
        "resizedImageUri": null,
        "thumbnailUri": null,
        "originalImageUri": null,
        "tags": tags,
        "regions": null,
        "metadata": null,
    })
}

/// An ExportCompleted notification.
pub(super) fn export_completed(
    project: ProjectId,
    iteration: IterationId,
    model_uri: &str,
) -> String {
    format!(
        r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{project}","iterationId":"{iteration}","exportStatus":"ExportCompleted","modelUri":"{model_uri}"}}}}"#
    )
}

/// A container URL without its query (a SAS) and trailing `/`: where its blobs' URLs start.
pub(super) fn container_base(uri: &str) -> String {
    uri.split('?')
        .next()
        .unwrap_or(uri)
        .trim_end_matches('/')
        .to_string()
}

/// The URL of the service's own copy of a model (a SAS URL), where an export points when no
/// backup container is configured.
pub(super) fn service_model_uri(iteration: IterationId) -> String {
    format!(
        "https://irisprodsim.blob.core.windows.net/models/{iteration}.zip?sv=2021-08-06&sr=b&sig=SIMULATEDSERVICESAS"
    )
}
