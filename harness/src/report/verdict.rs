//! How a report's parts are weighed: the three verdict tiers, and which checks count
//! (`--select`, `--exclude`). A leaf every other part of the report uses.

use cvnotify_core::lifecycle::Severity;
use serde::Serialize;

/// The three verdict tiers, as conformance suites have them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub enum Verdict {
    /// Nothing above info.
    #[serde(rename = "PASS")]
    Pass,
    /// Only deviations and warnings.
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    /// An error: a lifecycle error finding, a rejected message, an unreadable line, a secret.
    #[serde(rename = "FAIL")]
    Fail,
}

impl Verdict {
    /// `PASS`, `NON-STRICT` or `FAIL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::NonStrict => "NON-STRICT",
            Self::Fail => "FAIL",
        }
    }

    pub(crate) fn of(severity: Severity, deviation: bool) -> Self {
        match (severity, deviation) {
            (Severity::Error, _) => Self::Fail,
            (Severity::Warning, _) | (_, true) => Self::NonStrict,
            (Severity::Info, false) => Self::Pass,
        }
    }
}

/// Which checks count: `--select` keeps only the codes named, `--exclude` waives codes.
#[derive(Clone, Debug, Default)]
pub struct Waivers {
    /// When not empty, only these codes count.
    pub select: Vec<String>,
    /// These codes do not count.
    pub exclude: Vec<String>,
}

impl Waivers {
    /// Whether `code` is waived.
    pub fn waived(&self, code: &str) -> bool {
        (!self.select.is_empty() && !self.select.iter().any(|c| c == code))
            || self.exclude.iter().any(|c| c == code)
    }
}
