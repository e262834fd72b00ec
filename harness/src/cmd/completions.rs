//! `cvnotify completions SHELL` and `cvnotify man`: shell completions (clap_complete) and a man
//! page (clap_mangen, roff), generated from the command line's own definition.

use clap::CommandFactory as _;

use super::Cli;
use super::prelude::{CmdError, print};

#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub(crate) fn completions(args: &CompletionsArgs) -> Result<u8, CmdError> {
    let mut command = Cli::command();
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "cvnotify", &mut script);
    print(&String::from_utf8_lossy(&script))
}

#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {}

pub(crate) fn man(_: &ManArgs) -> Result<u8, CmdError> {
    let command = Cli::command();
    let mut pages = Vec::new();
    let failed = |e: std::io::Error| CmdError::run(format!("cannot render the man page: {e}"));
    clap_mangen::Man::new(command.clone())
        .render(&mut pages)
        .map_err(failed)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        clap_mangen::Man::new(sub.clone())
            .title(format!("cvnotify-{}", sub.get_name()))
            .render(&mut pages)
            .map_err(failed)?;
    }
    print(&String::from_utf8_lossy(&pages))
}
