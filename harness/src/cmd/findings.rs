//! `cvnotify findings`: every finding the lifecycle model can raise, or (`--client`) every
//! finding `cvnotify verify` can raise about a client.

use super::prelude::{CmdError, print};
use crate::catalogue::{
    client_findings_json, client_findings_markdown, findings_json, findings_markdown,
};

/// Catalogue formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FindingsFormat {
    /// A Markdown table.
    Markdown,
    /// One JSON array.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FindingsFormat::Markdown)]
    format: FindingsFormat,
    /// The client findings (`cvnotify verify`) instead of the lifecycle's.
    #[arg(long)]
    client: bool,
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    match (args.format, args.client) {
        (FindingsFormat::Markdown, false) => print(&findings_markdown()),
        (FindingsFormat::Markdown, true) => print(&client_findings_markdown()),
        (FindingsFormat::Json, client) => {
            let json = if client {
                client_findings_json()
            } else {
                findings_json()
            }
            .map_err(|e| CmdError::run(format!("cannot render the catalogue: {e}")))?;
            print(&format!("{json}\n"))
        }
    }
}
