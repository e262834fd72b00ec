//! Many consumers, one verdict: N `watch --partial` processes drain one queue (Azurite, and the
//! simulated queue) while the lifecycles of many projects are posted to it; each sees only its
//! share, defers what rests on a message not having come, and `replay --merge` of their
//! recordings gives the verdict of one consumer that saw everything, nothing lost or counted
//! twice.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cvnotify_harness::storage::{Queue, Resource, RetryPolicy};

use crate::azurite::{Azurite, SAS};
use crate::support::temp_dir;

const PROJECTS: usize = 24;

fn guid(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

/// Every project's notifications, interleaved: ConnectionTest, Training, Export (ONNX).
fn notifications() -> Vec<String> {
    let mut all = Vec::new();
    for step in 0..3 {
        for n in 0..PROJECTS {
            let (p, i) = (guid(1, n), guid(2, n));
            all.push(match step {
                0 => format!(r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{p}"}}}}"#),
                1 => format!(r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{p}","iterationId":"{i}","trainingStatus":"TrainingCompleted"}}}}"#),
                _ => format!(r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{p}","iterationId":"{i}","exportStatus":"ExportFailed"}}}}"#),
            });
        }
    }
    all
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn watcher(url: &str, record: &std::path::Path, partial: bool) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cvnotify"));
    c.args([
        "watch",
        "--queue",
        url,
        "--max-interval",
        "0.2",
        "--format",
        "json",
    ])
    .arg("--record")
    .arg(record)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if partial {
        c.arg("--partial");
    }
    c.spawn().unwrap()
}

fn stop(child: Child) -> serde_json::Value {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What a verdict says of the projects: each one's phase and findings that count.
fn projects(report: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    report["sessions"][0]["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let findings = p["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f.get("deferred").is_none())
                .map(|f| f["code"].as_str().unwrap().to_string())
                .collect();
            (
                p["projectId"].as_str().unwrap().to_string(),
                p["phase"].as_str().unwrap().to_string(),
                findings,
            )
        })
        .collect()
}

/// `watchers` consumers drain the queue at `url` while the notifications are posted.
fn drain_with(url: &str, watchers: usize, tag: &str) -> serde_json::Value {
    let dir = temp_dir(&format!("scale-{tag}-{watchers}"));
    let records: Vec<_> = (0..watchers)
        .map(|k| dir.join(format!("watcher-{k}.jsonl")))
        .collect();
    for r in &records {
        let _ = std::fs::remove_file(r);
    }
    let rt = runtime();
    let queue = Queue::new(Resource::new(url, None, RetryPolicy::NONE).unwrap());
    rt.block_on(queue.create()).unwrap();
    let children: Vec<Child> = records
        .iter()
        .map(|r| watcher(url, r, watchers > 1))
        .collect();
    rt.block_on(async {
        for text in notifications() {
            queue.put(&text, Duration::ZERO, None).await.unwrap();
        }
        // Until every message is consumed.
        for _ in 0..300 {
            if queue.approximate_count().await.unwrap() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
    });
    let partial: Vec<serde_json::Value> = children.into_iter().map(stop).collect();
    if watchers == 1 {
        return partial.into_iter().next().unwrap();
    }
    // Each partial view passes: what it cannot judge is deferred.
    let mut shares = 0;
    for p in &partial {
        assert_eq!(p["sessions"][0]["partial"], true);
        assert_ne!(
            p["verdict"], "FAIL",
            "a partial view claims an error: {p:#}"
        );
        shares += p["sessions"][0]["messages"]["accepted"].as_u64().unwrap();
    }
    assert_eq!(
        shares,
        3 * PROJECTS as u64,
        "every message went to one watcher"
    );
    let merged = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(["replay", "--merge", "--format", "json"])
        .args(&records)
        .output()
        .unwrap();
    serde_json::from_slice(&merged.stdout).unwrap()
}

fn merged_equals_single(url_for: impl Fn(&str) -> String, tag: &str) {
    let single = drain_with(&url_for("single"), 1, tag);
    assert_eq!(single["verdict"], "PASS", "{single:#}");
    let expected = projects(&single);
    assert_eq!(expected.len(), PROJECTS);
    for n in [2, 4] {
        let merged = drain_with(&url_for(&format!("merged{n}")), n, tag);
        assert_eq!(
            merged["verdict"], single["verdict"],
            "{n} watchers: {merged:#}"
        );
        assert_eq!(projects(&merged), expected, "{n} watchers");
        assert_eq!(
            merged["sessions"][0]["messages"], single["sessions"][0]["messages"],
            "{n} watchers: nothing lost or counted twice"
        );
        assert_eq!(merged["sessions"][0]["files"].as_array().unwrap().len(), n);
    }
}

#[test]
fn watchers_sharing_an_azurite_queue_merge_to_the_single_consumer_verdict() {
    let azurite = Azurite::start();
    merged_equals_single(
        |name| format!("{}?{SAS}", azurite.queue_url(&format!("scale-{name}"))),
        "azurite",
    );
}

#[test]
fn watchers_sharing_the_simulated_queue_merge_to_the_single_consumer_verdict() {
    let rt = runtime();
    let server = rt.block_on(async {
        cvnotify_harness::sim::EndpointHandler::wall_clock_queue()
            .serve(None)
            .await
            .unwrap()
    });
    let sas = cvnotify_harness::sim::dev_account_sas();
    merged_equals_single(
        |name| format!("{}/devstoreaccount1/scale-{name}?{sas}", server.uri()),
        "sim",
    );
}
