//! What each recording line stands for in the lifecycle model: a message line is parsed into a
//! notification, an `api` line becomes configuration, requests, polls or a refusal, a `blob`
//! line a blob seen or gone, a `tick` the passing of time.

use cvnotify_core::lifecycle::{
    ContainerUri, Delivery, Event, Evidence, ExportFlavor, ExportJobStatus, Input, IterationStatus,
    MessageId, RejectionCode, Sources,
};
use cvnotify_core::{
    Encoding, ExportPlatform, IterationId, Notification, ParseError, ParseOptions, Parsed,
    ProjectId, redact,
};

use super::problem::LineProblem;
use super::schema::{
    ApiLine, At, BlobEvent, ClientAction, ClientLine, DeliveredLine, Duty, FORMAT_VERSION, Line,
    OLDEST_READABLE_VERSION, Outcome, RequestLine, Scope, SourceName,
};
use cvnotify_core::client::{self, ClientEvent};
use cvnotify_core::lifecycle::Operation;

/// What one line amounts to. Returned once per line and consumed at once, so the size of the
/// `Message` variant costs a move, where boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item {
    /// A run starts (the first line, or a run appended to the recording later).
    Session {
        /// The recording format version it was written in.
        version: u32,
        /// What it observes.
        sources: Sources,
        /// Which projects it judges.
        scope: Scope,
        /// The scenario, for a client's journal.
        scenario: Option<String>,
        /// The client's duties.
        duties: Vec<Duty>,
        /// Whether it saw only its share of the queue.
        partial: bool,
    },
    /// A journal line: what the client judge is fed.
    Client {
        /// When.
        at: cvnotify_core::lifecycle::Timestamp,
        /// What.
        event: ClientEvent,
    },
    /// A run ended.
    End {
        /// How.
        outcome: Outcome,
        /// Why, when it did not complete.
        reason: Option<String>,
    },
    /// Lifecycle inputs (a GetExports answer may give several).
    Inputs(Vec<Input>),
    /// A training API call that got no usable answer: no answer at all (`httpStatus` 0), or an
    /// error that is not the service's (the gateway's refusal of the key, a 503 without a
    /// `CustomVisionError`). The API was not observed.
    Unavailable {
        /// The call.
        operation: Operation,
        /// What happened.
        detail: String,
    },
    /// A queue message, parsed or rejected, with its input when it was accepted.
    Message {
        /// Its id.
        message_id: MessageId,
        /// The parser's verdict.
        parsed: Result<Parsed, ParseError>,
        /// The lifecycle input, when it was accepted.
        input: Option<Input>,
    },
}

use super::problem::unreadable;

fn project(text: &str) -> Result<ProjectId, LineProblem> {
    ProjectId::parse(text).map_err(|e| unreadable(format!("projectId: {e}")))
}

fn iteration(text: Option<&str>) -> Result<IterationId, LineProblem> {
    let text = text.ok_or_else(|| unreadable("iterationId is required for this operation"))?;
    IterationId::parse(text).map_err(|e| unreadable(format!("iterationId: {e}")))
}

fn platform(text: Option<&str>) -> Result<ExportPlatform, LineProblem> {
    let text = text.ok_or_else(|| unreadable("platform is required for this operation"))?;
    ExportPlatform::from_name(text).ok_or_else(|| unreadable(format!("unknown platform {text:?}")))
}

fn flavor(text: &str) -> Result<ExportFlavor, LineProblem> {
    ExportFlavor::from_name(text).ok_or_else(|| unreadable(format!("unknown flavor {text:?}")))
}

fn rejection(code: Option<&str>) -> RejectionCode {
    match code {
        Some("BadRequestExportAlreadyInProgress") => RejectionCode::ExportAlreadyInProgress,
        Some("BadRequestTrainingNotNeeded") => RejectionCode::TrainingNotNeeded,
        Some("BadRequestIterationIsNotTrained") => RejectionCode::IterationIsNotTrained,
        Some("NotFoundProject" | "NotFoundIteration") => RejectionCode::NotFound,
        _ => RejectionCode::Other,
    }
}

/// Why an API line records no usable answer, when it does: no answer at all (`httpStatus` 0),
/// or an error status without a `CustomVisionError` code (the gateway's numeric codes, such as a
/// refused key's `401`, or none at all, as a bare 503 has).
pub fn unavailable(line: &ApiLine) -> Option<String> {
    let service_code = line
        .error_code
        .as_deref()
        .filter(|c| !c.is_empty() && !c.bytes().all(|b| b.is_ascii_digit()));
    match (line.http_status, service_code) {
        (0, _) => Some(format!(
            "no answer ({})",
            line.error_code.as_deref().unwrap_or("transport failure")
        )),
        (status, None) if status >= 300 => Some(match &line.error_code {
            Some(code) => format!("answered {status} (gateway code {code}), not the service"),
            None => format!("answered {status} without a CustomVisionError"),
        }),
        _ => None,
    }
}

