//! `cvnotify watch`: a queue consumer that keeps a live lifecycle view and never loses a
//! notification. It polls like the Functions queue trigger (at once while messages come, then
//! backing off with jitter to a maximum interval), handles each message, and deletes it only
//! after it was applied to the tracker and, with `--record`, written and flushed: at least once,
//! and the tracker makes a redelivery harmless. A message that cannot be parsed is left for
//! redelivery until its dequeue count reaches the maximum; then it is put on `<queue>-poison` and
//! deleted, never dropped. `--drain` ends when the queue holds no message at all (hidden ones
//! included); Ctrl-C ends after the batch in hand, the rest left visible for the next consumer.
//! With `--training-endpoint`, each Training and Export notification is cross-checked with the
//! training API (see [`crate::cross_check`]) before its message is deleted.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal as _, Write};
use std::time::{Duration, SystemTime};

use cvnotify_core::lifecycle::{
    Delivery, Event, Evidence, Input, MessageId, Settings, Sources, Timestamp, Tracker,
};
use cvnotify_core::{ParseOptions, ProjectId};

use crate::cli::WatchArgs;
use crate::cross_check::Outcome;
use crate::exit;
use crate::recording::{
    At, BlobEvent, BlobLine, FORMAT_VERSION, Line, MessageLine, SessionLine, SourceName, Writer,
};
use crate::replay::{self, Checks, MessageCounts, Report, Verdict, Waivers};
use crate::report::{self, Format};
use crate::storage::client::Jitter;
use crate::storage::{
    AccountKey, Container, Credentials, Queue, Resource, RetryPolicy, StorageError,
};
use crate::training::{OptionsForm, TrainingClient, TrainingKey};

pub(crate) fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    )
}

/// Whether plain HTTP may be used for `url`: only for loopback hosts, or with `--emulator`.
pub(crate) fn check_scheme(url: &str, emulator: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback || emulator {
                Ok(())
            } else {
                Err("plain http is refused except for loopback hosts or with --emulator".into())
            }
        }
        other => Err(format!("scheme {other:?} is not http or https")),
    }
}

/// The account name of a storage URL: the first path segment on an IP or localhost
/// (emulator, path style), else the first label of the host.
fn account_name(url: &reqwest::Url) -> Option<String> {
    let path_style = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
        || url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("localhost"));
    if path_style {
        url.path_segments()
            .and_then(|mut s| s.next())
            .map(str::to_string)
    } else {
        url.host_str()
            .and_then(|h| h.split('.').next())
            .map(str::to_string)
    }
}

pub(crate) fn credentials(url: &str, key_env: Option<&str>) -> Result<Option<Credentials>, String> {
    let Some(var) = key_env else { return Ok(None) };
    let key = std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
    let key =
        AccountKey::from_base64(&key).map_err(|_| format!("{var} is not a base64 account key"))?;
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let account = account_name(&parsed).ok_or("cannot tell the account name from the URL")?;
    Ok(Some(Credentials::SharedKey { account, key }))
}

/// Where a session's times come from: the wall clock, or a simulation's virtual clock.
pub(crate) type ClockFn = std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// What the watcher has seen so far, and where it tells it.
pub(crate) struct State {
    tracker: Tracker,
    counts: MessageCounts,
    checks: Checks,
    recorder: Option<Writer<BufWriter<File>>>,
    /// The next evidence number (a recording's line number: the session line is 1).
    next: u32,
    live: Box<dyn Write>,
    blobs: BTreeSet<String>,
    training: Option<TrainingClient>,
    clock: ClockFn,
}

