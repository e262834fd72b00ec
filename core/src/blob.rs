//! Blob names the service writes into the backup container (seed, "Get model export backups" and
//! "Verify the connection"): [`BackupBlobName`] `{projectId} - {iterationId}.{platformType}`, in
//! plain and percent-encoded (URI path) form, and the `CustomVision-TestPermission/` folder of the
//! temporary connection-test blob.

use core::fmt;

use crate::id::{GuidError, IterationId, ProjectId};
use crate::path::Snippet;

/// The "folder" (name prefix) of the temporary blob written when storage is configured.
pub const TEST_PERMISSION_PREFIX: &str = "CustomVision-TestPermission/";

/// The separator between the two ids: a space, a hyphen, a space (as documented).
pub const ID_SEPARATOR: &str = " - ";

/// Longest platform type accepted in a blob name.
pub const MAX_PLATFORM_LEN: usize = 32;

/// Export platforms (docs/protocol.md §1.3: v3.3 enum, plus `OpenVino` from 3.4-preview).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExportPlatform {
    /// `CoreML`.
    CoreMl,
    /// `TensorFlow`.
    TensorFlow,
    /// `DockerFile`.
    DockerFile,
    /// `ONNX`.
    Onnx,
    /// `VAIDK`.
    Vaidk,
    /// `OpenVino` (3.4-preview).
    OpenVino,
}

impl ExportPlatform {
    /// Every platform, in the spec's order.
    pub const ALL: [Self; 6] = [
        Self::CoreMl,
        Self::TensorFlow,
        Self::DockerFile,
        Self::Onnx,
        Self::Vaidk,
        Self::OpenVino,
    ];

    /// The name as the API writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CoreMl => "CoreML",
            Self::TensorFlow => "TensorFlow",
            Self::DockerFile => "DockerFile",
            Self::Onnx => "ONNX",
            Self::Vaidk => "VAIDK",
            Self::OpenVino => "OpenVino",
        }
    }

    /// The platform with exactly this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for ExportPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `{platformType}` part of a backup blob name. The seed does not say whether it is the
/// platform's API name or a file extension (docs/protocol.md §1.5), so a name outside the list is kept
/// as written rather than refused.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlatformType {
    /// One of the API's platform names, spelled exactly.
    Known(ExportPlatform),
    /// Any other run of ASCII letters and digits (`onnx`, `zip`, a future platform).
    Unlisted(alloc::boxed::Box<str>),
}

impl PlatformType {
    /// The text as it appears in the blob name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(p) => p.as_str(),
            Self::Unlisted(s) => s,
        }
    }
}

impl fmt::Display for PlatformType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a blob name is not a backup blob name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlobNameError {
    /// The project id part is not a canonical GUID.
    ProjectId(GuidError),
    /// No `" - "` right after the 36-character project id.
    MissingSeparator {
        /// Byte index where `" - "` was expected.
        index: usize,
    },
    /// The iteration id part is not a canonical GUID.
    IterationId(GuidError),
    /// No `.` right after the 36-character iteration id.
    MissingDot {
        /// Byte index where `.` was expected.
        index: usize,
    },
    /// Nothing after the dot.
    EmptyPlatform,
    /// The platform type is longer than [`MAX_PLATFORM_LEN`].
    PlatformTooLong,
    /// A character in the platform type that is not an ASCII letter or digit.
    PlatformCharacter {
        /// Byte index in the name.
        index: usize,
    },
    /// A percent-encoded name that is not valid percent-encoding or not UTF-8 once decoded.
    Encoding,
}

impl fmt::Display for BlobNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ProjectId(e) => write!(f, "project id: {e}"),
            Self::MissingSeparator { index } => {
                write!(f, "expected \" - \" at byte {index} after the project id")
            }
            Self::IterationId(e) => write!(f, "iteration id: {e}"),
            Self::MissingDot { index } => {
                write!(f, "expected '.' at byte {index} after the iteration id")
            }
            Self::EmptyPlatform => f.write_str("empty platform type after '.'"),
            Self::PlatformTooLong => {
                write!(f, "platform type longer than {MAX_PLATFORM_LEN} characters")
            }
            Self::PlatformCharacter { index } => {
                write!(
                    f,
                    "platform type has a character other than A-Z, a-z, 0-9 at byte {index}"
                )
            }
            Self::Encoding => f.write_str("not valid percent-encoded UTF-8"),
        }
    }
}

