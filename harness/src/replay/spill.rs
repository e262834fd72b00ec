//! Projects beyond memory: a replay's tracker holds at most a set number of projects; the lines
//! about any further project are written to temporary files, one per value of the project id's
//! first two hex digits, and read back one range of ids at a time when the session is judged.
//! Memory then holds a bounded number of projects however many the recording has, and the
//! report is the same: merging trackers that split a stream by project equals one tracker that
//! saw it all, and the ranges come back in id order, as one tracker hands its projects out.
//!
//! How it goes. A [`Keeper`] feeds its tracker until the tracker holds [`Spill::projects`]
//! projects; from then on the tracker takes inputs only about the projects it holds, and a line
//! with an input about any other project is written (its number and its text) to the file of
//! that project's next digits. When judging reaches a file's range, the projects the tracker
//! holds in that range are split off, the file is read back into a new keeper (which skips what
//! is about projects already held), and that keeper's own files, if it filled up too, split the
//! range by the following digit (16 files); and so on, to at most 32 digits. Each level adds at
//! most the bound of projects to what is held. Random ids need one level up to about 256 times
//! the bound (8 million projects by default), every line then decoded twice; ids bunched on
//! purpose make the files deeper (more time, a bound per level, and at most 256 + 16 × 30 files
//! open), nothing more.
//!
//! A spilled line is a recording line that was read without a problem, so it holds no secret
//! (a line that names one is refused before it stands for any input). The files are anonymous
//! (unlinked when made): nothing is left behind, whatever ends the run.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cvnotify_core::ProjectId;
use cvnotify_core::lifecycle::{Input, Timestamp, Tracker};

use crate::recording::{Item, MAX_LINE_BYTES, RawLines};

/// Projects a replay holds in memory by default: about 12 MiB of tracker state for projects
/// of one lifecycle each.
pub const DEFAULT_PROJECTS: usize = 1 << 15;

/// Messages a replay's message tally holds per project the tracker holds (a project of one
/// lifecycle has a few; 16 for each of 32,768 projects is about 5 MiB of tally).
pub const MESSAGES_PER_PROJECT: NonZeroUsize = NonZeroUsize::MIN.saturating_add(15);

/// Hex digits in a project id.
const DIGITS: u32 = 32;

/// Bytes buffered per spill file while it is written, and when it is read back.
const BUFFER: usize = 1 << 16;

/// How many projects a replay holds in memory, and where it spills the rest.
#[derive(Clone, Debug)]
pub struct Spill {
    /// Projects a tracker holds before lines about further projects go to disk.
    pub projects: NonZeroUsize,
    /// Where the temporary files go (`None`: the system's temporary directory, `TMPDIR`).
    pub dir: Option<PathBuf>,
}

impl Default for Spill {
    fn default() -> Self {
        Self {
            projects: NonZeroUsize::new(DEFAULT_PROJECTS).unwrap_or(NonZeroUsize::MIN),
            dir: None,
        }
    }
}

impl Spill {
    /// Messages the message tally holds before it writes to disk too: [`MESSAGES_PER_PROJECT`]
    /// for each project held.
    pub fn messages(&self) -> NonZeroUsize {
        self.projects.saturating_mul(MESSAGES_PER_PROJECT)
    }

    fn file(&self) -> io::Result<File> {
        crate::scratch::file(self.dir.as_deref(), "to spill projects to")
    }
}

/// The ids one keeper is about: those whose first `fixed` hex digits are those of `prefix`.
#[derive(Clone, Copy, Debug)]
struct Range {
    prefix: u128,
    fixed: u32,
}

impl Range {
    const ALL: Self = Self {
        prefix: 0,
        fixed: 0,
    };

    fn value(id: ProjectId) -> u128 {
        u128::from_be_bytes(*id.as_bytes())
    }

    fn contains(self, id: ProjectId) -> bool {
        match self.fixed {
            0 => true,
            fixed => {
                (Self::value(id) ^ self.prefix).checked_shr(128 - 4 * fixed.min(DIGITS)) == Some(0)
            }
        }
    }

    /// How many hex digits a split of this range fixes: two for the whole session (256 parts,
    /// so that a million projects need one level), one below (16 parts, so that ids bunched
    /// on purpose, a level for each digit they share, keep few files open), none at the end.
    fn width(self) -> u32 {
        match self.fixed {
            0 => 2,
            fixed => u32::from(fixed < DIGITS),
        }
    }

