//! The simulated Custom Vision training API, for the operations a typical integration and the
//! official quickstarts call (the v3.3 and 3.4-preview specs): domains; projects (create with
//! every option and its validation, get, list, update with PATCH semantics, delete); tags;
//! images (from data, files and URLs, and their counts: an image is kept as its id and tags,
//! never its bytes); train (with the service's refusals); iterations (get, list, update,
//! performance, publish, unpublish, delete); exports. Bodies carry the specs' fields with their
//! types. Paths are `/customvision/{version}/training/...` (`Training` in any case) for the
//! versions the service has (3.0 to 3.3 and 3.4-preview); the storage options are read on 3.3 (as
//! the storage-integration article does, in the query) and 3.4-preview (as the SDKs do, in a
//! `CreateProjectOptions` body). A missing or wrong `Training-Key` gets the gateway's 401, any
//! other path or version the gateway's 404.
//!
//! - `state`: projects, iterations, exports, and the service's timings.
//! - `wire`: the answers and JSON shapes, and the texts of what the service posts.
//! - here: routing a request to its operation, the operations, and what promised work does.

mod state;
mod wire;

use std::collections::BTreeMap;

use cvnotify_core::client::Call;
use cvnotify_core::{ExportPlatform, IterationId, ProjectId};
use serde_json::{Value, json};
use wiremock::Request;

use self::state::{ExportState, IterationState, SimImage, SimIteration, SimProject, SimTag};
use self::wire::{
    DOMAINS, EXPORT_PLATFORMS, GENERAL, container_base, domain, domain_json, export_completed,
    gateway, image_json, iteration_json, not_found_project, ok, project_json, refuse, rfc3339,
    service_model_uri, tag_json,
};
use super::context::{Content, Cx, Effect, IdKind, Pending, Storage};
use super::faults::Misbehaviour;

pub use self::state::Timings;
pub(crate) use self::wire::{Answer, service_error, status_of};

/// The API versions the service has, and whether each reads the storage options.
const VERSIONS: [(&str, bool); 5] = [
    ("v3.0", false),
    ("v3.1", false),
    ("v3.2", false),
    ("v3.3", true),
    ("v3.4-preview", true),
];

/// Training needs at least this many tags, each on at least this many images.
const MIN_TAGS: usize = 2;
const MIN_IMAGES_PER_TAG: usize = 5;

fn query(request: &Request) -> BTreeMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

/// The training API's state: its projects.
#[derive(Debug, Default)]
pub(crate) struct Training {
    pub(crate) projects: BTreeMap<ProjectId, SimProject>,
}

/// The training API at work on one request or one piece of promised work: its projects and
/// what the world lends it (the context, a view of which queues and containers exist, the
/// service's timings).
struct Api<'a, 'w> {
    projects: &'a mut BTreeMap<ProjectId, SimProject>,
    cx: &'a mut Cx<'w>,
    storage: &'a dyn Storage,
    timings: Timings,
}

impl Training {
    /// Routes one request of the training API's server (`segments` of the whole path), which
    /// must carry `training_key`.
    pub(crate) fn route(
        &mut self,
        cx: &mut Cx<'_>,
        storage: &dyn Storage,
        timings: Timings,
        training_key: &str,
        request: &Request,
        segments: &[String],
    ) -> Answer {
        let [cv, version, training, rest @ ..] = segments else {
            return gateway(404, "Resource not found");
        };
        if cv != "customvision" || !training.eq_ignore_ascii_case("training") {
            return gateway(404, "Resource not found");
        }
        let Some(&(_, with_storage)) = VERSIONS.iter().find(|(v, _)| v == version) else {
            return gateway(404, "Resource not found");
        };
        let key = request
            .headers
            .get("training-key")
            .and_then(|v| v.to_str().ok());
        if key != Some(training_key) {
            return gateway(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
            );
        }
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        let mut api = Api {
            projects: &mut self.projects,
            cx,
            storage,
            timings,
        };
        api.training(request, &rest, with_storage)
    }

    /// Does the promised `work` that is the training API's (what a connection test, a
    /// training and an export do when they end): its effects on storage go to `cx`.
    pub(crate) fn due(
        &mut self,
        cx: &mut Cx<'_>,
        storage: &dyn Storage,
        timings: Timings,
        work: Pending,
    ) {
        let mut api = Api {
            projects: &mut self.projects,
            cx,
            storage,
            timings,
        };
        api.due(work);
    }
}

impl Api<'_, '_> {
    /// The project's iteration, to change.
    fn iteration_mut(
        &mut self,
        project: ProjectId,
        iteration: IterationId,
    ) -> Option<&mut SimIteration> {
        self.projects
            .get_mut(&project)
            .and_then(|p| p.iterations.iter_mut().find(|i| i.id == iteration))
    }

    /// Whether a completed iteration shows as failed (the `training-contradicts-polling` fault).
    fn contradicted(&self) -> bool {
        self.cx.misbehaves(Misbehaviour::TrainingContradictsPolling)
    }

