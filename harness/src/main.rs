//! `cvnotify`: the command-line harness around `cvnotify-core` (see the library for each
//! subcommand).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cvnotify_harness::run())
}
