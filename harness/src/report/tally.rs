//! The message-level tally of a session (counts of accepted, rejected and deviating messages,
//! checks with bounded examples) and [`session_report`], the one place a session is judged:
//! replay and live sessions both end there, so a recording replayed gives the report shown live.

use std::collections::BTreeMap;

use cvnotify_core::lifecycle::{Finding, Phase, Severity, Sources, Tracker};
use cvnotify_core::{Encoding, ParseError, Parsed, PlatformType};

use super::model::{
    Check, EXAMPLES, Example, FindingReport, HistoryEntry, MessageCounts, ProjectSection,
    SessionReport, Verdict, Waivers,
};
use crate::recording::{LineProblem, format_time};

/// What the documented message shape rests on.
const MESSAGE_SHAPE: &str = "seed: Verify the connection and after (documented message shape)";

/// One message-level check being tallied: severity, whether it is a deviation, what it rests on,
/// how often, and its first examples.
#[derive(Debug)]
struct Counted {
    severity: Severity,
    deviation: bool,
    rests_on: &'static str,
    count: u64,
    examples: Vec<Example>,
}

/// Message counts and message- and line-level checks of one session.
#[derive(Debug, Default)]
pub struct Tally {
    counts: MessageCounts,
    checks: BTreeMap<String, Counted>,
}

impl Tally {
    /// The counts so far.
    pub fn counts(&self) -> &MessageCounts {
        &self.counts
    }

    /// Adds another tally (a parse worker's): counts add up; examples keep the first lines of
    /// all.
    pub fn merge(&mut self, other: Self) {
        let (a, b) = (&mut self.counts, other.counts);
        a.accepted += b.accepted;
        a.plain += b.plain;
        a.base64 += b.base64;
        a.rejected += b.rejected;
        a.with_deviations += b.with_deviations;
        for (code, theirs) in other.checks {
            match self.checks.get_mut(&code) {
                Some(mine) => {
                    mine.count += theirs.count;
                    mine.examples.extend(theirs.examples);
                    mine.examples.sort_by_key(|e| e.line);
                    mine.examples.truncate(EXAMPLES);
                }
                None => {
                    self.checks.insert(code, theirs);
                }
            }
        }
    }

    fn add(
        &mut self,
        code: &str,
        severity: Severity,
        deviation: bool,
        rests_on: &'static str,
        line: u32,
        detail: String,
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
        entry.count += 1;
        if entry.examples.len() < EXAMPLES {
            entry.examples.push(Example { line, detail });
        }
    }

    /// Counts one message line: accepted (with its encoding and deviations) or rejected.
    pub fn message(&mut self, parsed: &Result<Parsed, ParseError>, line: u32) {
        match parsed {
            Ok(p) => {
                self.counts.accepted += 1;
                match p.encoding {
                    Encoding::Plain => self.counts.plain += 1,
                    Encoding::Base64 => self.counts.base64 += 1,
                }
                if !p.deviations.is_empty() {
                    self.counts.with_deviations += 1;
                }
                for d in &p.deviations {
                    self.add(
                        d.code(),
                        Severity::Warning,
                        true,
                        MESSAGE_SHAPE,
                        line,
                        d.to_string(),
                    );
                }
            }
            Err(e) => {
                self.counts.rejected += 1;
                self.add(
                    "message-rejected",
                    Severity::Error,
                    false,
                    MESSAGE_SHAPE,
                    line,
                    e.to_string(),
                );
            }
        }
    }

    /// Counts a recording line that could not be used.
    pub fn line_problem(&mut self, problem: &LineProblem, line: u32) {
        let rests_on = match problem {
            LineProblem::Secret(_) => "recording format: secrets never enter a recording",
            _ => "recording format (corpus/README.md)",
        };
        self.add(
            problem.code(),
            Severity::Error,
            false,
            rests_on,
            line,
            problem.to_string(),
        );
    }
}

fn platform_name(p: &PlatformType) -> String {
    p.as_str().to_string()
}

fn finding_report(f: &Finding, waivers: &Waivers) -> FindingReport {
    let info = f.code.info();
    FindingReport {
        code: info.code,
        severity: info.severity.as_str(),
        rests_on: info.clause,
        summary: info.summary,
        at: format_time(f.at),
        millis: f.at.0,
        iteration_id: f.iteration_id,
        platform: f.platform.as_ref().map(platform_name),
        evidence: f.evidence.iter().map(|s| s.evidence.get()).collect(),
        waived: waivers.waived(info.code),
    }
}

/// Judges one session: its tally and its tracker's report become a [`SessionReport`] with its
/// verdict (the most severe of every check and finding that is not waived). `lines` is the
/// number of the last line read or recorded.
pub fn session_report(
    name: &str,
    lines: u32,
    sources: Sources,
    tally: Tally,
    tracker: &Tracker,
    waivers: &Waivers,
) -> SessionReport {
    let Tally {
        counts: messages,
        checks,
    } = tally;
    let mut verdict = Verdict::Pass;
    let checks: Vec<Check> = checks
        .into_iter()
        .map(|(code, c)| {
            let Counted {
                severity,
                deviation,
                rests_on,
                count,
                examples,
            } = c;
            let waived = waivers.waived(&code);
            if !waived {
                verdict = verdict.max(Verdict::of(severity, deviation));
            }
            let severity = if deviation {
                "deviation"
            } else {
                severity.as_str()
            };
            Check {
                code,
                severity,
                rests_on,
                count,
                waived,
                examples,
            }
        })
        .collect();
    let projects: Vec<ProjectSection> = tracker
        .report()
        .into_iter()
        .map(|r| {
            let findings: Vec<FindingReport> = r
                .findings
                .iter()
                .map(|f| finding_report(f, waivers))
                .collect();
            let project_verdict = r
                .findings
                .iter()
                .filter(|f| !waivers.waived(f.code.as_str()))
                .map(|f| Verdict::of(f.code.severity(), false))
                .max()
                .unwrap_or(Verdict::Pass);
            verdict = verdict.max(project_verdict);
            ProjectSection {
                project_id: r.project_id,
                verdict: project_verdict,
                phase: r.phase.as_str(),
                history: r
                    .history
                    .iter()
                    .map(|(s, p): &(_, Phase)| HistoryEntry {
                        millis: s.at.0,
                        phase: p.as_str(),
                        line: s.evidence.get(),
                    })
                    .collect(),
                findings,
            }
        })
        .collect();
    let mut source_names = Vec::new();
    for (on, n) in [
        (sources.queue, "queue"),
        (sources.training_api, "training-api"),
        (sources.polling && !sources.training_api, "polling"),
        (sources.container, "container"),
    ] {
        if on {
            source_names.push(n);
        }
    }
    SessionReport {
        file: name.to_string(),
        verdict,
        lines,
        sources: source_names,
        messages,
        checks,
        projects,
    }
}
