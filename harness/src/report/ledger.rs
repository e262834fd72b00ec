//! The ledger: the one place a session is judged. Every recording line, live or replayed, is
//! posted the same way ([`post`]: its messages and problems to the [`Tally`], its run marks to
//! the [`Runs`], its lifecycle inputs to the tracker and its journal to the client judge), and
//! every report comes from [`judge`]. A live session keeps a [`Ledger`] fed with the lines it
//! records; replay posts the lines it reads on parse workers and hands the inputs and journal
//! to one collector: so a live report equals the replay of its recording by construction.

use cvnotify_core::client::ClientEvent;
use cvnotify_core::lifecycle::facts::ProjectFacts;
use cvnotify_core::lifecycle::{
    Finding, Input, Phase, Settings, Severity, Sources, Timestamp, Tracker, Verdicts,
};
use cvnotify_core::{PlatformType, ProjectId};

use super::client::ClientRuns;
use super::in_order::in_order;
use super::model::{
    CheckReport, FindingReport, HistoryEntry, MessageCounts, ProjectSection, SessionReport,
    Verdict, Waivers, known_codes,
};
use super::runs::Runs;
use super::tally::Tally;
use crate::recording::{Duty, Item, LineProblem, Scope, SourceName, format_time};

/// What a line hands on once its messages, problems and run marks are posted: lifecycle
/// inputs for the tracker, or a journal entry for the client judge.
#[derive(Debug)]
pub enum Posting {
    /// Nothing more.
    Nothing,
    /// One lifecycle input (a message's).
    Input(Input),
    /// Lifecycle inputs (an API answer may give several; a blob, a tick one).
    Inputs(Vec<Input>),
    /// A journal entry, which the client judge takes in line order.
    Journal(Journal),
}

/// A journal entry: a run's start (its scenario and duties) or a client event.
#[derive(Debug)]
pub enum Journal {
    /// A run starts, with this scenario and these duties.
    Start(Option<String>, Vec<Duty>),
    /// The client did or saw something.
    Event(Timestamp, Box<ClientEvent>),
}

impl Journal {
    /// Hands the entry of line `line` to the client judge.
    pub fn enter(self, line: u32, clients: &mut ClientRuns) {
        match self {
            Self::Start(scenario, duties) => clients.start(line, scenario, duties),
            Self::Event(at, event) => clients.handle(line, at, *event),
        }
    }
}

/// Posts line `number`, read as `item` (or refused with a problem): its messages and problems
/// go to `tally`, its run marks to `runs`; what is left for the tracker and the client judge
/// is returned. It is the same for a live session and a replay, in any order of lines.
#[inline]
pub fn post(
    number: u32,
    item: Result<Item, LineProblem>,
    tally: &mut Tally,
    runs: &mut Runs,
) -> Posting {
    match item {
        Ok(Item::Session {
            version,
            sources,
            scope,
            scenario,
            duties,
            partial,
        }) => {
            runs.start(number, version, sources, scope, partial);
            Posting::Journal(Journal::Start(scenario, duties))
        }
        Ok(Item::Client { at, event }) => {
            tally.saw(at);
            Posting::Journal(Journal::Event(at, Box::new(event)))
        }
        Ok(Item::End { outcome, reason }) => {
            runs.end(number, outcome, reason);
            Posting::Nothing
        }
        Ok(Item::Inputs(inputs)) => {
            inputs.iter().for_each(|i| tally.saw(i.at));
            Posting::Inputs(inputs)
        }
        Ok(Item::Unavailable { operation, detail }) => {
            tally.api_unavailable(operation, number, &detail);
            Posting::Nothing
        }
        Ok(Item::Message {
            message_id,
            parsed,
            input,
        }) => {
            tally.message(message_id, &parsed, number);
            match input {
                Some(i) => {
                    tally.saw(i.at);
                    Posting::Input(i)
                }
                None => Posting::Nothing,
            }
        }
        Err(problem) => {
            tally.line_problem(&problem, number);
            Posting::Nothing
        }
    }
}

