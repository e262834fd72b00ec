//! `cvnotify diagram`: the lifecycle transition table as a state diagram.

use super::prelude::{CmdError, print};
use crate::catalogue::{DiagramFormat, diagram_text};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiagramFormat::Mermaid)]
    format: DiagramFormat,
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    print(&diagram_text(args.format))
}
