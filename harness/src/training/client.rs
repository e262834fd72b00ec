//! The training API over HTTP: one [`TrainingClient`] per endpoint and key. Each call builds its
//! request, retries only what is safe to repeat, and reads the answer into a typed value or a
//! [`TrainingError`].
//!
//! Retried automatically (on 429, 500, 503 and transport failures, with the storage client's
//! [`RetryPolicy`]): GetProject, GetIterations, GetIteration, GetExports and UpdateProject (a
//! PATCH of the whole project is idempotent), DeleteProject and CreateImagesFromFiles (a repeated
//! image is taken as a duplicate). Never retried: CreateTag (a repeat is a duplicate name), CreateProject (a retry after a lost
//! answer creates a second project), TrainProject (it may start a second training) and
//! ExportIteration (a second request is refused with `BadRequestExportAlreadyInProgress`, or
//! queues a second export); a caller that sees a transport error on those should look
//! (GetIterations, GetExports) before trying again.

use std::fmt;
use std::time::Duration;

use cvnotify_core::{ExportPlatform, IterationId, ProjectId};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::error::{TrainingError, from_answer};
use super::model::{
    Export, ImageCreateSummary, ImageFile, Iteration, NewProject, Project, StorageOptions, Tag,
    TrainOptions,
};
use crate::storage::RetryPolicy;
use crate::storage::client::{
    BodyError, MAX_ANSWER_BYTES, describe_transport, read_body, retry_status, with_retries,
};
use cvnotify_core::lifecycle::ExportFlavor;

/// A training key (the `Training-Key` header), never printed.
#[derive(Clone)]
pub struct TrainingKey(String);

impl TrainingKey {
    /// From the key the portal gives.
    pub fn new(key: &str) -> Self {
        Self(key.trim().to_string())
    }
}

impl fmt::Debug for TrainingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TrainingKey(REDACTED)")
    }
}

/// Where CreateProject carries the storage URIs (docs/protocol.md §1.0: the sources disagree).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OptionsForm {
    /// As query parameters on `/customvision/v3.3/training/projects`, as the storage
    /// integration article's curl example does.
    #[default]
    Query,
    /// As a `CreateProjectOptions` JSON body on `/customvision/v3.4-preview/training/projects`,
    /// as the 3.4-preview SDKs do.
    Body,
}

impl OptionsForm {
    /// The API version in the path.
    pub const fn api_version(self) -> &'static str {
        match self {
            Self::Query => "v3.3",
            Self::Body => "v3.4-preview",
        }
    }
}

/// A client for one Custom Vision training resource.
#[derive(Clone)]
pub struct TrainingClient {
    http: reqwest::Client,
    /// `{endpoint}/customvision/{version}/training/`.
    base: Url,
    key: TrainingKey,
    form: OptionsForm,
    retry: RetryPolicy,
}

impl fmt::Debug for TrainingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrainingClient")
            .field("base", &self.base.as_str())
            .field("key", &self.key)
            .field("form", &self.form)
            .finish()
    }
}

/// One request.
struct Call<'a> {
    operation: &'static str,
    method: Method,
    path: &'a str,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    retry: bool,
}

impl<'a> Call<'a> {
    /// A read: retried when the policy allows.
    fn get(operation: &'static str, path: &'a str) -> Self {
        Self {
            operation,
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            retry: true,
        }
    }
}

impl TrainingClient {
    /// A client for the resource at `endpoint` (`https://{name}.cognitiveservices.azure.com/`).
    pub fn new(
        endpoint: &str,
        key: TrainingKey,
        form: OptionsForm,
        retry: RetryPolicy,
    ) -> Result<Self, TrainingError> {
        let mut base = Url::parse(endpoint).map_err(|e| TrainingError::Url(e.to_string()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(TrainingError::Url("not an http(s) URL".into()));
        }
        if base.query().is_some() {
            return Err(TrainingError::Url(
                "the endpoint takes no query (the key goes in --training-key-env)".into(),
            ));
        }
        let path = format!(
            "{}/customvision/{}/training/",
            base.path().trim_end_matches('/'),
            form.api_version()
        );
        base.set_path(&path);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| transport("client", e))?;
        Ok(Self {
            http,
            base,
            key,
            form,
            retry,
        })
    }