    /// What promised work does when it is due.
    fn due(&mut self, work: Pending) {
        match work {
            Pending::ConnectionTest { project } => {
                let Some(p) = self.projects.get(&project) else {
                    return;
                };
                let (queue, container) = (p.queue_uri.clone(), p.container_uri.clone());
                if let Some(c) = container
                    .as_deref()
                    .and_then(|u| self.storage.container_of(u))
                {
                    let name = format!(
                        "CustomVision-TestPermission/{}",
                        self.cx.id(IdKind::TestBlob)
                    );
                    self.cx.effects.push(Effect::PutBlob {
                        container: c.clone(),
                        name: name.clone(),
                        content: Content::Test,
                    });
                    let life = self.timings.test_blob_lifetime;
                    self.cx
                        .promise(life, Pending::RemoveBlob { container: c, name });
                }
                if let Some(q) = queue.as_deref().and_then(|u| self.storage.queue_of(u))
                    && !self.cx.misbehaves(Misbehaviour::SkipConnectionTest)
                {
                    let json = format!(
                        r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{project}"}}}}"#
                    );
                    self.cx.post(&q, json, None);
                }
            }
            Pending::RemoveBlob { .. } => {}
            Pending::FinishTraining { project, iteration } => {
                let fails = self.cx.misbehaves(Misbehaviour::TrainingFails);
                let now = self.cx.now;
                let Some(p) = self.projects.get_mut(&project) else {
                    return;
                };
                if let Some(it) = p.iterations.iter_mut().find(|i| i.id == iteration) {
                    it.state = if fails {
                        IterationState::Failed
                    } else {
                        IterationState::Completed
                    };
                    it.last_modified = now;
                    if !fails {
                        it.trained_at = Some(now);
                    }
                }
                let queue = p.queue_uri.clone();
                let queue = queue.as_deref().and_then(|u| self.storage.queue_of(u));
                if let Some(q) = queue
                    && !self.cx.misbehaves(Misbehaviour::DropTrainingNotification)
                {
                    let training = |status: &str| {
                        format!(
                            r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{project}","iterationId":"{iteration}","trainingStatus":"{status}"}}}}"#
                        )
                    };
                    if fails {
                        self.cx.post(&q, training("TrainingFailed"), None);
                        return;
                    }
                    self.cx.post(&q, training("TrainingCompleted"), None);
                    if self.cx.misbehaves(Misbehaviour::ConflictingTrainingStatus) {
                        self.cx.post(&q, training("TrainingFailed"), None);
                    }
                }
            }
            Pending::FinishExport {
                project,
                iteration,
                platform,
            } => {
                let fails = self.cx.misbehaves(Misbehaviour::ExportFails);
                let Some(p) = self.projects.get_mut(&project) else {
                    return;
                };
                if let Some(it) = p.iterations.iter_mut().find(|i| i.id == iteration) {
                    let status = if fails { "Failed" } else { "Done" };
                    it.exports
                        .entry(platform.as_str())
                        .and_modify(|e| e.status = status)
                        .or_insert(ExportState {
                            status,
                            flavor: None,
                        });
                }
                let (queue_uri, container_uri) = (p.queue_uri.clone(), p.container_uri.clone());
                let queue = queue_uri.as_deref().and_then(|u| self.storage.queue_of(u));
                if fails {
                    if let Some(q) = queue {
                        let json = format!(
                            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{project}","iterationId":"{iteration}","exportStatus":"ExportFailed"}}}}"#
                        );
                        self.cx.post(&q, json, None);
                    }
                    return;
                }
                let named = if self.cx.misbehaves(Misbehaviour::WrongBlobName) {
                    self.cx.id(IdKind::WrongIteration)
                } else {
                    iteration.to_string()
                };
                let name = format!("{project} - {named}.{}", platform.as_str());
                let container = container_uri
                    .as_deref()
                    .and_then(|u| self.storage.container_of(u));
                let model_uri = match container_uri.as_deref() {
                    Some(uri) => {
                        if let Some(c) = &container
                            && !self.cx.misbehaves(Misbehaviour::NoBackupBlob)
                        {
                            self.cx.effects.push(Effect::PutBlob {
                                container: c.clone(),
                                name: name.clone(),
                                content: Content::Backup,
                            });
                        }
                        let mut base = container_base(uri);
                        if self.cx.misbehaves(Misbehaviour::ModelUriOutsideContainer) {
                            base.push_str("-elsewhere");
                        }
                        format!("{base}/{}", name.replace(' ', "%20"))
                    }
                    None => service_model_uri(iteration),
                };
                let announced = container
                    .filter(|_| !self.cx.misbehaves(Misbehaviour::ModelUriOutsideContainer))
                    .map(|c| format!("{c}/{name}"));
                if let Some(q) = queue
                    && !self.cx.misbehaves(Misbehaviour::DropExportNotification)
                {
                    let json = export_completed(project, iteration, &model_uri);
                    self.cx.post(&q, json, announced);
                }
            }
        }
    }

