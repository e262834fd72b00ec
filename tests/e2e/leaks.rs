//! Nothing leaks: every command that exists runs with canary secrets in its input (a SAS `sig`
//! in a modelUri, plain and base64; an account key; a signature in a rejected field; a
//! recording line that carries one) and every byte it writes (stdout, stderr, every report
//! format, files) is searched for the canaries. `watch` is checked against Azurite in
//! `azurite.rs`; `check` and `simulate` here, with a canary Training-Key and SAS signatures.

use std::process::Command;

use base64::Engine as _;

use crate::support::repo_root;

const SIG: &str = "CANARYsig0000000000000000000000000000000000000%3D";
const ACCOUNT_KEY: &str =
    "CANARYkey00000000000000000000000000000000000000000000000000000000000000==";
const CANARIES: [&str; 2] = ["CANARYsig", "CANARYkey"];

const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for canary in CANARIES {
        assert!(!text.contains(canary), "{what} leaked {canary}:\n{text}");
    }
}

fn run(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn messages() -> Vec<String> {
    let export = |status: &str, uri: &str| {
        format!(
            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{P}","exportStatus":"{status}","modelUri":"{uri}"}}}}"#
        )
    };
    let uri = format!("https://svc.blob.core.windows.net/m/x.zip?sv=1&sig={SIG}&se=2");
    let accepted = export("ExportCompleted", &uri);
    vec![
        accepted.clone(),
        base64::engine::general_purpose::STANDARD.encode(&accepted),
        export(&format!("Done?sig={SIG}"), &uri),
        export(
            "ExportCompleted",
            &format!("ftp://u:{ACCOUNT_KEY}@h/x?sig={SIG}"),
        ),
        export("ExportCompleted", &format!("relative/x?sig={SIG}")),
        format!(r#"{{"version":"1.0","type":"AccountKey={ACCOUNT_KEY}","Content":{{}}}}"#),
    ]
}

#[test]
fn parse_writes_no_secret_in_any_format_or_mode() {
    for message in messages() {
        for args in [
            &["parse"][..],
            &["parse", "--format", "json"],
            &["parse", "--strict"],
            &["parse", "--strict", "--format", "json"],
        ] {
            let out = run(args, message.as_bytes());
            assert_clean("parse stdout", &out.stdout);
            assert_clean("parse stderr", &out.stderr);
        }
    }
}

#[test]
fn replay_writes_no_secret_in_any_format() {
    let mut recording = String::from(
        "{\"kind\":\"session\",\"version\":1,\"sources\":[\"queue\",\"training-api\"]}\n",
    );
    for (n, message) in messages().iter().enumerate() {
        let line = serde_json::json!({"kind": "message", "at": "2026-01-01T09:00:00Z", "queue": "q",
            "messageId": format!("m{n}"), "dequeueCount": 1, "messageText": message});
        recording.push_str(&format!("{line}\n"));
    }
    recording.push_str(&format!(
        "{{\"kind\":\"api\",\"at\":\"2026-01-01T09:00:01Z\",\"operation\":\"CreateProject\",\"projectId\":\"{P}\",\"httpStatus\":200,\"exportModelContainerUri\":\"https://a.blob.core.windows.net/c?sig={SIG}\"}}\n"
    ));
    recording.push_str(&format!("{{\"kind\":\"blob\",\"at\":\"2026-01-01T09:00:02Z\",\"container\":\"AccountKey={ACCOUNT_KEY}\",\"event\":\"deleted\",\"name\":\"n\"}}\n"));
    let dir = std::env::temp_dir().join(format!("cvnotify-leaks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("canaries.jsonl");
    std::fs::write(&file, &recording).unwrap();
    for format in ["human", "json", "junit", "html"] {
        let out = run(&["replay", "--format", format, file.to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(1), "{format}");
        assert_clean(&format!("replay --format {format} stdout"), &out.stdout);
        assert_clean(&format!("replay --format {format} stderr"), &out.stderr);
        let report = dir.join(format!("report.{format}"));
        let out = run(
            &[
                "replay",
                "--format",
                format,
                "--output",
                report.to_str().unwrap(),
                file.to_str().unwrap(),
            ],
            b"",
        );
        assert_clean("replay stderr", &out.stderr);
        assert_clean(
            &format!("replay --output ({format})"),
            &std::fs::read(&report).unwrap(),
        );
    }
    // The same recording from stdin, for good measure.
    let out = run(&["replay", "-"], recording.as_bytes());
    assert_clean("replay - stdout", &out.stdout);
    let _ = repo_root();
}

/// `check` against a real-endpoint configuration (here `simulate`, standing in for Azure) with a
/// canary Training-Key, canary SAS signatures on the queue and container URLs and a canary
/// account key in the environment: nothing it or `simulate` writes holds a canary, in any
/// report format, its live lines or its recording.
#[test]
fn check_and_simulate_write_no_secret() {
    use std::io::BufRead as _;
    const TRAINING_KEY: &str = "CANARYtrainingkey000000000000000";
    let mut sim = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(["simulate", "--training-key-env", "CVNOTIFY_LEAK_KEY"])
        .env("CVNOTIFY_LEAK_KEY", TRAINING_KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(sim.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let endpoints: serde_json::Value = serde_json::from_str(&first).unwrap();
    let dir = std::env::temp_dir().join(format!("cvnotify-leak-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One queue and container per run (a check judges every message on its queue), created as
    // a user would beforehand. The runs go side by side, so the simulation's sped-up clock
    // stays within the deadlines of the wall clock that check stamps its own calls with.
    let base = endpoints["trainingEndpoint"].as_str().unwrap().to_string();
    let formats = ["human", "json", "junit", "html"];
    let url = |kind: &str, format: &str| format!("{base}/devstoreaccount1/leak-{kind}-{format}");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use cvnotify_harness::storage::{Container, Queue, Resource, RetryPolicy};
            for format in formats {
                let r = |kind| Resource::new(&url(kind, format), None, RetryPolicy::NONE).unwrap();
                Queue::new(r("q")).create().await.unwrap();
                Container::new(r("c")).create().await.unwrap();
            }
        });
    let runs: Vec<_> = formats
        .into_iter()
        .map(|format| {
            let queue = format!("{}?sv=2021-08-06&sig={SIG}", url("q", format));
            let container = format!("{}?sv=2021-08-06&sig={SIG}", url("c", format));
            let (base, record, report) = (
                base.clone(),
                dir.join(format!("{format}.jsonl")),
                dir.join(format!("report.{format}")),
            );
            std::thread::spawn(move || {
                let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
                    .args([
                        "check",
                        "--training-endpoint",
                        &base,
                        "--training-key-env",
                        "CVNOTIFY_LEAK_KEY",
                        "--queue",
                        &queue,
                        "--container",
                        &container,
                        "--platform",
                        "ONNX",
                        "--timeout",
                        "20",
                        "--format",
                        format,
                        "--record",
                        record.to_str().unwrap(),
                        "--output",
                        report.to_str().unwrap(),
                    ])
                    .env("CVNOTIFY_LEAK_KEY", TRAINING_KEY)
                    .output()
                    .unwrap();
                (format, out, record, report)
            })
        })
        .collect();
    let outcomes: Vec<_> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    sim.kill().unwrap();
    let sim_out = sim.wait_with_output().unwrap();
    for (format, out, record, report) in outcomes {
        assert_eq!(
            out.status.code(),
            Some(0),
            "check --format {format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (what, bytes) in [
            ("stdout", out.stdout.clone()),
            ("stderr", out.stderr.clone()),
            ("recording", std::fs::read(&record).unwrap()),
            ("report", std::fs::read(&report).unwrap()),
        ] {
            assert_clean(&format!("check --format {format} {what}"), &bytes);
            assert!(
                !String::from_utf8_lossy(&bytes).contains(TRAINING_KEY),
                "check --format {format} {what} leaked the training key"
            );
        }
    }
    for bytes in [first.as_bytes(), &sim_out.stderr] {
        assert!(!String::from_utf8_lossy(bytes).contains(TRAINING_KEY));
    }
}
