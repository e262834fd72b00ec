//! The live session: what `watch`, `check`, `verify` and `simulate --record` (the simulation's
//! journal, through [`Session::journal`]) feed as they observe, as one sans-I/O value: a
//! [`Recorder`] and a [`Ledger`]. Drivers do the I/O and hand it what they saw, with the time
//! they saw it; the session makes each observation a recording line, records it (secrets
//! redacted; the recorder hands out the evidence numbers, so a number exists only for a line
//! that was written) and posts the line as recorded to the ledger, as a replay posts the lines
//! it reads. So the report at the end ([`Session::finish`]) is the replay of the recording by
//! construction. Beside that it keeps the live lines (phases and findings as they change, and
//! what the driver says), which the driver takes as values ([`Session::take_live`]) and writes
//! where it shows them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use cvnotify_core::lifecycle::{Evidence, Sources, Timestamp, Tracker};
use cvnotify_core::{Notification, ParseError, ParseOptions, ProjectId};

use crate::recording::{
    ApiLine, At, BlobEvent, BlobLine, Duty, EndLine, FORMAT_VERSION, Line, MessageLine, Outcome,
    Scope, SessionLine, SourceName, TickLine, Writer, api_events, format_time, item_of, redacted,
    unavailable,
};
use crate::report::{Ledger, Rules, SessionReport, Tally};

/// Where a session's recording goes.
pub type RecordingSink = Box<dyn Write + Send>;

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

    /// Writes `line` and returns its number (the evidence that stands for it) and the line as
    /// written: its secrets redacted.
    pub fn record(&mut self, line: Line) -> io::Result<(Evidence, Line)> {
        // Redacted once: by the writer when there is a recording.
        let line = match &mut self.writer {
            Some(w) => w.write_owned(line)?,
            None => redacted(line),
        };
        self.last = self.last.saturating_add(1);
        if let Some(map) = &mut self.described
            && map.len() < DESCRIBED
            && let Some(text) = line.describe()
        {
            map.insert(self.last, text);
        }
        let evidence = Evidence::new(self.last).ok_or_else(|| io::Error::other("line number 0"))?;
        Ok((evidence, line))
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
    recorder: Recorder,
    ledger: Ledger,
    /// Live lines not yet taken by the driver.
    live: Vec<String>,
    /// The container's listing as last observed.
    blobs: BTreeSet<String>,
    /// Per project, what the live lines have told so far: how many phase changes, which
    /// findings.
    told: BTreeMap<ProjectId, (usize, Vec<cvnotify_core::lifecycle::Finding>)>,
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
    Line::Session(SessionLine {
        version: FORMAT_VERSION,
        sources: SourceName::names(header.sources),
        at: Some(At(header.at)),
        scope: header.scope,
        scenario: header.scenario.clone(),
        duties: header.duties.clone(),
        partial: header.partial,
    })
}

impl Session {
    /// A session as `header` says, recording with `recorder` (its session line is written now),
    /// keeping live lines for the driver to take.
    pub fn new(header: Header, recorder: Recorder) -> io::Result<Self> {
        let mut session = Self {
            recorder,
            // Judged by what the session line says it observes, as a replay of the recording is.
            ledger: Ledger::new(header.sources),
            live: Vec::new(),
            blobs: BTreeSet::new(),
            told: BTreeMap::new(),
            dirty: BTreeSet::new(),
            untold: 0,
            began: std::time::Instant::now(),
        };
        session.enter(session_line(&header))?;
        Ok(session)
    }

    /// Records `line` and posts it, as recorded, to the ledger; the project it added to is
    /// told about at the next flush of the live lines (each project judged once per batch,
    /// not once per input: a project with a long history costs no more per message than a
    /// short one).
    fn enter(&mut self, line: Line) -> io::Result<Evidence> {
        let (evidence, recorded) = self.recorder.record(line)?;
        if let Some(p) = self
            .ledger
            .absorb(evidence.get(), item_of(recorded, evidence))
        {
            self.dirty.insert(p);
            self.untold += 1;
            if self.untold >= LIVE_EVERY {
                self.tell();
            }
        }
        Ok(evidence)
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
        self.enter(Line::End(EndLine {
            at: At(at),
            outcome,
            reason,
        }))?;
        self.enter(session_line(header))?;
        Ok(())
    }

    /// Records a journal line (`request`, `delivered`, `client`) and posts it for the client
    /// judge.
    pub fn journal(&mut self, line: Line) -> io::Result<()> {
        self.enter(line).map(drop)
    }