impl State {
    /// A fresh session: `sources` observed, recording to `record` (whose session line this
    /// writes), live lines to `live`.
    pub(crate) fn new(
        sources: Sources,
        record: Option<&std::path::Path>,
        live: Box<dyn Write>,
        training: Option<TrainingClient>,
        clock: ClockFn,
    ) -> io::Result<Self> {
        let recorder = match record {
            Some(path) => {
                let mut w = Writer::new(BufWriter::new(File::create(path)?));
                let mut names = vec![SourceName::Queue];
                if sources.training_api {
                    names.push(SourceName::TrainingApi);
                } else if sources.polling {
                    names.push(SourceName::Polling);
                }
                if sources.container {
                    names.push(SourceName::Container);
                }
                w.write(&Line::Session(SessionLine {
                    version: FORMAT_VERSION,
                    sources: names,
                }))?;
                Some(w)
            }
            None => None,
        };
        Ok(Self {
            tracker: Tracker::new(Settings {
                sources,
                ..Settings::default()
            }),
            counts: MessageCounts::default(),
            checks: Checks::default(),
            recorder,
            next: 1,
            live,
            blobs: BTreeSet::new(),
            training,
            clock,
        })
    }

    pub(crate) fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Where live lines go.
    pub(crate) fn live(&mut self) -> &mut dyn Write {
        &mut *self.live
    }

    /// Flushes the recording (before anything read is deleted).
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match &mut self.recorder {
            Some(r) => r.flush(),
            None => Ok(()),
        }
    }

    /// Records a training API call's line and applies what it says.
    pub(crate) fn api(&mut self, line: crate::recording::ApiLine) -> io::Result<()> {
        let project = cvnotify_core::ProjectId::parse(&line.project_id).ok();
        let events = match crate::recording::api_events(&line) {
            Ok(events) => events,
            Err(e) => {
                let _ = writeln!(self.live, "training API: answer not judged: {e}");
                return Ok(());
            }
        };
        let at = line.at.0;
        self.record(Line::Api(line))?;
        let evidence = self.evidence();
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
    pub(crate) fn polled(
        &mut self,
        line: crate::recording::ApiLine,
        left_out: &[String],
    ) -> io::Result<()> {
        for e in left_out {
            let _ = writeln!(
                self.live,
                "training API: export {e} not judged (unknown platform or status)"
            );
        }
        self.api(line)
    }

    /// Time passed: records a tick and lets deadlines expire.
    pub(crate) fn tick(&mut self) -> io::Result<()> {
        let (at, evidence) = (self.now(), self.evidence());
        self.record(Line::Tick(crate::recording::TickLine { at: At(at) }))?;
        self.tracker.handle(Input {
            at,
            evidence,
            event: Event::Tick,
        });
        Ok(())
    }

    fn evidence(&mut self) -> Evidence {
        self.next = self.next.saturating_add(1);
        Evidence::new(self.next).unwrap_or(Evidence(std::num::NonZeroU32::MIN))
    }

    fn record(&mut self, line: Line) -> io::Result<()> {
        match &mut self.recorder {
            Some(r) => r.write(&line),
            None => Ok(()),
        }
    }

    /// Applies an input and tells what changed for its project: new phases, new findings.
    fn apply(&mut self, input: Input, project: Option<ProjectId>) {
        let before = project.and_then(|p| self.tracker.project_report(p));
        self.tracker.handle(input);
        let Some(after) = project.and_then(|p| self.tracker.project_report(p)) else {
            return;
        };
        let phases = before.as_ref().map_or(0, |b| b.history.len());
        for (stamp, phase) in after.history.iter().skip(phases) {
            let _ = writeln!(
                self.live,
                "{}  project {}  {}  (input {})",
                crate::recording::format_time(stamp.at),
                after.project_id,
                phase.as_str(),
                stamp.evidence
            );
        }
        for f in &after.findings {
            if before.as_ref().is_some_and(|b| b.findings.contains(f)) {
                continue;
            }
            let info = f.code.info();
            let _ = writeln!(
                self.live,
                "{}  project {}  {} {}: {}",
                crate::recording::format_time(f.at),
                f.project_id,
                info.severity.as_str(),
                info.code,
                info.summary
            );
        }
    }
}

