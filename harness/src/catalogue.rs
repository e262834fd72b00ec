//! The lifecycle's transition table and the findings catalogue, rendered from the core's data
//! for `cvnotify diagram` and `cvnotify findings` (docs/lifecycle.md embeds both; a test keeps them
//! current).

use std::fmt::Write as _;

use cvnotify_core::lifecycle::{FindingCode, Sources, transitions};
use serde::Serialize;

/// Diagram formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiagramFormat {
    /// Mermaid `stateDiagram-v2` (GitHub renders it in Markdown).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// The transition table as a diagram.
pub fn diagram_text(format: DiagramFormat) -> String {
    match format {
        DiagramFormat::Mermaid => transitions::to_mermaid(),
        DiagramFormat::Dot => transitions::to_dot(),
    }
}

fn sources(needs: Sources) -> String {
    let names = [
        (needs.queue, "queue"),
        (needs.training_api, "training API"),
        (needs.polling, "API polling"),
        (needs.container, "container"),
    ];
    names
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The catalogue as a Markdown table.
pub fn findings_markdown() -> String {
    let mut s = String::from(
        "| code | severity | rests on | needs | what it means |\n|---|---|---|---|---|\n",
    );
    for code in FindingCode::ALL {
        let i = code.info();
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            i.code,
            i.severity.as_str(),
            i.clause,
            sources(i.needs),
            i.summary.replace('|', "\\|")
        );
    }
    s
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingJson {
    code: &'static str,
    severity: &'static str,
    rests_on: &'static str,
    needs: Vec<&'static str>,
    summary: &'static str,
}

/// The catalogue as one JSON array.
pub fn findings_json() -> Result<String, serde_json::Error> {
    let all: Vec<FindingJson> = FindingCode::ALL
        .into_iter()
        .map(|code| {
            let i = code.info();
            let needs = [
                (i.needs.queue, "queue"),
                (i.needs.training_api, "training-api"),
                (i.needs.polling, "polling"),
                (i.needs.container, "container"),
            ];
            FindingJson {
                code: i.code,
                severity: i.severity.as_str(),
                rests_on: i.clause,
                needs: needs
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, n)| *n)
                    .collect(),
                summary: i.summary,
            }
        })
        .collect();
    serde_json::to_string_pretty(&all)
}

/// The client findings (`cvnotify verify`) as a Markdown table.
pub fn client_findings_markdown() -> String {
    let mut s = String::from("| code | severity | rests on | what it means |\n|---|---|---|---|\n");
    for code in cvnotify_core::client::ClientFindingCode::ALL {
        let i = code.info();
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} |",
            i.code,
            i.severity.as_str(),
            i.rests_on,
            i.summary.replace('|', "\\|")
        );
    }
    s
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientFindingJson {
    code: &'static str,
    severity: &'static str,
    rests_on: &'static str,
    summary: &'static str,
}

/// The client findings as one JSON array.
pub fn client_findings_json() -> Result<String, serde_json::Error> {
    let all: Vec<ClientFindingJson> = cvnotify_core::client::ClientFindingCode::ALL
        .into_iter()
        .map(|code| {
            let i = code.info();
            ClientFindingJson {
                code: i.code,
                severity: i.severity.as_str(),
                rests_on: i.rests_on,
                summary: i.summary,
            }
        })
        .collect();
    serde_json::to_string_pretty(&all)
}
