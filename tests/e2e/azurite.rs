//! The storage client against a real Azure Storage emulator (Azurite 3.35.0, installed by
//! `npm ci` from the repository's package.json; `.ci/run` does it). Each test starts its own
//! in-memory queue and blob servers on free loopback ports and stops them when it ends.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cvnotify_harness::storage::{
    AccountKey, Container, Credentials, Queue, Resource, RetryPolicy, StorageError,
};

use crate::support::repo_root;

pub(crate) const ACCOUNT: &str = "devstoreaccount1";
pub(crate) const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// An account SAS for the development account, valid until 2099 (Azurite's documentation; `cvnotify_harness::sim::dev_account_sas` computes it).
pub(crate) const SAS: &str = "sv=2021-08-06&ss=bq&srt=sco&sp=rwdlacup&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig=1tmwxodjvXAEaYjPSDfgKvuIi8qNP7dj%2FNoQuCE3hXg%3D";

/// Azurite's queue and blob servers, stopped on drop.
pub(crate) struct Azurite {
    children: Vec<Child>,
    queue_port: u16,
    blob_port: u16,
    _dir: std::path::PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Azurite did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Azurite {
    pub(crate) fn start() -> Self {
        let bin = repo_root().join("node_modules/.bin");
        assert!(
            bin.join("azurite-queue").exists(),
            "Azurite is not installed: run `npm ci` at the repository root (.ci/run does)"
        );
        let dir = std::env::temp_dir().join(format!(
            "cvnotify-azurite-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (queue_port, blob_port) = (free_port(), free_port());
        let spawn = |server: &str, host_flag: &str, port_flag: &str, port: u16| {
            Command::new(bin.join(server))
                .args([host_flag, "127.0.0.1", port_flag, &port.to_string()])
                // In memory (it may not be combined with --location); debug log in our temp dir.
                .args(["--silent", "--disableTelemetry", "--inMemoryPersistence"])
                // The JS SDKs send a storage version newer than Azurite 3.35 knows.
                .arg("--skipApiVersionCheck")
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let children = vec![
            spawn("azurite-queue", "--queueHost", "--queuePort", queue_port),
            spawn("azurite-blob", "--blobHost", "--blobPort", blob_port),
        ];
        wait_for(queue_port);
        wait_for(blob_port);
        Self {
            children,
            queue_port,
            blob_port,
            _dir: dir,
        }
    }

    pub(crate) fn queue_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}/{name}", self.queue_port)
    }

    pub(crate) fn container_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}/{name}", self.blob_port)
    }

