//! `cvnotify verify` against real clients written on the official SDKs (`examples/`): the
//! correct consumers on the SDKs' default settings (a Python loop, a Python worker pool, a
//! Functions-style handler, a JavaScript loop) pass every built-in scenario under default
//! flags, and every client finding is caught in a faulty variant of the Python one
//! ([`DETECTION`], the table in docs/verify.md), with exactly the findings the table names. Clients
//! that do nothing, exit early, background their work or leave processes behind fail, on time,
//! leaving nothing running. A verify recording replays to the same verdict on the client.

use std::path::Path;
use std::process::Command;

use crate::support::{cvnotify_env, repo_root, temp_dir};

fn python() -> String {
    let python = repo_root().join("target/sdk-venv/bin/python");
    assert!(
        python.exists(),
        "the Python SDKs are not installed: run scripts/sdk-env (scripts/test does)"
    );
    python.to_string_lossy().into_owned()
}

fn consumer() -> String {
    repo_root()
        .join("examples/python/consumer.py")
        .to_string_lossy()
        .into_owned()
}

/// Runs `cvnotify verify ARGS -- CLIENT...`; its exit code and JSON report.
fn verify(args: &[&str], client: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .current_dir(repo_root())
        .arg("verify")
        .args(args)
        .args(["--format", "json", "--"])
        .args(client)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {stderr}"));
    (out.status.code(), report, stderr)
}

