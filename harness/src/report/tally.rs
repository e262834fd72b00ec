//! The message-level tally of a session (counts of accepted, rejected and deviating messages,
//! checks with bounded examples), the runs a recording holds, and [`session_report`], the one
//! place a session is judged: replay and live sessions both end there, so a recording replayed
//! gives the report shown live.
//!
//! Messages count once each, by message id, however often the queue handed them out (a
//! redelivered message is one message). Everything here is independent of the order it is fed
//! in: replay's parse workers hand their lines over in any order.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use cvnotify_core::lifecycle::facts::ProjectFacts;
use cvnotify_core::lifecycle::{
    Finding, MessageId, Operation, Phase, Settings, Severity, Sources, Timestamp, Tracker, Verdicts,
};
use cvnotify_core::{DeviationCode, Encoding, ParseError, Parsed, PlatformType, ProjectId};

use super::client::ClientRuns;
use super::messages::MessageBits;
use super::model::{
    Check, EXAMPLES, Example, FileSpan, FindingReport, HistoryEntry, MessageCounts, ProjectSection,
    SessionReport, Verdict, Waivers,
};
use crate::recording::{LineProblem, Outcome, Scope, format_time};

/// What the documented message shape rests on.
const MESSAGE_SHAPE: &str = "seed: Verify the connection and after (documented message shape)";
/// What the recording's own checks rest on.
const FORMAT: &str = "recording format (corpus/README.md)";

/// One message-level check being tallied: severity, whether it is a deviation, what it rests on,
/// how often, and its first examples (with the message they are about, when they are).
#[derive(Debug)]
struct Counted {
    severity: Severity,
    deviation: bool,
    rests_on: &'static str,
    count: u64,
    examples: Vec<(Example, Option<u64>)>,
}

impl Counted {
    /// Keeps `example` when it is among the first lines: one example per message (its first
    /// line), the [`EXAMPLES`] first lines in all, whatever the order they come in.
    fn keep(&mut self, example: Example, message: Option<u64>) {
        if let Some(m) = message
            && let Some(at) = self.examples.iter().position(|(_, id)| *id == Some(m))
        {
            if self
                .examples
                .get(at)
                .is_some_and(|(e, _)| e.line <= example.line)
            {
                return;
            }
            self.examples.remove(at);
        }
        let at = self
            .examples
            .partition_point(|(e, _)| e.line <= example.line);
        self.examples.insert(at, (example, message));
        self.examples.truncate(EXAMPLES);
    }
}

/// What a message was counted for, one bit each ([`Seen::bit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counter {
    Accepted,
    Plain,
    Base64,
    Rejected,
    WithDeviations,
    Deviation(DeviationCode),
}

impl Counter {
    fn bit(self) -> u16 {
        let n = match self {
            Self::Accepted => 0,
            Self::Plain => 1,
            Self::Base64 => 2,
            Self::Rejected => 3,
            Self::WithDeviations => 4,
            Self::Deviation(code) => {
                5 + DeviationCode::ALL
                    .iter()
                    .position(|c| *c == code)
                    .unwrap_or_default()
            }
        };
        1 << n
    }
}

/// A message id, reduced to 64 bits: the tally only tells messages apart (a collision among a
/// million messages has a chance of about 1 in 30 million, and would undercount by one).
fn short(id: MessageId) -> u64 {
    // Splitting a u128 into halves: the shifts and truncations are exact.
    ((id.0 >> 64) as u64) ^ (id.0 as u64).rotate_left(29)
}

/// Message counts and message- and line-level checks of one session.
#[derive(Debug, Default)]
pub struct Tally {
    /// The message counts, once [`Tally::settle`] has read them off `seen`.
    counts: MessageCounts,
    checks: BTreeMap<String, Counted>,
    /// Per message, the bits of what it was counted for; counted when the tally settles.
    seen: MessageBits,
    /// Whether a training API call got no usable answer (the source was not observed).
    api_unavailable: bool,
    /// The first and the last time of an input (milliseconds since the epoch).
    span: Option<(u64, u64)>,
    /// Whether the counts have been read off (`seen` is then empty).
    settled: bool,
}

