//! What each message of a session was counted for, in bounded memory: per message (a 64-bit
//! short id), a set of bits, held as a sorted run with a small tail of the newest additions
//! and, past a bound, written out as sorted runs to anonymous temporary files. The
//! count of messages with each bit is read off at the end, when every run is merged: a message
//! whose deliveries landed in several runs counts once, with the bits of all of them.
//!
//! Files are merged in tiers as they come ([`FAN_IN`] runs of one tier make one of the next),
//! so the files open at the end, and the buffers that read them, stay few: about
//! `FAN_IN` × log<sub>`FAN_IN`</sub>(messages / bound). A file that cannot be written leaves its
//! run in memory (nothing is dropped; memory then grows past the bound, and a warning says so).
//!
//! Adding never looks a message up: short ids are spread evenly, so a lookup in a run of
//! megabytes misses the cache every time (three misses a message, 8 % of a replay's time). An
//! addition is appended to the tail instead, which is sorted (a repeat combined with the entry
//! before it) and merged into the run in one pass when it is full: every access is sequential.

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;

/// Messages held in memory by default: about 5 MiB.
pub(super) const DEFAULT_HOLD: usize = 1 << 19;

/// Additions the tail takes before it is folded into the run, at most (320 KiB: it is sorted
/// in cache, and a fold's pass over the run is shared by this many additions).
const TAIL: usize = 1 << 15;

/// Runs of one tier that are merged into one run of the next.
const FAN_IN: usize = 16;

/// Bytes of one entry in a file: the key (big-endian) and the bits (little-endian).
const ENTRY: usize = 10;

/// Bytes buffered per file while it is written or read.
const BUFFER: usize = 1 << 15;

/// One message's entry: its key as big-endian bytes (so that byte order is key order) and its
/// bits as little-endian ones; with 1-byte alignment an entry takes 10 bytes, not 16.
type Entry = ([u8; 8], [u8; 2]);

/// The bits of two entries of one key.
fn union(a: [u8; 2], b: [u8; 2]) -> [u8; 2] {
    (u16::from_le_bytes(a) | u16::from_le_bytes(b)).to_le_bytes()
}

/// A sorted run written to a file, and its tier (a run of tier `n` merged `FAN_IN`^`n` runs).
#[derive(Debug)]
struct Stored {
    tier: u32,
    file: File,
    /// Entries written to it.
    entries: u64,
}

/// Per message, the bits of what it was counted for (see the module doc). In memory: a sorted
/// run of 10-byte entries, which has no hash table's slack, and a tail of the newest additions
/// in the order they came, folded into the run when it is full.
#[derive(Debug)]
pub(super) struct MessageBits {
    /// Sorted by key, each key once.
    run: Vec<Entry>,
    /// Additions not yet in the run: a key may be here more than once, and in the run too.
    tail: Vec<Entry>,
    /// Messages the run holds before it goes to a file.
    hold: usize,
    /// Where the files go (`None`: the system's temporary directory).
    dir: Option<PathBuf>,
    stored: Vec<Stored>,
    /// Whether a file could not be written (memory then holds what it would have).
    unwritable: bool,
}

impl Default for MessageBits {
    fn default() -> Self {
        Self::holding(
            NonZeroUsize::new(DEFAULT_HOLD).unwrap_or(NonZeroUsize::MIN),
            None,
        )
    }
}

impl MessageBits {
    /// Holds at most about `hold` messages in memory; the rest go to files in `dir`.
    pub(super) fn holding(hold: NonZeroUsize, dir: Option<PathBuf>) -> Self {
        Self {
            run: Vec::new(),
            tail: Vec::new(),
            hold: hold.get(),
            dir,
            stored: Vec::new(),
            unwritable: false,
        }
    }

    /// The tail's size at which it is folded.
    fn tail_limit(&self) -> usize {
        TAIL.min(self.hold)
    }

    /// Adds `bits` to message `m`'s.
    pub(super) fn add(&mut self, m: u64, bits: u16) {
        self.tail.push((m.to_be_bytes(), bits.to_le_bytes()));
        if self.tail.len() >= self.tail_limit() {
            self.fold();
        }
    }

