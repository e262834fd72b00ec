//! Synthetic recordings (`cvnotify generate-recording`): a recording of whole, well-behaved lifecycles over
//! many projects, interleaved round by round as a shared queue would see them. Deterministic
//! (ids and times follow from the line number), for benchmarks and demos.

use std::io::{self, Write};

use base64::Engine as _;
use cvnotify_core::lifecycle::Timestamp;
use cvnotify_core::{ExportPlatform, IterationId, ProjectId};

use cvnotify_core::lifecycle::Operation;

use crate::recording::{
    ApiLine, At, BlobEvent, BlobLine, EndLine, ExportEntry, FORMAT_VERSION, Line, MessageLine,
    Outcome, Scope, SessionLine, SourceName, TickLine, Writer,
};
use crate::seed::guid_bytes as guid;

const CONTAINER: &str = "https://cvbackup.blob.core.windows.net/backups";
const QUEUE: &str = "https://cvbackup.queue.core.windows.net/notifications";

/// What a generated recording looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Every project keeps training and exporting new iterations (the state grows with the
    /// file).
    Lifecycles,
    /// One lifecycle per project, then polls and ticks only (the state stays the same however
    /// long the file is).
    Steady,
}

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// About how many lines.
    pub lines: u64,
    /// Over how many projects.
    pub projects: u32,
    /// Which shape.
    pub shape: Shape,
}

struct Gen<W: Write> {
    out: Writer<W>,
    n: u64,
}

impl<W: Write> Gen<W> {
    fn at(&self) -> At {
        At(Timestamp(1_767_225_600_000 + self.n * 100))
    }

    fn emit(&mut self, line: Line) -> io::Result<()> {
        self.n += 1;
        self.out.write(&line)
    }

    fn api(&self, operation: Operation, p: ProjectId) -> ApiLine {
        ApiLine::ok(self.at().0, operation, p)
    }

    fn message(&mut self, json: String) -> io::Result<()> {
        // Every other message base64, as producers disagree.
        let text = if self.n.is_multiple_of(2) {
            json
        } else {
            base64::engine::general_purpose::STANDARD.encode(json)
        };
        let id = uuid::Uuid::from_bytes(guid(3, self.n, 0)).to_string();
        let line = MessageLine {
            at: self.at(),
            queue: "notifications".into(),
            message_id: id,
            dequeue_count: 1,
            message_text: text,
            redacted: false,
        };
        self.emit(Line::Message(line))
    }

    fn configure(&mut self, p: ProjectId) -> io::Result<()> {
        let mut line = self.api(Operation::CreateProject, p);
        line.notification_queue_uri = Some(QUEUE.into());
        line.export_model_container_uri = Some(CONTAINER.into());
        self.emit(Line::Api(line))?;
        self.message(format!(
            r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{p}"}}}}"#
        ))
    }

    fn cycle(&mut self, p: ProjectId, i: IterationId) -> io::Result<()> {
        let mut train = self.api(Operation::TrainProject, p);
        train.iteration_id = Some(i.to_string());
        self.emit(Line::Api(train))?;
        let mut poll = self.api(Operation::GetIteration, p);
        poll.iteration_id = Some(i.to_string());
        poll.iteration_status = Some("Training".into());
        self.emit(Line::Api(poll))?;
        self.message(format!(
            r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{p}","iterationId":"{i}","trainingStatus":"TrainingCompleted"}}}}"#
        ))?;
        for platform in [ExportPlatform::Onnx, ExportPlatform::CoreMl] {
            let mut export = self.api(Operation::ExportIteration, p);
            export.iteration_id = Some(i.to_string());
            export.platform = Some(platform.as_str().into());
            self.emit(Line::Api(export))?;
            self.message(format!(
                r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{p}","iterationId":"{i}","exportStatus":"ExportCompleted","modelUri":"{CONTAINER}/{p}%20-%20{i}.{platform}"}}}}"#
            ))?;
            let blob = BlobLine {
                at: self.at(),
                container: "backups".into(),
                event: BlobEvent::Created,
                name: format!("{p} - {i}.{platform}"),
                size: Some(4_200_000),
            };
            self.emit(Line::Blob(blob))?;
            let mut exports = self.api(Operation::GetExports, p);
            exports.iteration_id = Some(i.to_string());
            exports.exports = Some(vec![ExportEntry {
                platform: platform.as_str().into(),
                status: "Done".into(),
            }]);
            self.emit(Line::Api(exports))?;
        }
        Ok(())
    }
}

/// Writes the recording `spec` describes to `out`.
pub fn generate(spec: Spec, out: impl Write) -> io::Result<()> {
    let mut g = Gen {
        out: Writer::new(out),
        n: 0,
    };
    let sources = vec![
        SourceName::Queue,
        SourceName::TrainingApi,
        SourceName::Container,
    ];
    g.emit(Line::Session(SessionLine {
        version: FORMAT_VERSION,
        sources,
        at: Some(g.at()),
        scope: Scope::All,
        scenario: None,
        duties: Vec::new(),
        partial: false,
    }))?;
    let projects: Vec<ProjectId> = (0..u64::from(spec.projects.max(1)))
        .map(|n| ProjectId::from_bytes(guid(1, n, 0)))
        .collect();
    for &p in &projects {
        g.configure(p)?;
    }
    let steady = spec.shape == Shape::Steady;
    let mut round = 0;
    while g.n < spec.lines {
        if steady && round > 0 {
            // The monitoring tail: a GetIteration poll of each project's iteration, then a tick.
            for (n, &p) in projects.iter().enumerate() {
                if g.n >= spec.lines {
                    break;
                }
                let mut poll = g.api(Operation::GetIteration, p);
                poll.iteration_id = Some(IterationId::from_bytes(guid(2, n as u64, 0)).to_string());
                poll.iteration_status = Some("Completed".into());
                g.emit(Line::Api(poll))?;
            }
            let tick = TickLine { at: g.at() };
            g.emit(Line::Tick(tick))?;
            continue;
        }
        for (n, &p) in projects.iter().enumerate() {
            if g.n >= spec.lines {
                break;
            }
            g.cycle(p, IterationId::from_bytes(guid(2, n as u64, round)))?;
        }
        round += 1;
    }
    g.emit(Line::End(EndLine {
        at: g.at(),
        outcome: Outcome::Completed,
        reason: None,
    }))?;
    g.out.finish().map(drop)
}