/// Per scenario: its verdict and finding codes.
fn clients(report: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    report["sessions"][0]["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["scenario"].as_str().unwrap_or_default().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
                c["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["code"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// `cvnotify verify --duty fetch-backups -- CLIENT...` over every built-in scenario (side by
/// side, verify's default `--jobs`), recording to `record` when given; the run's exit code,
/// report and stderr.
fn verify_every_scenario(
    client: &[&str],
    record: Option<&Path>,
) -> (Option<i32>, serde_json::Value, String) {
    verify_scenarios_but(&[], client, record)
}

/// [`verify_every_scenario`] without the scenarios named in `but`.
fn verify_scenarios_but(
    but: &[&str],
    client: &[&str],
    record: Option<&Path>,
) -> (Option<i32>, serde_json::Value, String) {
    let path = record.map(|p| p.to_string_lossy().into_owned());
    let mut flags = vec!["--duty", "fetch-backups"];
    if !but.is_empty() {
        for (name, ..) in cvnotify_harness::scenario::BUILT_IN {
            if !but.contains(name) {
                flags.extend(["--scenario", name]);
            }
        }
    }
    if let Some(path) = &path {
        flags.extend(["--record", path.as_str()]);
    }
    verify(&flags, client)
}

fn assert_all_pass(run: &(Option<i32>, serde_json::Value, String), what: &str, but: &[&str]) {
    let (code, report, stderr) = run;
    let mut all = clients(report);
    all.sort();
    let mut built_in: Vec<&str> = cvnotify_harness::scenario::BUILT_IN
        .iter()
        .map(|(name, ..)| *name)
        .filter(|name| !but.contains(name))
        .collect();
    built_in.sort_unstable();
    let scenarios: Vec<&str> = all.iter().map(|(s, ..)| s.as_str()).collect();
    assert_eq!(scenarios, built_in, "{what}: one section per scenario");
    for (scenario, verdict, findings) in &all {
        // Under default flags a warning does not fail the run (NON-STRICT); only errors do.
        assert!(
            verdict == "PASS" || verdict == "NON-STRICT",
            "{what}, scenario {scenario}: {verdict} {findings:?}"
        );
    }
    assert_eq!(*code, Some(0), "{what}: {stderr}");
}

/// The examples written on the SDKs' defaults, the program that runs each, and the scenarios
/// CI leaves out for it: the Functions host holds a message for 10 minutes, so after the
/// restart it comes back only then (`restarted` takes 11 minutes; run by hand).
fn default_examples() -> Vec<(&'static str, Vec<String>, &'static [&'static str])> {
    let py = |file: &str| {
        vec![
            python(),
            repo_root()
                .join("examples/python")
                .join(file)
                .to_string_lossy()
                .into_owned(),
        ]
    };
    vec![
        ("python loop", py("default_consumer.py"), &[]),
        ("python worker pool", py("worker_pool.py"), &[]),
        (
            "functions-style handler",
            py("functions_handler.py"),
            &["restarted"],
        ),
        (
            "javascript loop",
            vec!["node".into(), "examples/js/default_consumer.mjs".into()],
            &[],
        ),
    ]
}

#[test]
fn consumers_on_the_sdks_defaults_pass_every_scenario() {
    assert!(
        repo_root()
            .join("node_modules/@azure/storage-queue")
            .exists(),
        "the JavaScript SDKs are not installed: run scripts/sdk-env (scripts/test does)"
    );
    // Two at a time: each verify runs its scenarios side by side already.
    let examples = default_examples();
    for pair in examples.chunks(2) {
        std::thread::scope(|s| {
            for (what, client, but) in pair {
                s.spawn(move || {
                    let client: Vec<&str> = client.iter().map(String::as_str).collect();
                    let run = verify_scenarios_but(but, &client, None);
                    assert_all_pass(&run, what, but);
                    // No warning either, but where a default ignores a Retry-After in
                    // `throttled`: the JavaScript SDK's retry makes its first retry at once, and
                    // the Functions-style host polls again at its own back-off after a 429.
                    for (scenario, _, findings) in clients(&run.1) {
                        let quick = ["javascript loop", "functions-style handler"];
                        let allowed: &[&str] = if quick.contains(what) && scenario == "throttled" {
                            &["retry-after-ignored"]
                        } else {
                            &[]
                        };
                        assert!(
                            findings.iter().all(|f| allowed.contains(&f.as_str())),
                            "{what}, {scenario}: {findings:?}"
                        );
                    }
                });
            }
        });
    }
}

#[test]
fn the_correct_python_consumer_passes_every_scenario_and_its_journal_replays_the_same() {
    let dir = temp_dir("verify-python");
    let record = dir.join("run.jsonl");
    let run = verify_every_scenario(&[&python(), &consumer()], Some(&record));
    assert_all_pass(&run, "python consumer", &[]);
    let replayed = cvnotify_env(
        &["replay", "--format", "json", record.to_str().unwrap()],
        &[],
    );
    assert_eq!(replayed.status.code(), Some(0));
    let replayed: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(
        run.1["sessions"][0]["clients"], replayed["sessions"][0]["clients"],
        "the journal replays to the same verdict on the client"
    );
}

#[test]
fn the_tuned_javascript_consumer_waits_for_the_retry_after() {
    let (code, report, stderr) = verify(
        &[
            "--duty",
            "fetch-backups",
            "--strict",
            "--scenario",
            "throttled",
        ],
        &["node", "examples/js/consumer.mjs"],
    );
    for (scenario, verdict, findings) in clients(&report) {
        assert_eq!(verdict, "PASS", "scenario {scenario}: {findings:?}");
    }
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn the_correct_python_consumer_configures_its_own_project() {
    let (code, report, stderr) = verify(
        &[
            "--duty",
            "fetch-backups",
            "--duty",
            "configure",
            "--scenario",
            "happy",
            "--scenario",
            "api-error",
            "--scenario",
            "duplicates",
            "--scenario",
            "training-failed",
        ],
        &[&python(), &consumer(), "--configure"],
    );
    for (scenario, verdict, findings) in clients(&report) {
        assert_eq!(verdict, "PASS", "scenario {scenario}: {findings:?}");
    }
    assert_eq!(code, Some(0), "{stderr}");
}

/// Each client finding, the faulty variant that commits it (`consumer.py --bug NAME`, or a
/// client that cannot start), the scenario and verify flags, and every finding the run must
/// have (the first is the one it is about).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

pub(crate) const DETECTION: &[Row] = &[
    (
        "notification-not-deleted",
        "never-delete",
        "happy",
        // Stopped before the 30 s visibility timeout brings the messages back (acting on them
        // again would be processed-twice as well).
        &["--timeout", "20"],
        &["notification-not-deleted"],
    ),
    (
        "deleted-unreceived",
        "delete-peeked",
        "happy",
        &[],
        &["deleted-unreceived"],
    ),
    (
        "stale-receipt",
        "stale-receipt",
        "happy",
        &[],
        &["stale-receipt"],
    ),
    (
        "processed-twice",
        "processed-twice",
        "happy",
        &["--duty", "fetch-backups"],
        &["processed-twice"],
    ),
    (
        "malformed-lost",
        "delete-malformed",
        "malformed",
        &[],
        &["malformed-lost"],
    ),
    (
        "busy-polling",
        "busy-poll",
        "happy",
        &["--strict"],
        &["busy-polling"],
    ),
    (
        "retry-after-ignored",
        "no-retry-wait",
        "throttled",
        &["--strict"],
        &["retry-after-ignored"],
    ),
    (
        "unsafe-repeat",
        "blind-repeat",
        "api-error",
        &["--duty", "configure", "--configure"],
        &["unsafe-repeat"],
    ),
    (
        "backup-not-fetched",
        "skip-download",
        "happy",
        // A client that never downloads is stopped at the timeout: 20 s is well after the
        // happy scenario's export, as for notification-not-deleted.
        &["--duty", "fetch-backups", "--timeout", "20"],
        &["backup-not-fetched"],
    ),
    (
        "unannounced-blob-fetched",
        "guess-blob-name",
        "renamed-backup",
        &[],
        &["unannounced-blob-fetched"],
    ),
    (
        "storage-options-ignored",
        "old-api-version",
        "happy",
        &["--duty", "configure", "--configure"],
        &["storage-options-ignored"],
    ),
    (
        "client-failed",
        "crash",
        "happy",
        &[],
        &["notification-not-deleted", "client-failed"],
    ),
    (
        "client-unstartable",
        "",
        "happy",
        &[],
        &["client-unstartable"],
    ),
    (
        "client-timeout",
        "stall",
        "happy",
        &["--duty", "configure", "--timeout", "5"],
        &["client-timeout"],
    ),
    (
        "client-exited-early",
        "exit-early",
        "happy",
        &[],
        &["notification-not-deleted", "client-exited-early"],
    ),
    (
        "client-left-processes",
        "leave-child",
        "happy",
        &[],
        &["client-left-processes"],
    ),
    // Beyond one row per finding: mistakes the built-in scenarios exist to catch.
    (
        "client-exited-early",
        "background",
        "happy",
        &[],
        &[
            "notification-not-deleted",
            "client-exited-early",
            "client-left-processes",
        ],
    ),
    (
        "backup-not-fetched",
        "dedupe-by-project",
        "two-platforms",
        &["--duty", "fetch-backups"],
        &["backup-not-fetched"],
    ),
    (
        "backup-not-fetched",
        "dedupe-by-project",
        "retrained",
        &["--duty", "fetch-backups"],
        &["backup-not-fetched"],
    ),
];

fn detect(row: &Row) {
    let (code, bug, scenario, flags, expected) = *row;
    // Flags for verify, and the ones for the client (`--configure`).
    let mut args = vec!["--scenario", scenario];
    let mut client_flags = Vec::new();
    let mut timeout = false;
    for f in flags {
        match *f {
            "--configure" => client_flags.push("--configure"),
            "--timeout" => {
                timeout = true;
                args.push(f);
            }
            other => args.push(other),
        }
    }
    let _ = timeout; // without --timeout, the scenario's own deadline
    let (python, consumer) = (python(), consumer());
    let mut client: Vec<&str> = if bug.is_empty() {
        vec!["/nonexistent/cvnotify-client"]
    } else {
        vec![&python, &consumer, "--bug", bug]
    };
    client.extend(client_flags);
    let (exit, report, stderr) = verify(&args, &client);
    let all = clients(&report);
    let [(_, verdict, findings)] = all.as_slice() else {
        panic!("{code}: {all:?}");
    };
    let mut found = findings.clone();
    found.sort();
    let mut want: Vec<String> = expected.iter().map(|s| (*s).to_string()).collect();
    want.sort();
    assert_eq!(
        found, want,
        "{code} (--bug {bug}, scenario {scenario}): {stderr}"
    );
    // A warning (busy polling) is NON-STRICT, which --strict fails.
    assert_ne!(verdict, "PASS", "{code}");
    assert_eq!(exit, Some(1), "{code}: a caught client exits 1");
}

#[test]
fn every_client_finding_is_caught_in_a_faulty_client() {
    let codes: Vec<&str> = cvnotify_core::client::ClientFindingCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    let covered: Vec<&str> = DETECTION.iter().map(|r| r.0).take(codes.len()).collect();
    assert_eq!(
        covered, codes,
        "the detection table has every finding, in catalogue order, before its extra rows"
    );
    // Three at a time, the ones that wait longest first (a throttled message comes back after
    // the 30 s visibility timeout; some rows run to their timeout): each run is a process and a
    // simulation of its own, mostly waiting, so the whole takes about as long as its longest.
    let mut rows: Vec<&Row> = DETECTION.iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(waits(row)));
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while let Some(row) =
                    rows.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    detect(row);
                }
            });
        }
    });
}