    /// Adds everything `other` holds (its files become this one's): its run, already sorted, is
    /// merged into this one a tail's worth at a time (so this run reaches the bound and goes to
    /// a file as it would by additions); its tail joins this one's.
    pub(super) fn absorb(&mut self, other: Self) {
        self.unwritable |= other.unwritable;
        let had = self.stored.len();
        self.stored.extend(other.stored);
        let part_size = self.tail_limit();
        for part in other.run.chunks(part_size) {
            self.merge(part);
        }
        for (k, v) in other.tail {
            self.add(u64::from_be_bytes(k), u16::from_le_bytes(v));
        }
        if self.stored.len() > had {
            self.stored.sort_by_key(|s| std::cmp::Reverse(s.tier));
            self.compact();
        }
    }

    /// Sorts the tail by key, each key once with the bits of all its additions.
    fn sort_tail(&mut self) {
        self.tail.sort_unstable_by_key(|e| e.0);
        self.tail.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = union(kept.1, later.1);
            }
            same
        });
    }

    /// Moves the tail into the run. A tail that was mostly repeats stays a tail, sorted, until
    /// it fills again.
    fn fold(&mut self) {
        self.sort_tail();
        if self.tail.len() < self.tail_limit() / 2 {
            return;
        }
        let tail = std::mem::take(&mut self.tail);
        self.merge(&tail);
        // The tail's buffer is reused (its length is back to zero).
        self.tail = tail;
        self.tail.clear();
    }

    /// Merges `sorted` (by key, each key once) into the run in place from the back (the run
    /// grows by at most its length: no second copy of the run is ever held); a run that
    /// reaches the bound goes to a file.
    fn merge(&mut self, sorted: &[Entry]) {
        let (mut i, mut j) = (self.run.len(), sorted.len());
        self.run.extend_from_slice(sorted);
        let mut k = self.run.len();
        // Each step writes one entry at `k - 1` and takes one from the run's unmerged part
        // (ending at `i`), `sorted`'s (ending at `j`), or both when their keys are equal; `k`
        // never falls below `i + j`, so nothing unmerged is overwritten.
        while j > 0 {
            let (Some(&t), run_last) = (
                sorted.get(j - 1),
                i.checked_sub(1).and_then(|at| self.run.get(at).copied()),
            ) else {
                break;
            };
            let item = match run_last {
                Some(r) if r.0 > t.0 => {
                    i -= 1;
                    r
                }
                Some(r) if r.0 == t.0 => {
                    i -= 1;
                    j -= 1;
                    (t.0, union(r.1, t.1))
                }
                _ => {
                    j -= 1;
                    t
                }
            };
            k -= 1;
            if let Some(slot) = self.run.get_mut(k) {
                *slot = item;
            }
        }
        // Keys `sorted` shared with the run left a gap between the run's untouched start and
        // the merged end.
        if k > i {
            self.run.copy_within(k.., i);
            self.run.truncate(self.run.len() - (k - i));
        }
        if self.run.len() >= self.hold && !self.unwritable {
            self.store();
        }
    }

    /// A new anonymous file in the spill directory.
    fn file(&self) -> io::Result<File> {
        crate::scratch::file(self.dir.as_deref(), "for the message tally")
    }

    /// Writes the run to a file of tier 0 and empties it; keeps it when the file fails.
    fn store(&mut self) {
        let run = std::mem::take(&mut self.run);
        let written = self.file().and_then(|file| {
            let mut out = BufWriter::with_capacity(BUFFER, file);
            for (k, v) in &run {
                out.write_all(k)?;
                out.write_all(v)?;
            }
            out.into_inner().map_err(io::IntoInnerError::into_error)
        });
        match written {
            Ok(file) => {
                let entries = run.len() as u64;
                self.stored.push(Stored {
                    tier: 0,
                    file,
                    entries,
                });
                self.compact();
            }
            Err(e) => {
                self.unwritable = true;
                self.run = run;
                tracing::warn!("the message tally keeps every message in memory from here on: {e}");
            }
        }
    }

    /// Merges the last [`FAN_IN`] files while they are of one tier (files are kept in
    /// descending tiers, so those are the newest and smallest).
    fn compact(&mut self) {
        while self.stored.len() >= FAN_IN
            && let Some(newest) = self.stored.last().map(|s| s.tier)
            && self
                .stored
                .get(self.stored.len() - FAN_IN..)
                .is_some_and(|last| last.iter().all(|s| s.tier == newest))
        {
            let group = self.stored.split_off(self.stored.len() - FAN_IN);
            let merged = self.file().and_then(|file| {
                let mut out = BufWriter::with_capacity(BUFFER, file);
                let mut sources = Vec::with_capacity(group.len());
                for s in &group {
                    sources.push(Source::stored(s)?);
                }
                let mut entries = 0u64;
                Merge::new(sources)?.each(|k, v| {
                    entries += 1;
                    out.write_all(&k.to_be_bytes())?;
                    out.write_all(&v.to_le_bytes())
                })?;
                Ok((
                    out.into_inner().map_err(io::IntoInnerError::into_error)?,
                    entries,
                ))
            });
            match merged {
                Ok((file, entries)) => self.stored.push(Stored {
                    tier: newest + 1,
                    file,
                    entries,
                }),
                Err(e) => {
                    // The group stays as it is: more files to read at the end, nothing lost.
                    tracing::warn!("the message tally cannot merge its files: {e}");
                    self.stored.extend(group);
                    return;
                }
            }
        }
    }

    /// Calls `each` once per message with all its bits, in key order; an error when a file
    /// cannot be read back.
    pub(super) fn count(mut self, mut each: impl FnMut(u16)) -> io::Result<()> {
        self.sort_tail();
        let mut sources = vec![
            Source::Memory(std::mem::take(&mut self.run).into_iter()),
            Source::Memory(std::mem::take(&mut self.tail).into_iter()),
        ];
        for s in &self.stored {
            sources.push(Source::stored(s)?);
        }
        Merge::new(sources)?.each(|_, bits| {
            each(bits);
            Ok(())
        })
    }
}

