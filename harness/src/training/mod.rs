//! The Custom Vision training API (docs/protocol.md §1.1-1.4): the calls that configure the storage
//! integration and trigger the notifications it sends (create, update and get a project; train;
//! get iterations; export; get exports), and what training needs first (tags, images) and
//! what tidies up after (delete a project), with the smallest training set (`set`). The `Training-Key` never appears in `Debug`, `Display`
//! or errors, and neither does a SAS in the storage URIs the calls carry.

mod client;
mod error;
mod model;
mod set;

pub use client::{OptionsForm, TrainingClient, TrainingKey};
pub use error::{ErrorCode, TrainingError};
pub use model::{
    Export, ImageCreateResult, ImageCreateSummary, ImageFile, Iteration, NewProject, Project,
    ProjectSettings, StorageOptions, Tag, TrainOptions,
};
pub use set::{EXPORTABLE_DOMAIN, IMAGES_PER_TAG, TAGS, sample_image, upload_training_set};
