//! The `html` format: one self-contained page (inline CSS and SVG, no script, nothing fetched)
//! that opens with what a reader needs first: the verdict, the counts by severity and an index
//! of the recordings and projects with the failing ones first. Then, per recording, its checks,
//! its projects (each a collapsible section: failing ones open, passing ones closed) and its
//! client runs.
//!
//! A project's timeline has one column per moment (a phase change or a finding), in order,
//! each as wide as its longest label: nothing overlaps at any zoom, however close in time two
//! steps are. A long lifecycle shows its last [`MOMENTS`] moments; a recording of many
//! projects draws [`DRAWN`] of them (failing first) and lists the rest in the index, up to
//! [`LISTED`], so that the page stays small at any size; the JSON report has everything.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::model::{FindingReport, ProjectSection, Report, SessionReport, Verdict};

/// How many projects of a recording are drawn with their timeline and findings.
pub(super) const DRAWN: usize = 100;
/// How many projects of a recording the index lists.
pub(super) const LISTED: usize = 1_000;
/// How many moments (phase changes and findings) a timeline draws: the last ones.
pub(super) const MOMENTS: usize = 40;

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

fn severity_color(severity: &str) -> &'static str {
    match severity {
        "error" => "#c62828",
        "warning" => "#ef6c00",
        "deviation" => "#6a1b9a",
        _ => "#607d8b",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::NonStrict => "nonstrict",
        Verdict::Fail => "fail",
    }
}

fn verdict_span(v: Verdict) -> String {
    format!(
        "<span class=\"verdict {}\">{}</span>",
        verdict_class(v),
        v.as_str()
    )
}

/// Counts by severity of what counts (not waived, not deferred).
#[derive(Default)]
struct Counts {
    error: u64,
    warning: u64,
    deviation: u64,
    info: u64,
}

impl Counts {
    fn add(&mut self, severity: &str, n: u64) {
        match severity {
            "error" => self.error += n,
            "warning" => self.warning += n,
            "deviation" => self.deviation += n,
            _ => self.info += n,
        }
    }

    fn of(s: &SessionReport) -> Self {
        let mut c = Self::default();
        for check in s.checks.iter().filter(|c| !c.waived) {
            c.add(check.severity, check.count);
        }
        for f in s.projects.iter().flat_map(|p| &p.findings) {
            if !f.waived && !f.deferred {
                c.add(f.severity, 1);
            }
        }
        for f in s.clients.iter().flat_map(|c| &c.findings) {
            if !f.waived {
                c.add(f.severity, f.count);
            }
        }
        c
    }

    /// Only what is not zero, with the codes of the checks that count.
    fn brief(&self, s: &SessionReport) -> String {
        let mut parts = Vec::new();
        for (n, name) in [
            (self.error, "error"),
            (self.warning, "warning"),
            (self.deviation, "deviation"),
        ] {
            if n > 0 {
                let plural = if n == 1 { "" } else { "s" };
                parts.push(format!(
                    "<span class=\"count {name}\">{n} {name}{plural}</span>"
                ));
            }
        }
        let mut checks: Vec<String> = s
            .checks
            .iter()
            .filter(|c| !c.waived && c.severity != "info")
            .map(|c| format!("<code>{}</code>", esc(&c.code)))
            .collect();
        for f in s.clients.iter().flat_map(|c| &c.findings) {
            let code = format!("<code>{}</code>", f.code);
            if !f.waived && !checks.contains(&code) {
                checks.push(code);
            }
        }
        if !checks.is_empty() {
            parts.push(checks.join(", "));
        }
        parts.join(" ")
    }

    fn html(&self) -> String {
        let mut parts = Vec::new();
        for (n, name) in [
            (self.error, "error"),
            (self.warning, "warning"),
            (self.deviation, "deviation"),
            (self.info, "info"),
        ] {
            let plural = if n == 1 || name == "info" { "" } else { "s" };
            parts.push(format!(
                "<span class=\"count {name}{}\">{n} {name}{plural}</span>",
                if n == 0 { " zero" } else { "" }
            ));
        }
        parts.join(" ")
    }
}

/// The projects of a session, failing first (then by id, as the report has them).
fn by_verdict(s: &SessionReport) -> Vec<(usize, &ProjectSection)> {
    let mut projects: Vec<(usize, &ProjectSection)> = s.projects.iter().enumerate().collect();
    projects.sort_by_key(|(k, p)| (std::cmp::Reverse(p.verdict), *k));
    projects
}