    /// The client judge of the run in progress.
    pub fn client(&self) -> Option<&cvnotify_core::client::ClientJudge> {
        self.ledger.client()
    }

    /// The sources the session observes.
    pub fn sources(&self) -> Sources {
        self.ledger.sources()
    }

    /// The lifecycle tracker.
    pub fn tracker(&self) -> &Tracker {
        self.ledger.tracker()
    }

    /// The message tally so far.
    pub fn tally(&self) -> &Tally {
        self.ledger.tally()
    }

    /// Adds one live line (after what the lifecycle has to tell).
    pub fn say(&mut self, text: &str) {
        self.tell();
        self.live.push(text.to_string());
    }

    /// Flushes the recording: call it before deleting anything the recording holds.
    pub fn flush(&mut self) -> io::Result<()> {
        self.recorder.flush()
    }

    /// Brings the live lines up to date with what the lifecycle has to tell (a driver calls it
    /// when it waits; between times the session catches up every [`LIVE_EVERY`] inputs and at
    /// each [`Session::say`], so a project is judged once per batch, not once per input).
    pub fn tell_live(&mut self) {
        self.tell();
    }

    /// The live lines since the last time: what the lifecycle told, and what was said. A
    /// driver takes them after each step and writes them where it shows them.
    pub fn take_live(&mut self) -> Vec<String> {
        std::mem::take(&mut self.live)
    }

    /// [`Session::take_live`], written to `sink` ([`write_lines`]).
    pub fn write_live(&mut self, sink: &mut dyn Write) {
        write_lines(sink, self.take_live());
    }