    /// The form CreateProject uses.
    pub fn form(&self) -> OptionsForm {
        self.form
    }

    /// CreateProject with the storage URIs in the configured [`OptionsForm`]. Not retried.
    pub async fn create_project(&self, project: &NewProject) -> Result<Project, TrainingError> {
        let mut query = vec![("name", project.name.clone())];
        if let Some(d) = &project.description {
            query.push(("description", d.clone()));
        }
        if let Some(d) = project.domain_id {
            query.push(("domainId", d.hyphenated().to_string()));
        }
        if let Some(c) = &project.classification_type {
            query.push(("classificationType", c.clone()));
        }
        let storage = &project.storage;
        let body = match self.form {
            OptionsForm::Query => {
                if let Some(u) = &storage.export_model_container_uri {
                    query.push(("exportModelContainerUri", u.clone()));
                }
                if let Some(u) = &storage.notification_queue_uri {
                    query.push(("notificationQueueUri", u.clone()));
                }
                None
            }
            // The SDKs omit the body when both are absent.
            OptionsForm::Body if storage.is_empty() => None,
            OptionsForm::Body => Some(json(storage)?),
        };
        self.call(Call {
            operation: "CreateProject",
            method: Method::POST,
            path: "projects",
            query,
            body,
            retry: false,
        })
        .await
    }

    /// GetProject.
    pub async fn get_project(&self, project: ProjectId) -> Result<Project, TrainingError> {
        self.call(Call::get("GetProject", &format!("projects/{project}")))
            .await
    }

    /// UpdateProject: PATCH with the whole project (unknown fields included, as read).
    pub async fn update_project(&self, project: &Project) -> Result<Project, TrainingError> {
        self.call(Call {
            operation: "UpdateProject",
            method: Method::PATCH,
            path: &format!("projects/{}", project.id),
            query: Vec::new(),
            body: Some(json(project)?),
            retry: true,
        })
        .await
    }

    /// Sets the storage URIs of an existing project, as the storage integration article does:
    /// GetProject, then UpdateProject with the URIs in `settings`. A URI left `None` keeps its
    /// current value.
    pub async fn configure_storage(
        &self,
        project: ProjectId,
        storage: &StorageOptions,
    ) -> Result<Project, TrainingError> {
        let mut current = self.get_project(project).await?;
        let settings = &mut current.settings.storage;
        if let Some(u) = &storage.export_model_container_uri {
            settings.export_model_container_uri = Some(u.clone());
        }
        if let Some(u) = &storage.notification_queue_uri {
            settings.notification_queue_uri = Some(u.clone());
        }
        self.update_project(&current).await
    }

    /// DeleteProject (with its iterations; the service refuses while one is published).
    pub async fn delete_project(&self, project: ProjectId) -> Result<(), TrainingError> {
        self.call(Call {
            operation: "DeleteProject",
            method: Method::DELETE,
            path: &format!("projects/{project}"),
            query: Vec::new(),
            body: None,
            retry: true,
        })
        .await
    }

    /// CreateTag. Not retried: a repeat would be refused as a duplicate name.
    pub async fn create_tag(&self, project: ProjectId, name: &str) -> Result<Tag, TrainingError> {
        self.call(Call {
            operation: "CreateTag",
            method: Method::POST,
            path: &format!("projects/{project}/tags"),
            query: vec![("name", name.to_string())],
            body: None,
            retry: false,
        })
        .await
    }

