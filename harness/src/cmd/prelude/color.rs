//! Whether reports are coloured: `--color`, then the environment as anstream reads it
//! (`NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE`, `TERM`, `CI`) and whether stdout is a terminal.

use std::io;

/// When reports are coloured (`--color`, on every command).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal that takes colour; never with a non-empty `NO_COLOR`; always with
    /// `CLICOLOR_FORCE` (the conventions at no-color.org and bixense.com/clicolors).
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Sets the colour choice for the process (once, from the command line).
pub(crate) fn set_color(choice: ColorChoice) {
    match choice {
        ColorChoice::Auto => anstream::ColorChoice::Auto,
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
    }
    .write_global();
}

/// Whether a report written to stdout is coloured, as anstream decides for stdout.
pub(crate) fn stdout_color() -> bool {
    anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never
}