/// About how many seconds a detection row waits, at least: its timeout when it sets one, the
/// visibility timeout for the throttled scenario.
fn waits(row: &Row) -> u32 {
    let (_, _, scenario, flags, _) = *row;
    let timeout = flags
        .iter()
        .position(|f| *f == "--timeout")
        .and_then(|at| flags.get(at + 1))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if scenario == "throttled" {
        timeout.max(30)
    } else {
        timeout
    }
}

#[test]
fn the_readme_shows_the_detection_table() {
    let readme = std::fs::read_to_string(repo_root().join("docs/verify.md")).unwrap();
    for (code, bug, scenario, flags, findings) in DETECTION {
        let variant = if bug.is_empty() {
            "a program that does not exist".to_string()
        } else {
            format!("`--bug {bug}`")
        };
        let flags = if flags.is_empty() {
            "none".to_string()
        } else {
            flags.join(" ")
        };
        let findings: Vec<String> = findings.iter().map(|f| format!("`{f}`")).collect();
        let row = format!(
            "| `{code}` | {variant} | `{scenario}` | {flags} | {} |",
            findings.join(", ")
        );
        assert!(readme.contains(&row), "docs/verify.md lacks {row:?}");
    }
    for (name, what, _) in cvnotify_harness::scenario::BUILT_IN {
        let row = format!("| `{name}` | {what} |");
        assert!(
            readme.contains(&row),
            "docs/verify.md lacks the scenario row {row:?}"
        );
    }
}