/// `{projectId} - {iterationId}.{platformType}`, the name of an export backup blob.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupBlobName {
    project_id: ProjectId,
    iteration_id: IterationId,
    platform: PlatformType,
}

const GUID_LEN: usize = 36;

impl BackupBlobName {
    /// Assembles a name from its parts.
    pub const fn new(
        project_id: ProjectId,
        iteration_id: IterationId,
        platform: PlatformType,
    ) -> Self {
        Self {
            project_id,
            iteration_id,
            platform,
        }
    }

    /// Parses the plain (not percent-encoded) blob name.
    pub fn parse(name: &str) -> Result<Self, BlobNameError> {
        let (project, rest) = split_at_checked(name, GUID_LEN).ok_or(BlobNameError::ProjectId(
            GuidError::WrongLength {
                len: name.len().min(GUID_LEN),
            },
        ))?;
        let project_id = ProjectId::parse(project).map_err(BlobNameError::ProjectId)?;
        let rest = rest
            .strip_prefix(ID_SEPARATOR)
            .ok_or(BlobNameError::MissingSeparator { index: GUID_LEN })?;
        let iteration_start = GUID_LEN + ID_SEPARATOR.len();
        let (iteration, rest) = split_at_checked(rest, GUID_LEN).ok_or(
            BlobNameError::IterationId(GuidError::WrongLength {
                len: rest.len().min(GUID_LEN),
            }),
        )?;
        let iteration_id = IterationId::parse(iteration).map_err(BlobNameError::IterationId)?;
        let dot = iteration_start + GUID_LEN;
        let platform = rest
            .strip_prefix('.')
            .ok_or(BlobNameError::MissingDot { index: dot })?;
        if platform.is_empty() {
            return Err(BlobNameError::EmptyPlatform);
        }
        if let Some(i) = platform.bytes().position(|b| !b.is_ascii_alphanumeric()) {
            return Err(BlobNameError::PlatformCharacter { index: dot + 1 + i });
        }
        if platform.len() > MAX_PLATFORM_LEN {
            return Err(BlobNameError::PlatformTooLong);
        }
        let platform = ExportPlatform::from_name(platform).map_or_else(
            || PlatformType::Unlisted(platform.into()),
            PlatformType::Known,
        );
        Ok(Self {
            project_id,
            iteration_id,
            platform,
        })
    }

    /// Parses the percent-encoded form found in a URI path segment
    /// (`...%20-%20...`).
    pub fn parse_uri_segment(segment: &str) -> Result<Self, BlobNameError> {
        let estr = fluent_uri::pct_enc::EStr::<fluent_uri::pct_enc::encoder::Path>::new(segment)
            .ok_or(BlobNameError::Encoding)?;
        let decoded = estr
            .decode()
            .to_string()
            .map_err(|_| BlobNameError::Encoding)?;
        Self::parse(&decoded)
    }

    /// The project id.
    pub const fn project_id(&self) -> ProjectId {
        self.project_id
    }

    /// The iteration id.
    pub const fn iteration_id(&self) -> IterationId {
        self.iteration_id
    }

    /// The platform type.
    pub const fn platform(&self) -> &PlatformType {
        &self.platform
    }

    /// The percent-encoded form used in a URI path segment (spaces as `%20`).
    pub fn uri_segment(&self) -> UriSegment<'_> {
        UriSegment(self)
    }
}

/// `&str::split_at_checked` that also refuses to split inside a character.
fn split_at_checked(s: &str, mid: usize) -> Option<(&str, &str)> {
    s.split_at_checked(mid)
}

