//! `cvnotify findings`: every finding the lifecycle model can raise.

use super::prelude::{CmdError, print};
use crate::catalogue::{findings_json, findings_markdown};

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
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    match args.format {
        FindingsFormat::Markdown => print(&findings_markdown()),
        FindingsFormat::Json => {
            let json = findings_json()
                .map_err(|e| CmdError::run(format!("cannot render the catalogue: {e}")))?;
            print(&format!("{json}\n"))
        }
    }
}
