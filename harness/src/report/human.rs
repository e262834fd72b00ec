//! The `human` format: per recording, per project, the lifecycle it went through and each
//! finding with its code, severity, the seed section it rests on and its evidence lines; per
//! client run (a scenario), the client's findings with their examples.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::model::{Report, Verdict};

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, style: Style, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn verdict(&self, v: Verdict) -> String {
        let color = match v {
            Verdict::Pass => AnsiColor::Green,
            Verdict::NonStrict => AnsiColor::Yellow,
            Verdict::Fail => AnsiColor::Red,
        };
        self.wrap(Style::new().bold().fg_color(Some(color.into())), v.as_str())
    }

    fn severity(&self, severity: &str) -> String {
        let style = match severity {
            "error" => Style::new().fg_color(Some(AnsiColor::Red.into())),
            "warning" | "deviation" => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
            _ => Style::new().dimmed(),
        };
        self.wrap(style, severity)
    }
}

fn lines(s: &super::model::SessionReport, evidence: &[u32]) -> String {
    s.cite_all(evidence)
}

pub(super) fn render(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint { on: color };
    for s in &report.sessions {
        writeln!(out, "{}  {}", s.file, p.verdict(s.verdict))?;
        if !s.files.is_empty() {
            let names: Vec<&str> = s.files.iter().map(|f| f.file.as_str()).collect();
            writeln!(out, "  merged: {}", names.join(", "))?;
        }
        if s.partial {
            writeln!(
                out,
                "  partial: one consumer's share of the queue; what rests on a message not having come is deferred to the merge"
            )?;
        }
        // A client's journal has no lifecycle sources: its clients say what was judged.
        if s.sources.is_empty() && !s.clients.is_empty() {
            let requests: u64 = s.clients.iter().map(|c| c.requests).sum();
            let delivered: u64 = s.clients.iter().map(|c| c.delivered).sum();
            let failed = s
                .clients
                .iter()
                .filter(|c| c.verdict != super::model::Verdict::Pass)
                .count();
            writeln!(
                out,
                "  {} lines; {} client run{} ({failed} not passed): {requests} requests, {delivered} messages delivered",
                s.lines,
                s.clients.len(),
                if s.clients.len() == 1 { "" } else { "s" }
            )?;
        } else {
            writeln!(
                out,
                "  {} lines; sources: {}",
                s.lines,
                s.sources.join(", ")
            )?;
            let m = &s.messages;
            writeln!(
                out,
                "  messages: {} accepted ({} plain, {} base64), {} rejected, {} with deviations",
                m.accepted, m.plain, m.base64, m.rejected, m.with_deviations
            )?;
        }
        for c in &s.checks {
            let waived = if c.waived { " (waived)" } else { "" };
            writeln!(
                out,
                "  {} {} x{}{waived} ({})",
                p.severity(c.severity),
                c.code,
                c.count,
                c.rests_on
            )?;
            for e in &c.examples {
                writeln!(out, "      {}: {}", s.cite(e.line), e.detail)?;
            }
            if c.count > c.examples.len() as u64 {
                writeln!(
                    out,
                    "      ... and {} more",
                    c.count - c.examples.len() as u64
                )?;
            }
        }
        for project in &s.projects {
            writeln!(
                out,
                "  project {}  {}  {}",
                project.project_id,
                project.phase,
                p.verdict(project.verdict)
            )?;
            let steps: Vec<String> = project
                .history
                .iter()
                .map(|h| match &s.described {
                    None => format!(
                        "{} (line {}, {})",
                        h.phase.as_str(),
                        s.locate(h.line),
                        h.at()
                    ),
                    Some(_) => format!("{} ({})", h.phase.as_str(), h.at()),
                })
                .collect();
            writeln!(out, "    lifecycle: {}", steps.join(" -> "))?;
            for f in &project.findings {
                let waived = if f.deferred {
                    " (deferred: one consumer's share of the queue; judge the merge)"
                } else if f.waived {
                    " (waived)"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "    {} {}{waived} at {}: {}",
                    p.severity(f.severity),
                    f.code,
                    f.at,
                    f.detail
                )?;
                writeln!(
                    out,
                    "      rests on {}; {}",
                    f.rests_on,
                    lines(s, &f.evidence)
                )?;
            }
        }
        for c in &s.clients {
            writeln!(
                out,
                "  client{}  {}  ({} requests, {} messages delivered{})",
                c.scenario
                    .as_deref()
                    .map_or_else(String::new, |n| format!(", scenario {n}")),
                p.verdict(c.verdict),
                c.requests,
                c.delivered,
                if c.duties.is_empty() {
                    String::new()
                } else {
                    format!("; duties: {}", c.duties.join(", "))
                }
            )?;
            for f in &c.findings {
                let waived = if f.waived { " (waived)" } else { "" };
                writeln!(
                    out,
                    "    {} {} x{}{waived}: {}",
                    p.severity(f.severity),
                    f.code,
                    f.count,
                    f.summary
                )?;
                writeln!(out, "      rests on {}", f.rests_on)?;
                for e in &f.examples {
                    match &s.described {
                        None if e.line > 0 => writeln!(out, "      line {}: {}", e.line, e.detail)?,
                        _ => writeln!(out, "      at {}: {}", e.at, e.detail)?,
                    }
                }
                if f.count > f.examples.len() as u64 {
                    writeln!(
                        out,
                        "      ... and {} more",
                        f.count - f.examples.len() as u64
                    )?;
                }
            }
        }
    }
    writeln!(out, "verdict: {}", p.verdict(report.verdict))
}
