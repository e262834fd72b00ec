//! Replay: a recording streamed through the parser and a lifecycle tracker, judged into a
//! [`SessionReport`]. Memory stays flat however long the file is, and the tracker's own state is
//! bounded by the number of projects it holds ([`spill`] takes the rest to disk).

pub mod spill;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex, mpsc};

use cvnotify_core::lifecycle::{Input, Settings, Tracker};

use spill::Keeper;
pub use spill::Spill;

use crate::recording::{RawLines, ReadLine, Reader};
use crate::report::{
    ClientRuns, Journal, Posting, ProjectSink, Rules, Runs, SessionReport, Tally, judge, post,
};

/// Lines per batch handed to a parse worker, at most.
const BATCH: usize = 512;

/// Bytes of text per batch, about (a batch ends at the first line that reaches it): bounds
/// what the batches in flight hold when lines are long.
const BATCH_BYTES: usize = 128 << 10;

/// A batch's inputs vector emptied for another round, as [`RawLines::recycled`] does its
/// lines: a vector that lines of many inputs grew past four batches' worth is let go.
fn recycled(mut inputs: Vec<Input>) -> Vec<Input> {
    if inputs.capacity() > 4 * BATCH {
        return Vec::new();
    }
    inputs.clear();
    inputs
}

/// What a parse worker makes of a batch of lines: the lifecycle inputs, the run marks, and the
/// journal entries (put back in order by the batch's number). The message and line checks go to
/// the worker's own tally, merged with the others' at the end.
#[derive(Default)]
struct Batch {
    seq: usize,
    inputs: Vec<Input>,
    runs: Runs,
    journal: Vec<(u32, Journal)>,
    /// The lines themselves, for the tracker's keeper to spill from.
    lines: Option<RawLines>,
}

impl Batch {
    /// Posts one read line ([`post`], as a live session's ledger does), keeping what it hands on.
    fn absorb(&mut self, line: ReadLine, tally: &mut Tally) {
        match post(line.number, line.item, tally, &mut self.runs) {
            Posting::Nothing => {}
            Posting::Input(input) => self.inputs.push(input),
            Posting::Inputs(inputs) => self.inputs.extend(inputs),
            Posting::Journal(journal) => self.journal.push((line.number, journal)),
        }
    }
}

