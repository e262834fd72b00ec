//! `cvnotify diagram` and `cvnotify findings`: the lifecycle table and the findings catalogue,
//! rendered from the core's data (the README embeds both; a test keeps them current).

use std::fmt::Write as _;
use std::io::Write as _;

use cvnotify_core::lifecycle::{FindingCode, Sources, transitions};
use serde::Serialize;

use crate::cli::{DiagramArgs, DiagramFormat, FindingsArgs, FindingsFormat};
use crate::exit;

/// The diagram text.
pub(crate) fn diagram_text(format: DiagramFormat) -> String {
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
pub(crate) fn findings_markdown() -> String {
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
struct FindingJson {
    code: &'static str,
    severity: &'static str,
    clause: &'static str,
    needs: Vec<&'static str>,
    summary: &'static str,
}

fn findings_json() -> Result<String, serde_json::Error> {
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
                clause: i.clause,
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

fn print(text: &str) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("cvnotify: cannot write output: {e}");
            exit::USAGE_OR_IO
        }
    }
}

pub(crate) fn diagram(args: &DiagramArgs) -> u8 {
    print(&diagram_text(args.format))
}

pub(crate) fn findings(args: &FindingsArgs) -> u8 {
    match args.format {
        FindingsFormat::Markdown => print(&findings_markdown()),
        FindingsFormat::Json => match findings_json() {
            Ok(json) => print(&format!("{json}\n")),
            Err(e) => {
                eprintln!("cvnotify: cannot render the catalogue: {e}");
                exit::USAGE_OR_IO
            }
        },
    }
}
