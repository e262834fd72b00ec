//! What the README and the guides in docs/ promise and no test held before (issue 12's list of untested claims): each
//! test names the claim it holds.

use std::process::{Command, Stdio};
use std::time::Duration;

use cvnotify_harness::storage::{Queue, Resource, RetryPolicy};

use crate::support::{Simulate, cvnotify_env, repo_root, temp_dir};

const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn cvnotify(args: &[&str]) -> std::process::Output {
    cvnotify_env(args, &[])
}

fn session(name: &str) -> String {
    repo_root()
        .join("corpus/sessions")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn put(url: &str, texts: &[&str]) {
    runtime().block_on(async {
        let q = Queue::new(Resource::new(url, None, RetryPolicy::NONE).unwrap());
        q.create().await.unwrap();
        for t in texts {
            q.put(t, Duration::ZERO, None).await.unwrap();
        }
    });
}

fn connection_test() -> String {
    format!(r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{P}"}}}}"#)
}

/// README, watch: "Put Message does not [retry]: a put retried after a lost answer would post
/// the message twice".
#[test]
fn put_message_is_sent_once_whatever_the_answer() {
    runtime().block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(wiremock::ResponseTemplate::new(503).insert_header("retry-after", "0"))
            .expect(1)
            .mount(&server)
            .await;
        let q = Queue::new(
            Resource::new(
                &format!("{}/devstoreaccount1/q", server.uri()),
                None,
                RetryPolicy::default(),
            )
            .unwrap(),
        );
        assert!(q.put("x", Duration::ZERO, None).await.is_err());
        // The mock's expect(1) is verified on drop.
    });
}

