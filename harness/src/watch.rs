//! The watcher: a queue consumer that feeds a [`Session`] and never loses a notification. It
//! polls like the Functions queue trigger (at once while messages come, then backing off with
//! jitter to a maximum interval), hands each message to the session, and deletes it only after
//! the session recorded it and the recording was flushed: at least once, and the tracker makes a
//! redelivery harmless. A message that cannot be parsed is left for redelivery until its dequeue
//! count reaches the maximum; then it is put on `<queue>-poison` and deleted, never dropped. With
//! a training client, each Training and Export notification is cross-checked with the training
//! API (see [`crate::cross_check`]) before its message is deleted.

use std::future::Future;
use std::io;
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
#[derive(Debug)]
pub enum WatchError {
    /// Storage failed for good.
    Storage(StorageError),
    /// The recording could not be written.
    Recording(io::Error),
}

impl std::fmt::Display for WatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Storage(e) => e.fmt(f),
            Self::Recording(e) => write!(f, "cannot write the recording: {e}"),
        }
    }
}

impl std::error::Error for WatchError {}

impl From<StorageError> for WatchError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl From<io::Error> for WatchError {
    fn from(e: io::Error) -> Self {
        Self::Recording(e)
    }
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
}

/// A received message as the session takes it.
pub(crate) fn received<'m>(queue: &'m str, m: &'m ListedMessage) -> Received<'m> {
    Received {
        queue,
        message_id: &m.message_id,
        insertion_time: cvnotify_core::lifecycle::Timestamp(m.insertion_time),
        dequeue_count: m.dequeue_count.unwrap_or(1),
        text: m.message_text.as_deref().unwrap_or_default(),
    }
}

/// Lists `container` and tells the session.
pub async fn observe_container(
    session: &mut Session,
    container: &Container,
    clock: &Now,
) -> Result<(), WatchError> {
    let listed = container.list("").await?;
    let names: Vec<(String, Option<u64>)> = listed.into_iter().map(|b| (b.name, b.size)).collect();
    session.container(clock(), container.resource().name(), &names)?;
    Ok(())
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
        Outcome::Failed(e) => {
            session.say(&format!("training API: {e}"));
            Ok(())
        }
        Outcome::Answered { line, left_out } => session.polled(line, &left_out),
        Outcome::Refused { line, .. } => session.api(line),
    }
}

impl Watcher<'_> {
    /// Consumes until `options.mode` says it is done or `stop` completes (then after the batch
    /// in hand, the rest left visible for the next consumer).
    pub async fn run(
        &mut self,
        options: Options,
        stop: impl Future<Output = ()>,
    ) -> Result<(), WatchError> {
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
        let visibility = options.visibility.max(Duration::from_secs(1));
        let mut interval = Duration::ZERO;
        let mut jitter = Jitter::new();
        let mut stop = std::pin::pin!(stop);
        loop {
            if let Some(c) = self.container {
                observe_container(self.session, c, &self.clock).await?;
            }
            let batch = if peek {
                self.queue.peek(32).await?
            } else {
                self.queue.receive(32, visibility).await?
            };
            let mut deletions = Vec::new();
            for m in &batch {
                let handled = self
                    .session
                    .message(received(&name, m), options.max_dequeue)?;
                match handled.disposition {
                    Disposition::Delete => {
                        if let (Some(client), Some(n)) = (self.training, &handled.notification) {
                            cross_check(self.session, client, n, &self.clock).await?;
                        }
                        deletions.push(m);
                    }
                    Disposition::Poison => {
                        if let Some(p) = &poison {
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
                delete_all(self.queue, deletions).await?;
            }
            if peek {
                return Ok(());
            }
            if batch.is_empty() {
                if options.mode == Mode::Drain && self.queue.approximate_count().await? == 0 {
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
                    .min(options.max_interval);
                // Time passed: deadlines may expire. Recorded too, so a replay judges the same.
                self.session.tick((self.clock)())?;
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = &mut stop => return Ok(()),
                }
            } else {
                interval = Duration::ZERO;
                if is_ready(stop.as_mut()) {
                    return Ok(());
                }
            }
        }
    }
}

/// Deletes in flight at once: each delete is one round trip, and a batch holds up to 32.
const DELETES_IN_FLIGHT: usize = 16;

/// Deletes handled messages, up to [`DELETES_IN_FLIGHT`] at a time. On the first failure the
/// rest are abandoned: those messages come back after their visibility timeout (at least once).
async fn delete_all(queue: &Queue, messages: Vec<&ListedMessage>) -> Result<(), StorageError> {
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

/// Whether `stop` has completed already (without waiting for it).
fn is_ready(stop: std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    stop.poll(&mut cx).is_ready()
}
