//! The `html` format: one self-contained file (inline CSS and SVG, no script, nothing fetched).
//! Per project, a timeline: phases as coloured bands over time, each lifecycle step as a mark,
//! findings as highlighted markers with their code; then the findings table; and per client run
//! (a `verify` scenario) its verdict and findings.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::model::{ProjectSection, Report, Verdict};

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn phase_color(phase: &str) -> &'static str {
    match phase {
        "Configured" => "#cfd8dc",
        "ConnectionTested" => "#b3e5fc",
        "Training" => "#fff59d",
        "Trained" => "#c5e1a5",
        "TrainingFailed" | "ExportFailed" => "#ffab91",
        "Exported" => "#81c784",
        _ => "#eeeeee",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::NonStrict => "nonstrict",
        Verdict::Fail => "fail",
    }
}

const WIDTH: f64 = 900.0;
const LEFT: f64 = 10.0;

/// The SVG timeline of one project.
fn timeline(p: &ProjectSection) -> String {
    let times: Vec<u64> = p
        .history
        .iter()
        .map(|h| h.millis)
        .chain(p.findings.iter().map(|f| f.millis))
        .collect();
    let (Some(&start), Some(&end)) = (times.iter().min(), times.iter().max()) else {
        return String::new();
    };
    // The axis runs a little past the last event, so the phase a project ends in has a visible
    // band (and room for its label).
    let span = (end.saturating_sub(start)).max(1) as f64;
    let shown = span * 1.15;
    let x = |t: u64| LEFT + (t.saturating_sub(start)) as f64 / shown * (WIDTH - 2.0 * LEFT);
    let mut svg = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} 98\" width=\"{WIDTH}\" height=\"98\" role=\"img\" aria-label=\"lifecycle of {}\">",
        p.project_id
    );
    let time = |t: u64| {
        esc(&crate::recording::format_time(
            cvnotify_core::lifecycle::Timestamp(t),
        ))
    };
    let _ = write!(
        svg,
        "<text x=\"{LEFT}\" y=\"94\" class=\"axis\">{}</text><text x=\"{:.1}\" y=\"94\" class=\"axis\" text-anchor=\"end\">{}</text>",
        time(start),
        x(end),
        time(end)
    );
    for (n, h) in p.history.iter().enumerate() {
        let x0 = x(h.millis);
        let x1 = p
            .history
            .get(n + 1)
            .map_or(WIDTH - LEFT, |next| x(next.millis));
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"20\" width=\"{:.1}\" height=\"26\" fill=\"{}\"><title>{} from {} (line {})</title></rect>",
            (x1 - x0).max(1.0),
            phase_color(h.phase),
            h.phase,
            esc(&h.at()),
            h.line
        );
        let _ = write!(
            svg,
            "<circle cx=\"{x0:.1}\" cy=\"33\" r=\"4\" fill=\"#37474f\"><title>line {}: {}</title></circle><text x=\"{:.1}\" y=\"14\" class=\"label\">{}</text>",
            h.line,
            h.phase,
            x0 + 2.0,
            h.phase
        );
    }
    for f in &p.findings {
        let fx = x(f.millis);
        let color = match f.severity {
            "error" => "#c62828",
            "warning" => "#ef6c00",
            _ => "#607d8b",
        };
        let _ = write!(
            svg,
            "<path d=\"M{fx:.1} 50 l6 12 h-12 z\" fill=\"{color}\"><title>{} ({}) at {}: {} - lines {:?}</title></path><text x=\"{:.1}\" y=\"80\" class=\"finding\" fill=\"{color}\">{}</text>",
            f.code,
            f.severity,
            esc(&f.at),
            esc(f.summary),
            f.evidence,
            fx - 4.0,
            f.code
        );
    }
    svg.push_str("</svg>");
    svg
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cvnotify replay</title><style>");
    h.push_str("body{font:14px system-ui,sans-serif;margin:2em;color:#263238}table{border-collapse:collapse;margin:.5em 0 1.5em}");
    h.push_str("td,th{border:1px solid #cfd8dc;padding:.25em .5em;text-align:left;vertical-align:top}.pass{color:#2e7d32}");
    h.push_str(".nonstrict{color:#ef6c00}.fail{color:#c62828}.label{font-size:10px}.finding{font-size:10px}.axis{font-size:9px;fill:#78909c}");
    h.push_str(".verdict{font-weight:bold}.waived{opacity:.5}svg.timeline{background:#fafafa;border:1px solid #eceff1}");
    h.push_str("</style></head><body>\n");
    let _ = writeln!(
        h,
        "<h1>cvnotify replay: <span class=\"verdict {}\">{}</span></h1>",
        verdict_class(report.verdict),
        report.verdict.as_str()
    );
    for s in &report.sessions {
        let _ = writeln!(
            h,
            "<h2>{} <span class=\"verdict {}\">{}</span></h2><p>{} lines; sources: {}; messages: {} accepted ({} plain, {} base64), {} rejected, {} with deviations</p>",
            esc(&s.file),
            verdict_class(s.verdict),
            s.verdict.as_str(),
            s.lines,
            s.sources.join(", "),
            s.messages.accepted,
            s.messages.plain,
            s.messages.base64,
            s.messages.rejected,
            s.messages.with_deviations
        );
        if !s.checks.is_empty() {
            h.push_str(
                "<table><tr><th>check</th><th>severity</th><th>count</th><th>examples</th></tr>",
            );
            for c in &s.checks {
                let examples: Vec<String> = c
                    .examples
                    .iter()
                    .map(|e| format!("line {}: {}", e.line, esc(&e.detail)))
                    .collect();
                let _ = write!(
                    h,
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if c.waived { "waived" } else { "" },
                    esc(&c.code),
                    c.severity,
                    c.count,
                    examples.join("<br>")
                );
            }
            h.push_str("</table>\n");
        }
        for p in &s.projects {
            let _ = writeln!(
                h,
                "<h3>project {} - {} <span class=\"verdict {}\">{}</span></h3>{}",
                p.project_id,
                p.phase,
                verdict_class(p.verdict),
                p.verdict.as_str(),
                timeline(p)
            );
            if p.findings.is_empty() {
                h.push_str("<p>No findings.</p>\n");
                continue;
            }
            h.push_str("<table><tr><th>code</th><th>severity</th><th>at</th><th>about</th><th>what</th><th>rests on</th><th>evidence lines</th></tr>");
            for f in &p.findings {
                let mut about = f
                    .iteration_id
                    .map(|i| format!("iteration {i}"))
                    .unwrap_or_default();
                if let Some(platform) = &f.platform {
                    about.push_str(&format!(" {}", esc(platform)));
                }
                let _ = write!(
                    h,
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:?}</td></tr>",
                    if f.waived { "waived" } else { "" },
                    f.code,
                    f.severity,
                    esc(&f.at),
                    about,
                    esc(f.summary),
                    esc(f.rests_on),
                    f.evidence
                );
            }
            h.push_str("</table>\n");
        }
        if !s.clients.is_empty() {
            h.push_str("<h3>clients</h3><table><tr><th>scenario</th><th>verdict</th><th>requests</th><th>delivered</th><th>duties</th><th>findings</th></tr>");
            for c in &s.clients {
                let findings: Vec<String> = c
                    .findings
                    .iter()
                    .map(|f| {
                        let examples: Vec<String> = f
                            .examples
                            .iter()
                            .map(|e| format!("line {}: {}", e.line, esc(&e.detail)))
                            .collect();
                        format!(
                            "<span class=\"{}\"><b>{}</b> ({}) x{}: {}<br><small>{}</small></span>",
                            if f.waived { "waived" } else { "" },
                            f.code,
                            f.severity,
                            f.count,
                            esc(f.summary),
                            examples.join("<br>")
                        )
                    })
                    .collect();
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"verdict {}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(c.scenario.as_deref().unwrap_or("(journal)")),
                    verdict_class(c.verdict),
                    c.verdict.as_str(),
                    c.requests,
                    c.delivered,
                    c.duties.join(", "),
                    if findings.is_empty() {
                        "none".to_string()
                    } else {
                        findings.join("<br>")
                    }
                );
            }
            h.push_str("</table>\n");
        }
    }
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes())
}
