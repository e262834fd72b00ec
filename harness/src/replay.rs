//! `cvnotify replay`: streams recordings through the parser and a lifecycle tracker and judges
//! them. This module builds the [`Report`] (the data every output format renders) and its
//! verdict; `report/` renders it.

use std::collections::BTreeMap;
use std::io::BufRead;

use cvnotify_core::lifecycle::{Finding, FindingCode, Phase, Settings, Severity, Sources, Tracker};
use cvnotify_core::{IterationId, PlatformType, ProjectId};
use serde::Serialize;

use std::sync::mpsc;

use cvnotify_core::lifecycle::Input;

use crate::recording::{Item, LineProblem, RawText, ReadLine, Reader, format_time};

/// How many examples of each message-level check a report keeps (the count is always exact).
pub(crate) const EXAMPLES: usize = 20;

/// The three verdict tiers, as conformance suites have them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) enum Verdict {
    #[serde(rename = "PASS")]
    Pass,
    /// Only deviations and warnings.
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    #[serde(rename = "FAIL")]
    Fail,
}

impl Verdict {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::NonStrict => "NON-STRICT",
            Self::Fail => "FAIL",
        }
    }

    fn of(severity: Severity, deviation: bool) -> Self {
        match (severity, deviation) {
            (Severity::Error, _) => Self::Fail,
            (Severity::Warning, _) | (_, true) => Self::NonStrict,
            (Severity::Info, false) => Self::Pass,
        }
    }
}

/// Which checks count: `--select` keeps only the codes named, `--exclude` waives codes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Waivers {
    pub(crate) select: Vec<String>,
    pub(crate) exclude: Vec<String>,
}

impl Waivers {
    pub(crate) fn waived(&self, code: &str) -> bool {
        (!self.select.is_empty() && !self.select.iter().any(|c| c == code))
            || self.exclude.iter().any(|c| c == code)
    }
}

/// Every code a report can carry, for validating `--select`/`--exclude`.
pub(crate) fn known_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    codes.extend([
        "version-minor",
        "key-case",
        "unknown-key",
        "key-not-for-type",
        "type-case",
        "unrecognized-type",
    ]);
    codes.extend(["message-rejected", "unreadable-line", "secret-in-recording"]);
    codes
}

/// One line that shows a message-level check.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Example {
    pub(crate) line: u32,
    pub(crate) detail: String,
}

/// A message-level or line-level check: a parser deviation, a rejected message, a bad line.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Check {
    pub(crate) code: String,
    pub(crate) severity: &'static str,
    pub(crate) rests_on: &'static str,
    pub(crate) count: u64,
    pub(crate) waived: bool,
    pub(crate) examples: Vec<Example>,
}

/// One phase change (its time formatted only when written).
#[derive(Clone, Debug)]
pub(crate) struct HistoryEntry {
    pub(crate) millis: u64,
    pub(crate) phase: &'static str,
    pub(crate) line: u32,
}

impl HistoryEntry {
    pub(crate) fn at(&self) -> String {
        format_time(cvnotify_core::lifecycle::Timestamp(self.millis))
    }
}

impl Serialize for HistoryEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("HistoryEntry", 3)?;
        st.serialize_field("at", &self.at())?;
        st.serialize_field("phase", self.phase)?;
        st.serialize_field("line", &self.line)?;
        st.end()
    }
}

/// One lifecycle finding, as reported.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FindingReport {
    pub(crate) code: &'static str,
    pub(crate) severity: &'static str,
    pub(crate) rests_on: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) at: String,
    #[serde(skip)]
    pub(crate) millis: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) iteration_id: Option<IterationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) platform: Option<String>,
    /// The line numbers of the inputs that show it.
    pub(crate) evidence: Vec<u32>,
    pub(crate) waived: bool,
}

/// One project.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProjectSection {
    pub(crate) project_id: ProjectId,
    pub(crate) verdict: Verdict,
    pub(crate) phase: &'static str,
    pub(crate) history: Vec<HistoryEntry>,
    pub(crate) findings: Vec<FindingReport>,
}

/// Message counts.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub(crate) struct MessageCounts {
    pub(crate) accepted: u64,
    pub(crate) plain: u64,
    pub(crate) base64: u64,
    pub(crate) rejected: u64,
    #[serde(rename = "withDeviations")]
    pub(crate) with_deviations: u64,
}

/// One recording.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionReport {
    pub(crate) file: String,
    pub(crate) verdict: Verdict,
    pub(crate) lines: u32,
    pub(crate) sources: Vec<&'static str>,
    pub(crate) messages: MessageCounts,
    pub(crate) checks: Vec<Check>,
    pub(crate) projects: Vec<ProjectSection>,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    pub(crate) tool: &'static str,
    pub(crate) version: &'static str,
    pub(crate) format_version: u32,
    pub(crate) strict: bool,
    pub(crate) verdict: Verdict,
    pub(crate) sessions: Vec<SessionReport>,
}

