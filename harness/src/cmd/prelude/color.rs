//! Whether reports are coloured (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`).

use std::io::{self, IsTerminal as _};

/// Whether colour is wanted on stdout: a terminal, and no non-empty `NO_COLOR`.
/// When reports are coloured (`--color`, on every command).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (and non-empty); `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

static COLOR: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

/// Sets the colour choice for the process (once, from the command line).
pub(crate) fn set_color(choice: ColorChoice) {
    let _ = COLOR.set(choice);
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether a report written to stdout is coloured: `--color always`, or `auto` with
/// `CLICOLOR_FORCE` set, or `auto` on a terminal without `NO_COLOR`.
pub(crate) fn stdout_color() -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            env_set("CLICOLOR_FORCE") || (io::stdout().is_terminal() && !env_set("NO_COLOR"))
        }
    }
}
