//! Deviations: what a message did that the documentation does not describe, but that a tolerant
//! consumer can still read without guessing. Each has a stable code; strict mode turns any of
//! them into a rejection.

use core::fmt;

use crate::path::{FieldPath, Snippet};

/// One departure from the documented shape (seed, "Verify the connection" and after).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Deviation {
    /// `version` is `"1.x"` but not the documented `"1.0"`.
    VersionMinor {
        /// Where.
        path: FieldPath,
        /// The version written.
        version: Snippet,
    },
    /// A documented key written in another letter case (`content`, `ProjectId`).
    KeyCase {
        /// The key as written.
        path: FieldPath,
        /// The documented spelling.
        documented: &'static str,
    },
    /// A key the documentation does not have.
    UnknownKey {
        /// The key as written.
        path: FieldPath,
    },
    /// A documented key that belongs to another message type (`exportStatus` in a `Training`).
    KeyNotForType {
        /// The key as written.
        path: FieldPath,
        /// The message type it was found in.
        kind: &'static str,
    },
    /// `type` names a documented type in another letter case (`"training"`).
    TypeCase {
        /// Where.
        path: FieldPath,
        /// The value written.
        written: Snippet,
        /// The documented type it was read as.
        documented: &'static str,
    },
    /// `type` is none of the documented types; the message is kept as
    /// [`Notification::Unrecognized`](crate::Notification::Unrecognized) and its `Content` is
    /// not interpreted.
    UnrecognizedType {
        /// Where.
        path: FieldPath,
        /// The type written.
        kind: Snippet,
    },
}

impl Deviation {
    /// The stable code, as in reports and `--select`/`--exclude` lists.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::VersionMinor { .. } => "version-minor",
            Self::KeyCase { .. } => "key-case",
            Self::UnknownKey { .. } => "unknown-key",
            Self::KeyNotForType { .. } => "key-not-for-type",
            Self::TypeCase { .. } => "type-case",
            Self::UnrecognizedType { .. } => "unrecognized-type",
        }
    }

    /// Where in the message.
    pub const fn path(&self) -> &FieldPath {
        match self {
            Self::VersionMinor { path, .. }
            | Self::KeyCase { path, .. }
            | Self::UnknownKey { path }
            | Self::KeyNotForType { path, .. }
            | Self::TypeCase { path, .. }
            | Self::UnrecognizedType { path, .. } => path,
        }
    }

    /// The sentence that explains it, without code or path: `Display` of this value.
    pub fn detail(&self) -> DeviationDetail<'_> {
        DeviationDetail(self)
    }
}

/// The human sentence of a [`Deviation`].
#[derive(Clone, Copy, Debug)]
pub struct DeviationDetail<'a>(&'a Deviation);

impl fmt::Display for DeviationDetail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Deviation::VersionMinor { version, .. } => {
                write!(
                    f,
                    "version {version} is a 1.x version other than the documented \"1.0\""
                )
            }
            Deviation::KeyCase { documented, .. } => {
                write!(
                    f,
                    "key differs from the documented \"{documented}\" only in letter case"
                )
            }
            Deviation::UnknownKey { .. } => f.write_str("key is not in the documented format"),
            Deviation::KeyNotForType { kind, .. } => {
                write!(f, "documented key, but not for a {kind} message")
            }
            Deviation::TypeCase {
                written,
                documented,
                ..
            } => {
                write!(
                    f,
                    "type {written} read as \"{documented}\" (differs only in letter case)"
                )
            }
            Deviation::UnrecognizedType { kind, .. } => {
                write!(
                    f,
                    "type {kind} is not documented; its Content is not interpreted"
                )
            }
        }
    }
}

/// `code at path: detail`, one line.
impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.code(), self.path(), self.detail())
    }
}

impl serde::Serialize for Deviation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Deviation", 3)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("path", self.path())?;
        st.serialize_field("detail", &alloc::format!("{}", self.detail()))?;
        st.end()
    }
}