impl Report {
    pub(crate) fn new(sessions: Vec<SessionReport>, strict: bool) -> Self {
        let verdict = sessions
            .iter()
            .map(|s| s.verdict)
            .max()
            .unwrap_or(Verdict::Pass);
        Self {
            tool: "cvnotify",
            version: env!("CARGO_PKG_VERSION"),
            format_version: 1,
            strict,
            verdict,
            sessions,
        }
    }
}

/// Accumulates message-level checks with bounded examples.
#[derive(Default)]
pub(crate) struct Checks {
    by_code: BTreeMap<String, (Severity, bool, &'static str, u64, Vec<Example>)>,
}

impl Checks {
    /// Adds another worker's checks: counts add up; examples keep the first lines of all.
    fn merge(&mut self, other: Self) {
        for (code, (severity, deviation, rests_on, count, examples)) in other.by_code {
            let entry =
                self.by_code
                    .entry(code)
                    .or_insert((severity, deviation, rests_on, 0, Vec::new()));
            entry.3 += count;
            entry.4.extend(examples);
            entry.4.sort_by_key(|e| e.line);
            entry.4.truncate(EXAMPLES);
        }
    }

    pub(crate) fn add(
        &mut self,
        code: &str,
        severity: Severity,
        deviation: bool,
        rests_on: &'static str,
        line: u32,
        detail: String,
    ) {
        let entry = self.by_code.entry(code.to_string()).or_insert((
            severity,
            deviation,
            rests_on,
            0,
            Vec::new(),
        ));
        entry.3 += 1;
        if entry.4.len() < EXAMPLES {
            entry.4.push(Example { line, detail });
        }
    }
}

/// Lines per batch handed to a parse worker.
const BATCH: usize = 1024;

/// What a parse worker makes of a batch of lines: the lifecycle inputs, and the message and line
/// checks.
#[derive(Default)]
struct Batch {
    inputs: Vec<Input>,
    counts: MessageCounts,
    checks: Checks,
}

impl Batch {
    /// Takes in one read line.
    fn absorb(&mut self, line: ReadLine) {
        let number = line.number;
        match line.item {
            // A session line after the first is refused by the reader; the first one is taken
            // before the batches start.
            Ok(Item::Session(_)) => {}
            Ok(Item::Inputs(inputs)) => self.inputs.extend(inputs),
            Ok(Item::Message { parsed, input }) => {
                count_message(&parsed, number, &mut self.counts, &mut self.checks);
                self.inputs.extend(input);
            }
            Err(problem) => {
                let rests_on = match problem {
                    LineProblem::Secret(_) => "recording format: secrets never enter a recording",
                    _ => "recording format (corpus/README.md)",
                };
                self.checks.add(
                    problem.code(),
                    Severity::Error,
                    false,
                    rests_on,
                    number,
                    problem.to_string(),
                );
            }
        }
    }

