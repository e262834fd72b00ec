//! The simulated Custom Vision training API (protocol.md 1.1-1.4) on both path versions
//! (`/customvision/v3.3/training/...`, `/customvision/v3.4-preview/training/...`, `Training` in
//! any case), taking the storage URIs as query parameters or as a `CreateProjectOptions` body.
//! Projects, iterations and exports follow the schemas of protocol.md 1.3; the errors are the
//! documented codes, and a missing or wrong `Training-Key` gets the gateway's 401.

use std::collections::BTreeMap;

use cvnotify_core::{ExportPlatform, IterationId, ProjectId};
use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

use super::faults::Misbehaviour;
use super::world::{
    IdKind, IterationState, Pending, SimIteration, SimProject, World, container_base,
    export_completed, resource_name, service_model_uri,
};

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

pub(crate) fn service_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"code": code, "message": message}))
}

fn not_found_project() -> ResponseTemplate {
    service_error(404, "NotFoundProject", "Project not found")
}

fn rfc3339(t: std::time::SystemTime) -> String {
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    crate::recording::format_time(cvnotify_core::lifecycle::Timestamp(ms))
}

impl World {
    fn project_json(&self, p: &SimProject) -> Value {
        json!({
            "id": p.id.to_string(),
            "name": p.name,
            "description": "",
            "settings": {
                "domainId": "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31",
                "classificationType": "Multiclass",
                "targetExportPlatforms": [],
                "useNegativeSet": true,
                "exportModelContainerUri": p.container_uri,
                "notificationQueueUri": p.queue_uri,
            },
            "status": "Succeeded",
        })
    }

    fn iteration_json(&self, p: &SimProject, it: &SimIteration) -> Value {
        let status = match it.state {
            IterationState::Training => "Training",
            IterationState::Completed
                if self.misbehaves(Misbehaviour::TrainingContradictsPolling) =>
            {
                "Failed"
            }
            IterationState::Completed => "Completed",
            IterationState::Failed => "Failed",
        };
        json!({
            "id": it.id.to_string(),
            "name": format!("Iteration {}", p.iterations.iter().position(|i| i.id == it.id).map_or(0, |k| k + 1)),
            "status": status,
            "created": rfc3339(it.created),
            "projectId": p.id.to_string(),
            "exportable": it.state == IterationState::Completed,
            "exportableTo": ExportPlatform::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "trainingType": "Regular",
        })
    }

