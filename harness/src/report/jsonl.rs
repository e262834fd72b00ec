//! The `jsonl` format: JSON Lines, for reports too large to hold. One line per project
//! (`"kind":"project"`, the recording's name and the project's section of the JSON report),
//! then one line per recording (`"kind":"session"`: its verdict, counts, checks and client runs,
//! and `projectCount` instead of the projects), then a closing line (`"kind":"report"`: the
//! verdict). `cvnotify replay` writes the project lines as it judges each project and keeps
//! none of them, so its memory does not grow with the report; the other commands render the
//! same lines from their report.

use std::io::{self, Write};

use serde::Serialize;

use super::model::{ProjectSection, Report, SessionReport, Verdict};

#[derive(Serialize)]
struct ProjectLine<'a> {
    kind: &'static str,
    file: &'a str,
    #[serde(flatten)]
    project: &'a ProjectSection,
}

/// One project's line.
pub fn project_line(out: &mut dyn Write, file: &str, project: &ProjectSection) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &ProjectLine {
            kind: "project",
            file,
            project,
        },
    )?;
    writeln!(out)
}

/// A recording's line: the session without its projects, and how many there were.
pub fn session_line(
    out: &mut dyn Write,
    session: &SessionReport,
    project_count: u64,
) -> io::Result<()> {
    let mut value = serde_json::to_value(session)?;
    if let Some(map) = value.as_object_mut() {
        map.remove("projects");
        map.insert("kind".into(), "session".into());
        map.insert("projectCount".into(), project_count.into());
    }
    serde_json::to_writer(&mut *out, &value)?;
    writeln!(out)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportLine {
    kind: &'static str,
    tool: &'static str,
    command: &'static str,
    version: &'static str,
    format_version: u32,
    strict: bool,
    verdict: Verdict,
}

/// The closing line.
pub fn report_line(
    out: &mut dyn Write,
    command: &'static str,
    strict: bool,
    verdict: Verdict,
) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &ReportLine {
            kind: "report",
            tool: "cvnotify",
            command,
            version: env!("CARGO_PKG_VERSION"),
            format_version: super::model::FORMAT_VERSION,
            strict,
            verdict,
        },
    )?;
    writeln!(out)
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for s in &report.sessions {
        for p in &s.projects {
            project_line(out, &s.file, p)?;
        }
        session_line(out, s, s.projects.len() as u64 + s.projects_streamed)?;
    }
    report_line(out, report.command, report.strict, report.verdict)
}
