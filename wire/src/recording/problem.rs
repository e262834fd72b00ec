//! Why a recording line could not be used: the one type reading and interpreting a line both
//! answer with.

use cvnotify_core::redact;

/// Why a line could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineProblem {
    /// Not a recording line (JSON, kind, fields or values).
    Unreadable(String),
    /// It carries a secret.
    Secret(redact::SecretKind),
}

impl LineProblem {
    /// The check code a report files it under.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Unreadable(_) => "unreadable-line",
            Self::Secret(_) => "secret-in-recording",
        }
    }
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(why) => f.write_str(why),
            Self::Secret(kind) => write!(f, "the line carries {}; it was refused", kind.as_str()),
        }
    }
}

/// A line that is not a recording line, with the reason.
pub(crate) fn unreadable(why: impl Into<String>) -> LineProblem {
    LineProblem::Unreadable(why.into())
}