/// Handles one received message; `Ok(true)` when it may be deleted.
pub(crate) async fn handle_message(
    state: &mut State,
    queue_name: &str,
    m: &crate::storage::xml::ListedMessage,
    max_dequeue: u32,
    poison: Option<&Queue>,
) -> Result<bool, StorageError> {
    let text = m.message_text.clone().unwrap_or_default();
    let dequeue_count = m.dequeue_count.unwrap_or(1);
    let parsed = cvnotify_core::parse(text.as_bytes(), ParseOptions::TOLERANT);
    let evidence = state.evidence();
    let line = Line::Message(MessageLine {
        at: At(Timestamp(m.insertion_time)),
        queue: queue_name.to_string(),
        message_id: m.message_id.clone(),
        dequeue_count,
        message_text: text.clone(),
        redacted: false,
    });
    replay::count_message(
        &parsed,
        evidence.get(),
        &mut state.counts,
        &mut state.checks,
    );
    match parsed {
        Ok(p) => {
            state
                .record(line)
                .map_err(|e| StorageError::Transport(format!("recording: {e}")))?;
            let project = p.notification.project_id();
            let delivery = Delivery {
                message_id: MessageId::from_text(&m.message_id),
                dequeue_count,
            };
            let input = Input {
                at: Timestamp(m.insertion_time),
                evidence,
                event: Event::Notification {
                    notification: p.notification.clone(),
                    delivery,
                },
            };
            state.apply(input, project);
            if let Some(client) = state.training.clone() {
                cross_check(state, &client, &p.notification)
                    .await
                    .map_err(|e| StorageError::Transport(format!("recording: {e}")))?;
            }
            Ok(true)
        }
        Err(e) if dequeue_count >= max_dequeue => {
            state
                .record(line)
                .map_err(|e| StorageError::Transport(format!("recording: {e}")))?;
            let _ = writeln!(
                state.live,
                "poison: message {} (dequeue {dequeue_count}) moved to {queue_name}-poison: {e}",
                m.message_id
            );
            if let Some(poison) = poison {
                poison.put(&text, Duration::ZERO, Some(-1)).await?;
            }
            Ok(true)
        }
        Err(e) => {
            let _ = writeln!(
                state.live,
                "left for redelivery: message {} (dequeue {dequeue_count} of {max_dequeue}): {e}",
                m.message_id
            );
            Ok(false)
        }
    }
}

/// Asks the training API about a notification; records and applies the answer.
async fn cross_check(
    state: &mut State,
    client: &TrainingClient,
    notification: &cvnotify_core::Notification,
) -> io::Result<()> {
    let clock = state.clock.clone();
    match crate::cross_check::check(client, notification, move || clock()).await {
        Outcome::NotApplicable => Ok(()),
        Outcome::Failed(e) => {
            let _ = writeln!(state.live, "training API: {e}");
            Ok(())
        }
        Outcome::Answered { line, left_out } => state.polled(line, &left_out),
        Outcome::Refused { line, .. } => state.api(line),
    }
}

/// Lists the container and turns what appeared and went into blob inputs.
pub(crate) async fn observe_container(
    state: &mut State,
    container: &Container,
) -> Result<(), StorageError> {
    let listed = container.list("").await?;
    let names: BTreeSet<String> = listed.iter().map(|b| b.name.clone()).collect();
    let at = state.now();
    let new: Vec<_> = listed
        .iter()
        .filter(|b| !state.blobs.contains(&b.name))
        .collect();
    for b in new {
        let evidence = state.evidence();
        let line = BlobLine {
            at: At(at),
            container: container.resource().name().to_string(),
            event: BlobEvent::Created,
            name: b.name.clone(),
            size: b.size,
        };
        state
            .record(Line::Blob(line))
            .map_err(|e| StorageError::Transport(format!("recording: {e}")))?;
        let project = match cvnotify_core::blob::classify_blob(&b.name) {
            cvnotify_core::BlobKind::Backup(name) => Some(name.project_id()),
            _ => None,
        };
        state.apply(
            Input {
                at,
                evidence,
                event: Event::BlobCreated {
                    name: b.name.clone(),
                    size: b.size.unwrap_or(0),
                },
            },
            project,
        );
    }
    for gone in state.blobs.difference(&names).cloned().collect::<Vec<_>>() {
        let evidence = state.evidence();
        let line = BlobLine {
            at: At(at),
            container: container.resource().name().to_string(),
            event: BlobEvent::Deleted,
            name: gone.clone(),
            size: None,
        };
        state
            .record(Line::Blob(line))
            .map_err(|e| StorageError::Transport(format!("recording: {e}")))?;
        state.apply(
            Input {
                at,
                evidence,
                event: Event::BlobDeleted { name: gone },
            },
            None,
        );
    }
    state.blobs = names;
    Ok(())
}

