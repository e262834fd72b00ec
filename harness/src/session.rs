//! The live session: what `watch`, `check`, `verify` and `simulate --record` (the simulation's
//! journal, through [`Session::journal`]) feed as they observe, as one sans-I/O value. It owns the lifecycle tracker, the message tally, the
//! [`Recorder`] and the live lines; drivers do the I/O and hand it what they saw, with the time
//! they saw it. Every input is recorded before it is applied, and the recorder hands out the
//! evidence numbers, so a number exists only for a line that was written: replaying the
//! recording gives exactly the report the session gives at its end ([`Session::finish`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use cvnotify_core::lifecycle::{
    Delivery, Event, Evidence, Input, MessageId, Settings, Sources, Timestamp, Tracker,
};
use cvnotify_core::{BlobKind, Notification, ParseError, ParseOptions, ProjectId};

use crate::recording::{
    ApiLine, At, BlobEvent, BlobLine, Duty, EndLine, FORMAT_VERSION, Item, Line, MessageLine,
    Outcome, Scope, SessionLine, SourceName, TickLine, Writer, api_events, format_time,
    unavailable,
};
use crate::report::{ClientRuns, Rules, Runs, SessionReport, Tally, session_report};

/// Where a session's recording goes.
pub type RecordingSink = Box<dyn Write + Send>;

/// Where a session's live lines go.
pub type LiveSink = Box<dyn Write + Send>;

/// Writes the recording, when there is one, and numbers its lines: line 1 is the session line.
/// Without a file the numbering goes on as if there were one, so evidence numbers mean the same
/// either way.
pub struct Recorder {
    writer: Option<Writer<RecordingSink>>,
    last: u32,
    /// Without a file: what each input line stood for (at most [`DESCRIBED`]), so that a
    /// report's evidence names the inputs themselves rather than lines nobody has.
    described: Option<BTreeMap<u32, String>>,
}

/// How many inputs a session without a recording describes for its report's evidence.
pub const DESCRIBED: usize = 65_536;

impl Recorder {
    /// A recorder writing to `sink` (nowhere when `None`), after the `lines` lines the
    /// recording already holds (a run appended to an earlier one continues its numbering).
    pub fn new(sink: Option<RecordingSink>, lines: u32) -> Self {
        let described = sink.is_none().then(BTreeMap::new);
        Self {
            writer: sink.map(Writer::new),
            last: lines,
            described,
        }
    }

    /// Writes `line` and returns its number: the evidence that stands for it.
    pub fn record(&mut self, line: &Line) -> io::Result<Evidence> {
        if let Some(w) = &mut self.writer {
            w.write(line)?;
        }
        self.last = self.last.saturating_add(1);
        if let Some(map) = &mut self.described
            && map.len() < DESCRIBED
            && let Some(text) = line.describe()
        {
            map.insert(self.last, text);
        }
        Evidence::new(self.last).ok_or_else(|| io::Error::other("line number 0"))
    }

    /// Without a file, what the inputs stood for, by evidence number (taken: asked once, at
    /// the end); `None` when there is a recording, whose line numbers are the evidence.
    pub fn take_described(&mut self) -> Option<BTreeMap<u32, String>> {
        self.described.take()
    }

    /// Whether there is a recording being written.
    pub fn is_recording(&self) -> bool {
        self.writer.is_some()
    }

    /// The number of the last line written.
    pub fn lines(&self) -> u32 {
        self.last
    }

    /// Flushes what was written so far.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// Flushes and closes the recording.
    pub fn finish(&mut self) -> io::Result<()> {
        match self.writer.take() {
            Some(w) => w.finish().map(drop),
            None => Ok(()),
        }
    }
}

