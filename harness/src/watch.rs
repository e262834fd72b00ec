//! The watcher: a queue consumer that feeds a [`Session`] and never loses a notification. It
//! polls like the Functions queue trigger (at once while messages come, then backing off with
//! jitter to a maximum interval), hands each message to the session, and deletes it only after
//! the session recorded it and the recording was flushed: at least once, and the tracker makes a
//! redelivery harmless. A message that cannot be parsed is left for redelivery until its dequeue
//! count reaches the maximum; then it is put on `<queue>-poison` and deleted, never dropped. With
//! a training client, each Training and Export notification is cross-checked with the training
//! API (see [`crate::cross_check`]) before its message is deleted.

use std::future::Future;
use std::io::{self, Write};
use std::time::Duration;

use cvnotify_core::Notification;

use crate::clock::Now;
use crate::cross_check::{self, Outcome};
use crate::session::{Disposition, Received, Session};
use crate::storage::client::Jitter;
use crate::storage::xml::ListedMessage;
use crate::storage::{Container, Queue, StorageError};
use crate::training::TrainingClient;

/// How the watcher consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Consume until stopped.
    Consume,
    /// Consume until the queue holds no message, hidden ones included.
    Drain,
    /// Read one page without consuming anything.
    Peek,
}

/// The watcher's settings.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How it consumes.
    pub mode: Mode,
    /// Attempts before an unparseable message goes to `<queue>-poison`.
    pub max_dequeue: u32,
    /// How long a received message stays hidden.
    pub visibility: Duration,
    /// The longest wait between polls of an empty queue.
    pub max_interval: Duration,
}

/// Why the watcher stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Storage failed for good.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The recording could not be written.
    #[error("cannot write the recording: {0}")]
    Recording(#[from] io::Error),
}

/// What the watcher works on.
pub struct Watcher<'a> {
    /// The session it feeds.
    pub session: &'a mut Session,
    /// The queue it consumes.
    pub queue: &'a Queue,
    /// The backup container it lists each cycle, if any.
    pub container: Option<&'a Container>,
    /// The training API it cross-checks notifications with, if any.
    pub training: Option<&'a TrainingClient>,
    /// Where its times come from.
    pub clock: Now,
    /// Where the session's live lines are shown.
    pub live: &'a mut dyn Write,
}

/// Asks the training API about a notification; records and applies the answer.
async fn cross_check(
    session: &mut Session,
    client: &TrainingClient,
    notification: &Notification,
    clock: &Now,
) -> io::Result<()> {
    match cross_check::check(client, notification, || clock()).await {
        Outcome::NotApplicable => Ok(()),
        Outcome::Answered { line, left_out } => session.polled(line, &left_out),
        // A refusal is judged (`api-rejected`); no usable answer means the API was not
        // observed (`api-unavailable`), and the report will not claim it was.
        Outcome::Refused { line, .. } | Outcome::Failed { line, .. } => session.api(line),
    }
}

/// How a watch ended (when it did not fail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Its mode's work is done: the queue drained, the page peeked.
    Done,
    /// It was stopped (after the batch in hand).
    Stopped,
}

/// Whether a storage failure is worth waiting out: no answer, or the service saying it is busy
/// or failing (408, 429, 500, 502, 503, 504). Anything else (a refused key, a missing queue)
/// will not get better by waiting.
pub fn transient(e: &StorageError) -> bool {
    match e.cause() {
        StorageError::Transport(_) => true,
        StorageError::Status { status, .. } => {
            matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
        }
        StorageError::Body(_) | StorageError::Url(_) | StorageError::Call { .. } => false,
    }
}

/// What one cycle saw.
enum Cycle {
    /// Messages came (poll again at once).
    Busy,
    /// The queue had nothing visible.
    Idle,
}

