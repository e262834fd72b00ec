//! Reports: the model every output format renders (`model`), how a session is judged into it
//! (`ledger`: every line posted one way, one judging function; its `tally` of messages,
//! counted in bounded memory by `messages`; its `runs`; its projects judged on workers in
//! project order by `in_order`; `client` for the verdict on a client's journal), and the
//! renderers: `human` lines, one `json` document (`corpus/report.schema.json`), `jsonl` lines
//! (which `replay` streams as it judges), `junit` XML, and a self-contained `html` page with a
//! timeline per project. Every format renders the same data; none prints a secret, since the
//! report holds none (the recording reader refuses them, and live sessions judge the lines as
//! they recorded them, redacted).

mod client;
mod html;
mod human;
mod in_order;
mod jsonl;
mod junit;
mod ledger;
mod messages;
mod model;
mod runs;
mod tally;
mod verdict;

use std::io::{self, Write};

pub use client::{
    ClientExampleReport, ClientFindingReport, ClientRuns, ClientSection, client_codes,
};
pub use jsonl::{project_line, report_line, session_line};
pub use junit::JunitStream;
pub use ledger::{
    Expectations, Journal, Ledger, Posting, ProjectSink, Rules, finding_detail, judge, post,
};
pub use model::{
    CheckReport, EXAMPLES, Example, FileSpan, FindingReport, HistoryEntry, LINE_CHECKS,
    MessageCounts, ProjectSection, Report, SessionReport, Verdict, Waivers, known_codes,
};
pub use runs::Runs;
pub use tally::Tally;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for a person (colour on a terminal only; `NO_COLOR` is respected).
    Human,
    /// One JSON document (`corpus/report.schema.json`).
    Json,
    /// JUnit XML: one test suite per recording, one test case per project and check.
    Junit,
    /// One self-contained HTML file: a timeline per project and the findings table.
    Html,
    /// JSON Lines: a line per project, a line per recording, a closing line with the verdict;
    /// `replay` writes each project's line as it judges it and holds none.
    Jsonl,
}

/// Writes `report` in `format`; `color` only matters to `human`.
pub fn render(report: &Report, format: Format, color: bool, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Human => human::render(report, color, out),
        Format::Json => {
            // The serializer writes a few bytes at a time (a key, a quote, two spaces of
            // indentation): into a buffer of its own type, not through `dyn Write` each time.
            let mut out = io::BufWriter::with_capacity(1 << 16, out);
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
            out.flush()
        }
        Format::Junit => junit::render(report, out),
        Format::Html => html::render(report, out),
        Format::Jsonl => jsonl::render(report, out),
    }
}
