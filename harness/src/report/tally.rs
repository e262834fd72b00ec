//! The message-level tally of a session: counts of accepted, rejected and deviating messages,
//! and checks with bounded examples (message checks, line problems, an unavailable API).
//!
//! Messages count once each, by message id, however often the queue handed them out (a
//! redelivered message is one message). Everything here is independent of the order it is fed
//! in: replay's parse workers hand their lines over in any order.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use cvnotify_core::lifecycle::{MessageId, Operation, Severity, Timestamp};
use cvnotify_core::{DeviationCode, Encoding, ParseError, Parsed};

use super::messages::MessageBits;
use super::model::{EXAMPLES, Example, MessageCounts};
use crate::recording::LineProblem;

/// What the documented message shape rests on.
const MESSAGE_SHAPE: &str = "seed: Verify the connection and after (documented message shape)";
/// What the recording's own checks rest on.
pub(super) const FORMAT: &str = "recording format (corpus/README.md)";

/// One message-level check being tallied: severity, whether it is a deviation, what it rests on,
/// how often, and its first examples (with the message they are about, when they are).
#[derive(Debug)]
pub(super) struct Counted {
    pub(super) severity: Severity,
    pub(super) deviation: bool,
    pub(super) rests_on: &'static str,
    pub(super) count: u64,
    pub(super) examples: Vec<(Example, Option<u64>)>,
}

impl Counted {
    /// Keeps `example` when it is among the first lines: one example per message (its first
    /// line), the [`EXAMPLES`] first lines in all, whatever the order they come in.
    fn keep(&mut self, example: Example, message: Option<u64>) {
        if let Some(m) = message
            && let Some(at) = self.examples.iter().position(|(_, id)| *id == Some(m))
        {
            if self
                .examples
                .get(at)
                .is_some_and(|(e, _)| e.line <= example.line)
            {
                return;
            }
            self.examples.remove(at);
        }
        let at = self
            .examples
            .partition_point(|(e, _)| e.line <= example.line);
        self.examples.insert(at, (example, message));
        self.examples.truncate(EXAMPLES);
    }
}

/// What a message was counted for, one bit each ([`Counter::bit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counter {
    Accepted,
    Plain,
    Base64,
    Rejected,
    WithDeviations,
    Deviation(DeviationCode),
}

impl Counter {
    fn bit(self) -> u16 {
        let n = match self {
            Self::Accepted => 0,
            Self::Plain => 1,
            Self::Base64 => 2,
            Self::Rejected => 3,
            Self::WithDeviations => 4,
            Self::Deviation(code) => {
                5 + DeviationCode::ALL
                    .iter()
                    .position(|c| *c == code)
                    .unwrap_or_default()
            }
        };
        1 << n
    }
}

/// A message id, reduced to 64 bits: the tally only tells messages apart (a collision among a
/// million messages has a chance of about 1 in 30 million, and would undercount by one).
fn short(id: MessageId) -> u64 {
    // Splitting a u128 into halves: the shifts and truncations are exact.
    ((id.0 >> 64) as u64) ^ (id.0 as u64).rotate_left(29)
}

/// Message counts and message- and line-level checks of one session.
#[derive(Debug, Default)]
pub struct Tally {
    /// The message counts, once [`Tally::settle`] has read them off `seen`.
    pub(super) counts: MessageCounts,
    pub(super) checks: BTreeMap<String, Counted>,
    /// Per message, the bits of what it was counted for; counted when the tally settles.
    seen: MessageBits,
    /// Whether a training API call got no usable answer (the source was not observed).
    pub(super) api_unavailable: bool,
    /// The first and the last time of an input (milliseconds since the epoch).
    pub(super) span: Option<(u64, u64)>,
    /// Whether the counts have been read off (`seen` is then empty).
    settled: bool,
}

impl Tally {
    /// A tally that holds about `messages` messages in memory and writes what it knows of
    /// further ones to temporary files in `dir` (the system's temporary directory when `None`),
    /// counting them all when it settles. [`Tally::default`] holds about half a million.
    pub fn holding(messages: NonZeroUsize, dir: Option<PathBuf>) -> Self {
        Self {
            seen: MessageBits::holding(messages, dir),
            ..Self::default()
        }
    }

    /// An input of time `at` was seen: the session spans it.
    pub fn saw(&mut self, at: Timestamp) {
        let t = at.0;
        self.span = Some(match self.span {
            Some((first, last)) => (first.min(t), last.max(t)),
            None => (t, t),
        });
    }