    /// Records a message and posts it, and says what to do with it: accepted ones are deleted;
    /// a rejected one is left for redelivery until its dequeue count reaches `max_dequeue`,
    /// then poisoned. What to do is the driver's, decided on the message as received (its
    /// notification, with its real modelUri, is handed back); the judging is the ledger's, of
    /// the message as recorded.
    pub fn message(&mut self, m: Received<'_>, max_dequeue: u32) -> io::Result<Handled> {
        let parsed = cvnotify_core::parse(m.text.as_bytes(), ParseOptions::TOLERANT);
        self.enter(Line::Message(MessageLine {
            at: At(m.insertion_time),
            queue: m.queue.to_string(),
            message_id: m.message_id.to_string(),
            dequeue_count: m.dequeue_count,
            message_text: m.text.to_string(),
            redacted: false,
        }))?;
        match parsed {
            Ok(p) => Ok(Handled {
                disposition: Disposition::Delete,
                notification: Some(p.notification),
                error: None,
            }),
            Err(e) => {
                let disposition = if m.dequeue_count >= max_dequeue {
                    Disposition::Poison
                } else {
                    self.live.push(format!(
                        "left for redelivery: message {} (dequeue {} of {max_dequeue}): {e}",
                        m.message_id, m.dequeue_count
                    ));
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
        self.live.push(format!(
            "poison: message {message_id} (dequeue {dequeue_count}) moved to {to}: {why}"
        ));
    }

    /// Records a training API call's line and posts it. A call without a usable answer (no
    /// answer, or the gateway's refusal) is recorded and counts against the run: the API was
    /// not observed. An answer the model cannot read is told live and not recorded.
    pub fn api(&mut self, line: ApiLine) -> io::Result<()> {
        if let Some(detail) = unavailable(&line) {
            self.live.push(format!(
                "training API: {} {detail}",
                line.operation.as_str()
            ));
        } else if let Err(e) = api_events(&line) {
            self.live
                .push(format!("training API: answer not judged: {e}"));
            return Ok(());
        }
        self.enter(Line::Api(line)).map(drop)
    }

    /// Records a GetIteration/GetExports answer, telling which exports it could not judge.
    pub fn polled(&mut self, line: ApiLine, left_out: &[String]) -> io::Result<()> {
        for e in left_out {
            self.live.push(format!(
                "training API: export {e} not judged (unknown platform or status)"
            ));
        }
        self.api(line)
    }

    /// The container `container` listed these blob names (with sizes) at `at`: what appeared and
    /// what went since the last listing become blob lines.
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
            self.enter(Line::Blob(BlobLine {
                at: At(at),
                container: container.to_string(),
                event: BlobEvent::Created,
                name: name.clone(),
                size: *size,
            }))?;
        }
        let gone: Vec<String> = self.blobs.difference(&names).cloned().collect();
        for name in gone {
            self.enter(Line::Blob(BlobLine {
                at: At(at),
                container: container.to_string(),
                event: BlobEvent::Deleted,
                name,
                size: None,
            }))?;
        }
        self.blobs = names;
        Ok(())
    }

    /// Time passed (it is `at` now): records a tick and lets deadlines expire.
    pub fn tick(&mut self, at: Timestamp) -> io::Result<()> {
        self.enter(Line::Tick(TickLine { at: At(at) })).map(drop)
    }

    /// Tells the phase changes and findings of every project that had inputs since the last
    /// time.
    fn tell(&mut self) {
        self.untold = 0;
        for p in std::mem::take(&mut self.dirty) {
            let Some(after) = self.ledger.tracker().project_report(p) else {
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
                self.live.push(format!(
                    "{}  project {}  {}{line}",
                    format_time(stamp.at),
                    after.project_id,
                    phase.as_str(),
                ));
            }
            *phases = after.history.len();
            for f in &after.findings {
                if findings.contains(f) {
                    continue;
                }
                let info = f.code.info();
                self.live.push(format!(
                    "{}  project {}  {} {}: {}",
                    format_time(f.at),
                    f.project_id,
                    info.severity.as_str(),
                    info.code,
                    crate::report::finding_detail(f)
                ));
            }
            *findings = after.findings;
        }
    }

    /// Ends the session at `at` with `outcome` (and why, when it did not complete): writes the
    /// end line, closes the recording and judges what was seen, as `replay` judges the
    /// recording. `name` labels the session in the report. The report is returned even when
    /// the recording could not be finished, with the error and the last live lines.
    pub fn finish(
        mut self,
        at: Timestamp,
        outcome: Outcome,
        reason: Option<String>,
        name: &str,
        rules: &Rules,
    ) -> Finished {
        self.tell();
        let live = self.take_live();
        let end = Line::End(EndLine {
            at: At(at),
            outcome,
            reason,
        });
        let written = self.enter(end).and_then(|_| self.recorder.finish());
        if written.is_err() {
            // The end was not recorded; the live report says so as a replay would.
            let _ = self.recorder.finish();
        }
        let described = self.recorder.take_described();
        let mut report = self.ledger.report(name, self.recorder.lines(), rules);
        report.described = described;
        report.seconds = self.began.elapsed().as_secs_f64();
        Finished {
            report,
            written,
            live,
        }
    }
}

/// Writes live lines to `sink`, a line each. A line that cannot be shown does not stop the
/// run: the recording and the report hold everything.
pub fn write_lines(sink: &mut dyn Write, lines: Vec<String>) {
    for line in lines {
        let _ = writeln!(sink, "{line}");
    }
}

/// What a finished session gives back.
#[derive(Debug)]
pub struct Finished {
    /// The report: the replay of the recording.
    pub report: SessionReport,
    /// Whether the recording was finished (its end line written and flushed).
    pub written: io::Result<()>,
    /// The live lines not taken before the end.
    pub live: Vec<String>,
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use base64::Engine as _;
    use cvnotify_core::lifecycle::Operation;

    use super::*;

    const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
    const I: &str = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";
    const T0: u64 = 1_767_258_000_000;

    /// A sink the test can read back after the session has let it go.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn api(at: u64, operation: Operation, status: u16) -> ApiLine {
        ApiLine {
            at: At(Timestamp(T0 + at)),
            operation,
            project_id: P.into(),
            iteration_id: None,
            platform: None,
            flavor: None,
            http_status: status,
            error_code: None,
            notification_queue_uri: None,
            export_model_container_uri: None,
            iteration_status: None,
            exports: None,
        }
    }

    fn received<'a>(id: &'a str, at: u64, dequeue_count: u32, text: &'a str) -> Received<'a> {
        Received {
            queue: "notifications",
            message_id: id,
            insertion_time: Timestamp(T0 + at),
            dequeue_count,
            text,
        }
    }

    /// The report without what only a live run has (its wall-clock duration, the descriptions
    /// of inputs a run without a recording keeps) and without the label.
    fn judged(report: &SessionReport) -> serde_json::Value {
        let mut v = serde_json::to_value(report).unwrap();
        let o = v.as_object_mut().unwrap();
        for key in ["seconds", "described", "file"] {
            o.remove(key);
        }
        v
    }

