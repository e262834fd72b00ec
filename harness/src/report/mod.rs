//! Renders a replay [`Report`] for people and for CI: `human` lines, one `json` document
//! (`corpus/report.schema.json`), `junit` XML, and a self-contained `html` page with a timeline
//! per project. Every format renders the same data; none prints a secret, since the report
//! holds none (the recording reader refuses them).

mod html;
mod human;
mod junit;

use std::io::{self, Write};

use crate::replay::Report;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Lines for a person (colour on a terminal only; `NO_COLOR` is respected).
    Human,
    /// One JSON document (`corpus/report.schema.json`).
    Json,
    /// JUnit XML: one test suite per recording, one test case per project and check.
    Junit,
    /// One self-contained HTML file: a timeline per project and the findings table.
    Html,
}

/// Writes `report` in `format`.
pub(crate) fn render(
    report: &Report,
    format: Format,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => human::render(report, color, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Junit => junit::render(report, out),
        Format::Html => html::render(report, out),
    }
}