    /// Answers one training API request (`segments` after `training/`).
    pub(crate) fn training(&mut self, request: &Request, segments: &[&str]) -> ResponseTemplate {
        let key = request
            .headers
            .get("training-key")
            .and_then(|v| v.to_str().ok());
        if key != Some(self.training_key.as_str()) {
            return ResponseTemplate::new(401).set_body_json(json!({"error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}));
        }
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let method = request.method.as_str();
        match segments {
            ["projects"] if method == "POST" => self.create_project(request, &query),
            ["projects", p, rest @ ..] => {
                let Ok(project) = ProjectId::parse(p) else {
                    return service_error(400, "BadRequestInvalidIds", "not a project id");
                };
                if !self.projects.contains_key(&project) {
                    return not_found_project();
                }
                self.project_call(method, project, rest, request, &query)
            }
            _ => service_error(404, "NotFound", "no such operation"),
        }
    }

    fn create_project(
        &mut self,
        request: &Request,
        query: &BTreeMap<String, String>,
    ) -> ResponseTemplate {
        let Some(name) = query.get("name").filter(|n| !n.is_empty()) else {
            return service_error(400, "BadRequestProjectName", "name is required");
        };
        let body: Value = if request.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&request.body) {
                Ok(v) => v,
                Err(_) => return service_error(400, "BadRequest", "the body is not JSON"),
            }
        };
        let pick = |key: &str| {
            query
                .get(key)
                .cloned()
                .or_else(|| body.get(key).and_then(Value::as_str).map(str::to_string))
        };
        let (queue_uri, container_uri) = (
            pick("notificationQueueUri"),
            pick("exportModelContainerUri"),
        );
        for uri in queue_uri.iter().chain(&container_uri) {
            if url::Url::parse(uri).is_err() {
                return service_error(400, "BadRequestInvalidUri", "The storage URI is not valid");
            }
        }
        let id =
            ProjectId::parse(&self.id(IdKind::Project)).unwrap_or(ProjectId::from_bytes([0; 16]));
        let project = SimProject {
            id,
            name: name.clone(),
            queue_uri,
            container_uri,
            iterations: Vec::new(),
            changed: true,
        };
        let configured = project.queue_uri.is_some() || project.container_uri.is_some();
        let answer = self.project_json(&project);
        self.projects.insert(id, project);
        if configured {
            let after = self.timings.connection_test;
            self.schedule(after, Pending::ConnectionTest { project: id });
        }
        ResponseTemplate::new(200).set_body_json(answer)
    }

    fn project_call(
        &mut self,
        method: &str,
        project: ProjectId,
        rest: &[&str],
        request: &Request,
        query: &BTreeMap<String, String>,
    ) -> ResponseTemplate {
        let now = self.now();
        match (method, rest) {
            ("GET", []) => {
                let Some(p) = self.projects.get(&project) else {
                    return not_found_project();
                };
                ResponseTemplate::new(200).set_body_json(self.project_json(p))
            }
            ("PATCH", []) => {
                let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
                    return service_error(400, "BadRequest", "the body is not a Project");
                };
                let settings = body.get("settings").cloned().unwrap_or(Value::Null);
                let get = |k: &str| settings.get(k).and_then(Value::as_str).map(str::to_string);
                let (q, c) = (get("notificationQueueUri"), get("exportModelContainerUri"));
                let Some(p) = self.projects.get_mut(&project) else {
                    return not_found_project();
                };
                let changed = q != p.queue_uri || c != p.container_uri;
                p.queue_uri = q;
                p.container_uri = c;
                if let Some(n) = body.get("name").and_then(Value::as_str) {
                    p.name = n.to_string();
                }
                let configured = p.queue_uri.is_some() || p.container_uri.is_some();
                let answer = match self.projects.get(&project) {
                    Some(p) => self.project_json(p),
                    None => return not_found_project(),
                };
                if changed && configured {
                    let after = self.timings.connection_test;
                    self.schedule(after, Pending::ConnectionTest { project });
                }
                ResponseTemplate::new(200).set_body_json(answer)
            }
            ("POST", ["train"]) => {
                let force = query.get("forceTrain").is_some_and(|f| f == "true");
                let guid = self.id(IdKind::Iteration);
                let after = self.timings.training;
                let Some(p) = self.projects.get_mut(&project) else {
                    return not_found_project();
                };
                if p.iterations
                    .iter()
                    .any(|i| i.state == IterationState::Training)
                {
                    return service_error(
                        400,
                        "BadRequestTrainingAlreadyInProgress",
                        "Training already in progress",
                    );
                }
                if !p.changed && !force {
                    return service_error(
                        400,
                        "BadRequestTrainingNotNeeded",
                        "Nothing changed since the last training",
                    );
                }
                let id = IterationId::parse(&guid).unwrap_or(IterationId::from_bytes([0; 16]));
                p.changed = false;
                p.iterations.push(SimIteration {
                    id,
                    state: IterationState::Training,
                    created: now,
                    exports: BTreeMap::new(),
                });
                let answer = {
                    let Some(p) = self.projects.get(&project) else {
                        return not_found_project();
                    };
                    let it = p.iterations.last();
                    it.map(|it| self.iteration_json(p, it))
                        .unwrap_or(Value::Null)
                };
                self.schedule(
                    after,
                    Pending::FinishTraining {
                        project,
                        iteration: id,
                    },
                );
                if self.misbehaves(Misbehaviour::ExportBeforeTraining)
                    && let Some(p) = self.projects.get(&project)
                    && let (Some(q), Some(c)) = (
                        p.queue_uri.as_deref().and_then(resource_name),
                        p.container_uri.clone(),
                    )
                {
                    let base = container_base(&c);
                    let uri = format!("{base}/{project}%20-%20{id}.ONNX");
                    self.post(&q, &export_completed(project, id, &uri));
                }
                ResponseTemplate::new(200).set_body_json(answer)
            }
            ("GET", ["iterations"]) => {
                let Some(p) = self.projects.get(&project) else {
                    return not_found_project();
                };
                let all: Vec<Value> = p
                    .iterations
                    .iter()
                    .map(|it| self.iteration_json(p, it))
                    .collect();
                ResponseTemplate::new(200).set_body_json(all)
            }
            (_, ["iterations", i, tail @ ..]) => {
                let Ok(iteration) = IterationId::parse(i) else {
                    return service_error(400, "BadRequestInvalidIds", "not an iteration id");
                };
                self.iteration_call(method, project, iteration, tail, query)
            }
            _ => service_error(404, "NotFound", "no such operation"),
        }
    }

