//! The `junit` format: JUnit XML that CI systems display. The root is named after the command
//! (`cvnotify check`). One test suite per recording; in it, one test case per project and
//! check (every finding code), plus one per message-level check seen; and one test suite per
//! client run (a `verify` scenario), one test case per client finding code.
//!
//! An error fails its case (a warning or deviation too under `--strict`), with the details in
//! the `<failure>` element's body, which GitLab and Jenkins show. A case is skipped, with the
//! reason, when it was not judged: waived with `--select`/`--exclude`, never evaluated (its
//! source was not observed, as the training API is not in a queue-only recording; a client
//! duty not declared), or deferred to the merge (a consumer's share of the queue). Info
//! findings are written to the case's output. The shape is the one Jenkins' JUnit schema
//! accepts (`tests/e2e/junit.xsd` holds it, and a test validates every report against it).

use std::io::{self, Write};

use cvnotify_core::client::ClientFindingCode;
use cvnotify_core::lifecycle::{FindingCode, Sources};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::client::ClientSection;
use super::model::{FindingReport, ProjectSection, Report, SessionReport};

/// How a case came out.
enum Outcome {
    Passed,
    /// Failed: a one-line message, and the details.
    Failed {
        message: String,
        body: String,
    },
    /// Not judged, and why.
    Skipped(String),
}

struct Case {
    class: String,
    name: String,
    outcome: Outcome,
    output: Vec<String>,
}

/// Whether a finding of `severity` fails its case (warnings and deviations too under
/// `--strict`).
fn failing(severity: &str, strict: bool) -> bool {
    severity == "error" || (strict && severity != "info")
}

/// The names of the sources in `needed` that `seen` lacks.
fn missing(seen: Sources, needed: Sources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if needed.queue && !seen.queue {
        out.push("the notification queue");
    }
    if needed.training_api && !seen.training_api {
        out.push("the training API's calls");
    } else if needed.polling && !seen.polling && !seen.training_api {
        out.push("the training API's GetIteration/GetExports answers");
    }
    if needed.container && !seen.container {
        out.push("the backup container");
    }
    out
}

/// One finding, as a line of a case's body or output.
fn finding_line(s: &SessionReport, f: &FindingReport) -> String {
    format!(
        "{} at {}: {} ({})",
        f.severity,
        f.at,
        f.detail,
        s.cite_all(&f.evidence)
    )
}

fn failed(lines: &[String], rests_on: &str) -> Outcome {
    let message = match lines {
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
        [] => String::new(),
    };
    Outcome::Failed {
        message,
        body: format!("{}\nrests on {rests_on}", lines.join("\n")),
    }
}

/// Hands every case of a recording's suite to `each`, one at a time (a report of a million
/// projects has nineteen million cases: none is kept).
fn cases(
    s: &SessionReport,
    strict: bool,
    each: &mut dyn FnMut(Case) -> io::Result<()>,
) -> io::Result<()> {
    message_cases(s, strict, each)?;
    for p in &s.projects {
        project_cases(s, p, strict, each)?;
    }
    Ok(())
}

/// The message- and line-level checks' cases.
fn message_cases(
    s: &SessionReport,
    strict: bool,
    each: &mut dyn FnMut(Case) -> io::Result<()>,
) -> io::Result<()> {
    let fails = |severity: &str| failing(severity, strict);
    for c in &s.checks {
        let mut text: Vec<String> = c
            .examples
            .iter()
            .map(|e| format!("{}: {}", s.cite(e.line), e.detail))
            .collect();
        if c.count > c.examples.len() as u64 {
            text.push(format!(
                "... and {} more",
                c.count - c.examples.len() as u64
            ));
        }
        let outcome = if c.waived {
            Outcome::Skipped("waived with --select/--exclude".into())
        } else if fails(c.severity) {
            let mut f = failed(&text, c.rests_on);
            if let Outcome::Failed { message, .. } = &mut f {
                *message = format!("{} x{}: {message}", c.severity, c.count);
            }
            f
        } else {
            Outcome::Passed
        };
        let output = if matches!(outcome, Outcome::Failed { .. }) {
            vec![]
        } else {
            text
        };
        each(Case {
            class: format!("{}.messages", s.file),
            name: c.code.clone(),
            outcome,
            output,
        })?;
    }
    Ok(())
}