async fn watch(
    args: &WatchArgs,
    state: &mut State,
    queue: &Queue,
    container: Option<&Container>,
) -> Result<(), StorageError> {
    let poison = if args.peek {
        None
    } else {
        Some(Queue::new(
            queue
                .resource()
                .sibling(&format!("{}-poison", queue.resource().name()))?,
        ))
    };
    if let Some(p) = &poison {
        p.create().await?;
    }
    let visibility = Duration::from_secs(args.visibility.max(1));
    let max_interval = Duration::from_secs_f64(args.max_interval.max(0.1));
    let mut interval = Duration::ZERO;
    let mut jitter = Jitter::new();
    let mut stop = Box::pin(tokio::signal::ctrl_c());
    let name = queue.resource().name().to_string();
    loop {
        if let Some(c) = container {
            observe_container(state, c).await?;
        }
        let batch = if args.peek {
            queue.peek(32).await?
        } else {
            queue.receive(32, visibility).await?
        };
        let mut deletions = Vec::new();
        for m in &batch {
            if handle_message(state, &name, m, args.max_dequeue, poison.as_ref()).await?
                && !args.peek
            {
                deletions.push(m);
            }
        }
        // Recorded and flushed before anything is deleted.
        if let Some(r) = &mut state.recorder {
            r.flush()
                .map_err(|e| StorageError::Transport(format!("recording: {e}")))?;
        }
        delete_all(queue, deletions).await?;
        if args.peek {
            return Ok(());
        }
        if batch.is_empty() {
            if args.drain && queue.approximate_count().await? == 0 {
                return Ok(());
            }
            // Back off: double the interval (with jitter) up to the maximum.
            let base = if interval.is_zero() {
                Duration::from_millis(100)
            } else {
                interval.saturating_mul(2)
            };
            interval = base
                .mul_f64(1.0 + jitter.next_unit() * 0.25)
                .min(max_interval);
            // Time passed: deadlines may expire. Recorded too, so a replay judges the same.
            state
                .tick()
                .map_err(|e| StorageError::Transport(format!("recording: {e}")))?;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = &mut stop => return Ok(()),
            }
        } else {
            interval = Duration::ZERO;
            if futures_ready(&mut stop) {
                return Ok(());
            }
        }
    }
}

/// Deletes in flight at once: each delete is one round trip, and a batch holds up to 32.
const DELETES_IN_FLIGHT: usize = 16;

/// Deletes handled messages, up to [`DELETES_IN_FLIGHT`] at a time. On the first failure the
/// rest are abandoned: those messages come back after their visibility timeout (at least once).
async fn delete_all(
    queue: &Queue,
    messages: Vec<&crate::storage::xml::ListedMessage>,
) -> Result<(), StorageError> {
    let mut running = tokio::task::JoinSet::new();
    let joined = |r: Result<Result<(), StorageError>, tokio::task::JoinError>| {
        r.map_err(|e| StorageError::Transport(format!("delete task: {e}")))?
    };
    for m in messages {
        let Some(receipt) = m.pop_receipt.clone() else {
            continue;
        };
        if running.len() >= DELETES_IN_FLIGHT
            && let Some(done) = running.join_next().await
        {
            joined(done)?;
        }
        let (queue, id) = (queue.clone(), m.message_id.clone());
        running.spawn(async move { queue.delete(&id, &receipt).await });
    }
    while let Some(done) = running.join_next().await {
        joined(done)?;
    }
    Ok(())
}

/// Whether Ctrl-C has already been pressed (without waiting for it).
fn futures_ready(
    stop: &mut std::pin::Pin<Box<impl std::future::Future<Output = io::Result<()>>>>,
) -> bool {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    stop.as_mut().poll(&mut cx).is_ready()
}