/// The events an API line stands for.
pub fn api_events(line: &ApiLine) -> Result<Vec<Event>, LineProblem> {
    let project_id = project(&line.project_id)?;
    if project_id.as_uuid().is_nil() {
        // The nil id stands for no project: a CreateProject that failed.
        return Ok(vec![]);
    }
    if line.http_status >= 300 {
        let code = rejection(line.error_code.as_deref());
        return Ok(vec![Event::ApiRejected {
            project_id,
            operation: line.operation,
            code,
        }]);
    }
    let iteration_id = || iteration(line.iteration_id.as_deref());
    Ok(match line.operation {
        Operation::CreateProject | Operation::UpdateProject => {
            let container = line
                .export_model_container_uri
                .as_deref()
                .map(ContainerUri::parse)
                .transpose()
                .map_err(|e| unreadable(format!("exportModelContainerUri: {e}")))?;
            vec![Event::Configured {
                project_id,
                queue: line.notification_queue_uri.is_some(),
                container,
            }]
        }
        Operation::TrainProject => vec![Event::TrainingRequested {
            project_id,
            iteration_id: iteration_id()?,
        }],
        Operation::ExportIteration => vec![Event::ExportRequested {
            project_id,
            iteration_id: iteration_id()?,
            platform: platform(line.platform.as_deref())?,
            flavor: line.flavor.as_deref().map(flavor).transpose()?,
        }],
        Operation::GetIteration => {
            let status = match line.iteration_status.as_deref() {
                Some("Training") => IterationStatus::Training,
                Some("Completed") => IterationStatus::Completed,
                Some("Failed") => IterationStatus::Failed,
                // `New` (a blank iteration) and statuses the model has no use for.
                Some(_) => return Ok(vec![]),
                None => return Err(unreadable("iterationStatus is required for GetIteration")),
            };
            vec![Event::IterationPolled {
                project_id,
                iteration_id: iteration_id()?,
                status,
            }]
        }
        Operation::GetExports => {
            let iteration_id = iteration_id()?;
            let exports = line
                .exports
                .as_deref()
                .ok_or_else(|| unreadable("exports is required for GetExports"))?;
            exports
                .iter()
                .map(|e| {
                    let status = match e.status.as_str() {
                        "Exporting" => ExportJobStatus::Exporting,
                        "Done" => ExportJobStatus::Done,
                        "Failed" => ExportJobStatus::Failed,
                        other => {
                            return Err(unreadable(format!("unknown export status {other:?}")));
                        }
                    };
                    Ok(Event::ExportPolled {
                        project_id,
                        iteration_id,
                        platform: platform(Some(&e.platform))?,
                        status,
                    })
                })
                .collect::<Result<_, _>>()?
        }
    })
}

