//! `cvnotify completions SHELL` and `cvnotify man`: shell completions (clap_complete) and a man
//! page (clap_mangen, roff), generated from the command line's own definition.

use super::prelude::{CmdError, print};

#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// The completions of `command`, the command line's definition.
pub(crate) fn completions(
    args: &CompletionsArgs,
    mut command: clap::Command,
) -> Result<u8, CmdError> {
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "cvnotify", &mut script);
    print(&String::from_utf8_lossy(&script))
}

#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {}

/// The man pages of `command`, the command line's definition.
pub(crate) fn man(_: &ManArgs, command: clap::Command) -> Result<u8, CmdError> {
    let mut pages = Vec::new();
    let failed = |e: std::io::Error| CmdError::io("render the man page", e);
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