    /// Answers one training API request (`segments` after `training/`); `storage` says whether
    /// this API version reads the storage options.
    pub(crate) fn training(
        &mut self,
        request: &Request,
        segments: &[&str],
        storage: bool,
    ) -> Answer {
        let query = query(request);
        let method = request.method.as_str();
        match (method, segments) {
            ("GET", ["domains"]) => ok(Value::Array(DOMAINS.iter().map(domain_json).collect())),
            ("GET", ["domains", id]) => match domain(id) {
                Some(d) => ok(domain_json(d)),
                None => refuse("NotFoundDomain", "Domain not found"),
            },
            ("GET", ["projects"]) => {
                let all: Vec<Value> = self.projects.values().map(project_json).collect();
                ok(Value::Array(all))
            }
            ("POST", ["projects"]) => self.create_project(request, &query, storage),
            (_, ["projects", p, rest @ ..]) => {
                let Ok(project) = ProjectId::parse(p) else {
                    return refuse("BadRequestInvalidIds", "The project id is not valid");
                };
                if !self.projects.contains_key(&project) {
                    return not_found_project();
                }
                self.project_call(method, project, rest, request, &query, storage)
            }
            _ => gateway(404, "Resource not found"),
        }
    }

    /// Validates the storage options: each must name a queue (or container) of this
    /// simulation that exists. `None` when fine, else the refusal.
    fn check_storage(&self, queue: Option<&str>, container: Option<&str>) -> Option<Answer> {
        for (uri, what) in [(queue, "queue"), (container, "container")] {
            let Some(uri) = uri else { continue };
            let known = if what == "queue" {
                self.storage.queue_of(uri).is_some()
            } else {
                self.storage.container_of(uri).is_some()
            };
            if !known {
                return Some(refuse(
                    "BadRequestInvalidUri",
                    &format!("The {what} URI is not valid or the {what} cannot be reached"),
                ));
            }
        }
        None
    }