impl Tally {
    /// A tally that holds about `messages` messages in memory and writes what it knows of
    /// further ones to temporary files in `dir` (the system's temporary directory when `None`),
    /// counting them all when it settles. [`Tally::default`] holds about half a million.
    pub fn holding(messages: NonZeroUsize, dir: Option<PathBuf>) -> Self {
        Self {
            seen: MessageBits::holding(messages, dir),
            ..Self::default()
        }
    }

    /// An input of time `at` was seen: the session spans it.
    pub fn saw(&mut self, at: Timestamp) {
        let t = at.0;
        self.span = Some(match self.span {
            Some((first, last)) => (first.min(t), last.max(t)),
            None => (t, t),
        });
    }

    /// Counts every message once, with everything it was counted for (its deliveries may
    /// have been tallied apart, and held on disk): the message counts, and the count of each
    /// per-message check (`message-rejected` and the deviations). A tally whose files cannot
    /// be read back says so as an error check, `messages-uncounted`, rather than give counts
    /// that miss messages.
    fn settle(&mut self) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let mut per_bit = [0u64; 16];
        let seen = std::mem::take(&mut self.seen);
        let counted = seen.count(|bits| {
            for (bit, n) in per_bit.iter_mut().enumerate() {
                *n += u64::from(bits >> bit & 1);
            }
        });
        let of = |counter: Counter| {
            per_bit
                .get(counter.bit().trailing_zeros() as usize)
                .copied()
                .unwrap_or_default()
        };
        self.counts = MessageCounts {
            accepted: of(Counter::Accepted),
            plain: of(Counter::Plain),
            base64: of(Counter::Base64),
            rejected: of(Counter::Rejected),
            with_deviations: of(Counter::WithDeviations),
        };
        for (code, check) in &mut self.checks {
            let counter = if code == "message-rejected" {
                Counter::Rejected
            } else if let Some(d) = DeviationCode::ALL.iter().find(|c| c.as_str() == code) {
                Counter::Deviation(*d)
            } else {
                continue;
            };
            check.count = of(counter);
        }
        if let Err(e) = counted {
            self.add(
                "messages-uncounted",
                Severity::Error,
                false,
                "cvnotify: every message is counted",
                0,
                format!(
                    "the message tally's temporary files could not be read back ({e}): the \
                     message counts and the per-message checks miss messages"
                ),
                true,
                None,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        code: &str,
        severity: Severity,
        deviation: bool,
        rests_on: &'static str,
        line: u32,
        detail: String,
        count: bool,
        message: Option<u64>,
    ) {
        let entry = self
            .checks
            .entry(code.to_string())
            .or_insert_with(|| Counted {
                severity,
                deviation,
                rests_on,
                count: 0,
                examples: Vec::new(),
            });
        if count {
            entry.count += 1;
        }
        entry.keep(Example { line, detail }, message);
    }

    /// Counts one delivery of the message `id` on `line`: accepted (with its encoding and
    /// deviations) or rejected. A message delivered again counts once (when the tally settles).
    pub fn message(&mut self, id: MessageId, parsed: &Result<Parsed, ParseError>, line: u32) {
        let m = short(id);
        match parsed {
            Ok(p) => {
                let mut bits = Counter::Accepted.bit()
                    | match p.encoding {
                        Encoding::Plain => Counter::Plain.bit(),
                        Encoding::Base64 => Counter::Base64.bit(),
                    };
                if !p.deviations.is_empty() {
                    bits |= Counter::WithDeviations.bit();
                }
                for d in &p.deviations {
                    bits |= Counter::Deviation(d.kind.kind_code()).bit();
                    self.example(d.code(), Severity::Warning, true, line, d.to_string(), m);
                }
                self.seen.add(m, bits);
            }
            Err(e) => {
                self.seen.add(m, Counter::Rejected.bit());
                self.example(
                    "message-rejected",
                    Severity::Error,
                    false,
                    line,
                    e.to_string(),
                    m,
                );
            }
        }
    }

    /// An example of a per-message check (counted when the tally settles).
    fn example(
        &mut self,
        code: &str,
        severity: Severity,
        deviation: bool,
        line: u32,
        detail: String,
        message: u64,
    ) {
        self.add(
            code,
            severity,
            deviation,
            MESSAGE_SHAPE,
            line,
            detail,
            false,
            Some(message),
        );
    }

    /// Counts a recording line that could not be used.
    pub fn line_problem(&mut self, problem: &LineProblem, line: u32) {
        let rests_on = match problem {
            LineProblem::Secret(_) => "recording format: secrets never enter a recording",
            _ => FORMAT,
        };
        self.add(
            problem.code(),
            Severity::Error,
            false,
            rests_on,
            line,
            problem.to_string(),
            true,
            None,
        );
    }

    /// A training API call on `line` got no usable answer (no answer at all, or the gateway's
    /// refusal of the key): the API was not observed, and that is an error of its own.
    pub fn api_unavailable(&mut self, operation: Operation, line: u32, detail: &str) {
        self.api_unavailable = true;
        self.add(
            "api-unavailable",
            Severity::Error,
            false,
            "seed: prerequisites (a Custom Vision training resource and its key)",
            line,
            format!("{}: {detail}", operation.as_str()),
            true,
            None,
        );
    }

    /// Adds another tally (a part of the same session tallied apart): counts add up, except
    /// that a message both saw counts once; examples keep the first lines of all.
    pub fn merge(&mut self, other: Self) {
        self.api_unavailable |= other.api_unavailable;
        if let Some((first, last)) = other.span {
            self.saw(Timestamp(first));
            self.saw(Timestamp(last));
        }
        self.seen.absorb(other.seen);
        for (code, theirs) in other.checks {
            match self.checks.get_mut(&code) {
                Some(mine) => {
                    // Per-line checks add up; per-message ones are counted when settling.
                    mine.count += theirs.count;
                    for (e, m) in theirs.examples {
                        mine.keep(e, m);
                    }
                }
                None => {
                    self.checks.insert(code, theirs);
                }
            }
        }
    }
}

/// One mark of a recording's run structure.
#[derive(Clone, Debug)]
enum Mark {
    Start {
        version: u32,
        sources: Sources,
        scope: Scope,
        partial: bool,
    },
    End {
        outcome: Outcome,
        reason: Option<String>,
    },
}

/// Where a run ended (its line), how, and why.
type RunEnd = (u32, Outcome, Option<String>);

/// The runs a recording holds: where each starts (a session line) and ends (an `end` line),
/// fed in any order and sorted by line when judged.
#[derive(Clone, Debug, Default)]
pub struct Runs {
    marks: Vec<(u32, Mark)>,
    /// For a merge of recordings: each file's name and first line number (evidence numbers
    /// run on from file to file).
    files: Vec<(String, u32)>,
}

impl Runs {
    /// A run starts on `line`; `partial` when it saw only its share of the queue.
    pub fn start(
        &mut self,
        line: u32,
        version: u32,
        sources: Sources,
        scope: Scope,
        partial: bool,
    ) {
        self.marks.push((
            line,
            Mark::Start {
                version,
                sources,
                scope,
                partial,
            },
        ));
    }