    /// CreateImagesFromFiles: up to 64 images, each with its own tags. Retried: the service
    /// takes a repeated image as `OKDuplicate`.
    pub async fn create_images_from_files(
        &self,
        project: ProjectId,
        images: &[ImageFile],
    ) -> Result<ImageCreateSummary, TrainingError> {
        use base64::Engine as _;
        let tag_ids = |tags: &[uuid::Uuid]| -> Vec<String> {
            tags.iter().map(|t| t.hyphenated().to_string()).collect()
        };
        let batch = serde_json::json!({
            "images": images
                .iter()
                .map(|i| serde_json::json!({
                    "name": i.name,
                    "contents": base64::engine::general_purpose::STANDARD.encode(&i.contents),
                    "tagIds": tag_ids(&i.tags),
                }))
                .collect::<Vec<_>>(),
        });
        self.call(Call {
            operation: "CreateImagesFromFiles",
            method: Method::POST,
            path: &format!("projects/{project}/images/files"),
            query: Vec::new(),
            body: Some(json(&batch)?),
            retry: true,
        })
        .await
    }

    /// TrainProject. Not retried: a repeat may start a second training.
    pub async fn train_project(
        &self,
        project: ProjectId,
        options: &TrainOptions,
    ) -> Result<Iteration, TrainingError> {
        let mut query = vec![(
            "trainingType",
            if options.advanced {
                "Advanced"
            } else {
                "Regular"
            }
            .to_string(),
        )];
        if let Some(h) = options.reserved_budget_in_hours {
            query.push(("reservedBudgetInHours", h.to_string()));
        }
        if options.force {
            query.push(("forceTrain", "true".into()));
        }
        self.call(Call {
            operation: "TrainProject",
            method: Method::POST,
            path: &format!("projects/{project}/train"),
            query,
            body: None,
            retry: false,
        })
        .await
    }

    /// GetIterations.
    pub async fn get_iterations(
        &self,
        project: ProjectId,
    ) -> Result<Vec<Iteration>, TrainingError> {
        self.call(Call::get(
            "GetIterations",
            &format!("projects/{project}/iterations"),
        ))
        .await
    }

    /// GetIteration.
    pub async fn get_iteration(
        &self,
        project: ProjectId,
        iteration: IterationId,
    ) -> Result<Iteration, TrainingError> {
        self.call(Call::get(
            "GetIteration",
            &format!("projects/{project}/iterations/{iteration}"),
        ))
        .await
    }

    /// ExportIteration. Not retried (see the module notes). A flavor of another platform is
    /// refused here, before any request.
    pub async fn export_iteration(
        &self,
        project: ProjectId,
        iteration: IterationId,
        platform: ExportPlatform,
        flavor: Option<ExportFlavor>,
    ) -> Result<Export, TrainingError> {
        let mut query = vec![("platform", platform.as_str().to_string())];
        if let Some(f) = flavor {
            if f.platform() != platform {
                return Err(TrainingError::Url(format!(
                    "flavor {} belongs to {}, not {}",
                    f.as_str(),
                    f.platform().as_str(),
                    platform.as_str()
                )));
            }
            query.push(("flavor", f.as_str().to_string()));
        }
        self.call(Call {
            operation: "ExportIteration",
            method: Method::POST,
            path: &format!("projects/{project}/iterations/{iteration}/export"),
            query,
            body: None,
            retry: false,
        })
        .await
    }