    fn create_project(
        &mut self,
        request: &Request,
        query: &BTreeMap<String, String>,
        storage: bool,
    ) -> Answer {
        let Some(name) = query.get("name").filter(|n| !n.trim().is_empty()) else {
            return refuse("BadRequestProjectName", "Project name must be specified");
        };
        if name.chars().count() > 200 {
            return refuse("BadRequestProjectName", "Project name is too long");
        }
        let description = query.get("description").cloned().unwrap_or_default();
        if description.chars().count() > 10_000 {
            return refuse(
                "BadRequestProjectDescription",
                "Project description is too long",
            );
        }
        let domain_id = match query.get("domainId") {
            None => GENERAL.to_string(),
            Some(id) => match domain(id) {
                Some(d) => d.id.to_string(),
                None => {
                    return refuse("BadRequestProjectUnknownDomain", "The domain is not known");
                }
            },
        };
        let classification_type = match query.get("classificationType").map(String::as_str) {
            None => domain(&domain_id)
                .is_some_and(|d| d.kind == "Classification")
                .then(|| "Multiclass".to_string()),
            Some(c @ ("Multiclass" | "Multilabel")) => Some(c.to_string()),
            Some(_) => {
                return refuse(
                    "BadRequestProjectUnknownClassification",
                    "The classification type is not known",
                );
            }
        };
        let mut targets = Vec::new();
        for t in query
            .get("targetExportPlatforms")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            if !EXPORT_PLATFORMS.contains(&t) {
                return refuse(
                    "BadRequestProjectUnsupportedExportPlatform",
                    "The export platform is not supported",
                );
            }
            targets.push(t.to_string());
        }
        if !targets.is_empty() && domain(&domain_id).is_some_and(|d| !d.exportable) {
            return refuse(
                "BadRequestProjectUnsupportedExportPlatform",
                "The project's domain does not support export",
            );
        }
        let body: Value = if request.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&request.body) {
                Ok(v) => v,
                Err(_) => return refuse("BadRequest", "The request body is not JSON"),
            }
        };
        let pick = |key: &str| {
            query
                .get(key)
                .cloned()
                .or_else(|| body.get(key).and_then(Value::as_str).map(str::to_string))
                .filter(|_| storage)
        };
        let (queue_uri, container_uri) = (
            pick("notificationQueueUri"),
            pick("exportModelContainerUri"),
        );
        if let Some(refusal) = self.check_storage(queue_uri.as_deref(), container_uri.as_deref()) {
            return refusal;
        }
        let now = self.cx.now;
        let id = ProjectId::parse(&self.cx.id(IdKind::Project))
            .unwrap_or(ProjectId::from_bytes([0; 16]));
        let project = SimProject {
            id,
            name: name.clone(),
            description,
            domain_id,
            classification_type,
            target_export_platforms: targets,
            queue_uri,
            container_uri,
            created: now,
            last_modified: now,
            tags: Vec::new(),
            images: Vec::new(),
            iterations: Vec::new(),
            changed: false,
        };
        let configured = project.queue_uri.is_some() || project.container_uri.is_some();
        let answer = project_json(&project);
        self.projects.insert(id, project);
        self.cx.facts.project = Some(id.to_string());
        if configured {
            let after = self.timings.connection_test;
            self.cx
                .promise(after, Pending::ConnectionTest { project: id });
        }
        ok(answer)
    }

    fn project_call(
        &mut self,
        method: &str,
        project: ProjectId,
        rest: &[&str],
        request: &Request,
        query: &BTreeMap<String, String>,
        storage: bool,
    ) -> Answer {
        match (method, rest) {
            ("GET", []) => self.with_project(project, |_, p| ok(project_json(p))),
            ("PATCH", []) => self.update_project(project, request, storage),
            ("DELETE", []) => {
                let in_use = self
                    .projects
                    .get(&project)
                    .is_some_and(|p| p.iterations.iter().any(|i| i.publish_name.is_some()));
                if in_use {
                    return refuse(
                        "BadRequestIterationIsPublished",
                        "Unpublish the project's iterations before deleting it",
                    );
                }
                self.projects.remove(&project);
                Answer::new(204)
            }
            ("GET", ["tags"]) => self.with_project(project, |_, p| {
                ok(Value::Array(
                    p.tags.iter().map(|t| tag_json(p, t)).collect(),
                ))
            }),
            ("POST", ["tags"]) => self.create_tag(project, query),
            ("GET", ["tags", tag]) => self.with_project(project, |_, p| {
                match p.tags.iter().find(|t| t.id.eq_ignore_ascii_case(tag)) {
                    Some(t) => ok(tag_json(p, t)),
                    None => refuse("NotFoundTag", "Tag not found"),
                }
            }),
            ("DELETE", ["tags", tag]) => {
                let Some(p) = self.projects.get_mut(&project) else {
                    return not_found_project();
                };
                let before = p.tags.len();
                p.tags.retain(|t| !t.id.eq_ignore_ascii_case(tag));
                if p.tags.len() == before {
                    return refuse("NotFoundTag", "Tag not found");
                }
                for i in &mut p.images {
                    i.tags.retain(|t| !t.eq_ignore_ascii_case(tag));
                }
                p.changed = true;
                Answer::new(204)
            }
            ("POST", ["images"]) => self.create_images(project, request, query, ImageSource::Data),
            ("POST", ["images", "files"]) => {
                self.create_images(project, request, query, ImageSource::Files)
            }
            ("POST", ["images", "urls"]) => {
                self.create_images(project, request, query, ImageSource::Urls)
            }
            ("GET", ["images", "tagged" | "untagged", "count"] | ["images", "count"]) => {
                let which = rest.get(1).copied().unwrap_or("count");
                self.with_project(project, |_, p| {
                    let n = images_of(p, which).count();
                    ok(json!(n))
                })
            }
            ("GET", ["images" | "images/tagged"] | ["images", "tagged" | "untagged"]) => {
                let which = rest.get(1).copied().unwrap_or("all");
                self.with_project(project, |_, p| {
                    let images: Vec<Value> =
                        images_of(p, which).map(|i| image_json(p, i)).collect();
                    ok(Value::Array(images))
                })
            }
            ("POST", ["train"]) => self.train(project, request, query),
            ("GET", ["iterations"]) => self.with_project(project, |w, p| {
                ok(Value::Array(
                    p.iterations
                        .iter()
                        .map(|it| iteration_json(p, it, w.contradicted()))
                        .collect(),
                ))
            }),
            ("POST", ["quicktest", "image" | "url"]) => self.quick_test(project, query),
            (_, ["iterations", i, tail @ ..]) => {
                let Ok(iteration) = IterationId::parse(i) else {
                    return refuse("BadRequestInvalidIds", "The iteration id is not valid");
                };
                self.iteration_call(method, project, iteration, tail, request, query)
            }
            _ => gateway(404, "Resource not found"),
        }
    }

    fn with_project(
        &self,
        project: ProjectId,
        f: impl FnOnce(&Self, &SimProject) -> Answer,
    ) -> Answer {
        match self.projects.get(&project) {
            Some(p) => f(self, p),
            None => not_found_project(),
        }
    }

    fn update_project(&mut self, project: ProjectId, request: &Request, storage: bool) -> Answer {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return refuse("BadRequest", "The request body is not a Project");
        };
        if !body.is_object() {
            return refuse("BadRequest", "The request body is not a Project");
        }
        let settings = body.get("settings").cloned().unwrap_or(Value::Null);
        // PATCH: what the body leaves out stays as it is. The storage URIs are read-only in the
        // SDKs' models, so an SDK's update never sends them: absent means unchanged, and an
        // explicit null or empty string removes one (the article's PATCH sets them).
        let uri = |k: &str| -> Option<Option<String>> {
            match settings.get(k) {
                None => None,
                Some(Value::Null) => Some(None),
                Some(Value::String(s)) if s.is_empty() => Some(None),
                Some(Value::String(s)) => Some(Some(s.clone())),
                Some(_) => Some(None),
            }
        };
        let (q, c) = if storage {
            (uri("notificationQueueUri"), uri("exportModelContainerUri"))
        } else {
            (None, None)
        };
        let (old_q, old_c) = match self.projects.get(&project) {
            Some(p) => (p.queue_uri.clone(), p.container_uri.clone()),
            None => return not_found_project(),
        };
        let new_q = q.clone().unwrap_or(old_q.clone());
        let new_c = c.clone().unwrap_or(old_c.clone());
        if let Some(refusal) = self.check_storage(
            new_q.as_deref().filter(|_| new_q != old_q),
            new_c.as_deref().filter(|_| new_c != old_c),
        ) {
            return refusal;
        }
        if let Some(name) = body.get("name") {
            match name.as_str() {
                Some(n) if !n.trim().is_empty() => {}
                _ => return refuse("BadRequestProjectName", "Project name must be specified"),
            }
        }
        if let Some(d) = settings.get("domainId").and_then(Value::as_str)
            && domain(d).is_none()
        {
            return refuse("BadRequestProjectUnknownDomain", "The domain is not known");
        }
        let now = self.cx.now;
        let Some(p) = self.projects.get_mut(&project) else {
            return not_found_project();
        };
        if let Some(n) = body.get("name").and_then(Value::as_str) {
            p.name = n.to_string();
        }
        if let Some(d) = body.get("description").and_then(Value::as_str) {
            p.description = d.to_string();
        }
        if let Some(d) = settings.get("domainId").and_then(Value::as_str) {
            p.domain_id = d.to_lowercase();
        }
        if let Some(c) = settings.get("classificationType").and_then(Value::as_str) {
            p.classification_type = Some(c.to_string());
        }
        if let Some(Value::Array(ts)) = settings.get("targetExportPlatforms") {
            p.target_export_platforms = ts
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        let changed = new_q != p.queue_uri || new_c != p.container_uri;
        p.queue_uri = new_q;
        p.container_uri = new_c;
        p.last_modified = now;
        let configured = p.queue_uri.is_some() || p.container_uri.is_some();
        let answer = match self.projects.get(&project) {
            Some(p) => project_json(p),
            None => return not_found_project(),
        };
        if changed && configured {
            let after = self.timings.connection_test;
            self.cx.promise(after, Pending::ConnectionTest { project });
        }
        ok(answer)
    }

    fn create_tag(&mut self, project: ProjectId, query: &BTreeMap<String, String>) -> Answer {
        let Some(name) = query.get("name").filter(|n| !n.trim().is_empty()) else {
            return refuse("BadRequestTagName", "Tag name must be specified");
        };
        let kind = query
            .get("type")
            .cloned()
            .unwrap_or_else(|| "Regular".into());
        if !matches!(kind.as_str(), "Regular" | "Negative" | "GeneralProduct") {
            return refuse("BadRequestTagType", "The tag type is not known");
        }
        let id = self.cx.id(IdKind::Tag);
        let Some(p) = self.projects.get_mut(&project) else {
            return not_found_project();
        };
        if p.tags.iter().any(|t| t.name.eq_ignore_ascii_case(name)) {
            return refuse(
                "BadRequestTagNameNotUnique",
                "The tag name is already in use",
            );
        }
        if kind == "Negative" && p.tags.iter().any(|t| t.kind == "Negative") {
            return refuse(
                "BadRequestMultipleNegativeTag",
                "A project has one negative tag at most",
            );
        }
        let tag = SimTag {
            id,
            name: name.clone(),
            description: query.get("description").cloned().unwrap_or_default(),
            kind,
        };
        p.tags.push(tag.clone());
        p.changed = true;
        ok(tag_json(p, &tag))
    }

    fn create_images(
        &mut self,
        project: ProjectId,
        request: &Request,
        query: &BTreeMap<String, String>,
        source: ImageSource,
    ) -> Answer {
        // What each image is (a source URL, when it came from one) and its tags.
        let mut entries: Vec<(Option<String>, Vec<String>)> = Vec::new();
        let batch_tags: Vec<String> = query
            .get("tagIds")
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        match source {
            ImageSource::Data => {
                let count = multipart_parts(request).max(usize::from(!request.body.is_empty()));
                if count == 0 {
                    return refuse("BadRequestImageBatch", "No images in the request");
                }
                entries.extend((0..count).map(|_| (None, batch_tags.clone())));
            }
            ImageSource::Files | ImageSource::Urls => {
                let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
                    return refuse(
                        "BadRequestImageBatch",
                        "The request body is not an image batch",
                    );
                };
                let outer = tag_ids(&body);
                let Some(images) = body.get("images").and_then(Value::as_array) else {
                    return refuse("BadRequestImageBatch", "The batch has no images");
                };
                for image in images {
                    let own = tag_ids(image);
                    let tags = if own.is_empty() { outer.clone() } else { own };
                    let url = image.get("url").and_then(Value::as_str).map(str::to_string);
                    if source == ImageSource::Urls && url.is_none() {
                        return refuse("BadRequestImageUrl", "An image has no url");
                    }
                    if source == ImageSource::Files
                        && image
                            .get("contents")
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty)
                    {
                        return refuse("BadRequestImageStream", "An image has no contents");
                    }
                    entries.push((url, tags));
                }
            }
        }
        if entries.is_empty() || entries.len() > 64 {
            return refuse("BadRequestImageBatch", "A batch has 1 to 64 images");
        }
        let now = self.cx.now;
        let ids: Vec<String> = entries.iter().map(|_| self.cx.id(IdKind::Image)).collect();
        let Some(p) = self.projects.get_mut(&project) else {
            return not_found_project();
        };
        for (_, tags) in &entries {
            if let Some(bad) = tags
                .iter()
                .find(|t| !p.tags.iter().any(|k| k.id.eq_ignore_ascii_case(t)))
            {
                let _ = bad;
                return refuse(
                    "BadRequestImageTags",
                    "An image names a tag the project does not have",
                );
            }
            if tags.len() > 20 {
                return refuse(
                    "BadRequestExceedTagPerImageLimit",
                    "An image has more than 20 tags",
                );
            }
        }
        let mut results = Vec::new();
        for ((url, tags), id) in entries.into_iter().zip(ids) {
            let image = SimImage {
                id,
                created: now,
                tags: tags.iter().map(|t| t.to_lowercase()).collect(),
            };
            p.images.push(image.clone());
            results.push(json!({
                "sourceUrl": url,
                "status": "OK",
                "image": image_json(p, &image),
            }));
        }
        p.changed = true;
        ok(json!({"isBatchSuccessful": true, "images": results}))
    }

    fn train(
        &mut self,
        project: ProjectId,
        request: &Request,
        query: &BTreeMap<String, String>,
    ) -> Answer {
        let force = query
            .get("forceTrain")
            .is_some_and(|f| f.eq_ignore_ascii_case("true"));
        let training_type = query
            .get("trainingType")
            .cloned()
            .unwrap_or_else(|| "Regular".into());
        if !matches!(training_type.as_str(), "Regular" | "Advanced") {
            return refuse("BadRequest", "The training type is not known");
        }
        let budget: i64 = match query.get("reservedBudgetInHours").map(|b| b.parse::<i64>()) {
            None => 0,
            Some(Ok(b)) if b >= 0 => b,
            Some(_) => return refuse("BadRequest", "The reserved budget is not a number of hours"),
        };
        if training_type == "Advanced" && budget == 0 {
            return refuse(
                "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining",
                "Advanced training needs a reserved budget",
            );
        }
        if let Some(email) = query.get("notificationEmailAddress")
            && !email.contains('@')
        {
            return refuse(
                "BadRequestInvalidEmailAddress",
                "The notification email address is not valid",
            );
        }
        let selected: Option<Vec<String>> = serde_json::from_slice::<Value>(&request.body)
            .ok()
            .and_then(|b| b.get("selectedTags").cloned())
            .and_then(|t| t.as_array().cloned())
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase)
                    .collect()
            });
        let guid = self.cx.id(IdKind::Iteration);
        let now = self.cx.now;
        let after = self.timings.training;
        let Some(p) = self.projects.get_mut(&project) else {
            return not_found_project();
        };
        if p.iterations
            .iter()
            .any(|i| i.state == IterationState::Training)
        {
            return refuse(
                "BadRequestTrainingAlreadyInProgress",
                "Training already in progress",
            );
        }
        let tags: Vec<&SimTag> = p
            .tags
            .iter()
            .filter(|t| t.kind != "Negative")
            .filter(|t| selected.as_ref().is_none_or(|s| s.contains(&t.id)))
            .collect();
        let counts: Vec<usize> = tags
            .iter()
            .map(|t| p.images.iter().filter(|i| i.tags.contains(&t.id)).count())
            .collect();
        if tags.len() < MIN_TAGS || counts.iter().any(|&n| n < MIN_IMAGES_PER_TAG) {
            return refuse(
                "BadRequestTrainingValidationFailed",
                &format!(
                    "Not enough images for training: at least {MIN_TAGS} tags with at least {MIN_IMAGES_PER_TAG} images each are needed"
                ),
            );
        }
        if !p.changed && !force && !p.iterations.is_empty() {
            return refuse(
                "BadRequestTrainingNotNeeded",
                "Nothing changed since the last training",
            );
        }
        let id = IterationId::parse(&guid).unwrap_or(IterationId::from_bytes([0; 16]));
        p.changed = false;
        let n = p.iterations.len() + 1;
        p.iterations.push(SimIteration {
            id,
            name: format!("Iteration {n}"),
            state: IterationState::Training,
            created: now,
            last_modified: now,
            trained_at: None,
            domain_id: p.domain_id.clone(),
            classification_type: p.classification_type.clone(),
            training_type,
            reserved_budget_in_hours: budget,
            publish_name: None,
            prediction_resource_id: None,
            exports: BTreeMap::new(),
        });
        let answer = match self.projects.get(&project) {
            Some(p) => p
                .iterations
                .last()
                .map(|it| iteration_json(p, it, self.contradicted()))
                .unwrap_or(Value::Null),
            None => return not_found_project(),
        };
        self.cx.facts.iteration = Some(id.to_string());
        self.cx.promise(
            after,
            Pending::FinishTraining {
                project,
                iteration: id,
            },
        );
        if self.cx.misbehaves(Misbehaviour::ExportBeforeTraining)
            && let Some(p) = self.projects.get(&project)
            && let (Some(q), Some(c)) = (
                p.queue_uri
                    .as_deref()
                    .and_then(|u| self.storage.queue_of(u)),
                p.container_uri.clone(),
            )
        {
            let base = container_base(&c);
            let uri = format!("{base}/{project}%20-%20{id}.ONNX");
            self.cx.post(&q, export_completed(project, id, &uri), None);
        }
        ok(answer)
    }

    fn quick_test(&self, project: ProjectId, query: &BTreeMap<String, String>) -> Answer {
        let now = self.cx.now;
        self.with_project(project, |_, p| {
            let iteration = match query.get("iterationId") {
                Some(id) => p.iterations.iter().find(|i| i.id.to_string().eq_ignore_ascii_case(id)),
                None => p.iterations.iter().rev().find(|i| i.state == IterationState::Completed),
            };
            let Some(it) = iteration.filter(|i| i.state == IterationState::Completed) else {
                return refuse("BadRequestIterationIsNotTrained", "The iteration is not trained");
            };
            let share = 1.0 / p.tags.len().max(1) as f64;
            let predictions: Vec<Value> = p
                .tags
                .iter()
                .map(|t| json!({"probability": share, "tagId": t.id, "tagName": t.name, "boundingBox": null, "tagType": t.kind}))
                .collect();
            ok(json!({
                "id": uuid::Uuid::nil().to_string(),
                "project": p.id.to_string(),
                "iteration": it.id.to_string(),
                "created": rfc3339(now),
                "predictions": predictions,
            }))
        })
    }

    fn iteration_call(
        &mut self,
        method: &str,
        project: ProjectId,
        iteration: IterationId,
        tail: &[&str],
        request: &Request,
        query: &BTreeMap<String, String>,
    ) -> Answer {
        let after = self.timings.export;
        let contradict = self.cx.misbehaves(Misbehaviour::ExportContradictsPolling);
        let now = self.cx.now;
        let Some(p) = self.projects.get(&project) else {
            return not_found_project();
        };
        let Some(it) = p.iterations.iter().find(|i| i.id == iteration) else {
            return refuse("NotFoundIteration", "Iteration not found");
        };
        match (method, tail) {
            ("GET", []) => ok(iteration_json(p, it, self.contradicted())),
            ("GET", ["performance"]) => {
                if it.state != IterationState::Completed {
                    return refuse(
                        "BadRequestIterationIsNotTrained",
                        "The iteration is not trained",
                    );
                }
                let per_tag: Vec<Value> = p
                    .tags
                    .iter()
                    .map(|t| json!({"id": t.id, "name": t.name, "precision": 1.0, "precisionStdDeviation": 0.0, "recall": 1.0, "recallStdDeviation": 0.0, "averagePrecision": 1.0}))
                    .collect();
                ok(
                    json!({"perTagPerformance": per_tag, "precision": 1.0, "precisionStdDeviation": 0.0, "recall": 1.0, "recallStdDeviation": 0.0, "averagePrecision": 1.0}),
                )
            }
            ("GET", ["export"]) => {
                let all: Vec<Value> = it
                    .exports
                    .iter()
                    .map(|(platform, e)| {
                        let status = if contradict && e.status == "Done" { "Failed" } else { e.status };
                        let uri = if status == "Done" {
                            service_model_uri(iteration)
                        } else {
                            String::new()
                        };
                        json!({"platform": platform, "status": status, "downloadUri": uri, "flavor": e.flavor, "newerVersionAvailable": false})
                    })
                    .collect();
                ok(Value::Array(all))
            }
            ("POST", ["export"]) => {
                let Some(platform) = query
                    .get("platform")
                    .and_then(|p| ExportPlatform::from_name(p))
                else {
                    return refuse(
                        "BadRequestProjectUnsupportedExportPlatform",
                        "Unsupported export platform",
                    );
                };
                let flavor = query.get("flavor").cloned();
                if let Some(f) = &flavor
                    && cvnotify_core::lifecycle::ExportFlavor::from_name(f)
                        .is_none_or(|f| f.platform() != platform)
                {
                    return refuse(
                        "BadRequestNotSupported",
                        "The flavor does not belong to the platform",
                    );
                }
                if it.state != IterationState::Completed {
                    return refuse(
                        "BadRequestIterationIsNotTrained",
                        "The iteration is not trained",
                    );
                }
                if domain(&it.domain_id).is_none_or(|d| !d.exportable) {
                    return refuse(
                        "BadRequestProjectUnsupportedExportPlatform",
                        "The iteration's domain does not support export; use a compact domain",
                    );
                }
                if it
                    .exports
                    .get(platform.as_str())
                    .is_some_and(|e| e.status == "Exporting")
                {
                    return refuse(
                        "BadRequestExportAlreadyInProgress",
                        &format!("{iteration} is already queued for export"),
                    );
                }
                if let Some(it) = self.iteration_mut(project, iteration) {
                    it.exports.insert(
                        platform.as_str(),
                        ExportState {
                            status: "Exporting",
                            flavor: flavor.clone(),
                        },
                    );
                }
                self.cx.promise(
                    after,
                    Pending::FinishExport {
                        project,
                        iteration,
                        platform,
                    },
                );
                ok(
                    json!({"platform": platform.as_str(), "status": "Exporting", "downloadUri": "", "flavor": flavor, "newerVersionAvailable": false}),
                )
            }
            ("POST", ["publish"]) => {
                let (Some(name), Some(resource)) =
                    (query.get("publishName"), query.get("predictionId"))
                else {
                    return refuse(
                        "BadRequestInvalidPublishName",
                        "publishName and predictionId are required",
                    );
                };
                if it.state != IterationState::Completed {
                    return refuse(
                        "BadRequestIterationIsNotTrained",
                        "The iteration is not trained",
                    );
                }
                if name.trim().is_empty() || name.len() > 256 {
                    return refuse(
                        "BadRequestInvalidPublishName",
                        "The publish name is not valid",
                    );
                }
                if !resource.starts_with("/subscriptions/") {
                    return refuse(
                        "BadRequestInvalidPublishTarget",
                        "The prediction resource id is not valid",
                    );
                }
                let clash = p
                    .iterations
                    .iter()
                    .any(|i| i.id != iteration && i.publish_name.as_deref() == Some(name.as_str()));
                if clash {
                    return refuse("BadRequestInvalidPublishName", "The publish name is in use");
                }
                if let Some(it) = self.iteration_mut(project, iteration) {
                    it.publish_name = Some(name.clone());
                    it.prediction_resource_id = Some(resource.clone());
                    it.last_modified = now;
                }
                ok(json!(true))
            }
            ("DELETE", ["publish"]) => {
                if it.publish_name.is_none() {
                    return refuse(
                        "BadRequestIterationNotPublished",
                        "The iteration is not published",
                    );
                }
                if let Some(it) = self.iteration_mut(project, iteration) {
                    it.publish_name = None;
                    it.prediction_resource_id = None;
                    it.last_modified = now;
                }
                Answer::new(204)
            }
            ("DELETE", []) => {
                if it.publish_name.is_some() {
                    return refuse(
                        "BadRequestIterationIsPublished",
                        "Unpublish the iteration first",
                    );
                }
                if it.state == IterationState::Training {
                    return refuse(
                        "BadRequestTrainingAlreadyInProgress",
                        "The iteration is training",
                    );
                }
                if let Some(p) = self.projects.get_mut(&project) {
                    p.iterations.retain(|i| i.id != iteration);
                }
                Answer::new(204)
            }
            ("PATCH", []) => {
                let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
                    return refuse("BadRequest", "The request body is not an Iteration");
                };
                let Some(name) = body
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.trim().is_empty())
                else {
                    return refuse(
                        "BadRequestIterationName",
                        "Iteration name must be specified",
                    );
                };
                let name = name.to_string();
                if let Some(it) = self.iteration_mut(project, iteration) {
                    it.name = name;
                    it.last_modified = now;
                }
                self.with_project(project, |w, p| {
                    match p.iterations.iter().find(|i| i.id == iteration) {
                        Some(it) => ok(iteration_json(p, it, w.contradicted())),
                        None => refuse("NotFoundIteration", "Iteration not found"),
                    }
                })
            }
            _ => gateway(404, "Resource not found"),
        }
    }
}

