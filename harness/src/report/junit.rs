//! The `junit` format: JUnit XML that CI systems display. One test suite per recording; in it,
//! one test case per project and check (every finding code), plus one per message-level check
//! seen; and one test suite per client run (a `verify` scenario), one test case per client
//! finding code. An error fails its case (a warning or deviation too under `--strict`); a
//! waived check is skipped; info findings are written to the case's output.

use std::io::{self, Write};

use cvnotify_core::lifecycle::FindingCode;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::client::ClientSection;
use super::model::{Report, SessionReport};

struct Case {
    class: String,
    name: String,
    failure: Option<String>,
    skipped: bool,
    output: Vec<String>,
}

fn cases(s: &SessionReport, strict: bool) -> Vec<Case> {
    let fails = |severity: &str| severity == "error" || (strict && severity != "info");
    let mut cases = Vec::new();
    for c in &s.checks {
        let text: Vec<String> = c
            .examples
            .iter()
            .map(|e| format!("line {}: {}", e.line, e.detail))
            .collect();
        let failed = !c.waived && fails(c.severity);
        cases.push(Case {
            class: format!("{}.messages", s.file),
            name: c.code.clone(),
            failure: failed.then(|| format!("{} x{}: {}", c.severity, c.count, text.join("; "))),
            skipped: c.waived,
            output: if failed { vec![] } else { text },
        });
    }
    for p in &s.projects {
        for code in FindingCode::ALL {
            let found: Vec<_> = p
                .findings
                .iter()
                .filter(|f| f.code == code.as_str())
                .collect();
            let waived = found.iter().any(|f| f.waived);
            let failing: Vec<String> = found
                .iter()
                .filter(|f| !f.waived && fails(f.severity))
                .map(|f| {
                    format!(
                        "{} at {}: {} (lines {:?})",
                        f.severity, f.at, f.summary, f.evidence
                    )
                })
                .collect();
            let output = found
                .iter()
                .filter(|f| f.waived || !fails(f.severity))
                .map(|f| {
                    format!(
                        "{} at {}: {} (lines {:?})",
                        f.severity, f.at, f.summary, f.evidence
                    )
                })
                .collect();
            cases.push(Case {
                class: format!("{}.project.{}", s.file, p.project_id),
                name: code.as_str().to_string(),
                failure: (!failing.is_empty()).then(|| failing.join("; ")),
                skipped: waived && failing.is_empty(),
                output,
            });
        }
    }
    cases
}

fn client_cases(file: &str, c: &ClientSection, strict: bool) -> Vec<Case> {
    let fails = |severity: &str| severity == "error" || (strict && severity != "info");
    let class = format!(
        "{file}.client.{}",
        c.scenario.as_deref().unwrap_or("journal")
    );
    cvnotify_core::client::ClientFindingCode::ALL
        .iter()
        .map(|code| {
            let found = c.findings.iter().find(|f| f.code == code.as_str());
            let text = found.map(|f| {
                let examples: Vec<String> = f
                    .examples
                    .iter()
                    .map(|e| format!("line {}: {}", e.line, e.detail))
                    .collect();
                format!(
                    "{} x{}: {} ({}) {}",
                    f.severity,
                    f.count,
                    f.summary,
                    f.rests_on,
                    examples.join("; ")
                )
            });
            let failed = found.is_some_and(|f| !f.waived && fails(f.severity));
            Case {
                class: class.clone(),
                name: code.as_str().to_string(),
                failure: if failed { text.clone() } else { None },
                skipped: found.is_some_and(|f| f.waived),
                output: if failed {
                    vec![]
                } else {
                    text.into_iter().collect()
                },
            }
        })
        .collect()
}

fn xml<W: Write>(w: &mut Writer<W>, event: Event<'_>) -> io::Result<()> {
    w.write_event(event).map_err(io::Error::other)
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    xml(
        &mut w,
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
    )?;
    // (suite name, cases): a recording's own suite (unless it is only a client's journal),
    // then one per client run.
    let mut all: Vec<(String, Vec<Case>)> = Vec::new();
    for s in &report.sessions {
        if s.clients.is_empty() || !s.checks.is_empty() || !s.projects.is_empty() {
            all.push((s.file.clone(), cases(s, report.strict)));
        }
        for c in &s.clients {
            let name = match &c.scenario {
                Some(n) => format!("{} :: scenario {n}", s.file),
                None => format!("{} :: client (line {})", s.file, c.line),
            };
            all.push((name, client_cases(&s.file, c, report.strict)));
        }
    }
    let count = |f: &dyn Fn(&Case) -> bool| {
        all.iter()
            .flat_map(|(_, c)| c)
            .filter(|c| f(c))
            .count()
            .to_string()
    };
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "cvnotify replay"));
    root.push_attribute(("tests", count(&|_| true).as_str()));
    root.push_attribute(("failures", count(&|c| c.failure.is_some()).as_str()));
    xml(&mut w, Event::Start(root))?;
    for (name, cases) in &all {
        let n = |f: &dyn Fn(&Case) -> bool| cases.iter().filter(|c| f(c)).count().to_string();
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", name.as_str()));
        suite.push_attribute(("tests", n(&|_| true).as_str()));
        suite.push_attribute(("failures", n(&|c| c.failure.is_some()).as_str()));
        suite.push_attribute(("errors", "0"));
        suite.push_attribute(("skipped", n(&|c| c.skipped).as_str()));
        xml(&mut w, Event::Start(suite))?;
        for c in cases {
            let mut case = BytesStart::new("testcase");
            case.push_attribute(("classname", c.class.as_str()));
            case.push_attribute(("name", c.name.as_str()));
            xml(&mut w, Event::Start(case))?;
            if let Some(message) = &c.failure {
                let mut failure = BytesStart::new("failure");
                failure.push_attribute(("message", message.as_str()));
                failure.push_attribute(("type", "cvnotify"));
                xml(&mut w, Event::Empty(failure))?;
            } else if c.skipped {
                let mut skipped = BytesStart::new("skipped");
                skipped.push_attribute(("message", "waived with --select/--exclude"));
                xml(&mut w, Event::Empty(skipped))?;
            }
            if !c.output.is_empty() {
                xml(&mut w, Event::Start(BytesStart::new("system-out")))?;
                xml(&mut w, Event::Text(BytesText::new(&c.output.join("\n"))))?;
                xml(&mut w, Event::End(BytesEnd::new("system-out")))?;
            }
            xml(&mut w, Event::End(BytesEnd::new("testcase")))?;
        }
        xml(&mut w, Event::End(BytesEnd::new("testsuite")))?;
    }
    xml(&mut w, Event::End(BytesEnd::new("testsuites")))?;
    let out = w.into_inner();
    writeln!(out)
}