/// The sessions of a report, failing first.
fn sessions_by_verdict(report: &Report) -> Vec<(usize, &SessionReport)> {
    let mut sessions: Vec<(usize, &SessionReport)> = report.sessions.iter().enumerate().collect();
    sessions.sort_by_key(|(k, s)| (std::cmp::Reverse(s.verdict), *k));
    sessions
}

/// The width a label of `chars` characters takes at the timeline's font size.
fn text_width(chars: usize) -> f64 {
    chars as f64 * 6.2 + 12.0
}

/// One column of a timeline: a moment, the phase entered then (if any), the findings shown then.
struct Moment<'a> {
    millis: u64,
    phase: Option<(&'static str, u32)>,
    findings: Vec<&'a FindingReport>,
}

fn moments(p: &ProjectSection) -> Vec<Moment<'_>> {
    let mut out: Vec<Moment<'_>> = Vec::new();
    for h in &p.history {
        out.push(Moment {
            millis: h.millis,
            phase: Some((h.phase.as_str(), h.line)),
            findings: Vec::new(),
        });
    }
    for f in &p.findings {
        // With the phase change or the findings of the same moment, else a column of its own.
        match out.iter_mut().rev().find(|m| m.millis == f.millis) {
            Some(m) => m.findings.push(f),
            None => out.push(Moment {
                millis: f.millis,
                phase: None,
                findings: vec![f],
            }),
        }
    }
    // Stable: a phase change and the findings of one moment keep the table's order.
    out.sort_by_key(|m| m.millis);
    out
}

/// `+1h02m`, `+35s`, `+0.250s`: how long after the project's first moment.
fn offset(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 if ms > 0 => format!("+{:.3}s", ms as f64 / 1000.0),
        0..60 => format!("+{s}s"),
        60..3600 => format!("+{}m{:02}s", s / 60, s % 60),
        _ => format!("+{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The SVG timeline of one project: one column per moment, as wide as its longest label.
fn timeline(s: &SessionReport, p: &ProjectSection) -> String {
    let all = moments(p);
    let Some(first) = all.first().map(|m| m.millis) else {
        return String::new();
    };
    let hidden = all.len().saturating_sub(MOMENTS);
    let shown = all.get(hidden..).unwrap_or_default();
    let widths: Vec<f64> = shown
        .iter()
        .map(|m| {
            let longest = m
                .findings
                .iter()
                .map(|f| f.code.len() + 2)
                .chain(m.phase.map(|(ph, _)| ph.len()))
                .chain([22])
                .max()
                .unwrap_or(22);
            text_width(longest)
        })
        .collect();
    let rows = shown.iter().map(|m| m.findings.len()).max().unwrap_or(0);
    let width: f64 = widths.iter().sum::<f64>() + 20.0;
    let height = if rows == 0 {
        48.0
    } else {
        60.0 + 16.0 * rows as f64
    };
    let mut svg = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"lifecycle of project {}\">",
        p.project_id
    );
    let mut x = 10.0;
    // The phase in force at each column (for the band), starting with the one before the
    // first column shown.
    let mut current = all
        .get(..hidden)
        .unwrap_or_default()
        .iter()
        .rev()
        .find_map(|m| m.phase.map(|(ph, _)| ph));
    for (m, w) in shown.iter().zip(&widths) {
        if let Some((ph, _)) = m.phase {
            current = Some(ph);
        }
        let when = crate::recording::format_time(cvnotify_core::lifecycle::Timestamp(m.millis));
        // The time of day (the date is in the tooltip), and how long after the first moment.
        let clock = when.get(11..19).unwrap_or(&when).to_string();
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"12\" class=\"axis\"><title>{}</title>{} {}</text>",
            esc(&when),
            esc(&clock),
            offset(m.millis.saturating_sub(first))
        );
        if let Some(ph) = current {
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"18\" width=\"{w:.1}\" height=\"24\" fill=\"{}\"/>",
                phase_color(ph)
            );
        }
        if let Some((ph, line)) = m.phase {
            let cite = match &s.described {
                None => format!(" ({})", s.cite(line)),
                Some(_) => String::new(),
            };
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"16\" x2=\"{x:.1}\" y2=\"44\" class=\"step\"/><text x=\"{:.1}\" y=\"35\" class=\"label\"><title>{ph} from {}{}</title>{ph}</text>",
                x + 4.0,
                esc(&when),
                esc(&cite)
            );
        }
        for (k, f) in m.findings.iter().enumerate() {
            let y = 58.0 + 16.0 * k as f64;
            let color = severity_color(f.severity);
            let _ = write!(
                svg,
                "<path d=\"M{:.1} {:.1} l5 -9 l5 9 z\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"finding\" fill=\"{color}\"><title>{} ({}) at {}: {} ({})</title>{}</text>",
                x + 2.0,
                y,
                x + 14.0,
                f.code,
                f.severity,
                esc(&f.at),
                esc(&f.detail),
                esc(&s.cite_all(&f.evidence)),
                f.code
            );
        }
        x += w;
    }
    svg.push_str("</svg>");
    let note = if hidden > 0 {
        format!(
            "<p class=\"note\">The {hidden} earlier moments of this lifecycle are not drawn; the findings table has every finding.</p>"
        )
    } else {
        String::new()
    };
    format!("<div class=\"scroll\">{svg}</div>{note}")
}

