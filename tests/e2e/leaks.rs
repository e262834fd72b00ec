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
        // The most verbose logging: every HTTP call is logged, and still no secret.
        .arg("-vvv")
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
    for format in ["human", "json", "junit", "html", "jsonl"] {
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

/// `check` against a real-endpoint configuration (here `simulate`, standing in for Azure, for a
/// storage account whose key is a canary) with a canary Training-Key: half the runs reach
/// storage with a SAS signed by that key (its signature a canary too), half with the key
/// itself. Nothing `check` or `simulate` writes holds a canary, in any report format, live
/// line or recording.
#[test]
fn check_and_simulate_write_no_secret() {
    use cvnotify_harness::storage::AccountKey;
    use std::io::BufRead as _;
    const TRAINING_KEY: &str = "CANARYtrainingkey000000000000000";
    const ACCOUNT: &str = "canaryaccount";
    let key_text = base64::engine::general_purpose::STANDARD
        .encode(b"CANARY account key of the leak test, sixty-four bytes long......");
    let key = AccountKey::from_base64(&key_text).unwrap();
    let sas = cvnotify_harness::sim::account_sas(ACCOUNT, &key);
    let sig = sas.split("sig=").nth(1).unwrap().to_string();
    let sig_plain: String = url::form_urlencoded::parse(format!("s={sig}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let canaries = [
        TRAINING_KEY.to_string(),
        key_text.clone(),
        sig.clone(),
        sig_plain.clone(),
    ];
    let clean = |what: &str, bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        for canary in &canaries {
            assert!(
                !text.contains(canary.as_str()),
                "{what} leaked {canary}:\n{text}"
            );
        }
    };
    let mut sim = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            "-vvv",
            "simulate",
            "--training-key-env",
            "CVNOTIFY_LEAK_KEY",
            "--account",
            ACCOUNT,
            "--account-key-env",
            "CVNOTIFY_LEAK_ACCOUNT_KEY",
            "--training-seconds",
            "1",
            "--export-seconds",
            "0",
        ])
        .env("CVNOTIFY_LEAK_KEY", TRAINING_KEY)
        .env("CVNOTIFY_LEAK_ACCOUNT_KEY", &key_text)
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
    // a user would beforehand.
    let base = endpoints["trainingEndpoint"].as_str().unwrap().to_string();
    let (queues, blobs) = (
        endpoints["queueEndpoint"].as_str().unwrap().to_string(),
        endpoints["blobEndpoint"].as_str().unwrap().to_string(),
    );
    let formats = ["human", "json", "junit", "html", "jsonl"];
    let queue_url = |format: &str| format!("{queues}/leak-q-{format}");
    let container_url = |format: &str| format!("{blobs}/leak-c-{format}");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use cvnotify_harness::storage::{Container, Queue, Resource, RetryPolicy};
            for format in formats {
                let r = |url: String| {
                    Resource::new(&format!("{url}?{sas}"), None, RetryPolicy::NONE).unwrap()
                };
                Queue::new(r(queue_url(format))).create().await.unwrap();
                Container::new(r(container_url(format)))
                    .create()
                    .await
                    .unwrap();
            }
        });
    let runs: Vec<_> = formats
        .into_iter()
        .enumerate()
        .map(|(n, format)| {
            // Even runs with a SAS, odd ones with the account key.
            let with_key = n % 2 == 1;
            let (queue, container) = if with_key {
                (queue_url(format), container_url(format))
            } else {
                (
                    format!("{}?{sas}", queue_url(format)),
                    format!("{}?{sas}", container_url(format)),
                )
            };
            let (base, record, report, key_text) = (
                base.clone(),
                dir.join(format!("{format}.jsonl")),
                dir.join(format!("report.{format}")),
                key_text.clone(),
            );
            std::thread::spawn(move || {
                let mut args = vec![
                    "-vvv".to_string(),
                    "check".to_string(),
                    "--training-endpoint".into(),
                    base,
                    "--training-key-env".into(),
                    "CVNOTIFY_LEAK_KEY".into(),
                    "--queue".into(),
                    queue,
                    "--container".into(),
                    container,
                    "--platform".into(),
                    "ONNX".into(),
                    "--timeout".into(),
                    "20".into(),
                    "--format".into(),
                    format.into(),
                    "--record".into(),
                    record.to_str().unwrap().into(),
                    "--output".into(),
                    report.to_str().unwrap().into(),
                ];
                if with_key {
                    args.extend([
                        "--account-key-env".into(),
                        "CVNOTIFY_LEAK_ACCOUNT_KEY".into(),
                    ]);
                }
                let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
                    .args(&args)
                    .env("CVNOTIFY_LEAK_KEY", TRAINING_KEY)
                    .env("CVNOTIFY_LEAK_ACCOUNT_KEY", key_text)
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
            clean(&format!("check --format {format} {what}"), &bytes);
        }
    }
    clean("simulate stdout", first.as_bytes());
    clean("simulate stderr", &sim_out.stderr);
}

/// `verify` with a client that prints its whole environment (the storage SAS, the connection
/// string with the account key, the training key) and fails: the finding quotes its stderr,
/// and neither that nor the journal nor any report format holds one of those secrets.
#[test]
fn verify_writes_no_secret_a_client_prints() {
    let dir = std::env::temp_dir().join(format!("cvnotify-leak-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("leaky.sh");
    std::fs::write(&script, "#!/bin/sh\nenv >&2\nexit 4\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sas_sig = cvnotify_harness::sim::dev_account_sas();
    let sig = sas_sig.split("sig=").nth(1).unwrap().to_string();
    let sig_plain: String = url::form_urlencoded::parse(format!("s={sig}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let secrets = [
        "cvnotify-verify-key-".to_string(),
        cvnotify_harness::sim::DEV_KEY.to_string(),
        sig,
        sig_plain,
    ];
    for format in ["human", "json", "junit", "html", "jsonl"] {
        let record = dir.join(format!("{format}.jsonl"));
        let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
            .args([
                "-vvv",
                "verify",
                "--scenario",
                "happy",
                "--format",
                format,
                "--record",
                record.to_str().unwrap(),
                "--",
                script.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(report.contains("client-failed"), "{format}: {report}");
        assert!(
            report.contains("REDACTED"),
            "{format}: the stderr is quoted, redacted"
        );
        for (what, text) in [
            ("report", report.to_string()),
            ("stderr", String::from_utf8_lossy(&out.stderr).to_string()),
            ("journal", std::fs::read_to_string(&record).unwrap()),
        ] {
            for s in &secrets {
                assert!(
                    !text.contains(s.as_str()),
                    "verify --format {format} {what} leaked {s}"
                );
            }
        }
    }
}
