//! [`Tracker`]: many projects at once. Feed it [`Input`]s with [`Tracker::handle`] in any order;
//! read where each project stands and what departs from the documented lifecycle with
//! [`Tracker::report`]. Handling only records facts (cheap, no judgement); the report judges them
//! by folding the transition table over each project's steps in `(at, evidence)` order and by
//! checking deadlines against the latest time seen. So the report depends only on the set of
//! inputs: not on their arrival order, not on how they were split between merged trackers.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use super::facts::{
    Config, ContainmentMemo, IterationFacts, PlatformFacts, ProjectFacts, StoredUri, insert_sorted,
    keep_first,
};
use super::finding::{Finding, FindingCode, Sources};
use super::input::{Delivery, Event, Input, Stamp, Timestamp};
use super::transitions::{self, Guard, Next, Phase, Step};
use crate::blob::{BlobKind, PlatformType, classify_blob};
use crate::id::{IterationId, ProjectId};
use crate::notification::{ExportStatus, Notification, TrainingStatus};

/// How long the documented events may take before their absence is a finding, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deadlines {
    /// Configuration to `ConnectionTest`. Default 5 minutes.
    pub connection_test: u64,
    /// TrainProject to the `Training` notification. Default 24 hours (an advanced training may
    /// run for its whole reserved budget).
    pub training_notification: u64,
    /// `ExportCompleted` to its backup blob being listed. Default 15 minutes.
    pub backup_blob: u64,
    /// A backup blob being listed to its `ExportCompleted`. Default 15 minutes.
    pub blob_announcement: u64,
}

const MINUTE: u64 = 60_000;

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            connection_test: 5 * MINUTE,
            training_notification: 24 * 60 * MINUTE,
            backup_blob: 15 * MINUTE,
            blob_announcement: 15 * MINUTE,
        }
    }
}

/// What a tracker is told about the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Settings {
    /// The sources the run observes.
    pub sources: Sources,
    /// The deadlines.
    pub deadlines: Deadlines,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            sources: Sources::ALL,
            deadlines: Deadlines::default(),
        }
    }
}

/// Why two trackers cannot be merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeError {
    /// They judge with different settings.
    SettingsDiffer,
}

impl core::fmt::Display for MergeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("trackers with different settings cannot be merged")
    }
}

impl core::error::Error for MergeError {}

/// The lifecycle of many projects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tracker {
    settings: Settings,
    now: Timestamp,
    /// Each project's facts in a box of their own: the map's nodes then hold only ids and
    /// pointers (24 bytes a project, not 136), so finding a project among tens of thousands
    /// touches nodes that stay in cache, and only the project itself is a miss.
    projects: BTreeMap<ProjectId, Box<ProjectFacts>>,
    /// The container prefixes of backup-form model URIs, shared by every notice that names one.
    prefixes: BTreeSet<Arc<str>>,
}