/// One project's cases: one per finding code.
fn project_cases(
    s: &SessionReport,
    p: &ProjectSection,
    strict: bool,
    each: &mut dyn FnMut(Case) -> io::Result<()>,
) -> io::Result<()> {
    let fails = |severity: &str| failing(severity, strict);
    let seen = s.observed;
    {
        for code in FindingCode::ALL {
            let info = code.info();
            let found: Vec<_> = p.findings.iter().filter(|f| f.code == info.code).collect();
            let counted = |f: &&&FindingReport| !f.waived && !f.deferred;
            let failing: Vec<String> = found
                .iter()
                .filter(|f| counted(f) && fails(f.severity))
                .map(|f| finding_line(s, f))
                .collect();
            let output: Vec<String> = found
                .iter()
                .filter(|f| !(counted(f) && fails(f.severity)))
                .map(|f| finding_line(s, f))
                .collect();
            let lacking = missing(seen, info.needs);
            let outcome = if !failing.is_empty() {
                failed(&failing, info.clause)
            } else if !lacking.is_empty() {
                Outcome::Skipped(format!(
                    "not evaluated: needs {}, which this session did not observe",
                    lacking.join(" and ")
                ))
            } else if found.iter().any(|f| f.waived) || s.waived(info.code) {
                Outcome::Skipped("waived with --select/--exclude".into())
            } else if found.iter().any(|f| f.deferred) {
                Outcome::Skipped(
                    "deferred: this consumer saw only its share of the queue; the merge of every consumer's recording judges it"
                        .into(),
                )
            } else {
                Outcome::Passed
            };
            each(Case {
                class: format!("{}.project.{}", s.file, p.project_id),
                name: info.code.to_string(),
                outcome,
                output,
            })?;
        }
    }
    Ok(())
}

fn client_cases(
    s: &SessionReport,
    c: &ClientSection,
    strict: bool,
    each: &mut dyn FnMut(Case) -> io::Result<()>,
) -> io::Result<()> {
    let file = &s.file;
    let fails = |severity: &str| failing(severity, strict);
    let class = format!(
        "{file}.client.{}",
        c.scenario.as_deref().unwrap_or("journal")
    );
    for case in ClientFindingCode::ALL.iter().map(|code| {
        let found = c.findings.iter().find(|f| f.code == code.as_str());
        let text: Vec<String> = found
            .map(|f| {
                let mut lines = vec![format!("{} x{}: {}", f.severity, f.count, f.summary)];
                lines.extend(f.examples.iter().map(|e| match &s.described {
                    None if e.line > 0 => {
                        format!("line {} at {}: {}", e.line, e.at, e.detail)
                    }
                    _ => format!("at {}: {}", e.at, e.detail),
                }));
                if f.count > f.examples.len() as u64 {
                    lines.push(format!(
                        "... and {} more",
                        f.count - f.examples.len() as u64
                    ));
                }
                lines
            })
            .unwrap_or_default();
        let outcome = match found {
            Some(f) if f.waived => Outcome::Skipped("waived with --select/--exclude".into()),
            Some(f) if fails(f.severity) => Outcome::Failed {
                message: text.first().cloned().unwrap_or_default(),
                body: format!("{}\nrests on {}", text.join("\n"), f.rests_on),
            },
            Some(_) => Outcome::Passed,
            None => c
                .unevaluated(*code)
                .map_or(Outcome::Passed, Outcome::Skipped),
        };
        let output = if matches!(outcome, Outcome::Failed { .. }) {
            vec![]
        } else {
            text
        };
        Case {
            class: class.clone(),
            name: code.as_str().to_string(),
            outcome,
            output,
        }
    }) {
        each(case)?;
    }
    Ok(())
}

fn xml<W: Write>(w: &mut Writer<W>, event: Event<'_>) -> io::Result<()> {
    w.write_event(event).map_err(io::Error::other)
}

/// What a suite is made of.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A recording's own checks and projects.
    Recording(&'a SessionReport),
    /// One client run of a recording.
    Client(&'a SessionReport, &'a ClientSection),
}

/// One test suite: its name, its start (RFC 3339) and duration, and where its cases come from.
struct Suite<'a> {
    name: String,
    timestamp: Option<String>,
    seconds: f64,
    source: Source<'a>,
}

impl Suite<'_> {
    fn each(&self, strict: bool, f: &mut dyn FnMut(Case) -> io::Result<()>) -> io::Result<()> {
        match self.source {
            Source::Recording(s) => cases(s, strict, f),
            Source::Client(s, c) => client_cases(s, c, strict, f),
        }
    }
}

/// How many cases, failed and skipped.
#[derive(Clone, Copy, Default)]
struct Counts {
    tests: u64,
    failures: u64,
    skipped: u64,
}

impl Counts {
    fn of(suite: &Suite<'_>, strict: bool) -> io::Result<Self> {
        let mut n = Self::default();
        suite.each(strict, &mut |c| {
            n.add(&c);
            Ok(())
        })?;
        Ok(n)
    }