/// A session's books as one value, fed line by line: the tally, the runs, the lifecycle
/// tracker and the client judge. A live session keeps one beside its recorder and posts every
/// line it records to it, so what it reports is what a replay of the recording reports.
#[derive(Debug)]
pub struct Ledger {
    tally: Tally,
    runs: Runs,
    tracker: Tracker,
    clients: ClientRuns,
}

impl Ledger {
    /// An empty ledger whose tracker judges only what `sources` observe (its live reports say
    /// nothing of a source the session does not watch; the report narrows by the runs' sources
    /// as a replay does).
    pub fn new(sources: Sources) -> Self {
        let mut tracker = Tracker::new(Settings::default());
        tracker.narrow_sources(sources);
        Self {
            tally: Tally::default(),
            runs: Runs::default(),
            tracker,
            clients: ClientRuns::default(),
        }
    }

    /// Takes in line `number` ([`post`]), and returns the project whose facts it added to,
    /// when it added to one's.
    pub fn absorb(&mut self, number: u32, item: Result<Item, LineProblem>) -> Option<ProjectId> {
        match post(number, item, &mut self.tally, &mut self.runs) {
            Posting::Nothing => None,
            Posting::Input(input) => self.apply(input),
            Posting::Inputs(inputs) => inputs.into_iter().fold(None, |p, i| self.apply(i).or(p)),
            Posting::Journal(journal) => {
                journal.enter(number, &mut self.clients);
                None
            }
        }
    }

    fn apply(&mut self, input: Input) -> Option<ProjectId> {
        let project = input.event.project_id();
        self.tracker.handle(input);
        project
    }

    /// The lifecycle tracker.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The message tally so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// What every run so far observes.
    pub fn sources(&self) -> Sources {
        self.runs.sources()
    }

    /// The client judge of the run in progress.
    pub fn client(&self) -> Option<&cvnotify_core::client::ClientJudge> {
        self.clients.current()
    }

    /// Judges what was posted ([`judge`]); `lines` is the number of the last line.
    pub fn report(self, name: &str, lines: u32, rules: &Rules) -> SessionReport {
        judge(
            name,
            lines,
            self.tally,
            &self.runs,
            std::iter::once(self.tracker),
            &self.clients,
            rules,
            None,
        )
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
    let platform = f.platform.as_ref().map(platform_name);
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
    // A finding counts towards the verdict unless its report says it is waived or deferred.
    let mut verdict = Verdict::Pass;
    let findings: Vec<FindingReport> = r
        .findings
        .iter()
        .map(|f| {
            let report = finding_report(f, waivers, partial);
            if !report.waived && !report.deferred {
                verdict = verdict.max(Verdict::of(f.code.severity(), false));
            }
            report
        })
        .collect();
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

/// The sources' names, as the session line names them.
fn source_names(sources: Sources) -> Vec<&'static str> {
    SourceName::names(sources)
        .into_iter()
        .map(SourceName::as_str)
        .collect()
}

/// What a stream of project sections is handed, one at a time, as each project is judged: the
/// session they belong to (its name, sources, waivers and files; not yet its checks, counts
/// or verdict) and the section.
pub type ProjectSink<'a> = &'a mut dyn FnMut(&SessionReport, ProjectSection);

/// Judges a session: its tally, its runs, its trackers' projects and its client runs become a
/// [`SessionReport`] with its verdict (the most severe of every check and finding that is not
/// waived). `lines` is the number of the last line read or recorded. This is the only place a
/// session is judged: [`Ledger::report`] and replay both end here.
///
/// With a sink, each project's section is handed to it as it is judged instead of being kept
/// (`replay --format jsonl`): the report's `projects` stay empty and `projects_streamed`
/// counts them; the verdict and every check are the same.
///
/// The session's projects may be held by several trackers, given in the order of their
/// projects' ids: disjoint, in ascending ranges, each with the same settings and brought to
/// the session's latest time (a replay that spilled projects to disk hands them back so, one
/// range at a time; a ledger has one tracker).
#[allow(clippy::too_many_arguments)]
pub fn judge(
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
    let waived_codes: Vec<&'static str> = known_codes()
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
    in_order(trackers, make, |judged_project| match judged_project {
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
    let checks: Vec<CheckReport> = tally
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
            CheckReport {
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
