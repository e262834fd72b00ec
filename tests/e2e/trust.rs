//! Verdicts you can trust (issue 12): each test here is named after a way the previous main lost
//! evidence, crashed, or passed what it had not judged, and fails on that main.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cvnotify_harness::storage::{Queue, Resource, RetryPolicy};

use crate::support::{Simulate, cvnotify_env, free_ports, temp_dir};

const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
const I: &str = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn cvnotify(args: &[&str]) -> std::process::Output {
    cvnotify_env(args, &[])
}

fn connection_test() -> String {
    format!(r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{P}"}}}}"#)
}

fn training() -> String {
    format!(
        r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{P}","iterationId":"{I}","trainingStatus":"TrainingCompleted"}}}}"#
    )
}

fn queue(url: &str) -> Queue {
    Queue::new(Resource::new(url, None, RetryPolicy::NONE).unwrap())
}

fn put(url: &str, texts: &[String]) {
    runtime().block_on(async {
        let q = queue(url);
        q.create().await.unwrap();
        for t in texts {
            q.put(t, Duration::ZERO, None).await.unwrap();
        }
    });
}

fn count(url: &str) -> u64 {
    runtime().block_on(async { queue(url).approximate_count().await.unwrap() })
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn check_codes(session: &serde_json::Value) -> Vec<String> {
    session["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Previously `watch --record FILE` truncated FILE, so a watch restarted after a crash destroyed
/// the first run's evidence. Now the second run is appended, numbered on from the first.
#[test]
fn a_restarted_watch_appends_to_its_recording_instead_of_truncating_it() {
    let sim = Simulate::start(&[]);
    let url = sim.get("queueUrl").to_string();
    let dir = temp_dir("append");
    let recording = dir.join("r.jsonl");
    let record = recording.to_str().unwrap();
    put(&url, &[connection_test()]);
    let first = cvnotify(&["watch", "--queue", &url, "--drain", "--record", record]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    // A crash leaves a line cut short: it stays a line of its own.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&recording)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"kind\":\"tick\""))
        .unwrap();
    put(&url, &[training()]);
    let second = cvnotify(&[
        "watch", "--queue", &url, "--drain", "--record", record, "--format", "json",
    ]);
    let live = json(&second);
    let text = std::fs::read_to_string(&recording).unwrap();
    let kinds: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).map_or("unreadable".to_string(), |v| {
                v["kind"].as_str().unwrap().to_string()
            })
        })
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "session").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| *k == "message").count(), 2);
    assert!(kinds.contains(&"unreadable".to_string()));
    // The live report numbers its evidence as the file does.
    let history = &live["sessions"][0]["projects"][0]["history"];
    let line = history[history.as_array().unwrap().len() - 1]["line"]
        .as_u64()
        .unwrap();
    assert_eq!(kinds[line as usize - 1], "message");
    // Replay judges both runs: both messages, and the line the crash cut.
    let replayed = json(&cvnotify(&["replay", "--format", "json", record]));
    let session = &replayed["sessions"][0];
    assert_eq!(session["messages"]["accepted"], 2);
    assert!(check_codes(session).contains(&"unreadable-line".to_string()));
}