    fn merge_stats(&mut self, other: Self) {
        let (a, b) = (&mut self.counts, other.counts);
        a.accepted += b.accepted;
        a.plain += b.plain;
        a.base64 += b.base64;
        a.rejected += b.rejected;
        a.with_deviations += b.with_deviations;
        self.checks.merge(other.checks);
    }
}

/// Replays one recording. The calling thread reads lines and hands them out in batches; parse
/// workers (one per core) do the expensive part (JSON, secret checks, message parsing); one
/// collector thread owns the tracker. The tracker's report does not depend on the order its
/// inputs arrive in, and checks keep their examples by line number, so the report is the same
/// whatever the threads' timing.
pub(crate) fn replay(
    name: &str,
    input: impl BufRead,
    waivers: &Waivers,
    mut progress: impl FnMut(usize),
) -> std::io::Result<SessionReport> {
    let mut reader = Reader::new(input);
    // The sources come from the session line, which can only be the first line; a recording
    // without one is judged as observing all three.
    let mut sources = Sources::ALL;
    let mut head = Batch::default();
    let mut lines = 0;
    if let Some(first) = reader.next_raw()? {
        progress(first.bytes);
        lines = first.number;
        let first = first.read();
        match first.item {
            Ok(Item::Session(s)) => sources = s,
            _ => head.absorb(first),
        }
    }
    let settings = Settings {
        sources,
        ..Settings::default()
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 4);
    let (tracker, totals, read) = std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::sync_channel::<Batch>(2 * workers);
        let collector = scope.spawn(move || {
            let mut tracker = Tracker::new(settings);
            let mut totals = Batch::default();
            for batch in done_rx {
                let Batch {
                    inputs,
                    counts,
                    checks,
                } = batch;
                inputs.into_iter().for_each(|i| tracker.handle(i));
                totals.merge_stats(Batch {
                    inputs: Vec::new(),
                    counts,
                    checks,
                });
            }
            (tracker, totals)
        });
        let mut jobs = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = mpsc::sync_channel::<Vec<RawText>>(2);
            let done = done_tx.clone();
            scope.spawn(move || {
                for raw_lines in rx {
                    let mut batch = Batch::default();
                    raw_lines
                        .into_iter()
                        .for_each(|raw| batch.absorb(raw.read()));
                    if done.send(batch).is_err() {
                        break;
                    }
                }
            });
            jobs.push(tx);
        }
        // The collector outlives every sender; a send fails only if it panicked, which the
        // join below reports.
        let _ = done_tx.send(head);
        drop(done_tx);
        let mut batch = Vec::with_capacity(BATCH);
        let mut next = 0usize;
        let mut send = |batch: Vec<RawText>| {
            if let Some(job) = jobs.get(next % workers) {
                let _ = job.send(batch);
            }
            next += 1;
        };
        let read = loop {
            match reader.next_raw() {
                Ok(Some(raw)) => {
                    progress(raw.bytes);
                    lines = raw.number;
                    batch.push(raw);
                    if batch.len() == BATCH {
                        send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        if !batch.is_empty() {
            send(batch);
        }
        drop(jobs);
        let (tracker, totals) = collector
            .join()
            .map_err(|_| std::io::Error::other("the tracker thread panicked"))?;
        Ok::<_, std::io::Error>((tracker, totals, read))
    })?;
    read?;
    Ok(judge(
        name,
        lines,
        sources,
        totals.counts,
        totals.checks,
        &tracker,
        waivers,
    ))
}

const MESSAGE_SHAPE: &str = "seed: Verify the connection and after (documented message shape)";

pub(crate) fn count_message(
    parsed: &Result<cvnotify_core::Parsed, cvnotify_core::ParseError>,
    line: u32,
    counts: &mut MessageCounts,
    checks: &mut Checks,
) {
    match parsed {
        Ok(p) => {
            counts.accepted += 1;
            match p.encoding {
                cvnotify_core::Encoding::Plain => counts.plain += 1,
                cvnotify_core::Encoding::Base64 => counts.base64 += 1,
            }
            if !p.deviations.is_empty() {
                counts.with_deviations += 1;
            }
            for d in &p.deviations {
                checks.add(
                    d.code(),
                    Severity::Warning,
                    true,
                    MESSAGE_SHAPE,
                    line,
                    d.to_string(),
                );
            }
        }
        Err(e) => {
            counts.rejected += 1;
            checks.add(
                "message-rejected",
                Severity::Error,
                false,
                MESSAGE_SHAPE,
                line,
                e.to_string(),
            );
        }
    }
}

fn platform_name(p: &PlatformType) -> String {
    p.as_str().to_string()
}

fn finding_report(f: &Finding, waivers: &Waivers) -> FindingReport {
    let info = f.code.info();
    FindingReport {
        code: info.code,
        severity: info.severity.as_str(),
        rests_on: info.clause,
        summary: info.summary,
        at: format_time(f.at),
        millis: f.at.0,
        iteration_id: f.iteration_id,
        platform: f.platform.as_ref().map(platform_name),
        evidence: f.evidence.iter().map(|s| s.evidence.get()).collect(),
        waived: waivers.waived(info.code),
    }
}

pub(crate) fn judge(
    name: &str,
    lines: u32,
    sources: Sources,
    messages: MessageCounts,
    checks: Checks,
    tracker: &Tracker,
    waivers: &Waivers,
) -> SessionReport {
    let mut verdict = Verdict::Pass;
    let checks: Vec<Check> = checks
        .by_code
        .into_iter()
        .map(|(code, (severity, deviation, rests_on, count, examples))| {
            let waived = waivers.waived(&code);
            if !waived {
                verdict = verdict.max(Verdict::of(severity, deviation));
            }
            let severity = if deviation {
                "deviation"
            } else {
                severity.as_str()
            };
            Check {
                code,
                severity,
                rests_on,
                count,
                waived,
                examples,
            }
        })
        .collect();
    let projects: Vec<ProjectSection> = tracker
        .report()
        .into_iter()
        .map(|r| {
            let findings: Vec<FindingReport> = r
                .findings
                .iter()
                .map(|f| finding_report(f, waivers))
                .collect();
            let project_verdict = r
                .findings
                .iter()
                .filter(|f| !waivers.waived(f.code.as_str()))
                .map(|f| Verdict::of(f.code.severity(), false))
                .max()
                .unwrap_or(Verdict::Pass);
            verdict = verdict.max(project_verdict);
            ProjectSection {
                project_id: r.project_id,
                verdict: project_verdict,
                phase: r.phase.as_str(),
                history: r
                    .history
                    .iter()
                    .map(|(s, p): &(_, Phase)| HistoryEntry {
                        millis: s.at.0,
                        phase: p.as_str(),
                        line: s.evidence.get(),
                    })
                    .collect(),
                findings,
            }
        })
        .collect();
    let mut source_names = Vec::new();
    for (on, n) in [
        (sources.queue, "queue"),
        (sources.training_api, "training-api"),
        (sources.polling && !sources.training_api, "polling"),
        (sources.container, "container"),
    ] {
        if on {
            source_names.push(n);
        }
    }
    SessionReport {
        file: name.to_string(),
        verdict,
        lines,
        sources: source_names,
        messages,
        checks,
        projects,
    }
}