    /// A recording of a merge begins at evidence number `first`.
    pub fn file(&mut self, name: &str, first: u32) {
        self.files.push((name.to_string(), first));
    }

    /// The recordings of a merge (empty for one recording).
    pub fn files(&self) -> Vec<FileSpan> {
        if self.files.len() < 2 {
            return Vec::new();
        }
        self.files
            .iter()
            .map(|(file, first)| FileSpan {
                file: file.clone(),
                first: *first,
            })
            .collect()
    }

    /// Whether what was seen is only a share of the queue: a run said so, and no merge of
    /// several recordings completes it.
    pub fn partial(&self) -> bool {
        self.files.len() < 2
            && self
                .marks
                .iter()
                .any(|(_, m)| matches!(m, Mark::Start { partial: true, .. }))
    }

    /// Which file of a merge `line` is in.
    fn file_of(&self, line: u32) -> usize {
        self.files
            .iter()
            .rposition(|(_, first)| *first <= line)
            .unwrap_or(0)
    }

    /// A run ends on `line`.
    pub fn end(&mut self, line: u32, outcome: Outcome, reason: Option<String>) {
        self.marks.push((line, Mark::End { outcome, reason }));
    }

    /// Adds the marks of another part of the same recording.
    pub fn merge(&mut self, other: Self) {
        self.marks.extend(other.marks);
        self.files.extend(other.files);
    }