    fn iteration_call(
        &mut self,
        method: &str,
        project: ProjectId,
        iteration: IterationId,
        tail: &[&str],
        query: &BTreeMap<String, String>,
    ) -> ResponseTemplate {
        let after = self.timings.export;
        let contradict = self.faults.has(Misbehaviour::ExportContradictsPolling);
        let Some(p) = self.projects.get_mut(&project) else {
            return not_found_project();
        };
        let Some(it) = p.iterations.iter_mut().find(|i| i.id == iteration) else {
            return service_error(404, "NotFoundIteration", "Iteration not found");
        };
        match (method, tail) {
            ("GET", []) => {
                let Some(p) = self.projects.get(&project) else {
                    return not_found_project();
                };
                let it = p.iterations.iter().find(|i| i.id == iteration);
                ResponseTemplate::new(200).set_body_json(it.map(|it| self.iteration_json(p, it)))
            }
            ("GET", ["export"]) => {
                let all: Vec<Value> = it
                    .exports
                    .iter()
                    .map(|(platform, status)| {
                        let status = if contradict && *status == "Done" { &"Failed" } else { status };
                        let uri = if *status == "Done" {
                            Value::String(service_model_uri(iteration))
                        } else {
                            Value::String(String::new())
                        };
                        json!({"platform": platform, "status": status, "downloadUri": uri, "newerVersionAvailable": false})
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(all)
            }
            ("POST", ["export"]) => {
                let Some(platform) = query
                    .get("platform")
                    .and_then(|p| ExportPlatform::from_name(p))
                else {
                    return service_error(
                        400,
                        "BadRequestProjectUnsupportedExportPlatform",
                        "Unsupported export platform",
                    );
                };
                if it.state != IterationState::Completed {
                    return service_error(
                        400,
                        "BadRequestIterationIsNotTrained",
                        "The iteration is not trained",
                    );
                }
                if it.exports.get(platform.as_str()) == Some(&"Exporting") {
                    return service_error(
                        400,
                        "BadRequestExportAlreadyInProgress",
                        &format!("{iteration} is already queued for export"),
                    );
                }
                it.exports.insert(platform.as_str(), "Exporting");
                self.schedule(
                    after,
                    Pending::FinishExport {
                        project,
                        iteration,
                        platform,
                    },
                );
                ResponseTemplate::new(200).set_body_json(json!({
                    "platform": platform.as_str(), "status": "Exporting", "downloadUri": "",
                    "flavor": query.get("flavor"), "newerVersionAvailable": false}))
            }
            _ => service_error(404, "NotFound", "no such operation"),
        }
    }
}