    /// GetExports.
    pub async fn get_exports(
        &self,
        project: ProjectId,
        iteration: IterationId,
    ) -> Result<Vec<Export>, TrainingError> {
        self.call(Call::get(
            "GetExports",
            &format!("projects/{project}/iterations/{iteration}/export"),
        ))
        .await
    }

    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, TrainingError> {
        let policy = if call.retry {
            self.retry
        } else {
            RetryPolicy::NONE
        };
        let (status, _, body) = with_retries(
            policy,
            || self.attempt(&call),
            |outcome| match outcome {
                Ok((status, headers, _)) => retry_status(*status, headers),
                Err(TrainingError::Transport { .. }) => (true, None),
                Err(_) => (false, None),
            },
        )
        .await?;
        if !status.is_success() {
            return Err(from_answer(call.operation, status, &body));
        }
        // An answer without a body (DeleteProject's 204) reads as JSON `null`: `()` takes it,
        // any other answer type refuses it.
        let text = if body.trim().is_empty() {
            "null"
        } else {
            body.as_str()
        };
        serde_json::from_str(text).map_err(|e| TrainingError::Body {
            operation: call.operation,
            detail: json_problem(&e, text),
        })
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, String), TrainingError> {
        let mut url = self
            .base
            .join(call.path)
            .map_err(|e| TrainingError::Url(e.to_string()))?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        // The path only: the query may hold storage URIs with a SAS, the headers the key.
        let path = url.path().to_string();
        let started = std::time::Instant::now();
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header("Training-Key", &self.key.0)
            .header("accept", "application/json");
        if let Some(body) = &call.body {
            request = request
                .header("content-type", "application/json; charset=utf-8")
                .body(body.clone());
        }
        let response = request.send().await.map_err(|e| {
            tracing::debug!(
                operation = call.operation,
                path,
                "training API request got no answer"
            );
            transport(call.operation, e)
        })?;
        let status = response.status();
        tracing::debug!(
            operation = call.operation,
            method = %call.method,
            path,
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "training API"
        );
        let headers = response.headers().clone();
        let body = read_body(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::Transport(e) => transport(call.operation, e),
                BodyError::TooLarge(n) => TrainingError::Body {
                    operation: call.operation,
                    detail: format!(
                        "the answer has {n} bytes or more, more than any documented answer \
                         ({MAX_ANSWER_BYTES}); not read"
                    ),
                },
            })?;
        Ok((status, headers, body))
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, TrainingError> {
    serde_json::to_vec(value).map_err(|e| TrainingError::Body {
        operation: "request",
        detail: e.to_string(),
    })
}

/// A transport error without the URL (the storage URIs in a CreateProject query may hold a SAS).
fn transport(operation: &'static str, e: reqwest::Error) -> TrainingError {
    TrainingError::Transport {
        operation,
        detail: describe_transport(e),
    }
}

/// What is wrong with an answer that is not the documented JSON, without echoing it raw
/// (serde's own message quotes the offending value as it is, control characters and all): the
/// kind of problem, where, and a bounded, escaped, redacted quotation of the answer's start.
fn json_problem(e: &serde_json::Error, body: &str) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "not JSON",
        Category::Eof => "JSON cut short",
        Category::Data => "JSON of another shape than the call documents",
        Category::Io => "unreadable",
    };
    format!(
        "{what} at line {} column {}; it begins {}",
        e.line(),
        e.column(),
        cvnotify_core::Snippet::new(body)
    )
}

#[cfg(test)]
mod answer_tests {
    #[test]
    fn a_garbage_answer_is_described_not_echoed() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Project {
            id: u32,
        }
        // A JSON string where a number belongs; serde's message would quote it decoded, NULs
        // and all.
        let body = r#"{"id":"\u0000\u0000\u0007 sig=SECRETSIGNATURE"}"#;
        let e = serde_json::from_str::<Project>(body).unwrap_err();
        let text = super::json_problem(&e, body);
        assert!(text.starts_with("JSON of another shape"), "{text}");
        assert!(
            !text.contains('\u{0}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(!text.contains("SECRETSIGNATURE"), "{text}");
        // What serde itself says quotes the value whole, unredacted.
        assert!(e.to_string().contains("SECRETSIGNATURE"));
        let e = serde_json::from_str::<Project>("\u{0}garbage").unwrap_err();
        assert!(super::json_problem(&e, "\u{0}garbage").starts_with("not JSON at line 1 column 1"));
    }
}
