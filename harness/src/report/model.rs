//! The report model: what every output format renders, for `replay`, `watch` and `check`
//! alike. A [`Report`] holds one [`SessionReport`] per recording or live session: its verdict,
//! message counts, message-level checks and, per project, the lifecycle and its findings.

use cvnotify_core::lifecycle::FindingCode;
use cvnotify_core::{DeviationCode, IterationId, ProjectId};
use serde::Serialize;

use crate::recording::format_time;

/// The report format's version (every format's header says it).
pub(super) const FORMAT_VERSION: u32 = 1;

/// How many examples of each message-level check a report keeps (the count is always exact).
pub const EXAMPLES: usize = 20;

pub use super::verdict::{Verdict, Waivers};

/// The codes of the checks that are not lifecycle findings or parser deviations: a rejected
/// message, a recording line that cannot be read or carries a secret, a run that did not end
/// normally (the last, or one another followed), a training API that did not answer, a project
/// seen but not judged (a check's foreign projects), a run that judged nothing, an expectation
/// (`--expect-projects`, `--expect-messages`) not met, a message tally that could not be read
/// back from its temporary files.
pub const LINE_CHECKS: [&str; 10] = [
    "message-rejected",
    "unreadable-line",
    "secret-in-recording",
    "run-incomplete",
    "run-restarted",
    "api-unavailable",
    "foreign-project",
    "nothing-judged",
    "expectation-unmet",
    "messages-uncounted",
];

/// Every code a report can carry, for validating `--select`/`--exclude`: the lifecycle
/// findings, the parser's deviations and [`LINE_CHECKS`].
pub fn known_codes() -> Vec<&'static str> {
    FindingCode::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(DeviationCode::ALL.iter().map(|c| c.as_str()))
        .chain(LINE_CHECKS)
        .chain(super::client::client_codes())
        .collect()
}

/// One line that shows a message-level check.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Example {
    /// Its line number.
    pub line: u32,
    /// What the line shows.
    pub detail: String,
}

/// A message-level or line-level check: a parser deviation, a rejected message, a bad line.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The check's code.
    pub code: String,
    /// `error`, `warning`, `deviation` or `info`.
    #[schemars(extend("enum" = ["error", "warning", "deviation", "info"]))]
    pub severity: &'static str,
    /// What the expectation comes from.
    pub rests_on: &'static str,
    /// How many lines showed it.
    pub count: u64,
    /// Whether `--select`/`--exclude` waived it.
    pub waived: bool,
    /// The first lines that showed it (at most [`EXAMPLES`]).
    pub examples: Vec<Example>,
}

/// One phase change (its time formatted only when written).
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    /// When, in milliseconds since the epoch.
    pub millis: u64,
    /// The phase entered.
    pub phase: cvnotify_core::lifecycle::Phase,
    /// The evidence number of the step that entered it.
    pub line: u32,
}

impl HistoryEntry {
    /// When, as RFC 3339 text.
    pub fn at(&self) -> String {
        format_time(cvnotify_core::lifecycle::Timestamp(self.millis))
    }
}

/// The schema of the sources a session observed.
fn sources_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "enum": ["queue", "training-api", "polling", "container"] }
    })
}

/// The schema of a project or iteration id: a GUID, lower case.
fn uuid_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "format": "uuid" })
}

/// One phase change as written: when (RFC 3339), the phase entered, and the line of the step
/// that entered it.
#[derive(schemars::JsonSchema)]
#[schemars(rename = "HistoryEntry")]
#[allow(dead_code, reason = "its fields are what the schema describes")]
struct HistoryEntryShape {
    /// When (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    at: String,
    /// The phase entered.
    phase: String,
    /// The evidence number of the step that entered it.
    line: u32,
}

impl schemars::JsonSchema for HistoryEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        HistoryEntryShape::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        HistoryEntryShape::json_schema(generator)
    }
}

impl Serialize for HistoryEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("HistoryEntry", 3)?;
        st.serialize_field("at", &self.at())?;
        st.serialize_field("phase", self.phase.as_str())?;
        st.serialize_field("line", &self.line)?;
        st.end()
    }
}

/// One lifecycle finding, as reported.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindingReport {
    /// The finding's code.
    pub code: &'static str,
    /// `error`, `warning` or `info`.
    #[schemars(extend("enum" = ["error", "warning", "info"]))]
    pub severity: &'static str,
    /// The seed section or reference it rests on.
    pub rests_on: &'static str,
    /// What it means (the catalogue's sentence).
    pub summary: &'static str,
    /// What it says about this project: the summary with the concrete iteration, platform and
    /// backup blob name.
    pub detail: String,
    /// When it shows (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub at: String,
    /// The same, in milliseconds since the epoch.
    #[serde(skip)]
    pub millis: u64,
    /// The iteration, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uuid_schema")]
    pub iteration_id: Option<IterationId>,
    /// The export platform, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The line numbers of the inputs that show it.
    pub evidence: Vec<u32>,
    /// Whether `--select`/`--exclude` waived it.
    pub waived: bool,
    /// Whether it was deferred: the run saw only its share of the queue, and the finding rests
    /// on a message not having come (it may have gone to another consumer); not counted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deferred: bool,
}