/// A queue message as a driver received it (Get Messages or Peek Messages).
#[derive(Clone, Copy, Debug)]
pub struct Received<'a> {
    /// The queue's name.
    pub queue: &'a str,
    /// `MessageId`.
    pub message_id: &'a str,
    /// `InsertionTime`: when the message happened, for the lifecycle.
    pub insertion_time: Timestamp,
    /// `DequeueCount` (1 for a first delivery).
    pub dequeue_count: u32,
    /// `MessageText`, XML-unescaped.
    pub text: &'a str,
}

impl<'a> Received<'a> {
    /// A message as Get Messages listed it, from `queue`.
    pub fn listed(queue: &'a str, m: &'a cvnotify_wire::xml::ListedMessage) -> Self {
        Self {
            queue,
            message_id: &m.message_id,
            insertion_time: Timestamp(m.insertion_time),
            dequeue_count: m.dequeue_count.unwrap_or(1),
            text: m.message_text.as_deref().unwrap_or_default(),
        }
    }
}

/// What the driver should do with a message it handed to [`Session::message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// It was judged and recorded: delete it.
    Delete,
    /// It cannot be parsed and has attempts left: leave it to come back after its visibility
    /// timeout.
    Redeliver,
    /// It cannot be parsed and its attempts are used up: move it to `<queue>-poison` (or, where
    /// there is no later consumer, delete it), then tell [`Session::poisoned`].
    Poison,
}

/// What [`Session::message`] made of a message.
#[derive(Debug)]
pub struct Handled {
    /// What to do with it.
    pub disposition: Disposition,
    /// The notification, when it was accepted.
    pub notification: Option<Notification>,
    /// Why it was rejected, when it was.
    pub error: Option<ParseError>,
}

/// What a session's first line says about it.
#[derive(Clone, Debug)]
pub struct Header {
    /// The sources it observes.
    pub sources: Sources,
    /// Which projects it judges.
    pub scope: Scope,
    /// When it starts.
    pub at: Timestamp,
    /// The scenario the simulation plays, for a client's journal.
    pub scenario: Option<String>,
    /// The client's duties, for a client's journal.
    pub duties: Vec<Duty>,
    /// Whether the run sees only its share of the queue (one of several consumers).
    pub partial: bool,
}

impl Header {
    /// A header with no scenario and no duties.
    pub fn new(sources: Sources, scope: Scope, at: Timestamp) -> Self {
        Self {
            sources,
            scope,
            at,
            scenario: None,
            duties: Vec::new(),
            partial: false,
        }
    }
}

/// One live session.
pub struct Session {
    tracker: Tracker,
    tally: Tally,
    runs: Runs,
    recorder: Recorder,
    live: LiveSink,
    /// The container's listing as last observed.
    blobs: BTreeSet<String>,
    /// The client journal's runs.
    clients: ClientRuns,
    /// Per project, what the live lines have told so far: how many phase changes, which
    /// findings.
    told: std::collections::BTreeMap<ProjectId, (usize, Vec<cvnotify_core::lifecycle::Finding>)>,
    /// Projects with inputs not yet told about, and how many inputs that is.
    dirty: BTreeSet<ProjectId>,
    untold: usize,
    /// When the session began (the wall clock's run time is the report's duration).
    began: std::time::Instant,
}

/// The most inputs the live lines fall behind by before they are brought up to date (they
/// are at each `say`, whenever the driver waits, and at the end).
const LIVE_EVERY: usize = 512;

/// The session line of `header`.
fn session_line(header: &Header) -> Line {
    let sources = header.sources;
    let mut names = Vec::new();
    if sources.queue {
        names.push(SourceName::Queue);
    }
    if sources.training_api {
        names.push(SourceName::TrainingApi);
    } else if sources.polling {
        names.push(SourceName::Polling);
    }
    if sources.container {
        names.push(SourceName::Container);
    }
    Line::Session(SessionLine {
        version: FORMAT_VERSION,
        sources: names,
        at: Some(At(header.at)),
        scope: header.scope,
        scenario: header.scenario.clone(),
        duties: header.duties.clone(),
        partial: header.partial,
    })
}

