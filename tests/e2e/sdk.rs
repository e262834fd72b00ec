//! The official SDKs, unchanged, against the simulation (`cvnotify simulate`, as a user runs
//! it): the Python and JavaScript storage programs in `tests/sdk/` see the same results from the
//! simulation as from Azurite, step by step; the Python and JavaScript Custom Vision quickstart
//! flows run to their end. `scripts/sdk-env` (run by `scripts/test` and `.ci/run`) installs the
//! pinned SDKs.

use std::process::Command;

use crate::azurite::Azurite;
use crate::support::{Simulate, repo_root};

fn python() -> std::path::PathBuf {
    let python = repo_root().join("target/sdk-venv/bin/python");
    assert!(
        python.exists(),
        "the Python SDKs are not installed: run scripts/sdk-env (scripts/test does)"
    );
    python
}

fn node() -> Command {
    assert!(
        repo_root()
            .join("node_modules/@azure/storage-queue")
            .exists(),
        "the JavaScript SDKs are not installed: run scripts/sdk-env (scripts/test does)"
    );
    let mut node = Command::new("node");
    node.current_dir(repo_root());
    node
}

/// Runs a program, which must succeed; its stdout lines.
fn run(mut command: Command, what: &str) -> Vec<String> {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The same program against Azurite and the simulation: the same lines, step by step.
fn same_results(program: impl Fn(&str) -> Command, what: &str) {
    let azurite = Azurite::start();
    let sim = Simulate::start(&[]);
    let oracle = run(
        program(&azurite.connection_string()),
        &format!("{what} on Azurite"),
    );
    let ours = run(
        program(sim.get("connectionString")),
        &format!("{what} on the simulation"),
    );
    assert!(oracle.len() > 50, "{what} ran {} steps", oracle.len());
    for (a, b) in oracle.iter().zip(&ours) {
        assert_eq!(
            a, b,
            "{what}: Azurite (left) and the simulation (right) differ"
        );
    }
    assert_eq!(oracle.len(), ours.len(), "{what}: not as many steps");
}

#[test]
fn the_python_storage_sdks_see_the_simulation_as_they_see_azurite() {
    same_results(
        |connection| {
            let mut c = Command::new(python());
            c.arg(repo_root().join("tests/sdk/storage.py"))
                .arg(connection);
            c
        },
        "tests/sdk/storage.py",
    );
}

#[test]
fn the_javascript_storage_sdks_see_the_simulation_as_they_see_azurite() {
    same_results(
        |connection| {
            let mut c = node();
            c.arg("tests/sdk/storage.mjs").arg(connection);
            c
        },
        "tests/sdk/storage.mjs",
    );
}

/// The Custom Vision quickstart flow, one SDK at a time, on short service delays.
fn quickstart(program: impl FnOnce(&str) -> Command, what: &str) {
    let sim = Simulate::start(&[
        "--connection-test-seconds",
        "0",
        "--training-seconds",
        "1",
        "--export-seconds",
        "1",
    ]);
    let endpoints = sim.endpoints.to_string();
    let lines = run(program(&endpoints), what);
    assert!(
        lines.last().is_some_and(|l| l.contains("ok")),
        "{what}: {lines:?}"
    );
}

#[test]
fn the_python_custom_vision_quickstart_runs_against_the_simulation() {
    quickstart(
        |endpoints| {
            let mut c = Command::new(python());
            c.arg(repo_root().join("tests/sdk/quickstart.py"))
                .arg(endpoints);
            c
        },
        "tests/sdk/quickstart.py",
    );
}

#[test]
fn the_javascript_custom_vision_quickstart_runs_against_the_simulation() {
    quickstart(
        |endpoints| {
            let mut c = node();
            c.arg("tests/sdk/quickstart.mjs").arg(endpoints);
            c
        },
        "tests/sdk/quickstart.mjs",
    );
}