/// The name with lower-case GUIDs, as the service writes it.
impl fmt::Display for BackupBlobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{ID_SEPARATOR}{}.{}",
            self.project_id, self.iteration_id, self.platform
        )
    }
}

/// `Display` of a name in URI path form: `{projectId}%20-%20{iterationId}.{platformType}`.
#[derive(Clone, Copy, Debug)]
pub struct UriSegment<'a>(&'a BackupBlobName);

impl fmt::Display for UriSegment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // GUIDs and platform types are unreserved characters; only the two spaces need encoding.
        write!(
            f,
            "{}%20-%20{}.{}",
            self.0.project_id, self.0.iteration_id, self.0.platform
        )
    }
}

/// What a blob in the backup container is, by its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobKind<'a> {
    /// An export backup.
    Backup(BackupBlobName),
    /// The temporary connection-test blob; `rest` is the name after the folder.
    TestPermission {
        /// The name after [`TEST_PERMISSION_PREFIX`] (not documented; any text).
        rest: &'a str,
    },
    /// Anything else, with the reason it is not a backup name.
    Other(BlobNameError),
}

/// Classifies a blob name found in the container.
pub fn classify_blob(name: &str) -> BlobKind<'_> {
    if let Some(rest) = name.strip_prefix(TEST_PERMISSION_PREFIX) {
        return BlobKind::TestPermission { rest };
    }
    match BackupBlobName::parse(name) {
        Ok(b) => BlobKind::Backup(b),
        Err(e) => BlobKind::Other(e),
    }
}

/// A blob name quoted safely for messages.
pub fn quote_blob_name(name: &str) -> Snippet {
    Snippet::new(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
    const I: &str = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";

    #[test]
    fn round_trips_plain_and_uri_forms() {
        for platform in ExportPlatform::ALL {
            let text = format!("{P} - {I}.{platform}");
            let name = BackupBlobName::parse(&text).unwrap();
            assert_eq!(name.platform(), &PlatformType::Known(platform));
            assert_eq!(format!("{name}"), text);
            let seg = format!("{}", name.uri_segment());
            assert_eq!(seg, format!("{P}%20-%20{I}.{platform}"));
            assert_eq!(BackupBlobName::parse_uri_segment(&seg).unwrap(), name);
        }
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(
            BackupBlobName::parse(&format!("{P}-{I}.ONNX")),
            Err(BlobNameError::MissingSeparator { index: 36 })
        );
        assert_eq!(
            BackupBlobName::parse(&format!("{P} - {I}ONNX")),
            Err(BlobNameError::MissingDot { index: 75 })
        );
        assert_eq!(
            BackupBlobName::parse(&format!("{P} - {I}.")),
            Err(BlobNameError::EmptyPlatform)
        );
        assert_eq!(
            BackupBlobName::parse(&format!("{P} - {I}.tar.gz")),
            Err(BlobNameError::PlatformCharacter { index: 79 })
        );
        assert!(matches!(
            BackupBlobName::parse(&format!("{{{P}}} - {I}.ONNX")),
            Err(BlobNameError::ProjectId(_))
        ));
        assert_eq!(
            BackupBlobName::parse(&format!("{P} - {I}.onnx"))
                .unwrap()
                .platform(),
            &PlatformType::Unlisted("onnx".into())
        );
        assert_eq!(
            BackupBlobName::parse_uri_segment("%zz"),
            Err(BlobNameError::Encoding)
        );
        assert_eq!(
            BackupBlobName::parse("é"),
            Err(BlobNameError::ProjectId(GuidError::WrongLength { len: 2 }))
        );
    }

    #[test]
    fn classifies_container_blobs() {
        assert_eq!(
            classify_blob("CustomVision-TestPermission/abc"),
            BlobKind::TestPermission { rest: "abc" }
        );
        assert!(matches!(
            classify_blob(&format!("{P} - {I}.CoreML")),
            BlobKind::Backup(_)
        ));
        assert!(matches!(classify_blob("readme.txt"), BlobKind::Other(_)));
    }
}