    /// How many parts a split of this range has.
    fn parts(self) -> usize {
        1 << (4 * self.width())
    }

    /// The digits after the fixed ones, as many as [`Range::width`] (which part a project goes
    /// to), when there are any.
    fn next_digit(self, id: ProjectId) -> Option<usize> {
        let width = self.width();
        (width > 0).then(|| {
            let shift = 128 - 4 * (self.fixed + width);
            let mask = (1u128 << (4 * width)) - 1;
            usize::try_from((Self::value(id) >> shift) & mask).unwrap_or_default()
        })
    }

    /// The range of the ids here whose next digits are `digit` (a value below
    /// [`Range::parts`]).
    fn narrowed(self, digit: usize) -> Self {
        let width = self.width().max(1);
        let fixed = (self.fixed + width).min(DIGITS);
        let mask = (1u128 << (4 * width)) - 1;
        Self {
            prefix: self.prefix | ((digit as u128 & mask) << (128 - 4 * fixed)),
            fixed,
        }
    }

    /// The first id of the range (its fixed digits, then zeros).
    fn start(self) -> ProjectId {
        ProjectId::from_bytes(self.prefix.to_be_bytes())
    }
}

/// The files one full keeper spills to, by the next hex digits of the project id (one per part
/// of its range), each with the number of the last line written to it (a line about two
/// projects of one part is written once).
type Files = Vec<Option<(BufWriter<File>, u32)>>;

/// Bytes buffered per file while it is written: 1 MiB for a keeper's files together.
fn write_buffer(parts: usize) -> usize {
    (1 << 20) / parts.max(1)
}

/// Feeds a tracker, up to its bound; spills lines about further projects.
#[derive(Debug)]
pub struct Keeper {
    tracker: Tracker,
    /// Projects already judged complete elsewhere (held by the keeper this one reads for): their
    /// inputs are skipped.
    settled: Tracker,
    range: Range,
    spill: Arc<Spill>,
    files: Option<Files>,
    /// The latest time of every input seen, kept or spilled.
    now: Timestamp,
}

impl Keeper {
    /// A keeper of the whole session, with a new tracker.
    pub fn new(tracker: Tracker, spill: Spill) -> Self {
        let settled = Tracker::new(*tracker.settings());
        Self {
            tracker,
            settled,
            range: Range::ALL,
            spill: Arc::new(spill),
            files: None,
            now: Timestamp(0),
        }
    }

    /// Takes in one input; `text` gives the text of a line by its number (the line an input
    /// comes from, when it has to be spilled).
    pub fn handle<'t>(
        &mut self,
        input: Input,
        text: impl FnOnce(u32) -> Option<&'t [u8]>,
    ) -> io::Result<()> {
        self.now = self.now.max(input.at);
        // The common case: the whole session's keeper, not full yet.
        if self.files.is_none() && self.range.fixed == 0 {
            self.keep(input);
            return Ok(());
        }
        let Some(project) = input.event.project_id() else {
            self.tracker.handle(input);
            return Ok(());
        };
        if !self.range.contains(project) || self.settled.holds(project) {
            return Ok(());
        }
        let digit = match self.range.next_digit(project) {
            Some(digit) if self.files.is_some() && !self.tracker.holds(project) => digit,
            _ => {
                self.keep(input);
                return Ok(());
            }
        };
        let number = input.evidence.get();
        let Some(slot) = self.files.as_mut().and_then(|f| f.get_mut(digit)) else {
            return Ok(());
        };
        if let Some((_, last)) = slot
            && *last == number
        {
            return Ok(());
        }
        let Some(text) = text(number) else {
            return Err(io::Error::other(format!(
                "line {number}: its text is gone before it could be spilled"
            )));
        };
        if slot.is_none() {
            let buffer = write_buffer(self.range.parts());
            *slot = Some((BufWriter::with_capacity(buffer, self.spill.file()?), 0));
        }
        if let Some((file, last)) = slot {
            let len = u32::try_from(text.len()).map_err(|_| io::Error::other("line too long"))?;
            file.write_all(&number.to_le_bytes())?;
            file.write_all(&len.to_le_bytes())?;
            file.write_all(text)?;
            *last = number;
        }
        Ok(())
    }

    /// Hands `input` to the tracker; once the tracker holds its bound of projects, further
    /// projects are spilled.
    fn keep(&mut self, input: Input) {
        self.tracker.handle(input);
        if self.files.is_none()
            && self.tracker.len() >= self.spill.projects.get()
            && self.range.fixed < DIGITS
        {
            self.files = Some(
                std::iter::repeat_with(|| None)
                    .take(self.range.parts())
                    .collect(),
            );
        }
    }

    /// Whether it has spilled (or will spill) lines to disk.
    pub fn spilled(&self) -> bool {
        self.files.is_some()
    }

    /// Ends the feeding: what is held, and what was spilled, ready to be read back.
    pub fn finish(self) -> io::Result<Kept> {
        let Self {
            mut tracker,
            settled,
            range,
            spill,
            files,
            now,
        } = self;
        tracker.absorb(settled).map_err(io::Error::other)?;
        let parts = match files {
            None => None,
            Some(files) => {
                let mut parts = Vec::with_capacity(files.len());
                for written in files {
                    parts.push(match written {
                        Some((file, _)) => {
                            let mut file =
                                file.into_inner().map_err(io::IntoInnerError::into_error)?;
                            file.rewind()?;
                            Some(file)
                        }
                        None => None,
                    });
                }
                Some(parts)
            }
        };
        Ok(Kept {
            tracker,
            range,
            parts,
            spill,
            now,
        })
    }
}

