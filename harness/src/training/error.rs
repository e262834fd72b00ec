//! What a failed training API call says: the service's `CustomVisionError` code (an enum that
//! keeps codes this build does not know), the API gateway's own 401 form, or no answer at all.

use std::fmt;

use reqwest::StatusCode;

macro_rules! error_codes {
    ($($name:ident),* $(,)?) => {
        /// `CustomVisionErrorCodes` (docs/protocol.md §1.4: the v3.3 spec's enum in its order, then the
        /// 3.4-preview SDK additions). A code not in the list is kept as [`ErrorCode::Unrecognized`].
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )*
            /// A code this build does not know, as the service wrote it.
            Unrecognized(Box<str>),
        }

        impl ErrorCode {
            /// Every known code, in the spec's order.
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            /// The code for the service's text.
            pub fn from_wire(text: &str) -> Self {
                match text {
                    $(stringify!($name) => Self::$name,)*
                    other => Self::Unrecognized(other.into()),
                }
            }

            /// The code as the service writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$name => stringify!($name),)*
                    Self::Unrecognized(text) => text,
                }
            }
        }
    };
}

error_codes! {
    NoError, BadRequest, BadRequestExceededBatchSize, BadRequestNotSupported, BadRequestInvalidIds,
    BadRequestProjectName, BadRequestProjectNameNotUnique, BadRequestProjectDescription,
    BadRequestProjectUnknownDomain, BadRequestProjectUnknownClassification,
    BadRequestProjectUnsupportedDomainTypeChange, BadRequestProjectUnsupportedExportPlatform,
    BadRequestProjectImagePreprocessingSettings, BadRequestProjectDuplicated, BadRequestIterationName,
    BadRequestIterationNameNotUnique, BadRequestIterationDescription, BadRequestIterationIsNotTrained,
    BadRequestIterationValidationFailed, BadRequestWorkspaceCannotBeModified,
    BadRequestWorkspaceNotDeletable, BadRequestTagName, BadRequestTagNameNotUnique,
    BadRequestTagDescription, BadRequestTagType, BadRequestMultipleNegativeTag,
    BadRequestMultipleGeneralProductTag, BadRequestImageTags, BadRequestImageRegions,
    BadRequestNegativeAndRegularTagOnSameImage, BadRequestUnsupportedDomain,
    BadRequestRequiredParamIsNull, BadRequestIterationIsPublished, BadRequestInvalidPublishName,
    BadRequestInvalidPublishTarget, BadRequestUnpublishFailed, BadRequestIterationNotPublished,
    BadRequestSubscriptionApi, BadRequestExceedProjectLimit, BadRequestExceedIterationPerProjectLimit,
    BadRequestExceedTagPerProjectLimit, BadRequestExceedTagPerImageLimit, BadRequestExceededQuota,
    BadRequestCannotMigrateProjectWithName, BadRequestNotLimitedTrial, BadRequestImageBatch,
    BadRequestImageStream, BadRequestImageUrl, BadRequestImageFormat, BadRequestImageSizeBytes,
    BadRequestImageDimensions, BadRequestImageExceededCount, BadRequestTrainingNotNeeded,
    BadRequestTrainingNotNeededButTrainingPipelineUpdated, BadRequestTrainingValidationFailed,
    BadRequestClassificationTrainingValidationFailed,
    BadRequestMultiClassClassificationTrainingValidationFailed,
    BadRequestMultiLabelClassificationTrainingValidationFailed,
    BadRequestDetectionTrainingValidationFailed, BadRequestTrainingAlreadyInProgress,
    BadRequestDetectionTrainingNotAllowNegativeTag, BadRequestInvalidEmailAddress,
    BadRequestDomainNotSupportedForAdvancedTraining,
    BadRequestExportPlatformNotSupportedForAdvancedTraining,
    BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining, BadRequestExportValidationFailed,
    BadRequestExportAlreadyInProgress, BadRequestPredictionIdsMissing,
    BadRequestPredictionIdsExceededCount, BadRequestPredictionTagsExceededCount,
    BadRequestPredictionResultsExceededCount, BadRequestPredictionInvalidApplicationName,
    BadRequestPredictionInvalidQueryParameters, BadRequestInvalidImportToken,
    BadRequestExportWhileTraining, BadRequestImageMetadataKey, BadRequestImageMetadataValue,
    BadRequestOperationNotSupported, BadRequestInvalidArtifactUri, BadRequestCustomerManagedKeyRevoked,
    BadRequestInvalid, UnsupportedMediaType, Forbidden, ForbiddenUser, ForbiddenUserResource,
    ForbiddenUserSignupDisabled, ForbiddenUserSignupAllowanceExceeded, ForbiddenUserDoesNotExist,
    ForbiddenUserDisabled, ForbiddenUserInsufficientCapability, ForbiddenDRModeEnabled,
    ForbiddenInvalid, NotFound, NotFoundProject, NotFoundProjectDefaultIteration, NotFoundIteration,
    NotFoundIterationPerformance, NotFoundTag, NotFoundImage, NotFoundDomain,
    NotFoundApimSubscription, NotFoundInvalid, Conflict, ConflictInvalid, ErrorUnknown,
    ErrorIterationCopyFailed, ErrorPreparePerformanceMigrationFailed, ErrorProjectInvalidWorkspace,
    ErrorProjectInvalidPipelineConfiguration, ErrorProjectInvalidDomain,
    ErrorProjectTrainingRequestFailed, ErrorProjectImportRequestFailed,
    ErrorProjectExportRequestFailed, ErrorFeaturizationServiceUnavailable,
    ErrorFeaturizationQueueTimeout, ErrorFeaturizationInvalidFeaturizer,
    ErrorFeaturizationAugmentationUnavailable, ErrorFeaturizationUnrecognizedJob,
    ErrorFeaturizationAugmentationError, ErrorExporterInvalidPlatform,
    ErrorExporterInvalidFeaturizer, ErrorExporterInvalidClassifier,
    ErrorPredictionServiceUnavailable, ErrorPredictionModelNotFound, ErrorPredictionModelNotCached,
    ErrorPrediction, ErrorPredictionStorage, ErrorRegionProposal, ErrorUnknownBaseModel,
    ErrorInvalid,
    // 3.4-preview SDK additions (enums.py@b0f9df7b).
    BadRequestImageAspectRatio, BadRequestRetiredDomainNotSupportedForTraining,
    BadRequestCustomBaseModelIterationStatusNotCompleted,
    BadRequestCustomBaseModelDomainNotCompatible, BadRequestCustomBaseModelArchitectureRetired,
    BadRequestInvalidUri, ErrorServerTimeOut,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&cvnotify_core::redact::redact(self.as_str()))
    }
}

