//! The training API's state: projects with their tags, images, iterations and exports, and how
//! long the service takes to do what it promised.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use cvnotify_core::{IterationId, ProjectId};

/// An iteration's state in the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IterationState {
    Training,
    Completed,
    Failed,
}

/// One export of an iteration: its status (`Exporting`, `Done`, `Failed`) and flavor.
#[derive(Debug, Clone)]
pub(crate) struct ExportState {
    pub(crate) status: &'static str,
    pub(crate) flavor: Option<String>,
}

#[derive(Debug)]
pub(crate) struct SimIteration {
    pub(crate) id: IterationId,
    pub(crate) name: String,
    pub(crate) state: IterationState,
    pub(crate) created: SystemTime,
    pub(crate) last_modified: SystemTime,
    pub(crate) trained_at: Option<SystemTime>,
    pub(crate) domain_id: String,
    pub(crate) classification_type: Option<String>,
    pub(crate) training_type: String,
    pub(crate) reserved_budget_in_hours: i64,
    pub(crate) publish_name: Option<String>,
    pub(crate) prediction_resource_id: Option<String>,
    /// Platform name -> export.
    pub(crate) exports: BTreeMap<&'static str, ExportState>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimTag {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) kind: String,
}

#[derive(Debug, Clone)]
pub(crate) struct SimImage {
    pub(crate) id: String,
    pub(crate) created: SystemTime,
    pub(crate) tags: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct SimProject {
    pub(crate) id: ProjectId,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) domain_id: String,
    pub(crate) classification_type: Option<String>,
    pub(crate) target_export_platforms: Vec<String>,
    pub(crate) queue_uri: Option<String>,
    pub(crate) container_uri: Option<String>,
    pub(crate) created: SystemTime,
    pub(crate) last_modified: SystemTime,
    pub(crate) tags: Vec<SimTag>,
    pub(crate) images: Vec<SimImage>,
    pub(crate) iterations: Vec<SimIteration>,
    /// Whether images or tags changed since the last training.
    pub(crate) changed: bool,
}

/// How long the simulated service takes.
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    /// From configuration to the ConnectionTest message and test blob.
    pub connection_test: Duration,
    /// How long the test blob stays.
    pub test_blob_lifetime: Duration,
    /// From TrainProject to the Training notification.
    pub training: Duration,
    /// From ExportIteration to the backup blob and Export notification.
    pub export: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            connection_test: Duration::from_secs(2),
            test_blob_lifetime: Duration::from_secs(10),
            training: Duration::from_secs(60),
            export: Duration::from_secs(20),
        }
    }
}