/// Previously `-o` could point at the recording (the report overwrote the evidence) and
/// `replay X -o X` overwrote its own input.
#[test]
fn the_report_never_overwrites_a_recording() {
    let dir = temp_dir("overwrite");
    let recording = dir.join("r.jsonl");
    std::fs::write(
        &recording,
        "{\"kind\":\"session\",\"version\":1,\"sources\":[\"queue\"]}\n",
    )
    .unwrap();
    let before = std::fs::read(&recording).unwrap();
    let r = recording.to_str().unwrap();
    let out = cvnotify(&["replay", r, "-o", r]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("would overwrite its input"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&recording).unwrap(), before);
    // Another spelling of the same path is the same file.
    let other = format!("{}/./r.jsonl", dir.display());
    assert_eq!(
        cvnotify(&["replay", r, "--output", &other]).status.code(),
        Some(2)
    );
    let out = cvnotify(&["check", "--record", r, "-o", &other]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("would overwrite the evidence"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&recording).unwrap(), before);
    // A report path that cannot be written fails before the run, not after it.
    let started = Instant::now();
    let out = cvnotify(&["check", "-o", "/nonexistent-dir/report.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent-dir/report.json"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Previously a failing recording made `watch` put the same malformed message on
/// `<queue>-poison` again on every run while saying "moved to ...-poison". Now nothing leaves
/// the queue that was not first recorded.
#[test]
fn a_failing_recording_poisons_nothing_and_says_nothing_moved() {
    let sim = Simulate::start(&[]);
    let url = sim.get("queueUrl").to_string();
    let poison = url.replacen("/notifications?", "/notifications-poison?", 1);
    put(&url, &["{not json".to_string()]);
    for _ in 0..3 {
        let out = cvnotify(&[
            "watch",
            "--queue",
            &url,
            "--drain",
            "--max-dequeue",
            "1",
            "--visibility",
            "1",
            "--record",
            "/dev/full",
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(!stderr(&out).contains("moved to"), "{}", stderr(&out));
        assert!(stderr(&out).contains("recording"), "{}", stderr(&out));
        // The report is written all the same.
        assert_eq!(json(&out)["verdict"], "FAIL");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count(&poison), 0, "a copy reached the poison queue");
    assert_eq!(count(&url), 1, "the original left the queue");
}

/// Previously `--max-interval inf` panicked (float to Duration); every numeric flag is now
/// range-checked with the range in the error.
#[test]
fn numeric_flags_out_of_range_are_refused_with_their_range() {
    let url = "http://127.0.0.1:9/devstoreaccount1/q";
    for (flag, value) in [
        ("--max-interval", "inf"),
        ("--max-interval", "1e20"),
        ("--max-interval", "NaN"),
        ("--max-interval", "0"),
        ("--visibility", "0"),
        ("--visibility", "604801"),
        ("--max-dequeue", "0"),
    ] {
        let out = cvnotify(&["watch", "--queue", url, flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{flag} {value}: {err}");
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
    let out = cvnotify(&[
        "check",
        "--training-endpoint",
        "https://x",
        "--timeout",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("panicked"));
}

/// Previously `replay` of an empty file and `watch --drain` on an empty queue passed: a run
/// that judged nothing is not a pass, unless the user says an empty run is expected.
#[test]
fn a_run_that_judged_nothing_is_not_a_pass() {
    let dir = temp_dir("empty");
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    for file in [empty.to_str().unwrap(), "/dev/null"] {
        for strict in [false, true] {
            let mut args = vec!["replay", file];
            if strict {
                args.push("--strict");
            }
            let out = cvnotify(&args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(String::from_utf8_lossy(&out.stdout).contains("nothing-judged"));
        }
    }
    assert_eq!(
        cvnotify(&["replay", "/dev/null", "--exclude", "nothing-judged"])
            .status
            .code(),
        Some(0)
    );
    let sim = Simulate::start(&[]);
    let url = sim.get("queueUrl");
    let out = cvnotify(&["watch", "--queue", url, "--drain"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Gates that know what must arrive.
    put(url, &[connection_test()]);
    let out = cvnotify(&[
        "watch",
        "--queue",
        url,
        "--drain",
        "--expect-messages",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert!(check_codes(&report["sessions"][0]).contains(&"expectation-unmet".to_string()));
    let corpus = crate::support::repo_root().join("corpus/sessions/y_happy_path.jsonl");
    let corpus = corpus.to_str().unwrap();
    assert_eq!(
        cvnotify(&["replay", corpus, "--expect-projects", "1"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        cvnotify(&["replay", corpus, "--expect-projects", "2"])
            .status
            .code(),
        Some(1)
    );
}

/// Previously `check --queue URL` (and `--container`, `--account-key-env`, `--timeout`) without
/// `--training-endpoint` ran the embedded simulation and passed, ignoring them.
#[test]
fn flags_that_need_a_real_endpoint_are_refused_without_one() {
    for args in [
        &["check", "--queue", "https://a.queue.core.windows.net/q"][..],
        &["check", "--container", "https://a.blob.core.windows.net/c"],
        &["check", "--account-key-env", "KEY"],
        &["check", "--timeout", "5"],
        &["check", "--training-key-env", "KEY"],
    ] {
        let out = cvnotify(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("--training-endpoint"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = cvnotify(&[
        "check",
        "--training-endpoint",
        "https://x",
        "--training-key-env",
        "K",
        "--queue",
        "https://q",
        "--container",
        "https://c",
        "--encoding",
        "base64",
    ]);
    assert_eq!(out.status.code(), Some(2), "--encoding is the simulation's");
}

/// Previously a check that could not finish (a 503 on TrainProject, the fifth API request) exited 2 without a report,
/// the failed call was not in the recording, and the recording replayed as PASS.
#[test]
fn a_check_that_cannot_finish_writes_its_report_and_never_replays_as_pass() {
    let dir = temp_dir("aborted");
    let (recording, junit) = (dir.join("r.jsonl"), dir.join("report.xml"));
    let out = cvnotify(&[
        "check",
        "--faults",
        "api#5=503",
        "--record",
        recording.to_str().unwrap(),
        "--format",
        "junit",
        "-o",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("api-unavailable") && xml.contains("<failure"),
        "{xml}"
    );
    let text = std::fs::read_to_string(&recording).unwrap();
    assert!(
        text.contains("\"operation\":\"TrainProject\",") && text.contains("\"httpStatus\":503")
    );
    assert!(text.contains("\"outcome\":\"aborted\""));
    let replayed = cvnotify(&["replay", recording.to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&replayed.stdout).contains("verdict: FAIL"));
}

/// Previously every HTTP fault exited 2, so "a refused call exits 1" could not be reached; a
/// fault can now be the service's documented refusal.
#[test]
fn a_refused_call_ends_the_check_with_exit_1_and_is_judged() {
    let out = cvnotify(&[
        "check",
        "--faults",
        "api#5=error:BadRequestTrainingNotNeeded",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let session = &report["sessions"][0];
    assert!(check_codes(session).contains(&"run-incomplete".to_string()));
    let findings = session["projects"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["code"] == "api-rejected"));
}

/// Previously `check` could not be run twice on one container: the second run saw the first
/// run's backup blobs and failed with `unconfigured-project`. A check judges what it created.
#[test]
fn check_runs_twice_on_one_container_and_passes_both_times() {
    let sim = Simulate::start(&[]);
    let key = sim.get("trainingKey").to_string();
    for run in 0..2 {
        let out = cvnotify_env(
            &[
                "check",
                "--training-endpoint",
                sim.get("trainingEndpoint"),
                "--training-key-env",
                "CVNOTIFY_TEST_TRAINING_KEY",
                "--queue",
                sim.get("queueUrl"),
                "--container",
                sim.get("containerUrl"),
                "--timeout",
                "30",
                "--format",
                "json",
            ],
            &[("CVNOTIFY_TEST_TRAINING_KEY", &key)],
        );
        assert_eq!(out.status.code(), Some(0), "run {run}: {}", stderr(&out));
        let report = json(&out);
        let session = &report["sessions"][0];
        assert_eq!(
            session["projects"].as_array().unwrap().len(),
            1,
            "run {run}"
        );
        if run == 1 {
            assert!(check_codes(session).contains(&"foreign-project".to_string()));
        }
    }
}

/// Previously `watch --training-endpoint` with a wrong key passed: the 401s were only live lines
/// and the report claimed the polling source.
#[test]
fn a_training_api_that_refuses_the_key_fails_the_watch_and_is_not_claimed() {
    let sim = Simulate::start(&[]);
    let url = sim.get("queueUrl").to_string();
    put(&url, &[connection_test(), training()]);
    let out = cvnotify_env(
        &[
            "watch",
            "--queue",
            &url,
            "--drain",
            "--training-endpoint",
            sim.get("trainingEndpoint"),
            "--training-key-env",
            "CVNOTIFY_TEST_WRONG_KEY",
            "--format",
            "json",
        ],
        &[("CVNOTIFY_TEST_WRONG_KEY", "not-the-key")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let session = &report["sessions"][0];
    assert!(check_codes(session).contains(&"api-unavailable".to_string()));
    assert_eq!(session["sources"], serde_json::json!(["queue"]));
    assert!(!stderr(&out).contains("not-the-key"));
}

/// Previously watch gave up on a storage outage of a few seconds (its retry budget) with exit 2
/// and no report. It now rides the outage out, says so, and loses nothing.
#[test]
fn watch_rides_out_an_outage_longer_than_the_retry_budget() {
    let sim = Simulate::start(&[]);
    let upstream: std::net::SocketAddr = sim
        .get("queueEndpoint")
        .trim_start_matches("http://")
        .trim_end_matches("/devstoreaccount1")
        .parse()
        .unwrap();
    // A TCP relay that drops every connection, open or new, while `down` is set.
    let relay = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = relay.local_addr().unwrap().port();
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = down.clone();
    std::thread::spawn(move || {
        for inbound in relay.incoming().flatten() {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let Ok(outbound) = std::net::TcpStream::connect(upstream) else {
                continue;
            };
            for (from, to) in [
                (inbound.try_clone().unwrap(), outbound.try_clone().unwrap()),
                (outbound, inbound),
            ] {
                let flag = flag.clone();
                std::thread::spawn(move || pump(from, to, &flag));
            }
        }
    });
    let url = sim
        .get("queueUrl")
        .replacen(&upstream.port().to_string(), &port.to_string(), 1);
    put(sim.get("queueUrl"), &[connection_test()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            "watch",
            "--queue",
            &url,
            "--max-interval",
            "0.5",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    down.store(true, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(9));
    put(sim.get("queueUrl"), &[training()]);
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(3));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "watch did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("still trying"), "{err}");
    assert!(err.contains("answering again"), "{err}");
    let report = json(&out);
    assert_eq!(report["sessions"][0]["messages"]["accepted"], 2, "{err}");
    assert_eq!(count(sim.get("queueUrl")), 0);
}

/// Copies `from` to `to` until either closes or `down` is set; then closes both.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    down: &std::sync::atomic::AtomicBool,
) {
    use std::io::{Read as _, Write as _};
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 16 * 1024];
    while !down.load(std::sync::atomic::Ordering::SeqCst) {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Previously a pop receipt gone stale (the message handed out again: normal under at least once
/// delivery) ended the whole watch.
#[test]
fn a_stale_pop_receipt_is_someone_elses_message_not_the_end_of_the_watch() {
    // The test's own requests are 1 (create) and 2 (put); then watch creates the poison queue
    // (3), receives (4) and deletes (5).
    let sim = Simulate::start(&["--faults", "queue#5=error:PopReceiptMismatch"]);
    let url = sim.get("queueUrl").to_string();
    put(&url, &[connection_test()]);
    let out = cvnotify(&[
        "watch",
        "--queue",
        &url,
        "--drain",
        "--visibility",
        "1",
        "--max-interval",
        "0.2",
        "--format",
        "json",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("pop receipt is stale"), "{err}");
    assert_eq!(json(&out)["sessions"][0]["messages"]["accepted"], 1);
    assert_eq!(count(&url), 0);
}

/// Previously Ctrl-C during the first batch killed watch without a report, and SIGTERM was not
/// handled at all (exit 143, no report). Both now finish the batch in hand and report.
#[test]
fn a_signal_during_the_first_batch_still_ends_with_a_report() {
    for signal in ["-INT", "-TERM"] {
        // watch's first receive (request 4, after the test's create and put and watch's poison
        // queue) answers after 1.5 s.
        let sim = Simulate::start(&["--faults", "queue#4=delay:1500"]);
        let url = sim.get("queueUrl").to_string();
        put(&url, &[connection_test()]);
        let dir = temp_dir(&format!("signal{signal}"));
        let recording = dir.join("r.jsonl");
        let child = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
            .args(["watch", "--queue", &url, "--format", "json", "--record"])
            .arg(&recording)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{signal}: {}", stderr(&out));
        let report = json(&out);
        assert_eq!(report["sessions"][0]["messages"]["accepted"], 1, "{signal}");
        let text = std::fs::read_to_string(&recording).unwrap();
        assert!(text.contains("\"outcome\":\"stopped\""), "{signal}: {text}");
    }
}

/// Previously a 2 GB answer to Get Messages drove memory to 4.2 GB. Answers are read up to a
/// documented cap, and refused beyond it without being held.
#[test]
fn an_answer_larger_than_any_documented_one_is_refused_without_being_held() {
    runtime().block_on(async {
        let server = wiremock::MockServer::start().await;
        let body = format!(
            "<QueueMessagesList>{}</QueueMessagesList>",
            "x".repeat(cvnotify_harness::storage::MAX_ANSWER_BYTES + 1)
        );
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_raw(body, "application/xml"),
            )
            .mount(&server)
            .await;
        let q = queue(&format!("{}/devstoreaccount1/q", server.uri()));
        let e = q.receive(32, Duration::from_secs(30)).await.unwrap_err();
        assert!(
            e.to_string().contains("more than any documented answer"),
            "{e}"
        );
    });
}

/// Previously a 100 MB recording line took 313 MB. A line longer than a recording line can be is
/// skipped as unreadable, and the next line is read.
#[test]
fn a_line_longer_than_a_recording_line_is_skipped_not_held() {
    let dir = temp_dir("longline");
    let path = dir.join("r.jsonl");
    let mut text = String::from("{\"kind\":\"session\",\"version\":1,\"sources\":[\"queue\"]}\n");
    text.push_str(&"x".repeat(cvnotify_harness::recording::MAX_LINE_BYTES + 10));
    text.push('\n');
    text.push_str(&format!(
        "{{\"kind\":\"message\",\"at\":\"2026-01-01T09:00:00Z\",\"queue\":\"q\",\"messageId\":\"m\",\"dequeueCount\":1,\"messageText\":{}}}\n",
        serde_json::to_string(&connection_test()).unwrap()
    ));
    std::fs::write(&path, text).unwrap();
    let report = json(&cvnotify(&[
        "replay",
        "--format",
        "json",
        path.to_str().unwrap(),
    ]));
    let session = &report["sessions"][0];
    assert_eq!(session["messages"]["accepted"], 1);
    let unreadable = session["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "unreadable-line")
        .unwrap();
    assert_eq!(unreadable["examples"][0]["line"], 2);
    assert!(
        unreadable["examples"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("more than a recording line can have")
    );
}

/// Previously the same `--seed` gave other iteration ids after a pause between create and train
/// (the service's other work drew from the same counter). Each kind of id has its own sequence.
#[test]
fn ids_depend_on_the_seed_and_the_calls_not_on_timing() {
    use cvnotify_harness::sim::{MessageEncoding, Simulation};
    use cvnotify_harness::training::{
        NewProject, OptionsForm, StorageOptions, TrainOptions, TrainingClient, TrainingKey,
    };
    let run = |pause: bool| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let sim = Simulation::start(1_795_000_000_000, MessageEncoding::Plain, "K")
                    .await
                    .unwrap();
                sim.set_seed(42);
                sim.create_queue("q");
                sim.create_container("c");
                let api = TrainingClient::new(
                    &sim.training_endpoint(),
                    TrainingKey::new("K"),
                    OptionsForm::Query,
                    RetryPolicy::NONE,
                )
                .unwrap();
                let project = api
                    .create_project(&NewProject {
                        name: "p".into(),
                        storage: StorageOptions {
                            notification_queue_uri: Some(sim.queue_url("q")),
                            export_model_container_uri: Some(sim.container_url("c")),
                        },
                        ..NewProject::default()
                    })
                    .await
                    .unwrap();
                if pause {
                    // The service posts its ConnectionTest and writes its test blob meanwhile.
                    sim.settle();
                }
                cvnotify_harness::training::upload_training_set(&api, project.id)
                    .await
                    .unwrap();
                let iteration = api
                    .train_project(project.id, &TrainOptions::default())
                    .await
                    .unwrap();
                (project.id, iteration.id)
            })
    };
    assert_eq!(run(false), run(true));
}

/// Previously `simulate --faults queue#1=503` hit the simulation's own queue creation, and with
/// resets the printed URLs named a random port instead of `--port`.
#[test]
fn simulate_faults_count_client_requests_and_resets_keep_the_port() {
    let sim = Simulate::start(&["--faults", "queue#1=503"]);
    let url = sim.get("queueUrl").to_string();
    runtime().block_on(async {
        let q = queue(&url);
        let first = q.peek(1).await.unwrap_err();
        assert!(first.to_string().contains("503"), "{first}");
        // The queue exists: the set-up was not a client request.
        assert!(q.peek(1).await.unwrap().is_empty());
    });
    let port = free_ports();
    let sim = Simulate::start(&["--port", &port.to_string(), "--faults", "conn#1=reset"]);
    assert!(
        sim.get("trainingEndpoint")
            .ends_with(&format!("127.0.0.1:{port}"))
    );
    for (key, k) in [("containerUrl", 1), ("blobEndpoint", 1), ("queueUrl", 2)] {
        assert!(
            sim.get(key).contains(&format!("127.0.0.1:{}/", port + k)),
            "{key}: {}",
            sim.get(key)
        );
    }
}

/// Two watchers given the same `--record` interleaved their writes mid-line (a recording
/// garbled, messages deleted with no readable record): the second writer is refused, with a
/// clear error, while the first writes on; once the first is gone the file can be appended to.
#[test]
fn a_recording_has_one_writer_at_a_time() {
    let dir = temp_dir("one-writer");
    let record = dir.join("shared.jsonl");
    let path = record.to_str().unwrap();
    let first = Simulate::start(&["--record", path]);
    let second = cvnotify_env(&["simulate", "--record", path], &[]);
    assert_eq!(second.status.code(), Some(2));
    let error = String::from_utf8_lossy(&second.stderr);
    assert!(
        error.contains("is being written by another cvnotify process"),
        "{error}"
    );
    drop(first);
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
    // The lock went with its writer: a later run appends.
    let later = cvnotify_env(
        &[
            "verify",
            "--scenario",
            "happy",
            "--timeout",
            "3",
            "--record",
            path,
            "--",
            "true",
        ],
        &[],
    );
    assert_eq!(
        later.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );
    assert!(std::fs::read_to_string(&record).unwrap().len() > text.len());
}