/// A failed training API call.
#[derive(Debug)]
pub enum TrainingError {
    /// The service answered with a `CustomVisionError` body.
    Service {
        /// The call, e.g. `TrainProject`.
        operation: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// The error code.
        code: ErrorCode,
        /// The message, first line, secrets redacted.
        message: String,
    },
    /// The API gateway refused the call before the service saw it (bad `Training-Key` or
    /// wrong endpoint: `{"error":{"code":"401",...}}`).
    Gateway {
        /// The call.
        operation: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// The gateway's code (`"401"`).
        code: String,
        /// The message, first line, secrets redacted.
        message: String,
    },
    /// An error status with a body that is neither form.
    Status {
        /// The call.
        operation: &'static str,
        /// The HTTP status.
        status: StatusCode,
    },
    /// No answer: connection refused or reset, timeout, TLS.
    Transport {
        /// The call.
        operation: &'static str,
        /// What went wrong, without the URL.
        detail: String,
    },
    /// A success status with a body that is not the documented JSON.
    Body {
        /// The call.
        operation: &'static str,
        /// serde_json's description, with line and column.
        detail: String,
    },
    /// The endpoint URL is not usable.
    Url(String),
}

impl TrainingError {
    /// The service's error code, when it gave one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, when the call got an answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Service { status, .. }
            | Self::Gateway { status, .. }
            | Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for TrainingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service {
                operation,
                status,
                code,
                message,
            } => write!(
                f,
                "{operation}: Custom Vision answered {status} {code}: {message}"
            ),
            Self::Gateway {
                operation,
                status,
                code,
                message,
            } => write!(
                f,
                "{operation}: the API gateway refused the call ({status}, code {code}): {message}"
            ),
            Self::Status { operation, status } => {
                write!(f, "{operation}: answered {status} without an error body")
            }
            Self::Transport { operation, detail } => {
                write!(f, "{operation}: Custom Vision unreachable: {detail}")
            }
            Self::Body { operation, detail } => {
                write!(
                    f,
                    "{operation}: the answer is not the documented JSON: {detail}"
                )
            }
            Self::Url(why) => write!(f, "training endpoint URL: {why}"),
        }
    }
}