/// A client cvnotify does not start: `simulate --record` journals what it does (readable live
/// at `/admin/journal`), and `replay` of the journal judges it.
#[test]
fn simulate_journals_a_client_it_did_not_start_and_replay_judges_it() {
    use std::io::BufRead as _;
    let dir = temp_dir("simulate-journal");
    let journal = dir.join("journal.jsonl");
    let mut sim = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            "simulate",
            "--training-seconds",
            "1",
            "--export-seconds",
            "0",
            "--connection-test-seconds",
            "0",
            "--record",
            journal.to_str().unwrap(),
            "--duty",
            "configure",
            "--duty",
            "fetch-backups",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let e: serde_json::Value = serde_json::from_str(&first).unwrap();
    let mut client = Command::new(python())
        .arg(consumer())
        .arg("--configure")
        .env(
            "AZURE_STORAGE_CONNECTION_STRING",
            e["connectionString"].as_str().unwrap(),
        )
        .env(
            "CVNOTIFY_TRAINING_ENDPOINT",
            e["trainingEndpoint"].as_str().unwrap(),
        )
        .env("CVNOTIFY_TRAINING_KEY", e["trainingKey"].as_str().unwrap())
        .env(
            "CVNOTIFY_NOTIFICATION_QUEUE_URI",
            e["notificationQueueUri"].as_str().unwrap(),
        )
        .env(
            "CVNOTIFY_EXPORT_MODEL_CONTAINER_URI",
            e["exportModelContainerUri"].as_str().unwrap(),
        )
        .spawn()
        .unwrap();
    // Live: the journal grows until the three notifications were delivered and deleted.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin = format!(
        "{}/admin/journal?after=0",
        e["trainingEndpoint"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = rt.block_on(async { reqwest::get(&admin).await.unwrap().text().await.unwrap() });
        let deletes = text
            .lines()
            .filter(|l| {
                l.contains("\"call\":\"DeleteMessage\"") && l.contains("\"httpStatus\":204")
            })
            .count();
        if deletes >= 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the client did not consume: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    for pid in [client.id(), sim.id()] {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    client.wait().unwrap();
    assert!(sim.wait().unwrap().success());
    let replayed = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(["replay", "--format", "json", journal.to_str().unwrap()])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    let c = &report["sessions"][0]["clients"][0];
    assert_eq!(c["verdict"], "PASS", "{report:#}");
    assert_eq!(
        c["duties"],
        serde_json::json!(["fetch-backups", "configure"])
    );
    assert_eq!(replayed.status.code(), Some(0));
    // Every request says which connection it came on; the SDKs keep theirs open, so the
    // client's many requests came on a few connections.
    let text = std::fs::read_to_string(&journal).unwrap();
    let connections: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("\"kind\":\"request\""))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["connection"]
                .as_u64()
                .unwrap_or_else(|| panic!("no connection: {l}"))
        })
        .collect();
    let distinct: std::collections::BTreeSet<u64> = connections.iter().copied().collect();
    assert!(distinct.iter().all(|c| *c >= 1));
    assert!(
        distinct.len() < connections.len() / 2,
        "{} requests on {} connections",
        connections.len(),
        distinct.len()
    );
}