/// Replays one recording. The calling thread reads lines and hands them out in batches; parse
/// workers (one per core) do the expensive part (JSON, secret checks, message parsing); one
/// collector thread owns the tracker. The tracker's report does not depend on the order its
/// inputs arrive in, and checks keep their examples by line number; the client judge takes the
/// journal in line order (batches are put back in order), so the report is the same whatever
/// the threads' timing.
pub fn replay(
    name: &str,
    input: impl BufRead,
    rules: &Rules,
    progress: impl FnMut(usize),
) -> std::io::Result<SessionReport> {
    let inputs: Vec<(String, Box<dyn BufRead + '_>)> = vec![(name.to_string(), Box::new(input))];
    replay_merged(name, inputs, rules, progress)
}

/// Replays several recordings as one session: what several consumers of one queue saw, judged
/// as the one consumer that saw everything would be. Their lines go through one tracker and
/// one tally (a message two of them received counts once); evidence numbers run on from file
/// to file, and the report's `files` says where each begins. Each file's runs are judged on
/// their own (side by side, not one after the other).
pub fn replay_merged<'a>(
    name: &str,
    inputs: Vec<(String, Box<dyn BufRead + 'a>)>,
    rules: &Rules,
    progress: impl FnMut(usize),
) -> std::io::Result<SessionReport> {
    replay_streaming(name, inputs, rules, progress, None, Spill::default())
}

/// [`replay_merged`], handing each project's section to `sink` as it is judged rather than
/// keeping it in the report (`replay --format jsonl`): memory then holds the tracker's state,
/// never the report's projects. The tracker holds at most `spill.projects` projects; lines
/// about further projects go to temporary files and are read back as judging reaches them
/// ([`spill`]): the report is the same, and memory does not grow with the project count.
pub fn replay_streaming<'a>(
    name: &str,
    inputs: Vec<(String, Box<dyn BufRead + 'a>)>,
    rules: &Rules,
    mut progress: impl FnMut(usize),
    sink: Option<ProjectSink<'_>>,
    spill: Spill,
) -> std::io::Result<SessionReport> {
    let began = std::time::Instant::now();
    let mut lines = 0;
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 4);
    // Each worker tallies the messages it parses, holding its share of the bound.
    let share = spill
        .messages()
        .get()
        .div_ceil(workers)
        .try_into()
        .unwrap_or(std::num::NonZeroUsize::MIN);
    let dir = spill.dir.clone();
    let (kept, totals, runs, clients, read) = std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::sync_channel::<Batch>(2 * workers);
        // A batch's buffers (its lines, the vector its inputs go in) make a round trip: the
        // tracker hands them back to the reader to be filled again. Allocated per batch, they
        // were freed on another thread than the one that made them, which glibc's arenas can
        // keep hundreds of megabytes of.
        let (recycle_tx, recycle_rx) = mpsc::channel::<(RawLines, Vec<Input>)>();
        let collector = scope.spawn(move || {
            // Judged with every source; the runs' own say narrows them at the end.
            let mut keeper = Keeper::new(Tracker::new(Settings::default()), spill);
            let mut broken = None;
            let mut runs = Runs::default();
            let mut clients = ClientRuns::default();
            // Journal lines of batches that came early, until the ones before them come.
            let mut waiting: BTreeMap<usize, Vec<(u32, Journal)>> = BTreeMap::new();
            let mut next_seq = 0;
            for batch in done_rx {
                let Batch {
                    seq,
                    mut inputs,
                    runs: marks,
                    journal,
                    lines,
                } = batch;
                for input in inputs.drain(..) {
                    if broken.is_some() {
                        break;
                    }
                    let text = |n| lines.as_ref().and_then(|l| l.text(n));
                    if let Err(e) = keeper.handle(input, text) {
                        broken = Some(e);
                    }
                }
                if let Some(lines) = lines {
                    let _ = recycle_tx.send((lines, inputs));
                }
                runs.merge(marks);
                waiting.insert(seq, journal);
                while let Some(journal) = waiting.remove(&next_seq) {
                    for (line, j) in journal {
                        j.enter(line, &mut clients);
                    }
                    next_seq += 1;
                }
            }
            let kept = match broken {
                Some(e) => Err(e),
                None => keeper.finish(),
            };
            (kept, runs, clients)
        });
        let mut jobs = Vec::with_capacity(workers);
        let mut tallies = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = mpsc::sync_channel::<(usize, RawLines, Vec<Input>)>(1);
            let done = done_tx.clone();
            let mut tally = Tally::holding(share, dir.clone());
            tallies.push(scope.spawn(move || {
                for (seq, raw_lines, mut inputs) in rx {
                    inputs.reserve(raw_lines.len());
                    let mut batch = Batch {
                        seq,
                        inputs,
                        ..Batch::default()
                    };
                    raw_lines
                        .read()
                        .for_each(|line| batch.absorb(line, &mut tally));
                    batch.lines = Some(raw_lines);
                    if done.send(batch).is_err() {
                        break;
                    }
                }
                tally
            }));
            jobs.push(tx);
        }
        drop(done_tx);
        let mut batch = RawLines::new(BATCH, BATCH_BYTES);
        // The inputs vector that goes with `batch`.
        let mut spare = Vec::new();
        let mut next = 0usize;
        let mut send = |batch: RawLines, inputs: Vec<Input>| {
            if let Some(job) = jobs.get(next % workers) {
                let _ = job.send((next, batch, inputs));
            }
            next += 1;
        };
        let mut files = Runs::default();
        let mut read = Ok(());
        'files: for (file, input) in inputs {
            files.file(&file, lines + 1);
            let mut reader = Reader::numbered_after(input, lines);
            loop {
                let before = (batch.len(), batch.bytes());
                let more = reader.fill(&mut batch);
                progress(batch.bytes() - before.1);
                if batch.len() > before.0 {
                    lines = batch.last_number().unwrap_or(lines);
                }
                match more {
                    Ok(more) => {
                        if batch.is_full() {
                            let (lines, inputs) = recycle_rx.try_recv().map_or_else(
                                |_| (batch.emptied(), Vec::new()),
                                |(lines, inputs)| (lines.recycled(), recycled(inputs)),
                            );
                            send(
                                std::mem::replace(&mut batch, lines),
                                std::mem::replace(&mut spare, inputs),
                            );
                        }
                        if !more {
                            break;
                        }
                    }
                    Err(e) => {
                        read = Err(e);
                        break 'files;
                    }
                }
            }
        }
        if !batch.is_empty() {
            send(batch, spare);
        }
        drop(jobs);
        let (kept, mut runs, clients) = collector
            .join()
            .map_err(|_| std::io::Error::other("the tracker thread panicked"))?;
        let mut totals: Option<Tally> = None;
        for tally in tallies {
            let tally = tally
                .join()
                .map_err(|_| std::io::Error::other("a parse worker panicked"))?;
            match totals.as_mut() {
                Some(totals) => totals.merge(tally),
                None => totals = Some(tally),
            }
        }
        let totals = totals.unwrap_or_default();
        runs.merge(files);
        Ok::<_, std::io::Error>((kept, totals, runs, clients, read))
    })?;
    read?;
    let kept = kept?;
    let failed = Arc::new(Mutex::new(None));
    let trackers = kept.trackers(Arc::clone(&failed));
    let mut report = judge(name, lines, totals, &runs, trackers, &clients, rules, sink);
    if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    report.seconds = began.elapsed().as_secs_f64();
    Ok(report)
}