    fn sorted(&self) -> Vec<&(u32, Mark)> {
        let mut marks: Vec<&(u32, Mark)> = self.marks.iter().collect();
        marks.sort_by_key(|(line, _)| *line);
        marks
    }

    /// What every run observed (everything, for a recording without a session line).
    pub fn sources(&self) -> Sources {
        self.marks
            .iter()
            .filter_map(|(_, m)| match m {
                Mark::Start { sources, .. } => Some(*sources),
                Mark::End { .. } => None,
            })
            .fold(Sources::ALL, Sources::intersect)
    }

    /// Which projects are judged: only the created ones when every run says so.
    pub fn scope(&self) -> Scope {
        let mut scopes = self.marks.iter().filter_map(|(_, m)| match m {
            Mark::Start { scope, .. } => Some(*scope),
            Mark::End { .. } => None,
        });
        match scopes.next() {
            Some(Scope::Created) if scopes.all(|s| s == Scope::Created) => Scope::Created,
            _ => Scope::All,
        }
    }

    /// The checks the run structure gives: a run (of format version 2 or later) that did not
    /// end normally is `run-incomplete` when it is the last, `run-restarted` (a warning: at
    /// least once delivery made the restart harmless) when another run followed it.
    fn judge(&self, tally: &mut Tally) {
        let marks = self.sorted();
        // (file, start line, version, end) per run, in order: a merge's recordings are runs
        // side by side, each judged on its own.
        let mut runs: Vec<(usize, u32, u32, Option<RunEnd>)> = Vec::new();
        for (line, mark) in marks {
            let file = self.file_of(*line);
            match mark {
                Mark::Start { version, .. } => runs.push((file, *line, *version, None)),
                Mark::End { outcome, reason } => {
                    if let Some(run) = runs.iter_mut().rev().find(|r| r.0 == file)
                        && run.3.is_none()
                    {
                        run.3 = Some((*line, *outcome, reason.clone()));
                    }
                }
            }
        }
        let lasts: Vec<usize> = (0..runs.len())
            .filter(|&k| {
                let file = runs.get(k).map_or(0, |r| r.0);
                !runs.iter().skip(k + 1).any(|r| r.0 == file)
            })
            .collect();
        for (n, (_, start, version, end)) in runs.into_iter().enumerate() {
            if version < 2 {
                continue;
            }
            let (line, why) = match &end {
                None => (
                    start,
                    "the run that starts here has no end line: it crashed, was killed or is still running"
                        .to_string(),
                ),
                Some((_, outcome, _)) if outcome.is_normal() => continue,
                Some((line, outcome, reason)) => (
                    *line,
                    format!(
                        "the run ended {}: {}",
                        outcome.as_str(),
                        reason.as_deref().unwrap_or("no reason given")
                    ),
                ),
            };
            let (code, severity) = if lasts.contains(&n) {
                ("run-incomplete", Severity::Error)
            } else {
                ("run-restarted", Severity::Warning)
            };
            tally.add(code, severity, false, FORMAT, line, why, true, None);
        }
    }
}

/// What a session must have shown to pass: an empty run is not a pass, and a gate that knows
/// what must arrive can say so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// At least this many projects.
    pub projects: Option<u64>,
    /// At least this many accepted messages.
    pub messages: Option<u64>,
}

/// How a session is judged: waivers and expectations.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Which checks count.
    pub waivers: Waivers,
    /// What must have been seen.
    pub expect: Expectations,
}

fn platform_name(p: &PlatformType) -> String {
    p.as_str().to_string()
}

