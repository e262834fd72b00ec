//! `cvnotify schema`: the notifications' published contract, printed or written out, and the
//! schemas of cvnotify's recording and report.

use super::prelude::{CmdError, print};
use crate::contract;

/// Which document.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// The JSON Schema (2020-12) of a notification.
    JsonSchema,
    /// The AsyncAPI 3.0 document of the notification queue (its payloads refer to
    /// `notifications.schema.json` beside it: use --out to write both).
    Asyncapi,
    /// The JSON Schema of a recording line (cvnotify's own format, derived from its types).
    Recording,
    /// The JSON Schema of a `--format json` report (derived from its types).
    Report,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The document to print.
    #[arg(long, value_enum, default_value_t = Format::JsonSchema)]
    format: Format,
    /// Write both documents into this directory instead (`notifications.schema.json`,
    /// `asyncapi.yaml`), so that the AsyncAPI document's references resolve.
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    if let Some(dir) = &args.out {
        let written = contract::write_to(dir)
            .map_err(|e| CmdError::run(format!("cannot write into {}: {e}", dir.display())))?;
        for path in written {
            eprintln!("wrote {}", path.display());
        }
        return Ok(0);
    }
    print(&match args.format {
        Format::JsonSchema => contract::NOTIFICATIONS_SCHEMA.to_string(),
        Format::Asyncapi => contract::ASYNCAPI.to_string(),
        Format::Recording => contract::recording_schema(),
        Format::Report => contract::report_schema(),
    })
}