impl Watcher<'_> {
    /// Says `text` live, after what the lifecycle has to tell.
    fn say(&mut self, text: &str) {
        self.session.say(text);
        self.session.write_live(self.live);
    }

    /// Consumes until `options.mode` says it is done or `stop` completes (then after the batch
    /// in hand, the rest left visible for the next consumer). Once storage has answered, an
    /// outage (no answer, 5xx, 429) is waited out, polling with backoff and saying so: the
    /// messages in hand come back after their visibility timeout, none is lost.
    pub async fn run(
        &mut self,
        options: Options,
        stop: impl Future<Output = ()>,
    ) -> Result<Ending, WatchError> {
        let peek = options.mode == Mode::Peek;
        let name = self.queue.resource().name().to_string();
        let poison = if peek {
            None
        } else {
            Some(Queue::new(
                self.queue.resource().sibling(&format!("{name}-poison"))?,
            ))
        };
        if let Some(p) = &poison {
            p.create().await?;
        }
        let mut interval = Duration::ZERO;
        let mut jitter = Jitter::new();
        let mut stop = std::pin::pin!(stop);
        let mut outage: Option<(std::time::Instant, Duration)> = None;
        loop {
            let cycle = self.cycle(options, &name, poison.as_ref()).await;
            let cycle = match cycle {
                Ok(c) => {
                    if let Some((since, _)) = outage.take() {
                        self.say(&format!(
                            "storage: answering again after {:.1} s",
                            since.elapsed().as_secs_f64()
                        ));
                    }
                    c
                }
                Err(WatchError::Storage(e)) if transient(&e) => {
                    let (since, wait) = match outage {
                        Some((since, wait)) => (since, wait.saturating_mul(2)),
                        None => (std::time::Instant::now(), Duration::from_millis(500)),
                    };
                    let wait = wait.min(options.max_interval.max(Duration::from_secs(1)));
                    self.say(&format!(
                        "storage: {e}; still trying (unavailable for {:.1} s, next try in {:.1} s)",
                        since.elapsed().as_secs_f64(),
                        wait.as_secs_f64()
                    ));
                    outage = Some((since, wait));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = &mut stop => return Ok(Ending::Stopped),
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            if peek {
                return Ok(Ending::Done);
            }
            match cycle {
                Cycle::Idle => {
                    if options.mode == Mode::Drain && self.queue.approximate_count().await? == 0 {
                        return Ok(Ending::Done);
                    }
                    // Back off: double the interval (with jitter) up to the maximum.
                    let base = if interval.is_zero() {
                        Duration::from_millis(100)
                    } else {
                        interval.saturating_mul(2)
                    };
                    interval = base
                        .mul_f64(1.0 + jitter.next_unit() * 0.25)
                        .min(options.max_interval);
                    // Time passed: deadlines may expire. Recorded, so a replay judges the same.
                    self.session.tick((self.clock)())?;
                    self.session.tell_live();
                    self.session.write_live(self.live);
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = &mut stop => return Ok(Ending::Stopped),
                    }
                }
                Cycle::Busy => {
                    self.session.write_live(self.live);
                    interval = Duration::ZERO;
                    if is_ready(stop.as_mut()) {
                        return Ok(Ending::Stopped);
                    }
                }
            }
        }
    }

    /// One cycle: list the container, take a batch, hand each message to the session, flush the
    /// recording, then delete (and poison) what may go.
    async fn cycle(
        &mut self,
        options: Options,
        name: &str,
        poison: Option<&Queue>,
    ) -> Result<Cycle, WatchError> {
        let peek = options.mode == Mode::Peek;
        if let Some(c) = self.container {
            self.session
                .container((self.clock)(), c.resource().name(), &c.listing().await?)?;
        }
        let visibility = options.visibility.max(Duration::from_secs(1));
        let batch = if peek {
            self.queue.peek(32).await?
        } else {
            self.queue.receive(32, visibility).await?
        };
        let mut deletions = Vec::new();
        for m in &batch {
            let handled = self
                .session
                .message(Received::listed(name, m), options.max_dequeue)?;
            match handled.disposition {
                Disposition::Delete => {
                    if let (Some(client), Some(n)) = (self.training, &handled.notification) {
                        cross_check(self.session, client, n, &self.clock).await?;
                    }
                    deletions.push(m);
                }
                Disposition::Poison => {
                    if let Some(p) = poison {
                        // On the recording before it leaves the queue; moved exactly once
                        // unless the delete below fails (then it comes back, and is moved
                        // again by whoever receives it: at least once).
                        self.session.flush()?;
                        let text = m.message_text.as_deref().unwrap_or_default();
                        p.put(text, Duration::ZERO, Some(-1)).await?;
                        if let Some(e) = &handled.error {
                            self.session.poisoned(
                                &m.message_id,
                                m.dequeue_count.unwrap_or(1),
                                p.resource().name(),
                                e,
                            );
                        }
                        deletions.push(m);
                    }
                }
                Disposition::Redeliver => {}
            }
        }
        // Recorded and flushed before anything is deleted.
        self.session.flush()?;
        if !peek {
            for lost in delete_all(self.queue, deletions).await? {
                self.say(&format!(
                    "message {lost}: its pop receipt is stale (it was handed out again, to this or \
                     another consumer, before the delete); it will be handled again"
                ));
            }
        }
        Ok(if batch.is_empty() {
            Cycle::Idle
        } else {
            Cycle::Busy
        })
    }
}

/// Deletes in flight at once: each delete is one round trip, and a batch holds up to 32.
const DELETES_IN_FLIGHT: usize = 16;

/// Deletes handled messages, up to [`DELETES_IN_FLIGHT`] at a time, and returns the ids of
/// those whose pop receipt no longer held (`PopReceiptMismatch`, `MessageNotFound`: someone has
/// them now). On any other failure the rest are abandoned: those messages come back after their
/// visibility timeout (at least once).
async fn delete_all(
    queue: &Queue,
    messages: Vec<&ListedMessage>,
) -> Result<Vec<String>, StorageError> {
    let mut running = tokio::task::JoinSet::new();
    let mut lost = Vec::new();
    let mut joined = |r: Result<(String, Result<(), StorageError>), tokio::task::JoinError>| {
        let (id, outcome) = r.map_err(|e| StorageError::Transport(format!("delete task: {e}")))?;
        match outcome {
            Err(e) if matches!(e.code(), Some("PopReceiptMismatch" | "MessageNotFound")) => {
                lost.push(id);
                Ok(())
            }
            other => other,
        }
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
        running.spawn(async move {
            let outcome = queue.delete(&id, &receipt).await;
            (id, outcome)
        });
    }
    while let Some(done) = running.join_next().await {
        joined(done)?;
    }
    Ok(lost)
}

/// Whether `stop` has completed already (without waiting for it).
fn is_ready(stop: std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    stop.poll(&mut cx).is_ready()
}