/// What a decoded line stands for; `evidence` is its number.
pub fn item(line: Line, evidence: Evidence) -> Result<Item, LineProblem> {
    let input = |at: At, event| Input {
        at: at.0,
        evidence,
        event,
    };
    Ok(match line {
        Line::Session(s) => {
            if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&s.version) {
                return Err(unreadable(format!(
                    "recording version {} (this build reads {OLDEST_READABLE_VERSION} to {FORMAT_VERSION})",
                    s.version
                )));
            }
            Item::Session {
                version: s.version,
                sources: SourceName::sources(&s.sources),
                scope: s.scope,
                scenario: s.scenario,
                duties: s.duties,
                partial: s.partial,
            }
        }
        Line::Request(r) => Item::Client {
            at: r.at.0,
            event: ClientEvent::Request(request(*r)),
        },
        Line::Delivered(d) => Item::Client {
            at: d.at.0,
            event: ClientEvent::Delivered(delivered(d)?),
        },
        Line::Client(c) if c.action == ClientAction::Restarted => Item::Client {
            at: c.at.0,
            event: ClientEvent::Restarted,
        },
        Line::Client(c) => match client_end(&c) {
            Some(end) => Item::Client {
                at: c.at.0,
                event: ClientEvent::Ended {
                    end,
                    note: c.reason.filter(|_| c.action != ClientAction::Unstartable),
                    left: c.left,
                },
            },
            None => Item::Inputs(Vec::new()),
        },
        Line::End(e) => Item::End {
            outcome: e.outcome,
            reason: e.reason,
        },
        Line::Message(m) => {
            let parsed = cvnotify_core::parse(m.message_text.as_bytes(), ParseOptions::TOLERANT);
            // Inside base64 the plain scan sees nothing: the parsed modelUri says whether the
            // message carries a signature; a base64 message that did not parse is decoded and
            // scanned.
            let hidden = match &parsed {
                Ok(p) => match &p.notification {
                    Notification::Export {
                        model_uri: Some(uri),
                        ..
                    } => {
                        p.encoding == Encoding::Base64
                            && redact::find(uri.expose_secret()).is_some()
                    }
                    _ => false,
                },
                Err(e) => {
                    e.encoding() == Some(Encoding::Base64)
                        && redact::find_deep(&m.message_text).is_some()
                }
            };
            if hidden {
                return Err(LineProblem::Secret(redact::SecretKind::SasSignature));
            }
            let input = parsed.as_ref().ok().map(|p| {
                let delivery = Delivery {
                    message_id: MessageId::from_text(&m.message_id),
                    dequeue_count: m.dequeue_count,
                };
                input(
                    m.at,
                    Event::Notification {
                        notification: p.notification.clone(),
                        delivery,
                    },
                )
            });
            Item::Message {
                message_id: MessageId::from_text(&m.message_id),
                parsed,
                input,
            }
        }
        Line::Api(a) => match unavailable(&a) {
            Some(detail) => Item::Unavailable {
                operation: a.operation,
                detail,
            },
            None => Item::Inputs(
                api_events(&a)?
                    .into_iter()
                    .map(|e| input(a.at, e))
                    .collect(),
            ),
        },
        Line::Blob(b) => {
            let event = match b.event {
                BlobEvent::Created => Event::BlobCreated {
                    name: b.name,
                    size: b.size.unwrap_or(0),
                },
                BlobEvent::Deleted => Event::BlobDeleted { name: b.name },
            };
            Item::Inputs(vec![input(b.at, event)])
        }
        Line::Tick(t) => Item::Inputs(vec![input(t.at, Event::Tick)]),
    })
}

/// A `request` line, as the client judge reads it.
pub fn request(r: RequestLine) -> client::Request {
    let blob = match (&r.container, &r.blob) {
        (Some(c), Some(b)) => Some(format!("{c}/{b}")),
        _ => None,
    };
    client::Request {
        call: client::Call::from_name(&r.call),
        status: r.http_status,
        queue: r.queue,
        message_id: r.message_id,
        pop_receipt: r.pop_receipt,
        new_pop_receipt: r.new_pop_receipt,
        received: r
            .received
            .unwrap_or_default()
            .into_iter()
            .map(|e| client::Received {
                message_id: e.message_id,
                pop_receipt: e.pop_receipt,
            })
            .collect(),
        blob,
        range: r.range,
        project: r.project_id,
        iteration: r.iteration_id,
        api_version: r.api_version,
        storage_options: r.storage_options,
        digest: r.digest,
        holds: r.holds.into_vec(),
        copy_source: r.copy_source.map(String::from),
        visibility_timeout: r.visibility_timeout.map(u64::from),
        connection: r.connection,
        open_connections: r.open_connections,
        client_request: r.client_request,
        retry_after_ms: r.retry_after.map(|s| u64::from(s) * 1000),
    }
}

fn delivered(d: DeliveredLine) -> Result<client::Delivered, LineProblem> {
    let class = match d.class.as_str() {
        "notification" => client::MessageClass::Notification,
        "unrecognized" => client::MessageClass::Unrecognized,
        "malformed" => client::MessageClass::Malformed,
        other => return Err(unreadable(format!("unknown message class {other:?}"))),
    };
    Ok(client::Delivered {
        queue: d.queue,
        message_id: d.message_id,
        class,
        blob: d.blob,
        digest: Some(d.digest),
        status: d.notification_status,
        base64: d.base64,
        blob_size: d.blob_size,
    })
}

/// How a `client` line says the process ended (`None` for a start).
pub fn client_end(c: &ClientLine) -> Option<client::ClientEnd> {
    Some(match c.action {
        ClientAction::Started | ClientAction::Restarted => return None,
        ClientAction::Exited => match (c.status, c.signal) {
            (_, Some(signal)) => client::ClientEnd::Killed(signal),
            (status, None) => client::ClientEnd::Exited(status.unwrap_or(0)),
        },
        ClientAction::Stopped => client::ClientEnd::Stopped,
        ClientAction::Unstartable => {
            client::ClientEnd::Unstartable(c.reason.clone().unwrap_or_default())
        }
        ClientAction::TimedOut => client::ClientEnd::TimedOut,
    })
}