impl Session {
    /// A session as `header` says, recording with `recorder` (its session line is written now),
    /// telling what changes to `live`.
    pub fn new(header: Header, mut recorder: Recorder, live: LiveSink) -> io::Result<Self> {
        let sources = header.sources;
        let line = recorder.record(&session_line(&header))?;
        let mut runs = Runs::default();
        runs.start(
            line.get(),
            FORMAT_VERSION,
            sources,
            header.scope,
            header.partial,
        );
        let mut clients = ClientRuns::default();
        clients.start(line.get(), header.scenario.clone(), header.duties.clone());
        let mut tracker = Tracker::new(Settings::default());
        tracker.narrow_sources(sources);
        Ok(Self {
            // Judged by what the session line says it observes, as a replay of the recording is.
            tracker,
            tally: Tally::default(),
            runs,
            recorder,
            live,
            blobs: BTreeSet::new(),
            clients,
            told: std::collections::BTreeMap::new(),
            dirty: BTreeSet::new(),
            untold: 0,
            began: std::time::Instant::now(),
        })
    }

    /// Ends the run in progress (its end line) and starts another as `header` says, in the
    /// same recording: a client journal's next scenario.
    pub fn next_run(
        &mut self,
        at: Timestamp,
        outcome: Outcome,
        reason: Option<String>,
        header: &Header,
    ) -> io::Result<()> {
        let end = self.recorder.record(&Line::End(EndLine {
            at: At(at),
            outcome,
            reason: reason.clone(),
        }))?;
        self.runs.end(end.get(), outcome, reason);
        let line = self.recorder.record(&session_line(header))?;
        self.runs.start(
            line.get(),
            FORMAT_VERSION,
            header.sources,
            header.scope,
            header.partial,
        );
        self.clients
            .start(line.get(), header.scenario.clone(), header.duties.clone());
        Ok(())
    }

    /// Records a journal line (`request`, `delivered`, `client`) and feeds it to the client
    /// judge, as a replay of the recording does.
    pub fn journal(&mut self, line: Line) -> io::Result<()> {
        let evidence = self.recorder.record(&line)?;
        if let Ok(Item::Client { at, event }) = crate::recording::item_of(line, evidence) {
            self.tally.saw(at);
            self.clients.handle(evidence.get(), at, event);
        }
        Ok(())
    }

    /// The client judge of the run in progress.
    pub fn client(&self) -> Option<&cvnotify_core::client::ClientJudge> {
        self.clients.current()
    }

    /// The sources the session observes.
    pub fn sources(&self) -> Sources {
        self.runs.sources()
    }

    /// The lifecycle tracker.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The message tally so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Writes one live line (after what the lifecycle has to tell).
    pub fn say(&mut self, text: &str) {
        self.tell();
        let _ = writeln!(self.live, "{text}");
    }

    /// Flushes the recording: call it before deleting anything the recording holds.
    pub fn flush(&mut self) -> io::Result<()> {
        self.recorder.flush()
    }

    /// Brings the live lines up to date (a driver calls it when it waits: the queue is empty).
    pub fn tell_live(&mut self) {
        self.tell();
    }

