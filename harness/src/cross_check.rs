//! Asks the training API what it says about a notification's iteration (GetIteration after a
//! `Training` notification, GetExports after an `Export` one) and writes the answer as a
//! recording line, which the lifecycle model then compares with the notification
//! (`training-contradicts-polling`, `export-contradicts-polling`).

use cvnotify_core::lifecycle::{Operation, Timestamp};
use cvnotify_core::{IterationId, Notification, ProjectId};

use crate::recording::{ApiLine, At, ExportEntry};
use crate::training::{TrainingClient, TrainingError};

/// What one cross-check produced.
pub enum Outcome {
    /// Nothing to ask (a `ConnectionTest` or unrecognized notification).
    NotApplicable,
    /// The API answered (success or a service error): the line to record and apply, and what
    /// was left out of it (exports of a platform or status this build does not know).
    Answered {
        /// The line to record.
        line: ApiLine,
        /// Exports of a platform or status this build does not know.
        left_out: Vec<String>,
    },
    /// The service refused the call: the line to record (an `api-rejected` input), and why.
    Refused {
        /// The line to record.
        line: ApiLine,
        /// The refusal.
        error: TrainingError,
    },
    /// No usable answer (transport failure, gateway refusal, unreadable body): the line to
    /// record (the API was not observed: `api-unavailable`), and what happened.
    Failed {
        /// The line to record.
        line: ApiLine,
        /// What happened.
        error: TrainingError,
    },
}

/// Polls the API about `notification`; `at` is when the answer arrived.
pub async fn check(
    client: &TrainingClient,
    notification: &Notification,
    at: impl Fn() -> Timestamp,
) -> Outcome {
    let (project, iteration, operation) = match notification {
        Notification::Training {
            project_id,
            iteration_id,
            ..
        } => (*project_id, *iteration_id, Operation::GetIteration),
        Notification::Export {
            project_id,
            iteration_id,
            ..
        } => (*project_id, *iteration_id, Operation::GetExports),
        _ => return Outcome::NotApplicable,
    };
    poll(client, operation, project, iteration, at).await
}

/// Asks GetIteration (`operation` GetIteration) or GetExports (any other) about an iteration
/// and writes the answer as a recording line; `at` is when the answer arrived.
pub async fn poll(
    client: &TrainingClient,
    operation: Operation,
    project: ProjectId,
    iteration: IterationId,
    at: impl Fn() -> Timestamp,
) -> Outcome {
    let mut line = ApiLine::ok(Timestamp(0), operation, project);
    line.iteration_id = Some(iteration.to_string());
    let mut left_out = Vec::new();
    let answer = match operation {
        Operation::GetIteration => client
            .get_iteration(project, iteration)
            .await
            .map(|it| line.iteration_status = Some(it.status)),
        _ => client.get_exports(project, iteration).await.map(|exports| {
            let mut kept = Vec::new();
            for e in exports {
                if e.known_platform().is_some() && e.known_status().is_some() {
                    kept.push(ExportEntry {
                        platform: e.platform,
                        status: e.status,
                    });
                } else {
                    left_out.push(format!("{} {}", e.platform, e.status));
                }
            }
            line.exports = Some(kept);
        }),
    };
    line.at = At(at());
    match answer {
        Ok(()) => Outcome::Answered { line, left_out },
        Err(error) => {
            failed(&mut line, &error);
            match error {
                // A service error is an answer: it becomes an `api-rejected` input.
                TrainingError::Service { .. } => Outcome::Refused { line, error },
                _ => Outcome::Failed { line, error },
            }
        }
    }
}

/// Writes what a failed call got into its line: the status and the `CustomVisionError` code of
/// a refusal; the status and the gateway's numeric code, or the status alone, of an answer that
/// is not the service's; status 0 and what happened, when there was no usable answer.
pub fn failed(line: &mut ApiLine, error: &TrainingError) {
    let (status, code) = match error {
        TrainingError::Service { status, code, .. } => {
            (status.as_u16(), Some(code.as_str().to_string()))
        }
        TrainingError::Gateway { status, code, .. } => (status.as_u16(), Some(code.clone())),
        TrainingError::Status { status, .. } => (status.as_u16(), None),
        TrainingError::Transport { .. } => (0, Some("transport failure".to_string())),
        TrainingError::Body { .. } => (0, Some("unreadable answer".to_string())),
        TrainingError::Url(_) => (0, Some("unusable URL".to_string())),
    };
    line.http_status = status;
    line.error_code = code;
}