    /// Counts every message once, with everything it was counted for (its deliveries may
    /// have been tallied apart, and held on disk): the message counts, and the count of each
    /// per-message check (`message-rejected` and the deviations). A tally whose files cannot
    /// be read back says so as an error check, `messages-uncounted`, rather than give counts
    /// that miss messages.
    pub(super) fn settle(&mut self) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let mut per_bit = [0u64; 16];
        let seen = std::mem::take(&mut self.seen);
        let counted = seen.count(|bits| {
            for (bit, n) in per_bit.iter_mut().enumerate() {
                *n += u64::from(bits >> bit & 1);
            }
        });
        let of = |counter: Counter| {
            per_bit
                .get(counter.bit().trailing_zeros() as usize)
                .copied()
                .unwrap_or_default()
        };
        self.counts = MessageCounts {
            accepted: of(Counter::Accepted),
            plain: of(Counter::Plain),
            base64: of(Counter::Base64),
            rejected: of(Counter::Rejected),
            with_deviations: of(Counter::WithDeviations),
        };
        for (code, check) in &mut self.checks {
            let counter = if code == "message-rejected" {
                Counter::Rejected
            } else if let Some(d) = DeviationCode::ALL.iter().find(|c| c.as_str() == code) {
                Counter::Deviation(*d)
            } else {
                continue;
            };
            check.count = of(counter);
        }
        if let Err(e) = counted {
            self.add(
                "messages-uncounted",
                Severity::Error,
                false,
                "cvnotify: every message is counted",
                0,
                format!(
                    "the message tally's temporary files could not be read back ({e}): the \
                     message counts and the per-message checks miss messages"
                ),
                true,
                None,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &mut self,
        code: &str,
        severity: Severity,
        deviation: bool,
        rests_on: &'static str,
        line: u32,
        detail: String,
        count: bool,
        message: Option<u64>,
    ) {
        let entry = self
            .checks
            .entry(code.to_string())
            .or_insert_with(|| Counted {
                severity,
                deviation,
                rests_on,
                count: 0,
                examples: Vec::new(),
            });
        if count {
            entry.count += 1;
        }
        entry.keep(Example { line, detail }, message);
    }

    /// Counts one delivery of the message `id` on `line`: accepted (with its encoding and
    /// deviations) or rejected. A message delivered again counts once (when the tally settles).
    pub fn message(&mut self, id: MessageId, parsed: &Result<Parsed, ParseError>, line: u32) {
        let m = short(id);
        match parsed {
            Ok(p) => {
                let mut bits = Counter::Accepted.bit()
                    | match p.encoding {
                        Encoding::Plain => Counter::Plain.bit(),
                        Encoding::Base64 => Counter::Base64.bit(),
                    };
                if !p.deviations.is_empty() {
                    bits |= Counter::WithDeviations.bit();
                }
                for d in &p.deviations {
                    bits |= Counter::Deviation(d.kind.kind_code()).bit();
                    self.example(d.code(), Severity::Warning, true, line, d.to_string(), m);
                }
                self.seen.add(m, bits);
            }
            Err(e) => {
                self.seen.add(m, Counter::Rejected.bit());
                self.example(
                    "message-rejected",
                    Severity::Error,
                    false,
                    line,
                    e.to_string(),
                    m,
                );
            }
        }
    }

    /// An example of a per-message check (counted when the tally settles).
    fn example(
        &mut self,
        code: &str,
        severity: Severity,
        deviation: bool,
        line: u32,
        detail: String,
        message: u64,
    ) {
        self.add(
            code,
            severity,
            deviation,
            MESSAGE_SHAPE,
            line,
            detail,
            false,
            Some(message),
        );
    }

    /// Counts a recording line that could not be used.
    pub fn line_problem(&mut self, problem: &LineProblem, line: u32) {
        let rests_on = match problem {
            LineProblem::Secret(_) => "recording format: secrets never enter a recording",
            _ => FORMAT,
        };
        self.add(
            problem.code(),
            Severity::Error,
            false,
            rests_on,
            line,
            problem.to_string(),
            true,
            None,
        );
    }

    /// A training API call on `line` got no usable answer (no answer at all, or the gateway's
    /// refusal of the key): the API was not observed, and that is an error of its own.
    pub fn api_unavailable(&mut self, operation: Operation, line: u32, detail: &str) {
        self.api_unavailable = true;
        self.add(
            "api-unavailable",
            Severity::Error,
            false,
            "seed: prerequisites (a Custom Vision training resource and its key)",
            line,
            format!("{}: {detail}", operation.as_str()),
            true,
            None,
        );
    }

    /// Adds another tally (a part of the same session tallied apart): counts add up, except
    /// that a message both saw counts once; examples keep the first lines of all.
    pub fn merge(&mut self, other: Self) {
        self.api_unavailable |= other.api_unavailable;
        if let Some((first, last)) = other.span {
            self.saw(Timestamp(first));
            self.saw(Timestamp(last));
        }
        self.seen.absorb(other.seen);
        for (code, theirs) in other.checks {
            match self.checks.get_mut(&code) {
                Some(mine) => {
                    // Per-line checks add up; per-message ones are counted when settling.
                    mine.count += theirs.count;
                    for (e, m) in theirs.examples {
                        mine.keep(e, m);
                    }
                }
                None => {
                    self.checks.insert(code, theirs);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts come from every message once, across parts tallied apart and runs held on disk;
    /// a tally whose files were cut short says so as an error check instead of undercounting.
    #[test]
    fn messages_count_once_and_an_uncountable_tally_says_so() {
        let rejected = cvnotify_core::parse(b"not json", cvnotify_core::ParseOptions::default());
        let tally_of = |ids: std::ops::Range<u128>| {
            let mut t = Tally::holding(NonZeroUsize::MIN, None);
            for id in ids {
                t.message(MessageId(id), &rejected, 1);
            }
            t
        };
        // 0..40 and 30..50 overlap in ten messages (delivered to both parts).
        let mut tally = tally_of(0..40);
        tally.merge(tally_of(30..50));
        tally.settle();
        // Settling again changes nothing.
        tally.settle();
        assert_eq!(tally.counts.rejected, 50);
        assert_eq!(
            tally.checks.get("message-rejected").map(|c| c.count),
            Some(50)
        );
        assert!(!tally.checks.contains_key("messages-uncounted"));

        let tally_cut = tally_of(0..40);
        assert!(tally_cut.seen.cut_files().is_ok());
        let mut tally_cut = tally_cut;
        tally_cut.settle();
        let check = tally_cut.checks.get("messages-uncounted");
        assert!(check.is_some_and(|c| c.severity == Severity::Error && c.count == 1));
    }
}