fn findings_table(s: &SessionReport, p: &ProjectSection) -> String {
    if p.findings.is_empty() {
        return "<p>No findings.</p>".into();
    }
    let mut h = String::from(
        "<table><tr><th>code</th><th>severity</th><th>at</th><th>what</th><th>rests on</th><th>evidence</th></tr>",
    );
    let mut findings: Vec<&FindingReport> = p.findings.iter().collect();
    let rank = |sev: &str| match sev {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    };
    findings.sort_by_key(|f| (rank(f.severity), f.millis));
    for f in findings {
        let state = if f.deferred {
            " (deferred to the merge)"
        } else if f.waived {
            " (waived)"
        } else {
            ""
        };
        let _ = write!(
            h,
            "<tr class=\"{}\"><td><code>{}</code>{state}</td><td class=\"sev {}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if f.waived || f.deferred { "waived" } else { "" },
            f.code,
            f.severity,
            f.severity,
            esc(&f.at),
            esc(&f.detail),
            esc(f.rests_on),
            esc(&s.cite_all(&f.evidence))
        );
    }
    h.push_str("</table>");
    h
}

fn codes(p: &ProjectSection) -> String {
    let mut codes: Vec<&str> = p
        .findings
        .iter()
        .filter(|f| !f.waived && !f.deferred && f.severity != "info")
        .map(|f| f.code)
        .collect();
    codes.dedup();
    codes.join(", ")
}