    /// Records a message, tallies and applies it, and says what to do with it: accepted ones
    /// are deleted; a rejected one is left for redelivery until its dequeue count reaches
    /// `max_dequeue`, then poisoned.
    pub fn message(&mut self, m: Received<'_>, max_dequeue: u32) -> io::Result<Handled> {
        let parsed = cvnotify_core::parse(m.text.as_bytes(), ParseOptions::TOLERANT);
        let line = Line::Message(MessageLine {
            at: At(m.insertion_time),
            queue: m.queue.to_string(),
            message_id: m.message_id.to_string(),
            dequeue_count: m.dequeue_count,
            message_text: m.text.to_string(),
            redacted: false,
        });
        let evidence = self.recorder.record(&line)?;
        let message_id = MessageId::from_text(m.message_id);
        self.tally.message(message_id, &parsed, evidence.get());
        match parsed {
            Ok(p) => {
                let project = p.notification.project_id();
                let delivery = Delivery {
                    message_id,
                    dequeue_count: m.dequeue_count,
                };
                self.apply(
                    Input {
                        at: m.insertion_time,
                        evidence,
                        event: Event::Notification {
                            notification: p.notification.clone(),
                            delivery,
                        },
                    },
                    project,
                );
                Ok(Handled {
                    disposition: Disposition::Delete,
                    notification: Some(p.notification),
                    error: None,
                })
            }
            Err(e) => {
                let disposition = if m.dequeue_count >= max_dequeue {
                    Disposition::Poison
                } else {
                    let _ = writeln!(
                        self.live,
                        "left for redelivery: message {} (dequeue {} of {max_dequeue}): {e}",
                        m.message_id, m.dequeue_count
                    );
                    Disposition::Redeliver
                };
                Ok(Handled {
                    disposition,
                    notification: None,
                    error: Some(e),
                })
            }
        }
    }

    /// Tells that a message was moved to the poison queue `to` (after it happened).
    pub fn poisoned(&mut self, message_id: &str, dequeue_count: u32, to: &str, why: &ParseError) {
        let _ = writeln!(
            self.live,
            "poison: message {message_id} (dequeue {dequeue_count}) moved to {to}: {why}"
        );
    }

    /// Records a training API call's line and applies what it says. A call without a usable
    /// answer (no answer, or the gateway's refusal) is recorded and counts against the run: the
    /// API was not observed.
    pub fn api(&mut self, line: ApiLine) -> io::Result<()> {
        if let Some(detail) = unavailable(&line) {
            let operation = line.operation;
            let evidence = self.recorder.record(&Line::Api(line))?;
            let _ = writeln!(self.live, "training API: {} {detail}", operation.as_str());
            self.tally
                .api_unavailable(operation, evidence.get(), &detail);
            return Ok(());
        }
        let project = ProjectId::parse(&line.project_id).ok();
        let events = match api_events(&line) {
            Ok(events) => events,
            Err(e) => {
                let _ = writeln!(self.live, "training API: answer not judged: {e}");
                return Ok(());
            }
        };
        let at = line.at.0;
        let evidence = self.recorder.record(&Line::Api(line))?;
        for event in events {
            self.apply(
                Input {
                    at,
                    evidence,
                    event,
                },
                project,
            );
        }
        Ok(())
    }

    /// Records a GetIteration/GetExports answer, telling which exports it could not judge.
    pub fn polled(&mut self, line: ApiLine, left_out: &[String]) -> io::Result<()> {
        for e in left_out {
            let _ = writeln!(
                self.live,
                "training API: export {e} not judged (unknown platform or status)"
            );
        }
        self.api(line)
    }

    /// The container `container` listed these blob names (with sizes) at `at`: what appeared and
    /// what went since the last listing become blob lines and inputs.
    pub fn container(
        &mut self,
        at: Timestamp,
        container: &str,
        listed: &[(String, Option<u64>)],
    ) -> io::Result<()> {
        let names: BTreeSet<String> = listed.iter().map(|(n, _)| n.clone()).collect();
        for (name, size) in listed {
            if self.blobs.contains(name) {
                continue;
            }
            let line = BlobLine {
                at: At(at),
                container: container.to_string(),
                event: BlobEvent::Created,
                name: name.clone(),
                size: *size,
            };
            let evidence = self.recorder.record(&Line::Blob(line))?;
            let project = match cvnotify_core::blob::classify_blob(name) {
                BlobKind::Backup(b) => Some(b.project_id()),
                _ => None,
            };
            self.apply(
                Input {
                    at,
                    evidence,
                    event: Event::BlobCreated {
                        name: name.clone(),
                        size: size.unwrap_or(0),
                    },
                },
                project,
            );
        }
        let gone: Vec<String> = self.blobs.difference(&names).cloned().collect();
        for name in gone {
            let line = BlobLine {
                at: At(at),
                container: container.to_string(),
                event: BlobEvent::Deleted,
                name: name.clone(),
                size: None,
            };
            let evidence = self.recorder.record(&Line::Blob(line))?;
            self.apply(
                Input {
                    at,
                    evidence,
                    event: Event::BlobDeleted { name },
                },
                None,
            );
        }
        self.blobs = names;
        Ok(())
    }