/// Processes whose command line holds `needle` (the leftovers of a hostile client).
fn running(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle) && !c.contains("cvnotify"))
        .collect()
}

#[test]
fn clients_that_do_nothing_exit_early_or_leave_processes_fail_on_time_and_leave_nothing() {
    // A number no other process sleeps for, so that leftovers can be found.
    let n = 100_000 + std::process::id() % 10_000;
    let forever = format!("{n}.5");
    let canary_sig = "sig=CanarySignature0123456789abcdefXYZ%3D";
    let canary_key = "AccountKey=CanaryAccountKey0123456789==";
    let background = format!("{} {} & exit 0", python(), consumer());
    let grandchild = format!("sleep {forever} & exit 0");
    let stubborn = format!("trap '' TERM; (trap '' TERM; sleep {forever}) & sleep {forever}");
    let cases: Vec<(&str, Vec<&str>, &[&str])> = vec![
        ("does nothing", vec!["true"], &["client-exited-early"]),
        (
            "exits after half a second",
            vec!["bash", "-c", "sleep 0.5"],
            &["client-exited-early"],
        ),
        (
            "backgrounds the real consumer",
            vec!["bash", "-c", &background],
            &["client-exited-early", "client-left-processes"],
        ),
        (
            "leaves a grandchild that never ends",
            vec!["bash", "-c", &grandchild],
            &["client-exited-early", "client-left-processes"],
        ),
        (
            "ignores SIGTERM, and so does its child",
            vec!["bash", "-c", &stubborn],
            &["notification-not-deleted"],
        ),
    ];
    let dir = temp_dir("verify-hostile");
    std::thread::scope(|s| {
        for (k, (what, client, expected)) in cases.iter().enumerate() {
            let dir = &dir;
            s.spawn(move || {
                let record = dir.join(format!("hostile-{k}.jsonl"));
                // Secrets on the command line (bash -c takes them as $0 and $1; true ignores them).
                let mut client = client.clone();
                client.extend([canary_sig, canary_key]);
                let started = std::time::Instant::now();
                let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
                    .current_dir(repo_root())
                    .args([
                        "verify",
                        "--scenario",
                        "happy",
                        "--timeout",
                        "8",
                        "--grace",
                        "2",
                    ])
                    .args([
                        "--record",
                        record.to_str().unwrap(),
                        "--format",
                        "json",
                        "--",
                    ])
                    .args(&client)
                    .output()
                    .unwrap();
                let took = started.elapsed();
                assert!(
                    took < std::time::Duration::from_secs(8 + 2 + 5),
                    "{what}: verify took {took:?}"
                );
                assert_eq!(out.status.code(), Some(1), "{what}");
                let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let [(_, verdict, findings)] = clients(&report).try_into().unwrap();
                assert_eq!(verdict, "FAIL", "{what}");
                for code in *expected {
                    assert!(findings.iter().any(|f| f == code), "{what}: {findings:?}");
                }
                // The canary secrets appear nowhere: not in the report, the live lines, the
                // recording, nor any format a replay of it renders.
                let mut texts = vec![
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                    std::fs::read_to_string(&record).unwrap(),
                ];
                for format in ["human", "junit", "html", "jsonl"] {
                    let r = cvnotify_env(
                        &["replay", "--format", format, record.to_str().unwrap()],
                        &[],
                    );
                    texts.push(String::from_utf8_lossy(&r.stdout).into_owned());
                }
                for text in texts {
                    assert!(!text.contains("Canary"), "{what}: a canary secret leaked");
                }
            });
        }
    });
    assert_eq!(
        running(&forever),
        Vec::<String>::new(),
        "processes left behind"
    );
}

