//! The client verdict: one [`ClientJudge`] per run of a client's journal (a scenario of
//! `cvnotify verify`, a `cvnotify simulate --record` session), fed in line order, and the
//! [`ClientSection`]s a report shows for them.

use cvnotify_core::client::{ClientEvent, ClientFindingCode, ClientJudge};
use cvnotify_core::lifecycle::Timestamp;
use serde::Serialize;

use super::verdict::{Verdict, Waivers};
use crate::recording::{Duty, format_time};

/// The schema of a client's duties.
fn duties_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "enum": ["fetch-backups", "configure"] }
    })
}

/// One example of a client finding.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ClientExampleReport {
    /// The journal line that shows it (0: the run as a whole).
    pub line: u32,
    /// When (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub at: String,
    /// What it shows.
    pub detail: String,
}

/// One client finding, as reported.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientFindingReport {
    /// The finding's code.
    pub code: &'static str,
    /// `error` or `warning`.
    #[schemars(extend("enum" = ["error", "warning"]))]
    pub severity: &'static str,
    /// What it rests on.
    pub rests_on: &'static str,
    /// What it means.
    pub summary: &'static str,
    /// How many times the client did it.
    #[schemars(range(min = 1))]
    pub count: u64,
    /// Whether `--select`/`--exclude` waived it.
    pub waived: bool,
    /// The first times.
    pub examples: Vec<ClientExampleReport>,
}

/// The verdict on a client in one run.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSection {
    /// The scenario played, when the run names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The client's duties.
    #[schemars(schema_with = "duties_schema")]
    pub duties: Vec<&'static str>,
    /// The line the run starts on.
    pub line: u32,
    /// The verdict.
    pub verdict: Verdict,
    /// How many requests the client made.
    pub requests: u64,
    /// How many messages the simulation delivered.
    pub delivered: u64,
    /// How long the run lasted, in seconds (its first journal line to its last).
    pub seconds: f64,
    /// The findings, in catalogue order.
    pub findings: Vec<ClientFindingReport>,
    /// Whether the client was a process cvnotify ran (its exit was judged); not for a
    /// client `simulate --record` journaled.
    pub process: bool,
}

impl ClientSection {
    /// Why `code` was not evaluated in this run, when it was not: a duty the client did not
    /// declare, a process cvnotify did not run.
    pub fn unevaluated(&self, code: ClientFindingCode) -> Option<String> {
        match code {
            ClientFindingCode::BackupNotFetched if !self.duties.contains(&"fetch-backups") => {
                Some("not evaluated: the client did not declare the duty fetch-backups".into())
            }
            ClientFindingCode::ClientFailed
            | ClientFindingCode::ClientUnstartable
            | ClientFindingCode::ClientTimeout
                if !self.process =>
            {
                Some(
                    "not evaluated: cvnotify did not run the client's process (a journal of simulate --record)"
                        .into(),
                )
            }
            _ => None,
        }
    }
}

/// Every client finding code (for `--select`/`--exclude`).
pub fn client_codes() -> impl Iterator<Item = &'static str> {
    ClientFindingCode::ALL.iter().map(|c| c.as_str())
}

#[derive(Debug)]
struct Run {
    line: u32,
    scenario: Option<String>,
    duties: Vec<Duty>,
    judge: ClientJudge,
    events: u64,
    /// Whether the client's process ending was journaled (cvnotify ran it).
    process: bool,
}

/// The client runs of a journal, fed in line order.
#[derive(Debug, Default)]
pub struct ClientRuns {
    runs: Vec<Run>,
}

impl ClientRuns {
    /// A run starts on `line` (a session line).
    pub fn start(&mut self, line: u32, scenario: Option<String>, duties: Vec<Duty>) {
        let judge = ClientJudge::new(Duty::duties(&duties));
        self.runs.push(Run {
            line,
            scenario,
            duties,
            judge,
            events: 0,
            process: false,
        });
    }

    /// A journal line: to the run it belongs to (the latest started).
    pub fn handle(&mut self, line: u32, at: Timestamp, event: ClientEvent) {
        if self.runs.is_empty() {
            self.start(1, None, Vec::new());
        }
        if let Some(run) = self.runs.last_mut() {
            run.events += 1;
            run.process |= matches!(event, ClientEvent::Ended { .. });
            run.judge.handle(at, line, event);
        }
    }

    /// The judge of the run in progress.
    pub fn current(&self) -> Option<&ClientJudge> {
        self.runs.last().map(|r| &r.judge)
    }

    /// Whether any run holds a journal.
    pub fn any(&self) -> bool {
        self.runs.iter().any(|r| r.events > 0)
    }

    /// The sections of the runs that hold a journal.
    pub fn sections(&self, waivers: &Waivers) -> Vec<ClientSection> {
        self.runs
            .iter()
            .filter(|r| r.events > 0)
            .map(|r| section(r, waivers))
            .collect()
    }
}

fn section(run: &Run, waivers: &Waivers) -> ClientSection {
    let mut verdict = Verdict::Pass;
    let findings = run
        .judge
        .findings()
        .into_iter()
        .map(|f| {
            let info = f.code.info();
            let waived = waivers.waived(info.code);
            if !waived {
                verdict = verdict.max(Verdict::of(info.severity, false));
            }
            ClientFindingReport {
                code: info.code,
                severity: info.severity.as_str(),
                rests_on: info.rests_on,
                summary: info.summary,
                count: f.count,
                waived,
                examples: f
                    .examples
                    .into_iter()
                    .map(|e| ClientExampleReport {
                        line: e.evidence,
                        at: format_time(e.at),
                        detail: e.detail,
                    })
                    .collect(),
            }
        })
        .collect();
    let (requests, delivered) = run.judge.counts();
    ClientSection {
        scenario: run.scenario.clone(),
        duties: run.duties.iter().map(|d| d.as_str()).collect(),
        line: run.line,
        verdict,
        requests,
        delivered,
        seconds: run.judge.span_ms() as f64 / 1000.0,
        findings,
        process: run.process,
    }
}