    /// Time passed (it is `at` now): records a tick and lets deadlines expire.
    pub fn tick(&mut self, at: Timestamp) -> io::Result<()> {
        let evidence = self.recorder.record(&Line::Tick(TickLine { at: At(at) }))?;
        self.tally.saw(at);
        self.tracker.handle(Input {
            at,
            evidence,
            event: Event::Tick,
        });
        Ok(())
    }

    /// Applies an input and tells what changed for its project: new phases, new findings.
    /// Applies an input; the live lines about its project are told at the next flush (each
    /// project judged once per batch, not once per input: a project with a long history costs
    /// no more per message than a short one).
    fn apply(&mut self, input: Input, project: Option<ProjectId>) {
        self.tally.saw(input.at);
        self.tracker.handle(input);
        if let Some(p) = project {
            self.dirty.insert(p);
            self.untold += 1;
            if self.untold >= LIVE_EVERY {
                self.tell();
            }
        }
    }

    /// Tells the phase changes and findings of every project that had inputs since the last
    /// time.
    fn tell(&mut self) {
        self.untold = 0;
        for p in std::mem::take(&mut self.dirty) {
            let Some(after) = self.tracker.project_report(p) else {
                continue;
            };
            let (phases, findings) = self.told.entry(p).or_default();
            for (stamp, phase) in after.history.iter().skip(*phases) {
                // The line number only when there is a recording to look it up in.
                let line = if self.recorder.is_recording() {
                    format!("  (line {})", stamp.evidence.get())
                } else {
                    String::new()
                };
                let _ = writeln!(
                    self.live,
                    "{}  project {}  {}{line}",
                    format_time(stamp.at),
                    after.project_id,
                    phase.as_str(),
                );
            }
            *phases = after.history.len();
            for f in &after.findings {
                if findings.contains(f) {
                    continue;
                }
                let info = f.code.info();
                let _ = writeln!(
                    self.live,
                    "{}  project {}  {} {}: {}",
                    format_time(f.at),
                    f.project_id,
                    info.severity.as_str(),
                    info.code,
                    crate::report::finding_detail(f)
                );
            }
            *findings = after.findings;
        }
    }

    /// Ends the session at `at` with `outcome` (and why, when it did not complete): writes the
    /// end line, closes the recording and judges what was seen, as `replay` judges the
    /// recording. `name` labels the session in the report. The report is returned even when
    /// the recording could not be finished; the error is returned beside it.
    pub fn finish(
        mut self,
        at: Timestamp,
        outcome: Outcome,
        reason: Option<String>,
        name: &str,
        rules: &Rules,
    ) -> (SessionReport, io::Result<()>) {
        self.tell();
        let end = Line::End(EndLine {
            at: At(at),
            outcome,
            reason: reason.clone(),
        });
        let written = self.recorder.record(&end).and_then(|line| {
            self.runs.end(line.get(), outcome, reason);
            self.recorder.finish()
        });
        if written.is_err() {
            // The end was not recorded; the live report says so as a replay would.
            let _ = self.recorder.finish();
        }
        let described = self.recorder.take_described();
        let mut report = session_report(
            name,
            self.recorder.lines(),
            self.tally,
            &self.runs,
            self.tracker,
            &self.clients,
            rules,
        );
        report.described = described;
        report.seconds = self.began.elapsed().as_secs_f64();
        (report, written)
    }
}