/// What a keeper held and spilled: its tracker (the projects it held, and those settled before
/// it in its range) and, if it filled up, its files by the next digits.
#[derive(Debug)]
pub struct Kept {
    tracker: Tracker,
    range: Range,
    parts: Option<Vec<Option<File>>>,
    spill: Arc<Spill>,
    now: Timestamp,
}

impl Kept {
    /// The session's trackers, by ascending ranges of project id, each brought to the
    /// session's latest time: spilled parts are read back as they are reached. A failure to
    /// read one back ends the trackers early and is left in `failed`.
    pub fn trackers(
        self,
        failed: Arc<Mutex<Option<io::Error>>>,
    ) -> impl Iterator<Item = Tracker> + Send {
        Trackers {
            now: self.now,
            stack: vec![Frame::new(self)],
            failed,
        }
    }
}

/// One keeper's output being handed out: the projects it holds that are not handed out yet,
/// its files, and the next digit to go to.
#[derive(Debug)]
struct Frame {
    kept: Kept,
    next: usize,
}

impl Frame {
    const fn new(kept: Kept) -> Self {
        Self { kept, next: 0 }
    }
}

struct Trackers {
    stack: Vec<Frame>,
    now: Timestamp,
    failed: Arc<Mutex<Option<io::Error>>>,
}

impl Trackers {
    fn fail(&mut self, e: io::Error) {
        self.stack.clear();
        if let Ok(mut slot) = self.failed.lock() {
            slot.get_or_insert(e);
        }
    }

    fn ready(&self, mut tracker: Tracker) -> Tracker {
        tracker.pass_time(self.now);
        tracker
    }
}

impl Iterator for Trackers {
    type Item = Tracker;

    fn next(&mut self) -> Option<Tracker> {
        loop {
            let frame = self.stack.last_mut()?;
            let Some(parts) = frame.kept.parts.as_mut() else {
                let frame = self.stack.pop()?;
                return Some(self.ready(frame.kept.tracker));
            };
            let digit = frame.next;
            if digit >= parts.len() {
                self.stack.pop();
                continue;
            }
            frame.next += 1;
            // The projects held in this digit's range: those below the next digit's start.
            let here = frame.kept.range.narrowed(digit);
            let held = if digit + 1 < parts.len() {
                let rest = frame
                    .kept
                    .tracker
                    .split_off(frame.kept.range.narrowed(digit + 1).start());
                std::mem::replace(&mut frame.kept.tracker, rest)
            } else {
                let settings = *frame.kept.tracker.settings();
                std::mem::replace(&mut frame.kept.tracker, Tracker::new(settings))
            };
            let Some(file) = parts.get_mut(digit).and_then(Option::take) else {
                if held.is_empty() {
                    continue;
                }
                return Some(self.ready(held));
            };
            let spill = Arc::clone(&frame.kept.spill);
            match read_back(file, held, here, spill) {
                Ok(kept) => self.stack.push(Frame::new(kept)),
                Err(e) => {
                    self.fail(e);
                    return None;
                }
            }
        }
    }
}