/// Every scenario of a run, and every run, reused the same project and message ids, so a
/// consumer that persists the ids it processed skipped later scenarios' work. Ids are fresh per
/// scenario and per run; `--seed` repeats a run's. The JUnit report names the client by its
/// file names, with the run's real durations.
#[test]
fn every_scenario_and_every_run_has_ids_of_its_own_and_a_seed_repeats_them() {
    let dir = temp_dir("verify-ids");
    let ids = |name: &str, seed: Option<&str>| -> Vec<String> {
        let record = dir.join(name);
        let mut args = vec![
            "verify",
            "--scenario",
            "happy",
            "--scenario",
            "happy",
            "--timeout",
            "5",
            "--record",
            record.to_str().unwrap(),
        ];
        if let Some(seed) = seed {
            args.extend(["--seed", seed]);
        }
        args.extend(["--", "true"]);
        let out = cvnotify_env(&args, &[]);
        assert_eq!(out.status.code(), Some(1));
        std::fs::read_to_string(&record)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"kind\":\"delivered\""))
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{} {}", v["projectId"], v["messageId"])
            })
            .collect()
    };
    let first = ids("a.jsonl", Some("7"));
    assert_eq!(
        first.len(),
        6,
        "two scenarios of three notifications: {first:?}"
    );
    let (one, two) = first.split_at(3);
    assert!(one.iter().all(|id| !two.contains(id)), "{first:?}");
    assert_eq!(ids("b.jsonl", Some("7")), first, "--seed repeats the ids");
    let fresh = ids("c.jsonl", None);
    assert!(fresh.iter().all(|id| !first.contains(id)), "{fresh:?}");
    // JUnit: the client's program by its file name, and a real duration.
    let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            "verify",
            "--scenario",
            "happy",
            "--timeout",
            "5",
            "--format",
            "junit",
            "--",
        ])
        .args(["/bin/sh", "-c", "exit 0"])
        .output()
        .unwrap();
    let junit = String::from_utf8_lossy(&out.stdout);
    assert!(!junit.contains("/bin/sh"), "{junit}");
    assert!(junit.contains("verify sh -c"), "{junit}");
    let suite = junit
        .lines()
        .find(|l| l.contains("<testsuite ") && l.contains("scenario happy"))
        .unwrap();
    let time: f64 = suite
        .split("time=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(time > 0.5, "{suite}");
}

#[test]
fn a_consumer_that_keeps_backups_by_copying_them_fetches_them() {
    // Copy Blob reads every byte of the announced backup for the client, as a download would.
    let scenarios = ["happy", "two-platforms", "renamed-backup", "large-backup"];
    let mut flags = vec!["--duty", "fetch-backups"];
    for s in &scenarios {
        flags.extend(["--scenario", s]);
    }
    let consumer = consumer();
    let (code, report, stderr) = verify(&flags, &[&python(), &consumer, "--copy-to", "registry"]);
    let verdicts = clients(&report);
    assert_eq!(verdicts.len(), scenarios.len(), "{stderr}");
    for (scenario, verdict, findings) in &verdicts {
        assert_eq!(verdict, "PASS", "{scenario}: {findings:?}\n{stderr}");
    }
    assert_eq!(code, Some(0), "{stderr}");
}
