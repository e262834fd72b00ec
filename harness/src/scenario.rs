//! Scenarios: what the simulation does on the other side of a client under test. A scenario
//! plays the service's customer (it creates projects with the queue and container, trains and
//! exports, unless the client has the `configure` duty and does that itself) and delivers the
//! notifications with chosen adversities: an encoding, misbehaviours and HTTP faults (the
//! `--faults` language), messages of its own (malformed, of an unknown type), slow downloads.
//! [`BUILT_IN`] holds the built-in ones; a scenario can also be a JSON file ([`Scenario::load`];
//! the format is in docs/verify.md).
//!
//! [`Customer`] is the customer's side as a plain state machine: each [`Customer::step`] looks
//! at where each project is and makes the next call.

use std::path::Path;
use std::time::Duration;

use cvnotify_core::{ExportPlatform, IterationId, ProjectId};
use serde::Deserialize;

use crate::sim::{Faults, MessageEncoding};
use crate::training::{EXPORTABLE_DOMAIN, upload_training_set};
use crate::training::{NewProject, StorageOptions, TrainOptions, TrainingClient, TrainingError};

/// How a scenario's notifications are encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncodingChoice {
    /// JSON text.
    #[default]
    Plain,
    /// Base64 of the JSON text.
    Base64,
    /// Plain and base64 in turn.
    Mixed,
}

impl From<EncodingChoice> for MessageEncoding {
    fn from(e: EncodingChoice) -> Self {
        match e {
            EncodingChoice::Plain => Self::Plain,
            EncodingChoice::Base64 => Self::Base64,
            EncodingChoice::Mixed => Self::Mixed,
        }
    }
}

/// A message of the scenario's own, delivered at a time.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delivery {
    /// Seconds after the scenario starts (0 to 600).
    pub after_seconds: f64,
    /// The message text.
    pub text: String,
    /// Whether it goes out base64-encoded.
    #[serde(default)]
    pub base64: bool,
}

/// One scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// Its name (a test suite's name in the report).
    pub name: String,
    /// What it tests.
    #[serde(default)]
    pub description: String,
    /// Projects the customer creates (0 to 20; ignored when the client has the `configure`
    /// duty).
    #[serde(default = "one")]
    pub projects: u32,
    /// The platforms each project is exported to.
    #[serde(default = "onnx")]
    pub platforms: Vec<String>,
    /// How the notifications are encoded.
    #[serde(default)]
    pub encoding: EncodingChoice,
    /// What the service gets wrong and which requests fail (`cvnotify check --faults`).
    #[serde(default)]
    pub faults: String,
    /// Messages of the scenario's own.
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
    /// How much longer each blob download takes, in milliseconds (0 to 600000).
    #[serde(default)]
    pub slow_download_ms: u64,
    /// How long the client is watched after its work is done, in seconds (0 to 60): what an
    /// idle client does (back off, or poll busily) is judged too.
    #[serde(default = "two")]
    pub quiet_seconds: f64,
    /// Trainings of each project (1 to 5): after the exports of one iteration, the customer
    /// trains again (a retrained model), and each iteration is exported.
    #[serde(default = "one")]
    pub iterations: u32,
    /// Whether the service's side runs first: every notification is waiting on the queue
    /// when the client starts.
    #[serde(default)]
    pub backlog: bool,
    /// When the client is killed and started again, in seconds after it started (at most 5
    /// times, each 0 to 600): a consumer restarted mid-stream.
    #[serde(default)]
    pub restart_after_seconds: Vec<f64>,
    /// The size of each backup blob, in bytes (1 to 268435456; 5 by default): a backup larger
    /// than the SDKs' single-GET size is downloaded in ranges.
    #[serde(default = "five")]
    pub backup_bytes: u64,
}

fn five() -> u64 {
    5
}

fn one() -> u32 {
    1
}
fn two() -> f64 {
    2.0
}
fn onnx() -> Vec<String> {
    vec!["ONNX".into()]
}

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// No built-in scenario has the name, and no file has it either.
    #[error("no scenario {0:?}: neither a built-in one ({known}) nor a file", known = built_in_names())]
    Unknown(String),
    /// The file could not be read.
    #[error("cannot read {path}: {1}", path = .0.display())]
    Read(std::path::PathBuf, std::io::Error),
    /// The file is not a scenario (the JSON path and why).
    #[error("{0}: {1}")]
    Invalid(String, String),
}