    /// Every kind of line a live session records (configuration with a signed queue URI, a
    /// training request, messages plain, base64 with a signed modelUri, unreadable and
    /// redelivered, blobs, an API call with no answer, a tick, journal lines of which one
    /// cannot be read), then the replay of its recording: one report, because both roads post
    /// the lines as recorded to one ledger; and no secret in the recording.
    #[test]
    fn a_live_session_reports_what_the_replay_of_its_recording_reports() {
        let sink = Shared::default();
        let mut header = Header::new(Sources::ALL, Scope::All, Timestamp(T0));
        header.scenario = Some("happy".into());
        let mut session =
            Session::new(header, Recorder::new(Some(Box::new(sink.clone())), 0)).unwrap();
        let mut create = api(1_000, Operation::CreateProject, 200);
        create.notification_queue_uri =
            Some("https://a.queue.core.windows.net/notifications?sv=1&sig=CANARY".into());
        create.export_model_container_uri = Some("https://a.blob.core.windows.net/models".into());
        session.api(create).unwrap();
        let mut train = api(2_000, Operation::TrainProject, 200);
        train.iteration_id = Some(I.into());
        session.api(train).unwrap();
        let training = format!(
            r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{P}","iterationId":"{I}","trainingStatus":"TrainingCompleted"}}}}"#
        );
        let export = format!(
            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{I}","exportStatus":"ExportCompleted","modelUri":"https://a.blob.core.windows.net/models/{P}%20-%20{I}.ONNX?sv=1&sig=CANARY"}}}}"#
        );
        let export = base64::engine::general_purpose::STANDARD.encode(export);
        let handled = session
            .message(received("m1", 3_000, 1, &training), 2)
            .unwrap();
        assert_eq!(handled.disposition, Disposition::Delete);
        // The driver gets the message as received: the real modelUri, to download from.
        let handled = session
            .message(received("m2", 4_000, 1, &export), 2)
            .unwrap();
        let Some(Notification::Export {
            model_uri: Some(uri),
            ..
        }) = handled.notification
        else {
            panic!("an export notification")
        };
        assert!(uri.expose_secret().contains("CANARY"));
        for dequeue in [1, 2] {
            let handled = session
                .message(received("m3", 5_000, dequeue, "{not json"), 2)
                .unwrap();
            let expected = [Disposition::Redeliver, Disposition::Poison];
            assert_eq!(
                Some(&handled.disposition),
                expected.get(dequeue as usize - 1)
            );
        }
        session
            .message(received("m1", 3_000, 2, &training), 2)
            .unwrap();
        session
            .container(
                Timestamp(T0 + 6_000),
                "models",
                &[(format!("{P} - {I}.ONNX"), Some(10))],
            )
            .unwrap();
        session.api(api(7_000, Operation::GetIteration, 0)).unwrap();
        session.tick(Timestamp(T0 + 600_000)).unwrap();
        for json in [
            r#"{"kind":"request","at":"2026-01-01T09:00:02Z","service":"queue","call":"GetMessages","httpStatus":200,"ms":1,"queue":"notifications","received":[{"messageId":"m1","popReceipt":"r1","dequeueCount":1}],"visibilityTimeout":30}"#,
            r#"{"kind":"delivered","at":"2026-01-01T09:00:03Z","queue":"notifications","messageId":"m1","class":"no such class","digest":"0"}"#,
        ] {
            session
                .journal(serde_json::from_str(json).unwrap())
                .unwrap();
        }
        let said = session.take_live();
        assert!(
            said.iter()
                .any(|l| l.starts_with("left for redelivery: message m3")),
            "{said:?}"
        );
        let Finished {
            report: live,
            written,
            ..
        } = session.finish(
            Timestamp(T0 + 601_000),
            Outcome::Completed,
            None,
            "live",
            &Rules::default(),
        );
        written.unwrap();
        let recording = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(!recording.contains("CANARY"), "{recording}");
        let replayed =
            crate::replay::replay("r", recording.as_bytes(), &Rules::default(), |_| {}).unwrap();
        assert_eq!(judged(&live), judged(&replayed));
        // It judged something of each road: the project, the messages, the client's journal
        // and the line that could not be read.
        assert_eq!(live.projects.len(), 1);
        assert_eq!(live.messages.accepted, 2);
        assert_eq!(live.messages.rejected, 1);
        assert!(!live.clients.is_empty());
        let codes: Vec<&str> = live.checks.iter().map(|c| c.code.as_str()).collect();
        assert!(codes.contains(&"api-unavailable"), "{codes:?}");
        assert!(codes.contains(&"unreadable-line"), "{codes:?}");
    }
}