fn finding_report(f: &Finding, waivers: &Waivers, partial: bool) -> FindingReport {
    let info = f.code.info();
    FindingReport {
        code: info.code,
        severity: info.severity.as_str(),
        rests_on: info.clause,
        summary: info.summary,
        detail: finding_detail(f),
        at: format_time(f.at),
        millis: f.at.0,
        iteration_id: f.iteration_id,
        platform: f.platform.as_ref().map(platform_name),
        evidence: f.evidence.iter().map(|s| s.evidence.get()).collect(),
        waived: waivers.waived(info.code),
        deferred: partial && f.code.needs_every_message(),
    }
}

/// What a finding says about its own project: the summary with the concrete ids and the
/// concrete blob name in place of the catalogue's template.
pub fn finding_detail(f: &Finding) -> String {
    use cvnotify_core::lifecycle::FindingCode as C;
    let blob = match (f.iteration_id, &f.platform) {
        (Some(i), Some(p)) => Some(format!(
            "`{}`",
            cvnotify_core::BackupBlobName::new(f.project_id, i, p.clone())
        )),
        _ => None,
    };
    let iteration = f
        .iteration_id
        .map_or_else(|| "an iteration".to_string(), |i| format!("iteration {i}"));
    let platform = f.platform.as_ref().map(|p| p.as_str().to_string());
    let on = platform
        .as_deref()
        .map_or(String::new(), |p| format!(" ({p})"));
    match (f.code, blob) {
        (C::BackupBlobMissing, Some(b)) => {
            format!("ExportCompleted for {iteration}{on}, but no backup blob {b} by the deadline")
        }
        (C::BackupBlobLate, Some(b)) => format!(
            "the backup blob {b} appeared, but later than the deadline after ExportCompleted"
        ),
        (C::BackupBlobUnannounced, Some(b)) => format!(
            "the backup blob {b} appeared, but no ExportCompleted for {iteration}{on} by the deadline"
        ),
        (C::ExportNotificationLate, Some(b)) => format!(
            "ExportCompleted for {iteration}{on} came, but later than the deadline after the backup blob {b} appeared"
        ),
        (C::ModelUriNamesOtherIds, Some(b)) => format!(
            "the modelUri names another backup blob than {b}, the one of the message's project and iteration"
        ),
        (C::ModelUriOutsideContainer, Some(b)) => {
            format!("the modelUri of {b} is not a blob in the configured container")
        }
        (C::TrainingNotificationMissing, _) => format!(
            "TrainProject returned {iteration}, but no Training notification for it by the deadline"
        ),
        (C::TrainingNotificationLate, _) => {
            format!("the Training notification for {iteration} came, but after the deadline")
        }
        (C::ExportOfUntrainedIteration, _) => format!(
            "Export notification{on} for {iteration}, which has no earlier training completion"
        ),
        _ => match (f.iteration_id, platform) {
            (Some(i), Some(p)) => format!("{} (iteration {i}, {p})", f.code.info().summary),
            (Some(i), None) => format!("{} (iteration {i})", f.code.info().summary),
            _ => f.code.info().summary.to_string(),
        },
    }
}

/// A project's section of the report, from its tracker report.
fn project_section(
    r: &cvnotify_core::lifecycle::ProjectReport,
    waivers: &Waivers,
    partial: bool,
) -> ProjectSection {
    let findings: Vec<FindingReport> = r
        .findings
        .iter()
        .map(|f| finding_report(f, waivers, partial))
        .collect();
    let verdict = r
        .findings
        .iter()
        .filter(|f| !waivers.waived(f.code.as_str()))
        .filter(|f| !(partial && f.code.needs_every_message()))
        .map(|f| Verdict::of(f.code.severity(), false))
        .max()
        .unwrap_or(Verdict::Pass);
    ProjectSection {
        project_id: r.project_id,
        verdict,
        phase: r.phase.as_str(),
        history: r
            .history
            .iter()
            .map(|(s, p): &(_, Phase)| HistoryEntry {
                millis: s.at.0,
                phase: *p,
                line: s.evidence.get(),
            })
            .collect(),
        findings,
    }
}