pub(crate) fn run(args: &WatchArgs) -> u8 {
    let usage = |why: String| {
        eprintln!("cvnotify watch: {why}");
        exit::USAGE_OR_IO
    };
    for url in std::iter::once(&args.queue)
        .chain(&args.container)
        .chain(&args.training_endpoint)
    {
        if let Err(why) = check_scheme(url, args.emulator) {
            return usage(why);
        }
    }
    let queue_creds = match credentials(&args.queue, args.account_key_env.as_deref()) {
        Ok(c) => c,
        Err(why) => return usage(why),
    };
    let queue = match Resource::new(&args.queue, queue_creds, RetryPolicy::default()) {
        Ok(r) => Queue::new(r),
        Err(e) => return usage(e.to_string()),
    };
    let container = match &args.container {
        Some(url) => match credentials(url, args.account_key_env.as_deref())
            .and_then(|c| Resource::new(url, c, RetryPolicy::default()).map_err(|e| e.to_string()))
        {
            Ok(r) => Some(Container::new(r)),
            Err(why) => return usage(why),
        },
        None => None,
    };
    let training = match (&args.training_endpoint, &args.training_key_env) {
        (Some(endpoint), Some(var)) => {
            let key = match std::env::var(var) {
                Ok(k) if !k.trim().is_empty() => TrainingKey::new(&k),
                _ => return usage(format!("environment variable {var} holds no Training-Key")),
            };
            match TrainingClient::new(
                endpoint,
                key,
                OptionsForm::default(),
                RetryPolicy::default(),
            ) {
                Ok(c) => Some(c),
                Err(e) => return usage(e.to_string()),
            }
        }
        _ => None,
    };
    let sources = Sources {
        queue: true,
        training_api: false,
        polling: training.is_some(),
        container: container.is_some(),
    };
    let live: Box<dyn Write> =
        if args.report.format == Format::Human && args.report.output.is_none() {
            Box::new(io::stdout())
        } else {
            Box::new(io::stderr())
        };
    let mut state = match State::new(
        sources,
        args.report.record.as_deref(),
        live,
        training,
        std::sync::Arc::new(now),
    ) {
        Ok(s) => s,
        Err(e) => return usage(format!("cannot write the recording: {e}")),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return usage(format!("cannot start: {e}")),
    };
    let outcome = runtime.block_on(watch(args, &mut state, &queue, container.as_ref()));
    if let Err(e) = outcome {
        if let Some(r) = state.recorder.take() {
            let _ = r.finish();
        }
        eprintln!("cvnotify watch: {e}");
        return exit::USAGE_OR_IO;
    }
    finish(
        "watch",
        &format!("watch {}", queue.resource().url()),
        state,
        args.report.format,
        args.report.output.as_deref(),
        args.report.strict,
    )
}

/// Ends a live session: finishes the recording, judges what was seen as `cvnotify replay`
/// would, writes the report and returns the exit code.
pub(crate) fn finish(
    command: &str,
    label: &str,
    mut state: State,
    format: Format,
    output: Option<&std::path::Path>,
    strict: bool,
) -> u8 {
    if let Some(r) = state.recorder.take()
        && let Err(e) = r.finish()
    {
        eprintln!("cvnotify {command}: cannot finish the recording: {e}");
        return exit::USAGE_OR_IO;
    }
    let sources = state.tracker.settings().sources;
    let waivers = Waivers::default();
    let session = replay::judge(
        label,
        state.next,
        sources,
        state.counts,
        state.checks,
        &state.tracker,
        &waivers,
    );
    let report = Report::new(vec![session], strict);
    let color = format == Format::Human
        && output.is_none()
        && io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let written = match output {
        Some(path) => File::create(path).and_then(|f| {
            let mut out = BufWriter::new(f);
            report::render(&report, format, false, &mut out)?;
            out.flush()
        }),
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            report::render(&report, format, color, &mut out).and_then(|()| out.flush())
        }
    };
    if let Err(e) = written {
        eprintln!("cvnotify {command}: cannot write the report: {e}");
        return exit::USAGE_OR_IO;
    }
    match (report.verdict, strict) {
        (Verdict::Pass, _) | (Verdict::NonStrict, false) => exit::OK,
        _ => exit::REJECTED,
    }
}