/// One project.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSection {
    /// The project.
    #[schemars(schema_with = "uuid_schema")]
    pub project_id: ProjectId,
    /// Its verdict.
    pub verdict: Verdict,
    /// The phase it ended in.
    #[schemars(extend("enum" = cvnotify_core::lifecycle::Phase::ALL.map(cvnotify_core::lifecycle::Phase::as_str)))]
    pub phase: &'static str,
    /// Every phase change, the first entry being the start.
    pub history: Vec<HistoryEntry>,
    /// Its findings, by time.
    pub findings: Vec<FindingReport>,
}

/// Message counts.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct MessageCounts {
    /// Accepted messages.
    pub accepted: u64,
    /// Of those, plain JSON.
    pub plain: u64,
    /// Of those, base64.
    pub base64: u64,
    /// Rejected messages.
    pub rejected: u64,
    /// Accepted messages with at least one deviation.
    #[serde(rename = "withDeviations")]
    pub with_deviations: u64,
}

/// One recording.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionReport {
    /// The recording's name, or the live session's label.
    pub file: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// When its first input was (RFC 3339): the time of the session's first line that
    /// carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub started: Option<String>,
    /// How many seconds cvnotify spent on it (the live run's wall-clock time, or the time a
    /// replay took to judge the recording): the JUnit `time`.
    #[serde(skip)]
    pub seconds: f64,
    /// The number of the last line read or recorded.
    pub lines: u32,
    /// The sources it observed.
    #[schemars(schema_with = "sources_schema")]
    pub sources: Vec<&'static str>,
    /// The same, as the core has them (what a check needs to have been evaluated).
    #[serde(skip)]
    pub observed: cvnotify_core::lifecycle::Sources,
    /// Message counts.
    pub messages: MessageCounts,
    /// Message- and line-level checks.
    pub checks: Vec<CheckReport>,
    /// Every project, by id.
    pub projects: Vec<ProjectSection>,
    /// The verdict on the client, per run of its journal (`cvnotify verify`, `simulate
    /// --record`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<super::client::ClientSection>,
    /// For a merge of recordings: where each begins among the evidence numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSpan>,
    /// Whether the session saw only its share of the queue (findings deferred to a merge).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// The codes `--select`/`--exclude` waived.
    #[serde(skip)]
    pub waived_codes: Vec<&'static str>,
    /// How many projects were handed to a stream as they were judged, and are not in
    /// `projects` (`replay --format jsonl`).
    #[serde(skip)]
    pub projects_streamed: u64,
    /// For a live session without a recording: what each input stood for, by evidence
    /// number (evidence is then cited by what it was, not by a line nobody has).
    #[serde(skip)]
    pub described: Option<std::collections::BTreeMap<u32, String>>,
}

impl SessionReport {
    /// Whether `--select`/`--exclude` waived `code`.
    pub fn waived(&self, code: &str) -> bool {
        self.waived_codes.contains(&code)
    }

    /// Where evidence number `n` is: `file:line` in a merge, the line number otherwise.
    pub fn locate(&self, n: u32) -> String {
        match self.files.iter().rev().find(|f| f.first <= n) {
            Some(f) => format!("{}:{}", f.file, n - f.first + 1),
            None => n.to_string(),
        }
    }

    /// Evidence number `n` for a reader: `line N` (`line FILE:N` in a merge) when there is a
    /// recording, otherwise the input itself (its call, message id or blob, and its time).
    pub fn cite(&self, n: u32) -> String {
        match &self.described {
            None => format!("line {}", self.locate(n)),
            Some(map) => match map.get(&n) {
                Some(text) => text.clone(),
                None => format!("input {n} (not recorded; --record keeps every input)"),
            },
        }
    }

    /// Several evidence numbers for a reader (see [`Self::cite`]): `lines 6, 9`, or the inputs.
    pub fn cite_all(&self, evidence: &[u32]) -> String {
        match (&self.described, evidence) {
            (_, []) => "no input".to_string(),
            (None, [one]) => self.cite(*one),
            (None, many) => {
                let list: Vec<String> = many.iter().map(|n| self.locate(*n)).collect();
                format!("lines {}", list.join(", "))
            }
            (Some(_), many) => {
                let list: Vec<String> = many.iter().map(|n| self.cite(*n)).collect();
                list.join("; ")
            }
        }
    }
}

/// The whole run.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `cvnotify`.
    #[schemars(extend("const" = "cvnotify"))]
    pub tool: &'static str,
    /// The command that made it: `replay`, `watch`, `check` or `verify`.
    #[serde(skip)]
    pub command: &'static str,
    /// This build's version.
    pub version: &'static str,
    /// The report format's version.
    #[schemars(extend("const" = FORMAT_VERSION))]
    pub format_version: u32,
    /// Whether NON-STRICT fails.
    pub strict: bool,
    /// The most severe session verdict.
    pub verdict: Verdict,
    /// One per recording or live session.
    pub sessions: Vec<SessionReport>,
}

impl Report {
    /// A report of `sessions`, made by `command` (`replay`, `watch`, `check`, `verify`).
    pub fn new(command: &'static str, sessions: Vec<SessionReport>, strict: bool) -> Self {
        let verdict = sessions
            .iter()
            .map(|s| s.verdict)
            .max()
            .unwrap_or(Verdict::Pass);
        Self {
            tool: "cvnotify",
            command,
            version: env!("CARGO_PKG_VERSION"),
            format_version: FORMAT_VERSION,
            strict,
            verdict,
            sessions,
        }
    }
}

/// One recording of a merge: its name and the evidence numbers its lines got.
#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileSpan {
    /// The recording.
    pub file: String,
    /// The evidence number of its line 1.
    #[schemars(range(min = 1))]
    pub first: u32,
}