/// README, replay: colour only on a terminal, and never with `--no-color` or a non-empty
/// `NO_COLOR`; the progress bar only on a terminal.
#[test]
fn colour_and_the_progress_bar_only_on_a_terminal() {
    let file = session("n_connection_test_missing.jsonl");
    let on_tty = |extra: &str, env: &[(&str, &str)]| {
        // `script` gives the command a terminal.
        let out = Command::new("script")
            .args([
                "-qec",
                &format!("{} replay {extra} {file}", env!("CARGO_BIN_EXE_cvnotify")),
                "/dev/null",
            ])
            // A terminal that takes colour (the colour choice reads `TERM`, as anstream does).
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE")
            // anstream colours a terminal under CI whatever TERM says; CI sets CI.
            .env_remove("CI")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // The verdict FAIL is bold red; the progress bar (on stderr, the same terminal here) clears
    // its line with ESC [2K.
    let red = "\u{1b}[31";
    let tty = on_tty("", &[]);
    assert!(tty.contains(red), "no colour on a terminal: {tty:?}");
    assert!(tty.contains("\u{1b}[2K"), "no progress bar on a terminal");
    assert!(!on_tty("--no-color", &[]).contains(red));
    assert!(!on_tty("", &[("NO_COLOR", "1")]).contains(red));
    assert!(!on_tty("", &[("CLICOLOR", "0")]).contains(red));
    assert!(!on_tty("", &[("TERM", "dumb")]).contains(red));
    // Under CI (`CI` set) a terminal is coloured even when TERM says it cannot be.
    assert!(on_tty("", &[("TERM", "dumb"), ("CI", "true")]).contains(red));
    // Off a terminal: no colour, and nothing on stderr (no progress bar).
    let out = cvnotify(&["replay", &file]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\u{1b}["));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// README, replay: `--select`/`--exclude` take finding codes, deviation codes,
/// `message-rejected`, `unreadable-line` and `secret-in-recording` (and the run checks); a
/// waived check is still reported, marked waived.
#[test]
fn every_kind_of_check_can_be_waived_and_is_still_reported() {
    for (file, code) in [
        ("n_connection_test_missing.jsonl", "connection-test-missing"),
        ("i_message_with_deviation.jsonl", "key-case"),
        ("n_secret_in_recording.jsonl", "secret-in-recording"),
        ("n_run_without_end.jsonl", "run-incomplete"),
        ("n_nothing_judged.jsonl", "nothing-judged"),
        ("n_training_api_unavailable.jsonl", "api-unavailable"),
    ] {
        let file = session(file);
        let out = cvnotify(&[
            "replay",
            "--strict",
            "--exclude",
            code,
            "--format",
            "json",
            &file,
        ]);
        assert_eq!(out.status.code(), Some(0), "--exclude {code}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(code) && text.contains("\"waived\": true"),
            "{code}: {text}"
        );
    }
    let file = session("n_unreadable_and_rejected_lines.jsonl");
    let out = cvnotify(&[
        "replay",
        "--exclude",
        "unreadable-line,message-rejected",
        &file,
    ]);
    assert_eq!(out.status.code(), Some(0));
    // --select keeps only what it names.
    let file = session("n_backup_blob_missing.jsonl");
    assert_eq!(
        cvnotify(&["replay", "--select", "duplicate-delivery", &file])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        cvnotify(&["replay", "--select", "backup-blob-missing", &file])
            .status
            .code(),
        Some(1)
    );
}

/// README, watch and check: `--strict` makes NON-STRICT fail.
#[test]
fn strict_live_sessions_fail_on_warnings_and_deviations() {
    let sim = Simulate::start(&[]);
    let url = sim.get("queueUrl").to_string();
    let deviating =
        format!(r#"{{"version":"1.0","type":"ConnectionTest","content":{{"projectId":"{P}"}}}}"#);
    for (strict, expected) in [(false, 0), (true, 1)] {
        put(&url, &[&deviating]);
        let mut args = vec!["watch", "--queue", &url, "--drain"];
        if strict {
            args.push("--strict");
        }
        assert_eq!(
            cvnotify(&args).status.code(),
            Some(expected),
            "watch --strict {strict}"
        );
    }
    // A backup blob nobody announced is a warning.
    for (strict, expected) in [(false, 0), (true, 1)] {
        let mut args = vec!["check", "--faults", "drop-export-notification"];
        if strict {
            args.push("--strict");
        }
        assert_eq!(
            cvnotify(&args).status.code(),
            Some(expected),
            "check --strict {strict}"
        );
    }
}

/// README, check: against a real endpoint, check waits up to `--timeout` per step; a wait that
/// runs out makes the run incomplete (it cannot pass: the deadline that would make the absence
/// a finding was not reached).
#[test]
fn a_check_whose_wait_runs_out_is_incomplete() {
    let sim = Simulate::start(&["--faults", "skip-connection-test"]);
    let key = sim.get("trainingKey").to_string();
    let out = cvnotify_env(
        &[
            "check",
            "--training-endpoint",
            sim.get("trainingEndpoint"),
            "--training-key-env",
            "CVNOTIFY_TEST_KEY",
            "--queue",
            sim.get("queueUrl"),
            "--container",
            sim.get("containerUrl"),
            "--timeout",
            "1",
            "--format",
            "json",
        ],
        &[("CVNOTIFY_TEST_KEY", &key)],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("run-incomplete"), "{text}");
    assert!(
        text.contains("the ConnectionTest did not arrive within 1 s"),
        "{text}"
    );
}

/// README, watch: "Plain `http` is refused unless the host is loopback or `--emulator` is
/// given"; `--container` lists the backup container each cycle.
#[test]
fn plain_http_elsewhere_needs_emulator_and_the_container_is_listed() {
    let out = cvnotify(&[
        "watch",
        "--queue",
        "http://azurite.invalid:10001/devstoreaccount1/q",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain http is refused"));
    let out = cvnotify(&[
        "watch",
        "--emulator",
        "--queue",
        "http://azurite.invalid:10001/devstoreaccount1/q",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("plain http is refused"));
    let sim = Simulate::start(&[]);
    let (queue, container) = (
        sim.get("queueUrl").to_string(),
        sim.get("containerUrl").to_string(),
    );
    put(&queue, &[&connection_test()]);
    runtime().block_on(async {
        let c = cvnotify_harness::storage::Container::new(
            Resource::new(&container, None, RetryPolicy::NONE).unwrap(),
        );
        c.put(
            &format!("{P} - 1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b.ONNX"),
            "model".into(),
        )
        .await
        .unwrap();
    });
    let dir = temp_dir("container");
    let recording = dir.join("r.jsonl");
    let out = cvnotify(&[
        "watch",
        "--queue",
        &queue,
        "--container",
        &container,
        "--drain",
        "--record",
        recording.to_str().unwrap(),
    ]);
    // The blob was never announced: a warning, so a pass that is not strict.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&recording).unwrap();
    assert!(
        text.contains("\"kind\":\"blob\"") && text.contains(".ONNX"),
        "{text}"
    );
}

/// README, watch: each message is "recorded, flushed, and only then deleted": a watcher killed
/// before its delete leaves the message both in the recording and on the queue.
#[test]
fn a_message_is_on_the_recording_before_it_leaves_the_queue() {
    // The test's create and put are requests 1 and 2; watch creates the poison queue (3),
    // receives (4), and deletes (5), which hangs for 5 s.
    let sim = Simulate::start(&["--faults", "queue#5=delay:5000"]);
    let url = sim.get("queueUrl").to_string();
    put(&url, &[&connection_test()]);
    let dir = temp_dir("order");
    let recording = dir.join("r.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(["watch", "--queue", &url, "--record"])
        .arg(&recording)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // The delete has reached the queue (its answer is what hangs)...
    let left = runtime().block_on(async {
        Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap())
            .approximate_count()
            .await
            .unwrap()
    });
    assert_eq!(left, 0, "the delete was not sent");
    // ...and the watcher dies before it hears back: the message is on the recording already.
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&recording).unwrap();
    assert!(
        text.contains("\"kind\":\"message\""),
        "not recorded before the delete: {text}"
    );
}

/// README, watch: it polls "at once while messages come, then backing off with jitter up to
/// `--max-interval` seconds": an idle watcher polls a few times a second at most.
#[test]
fn an_idle_watcher_backs_off_to_its_maximum_interval() {
    let sim = Simulate::start(&[]);
    let url = sim.get("queueUrl").to_string();
    let dir = temp_dir("backoff");
    let recording = dir.join("r.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            "watch",
            "--queue",
            &url,
            "--max-interval",
            "0.5",
            "--record",
        ])
        .arg(&recording)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    // One tick a poll of the empty queue: 0.1 s, doubling (with up to 25 % jitter) to 0.5 s.
    let polls = std::fs::read_to_string(&recording)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"kind\":\"tick\""))
        .count();
    assert!((6..=16).contains(&polls), "{polls} polls in 4 s");
}

/// README, watch: "up to 16 deletes in flight": twenty deletes that each take 300 ms end in well
/// under the six seconds they would take one after another.
#[test]
fn deletes_go_out_sixteen_at_a_time() {
    // The test's create is request 1 and its puts 2 to 21; watch creates the poison queue (22),
    // receives (23), and deletes (24 to 43).
    let sim = Simulate::start(&["--faults", "queue#24-43=delay:300"]);
    let url = sim.get("queueUrl").to_string();
    let texts: Vec<String> = (0..20).map(|_| connection_test()).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    put(&url, &texts);
    let started = std::time::Instant::now();
    let out = cvnotify(&["watch", "--queue", &url, "--drain", "--max-interval", "0.1"]);
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(3),
        "20 slow deletes took {took:?}"
    );
}

/// README, simulate: `POST /admin/deliver` puts a raw message on the queue as the service does
/// (journaled as delivered, not as a client's request), and refuses what it cannot take.
#[test]
fn admin_deliver_puts_a_raw_message_as_the_service_does() {
    let sim = Simulate::start(&[]);
    let api = sim.get("trainingEndpoint").to_string();
    let url = sim.get("queueUrl").to_string();
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let deliver = |query: &str, body: Vec<u8>| {
            http.post(format!("{api}/admin/deliver{query}"))
                .body(body)
                .send()
        };
        let status = |r: reqwest::Response| r.status().as_u16();
        assert_eq!(
            status(
                deliver("?queue=notifications", b"raw text".to_vec())
                    .await
                    .unwrap()
            ),
            201
        );
        assert_eq!(
            status(
                deliver("?queue=notifications&base64=true", b"{}".to_vec())
                    .await
                    .unwrap()
            ),
            201
        );
        assert_eq!(status(deliver("", b"x".to_vec()).await.unwrap()), 400);
        assert_eq!(
            status(deliver("?queue=nosuch", b"x".to_vec()).await.unwrap()),
            404
        );
        assert_eq!(
            status(
                deliver("?queue=notifications", vec![0xff, 0xfe])
                    .await
                    .unwrap()
            ),
            400
        );
        assert_eq!(
            status(
                deliver("?queue=notifications", vec![b'a'; 64 * 1024 + 1])
                    .await
                    .unwrap()
            ),
            413
        );
        let queue = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        let mut texts: Vec<String> = queue
            .receive(32, Duration::from_secs(30))
            .await
            .unwrap()
            .into_iter()
            .filter_map(|m| m.message_text)
            .collect();
        texts.sort();
        assert_eq!(texts, vec!["e30=".to_string(), "raw text".to_string()]);
        // Journaled as deliveries, not as requests of a client.
        let journal = http
            .get(format!("{api}/admin/journal"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let kinds: Vec<String> = journal
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].to_string())
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| k.contains("delivered")).count(),
            2,
            "{journal}"
        );
    });
}