/// Where one project stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectReport {
    /// The project.
    pub project_id: ProjectId,
    /// The phase after the last step.
    pub phase: Phase,
    /// Every phase change, with the step that made it (the first entry is the start).
    pub history: Vec<(Stamp, Phase)>,
    /// What departs from the documented lifecycle, sorted by time.
    pub findings: Vec<Finding>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            now: Timestamp(0),
            projects: BTreeMap::new(),
            prefixes: BTreeSet::new(),
        }
    }

    /// The settings.
    pub const fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Judges by fewer sources: only what both the current sources and `sources` observe. A
    /// recording whose runs observed different sources (or a source that turned out not to be
    /// observable, as a training API that refused the key) is judged by what was observed
    /// throughout. Facts are kept; only the judgement changes.
    pub fn narrow_sources(&mut self, sources: Sources) {
        self.settings.sources = self.settings.sources.intersect(sources);
    }

    /// The latest `at` seen.
    pub const fn now(&self) -> Timestamp {
        self.now
    }

    /// Time passed up to `at`, with nothing else observed (what an [`Event::Tick`] input says):
    /// a tracker that holds only some of a session's projects is brought to the session's
    /// latest time before it is judged.
    pub fn pass_time(&mut self, at: Timestamp) {
        self.now = self.now.max(at);
    }

    /// Whether it holds facts about `project`.
    pub fn holds(&self, project: ProjectId) -> bool {
        self.projects.contains_key(&project)
    }

    /// How many projects it holds facts about.
    pub fn len(&self) -> usize {
        self.projects.len()
    }

    /// Whether it holds facts about no project.
    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
    }

    /// Splits off the projects from `at` on (by id) into a tracker of their own, with the same
    /// settings and time: the two, merged, are this tracker again. A tracker too big to judge
    /// at once is taken apart this way, range by range.
    pub fn split_off(&mut self, at: ProjectId) -> Self {
        Self {
            settings: self.settings,
            now: self.now,
            projects: self.projects.split_off(&at),
            prefixes: self.prefixes.clone(),
        }
    }

    /// The facts kept about each project.
    pub const fn projects(&self) -> &BTreeMap<ProjectId, Box<ProjectFacts>> {
        &self.projects
    }

    fn iteration(&mut self, p: ProjectId, i: IterationId) -> Option<&mut IterationFacts> {
        self.projects.entry(p).or_default().iteration_mut(i)
    }

    /// Records one input. Never fails: every input is a fact; judging happens in
    /// [`Tracker::report`].
    pub fn handle(&mut self, input: Input) {
        let stamp = input.stamp();
        self.now = self.now.max(input.at);
        match input.event {
            Event::Notification {
                notification,
                delivery,
            } => self.notification(notification, delivery, stamp),
            Event::Configured {
                project_id,
                queue,
                container,
            } => {
                let project = self.projects.entry(project_id).or_default();
                insert_sorted(&mut project.configs, (stamp, Config { queue, container }));
            }
            Event::TrainingRequested {
                project_id,
                iteration_id,
            } => {
                if let Some(facts) = self.iteration(project_id, iteration_id) {
                    keep_first(&mut facts.extra_mut().requested, Some(&stamp));
                }
            }
            Event::ExportRequested {
                project_id,
                iteration_id,
                platform,
                flavor,
            } => {
                self.platform(
                    project_id,
                    iteration_id,
                    PlatformType::Known(platform),
                    |p| {
                        keep_first(&mut p.requested, Some(&(stamp, flavor)));
                    },
                );
            }
            Event::IterationPolled {
                project_id,
                iteration_id,
                status,
            } => {
                if let Some(facts) = self.iteration(project_id, iteration_id) {
                    keep_first(facts.extra_mut().polled.slot_mut(status), Some(&stamp));
                }
            }
            Event::ExportPolled {
                project_id,
                iteration_id,
                platform,
                status,
            } => {
                self.platform(
                    project_id,
                    iteration_id,
                    PlatformType::Known(platform),
                    |p| {
                        keep_first(p.polled.slot_mut(status), Some(&stamp));
                    },
                );
            }
            Event::ApiRejected {
                project_id,
                operation,
                code,
            } => {
                let project = self.projects.entry(project_id).or_default();
                insert_sorted(&mut project.rejections, (stamp, operation, code));
            }
            Event::BlobCreated { name, size } => {
                if let BlobKind::Backup(b) = classify_blob(&name) {
                    self.platform(
                        b.project_id(),
                        b.iteration_id(),
                        b.platform().clone(),
                        |p| {
                            keep_first(&mut p.blob, Some(&(stamp, size)));
                        },
                    );
                }
            }
            Event::BlobDeleted { name } => {
                if let BlobKind::Backup(b) = classify_blob(&name) {
                    self.platform(
                        b.project_id(),
                        b.iteration_id(),
                        b.platform().clone(),
                        |p| {
                            keep_first(&mut p.blob_gone, Some(&stamp));
                        },
                    );
                }
            }
            Event::Tick => {}
        }
    }

    fn notification(&mut self, notification: Notification, delivery: Delivery, stamp: Stamp) {
        match notification {
            Notification::ConnectionTest { project_id } => {
                self.projects
                    .entry(project_id)
                    .or_default()
                    .connection_tests
                    .add(delivery, stamp);
            }
            Notification::Training {
                project_id,
                iteration_id,
                status,
            } => {
                if let Some(facts) = self.iteration(project_id, iteration_id) {
                    facts.add_training(status, delivery, stamp);
                }
            }
            Notification::Export {
                project_id,
                iteration_id,
                status,
                model_uri,
            } => {
                let uri = model_uri
                    .map(|u| StoredUri::new(u, project_id, iteration_id, &mut self.prefixes));
                if let Some(facts) = self.iteration(project_id, iteration_id) {
                    facts.add_notice(status, uri, delivery, stamp);
                }
            }
            // No project to attach it to; the parser already reported the deviation.
            Notification::Unrecognized { .. } => {}
        }
    }

    fn platform(
        &mut self,
        p: ProjectId,
        i: IterationId,
        platform: PlatformType,
        f: impl FnOnce(&mut PlatformFacts),
    ) {
        if let Some(facts) = self.iteration(p, i)
            && let Some(platform) = facts.extra_mut().platform_mut(platform)
        {
            f(platform);
        }
    }

    /// Adds what `other` saw. Associative, commutative and idempotent: any split of a stream
    /// between trackers, merged in any grouping, equals one tracker that saw it all.
    pub fn merge(&mut self, other: &Self) -> Result<(), MergeError> {
        if self.settings != other.settings {
            return Err(MergeError::SettingsDiffer);
        }
        self.now = self.now.max(other.now);
        self.prefixes.extend(other.prefixes.iter().cloned());
        for (id, facts) in &other.projects {
            self.projects.entry(*id).or_default().merge(facts);
        }
        Ok(())
    }

    /// Takes in what `other` saw, moving its projects (no copy for a project only it saw): the
    /// same result as [`Tracker::merge`], for trackers that split one stream by project, as
    /// shards do.
    pub fn absorb(&mut self, other: Self) -> Result<(), MergeError> {
        if self.settings != other.settings {
            return Err(MergeError::SettingsDiffer);
        }
        self.now = self.now.max(other.now);
        self.prefixes.extend(other.prefixes);
        for (id, facts) in other.projects {
            match self.projects.entry(id) {
                alloc::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(facts);
                }
                alloc::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().merge(&facts),
            }
        }
        Ok(())
    }

    /// Every project's phase, history and findings, by project id.
    pub fn report(&self) -> Vec<ProjectReport> {
        self.reports().collect()
    }

    /// Every project's report, by id, made one at a time as the iterator is advanced (a caller
    /// that turns each into its own form never holds them all).
    pub fn reports(&self) -> impl Iterator<Item = ProjectReport> + '_ {
        let verdicts = self.verdicts();
        self.projects
            .iter()
            .map(move |(id, facts)| verdicts.judge(*id, facts))
    }

    /// Every project's report with its facts, by id, taking the tracker apart as it goes: a
    /// project's facts are handed over (to be dropped) once its report is made, so a caller
    /// that keeps only its own form of each report never holds the reports and all the facts
    /// at once. Judging a project needs only its facts, the settings and the time.
    pub fn into_reports(self) -> impl Iterator<Item = (ProjectReport, ProjectFacts)> {
        let (verdicts, projects) = self.into_projects();
        projects.map(move |(id, facts)| (verdicts.judge(id, &facts), facts))
    }

    /// The tracker taken apart: what judging needs besides a project's facts, and every
    /// project's facts by id, handed over one at a time. Each project is judged on its own
    /// ([`Verdicts::judge`]), so a caller may judge them on several threads, in any order.
    pub fn into_projects(self) -> (Verdicts, impl Iterator<Item = (ProjectId, ProjectFacts)>) {
        let verdicts = self.verdicts();
        (
            verdicts,
            self.projects.into_iter().map(|(id, facts)| (id, *facts)),
        )
    }

    /// One project's report.
    pub fn project_report(&self, id: ProjectId) -> Option<ProjectReport> {
        let verdicts = self.verdicts();
        self.projects
            .get(&id)
            .map(|facts| verdicts.judge(id, facts))
    }

    const fn verdicts(&self) -> Verdicts {
        Verdicts {
            settings: self.settings,
            now: self.now,
        }
    }
}