fn source_names(sources: Sources) -> Vec<&'static str> {
    [
        (sources.queue, "queue"),
        (sources.training_api, "training-api"),
        (sources.polling && !sources.training_api, "polling"),
        (sources.container, "container"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| n)
    .collect()
}

/// Judges one session: its tally, its runs and its tracker's report become a [`SessionReport`]
/// with its verdict (the most severe of every check and finding that is not waived). `lines` is
/// the number of the last line read or recorded.
pub fn session_report(
    name: &str,
    lines: u32,
    tally: Tally,
    runs: &Runs,
    tracker: Tracker,
    clients: &ClientRuns,
    rules: &Rules,
) -> SessionReport {
    session_report_streaming(
        name,
        lines,
        tally,
        runs,
        std::iter::once(tracker),
        clients,
        rules,
        None,
    )
}

/// What a stream of project sections is handed, one at a time, as each project is judged: the
/// session they belong to (its name, sources, waivers and files; not yet its checks, counts
/// or verdict) and the section.
pub type ProjectSink<'a> = &'a mut dyn FnMut(&SessionReport, ProjectSection);

/// [`session_report`], handing each project's section to `sink` as it is judged instead of
/// keeping it (when there is a sink): the report's `projects` stay empty and
/// `projects_streamed` counts them; the verdict and every check are the same.
///
/// The session's projects may be held by several trackers, given in the order of their
/// projects' ids: disjoint, in ascending ranges, each with the same settings and brought to
/// the session's latest time (a replay that spilled projects to disk hands them back so, one
/// range at a time; a live session has one tracker).
#[allow(clippy::too_many_arguments)]
pub fn session_report_streaming(
    name: &str,
    lines: u32,
    mut tally: Tally,
    runs: &Runs,
    trackers: impl Iterator<Item = Tracker> + Send,
    clients: &ClientRuns,
    rules: &Rules,
    mut sink: Option<ProjectSink<'_>>,
) -> SessionReport {
    runs.judge(&mut tally);
    let mut narrowing = runs.sources();
    if tally.api_unavailable {
        // Not observed: neither the calls nor the polls can be judged.
        narrowing = narrowing.intersect(Sources {
            training_api: false,
            polling: false,
            ..Sources::ALL
        });
    }
    let mut trackers = trackers
        .map(move |mut tracker| {
            tracker.narrow_sources(narrowing);
            tracker
        })
        .peekable();
    let scope = runs.scope();
    let waivers = &rules.waivers;
    let partial = runs.partial();
    // Each project is judged and turned into its section at once: the tracker's reports are
    // never all held beside the sections.
    let mut projects: Vec<ProjectSection> = Vec::new();
    let mut projects_verdict = Verdict::Pass;
    let mut judged: u64 = 0;
    // Every message is in: count them (what each was counted for is then dropped).
    tally.settle();
    let sources = trackers.peek().map_or_else(
        || Settings::default().sources.intersect(narrowing),
        |t| t.settings().sources,
    );
    let waived_codes: Vec<&'static str> = super::model::known_codes()
        .into_iter()
        .filter(|c| waivers.waived(c))
        .collect();
    // What a stream is told of the session its projects belong to.
    let context = SessionReport {
        file: name.to_string(),
        verdict: Verdict::Pass,
        started: None,
        seconds: 0.0,
        lines,
        sources: source_names(sources),
        observed: sources,
        messages: MessageCounts::default(),
        checks: Vec::new(),
        projects: Vec::new(),
        clients: Vec::new(),
        files: runs.files(),
        partial,
        waived_codes,
        described: None,
        projects_streamed: 0,
    };
    // A project is judged on a worker, with its facts dropped there; what comes back, in
    // project order, is its section, or for a project this run did not create, where it was
    // first seen.
    let make = |verdicts: &Verdicts, id: ProjectId, facts: ProjectFacts| {
        let own = scope == Scope::All || !facts.configs.is_empty();
        let r = verdicts.judge(id, &facts);
        drop(facts);
        if own {
            Ok(project_section(&r, waivers, partial))
        } else {
            Err((id, r.history.first().map_or(0, |(s, _)| s.evidence.get())))
        }
    };
    super::judging::in_order(trackers, make, |judged_project| match judged_project {
        Ok(section) => {
            projects_verdict = projects_verdict.max(section.verdict);
            judged += 1;
            match sink.as_mut() {
                Some(sink) => sink(&context, section),
                None => projects.push(section),
            }
        }
        Err((id, line)) => {
            tally.add(
                "foreign-project",
                Severity::Info,
                false,
                "cvnotify check judges the projects it created",
                line,
                format!("project {id} was seen but not created by this run; not judged"),
                true,
                None,
            );
        }
    });
    let accepted = tally.counts.accepted;
    let observed = tally.counts.accepted + tally.counts.rejected;
    if observed == 0 && judged == 0 && !clients.any() {
        // One consumer's share may be empty: whether anything came is the merge's to say.
        let (severity, detail) = if runs.partial() {
            (
                Severity::Info,
                "this consumer's share of the queue was empty; the merge judges whether anything came",
            )
        } else {
            (
                Severity::Error,
                "no message, no project and no client request was observed",
            )
        };
        tally.add(
            "nothing-judged",
            severity,
            false,
            "a run that judged nothing is not a pass",
            lines,
            detail.into(),
            true,
            None,
        );
    }
    let expectations = [
        (rules.expect.projects, judged, "projects"),
        (rules.expect.messages, accepted, "accepted messages"),
    ];
    for (expected, seen, what) in expectations {
        if let Some(n) = expected
            && seen < n
        {
            tally.add(
                "expectation-unmet",
                Severity::Error,
                false,
                "--expect-projects / --expect-messages",
                lines,
                format!("expected at least {n} {what}, saw {seen}"),
                true,
                None,
            );
        }
    }
    let mut verdict = Verdict::Pass;
    let checks: Vec<Check> = tally
        .checks
        .into_iter()
        .map(|(code, c)| {
            let waived = waivers.waived(&code);
            if !waived {
                verdict = verdict.max(Verdict::of(c.severity, c.deviation));
            }
            let severity = if c.deviation {
                "deviation"
            } else {
                c.severity.as_str()
            };
            Check {
                code,
                severity,
                rests_on: c.rests_on,
                count: c.count,
                waived,
                examples: c.examples.into_iter().map(|(e, _)| e).collect(),
            }
        })
        .collect();
    verdict = verdict.max(projects_verdict);
    let clients = clients.sections(waivers);
    for c in &clients {
        verdict = verdict.max(c.verdict);
    }
    let projects_streamed = judged - projects.len() as u64;
    SessionReport {
        verdict,
        started: tally.span.map(|(first, _)| format_time(Timestamp(first))),
        messages: tally.counts,
        checks,
        projects,
        clients,
        projects_streamed,
        ..context
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts come from every message once, across parts tallied apart and runs held on disk;
    /// a tally whose files were cut short says so as an error check instead of undercounting.
    #[test]
    fn messages_count_once_and_an_uncountable_tally_says_so() {
        let rejected = cvnotify_core::parse(b"not json", cvnotify_core::ParseOptions::default());
        let tally_of = |ids: std::ops::Range<u128>| {
            let mut t = Tally::holding(NonZeroUsize::MIN, None);
            for id in ids {
                t.message(MessageId(id), &rejected, 1);
            }
            t
        };
        // 0..40 and 30..50 overlap in ten messages (delivered to both parts).
        let mut tally = tally_of(0..40);
        tally.merge(tally_of(30..50));
        tally.settle();
        // Settling again changes nothing.
        tally.settle();
        assert_eq!(tally.counts.rejected, 50);
        assert_eq!(
            tally.checks.get("message-rejected").map(|c| c.count),
            Some(50)
        );
        assert!(!tally.checks.contains_key("messages-uncounted"));

        let tally_cut = tally_of(0..40);
        assert!(tally_cut.seen.cut_files().is_ok());
        let mut tally_cut = tally_cut;
        tally_cut.settle();
        let check = tally_cut.checks.get("messages-uncounted");
        assert!(check.is_some_and(|c| c.severity == Severity::Error && c.count == 1));
    }
}