#[cfg(test)]
impl MessageBits {
    /// Cuts every file short, as a disk that lost data would.
    pub(super) fn cut_files(&self) -> io::Result<()> {
        self.stored.iter().try_for_each(|s| s.file.set_len(5))
    }
}

/// One sorted run being merged.
enum Source<'f> {
    Memory(std::vec::IntoIter<Entry>),
    /// A file and the entries still to read from it.
    File(BufReader<&'f File>, u64),
}

impl<'f> Source<'f> {
    /// A stored run, read from its start.
    fn stored(stored: &'f Stored) -> io::Result<Self> {
        let mut handle = &stored.file;
        handle.rewind()?;
        Ok(Self::File(
            BufReader::with_capacity(BUFFER, &stored.file),
            stored.entries,
        ))
    }

    fn next(&mut self) -> io::Result<Option<(u64, u16)>> {
        let entry = match self {
            Self::Memory(entries) => entries.next(),
            Self::File(_, 0) => None,
            Self::File(reader, left) => {
                let mut buf = [0u8; ENTRY];
                // A file shorter than what was written to it is an error, not its end.
                reader.read_exact(&mut buf)?;
                *left -= 1;
                let (k, v) = buf.split_at(8);
                Some((
                    k.try_into().map_err(io::Error::other)?,
                    v.try_into().map_err(io::Error::other)?,
                ))
            }
        };
        Ok(entry.map(|(k, v)| (u64::from_be_bytes(k), u16::from_le_bytes(v))))
    }
}

/// A merge of sorted runs: each key once, with the bits of every run that has it.
struct Merge<'f> {
    sources: Vec<Source<'f>>,
    /// The next key of each source that has one, smallest first; the bits beside the source.
    heads: BinaryHeap<std::cmp::Reverse<(u64, usize)>>,
    bits: Vec<u16>,
}

