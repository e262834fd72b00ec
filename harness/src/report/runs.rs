//! The runs a recording holds: where each starts (a session line) and ends (an `end` line),
//! which files of a merge they come from, and the checks the run structure gives
//! (`run-incomplete`, `run-restarted`).

use cvnotify_core::lifecycle::{Severity, Sources};

use super::model::FileSpan;
use super::tally::{FORMAT, Tally};
use crate::recording::{Outcome, Scope};

/// One mark of a recording's run structure.
#[derive(Clone, Debug)]
enum Mark {
    Start {
        version: u32,
        sources: Sources,
        scope: Scope,
        partial: bool,
    },
    End {
        outcome: Outcome,
        reason: Option<String>,
    },
}

/// Where a run ended (its line), how, and why.
type RunEnd = (u32, Outcome, Option<String>);

/// The runs a recording holds: where each starts (a session line) and ends (an `end` line),
/// fed in any order and sorted by line when judged.
#[derive(Clone, Debug, Default)]
pub struct Runs {
    marks: Vec<(u32, Mark)>,
    /// For a merge of recordings: each file's name and first line number (evidence numbers
    /// run on from file to file).
    files: Vec<(String, u32)>,
}

impl Runs {
    /// A run starts on `line`; `partial` when it saw only its share of the queue.
    pub fn start(
        &mut self,
        line: u32,
        version: u32,
        sources: Sources,
        scope: Scope,
        partial: bool,
    ) {
        self.marks.push((
            line,
            Mark::Start {
                version,
                sources,
                scope,
                partial,
            },
        ));
    }

    /// A recording of a merge begins at evidence number `first`.
    pub fn file(&mut self, name: &str, first: u32) {
        self.files.push((name.to_string(), first));
    }

    /// The recordings of a merge (empty for one recording).
    pub fn files(&self) -> Vec<FileSpan> {
        if self.files.len() < 2 {
            return Vec::new();
        }
        self.files
            .iter()
            .map(|(file, first)| FileSpan {
                file: file.clone(),
                first: *first,
            })
            .collect()
    }

    /// Whether what was seen is only a share of the queue: a run said so, and no merge of
    /// several recordings completes it.
    pub fn partial(&self) -> bool {
        self.files.len() < 2
            && self
                .marks
                .iter()
                .any(|(_, m)| matches!(m, Mark::Start { partial: true, .. }))
    }

    /// Which file of a merge `line` is in.
    fn file_of(&self, line: u32) -> usize {
        self.files
            .iter()
            .rposition(|(_, first)| *first <= line)
            .unwrap_or(0)
    }

    /// A run ends on `line`.
    pub fn end(&mut self, line: u32, outcome: Outcome, reason: Option<String>) {
        self.marks.push((line, Mark::End { outcome, reason }));
    }

    /// Adds the marks of another part of the same recording.
    pub fn merge(&mut self, other: Self) {
        self.marks.extend(other.marks);
        self.files.extend(other.files);
    }

    fn sorted(&self) -> Vec<&(u32, Mark)> {
        let mut marks: Vec<&(u32, Mark)> = self.marks.iter().collect();
        marks.sort_by_key(|(line, _)| *line);
        marks
    }

    /// What every run observed (everything, for a recording without a session line).
    pub fn sources(&self) -> Sources {
        self.marks
            .iter()
            .filter_map(|(_, m)| match m {
                Mark::Start { sources, .. } => Some(*sources),
                Mark::End { .. } => None,
            })
            .fold(Sources::ALL, Sources::intersect)
    }

    /// Which projects are judged: only the created ones when every run says so.
    pub fn scope(&self) -> Scope {
        let mut scopes = self.marks.iter().filter_map(|(_, m)| match m {
            Mark::Start { scope, .. } => Some(*scope),
            Mark::End { .. } => None,
        });
        match scopes.next() {
            Some(Scope::Created) if scopes.all(|s| s == Scope::Created) => Scope::Created,
            _ => Scope::All,
        }
    }

    /// The checks the run structure gives: a run (of format version 2 or later) that did not
    /// end normally is `run-incomplete` when it is the last, `run-restarted` (a warning: at
    /// least once delivery made the restart harmless) when another run followed it.
    pub(super) fn judge(&self, tally: &mut Tally) {
        let marks = self.sorted();
        // (file, start line, version, end) per run, in order: a merge's recordings are runs
        // side by side, each judged on its own.
        let mut runs: Vec<(usize, u32, u32, Option<RunEnd>)> = Vec::new();
        for (line, mark) in marks {
            let file = self.file_of(*line);
            match mark {
                Mark::Start { version, .. } => runs.push((file, *line, *version, None)),
                Mark::End { outcome, reason } => {
                    if let Some(run) = runs.iter_mut().rev().find(|r| r.0 == file)
                        && run.3.is_none()
                    {
                        run.3 = Some((*line, *outcome, reason.clone()));
                    }
                }
            }
        }
        let lasts: Vec<usize> = (0..runs.len())
            .filter(|&k| {
                let file = runs.get(k).map_or(0, |r| r.0);
                !runs.iter().skip(k + 1).any(|r| r.0 == file)
            })
            .collect();
        for (n, (_, start, version, end)) in runs.into_iter().enumerate() {
            if version < 2 {
                continue;
            }
            let (line, why) = match &end {
                None => (
                    start,
                    "the run that starts here has no end line: it crashed, was killed or is still running"
                        .to_string(),
                ),
                Some((_, outcome, _)) if outcome.is_normal() => continue,
                Some((line, outcome, reason)) => (
                    *line,
                    format!(
                        "the run ended {}: {}",
                        outcome.as_str(),
                        reason.as_deref().unwrap_or("no reason given")
                    ),
                ),
            };
            let (code, severity) = if lasts.contains(&n) {
                ("run-incomplete", Severity::Error)
            } else {
                ("run-restarted", Severity::Warning)
            };
            tally.add(code, severity, false, FORMAT, line, why, true, None);
        }
    }
}