    /// The connection string the storage SDKs take.
    pub(crate) fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};\
             BlobEndpoint=http://127.0.0.1:{}/{ACCOUNT};QueueEndpoint=http://127.0.0.1:{}/{ACCOUNT};",
            self.blob_port, self.queue_port
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn shared_key() -> Option<Credentials> {
    Some(Credentials::SharedKey {
        account: ACCOUNT.into(),
        key: AccountKey::from_base64(KEY).unwrap(),
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";

fn notification() -> String {
    format!(r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{P}"}}}}"#)
}

#[test]
fn queue_operations_with_shared_key_and_with_sas_in_both_encodings() {
    let azurite = Azurite::start();
    runtime().block_on(async {
        for (name, creds, url_suffix) in [
            ("sharedkey", shared_key(), String::new()),
            ("sas", None, format!("?{SAS}")),
        ] {
            let resource = Resource::new(
                &format!("{}{url_suffix}", azurite.queue_url(name)),
                creds,
                RetryPolicy::NONE,
            )
            .unwrap();
            let queue = Queue::new(resource);
            queue.create().await.unwrap();
            queue.create().await.unwrap();
            let plain = notification();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&plain);
            // Characters that need XML escaping survive the round trip.
            let tricky = r#"{"version":"1.0","type":"X<&>","Content":{}}"#.to_string();
            // Whitespace and a carriage return around the JSON come back untouched.
            let spaced = format!(" \r\n\t{plain}\n ");
            for text in [&plain, &encoded, &tricky, &spaced] {
                let put = queue.put(text, Duration::ZERO, None).await.unwrap();
                assert!(put.pop_receipt.is_some());
            }
            let peeked = queue.peek(32).await.unwrap();
            assert_eq!(peeked.len(), 4);
            assert!(peeked.iter().all(|m| m.pop_receipt.is_none()));
            let got = queue.receive(32, Duration::from_secs(30)).await.unwrap();
            let texts: Vec<&str> = got
                .iter()
                .map(|m| m.message_text.as_deref().unwrap())
                .collect();
            assert_eq!(
                texts,
                [
                    plain.as_str(),
                    encoded.as_str(),
                    tricky.as_str(),
                    spaced.as_str()
                ],
                "{name}"
            );
            for m in &got {
                let parsed = cvnotify_core::parse(
                    m.message_text.as_deref().unwrap().as_bytes(),
                    cvnotify_core::ParseOptions::TOLERANT,
                )
                .unwrap();
                assert!(
                    parsed.notification.project_id().is_some()
                        || parsed.notification.kind().is_none()
                );
                assert_eq!(m.dequeue_count, Some(1));
                queue
                    .delete(&m.message_id, m.pop_receipt.as_deref().unwrap())
                    .await
                    .unwrap();
            }
            assert!(
                queue
                    .receive(32, Duration::from_secs(1))
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    });
}

#[test]
fn a_hidden_message_comes_back_with_a_higher_dequeue_count_and_moves_to_poison() {
    let azurite = Azurite::start();
    runtime().block_on(async {
        let queue = Queue::new(
            Resource::new(&azurite.queue_url("work"), shared_key(), RetryPolicy::NONE).unwrap(),
        );
        let poison = Queue::new(queue.resource().sibling("work-poison").unwrap());
        queue.create().await.unwrap();
        poison.create().await.unwrap();
        queue
            .put("not a notification", Duration::ZERO, None)
            .await
            .unwrap();
        let max_dequeue = 3;
        let mut seen = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let got = queue.receive(1, Duration::from_secs(1)).await.unwrap();
            let Some(m) = got.into_iter().next() else {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            };
            let count = m.dequeue_count.unwrap();
            seen.push(count);
            // Unparseable: left for redelivery, until the count reaches the maximum; then put on
            // the poison queue and deleted, never dropped.
            assert!(
                cvnotify_core::parse(
                    m.message_text.as_deref().unwrap().as_bytes(),
                    cvnotify_core::ParseOptions::TOLERANT
                )
                .is_err()
            );
            if count >= max_dequeue {
                poison
                    .put(m.message_text.as_deref().unwrap(), Duration::ZERO, Some(-1))
                    .await
                    .unwrap();
                queue
                    .delete(&m.message_id, m.pop_receipt.as_deref().unwrap())
                    .await
                    .unwrap();
                break;
            }
        }
        assert_eq!(seen, [1, 2, 3]);
        assert!(queue.peek(32).await.unwrap().is_empty());
        let moved = poison.peek(32).await.unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].message_text.as_deref(), Some("not a notification"));
    });
}

#[test]
fn stale_receipts_wrong_keys_and_missing_queues_are_typed_errors_without_secrets() {
    let azurite = Azurite::start();
    runtime().block_on(async {
        let queue = Queue::new(
            Resource::new(&azurite.queue_url("errs"), shared_key(), RetryPolicy::NONE).unwrap(),
        );
        queue.create().await.unwrap();
        queue.put("x", Duration::ZERO, None).await.unwrap();
        let m = queue
            .receive(1, Duration::from_secs(30))
            .await
            .unwrap()
            .remove(0);
        let receipt = m.pop_receipt.clone().unwrap();
        let renewed = queue
            .update_visibility(&m.message_id, &receipt, Duration::from_secs(30))
            .await
            .unwrap();
        assert_ne!(renewed, receipt);
        // The receipt an update replaced no longer matches; a deleted message is not found.
        let err = queue.delete(&m.message_id, &receipt).await.unwrap_err();
        assert_eq!(err.code(), Some("PopReceiptMismatch"), "{err}");
        queue.delete(&m.message_id, &renewed).await.unwrap();
        let err = queue.delete(&m.message_id, &renewed).await.unwrap_err();
        assert_eq!(err.code(), Some("MessageNotFound"), "{err}");

        let missing = Queue::new(
            Resource::new(
                &format!("{}?{SAS}", azurite.queue_url("nope")),
                None,
                RetryPolicy::NONE,
            )
            .unwrap(),
        );
        let err = missing.peek(1).await.unwrap_err();
        assert_eq!(err.code(), Some("QueueNotFound"));
        assert!(
            !err.to_string().contains("sig=") && !format!("{err:?}").contains("1tmwxodj"),
            "{err}"
        );

        let wrong = Credentials::SharedKey {
            account: ACCOUNT.into(),
            key: AccountKey::from_base64("Q0FOQVJZa2V5Q0FOQVJZa2V5").unwrap(),
        };
        let denied = Queue::new(
            Resource::new(&azurite.queue_url("errs"), Some(wrong), RetryPolicy::NONE).unwrap(),
        );
        let err = denied.peek(1).await.unwrap_err();
        assert!(
            matches!(err.cause(), StorageError::Status { status, .. } if status.as_u16() == 403),
            "{err}"
        );
        assert!(!format!("{err} {err:?}").contains("Q0FOQVJZ"));

        // Nothing listening: a transport error, after the retries the policy allows.
        let closed = free_port();
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        };
        let gone = Queue::new(
            Resource::new(
                &format!("http://127.0.0.1:{closed}/{ACCOUNT}/q?{SAS}"),
                None,
                policy,
            )
            .unwrap(),
        );
        let start = Instant::now();
        let err = gone.peek(1).await.unwrap_err();
        assert!(matches!(err.cause(), StorageError::Transport(_)), "{err}");
        assert!(
            err.to_string().starts_with("Peek Messages on queue "),
            "{err}"
        );
        assert!(
            start.elapsed() >= Duration::from_millis(60),
            "no retry waits: {:?}",
            start.elapsed()
        );
        assert!(!err.to_string().contains("1tmwxodj"), "{err}");
    });
}

#[test]
fn a_container_with_backup_names_that_contain_spaces_lists_in_pages() {
    let azurite = Azurite::start();
    runtime().block_on(async {
        let container = Container::new(
            Resource::new(
                &format!("{}?{SAS}", azurite.container_url("backups")),
                None,
                RetryPolicy::NONE,
            )
            .unwrap(),
        );
        container.create().await.unwrap();
        let i = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";
        let names: Vec<String> = ["ONNX", "CoreML", "TensorFlow"]
            .iter()
            .map(|p| format!("{P} - {i}.{p}"))
            .collect();
        for name in &names {
            container.put(name, "model".into()).await.unwrap();
        }
        container
            .put("CustomVision-TestPermission/probe", String::new())
            .await
            .unwrap();
        let backups = container.list_paged(P, Some(2)).await.unwrap();
        let mut listed: Vec<&str> = backups.iter().map(|b| b.name.as_str()).collect();
        listed.sort();
        let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(listed, expected);
        assert!(backups.iter().all(|b| b.size == Some(5)));
        for b in &backups {
            assert!(matches!(
                cvnotify_core::blob::classify_blob(&b.name),
                cvnotify_core::BlobKind::Backup(_)
            ));
        }
        assert_eq!(
            container
                .list("CustomVision-TestPermission/")
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(container.head(&names[0]).await.unwrap(), Some(5));
        assert_eq!(container.head("absent").await.unwrap(), None);
        assert_eq!(container.get(&names[1]).await.unwrap(), "model");
    });
}

fn cvnotify(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn watch_drains_a_queue_poisons_what_it_cannot_read_and_records_a_replayable_session() {
    let azurite = Azurite::start();
    let url = format!("{}?{SAS}", azurite.queue_url("notifications"));
    let i = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";
    let training = format!(
        r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{P}","iterationId":"{i}","trainingStatus":"TrainingCompleted"}}}}"#
    );
    let poison_url = format!("{}?{SAS}", azurite.queue_url("notifications-poison"));
    runtime().block_on(async {
        let queue = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        queue.create().await.unwrap();
        queue
            .put(&notification(), Duration::ZERO, None)
            .await
            .unwrap();
        queue
            .put(
                &base64::engine::general_purpose::STANDARD.encode(&training),
                Duration::ZERO,
                None,
            )
            .await
            .unwrap();
        queue.put("{not json", Duration::ZERO, None).await.unwrap();
    });
    let dir = std::env::temp_dir().join(format!("cvnotify-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("session.jsonl");
    let out = cvnotify(&[
        "watch",
        "--queue",
        &url,
        "--drain",
        "--max-dequeue",
        "2",
        "--visibility",
        "1",
        "--max-interval",
        "0.5",
        "--record",
        recording.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("left for redelivery") && stderr.contains("poison: message"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ConnectionTested") && stderr.contains("Trained"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("1tmwxodj") && !String::from_utf8_lossy(&out.stdout).contains("1tmwxodj")
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = &report["sessions"][0];
    assert_eq!(session["messages"]["accepted"], 2);
    assert_eq!(
        session["messages"]["rejected"], 1,
        "one unparseable message, handed out twice, is one message (issue 12)"
    );
    let rejected = session["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "message-rejected")
        .unwrap();
    assert_eq!(rejected["count"], 1);
    assert_eq!(session["projects"][0]["phase"], "Trained");
    runtime().block_on(async {
        let queue = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        assert_eq!(queue.approximate_count().await.unwrap(), 0);
        let poison = Queue::new(Resource::new(&poison_url, None, RetryPolicy::NONE).unwrap());
        let moved = poison.peek(32).await.unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].message_text.as_deref(), Some("{not json"));
    });
    // The recording replays to the same judgement.
    let replayed = cvnotify(&["replay", "--format", "json", recording.to_str().unwrap()]);
    let again: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(again["verdict"], report["verdict"]);
    assert_eq!(
        again["sessions"][0]["projects"][0]["history"],
        session["projects"][0]["history"]
    );
    assert!(
        !std::fs::read_to_string(&recording)
            .unwrap()
            .contains("1tmwxodj"),
        "the SAS entered the recording"
    );
}

#[test]
fn watch_peek_consumes_nothing_and_plain_http_elsewhere_is_refused() {
    let azurite = Azurite::start();
    let url = format!("{}?{SAS}", azurite.queue_url("peeked"));
    runtime().block_on(async {
        let queue = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        queue.create().await.unwrap();
        queue
            .put(&notification(), Duration::ZERO, None)
            .await
            .unwrap();
    });
    let out = cvnotify(&["watch", "--queue", &url, "--peek"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ConnectionTested"));
    runtime().block_on(async {
        let queue = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        assert_eq!(
            queue.peek(32).await.unwrap().len(),
            1,
            "peek consumed the message"
        );
    });
    // Shared Key from the environment: the account comes from the path-style URL; the key is
    // never printed, whatever the output.
    let keyed = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            // Every HTTP call logged, and still no secret.
            "-vvv",
            "watch",
            "--queue",
            &azurite.queue_url("peeked"),
            "--account-key-env",
            "CVNOTIFY_TEST_KEY",
            "--peek",
            "--format",
            "json",
        ])
        .env("CVNOTIFY_TEST_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(
        keyed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&keyed.stderr)
    );
    for stream in [&keyed.stdout, &keyed.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(&KEY[..20]),
            "the account key leaked"
        );
    }
    let refused = cvnotify(&["watch", "--queue", "http://queue.example.net/q", "--drain"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("plain http is refused"));
}

#[test]
fn watch_cross_checks_notifications_with_the_training_api_and_the_recording_replays_the_same() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let azurite = Azurite::start();
    let url = format!("{}?{SAS}", azurite.queue_url("crosschecked"));
    let (i1, i2) = (
        "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
        "2b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
    );
    let training = |i: &str| {
        format!(
            r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{P}","iterationId":"{i}","trainingStatus":"TrainingCompleted"}}}}"#
        )
    };
    let export = format!(
        r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{i1}","exportStatus":"ExportCompleted","modelUri":"https://a.blob.core.windows.net/b/{P}%20-%20{i1}.ONNX"}}}}"#
    );
    // The mock API runs on its own runtime's worker threads while the watcher runs.
    let api_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let api = api_runtime.block_on(async {
        let api = MockServer::start().await;
        let base = format!("/customvision/v3.3/training/projects/{P}/iterations");
        // Iteration 1 agrees with its notification; iteration 2 says Failed.
        for (i, status) in [(i1, "Completed"), (i2, "Failed")] {
            Mock::given(method("GET"))
                .and(path(format!("{base}/{i}")))
                .and(header("Training-Key", "TRAININGKEYCANARY"))
                .respond_with(ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({"id": i, "name": "it", "status": status, "projectId": P}),
                ))
                .expect(1)
                .mount(&api)
                .await;
        }
        // GetExports says ONNX failed, while the notification says it completed.
        Mock::given(method("GET"))
            .and(path(format!("{base}/{i1}/export")))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
                {"platform": "ONNX", "status": "Failed", "downloadUri": null}])))
            .expect(1)
            .mount(&api)
            .await;
        api
    });
    runtime().block_on(async {
        let queue = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        queue.create().await.unwrap();
        for text in [notification(), training(i1), training(i2), export.clone()] {
            queue.put(&text, Duration::ZERO, None).await.unwrap();
        }
    });
    let dir = std::env::temp_dir().join(format!("cvnotify-cross-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("session.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            // Every HTTP call logged (the training API's too), and still no key or SAS.
            "-vvv",
            "watch",
            "--queue",
            &url,
            "--drain",
            "--max-interval",
            "0.5",
            "--training-endpoint",
            &api.uri(),
            "--training-key-env",
            "CVNOTIFY_TEST_TRAINING_KEY",
            "--record",
            recording.to_str().unwrap(),
            "--format",
            "json",
        ])
        .env("CVNOTIFY_TEST_TRAINING_KEY", "TRAININGKEYCANARY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sessions"][0]["messages"]["accepted"], 4, "{stderr}");
    let codes: Vec<&str> = report["sessions"][0]["projects"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == "training-contradicts-polling")
            .count(),
        1,
        "only iteration 2 contradicts: {codes:?}"
    );
    assert!(codes.contains(&"export-contradicts-polling"), "{codes:?}");
    // Polling is not the whole training API: nothing that needs the project's own calls.
    assert!(
        !codes
            .iter()
            .any(|c| *c == "unconfigured-project" || *c == "training-not-requested"),
        "{codes:?}"
    );
    let recorded = std::fs::read_to_string(&recording).unwrap();
    assert!(
        recorded.contains(r#""sources":["queue","polling"]"#),
        "{recorded}"
    );
    assert_eq!(recorded.matches(r#""kind":"api""#).count(), 3, "{recorded}");
    assert!(
        stderr.contains("training API") && stderr.contains("status"),
        "{stderr}"
    );
    for text in [
        &recorded,
        &stderr.to_string(),
        &String::from_utf8_lossy(&out.stdout).to_string(),
    ] {
        assert!(!text.contains("TRAININGKEYCANARY"));
        assert!(!text.contains("sig=1tmw"), "the SAS signature leaked");
    }
    let replayed = cvnotify(&["replay", "--format", "json", recording.to_str().unwrap()]);
    let again: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(
        again["sessions"][0]["projects"][0]["findings"],
        report["sessions"][0]["projects"][0]["findings"]
    );
    drop(api);
    drop(api_runtime);
}