    fn add(&mut self, c: &Case) {
        self.tests += 1;
        match c.outcome {
            Outcome::Failed { .. } => self.failures += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Passed => {}
        }
    }

    fn add_counts(&mut self, other: &Self) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.skipped += other.skipped;
    }
}

/// A client run's suite.
fn client_suite<'a>(s: &'a SessionReport, c: &'a ClientSection) -> Suite<'a> {
    let name = match &c.scenario {
        Some(n) => format!("{} :: scenario {n}", s.file),
        None => format!("{} :: client (line {})", s.file, c.line),
    };
    Suite {
        name,
        timestamp: s.started.clone(),
        seconds: c.seconds,
        source: Source::Client(s, c),
    }
}

/// A suite's start tag, with its totals.
fn suite_start(suite: &Suite<'_>, n: &Counts) -> BytesStart<'static> {
    let mut element = BytesStart::new("testsuite");
    element.push_attribute(("name", suite.name.as_str()));
    element.push_attribute(("tests", n.tests.to_string().as_str()));
    element.push_attribute(("failures", n.failures.to_string().as_str()));
    element.push_attribute(("errors", "0"));
    element.push_attribute(("skipped", n.skipped.to_string().as_str()));
    element.push_attribute(("time", format!("{:.3}", suite.seconds).as_str()));
    if let Some(t) = &suite.timestamp {
        element.push_attribute(("timestamp", t.as_str()));
    }
    element
}

/// The root's start tag, named after the command, with the totals.
fn root_start(command: &str, n: &Counts, seconds: f64) -> BytesStart<'static> {
    let mut root = BytesStart::new("testsuites");
    let title = format!("cvnotify {command}");
    root.push_attribute(("name", title.as_str()));
    root.push_attribute(("tests", n.tests.to_string().as_str()));
    root.push_attribute(("failures", n.failures.to_string().as_str()));
    root.push_attribute(("errors", "0"));
    root.push_attribute(("time", format!("{seconds:.3}").as_str()));
    root
}

fn text_element<W: Write>(w: &mut Writer<W>, start: BytesStart<'_>, text: &str) -> io::Result<()> {
    let end = start.name().as_ref().to_vec();
    xml(w, Event::Start(start))?;
    xml(w, Event::Text(BytesText::new(text)))?;
    xml(w, Event::End(BytesEnd::new(String::from_utf8_lossy(&end))))
}

fn write_case<W: Write>(w: &mut Writer<W>, c: &Case) -> io::Result<()> {
    let mut case = BytesStart::new("testcase");
    case.push_attribute(("classname", c.class.as_str()));
    case.push_attribute(("name", c.name.as_str()));
    case.push_attribute(("time", "0"));
    xml(w, Event::Start(case))?;
    match &c.outcome {
        Outcome::Passed => {}
        Outcome::Failed { message, body } => {
            let mut failure = BytesStart::new("failure");
            failure.push_attribute(("message", message.as_str()));
            failure.push_attribute(("type", c.name.as_str()));
            text_element(w, failure, body)?;
        }
        Outcome::Skipped(why) => {
            let mut skipped = BytesStart::new("skipped");
            skipped.push_attribute(("message", why.as_str()));
            xml(w, Event::Empty(skipped))?;
        }
    }
    if !c.output.is_empty() {
        text_element(w, BytesStart::new("system-out"), &c.output.join("\n"))?;
    }
    xml(w, Event::End(BytesEnd::new("testcase")))
}

/// Writes the report in two passes over its cases: the first counts (the root and each suite
/// carry their totals as attributes), the second writes; cases are made one at a time, so
/// memory does not grow with their number.
pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    xml(
        &mut w,
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
    )?;
    // A recording's own suite (unless it is only a client's journal), then one per client run.
    let mut all: Vec<Suite<'_>> = Vec::new();
    for s in &report.sessions {
        if s.clients.is_empty() || !s.checks.is_empty() || !s.projects.is_empty() {
            all.push(Suite {
                name: s.file.clone(),
                timestamp: s.started.clone(),
                seconds: s.seconds,
                source: Source::Recording(s),
            });
        }
        for c in &s.clients {
            all.push(client_suite(s, c));
        }
    }
    let counts: Vec<Counts> = all
        .iter()
        .map(|s| Counts::of(s, report.strict))
        .collect::<io::Result<_>>()?;
    let mut total = Counts::default();
    counts.iter().for_each(|n| total.add_counts(n));
    let seconds: f64 = all.iter().map(|s| s.seconds).sum();
    xml(
        &mut w,
        Event::Start(root_start(report.command, &total, seconds)),
    )?;
    for (suite, n) in all.iter().zip(&counts) {
        xml(&mut w, Event::Start(suite_start(suite, n)))?;
        suite.each(report.strict, &mut |c| write_case(&mut w, &c))?;
        xml(&mut w, Event::End(BytesEnd::new("testsuite")))?;
    }
    xml(&mut w, Event::End(BytesEnd::new("testsuites")))?;
    let out = w.into_inner();
    writeln!(out)
}