impl std::error::Error for TrainingError {}

/// The error of an answer with an error status: a `CustomVisionError`, the gateway's form, or
/// neither.
pub(crate) fn from_answer(
    operation: &'static str,
    status: StatusCode,
    body: &str,
) -> TrainingError {
    #[derive(serde::Deserialize)]
    struct ServiceBody {
        code: String,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct GatewayBody {
        error: GatewayInner,
    }
    #[derive(serde::Deserialize)]
    struct GatewayInner {
        code: serde_json::Value,
        #[serde(default)]
        message: String,
    }
    let first_line =
        |m: &str| cvnotify_core::redact::redact(m.lines().next().unwrap_or_default()).into();
    if let Ok(b) = serde_json::from_str::<ServiceBody>(body) {
        return TrainingError::Service {
            operation,
            status,
            code: ErrorCode::from_wire(&b.code),
            message: first_line(&b.message),
        };
    }
    if let Ok(b) = serde_json::from_str::<GatewayBody>(body) {
        let code = match b.error.code {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        return TrainingError::Gateway {
            operation,
            status,
            code: cvnotify_core::redact::redact(&code).into(),
            message: first_line(&b.error.message),
        };
    }
    TrainingError::Status { operation, status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips_and_unknown_codes_are_kept() {
        assert_eq!(ErrorCode::KNOWN.len(), 130 + 7);
        for code in ErrorCode::KNOWN {
            assert_eq!(&ErrorCode::from_wire(code.as_str()), code);
        }
        let new = ErrorCode::from_wire("BadRequestSomethingNew");
        assert_eq!(
            new,
            ErrorCode::Unrecognized("BadRequestSomethingNew".into())
        );
        assert_eq!(new.as_str(), "BadRequestSomethingNew");
        // Codes are case-sensitive on the wire: a differently cased one is not confused.
        assert!(matches!(
            ErrorCode::from_wire("notfoundproject"),
            ErrorCode::Unrecognized(_)
        ));
    }

    #[test]
    fn error_bodies_are_told_apart() {
        let s = StatusCode::NOT_FOUND;
        let e = from_answer(
            "GetProject",
            s,
            r#"{"code":"NotFoundProject","message":"Not found\nmore"}"#,
        );
        assert_eq!(e.code(), Some(&ErrorCode::NotFoundProject));
        assert_eq!(
            e.to_string(),
            "GetProject: Custom Vision answered 404 Not Found NotFoundProject: Not found"
        );
        let g = from_answer(
            "GetProject",
            StatusCode::UNAUTHORIZED,
            r#"{"error":{"code":"401","message":"Access denied due to invalid subscription key"}}"#,
        );
        assert!(matches!(&g, TrainingError::Gateway { code, .. } if code == "401"));
        assert_eq!(g.code(), None);
        let n = from_answer("GetProject", StatusCode::BAD_GATEWAY, "<html>oops</html>");
        assert!(matches!(n, TrainingError::Status { .. }));
        assert_eq!(n.status(), Some(StatusCode::BAD_GATEWAY));
    }

    #[test]
    fn a_sas_echoed_by_the_service_is_redacted() {
        let e = from_answer(
            "CreateProject",
            StatusCode::BAD_REQUEST,
            r#"{"code":"BadRequestInvalidUri","message":"bad uri https://a.queue.core.windows.net/q?sv=1&sig=CANARY"}"#,
        );
        assert!(!e.to_string().contains("CANARY"), "{e}");
        assert!(!format!("{e:?}").contains("CANARY"));
    }
}