/// A project's images: `tagged`, `untagged`, or all of them (anything else).
fn images_of<'p>(p: &'p SimProject, which: &str) -> impl Iterator<Item = &'p SimImage> {
    let which = which.to_string();
    p.images.iter().filter(move |i| match which.as_str() {
        "tagged" => !i.tags.is_empty(),
        "untagged" => i.tags.is_empty(),
        _ => true,
    })
}

/// The `tagIds` of a batch or of one of its images (none when absent).
fn tag_ids(v: &Value) -> Vec<String> {
    v.get("tagIds")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Where CreateImages reads its images from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImageSource {
    /// The body (multipart/form-data parts, or one image as octet-stream).
    Data,
    /// An `ImageFileCreateBatch` (base64 contents).
    Files,
    /// An `ImageUrlCreateBatch`.
    Urls,
}

/// The number of parts of a multipart/form-data body (0 when it is not one).
fn multipart_parts(request: &Request) -> usize {
    let Some(boundary) = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.starts_with("multipart/form-data"))
        .and_then(|t| t.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_string())
    else {
        return 0;
    };
    let marker = format!("--{boundary}");
    let body = String::from_utf8_lossy(&request.body);
    body.matches(&marker).count().saturating_sub(1)
}

/// The operation a training API request is (`rest`: the path after `training/`), as the
/// journal names it.
pub(crate) fn call_of(method: &str, rest: &[&str]) -> Call {
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let rest: Vec<&str> = lower.iter().map(String::as_str).collect();
    match (method, rest.as_slice()) {
        (_, ["domains", ..]) => Call::GetDomains,
        ("GET", ["projects"]) => Call::GetProjects,
        ("POST", ["projects"]) => Call::CreateProject,
        ("GET", ["projects", _]) => Call::GetProject,
        ("PATCH", ["projects", _]) => Call::UpdateProject,
        ("DELETE", ["projects", _]) => Call::DeleteProject,
        ("POST", ["projects", _, "train"]) => Call::TrainProject,
        (_, ["projects", _, "tags", ..]) => Call::Tags,
        (_, ["projects", _, "images", ..] | ["projects", _, "tagged" | "untagged", ..]) => {
            Call::Images
        }
        (_, ["projects", _, "quicktest", ..]) => Call::QuickTest,
        ("GET", ["projects", _, "iterations"]) => Call::GetIterations,
        ("GET", ["projects", _, "iterations", _]) => Call::GetIteration,
        ("PATCH", ["projects", _, "iterations", _]) => Call::UpdateIteration,
        ("DELETE", ["projects", _, "iterations", _]) => Call::DeleteIteration,
        (_, ["projects", _, "iterations", _, "performance", ..]) => Call::GetIterationPerformance,
        ("POST", ["projects", _, "iterations", _, "publish"]) => Call::PublishIteration,
        ("DELETE", ["projects", _, "iterations", _, "publish"]) => Call::UnpublishIteration,
        ("POST", ["projects", _, "iterations", _, "export"]) => Call::ExportIteration,
        ("GET", ["projects", _, "iterations", _, "export"]) => Call::GetExports,
        _ => Call::OtherApi,
    }
}