/// JUnit written as a session is judged, for `replay`: each project's cases go to a temporary
/// file as the project is handed over, and each suite is put together once its session is
/// over (its totals first, then its message cases, then the projects' cases copied back),
/// likewise the root once every suite is written. Memory holds one project's cases at a time;
/// the temporary files (deleted when done) hold the rest.
pub struct JunitStream {
    command: &'static str,
    strict: bool,
    /// The suites written so far.
    suites: Writer<io::BufWriter<std::fs::File>>,
    /// The current session's project cases.
    cases: Writer<io::BufWriter<std::fs::File>>,
    /// Their totals.
    counted: Counts,
    /// Every suite's totals and time, for the root.
    total: Counts,
    seconds: f64,
}

fn temporary() -> io::Result<Writer<io::BufWriter<std::fs::File>>> {
    Ok(Writer::new_with_indent(
        io::BufWriter::new(tempfile::tempfile()?),
        b' ',
        2,
    ))
}

/// Copies what `w` wrote so far to `to`, and empties it.
fn drain(w: &mut Writer<io::BufWriter<std::fs::File>>, to: &mut dyn Write) -> io::Result<()> {
    use std::io::Seek as _;
    // The buffer first: the file under it does not have it yet.
    w.get_mut().flush()?;
    let file = w.get_mut().get_mut();
    file.rewind()?;
    io::copy(file, to)?;
    file.rewind()?;
    file.set_len(0)?;
    Ok(())
}

impl JunitStream {
    /// A stream for a report of `command`.
    pub fn new(command: &'static str, strict: bool) -> io::Result<Self> {
        Ok(Self {
            command,
            strict,
            suites: temporary()?,
            cases: temporary()?,
            counted: Counts::default(),
            total: Counts::default(),
            seconds: 0.0,
        })
    }

    /// One project of the session in progress (`s` says what the session is: its name,
    /// sources, waivers; its projects and checks need not be there yet).
    pub fn project(&mut self, s: &SessionReport, p: &ProjectSection) -> io::Result<()> {
        let (strict, counted, cases) = (self.strict, &mut self.counted, &mut self.cases);
        project_cases(s, p, strict, &mut |c| {
            counted.add(&c);
            write_case(cases, &c)
        })
    }

    /// The session is over: its suite (and its client runs' suites) are written.
    pub fn session(&mut self, s: &SessionReport) -> io::Result<()> {
        let strict = self.strict;
        let mut n = std::mem::take(&mut self.counted);
        message_cases(s, strict, &mut |c| {
            n.add(&c);
            Ok(())
        })?;
        let suite = Suite {
            name: s.file.clone(),
            timestamp: s.started.clone(),
            seconds: s.seconds,
            source: Source::Recording(s),
        };
        if s.clients.is_empty() || !s.checks.is_empty() || n.tests > 0 {
            xml(&mut self.suites, Event::Start(suite_start(&suite, &n)))?;
            let w = &mut self.suites;
            message_cases(s, strict, &mut |c| write_case(w, &c))?;
            // The project cases, as they were written (already indented for this place).
            self.suites.get_mut().flush()?;
            drain(&mut self.cases, self.suites.get_mut())?;
            xml(&mut self.suites, Event::End(BytesEnd::new("testsuite")))?;
            self.total.add_counts(&n);
            self.seconds += s.seconds;
        }
        for c in &s.clients {
            let suite = client_suite(s, c);
            let n = Counts::of(&suite, strict)?;
            xml(&mut self.suites, Event::Start(suite_start(&suite, &n)))?;
            let w = &mut self.suites;
            suite.each(strict, &mut |c| write_case(w, &c))?;
            xml(&mut self.suites, Event::End(BytesEnd::new("testsuite")))?;
            self.total.add_counts(&n);
        }
        Ok(())
    }

    /// Every session is over: the report is written to `out`.
    pub fn finish(mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut w = Writer::new_with_indent(&mut *out, b' ', 2);
        xml(
            &mut w,
            Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
        )?;
        xml(
            &mut w,
            Event::Start(root_start(self.command, &self.total, self.seconds)),
        )?;
        w.get_mut().flush()?;
        drain(&mut self.suites, w.get_mut())?;
        xml(&mut w, Event::End(BytesEnd::new("testsuites")))?;
        writeln!(out)
    }
}
