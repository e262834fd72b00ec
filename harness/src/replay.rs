//! Replay: a recording streamed through the parser and a lifecycle tracker, judged into a
//! [`SessionReport`]. Memory stays flat however long the file is, beyond the tracker's state.

use std::io::BufRead;
use std::sync::mpsc;

use cvnotify_core::lifecycle::{Input, Settings, Sources, Tracker};

use crate::recording::{Item, RawText, ReadLine, Reader};
use crate::report::{SessionReport, Tally, Waivers, session_report};

/// Lines per batch handed to a parse worker.
const BATCH: usize = 1024;

/// What a parse worker makes of a batch of lines: the lifecycle inputs, and the message and line
/// checks.
#[derive(Default)]
struct Batch {
    inputs: Vec<Input>,
    tally: Tally,
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
                self.tally.message(&parsed, number);
                self.inputs.extend(input);
            }
            Err(problem) => self.tally.line_problem(&problem, number),
        }
    }
}

/// Replays one recording. The calling thread reads lines and hands them out in batches; parse
/// workers (one per core) do the expensive part (JSON, secret checks, message parsing); one
/// collector thread owns the tracker. The tracker's report does not depend on the order its
/// inputs arrive in, and checks keep their examples by line number, so the report is the same
/// whatever the threads' timing.
pub fn replay(
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
            let mut totals = Tally::default();
            for batch in done_rx {
                let Batch { inputs, tally } = batch;
                inputs.into_iter().for_each(|i| tracker.handle(i));
                totals.merge(tally);
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
    Ok(session_report(
        name, lines, sources, totals, &tracker, waivers,
    ))
}