impl<'f> Merge<'f> {
    fn new(mut sources: Vec<Source<'f>>) -> io::Result<Self> {
        let mut heads = BinaryHeap::with_capacity(sources.len());
        let mut bits = vec![0; sources.len()];
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some((k, v)) = s.next()? {
                heads.push(std::cmp::Reverse((k, i)));
                if let Some(b) = bits.get_mut(i) {
                    *b = v;
                }
            }
        }
        Ok(Self {
            sources,
            heads,
            bits,
        })
    }

    /// Calls `each` per key, in key order, with its bits from every run.
    fn each(mut self, mut each: impl FnMut(u64, u16) -> io::Result<()>) -> io::Result<()> {
        while let Some(std::cmp::Reverse((key, _))) = self.heads.peek().copied() {
            let mut bits = 0u16;
            while let Some(std::cmp::Reverse((k, i))) = self.heads.peek().copied()
                && k == key
            {
                self.heads.pop();
                bits |= self.bits.get(i).copied().unwrap_or_default();
                if let Some(s) = self.sources.get_mut(i)
                    && let Some((k, v)) = s.next()?
                {
                    self.heads.push(std::cmp::Reverse((k, i)));
                    if let Some(b) = self.bits.get_mut(i) {
                        *b = v;
                    }
                }
            }
            each(key, bits)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every message with its bits, in key order.
    fn entries(bits: MessageBits) -> Vec<u16> {
        let mut out = Vec::new();
        bits.count(|b| out.push(b))
            .map(|()| out)
            .unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The run, the tail and the files together answer as a plain map would, across folds,
        /// files and tiers of merged files, for keys that repeat (redeliveries) and keys that
        /// do not; and a store absorbed into another adds up as the two maps do.
        #[test]
        fn message_bits_count_as_a_map(
            adds in proptest::collection::vec((0u64..15_000, 0u16..16), 0..12_000),
            spread in any::<bool>(),
            hold in prop_oneof![16usize..64, 500usize..3000, Just(DEFAULT_HOLD)],
            split in 0usize..12_000,
        ) {
            let hold = NonZeroUsize::new(hold).unwrap_or(NonZeroUsize::MIN);
            let mut bits = MessageBits::holding(hold, None);
            let mut other = MessageBits::holding(hold, None);
            let mut model: std::collections::BTreeMap<u64, u16> = Default::default();
            for (n, (m, b)) in adds.into_iter().enumerate() {
                // Spread over the whole 64-bit range, as short ids are; or bunched in the
                // directory's first slot, as crafted ones could be.
                let m = if spread { m.wrapping_mul(0x9E37_79B9_7F4A_7C15) } else { m };
                *model.entry(m).or_default() |= 1 << b;
                if n < split { bits.add(m, 1 << b) } else { other.add(m, 1 << b) }
            }
            bits.absorb(other);
            let expected: Vec<u16> = model.values().copied().collect();
            prop_assert_eq!(entries(bits), expected);
        }
    }

    /// Runs go to files past the bound and are merged in tiers: the files open stay few.
    #[test]
    fn files_are_merged_in_tiers() {
        let mut bits = MessageBits::holding(NonZeroUsize::MIN, None);
        let messages = 3 * FAN_IN * FAN_IN + FAN_IN + 1;
        for m in 0..messages as u64 {
            bits.add(m.wrapping_mul(0x9E37_79B9_7F4A_7C15), 1);
        }
        assert!(bits.run.is_empty() && bits.tail.is_empty());
        let tiers: Vec<u32> = bits.stored.iter().map(|s| s.tier).collect();
        assert_eq!(tiers, vec![2, 2, 2, 1, 0]);
        let mut n = 0;
        assert!(bits.count(|b| n += usize::from(b == 1)).is_ok());
        assert_eq!(n, messages);
    }

    /// A file that lost entries after they were written is an error when counted, not fewer
    /// messages.
    #[test]
    fn a_file_cut_short_is_an_error() {
        let mut bits = MessageBits::holding(NonZeroUsize::MIN, None);
        for m in 0..3u64 {
            bits.add(m, 1);
        }
        let cut = bits.stored.first().map(|s| s.file.set_len(5));
        assert!(matches!(cut, Some(Ok(()))));
        let mut n = 0;
        let counted = bits.count(|_| n += 1);
        assert_eq!(
            counted.map_err(|e| e.kind()),
            Err(io::ErrorKind::UnexpectedEof)
        );
    }
}