fn session_section(h: &mut String, k: usize, s: &SessionReport) {
    let counts = Counts::of(s);
    let open = if s.verdict == Verdict::Pass {
        ""
    } else {
        " open"
    };
    let _ = write!(
        h,
        "<section id=\"s{k}\"><h2>{} {}</h2><p>{}</p><p class=\"meta\">{} lines; sources: {}; messages: {} accepted ({} plain, {} base64), {} rejected, {} with deviations; {} project{}</p>",
        esc(&s.file),
        verdict_span(s.verdict),
        counts.html(),
        s.lines,
        if s.sources.is_empty() {
            "none".to_string()
        } else {
            s.sources.join(", ")
        },
        s.messages.accepted,
        s.messages.plain,
        s.messages.base64,
        s.messages.rejected,
        s.messages.with_deviations,
        s.projects.len(),
        if s.projects.len() == 1 { "" } else { "s" }
    );
    if s.partial {
        h.push_str("<p class=\"note\">This consumer saw only its share of the queue: findings that rest on a message not having come are deferred to the merge (<code>cvnotify replay --merge</code>).</p>");
    }
    if !s.files.is_empty() {
        let names: Vec<String> = s.files.iter().map(|f| esc(&f.file)).collect();
        let _ = write!(h, "<p class=\"meta\">merged: {}</p>", names.join(", "));
    }
    if !s.checks.is_empty() {
        let _ = write!(
            h,
            "<details{open}><summary>Message and line checks ({})</summary><table><tr><th>check</th><th>severity</th><th>count</th><th>rests on</th><th>examples</th></tr>",
            s.checks.len()
        );
        for c in &s.checks {
            let mut examples: Vec<String> = c
                .examples
                .iter()
                .map(|e| format!("{}: {}", esc(&s.cite(e.line)), esc(&e.detail)))
                .collect();
            if c.count > c.examples.len() as u64 {
                examples.push(format!(
                    "... and {} more",
                    c.count - c.examples.len() as u64
                ));
            }
            let _ = write!(
                h,
                "<tr class=\"{}\"><td><code>{}</code>{}</td><td class=\"sev {}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if c.waived { "waived" } else { "" },
                esc(&c.code),
                if c.waived { " (waived)" } else { "" },
                c.severity,
                c.severity,
                c.count,
                esc(c.rests_on),
                examples.join("<br>")
            );
        }
        h.push_str("</table></details>");
    }
    let projects = by_verdict(s);
    for (n, (pk, p)) in projects.iter().enumerate() {
        if n == DRAWN {
            let _ = write!(
                h,
                "<p class=\"note\">{} more projects are not drawn; the index lists them (up to {LISTED}), the JSON report has everything.</p>",
                projects.len() - DRAWN
            );
            break;
        }
        let open = if p.verdict == Verdict::Pass {
            ""
        } else {
            " open"
        };
        let _ = write!(
            h,
            "<details id=\"s{k}p{pk}\" class=\"project\"{open}><summary>project <code>{}</code> {} <span class=\"phase\">ended {}</span> <span class=\"codes\">{}</span></summary>{}{}</details>",
            p.project_id,
            verdict_span(p.verdict),
            p.phase,
            esc(&codes(p)),
            timeline(s, p),
            findings_table(s, p)
        );
    }
    if !s.clients.is_empty() {
        h.push_str("<h3>Client runs</h3><table><tr><th>scenario</th><th>verdict</th><th>requests</th><th>delivered</th><th>duties</th><th>findings</th></tr>");
        let mut clients: Vec<_> = s.clients.iter().collect();
        clients.sort_by_key(|c| std::cmp::Reverse(c.verdict));
        for c in clients {
            let findings: Vec<String> = c
                .findings
                .iter()
                .map(|f| {
                    let examples: Vec<String> = f
                        .examples
                        .iter()
                        .map(|e| format!("at {}: {}", esc(&e.at), esc(&e.detail)))
                        .collect();
                    format!(
                        "<div class=\"{}\"><code>{}</code> <span class=\"sev {}\">{}</span> x{}: {}<br><small>{}</small><br><small>rests on {}</small></div>",
                        if f.waived { "waived" } else { "" },
                        f.code,
                        f.severity,
                        f.severity,
                        f.count,
                        esc(f.summary),
                        examples.join("<br>"),
                        esc(f.rests_on)
                    )
                })
                .collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(c.scenario.as_deref().unwrap_or("(journal)")),
                verdict_span(c.verdict),
                c.requests,
                c.delivered,
                if c.duties.is_empty() {
                    "consume".to_string()
                } else {
                    c.duties.join(", ")
                },
                if findings.is_empty() {
                    "none".to_string()
                } else {
                    findings.join("")
                }
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>\n");
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:0 auto;padding:1.5em 2em;max-width:1400px;color:#263238}\
h1{margin:.2em 0}h2{margin:1.6em 0 .3em;border-bottom:1px solid #cfd8dc}\
table{border-collapse:collapse;margin:.5em 0 1em;width:100%}\
td,th{border:1px solid #cfd8dc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#eceff1}\
.verdict{font-weight:bold;padding:0 .3em;border-radius:3px}.pass{color:#2e7d32}.nonstrict{color:#ef6c00}.fail{color:#c62828}\
.count{display:inline-block;margin-right:.8em;font-weight:600}.count.error{color:#c62828}.count.warning{color:#ef6c00}\
.count.deviation{color:#6a1b9a}.count.info{color:#607d8b}.count.zero{color:#b0bec5;font-weight:normal}\
.sev.error{color:#c62828}.sev.warning{color:#ef6c00}.sev.deviation{color:#6a1b9a}\
.meta{color:#546e7a;margin:.2em 0}.note{color:#546e7a;font-style:italic}.waived{opacity:.55}\
details.project{border:1px solid #eceff1;border-radius:4px;margin:.4em 0;padding:.2em .6em}\
details>summary{cursor:pointer;padding:.2em 0}.phase{color:#546e7a}.codes{color:#c62828;font-size:12px}\
.scroll{overflow-x:auto;max-width:100%}svg.timeline{background:#fafafa;border:1px solid #eceff1;margin:.4em 0}\
svg .label{font-size:11px}svg .finding{font-size:11px}svg .axis{font-size:10px;fill:#78909c}svg .step{stroke:#37474f;stroke-width:2}\
nav table td{white-space:nowrap}nav table td.codes{white-space:normal}.ids{white-space:normal;line-height:1.8}.ids a{margin-right:.6em}";

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut h = String::new();
    let title = format!("cvnotify {}: {}", report.command, report.verdict.as_str());
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&title)
    );
    let mut total = Counts::default();
    for s in &report.sessions {
        let c = Counts::of(s);
        total.error += c.error;
        total.warning += c.warning;
        total.deviation += c.deviation;
        total.info += c.info;
    }
    let projects: usize = report.sessions.iter().map(|s| s.projects.len()).sum();
    let failing: usize = report
        .sessions
        .iter()
        .flat_map(|s| &s.projects)
        .filter(|p| p.verdict != Verdict::Pass)
        .count();
    let clients: usize = report.sessions.iter().map(|s| s.clients.len()).sum();
    let _ = writeln!(
        h,
        "<header><h1>cvnotify {} {}</h1><p>{}</p><p class=\"meta\">{} recording{}; {projects} project{}, {failing} not passing; {clients} client run{}{}; cvnotify {}</p></header>",
        esc(report.command),
        verdict_span(report.verdict),
        total.html(),
        report.sessions.len(),
        if report.sessions.len() == 1 { "" } else { "s" },
        if projects == 1 { "" } else { "s" },
        if clients == 1 { "" } else { "s" },
        if report.strict {
            "; --strict: NON-STRICT fails"
        } else {
            ""
        },
        report.version
    );
    // The index: recordings failing first, and in each its projects failing first.
    h.push_str("<nav><h2>Index</h2><table><tr><th>recording / project</th><th>verdict</th><th>phase</th><th>findings that count</th></tr>");
    let sessions = sessions_by_verdict(report);
    for (k, s) in &sessions {
        let _ = write!(
            h,
            "<tr><td><a href=\"#s{k}\"><b>{}</b></a></td><td>{}</td><td></td><td class=\"codes\">{}</td></tr>",
            esc(&s.file),
            verdict_span(s.verdict),
            Counts::of(s).brief(s)
        );
        // Not passing: each on its row. Passing: one collapsed row of links.
        let projects = by_verdict(s);
        let (bad, good): (Vec<_>, Vec<_>) = projects
            .iter()
            .partition(|(_, p)| p.verdict != Verdict::Pass);
        let link = |n: usize, pk: usize, p: &ProjectSection| {
            if n < DRAWN {
                format!("<a href=\"#s{k}p{pk}\"><code>{}</code></a>", p.project_id)
            } else {
                format!("<code>{}</code>", p.project_id)
            }
        };
        for (n, (pk, p)) in bad.iter().enumerate() {
            if n == LISTED {
                let _ = write!(
                    h,
                    "<tr><td colspan=\"4\" class=\"note\">{} more projects that do not pass (the JSON report has them)</td></tr>",
                    bad.len() - LISTED
                );
                break;
            }
            let _ = write!(
                h,
                "<tr><td>&nbsp;&nbsp;{}</td><td>{}</td><td>{}</td><td class=\"codes\">{}</td></tr>",
                link(n, *pk, p),
                verdict_span(p.verdict),
                p.phase,
                esc(&codes(p))
            );
        }
        if !good.is_empty() {
            let listed: Vec<String> = good
                .iter()
                .enumerate()
                .take(LISTED.saturating_sub(bad.len().min(LISTED)))
                .map(|(n, (pk, p))| link(bad.len() + n, *pk, p))
                .collect();
            let more = good.len() - listed.len();
            let _ = write!(
                h,
                "<tr><td colspan=\"4\"><details><summary>{} passing project{}</summary><p class=\"ids\">{}{}</p></details></td></tr>",
                good.len(),
                if good.len() == 1 { "" } else { "s" },
                listed.join(" "),
                if more > 0 {
                    format!(
                        " <span class=\"note\">and {more} more (the JSON report has them)</span>"
                    )
                } else {
                    String::new()
                }
            );
        }
    }
    h.push_str("</table></nav>\n");
    for (k, s) in &sessions {
        session_section(&mut h, *k, s);
    }
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes())
}