/// Reads one spilled file back into a keeper of `range`, with `settled` the projects of the
/// range already held (their inputs in the file were taken already). The lines are decoded
/// again, in batches, on parse workers (one per core, as the replay's first pass has them);
/// the keeper takes their inputs back in the file's order.
fn read_back(file: File, settled: Tracker, range: Range, spill: Arc<Spill>) -> io::Result<Kept> {
    let mut keeper = Keeper {
        tracker: Tracker::new(*settled.settings()),
        settled,
        range,
        spill,
        files: None,
        now: Timestamp(0),
    };
    let mut file = BufReader::with_capacity(BUFFER, file);
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 4);
    if workers == 1 {
        while let Some(batch) = next_batch(&mut file)? {
            let inputs = inputs_of(&batch);
            take_back(&mut keeper, &batch, inputs)?;
        }
        return keeper.finish();
    }
    std::thread::scope(|scope| {
        // One lane per worker: batch k goes to lane k mod n and comes back from there, so the
        // batches come back in the file's order; at most one is out on each lane.
        let mut lanes = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (job, jobs) = std::sync::mpsc::sync_channel::<RawLines>(1);
            let (done, back) = std::sync::mpsc::sync_channel::<(RawLines, Vec<(usize, Input)>)>(1);
            scope.spawn(move || {
                for batch in jobs {
                    let inputs = inputs_of(&batch);
                    if done.send((batch, inputs)).is_err() {
                        break;
                    }
                }
            });
            lanes.push((job, back));
        }
        let (mut sent, mut taken) = (0usize, 0usize);
        let take = |keeper: &mut Keeper, taken: &mut usize| -> io::Result<()> {
            let lane = lanes.get(*taken % workers);
            let Some(Ok((batch, inputs))) = lane.map(|(_, back)| back.recv()) else {
                return Err(io::Error::other("a spill reader stopped"));
            };
            *taken += 1;
            take_back(keeper, &batch, inputs)
        };
        while let Some(batch) = next_batch(&mut file)? {
            if sent - taken == workers {
                take(&mut keeper, &mut taken)?;
            }
            let lane = lanes.get(sent % workers);
            if lane.is_none_or(|(job, _)| job.send(batch).is_err()) {
                return Err(io::Error::other("a spill reader stopped"));
            }
            sent += 1;
        }
        while taken < sent {
            take(&mut keeper, &mut taken)?;
        }
        Ok(())
    })?;
    keeper.finish()
}

/// Lines per batch read back, at most.
const BATCH: usize = 1024;

/// The next batch of spilled lines, if the file has more.
fn next_batch(file: &mut impl Read) -> io::Result<Option<RawLines>> {
    let mut batch = RawLines::new(BATCH, BUFFER * 4);
    let mut text = Vec::new();
    let mut head = [0u8; 8];
    while !batch.is_full() {
        match file.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let [n0, n1, n2, n3, l0, l1, l2, l3] = head;
        let number = u32::from_le_bytes([n0, n1, n2, n3]);
        let len = usize::try_from(u32::from_le_bytes([l0, l1, l2, l3])).unwrap_or(usize::MAX);
        if len > MAX_LINE_BYTES {
            return Err(io::Error::other(format!(
                "spilled line {number} is longer than a recording line can be: the temporary file is damaged"
            )));
        }
        text.resize(len, 0);
        file.read_exact(&mut text)?;
        batch.push(number, &text);
    }
    Ok((!batch.is_empty()).then_some(batch))
}

/// The inputs of a batch of spilled lines, each with its line's place in the batch. Each line
/// was read without a problem when it was spilled, and reads the same again.
fn inputs_of(batch: &RawLines) -> Vec<(usize, Input)> {
    let mut inputs = Vec::new();
    for (at, line) in batch.read().enumerate() {
        match line.item {
            Ok(Item::Inputs(of_line)) => inputs.extend(of_line.into_iter().map(|i| (at, i))),
            Ok(Item::Message { input, .. }) => inputs.extend(input.map(|i| (at, i))),
            _ => {}
        }
    }
    inputs
}