/// What judging one project needs besides its facts: the tracker's settings and the latest
/// time it saw. A plain value (`Copy`), so projects can be judged apart from the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Verdicts {
    settings: Settings,
    now: Timestamp,
}

impl Verdicts {
    /// One project's report, from its facts.
    pub fn judge(&self, project_id: ProjectId, facts: &ProjectFacts) -> ProjectReport {
        let mut judge = Judge {
            tracker: self,
            project_id,
            facts,
            findings: Vec::new(),
            containment: None,
        };
        let (phase, history) = judge.fold();
        judge.check();
        let mut findings = judge.findings;
        findings.sort();
        ProjectReport {
            project_id,
            phase,
            history,
            findings,
        }
    }
}

/// Whether `then` came more than `deadline` milliseconds after `from`.
fn late(from: Stamp, then: Stamp, deadline: u64) -> bool {
    then.at > from.at.plus_millis(deadline)
}

/// A step of one project, ready for the table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Planned {
    stamp: Stamp,
    step: Step,
    iteration: Option<IterationId>,
    platform: Option<PlatformType>,
}

/// Judges one project.
struct Judge<'a> {
    tracker: &'a Verdicts,
    project_id: ProjectId,
    facts: &'a ProjectFacts,
    findings: Vec<Finding>,
    /// The last backup prefix checked against a container, and the answer.
    containment: Option<ContainmentMemo>,
}

