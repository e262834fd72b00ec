//! Deviations: what a message did that the documentation does not describe, but that a tolerant
//! consumer can still read without guessing. Each has a stable code, the path and byte offset it
//! was found at; strict mode turns any of them into a rejection.

use core::fmt;

use crate::path::{FieldPath, Snippet};

/// What kind of departure from the documented shape (seed, "Verify the connection" and after).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviationKind {
    /// `version` is `"1.x"` but not the documented `"1.0"`.
    VersionMinor {
        /// The version written.
        version: Snippet,
    },
    /// A documented key written in another letter case (`content`, `ProjectId`).
    KeyCase {
        /// The documented spelling.
        documented: &'static str,
    },
    /// A key the documentation does not have.
    UnknownKey,
    /// A documented key that belongs to another message type (`exportStatus` in a `Training`).
    KeyNotForType {
        /// The message type it was found in.
        kind: &'static str,
    },
    /// `type` names a documented type in another letter case (`"training"`).
    TypeCase {
        /// The value written.
        written: Snippet,
        /// The documented type it was read as.
        documented: &'static str,
    },
    /// `type` is none of the documented types; the message is kept as
    /// [`Notification::Unrecognized`](crate::Notification::Unrecognized) and its `Content` is
    /// not interpreted.
    UnrecognizedType {
        /// The type written.
        kind: Snippet,
    },
}

/// The stable code of a [`DeviationKind`], without its details: [`DeviationCode::ALL`] is every
/// code a deviation can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviationCode {
    /// `version-minor`.
    VersionMinor,
    /// `key-case`.
    KeyCase,
    /// `unknown-key`.
    UnknownKey,
    /// `key-not-for-type`.
    KeyNotForType,
    /// `type-case`.
    TypeCase,
    /// `unrecognized-type`.
    UnrecognizedType,
}

impl DeviationCode {
    /// Every code.
    pub const ALL: [Self; 6] = [
        Self::VersionMinor,
        Self::KeyCase,
        Self::UnknownKey,
        Self::KeyNotForType,
        Self::TypeCase,
        Self::UnrecognizedType,
    ];

    /// The code as reports and `--select`/`--exclude` lists write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VersionMinor => "version-minor",
            Self::KeyCase => "key-case",
            Self::UnknownKey => "unknown-key",
            Self::KeyNotForType => "key-not-for-type",
            Self::TypeCase => "type-case",
            Self::UnrecognizedType => "unrecognized-type",
        }
    }
}

impl DeviationKind {
    /// The code of this kind.
    pub const fn kind_code(&self) -> DeviationCode {
        match self {
            Self::VersionMinor { .. } => DeviationCode::VersionMinor,
            Self::KeyCase { .. } => DeviationCode::KeyCase,
            Self::UnknownKey => DeviationCode::UnknownKey,
            Self::KeyNotForType { .. } => DeviationCode::KeyNotForType,
            Self::TypeCase { .. } => DeviationCode::TypeCase,
            Self::UnrecognizedType { .. } => DeviationCode::UnrecognizedType,
        }
    }

    /// The stable code, as in reports and `--select`/`--exclude` lists.
    pub const fn code(&self) -> &'static str {
        self.kind_code().as_str()
    }
}

/// The sentence, without code or path.
impl fmt::Display for DeviationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VersionMinor { version } => {
                write!(
                    f,
                    "version {version} is a 1.x version other than the documented \"1.0\""
                )
            }
            Self::KeyCase { documented } => {
                write!(
                    f,
                    "key differs from the documented \"{documented}\" only in letter case"
                )
            }
            Self::UnknownKey => f.write_str("key is not in the documented format"),
            Self::KeyNotForType { kind } => {
                write!(
                    f,
                    "documented key of another message type, not of type \"{kind}\""
                )
            }
            Self::TypeCase {
                written,
                documented,
            } => write!(
                f,
                "type {written} differs from the documented \"{documented}\" only in letter case"
            ),
            Self::UnrecognizedType { kind } => {
                write!(
                    f,
                    "type {kind} is not documented; its Content is not interpreted"
                )
            }
        }
    }
}

/// One departure from the documented shape, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deviation {
    /// What it is.
    pub kind: DeviationKind,
    /// The key as written (for `version` and `type` values, the key holding them).
    pub path: FieldPath,
    /// Byte offset of the key, or of the value for `version` and `type`, where known (same
    /// convention as [`crate::ParseErrorKind`]).
    pub offset: Option<usize>,
}

impl Deviation {
    /// The stable code of its kind.
    pub const fn code(&self) -> &'static str {
        self.kind.code()
    }
}

/// `code at path (byte N): detail`, one line.
impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.code(), self.path)?;
        if let Some(offset) = self.offset {
            write!(f, " (byte {offset})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// `{"code", "path", "offset", "detail"}`.
impl serde::Serialize for Deviation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Deviation", 4)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("path", &self.path)?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("detail", &alloc::format!("{}", self.kind))?;
        st.end()
    }
}