/// Hands a batch's inputs to `keeper`, which may spill them again (from the batch's texts).
fn take_back(keeper: &mut Keeper, batch: &RawLines, inputs: Vec<(usize, Input)>) -> io::Result<()> {
    for (at, input) in inputs {
        keeper.handle(input, |_| batch.text_at(at))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cvnotify_core::lifecycle::Settings;

    use crate::recording::read_line;

    use super::*;

    fn id(value: u128) -> ProjectId {
        ProjectId::from_bytes(value.to_be_bytes())
    }

    /// A recording line configuring `project`, and the inputs it stands for.
    fn configured(n: u32, project: ProjectId) -> (String, Vec<Input>) {
        let text = format!(
            r#"{{"kind":"api","at":"2026-01-01T00:00:{n:02}Z","operation":"CreateProject","projectId":"{project}","httpStatus":200,"notificationQueueUri":"https://a.queue.core.windows.net/q"}}"#
        );
        let inputs = match read_line(&text, n) {
            Ok(Item::Inputs(inputs)) => inputs,
            other => panic!("not a line of inputs: {other:?}"),
        };
        (text, inputs)
    }

    #[test]
    fn ranges_split_by_digits_in_id_order() {
        // The whole session splits by its first two digits, 256 parts.
        let all = Range::ALL;
        assert_eq!(all.parts(), 256);
        assert!(all.contains(id(u128::MAX)));
        assert_eq!(all.next_digit(id(0xA5 << 120)), Some(0xA5));
        let a = all.narrowed(0xA5);
        assert!(a.contains(id(0xA5 << 120)));
        assert!(a.contains(id((0xA5 << 120) | 0xFFFF)));
        assert!(!a.contains(id(0xA6 << 120)));
        assert!(!a.contains(id(0xA << 124)));
        assert!(a.start() < all.narrowed(0xA6).start());
        // Below, one digit at a time: 16 parts.
        assert_eq!(a.parts(), 16);
        assert_eq!(a.next_digit(id((0xA5 << 120) | (0x3 << 116))), Some(3));
        let b = a.narrowed(3);
        assert!(b.contains(id((0xA53 << 116) | 1)));
        assert!(!b.contains(id(0xA54 << 116)));
        // Down to the last digit, and no further.
        let mut last = Range::ALL.narrowed(0xFF);
        for _ in 2..DIGITS {
            last = last.narrowed(0xF);
        }
        assert!(last.contains(id(u128::MAX)));
        assert!(!last.contains(id(u128::MAX - 1)));
        assert_eq!(last.next_digit(id(u128::MAX)), None);
        assert_eq!(last.width(), 0);
    }

    /// A keeper of two projects spills the lines of the others, and hands every project back
    /// in id order, each once, at the latest time seen, with ids bunched down to the last
    /// digit.
    #[test]
    fn a_full_keeper_spills_and_hands_everything_back_in_order() {
        let spill = Spill {
            projects: NonZeroUsize::new(2).unwrap(),
            dir: None,
        };
        let mut keeper = Keeper::new(Tracker::new(Settings::default()), spill);
        let ids: Vec<ProjectId> = (0..5u128)
            .map(|n| id(0x77 << 120 | n))
            .chain(
                (1..6u128).map(|n| id(n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))),
            )
            .collect();
        let mut whole = Tracker::new(Settings::default());
        for (n, project) in (1u32..).zip(&ids) {
            let (text, inputs) = configured(n, *project);
            for input in inputs {
                whole.handle(input.clone());
                keeper
                    .handle(input, |m| (m == n).then_some(text.as_bytes()))
                    .unwrap();
            }
        }
        assert!(keeper.spilled());
        assert_eq!(keeper.tracker.len(), 2, "held to its bound");
        let kept = keeper.finish().unwrap();
        let failed = Arc::new(Mutex::new(None));
        let trackers: Vec<Tracker> = kept.trackers(Arc::clone(&failed)).collect();
        assert!(failed.lock().unwrap().is_none());
        assert!(trackers.len() > 2, "taken apart by ranges");
        assert!(trackers.iter().all(|t| t.now() == whole.now()));
        let mut back = Tracker::new(Settings::default());
        let mut order = Vec::new();
        for t in trackers {
            order.extend(t.projects().keys().copied());
            back.absorb(t).unwrap();
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(order, sorted, "each project once, in id order");
        assert_eq!(back, whole);
    }
}
