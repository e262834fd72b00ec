//! A live session's report is the replay of its recording: the same counts, checks, findings
//! and evidence numbers (issue 10's bug: a message left for redelivery was counted and numbered
//! live but never written, so every later evidence number pointed one line past its line).
//! Run against Azurite and against the simulated queue, with a message left for redelivery and
//! then poisoned, a base64 message, a redelivered notification and a lifecycle finding.

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use cvnotify_harness::sim::EndpointHandler;
use cvnotify_harness::storage::{Queue, Resource, RetryPolicy};

use crate::azurite::{Azurite, SAS};

const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
const I: &str = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Fills the queue: a connection test, the same Training notification twice (once base64), an
/// unreadable message, and an Export of an iteration whose training never completed.
async fn fill(url: &str) {
    let queue = Queue::new(Resource::new(url, None, RetryPolicy::NONE).unwrap());
    queue.create().await.unwrap();
    let training = format!(
        r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{P}","iterationId":"{I}","trainingStatus":"TrainingCompleted"}}}}"#
    );
    let other = "2b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";
    let export = format!(
        r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{other}","exportStatus":"ExportFailed"}}}}"#
    );
    let texts = [
        format!(r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{P}"}}}}"#),
        "{not json".to_string(),
        training.clone(),
        base64::engine::general_purpose::STANDARD.encode(&training),
        export,
    ];
    for text in texts {
        queue.put(&text, Duration::ZERO, None).await.unwrap();
    }
}

/// `watch --drain` with a recording, then `replay` of the recording: both JSON reports.
fn watch_then_replay(url: &str, tag: &str) -> (serde_json::Value, serde_json::Value, String) {
    let dir = std::env::temp_dir().join(format!("cvnotify-live-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("session.jsonl");
    let _ = std::fs::remove_file(&recording);
    let live = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(["watch", "--queue", url, "--drain", "--max-dequeue", "2"])
        .args([
            "--visibility",
            "1",
            "--max-interval",
            "0.3",
            "--format",
            "json",
        ])
        .arg("--record")
        .arg(&recording)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&live.stderr).to_string();
    assert_eq!(live.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("left for redelivery"), "{stderr}");
    let live: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    let replayed = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(["replay", "--format", "json"])
        .arg(&recording)
        .output()
        .unwrap();
    assert_eq!(replayed.status.code(), Some(1));
    let replayed: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    (live, replayed, std::fs::read_to_string(&recording).unwrap())
}

fn assert_same_judgement(live: &serde_json::Value, replayed: &serde_json::Value, recording: &str) {
    let (mut a, mut b) = (live["sessions"][0].clone(), replayed["sessions"][0].clone());
    a["file"] = serde_json::Value::Null;
    b["file"] = serde_json::Value::Null;
    assert_eq!(a, b, "live and replayed sessions differ");
    assert_eq!(live["verdict"], replayed["verdict"]);
    // Every evidence number is the line of what it stands for.
    let lines: Vec<serde_json::Value> = recording
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(a["lines"], lines.len());
    let finding = a["projects"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "export-of-untrained-iteration")
        .expect("the untrained export is found");
    let line = &lines[finding["evidence"][0].as_u64().unwrap() as usize - 1];
    assert!(
        line["messageText"]
            .as_str()
            .unwrap()
            .contains("ExportFailed"),
        "evidence points at {line}"
    );
    let rejected = a["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "message-rejected")
        .unwrap();
    for example in rejected["examples"].as_array().unwrap() {
        let line = &lines[example["line"].as_u64().unwrap() as usize - 1];
        assert_eq!(line["messageText"], "{not json", "example points at {line}");
    }
}

#[test]
fn a_live_watch_on_azurite_reports_what_its_recording_replays_to() {
    let azurite = Azurite::start();
    let url = format!("{}?{SAS}", azurite.queue_url("live"));
    runtime().block_on(fill(&url));
    let (live, replayed, recording) = watch_then_replay(&url, "azurite");
    assert_same_judgement(&live, &replayed, &recording);
}

#[test]
fn a_live_watch_on_the_simulated_queue_reports_what_its_recording_replays_to() {
    let rt = runtime();
    let server = rt.block_on(async {
        EndpointHandler::wall_clock_queue()
            .serve(None)
            .await
            .unwrap()
    });
    let url = format!("{}/devstoreaccount1/live?{SAS}", server.uri());
    rt.block_on(fill(&url));
    let (live, replayed, recording) = watch_then_replay(&url, "sim");
    assert_same_judgement(&live, &replayed, &recording);
}