impl Judge<'_> {
    fn sources(&self) -> Sources {
        self.tracker.settings.sources
    }

    fn raise(
        &mut self,
        code: FindingCode,
        at: Timestamp,
        iteration: Option<IterationId>,
        platform: Option<PlatformType>,
        evidence: Vec<Stamp>,
    ) {
        if self.sources().covers(code.info().needs) {
            let f = Finding {
                at,
                code,
                project_id: self.project_id,
                iteration_id: iteration,
                platform,
                evidence,
            };
            self.findings.push(f);
        }
    }

    /// Whether a deadline counted from `from` has passed by the latest time seen.
    fn expired(&self, from: Stamp, deadline: u64) -> Option<Timestamp> {
        let due = from.at.plus_millis(deadline);
        (self.tracker.now >= due).then_some(due)
    }

    /// Every step of the project, in judging order. A notification content counts once, at
    /// its first message (redeliveries and copies are `duplicate-delivery`), except
    /// `ConnectionTest`, where each distinct message is a step so that repeats are judged.
    fn steps(&self) -> Vec<Planned> {
        let facts = self.facts;
        let plan = |stamp, step, iteration, platform| Planned {
            stamp,
            step,
            iteration,
            platform,
        };
        let mut steps = Vec::new();
        for (stamp, _) in &facts.configs {
            steps.push(plan(*stamp, Step::Configure, None, None));
        }
        for r in facts.connection_tests.messages() {
            steps.push(plan(r.first(), Step::ConnectionTest, None, None));
        }
        for (id, it) in &facts.iterations {
            if let Some(s) = it.requested() {
                steps.push(plan(s, Step::TrainRequest, Some(*id), None));
            }
            let outcomes = [
                (TrainingStatus::TrainingCompleted, Step::TrainingCompleted),
                (TrainingStatus::TrainingFailed, Step::TrainingFailed),
            ];
            for (status, step) in outcomes {
                if let Some(s) = it.training().first(status) {
                    steps.push(plan(s, step, Some(*id), None));
                }
            }
            for p in it.platforms() {
                if let Some((s, _)) = p.requested {
                    steps.push(plan(
                        s,
                        Step::ExportRequest,
                        Some(*id),
                        Some(p.platform.clone()),
                    ));
                }
            }
            for n in it.notices() {
                let step = match n.status {
                    ExportStatus::ExportCompleted => Step::ExportCompleted,
                    ExportStatus::ExportFailed => Step::ExportFailed,
                };
                if let Some(s) = n.deliveries.first() {
                    steps.push(plan(s, step, Some(*id), n.platform()));
                }
            }
        }
        // By time; steps at the same instant in the order the lifecycle allows (the `Step`
        // order: configure, test, request, outcome, export), so that equal times (queue times
        // have one-second resolution) never make the verdict depend on evidence numbers.
        // A ConnectionTest's queue time known only to the second (a whole second) is an
        // interval: the configuration that caused it may have an API time (milliseconds) later
        // in that same second. So the queue times of such a second (the test's, and any other
        // notification's known to that second) are ordered at its end: after the API steps in
        // it, and among themselves in the lifecycle's order.
        let whole = |p: &Planned| p.stamp.at.0.is_multiple_of(1000) && p.step.is_notification();
        let tested: Vec<u64> = steps
            .iter()
            .filter(|p| p.step == Step::ConnectionTest && whole(p))
            .map(|p| p.stamp.at.0 / 1000)
            .collect();
        let order_at = |p: &Planned| {
            let at = p.stamp.at.0;
            if whole(p) && tested.contains(&(at / 1000)) {
                at + 999
            } else {
                at
            }
        };
        steps.sort_by(|a, b| {
            (
                order_at(a),
                a.step,
                a.stamp.at,
                &a.iteration,
                &a.platform,
                a.stamp.evidence,
            )
                .cmp(&(
                    order_at(b),
                    b.step,
                    b.stamp.at,
                    &b.iteration,
                    &b.platform,
                    b.stamp.evidence,
                ))
        });
        steps
    }

    fn guard(&self, step: &Planned, connection_tested: bool) -> Guard {
        let iteration = step.iteration.and_then(|i| self.facts.iteration(i));
        match step.step {
            Step::ConnectionTest if connection_tested => Guard::RepeatSinceConfigure,
            Step::ConnectionTest => Guard::FirstSinceConfigure,
            Step::TrainingCompleted | Step::TrainingFailed => {
                let requested = iteration.is_some_and(|it| it.requested().is_some());
                if requested || !self.sources().training_api {
                    Guard::Requested
                } else {
                    Guard::NotRequested
                }
            }
            Step::ExportCompleted | Step::ExportFailed => {
                // A completion at the same instant counts as before: the lifecycle allows that
                // order, and queue times cannot tell the two apart.
                let completed = iteration.and_then(IterationFacts::completed_at);
                if completed.is_some_and(|c| c.at <= step.stamp.at) {
                    Guard::TrainedBefore
                } else {
                    Guard::NotTrainedBefore
                }
            }
            Step::Configure | Step::TrainRequest | Step::ExportRequest => Guard::Always,
        }
    }

    /// Folds the transition table over the steps.
    fn fold(&mut self) -> (Phase, Vec<(Stamp, Phase)>) {
        let steps = self.steps();
        let mut phase = Phase::Configured;
        let mut history = Vec::new();
        if let Some(first) = steps.first().map(|s| s.stamp).or_else(|| self.first_fact()) {
            history.push((first, phase));
            let configured_first = steps.first().is_some_and(|s| s.step == Step::Configure);
            if !configured_first {
                self.raise(
                    FindingCode::UnconfiguredProject,
                    first.at,
                    None,
                    None,
                    vec![first],
                );
            }
        }
        let mut connection_tested = false;
        for step in steps {
            let guard = self.guard(&step, connection_tested);
            match step.step {
                Step::Configure => connection_tested = false,
                Step::ConnectionTest => connection_tested = true,
                _ => {}
            }
            let Some(row) = transitions::lookup(phase, step.step, guard) else {
                continue;
            };
            if let Some(code) = row.finding {
                self.raise(
                    code,
                    step.stamp.at,
                    step.iteration,
                    step.platform.clone(),
                    vec![step.stamp],
                );
            }
            if let Next::To(next) = row.next
                && next != phase
            {
                phase = next;
                history.push((step.stamp, next));
            }
        }
        (phase, history)
    }

    /// The earliest stamp of any fact, for projects seen only through polls, blobs or refusals.
    fn first_fact(&self) -> Option<Stamp> {
        let f = self.facts;
        let mut stamps: Vec<Stamp> = f.rejections.iter().map(|r| r.0).collect();
        for (_, it) in &f.iterations {
            stamps.extend(
                [
                    it.polled().training,
                    it.polled().completed,
                    it.polled().failed,
                ]
                .into_iter()
                .flatten(),
            );
            for p in it.platforms() {
                stamps.extend(
                    [p.polled.exporting, p.polled.done, p.polled.failed]
                        .into_iter()
                        .flatten(),
                );
                stamps.extend(p.blob.map(|b| b.0));
                stamps.extend(p.blob_gone);
            }
        }
        stamps.into_iter().min()
    }

    /// The findings that are not about one step: deadlines, contradictions, duplicates.
    fn check(&mut self) {
        let facts = self.facts;
        let deadlines = self.tracker.settings.deadlines;
        // Connection test: after the latest configuration with a queue, by the deadline.
        if let Some((configured, _)) = facts.latest_queue_config() {
            let tested = facts
                .connection_tests
                .messages()
                .iter()
                .map(|r| r.first())
                .filter(|t| t.at >= configured.at)
                .min();
            match tested {
                None => {
                    if let Some(due) = self.expired(*configured, deadlines.connection_test) {
                        self.raise(
                            FindingCode::ConnectionTestMissing,
                            due,
                            None,
                            None,
                            vec![*configured],
                        );
                    }
                }
                Some(t) if late(*configured, t, deadlines.connection_test) => self.raise(
                    FindingCode::ConnectionTestLate,
                    t.at,
                    None,
                    None,
                    vec![*configured, t],
                ),
                Some(_) => {}
            }
        }
        for r in facts.connection_tests.messages() {
            if r.times() > 1 {
                self.raise(
                    FindingCode::DuplicateDelivery,
                    r.first().at,
                    None,
                    None,
                    vec![r.first()],
                );
            }
        }
        for (stamp, _, _) in &facts.rejections {
            self.raise(FindingCode::ApiRejected, stamp.at, None, None, vec![*stamp]);
        }
        for (id, it) in &facts.iterations {
            self.check_training(*id, it);
            self.check_exports(*id, it);
        }
    }

    fn check_training(&mut self, id: IterationId, it: &IterationFacts) {
        let deadlines = self.tracker.settings.deadlines;
        let completed = it.training().first(TrainingStatus::TrainingCompleted);
        let failed = it.training().first(TrainingStatus::TrainingFailed);
        if let Some(requested) = it.requested()
            && completed.is_none()
            && failed.is_none()
            && let Some(due) = self.expired(requested, deadlines.training_notification)
        {
            self.raise(
                FindingCode::TrainingNotificationMissing,
                due,
                Some(id),
                None,
                vec![requested],
            );
        }
        if let Some(requested) = it.requested()
            && let Some(outcome) = completed.into_iter().chain(failed).min()
            && late(requested, outcome, deadlines.training_notification)
        {
            self.raise(
                FindingCode::TrainingNotificationLate,
                outcome.at,
                Some(id),
                None,
                vec![requested, outcome],
            );
        }
        if let (Some(c), Some(f)) = (completed, failed) {
            self.raise(
                FindingCode::TrainingStatusConflict,
                c.max(f).at,
                Some(id),
                None,
                vec![c.min(f), c.max(f)],
            );
        }
        let polled = it.polled();
        for (notified, polled) in [(completed, polled.failed), (failed, polled.completed)] {
            if let (Some(n), Some(p)) = (notified, polled) {
                self.raise(
                    FindingCode::TrainingContradictsPolling,
                    n.max(p).at,
                    Some(id),
                    None,
                    vec![n.min(p), n.max(p)],
                );
            }
        }
        for (status, first) in [
            (TrainingStatus::TrainingCompleted, completed),
            (TrainingStatus::TrainingFailed, failed),
        ] {
            if it.training().times(status) > 1
                && let Some(first) = first
            {
                // Every message that carried it (a redelivery of one message keeps its first).
                let mut evidence: Vec<Stamp> =
                    it.training().of(status).map(|r| r.first()).collect();
                evidence.sort();
                self.raise(
                    FindingCode::DuplicateDelivery,
                    first.at,
                    Some(id),
                    None,
                    evidence,
                );
            }
        }
    }

    fn check_exports(&mut self, id: IterationId, it: &IterationFacts) {
        let deadlines = self.tracker.settings.deadlines;
        for notice in it.notices() {
            let Some(first) = notice.deliveries.first() else {
                continue;
            };
            let platform = notice.platform();
            if notice.deliveries.times() > 1 {
                let mut evidence: Vec<Stamp> = notice
                    .deliveries
                    .messages()
                    .iter()
                    .map(|r| r.first())
                    .collect();
                evidence.sort();
                self.raise(
                    FindingCode::DuplicateDelivery,
                    first.at,
                    Some(id),
                    platform.clone(),
                    evidence,
                );
            }
            if let Some(stored) = &notice.uri {
                // A backup-form URI names the notice's own ids by construction; any other is
                // rebuilt and read.
                if let StoredUri::Other(uri) = stored
                    && let Some(Ok(name)) = uri.backup_blob_name()
                    && (name.project_id() != self.project_id || name.iteration_id() != id)
                {
                    self.raise(
                        FindingCode::ModelUriNamesOtherIds,
                        first.at,
                        Some(id),
                        platform.clone(),
                        vec![first],
                    );
                }
                let container = self
                    .facts
                    .config_at(first)
                    .and_then(|c| c.container.as_ref());
                if container.is_some_and(|c| {
                    !stored.in_container(self.project_id, id, c, &mut self.containment)
                }) {
                    self.raise(
                        FindingCode::ModelUriOutsideContainer,
                        first.at,
                        Some(id),
                        platform.clone(),
                        vec![first],
                    );
                }
            }
            // GetExports for the notice's platform.
            let job = match (&platform, notice.status) {
                (Some(p), ExportStatus::ExportCompleted) => {
                    it.platform(p).and_then(|f| f.polled.failed)
                }
                (Some(p), ExportStatus::ExportFailed) => it.platform(p).and_then(|f| f.polled.done),
                (None, _) => None,
            };
            if let Some(polled) = job {
                self.raise(
                    FindingCode::ExportContradictsPolling,
                    first.max(polled).at,
                    Some(id),
                    platform.clone(),
                    vec![first.min(polled), first.max(polled)],
                );
            }
            // The backup blob, when a container is configured (or observed without the API).
            if notice.status == ExportStatus::ExportCompleted && self.container_configured(first) {
                let blob = match &platform {
                    Some(p) => it.platform(p).and_then(|f| f.blob),
                    None => it.platforms().iter().filter_map(|f| f.blob).min(),
                };
                match blob {
                    None => {
                        if let Some(due) = self.expired(first, deadlines.backup_blob) {
                            self.raise(
                                FindingCode::BackupBlobMissing,
                                due,
                                Some(id),
                                platform.clone(),
                                vec![first],
                            );
                        }
                    }
                    Some((seen, _)) if late(first, seen, deadlines.backup_blob) => self.raise(
                        FindingCode::BackupBlobLate,
                        seen.at,
                        Some(id),
                        platform.clone(),
                        vec![first, seen],
                    ),
                    Some(_) => {}
                }
            }
        }
        for p in it.platforms() {
            let Some((created, _)) = p.blob else { continue };
            let announced = it
                .notices()
                .iter()
                .filter(|n| {
                    n.status == ExportStatus::ExportCompleted
                        && n.platform().is_none_or(|np| np == p.platform)
                })
                .filter_map(|n| n.deliveries.first())
                .min();
            match announced {
                None => {
                    if let Some(due) = self.expired(created, deadlines.blob_announcement) {
                        self.raise(
                            FindingCode::BackupBlobUnannounced,
                            due,
                            Some(id),
                            Some(p.platform.clone()),
                            vec![created],
                        );
                    }
                }
                Some(notice) if late(created, notice, deadlines.blob_announcement) => self.raise(
                    FindingCode::ExportNotificationLate,
                    notice.at,
                    Some(id),
                    Some(p.platform.clone()),
                    vec![created, notice],
                ),
                Some(_) => {}
            }
        }
    }

    fn container_configured(&self, at: Stamp) -> bool {
        if self.sources().training_api {
            self.facts
                .config_at(at)
                .is_some_and(|c| c.container.is_some())
        } else {
            self.sources().container
        }
    }
}