/// The built-in scenarios' names, for an error that names none of them.
fn built_in_names() -> String {
    BUILT_IN
        .iter()
        .map(|(n, ..)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The built-in scenarios: name, what they test, and their definition (the file format).
pub const BUILT_IN: &[(&str, &str, &str)] = &[
    (
        "happy",
        "one project's whole lifecycle, nothing wrong",
        r#"{"name":"happy"}"#,
    ),
    (
        "mixed-encoding",
        "two projects, their notifications plain and base64 in turn",
        r#"{"name":"mixed-encoding","projects":2,"encoding":"mixed"}"#,
    ),
    (
        "duplicates",
        "every notification delivered twice",
        r#"{"name":"duplicates","faults":"duplicate-delivery"}"#,
    ),
    (
        "reordered",
        "two projects, each notification put before the ones already waiting",
        r#"{"name":"reordered","projects":2,"faults":"reorder-notifications"}"#,
    ),
    (
        "training-failed",
        "the training fails (TrainingFailed): nothing to export",
        r#"{"name":"training-failed","faults":"training-fails"}"#,
    ),
    (
        "export-failed",
        "the export fails (ExportFailed): no backup to fetch",
        r#"{"name":"export-failed","faults":"export-fails"}"#,
    ),
    (
        "unrecognized-type",
        "a well-formed message of a type the documentation does not name",
        r#"{"name":"unrecognized-type","deliveries":[{"afterSeconds":0.5,"text":"{\"version\":\"1.0\",\"type\":\"Deployment\",\"Content\":{\"projectId\":\"0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b\"}}"}]}"#,
    ),
    (
        "malformed",
        "a message that is not a notification: left to be poisoned, or moved to <queue>-poison",
        r#"{"name":"malformed","deliveries":[{"afterSeconds":0.5,"text":"{\"version\":\"1.0\",\"type\":"}]}"#,
    ),
    (
        "throttled",
        "503 and 429 answers with Retry-After on the client's queue requests",
        r#"{"name":"throttled","faults":"queue#3-4=503,queue#9=429,queue#14=503"}"#,
    ),
    (
        "connection-reset",
        "the client's first connection is reset mid-request",
        r#"{"name":"connection-reset","faults":"conn#1=reset"}"#,
    ),
    (
        "api-error",
        "the client's first training API request fails with 500: did it take effect? (duty configure)",
        r#"{"name":"api-error","faults":"api#1=500"}"#,
    ),
    (
        "renamed-backup",
        "the backup blob's name is not the one the ids make: only modelUri names it",
        r#"{"name":"renamed-backup","faults":"wrong-blob-name"}"#,
    ),
    (
        "slow-download",
        "every backup download takes 3 seconds more",
        r#"{"name":"slow-download","slowDownloadMs":3000}"#,
    ),
    (
        "two-platforms",
        "one iteration exported to two platforms: two Export notifications, two backups",
        r#"{"name":"two-platforms","platforms":["ONNX","TensorFlow"]}"#,
    ),
    (
        "retrained",
        "one project trained twice, each iteration exported",
        r#"{"name":"retrained","iterations":2}"#,
    ),
    (
        "restarted",
        "the client is killed 2.5 s in and started again: what it held comes back",
        r#"{"name":"restarted","restartAfterSeconds":[2.5],"slowDownloadMs":2000}"#,
    ),
    (
        "large-backup",
        "a 40 MiB backup, larger than the SDKs download in one GET",
        r#"{"name":"large-backup","backupBytes":41943040}"#,
    ),
    (
        "backlog",
        "two projects' notifications already waiting when the client starts",
        r#"{"name":"backlog","projects":2,"backlog":true}"#,
    ),
];

impl Scenario {
    /// The built-in scenario `name`, or the scenario in the file `name`.
    pub fn load(name: &str) -> Result<Self, ScenarioError> {
        if let Some((_, _, text)) = BUILT_IN.iter().find(|(n, ..)| *n == name) {
            return Self::parse(text, name);
        }
        let path = Path::new(name);
        if !path.exists() {
            return Err(ScenarioError::Unknown(name.to_string()));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::Read(path.to_path_buf(), e))?;
        Self::parse(&text, name)
    }

    /// Every built-in scenario, in order.
    pub fn all() -> Result<Vec<Self>, ScenarioError> {
        BUILT_IN.iter().map(|(n, ..)| Self::load(n)).collect()
    }

    /// A scenario from its JSON text (`source` names it in errors); every value range-checked.
    pub fn parse(text: &str, source: &str) -> Result<Self, ScenarioError> {
        let s: Self = serde_json::from_str(text).map_err(|e| {
            ScenarioError::Invalid(
                format!("{source} (line {}, column {})", e.line(), e.column()),
                e.to_string(),
            )
        })?;
        let invalid = |field: &str, why: String| {
            Err(ScenarioError::Invalid(format!("{source}: {field}"), why))
        };
        if s.name.trim().is_empty() {
            return invalid("name", "is empty".into());
        }
        if s.projects > 20 {
            return invalid("projects", format!("{} is outside 0..=20", s.projects));
        }
        for p in &s.platforms {
            if ExportPlatform::from_name(p).is_none() {
                return invalid("platforms", format!("unknown platform {p:?}"));
            }
        }
        if let Err(e) = Faults::parse(&s.faults) {
            return invalid("faults", e.to_string());
        }
        for (k, d) in s.deliveries.iter().enumerate() {
            if !(d.after_seconds.is_finite() && (0.0..=600.0).contains(&d.after_seconds)) {
                return invalid(
                    &format!("deliveries[{k}].afterSeconds"),
                    format!("{} is outside 0..=600", d.after_seconds),
                );
            }
            if d.text.len() > 48 * 1024 {
                return invalid(
                    &format!("deliveries[{k}].text"),
                    "is longer than a queue message may be (48 KiB before encoding)".into(),
                );
            }
        }
        if s.slow_download_ms > 600_000 {
            return invalid(
                "slowDownloadMs",
                format!("{} is outside 0..=600000", s.slow_download_ms),
            );
        }
        if !(s.quiet_seconds.is_finite() && (0.0..=60.0).contains(&s.quiet_seconds)) {
            return invalid(
                "quietSeconds",
                format!("{} is outside 0..=60", s.quiet_seconds),
            );
        }
        if !(1..=5).contains(&s.iterations) {
            return invalid("iterations", format!("{} is outside 1..=5", s.iterations));
        }
        if s.restart_after_seconds.len() > 5 {
            return invalid(
                "restartAfterSeconds",
                format!("{} restarts; at most 5", s.restart_after_seconds.len()),
            );
        }
        for (k, at) in s.restart_after_seconds.iter().enumerate() {
            if !(at.is_finite() && (0.0..=600.0).contains(at)) {
                return invalid(
                    &format!("restartAfterSeconds[{k}]"),
                    format!("{at} is outside 0..=600"),
                );
            }
        }
        if !(1..=MAX_BACKUP_BYTES).contains(&s.backup_bytes) {
            return invalid(
                "backupBytes",
                format!("{} is outside 1..={MAX_BACKUP_BYTES}", s.backup_bytes),
            );
        }
        Ok(s)
    }

    /// How long the scenario may take before a client that has not done its work is stopped:
    /// a minute for the work itself, plus room for what the scenario injects, as the official
    /// SDKs' default retry policies answer it (the Python storage SDK waits 15 s, then 18 s,
    /// then 24 s, each give or take 3 s, before its retries; a message held by a killed client
    /// comes back after the 30 s default visibility timeout): 30 s for every failed request
    /// and reset connection, 40 s for every restart, and the latest own delivery or restart.
    pub fn deadline(&self) -> Duration {
        let faults = self.faults();
        let failures = faults.http.len() + faults.resets.len();
        let latest = self
            .deliveries
            .iter()
            .map(|d| d.after_seconds)
            .chain(self.restart_after_seconds.iter().copied())
            .fold(0.0_f64, f64::max);
        let slow = self.slow_download_ms as f64 / 1000.0
            * f64::from(self.projects.max(1))
            * self.platforms.len().max(1) as f64
            * f64::from(self.iterations);
        let large = (self.backup_bytes / (8 << 20)) as f64;
        Duration::from_secs_f64(
            60.0 + 30.0 * failures as f64
                + 40.0 * self.restart_after_seconds.len() as f64
                + latest
                + slow
                + large
                + 5.0 * f64::from(self.iterations - 1),
        )
    }

    /// When the client is restarted, sorted.
    pub fn restarts(&self) -> std::iter::Peekable<std::vec::IntoIter<Duration>> {
        let mut at: Vec<Duration> = self
            .restart_after_seconds
            .iter()
            .map(|s| Duration::from_secs_f64(*s))
            .collect();
        at.sort();
        at.into_iter().peekable()
    }

    /// Its faults.
    pub fn faults(&self) -> Faults {
        Faults::parse(&self.faults).unwrap_or_default()
    }

    /// Its platforms.
    pub fn platforms(&self) -> Vec<ExportPlatform> {
        self.platforms
            .iter()
            .filter_map(|p| ExportPlatform::from_name(p))
            .collect()
    }

    /// Its own messages, sorted by time.
    pub fn deliveries(&self) -> Vec<(Duration, Delivery)> {
        let mut d: Vec<(Duration, Delivery)> = self
            .deliveries
            .iter()
            .map(|d| (Duration::from_secs_f64(d.after_seconds), d.clone()))
            .collect();
        d.sort_by_key(|(at, _)| *at);
        d
    }
}

/// The most a backup blob of a scenario may hold.
pub const MAX_BACKUP_BYTES: u64 = 256 << 20;

/// Where one of the customer's projects is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Stage {
    Training(IterationId),
    Exporting(IterationId),
    Done,
}

/// The service's customer, played by a scenario: creates the projects, trains, exports (and
/// trains again, for a scenario of several iterations), through the simulation's own door to
/// the training API.
#[derive(Debug)]
pub struct Customer {
    api: TrainingClient,
    platforms: Vec<ExportPlatform>,
    /// Each project, where it is, and how many trainings it has started.
    projects: Vec<(ProjectId, Stage, u32)>,
    iterations: u32,
}

impl Customer {
    /// Creates the scenario's projects with the queue and container, gives each its training
    /// set and starts its training.
    pub async fn start(
        api: TrainingClient,
        scenario: &Scenario,
        queue_uri: &str,
        container_uri: &str,
    ) -> Result<Self, TrainingError> {
        let mut projects = Vec::new();
        for n in 0..scenario.projects {
            let project = api
                .create_project(&NewProject {
                    name: format!("cvnotify-scenario-{n}"),
                    domain_id: Some(EXPORTABLE_DOMAIN),
                    storage: StorageOptions {
                        export_model_container_uri: Some(container_uri.to_string()),
                        notification_queue_uri: Some(queue_uri.to_string()),
                    },
                    ..NewProject::default()
                })
                .await?;
            upload_training_set(&api, project.id).await?;
            let iteration = api
                .train_project(project.id, &TrainOptions::default())
                .await?;
            projects.push((project.id, Stage::Training(iteration.id), 1));
        }
        Ok(Self {
            api,
            platforms: scenario.platforms(),
            projects,
            iterations: scenario.iterations,
        })
    }

    /// Makes the next call of each project whose state moved on.
    pub async fn step(&mut self) -> Result<(), TrainingError> {
        for k in 0..self.projects.len() {
            let Some((p, stage, trained)) = self.projects.get(k).cloned() else {
                continue;
            };
            let next = match stage {
                Stage::Training(i) => {
                    let it = self.api.get_iteration(p, i).await?;
                    match it.status.as_str() {
                        "Completed" => {
                            for platform in &self.platforms {
                                self.api.export_iteration(p, i, *platform, None).await?;
                            }
                            Stage::Exporting(i)
                        }
                        "Failed" => Stage::Done,
                        _ => continue,
                    }
                }
                Stage::Exporting(i) => {
                    let exports = self.api.get_exports(p, i).await?;
                    if exports.iter().any(|e| e.status == "Exporting") {
                        continue;
                    }
                    if trained < self.iterations {
                        let force = TrainOptions {
                            force: true,
                            ..TrainOptions::default()
                        };
                        let again = self.api.train_project(p, &force).await?;
                        if let Some(slot) = self.projects.get_mut(k) {
                            slot.2 += 1;
                        }
                        Stage::Training(again.id)
                    } else {
                        Stage::Done
                    }
                }
                Stage::Done => continue,
            };
            if let Some(slot) = self.projects.get_mut(k) {
                slot.1 = next;
            }
        }
        Ok(())
    }

    /// Whether every project's lifecycle has run to its end.
    pub fn done(&self) -> bool {
        self.projects.iter().all(|(_, s, _)| *s == Stage::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_reads_and_bad_files_say_where() {
        assert_eq!(Scenario::all().unwrap().len(), BUILT_IN.len());
        for (text, field) in [
            (r#"{"name":"x","projects":21}"#, "projects"),
            (r#"{"name":"x","platforms":["Nope"]}"#, "platforms"),
            (r#"{"name":"x","faults":"api#0=503"}"#, "faults"),
            (
                r#"{"name":"x","deliveries":[{"afterSeconds":-1,"text":"t"}]}"#,
                "deliveries[0].afterSeconds",
            ),
            (r#"{"name":"x","quietSeconds":1e9}"#, "quietSeconds"),
            (r#"{"name":"x","slowDownloadMs":700000}"#, "slowDownloadMs"),
            (r#"{"name":""}"#, "name"),
        ] {
            let e = Scenario::parse(text, "f.json").unwrap_err().to_string();
            assert!(e.contains(field), "{text}: {e}");
        }
        let e = Scenario::parse(r#"{"name":"x","projectz":1}"#, "f.json").unwrap_err();
        assert!(e.to_string().contains("projectz"), "{e}");
        assert!(
            Scenario::load("no-such-scenario")
                .unwrap_err()
                .to_string()
                .contains("happy")
        );
    }
}
