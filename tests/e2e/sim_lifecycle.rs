//! The simulated Custom Vision service, driven through our own clients on virtual time: the
//! seed's behaviour (ConnectionTest and a temporary test blob after configuration, a Training
//! notification when training ends, the backup blob and an Export notification after an export)
//! and the documented refusals.

use std::time::Duration;

use cvnotify_core::lifecycle::{ExportJobStatus, IterationStatus};
use cvnotify_core::{ExportPlatform, Notification, ParseOptions, parse};
use cvnotify_harness::sim::{MessageEncoding, Simulation};
use cvnotify_harness::storage::{Container, Queue, Resource, RetryPolicy};
use cvnotify_harness::training::{EXPORTABLE_DOMAIN, upload_training_set};
use cvnotify_harness::training::{
    ErrorCode, NewProject, OptionsForm, StorageOptions, TrainOptions, TrainingClient,
    TrainingError, TrainingKey,
};

const KEY: &str = "SIMKEY";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

async fn drain(queue: &Queue) -> Vec<Notification> {
    let mut out = Vec::new();
    loop {
        let batch = queue.receive(32, Duration::from_secs(30)).await.unwrap();
        if batch.is_empty() {
            return out;
        }
        for m in batch {
            let text = m.message_text.clone().unwrap();
            out.push(
                parse(text.as_bytes(), ParseOptions::STRICT)
                    .unwrap()
                    .notification,
            );
            queue
                .delete(&m.message_id, m.pop_receipt.as_deref().unwrap())
                .await
                .unwrap();
        }
    }
}

fn lifecycle(form: OptionsForm, encoding: MessageEncoding) {
    runtime().block_on(async {
        let sim = Simulation::start(1_795_000_000_000, encoding, KEY).await.unwrap();
        sim.keep_journal();
        let sas = sim.account_sas();
        let queue_url = format!("{}?{sas}", sim.queue_url("notifications"));
        let container_url = format!("{}?{sas}", sim.container_url("backups"));
        let queue = Queue::new(Resource::new(&queue_url, None, RetryPolicy::NONE).unwrap());
        let container =
            Container::new(Resource::new(&container_url, None, RetryPolicy::NONE).unwrap());
        queue.create().await.unwrap();
        container.create().await.unwrap();
        let api = TrainingClient::new(
            &sim.training_endpoint(),
            TrainingKey::new(KEY),
            form,
            RetryPolicy::NONE,
        )
        .unwrap();
        let project = api
            .create_project(&NewProject {
                name: "birds".into(),
                domain_id: Some(EXPORTABLE_DOMAIN),
                storage: StorageOptions {
                    export_model_container_uri: Some(container_url.clone()),
                    notification_queue_uri: Some(queue_url.clone()),
                },
                ..NewProject::default()
            })
            .await
            .unwrap();
        assert_eq!(
            project.settings.storage.notification_queue_uri.as_deref(),
            Some(queue_url.as_str())
        );
        let p = project.id;

        // Configuration: the connection test blob appears, then goes; the message arrives.
        assert!(drain(&queue).await.is_empty(), "nothing before time passes");
        sim.advance(Duration::from_secs(3));
        assert_eq!(sim.settle(), 2, "connection test, then the test blob's removal");
        let notes = drain(&queue).await;
        assert!(matches!(notes.as_slice(), [Notification::ConnectionTest { project_id }] if *project_id == p));
        assert!(container.list("CustomVision-TestPermission/").await.unwrap().is_empty());

        // Training: refused until the project has the least the service trains on.
        let refused = api.train_project(p, &TrainOptions::default()).await.unwrap_err();
        assert_eq!(refused.code(), Some(&ErrorCode::BadRequestTrainingValidationFailed));
        assert!(upload_training_set(&api, p).await.unwrap().is_batch_successful);
        let it = api.train_project(p, &TrainOptions::default()).await.unwrap();
        assert_eq!(it.known_status(), Some(IterationStatus::Training));
        let early = api
            .export_iteration(p, it.id, ExportPlatform::Onnx, None)
            .await
            .unwrap_err();
        assert_eq!(early.code(), Some(&ErrorCode::BadRequestIterationIsNotTrained));
        let busy = api.train_project(p, &TrainOptions::default()).await.unwrap_err();
        assert_eq!(busy.code(), Some(&ErrorCode::BadRequestTrainingAlreadyInProgress));
        let before = sim.now_ms();
        sim.settle();
        assert!(sim.now_ms() - before >= 60_000, "training takes virtual time");
        let polled = api.get_iteration(p, it.id).await.unwrap();
        assert_eq!(polled.known_status(), Some(IterationStatus::Completed));
        let notes = drain(&queue).await;
        assert!(matches!(notes.as_slice(), [Notification::Training { iteration_id, .. }] if *iteration_id == it.id));
        let again = api.train_project(p, &TrainOptions::default()).await.unwrap_err();
        assert_eq!(again.code(), Some(&ErrorCode::BadRequestTrainingNotNeeded));

        // Export: the backup blob and the notification pointing at it.
        let export = api
            .export_iteration(p, it.id, ExportPlatform::Onnx, None)
            .await
            .unwrap();
        assert_eq!(export.known_status(), Some(ExportJobStatus::Exporting));
        let twice = api
            .export_iteration(p, it.id, ExportPlatform::Onnx, None)
            .await
            .unwrap_err();
        assert_eq!(twice.code(), Some(&ErrorCode::BadRequestExportAlreadyInProgress));
        sim.settle();
        let exports = api.get_exports(p, it.id).await.unwrap();
        assert_eq!(exports[0].known_status(), Some(ExportJobStatus::Done));
        let blob = format!("{p} - {}.ONNX", it.id);
        let listed = container.list("").await.unwrap();
        assert_eq!(listed.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), [blob.as_str()]);
        assert_eq!(container.head(&blob).await.unwrap(), Some(5));
        let notes = drain(&queue).await;
        let [Notification::Export { model_uri: Some(uri), .. }] = notes.as_slice() else {
            panic!("{notes:?}");
        };
        let named = uri.backup_blob_name().unwrap().unwrap();
        assert_eq!(named.project_id(), p);
        assert_eq!(named.iteration_id(), it.id);

        // The journal names the project CreateProject made and the iteration TrainProject
        // started (neither is in the request's path); a refused TrainProject names none.
        let calls: Vec<(String, u16, Option<String>, Option<String>)> = sim
            .take_journal()
            .into_iter()
            .filter_map(|line| match line {
                cvnotify_harness::recording::Line::Request(r) => {
                    Some((r.call, r.http_status, r.project_id, r.iteration_id))
                }
                _ => None,
            })
            .filter(|(call, ..)| call == "CreateProject" || call == "TrainProject")
            .collect();
        let (p, it) = (Some(p.to_string()), Some(it.id.to_string()));
        assert_eq!(
            calls,
            [
                ("CreateProject".into(), 200, p.clone(), None),
                ("TrainProject".into(), 400, p.clone(), None),
                ("TrainProject".into(), 200, p.clone(), it),
                ("TrainProject".into(), 400, p.clone(), None),
                ("TrainProject".into(), 400, p, None),
            ]
        );
    });
}

#[test]
fn a_whole_lifecycle_with_the_uris_as_query_parameters_and_plain_messages() {
    lifecycle(OptionsForm::Query, MessageEncoding::Plain);
}

#[test]
fn a_whole_lifecycle_with_the_uris_in_a_body_and_base64_messages() {
    lifecycle(OptionsForm::Body, MessageEncoding::Base64);
}

#[test]
fn the_simulated_api_refuses_like_the_real_one() {
    runtime().block_on(async {
        let sim = Simulation::start(1_795_000_000_000, MessageEncoding::Plain, KEY)
            .await
            .unwrap();
        let wrong = TrainingClient::new(
            &sim.training_endpoint(),
            TrainingKey::new("WRONG"),
            OptionsForm::Query,
            RetryPolicy::NONE,
        )
        .unwrap();
        let e = wrong
            .create_project(&NewProject {
                name: "x".into(),
                ..NewProject::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&e, TrainingError::Gateway { code, .. } if code == "401"),
            "{e:?}"
        );
        let api = TrainingClient::new(
            &sim.training_endpoint(),
            TrainingKey::new(KEY),
            OptionsForm::Body,
            RetryPolicy::NONE,
        )
        .unwrap();
        let missing =
            cvnotify_core::ProjectId::parse("0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b").unwrap();
        let e = api.get_project(missing).await.unwrap_err();
        assert_eq!(e.code(), Some(&ErrorCode::NotFoundProject));
        let e = api
            .create_project(&NewProject {
                name: "x".into(),
                storage: StorageOptions {
                    notification_queue_uri: Some("not a uri".into()),
                    export_model_container_uri: None,
                },
                ..NewProject::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(&ErrorCode::BadRequestInvalidUri));
        // Without storage settings nothing is promised.
        api.create_project(&NewProject {
            name: "plain".into(),
            ..NewProject::default()
        })
        .await
        .unwrap();
        assert_eq!(sim.settle(), 0);
    });
}

fn check(args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, report)
}

#[test]
fn check_runs_a_whole_lifecycle_on_the_simulation_and_its_recording_replays_the_same() {
    let dir = std::env::temp_dir().join(format!("cvnotify-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (form, encoding) in [("query", "plain"), ("body", "base64")] {
        let recording = dir.join(format!("{form}.jsonl"));
        let (out, report) = check(&[
            "--form",
            form,
            "--encoding",
            encoding,
            "--platform",
            "ONNX",
            "--platform",
            "TensorFlow",
            "--platform",
            "VAIDK",
            "--record",
            recording.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert_eq!(report["verdict"], "PASS");
        let session = &report["sessions"][0];
        assert_eq!(
            session["sources"],
            serde_json::json!(["queue", "training-api", "container"])
        );
        // ConnectionTest, Training, three Exports.
        assert_eq!(session["messages"]["accepted"], 5);
        assert_eq!(session["messages"][encoding], 5, "{session}");
        let project = &session["projects"][0];
        assert_eq!(project["phase"], "Exported");
        let phases: Vec<&str> = project["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["phase"].as_str().unwrap())
            .collect();
        assert_eq!(
            phases,
            [
                "Configured",
                "ConnectionTested",
                "Training",
                "Trained",
                "Exported"
            ]
        );
        assert!(stderr.contains("exporting to VAIDK"), "{stderr}");
        let recorded = std::fs::read_to_string(&recording).unwrap();
        for blob in ["ONNX", "TensorFlow", "VAIDK"] {
            assert!(
                recorded.contains(&format!(".{blob}\",\"size\"")),
                "backup blob for {blob} not observed: {recorded}"
            );
        }
        let replayed = std::process::Command::new(env!("CARGO_BIN_EXE_cvnotify"))
            .args(["replay", "--format", "json", recording.to_str().unwrap()])
            .output()
            .unwrap();
        let again: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
        assert_eq!(again["verdict"], "PASS");
        assert_eq!(again["sessions"][0]["projects"], session["projects"]);
    }
}

#[test]
fn check_refuses_an_unknown_platform_and_half_a_real_endpoint() {
    let (out, _) = check(&["--platform", "Nokia"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown platform \"Nokia\""));
    let (out, _) = check(&[
        "--training-endpoint",
        "https://x.cognitiveservices.azure.com/",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the queue, container and key are required too"
    );
}

fn finding_codes(report: &serde_json::Value) -> Vec<String> {
    report["sessions"][0]["projects"][0]["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["code"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_misbehaviour_of_the_simulated_service_is_detected() {
    let (clean, report) = check(&["--format", "json"]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(finding_codes(&report).is_empty(), "{report}");
    for (_, name, finding) in cvnotify_harness::sim::DETECTION {
        let (out, report) = check(&["--faults", name, "--format", "json"]);
        let codes = finding_codes(&report);
        assert!(
            codes.iter().any(|c| c == finding),
            "--faults {name}: expected {finding}, got {codes:?}; {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The exit status follows the finding's severity (issue 12: no test read it).
        let severity = cvnotify_core::lifecycle::FindingCode::from_code(finding)
            .unwrap()
            .severity();
        let expected = match severity {
            cvnotify_core::lifecycle::Severity::Error => 1,
            _ => 0,
        };
        assert_eq!(
            out.status.code(),
            Some(expected),
            "--faults {name}: {codes:?}"
        );
    }
}

#[test]
fn the_readme_lists_every_misbehaviour_and_its_finding() {
    let readme =
        std::fs::read_to_string(crate::support::repo_root().join("docs/check.md")).unwrap();
    for (_, name, finding) in cvnotify_harness::sim::DETECTION {
        assert!(
            readme.contains(&format!("| `{name}` | `{finding}` |")),
            "docs/check.md lacks the row for {name}"
        );
    }
}

/// One item of a random fault spec.
fn fault_item() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let http = prop_oneof![
        Just("429".to_string()),
        Just("500".to_string()),
        Just("503".to_string()),
        Just("malformed".to_string()),
        Just("empty".to_string()),
        Just("delay:20".to_string()),
        Just("delay:5-40".to_string()),
        Just("error:ServerBusy".to_string()),
        Just("error:ErrorUnknown".to_string()),
    ];
    prop_oneof![
        4 => (0..3usize, 1..10u32, http).prop_map(|(e, n, f)| format!("{}#{n}={f}", ["api", "queue", "blob"][e])),
        // An outage longer than the retry budget (five attempts): the run cannot go on.
        1 => (0..3usize, 1..6u32).prop_map(|(e, n)| format!("{}#{n}-{}=503", ["api", "queue", "blob"][e], n + 6)),
        1 => (1..10u32).prop_map(|n| format!("conn#{n}=reset")),
        1 => proptest::sample::select(
            cvnotify_harness::sim::DETECTION.iter().map(|(_, name, _)| name.to_string()).collect::<Vec<_>>()
        ),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Random fault schedules (HTTP statuses, documented error answers, bad bodies, delays,
    /// connection resets, and misbehaviours): every run writes a report and a recording, the
    /// recording replays to exactly that report (nothing read was left out of the evidence,
    /// nothing counted twice), a run that completes read every notification once, and the exit
    /// status says what happened.
    #[test]
    fn random_faults_never_lose_or_double_a_notification(
        spec in proptest::collection::vec(fault_item(), 1..4)
    ) {
        let spec = spec.join(",");
        let dir = crate::support::temp_dir("faults");
        let recording = dir.join("r.jsonl");
        let (out, live) = check(&["--faults", &spec, "--format", "json", "--record", recording.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        proptest::prop_assert!(live.is_object(), "{spec}: no report; {stderr}");
        let replayed = std::process::Command::new(env!("CARGO_BIN_EXE_cvnotify"))
            .args(["replay", "--format", "json"])
            .arg(&recording)
            .output()
            .unwrap();
        let replayed: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
        let (mut a, mut b) = (live["sessions"][0].clone(), replayed["sessions"][0].clone());
        a["file"] = serde_json::Value::Null;
        b["file"] = serde_json::Value::Null;
        proptest::prop_assert_eq!(&a, &b, "{}: live and replayed differ", spec);
        let text = std::fs::read_to_string(&recording).unwrap();
        let end: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        proptest::prop_assert_eq!(&end["kind"], "end", "{}", spec);
        let misbehaving = spec.split(',').any(|i| !i.contains('='));
        match (out.status.code(), end["outcome"].as_str()) {
            (Some(0 | 1), Some("completed")) => {
                let project = &a["projects"][0];
                if !misbehaving {
                    // ConnectionTest, Training, two Exports: each read once, none lost.
                    proptest::prop_assert_eq!(&project["phase"], "Exported", "{}", spec);
                    proptest::prop_assert_eq!(&a["messages"]["accepted"], &serde_json::json!(4), "{}", spec);
                    proptest::prop_assert!(!finding_codes(&live).iter().any(|c| c.ends_with("-missing")), "{}", spec);
                    proptest::prop_assert_eq!(out.status.code(), Some(0), "{}: {}", spec, stderr);
                }
            }
            (Some(1), Some("incomplete")) => {
                proptest::prop_assert!(stderr.contains("stopped early"), "{spec}: {stderr}");
            }
            (Some(2), Some("aborted")) => {
                let last = stderr.lines().last().unwrap_or_default();
                proptest::prop_assert!(last.starts_with("cvnotify check: "), "{spec}: {stderr}");
                proptest::prop_assert_eq!(&live["verdict"], "FAIL", "{}", spec);
            }
            (code, outcome) => proptest::prop_assert!(false, "{spec}: exit {code:?}, outcome {outcome:?}: {stderr}"),
        }
    }
}

#[test]
fn simulate_serves_the_simulation_standalone_with_time_following_the_clock() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            "simulate",
            "--seed",
            "7",
            "--connection-test-seconds",
            "0",
            "--encoding",
            "base64",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let endpoints: serde_json::Value = serde_json::from_str(&first).unwrap();
    let outcome = std::panic::catch_unwind(|| {
        runtime().block_on(async {
            let api = TrainingClient::new(
                endpoints["trainingEndpoint"].as_str().unwrap(),
                TrainingKey::new(endpoints["trainingKey"].as_str().unwrap()),
                OptionsForm::Body,
                RetryPolicy::NONE,
            )
            .unwrap();
            let (queue_url, container_url) = (
                endpoints["queueUrl"].as_str().unwrap(),
                endpoints["containerUrl"].as_str().unwrap(),
            );
            let project = api
                .create_project(&NewProject {
                    name: "standalone".into(),
                    domain_id: Some(EXPORTABLE_DOMAIN),
                    storage: StorageOptions {
                        export_model_container_uri: Some(container_url.into()),
                        notification_queue_uri: Some(queue_url.into()),
                    },
                    ..NewProject::default()
                })
                .await
                .unwrap();
            assert!(
                project.id.to_string().starts_with("00000007-"),
                "the seed fixes ids"
            );
            let queue = Queue::new(Resource::new(queue_url, None, RetryPolicy::NONE).unwrap());
            // The ConnectionTest comes on the wall clock (at once, with the setting 0).
            let started = std::time::Instant::now();
            let first = loop {
                let got = queue.receive(32, Duration::from_secs(30)).await.unwrap();
                if let Some(m) = got.into_iter().next() {
                    break m;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "no ConnectionTest"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let text = first.message_text.unwrap();
            let parsed = parse(text.as_bytes(), ParseOptions::STRICT).unwrap();
            assert_eq!(parsed.encoding, cvnotify_core::Encoding::Base64);
            assert!(matches!(
                parsed.notification,
                Notification::ConnectionTest { .. }
            ));
            // The barrier: everything pending, at once.
            upload_training_set(&api, project.id).await.unwrap();
            api.train_project(project.id, &TrainOptions::default())
                .await
                .unwrap();
            let settled: serde_json::Value = reqwest::Client::new()
                .post(endpoints["settle"].as_str().unwrap())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(settled["ran"].as_u64().unwrap() >= 1);
            let got = queue.receive(32, Duration::from_secs(30)).await.unwrap();
            assert!(got.iter().any(|m| {
                let text = m.message_text.clone().unwrap();
                matches!(
                    parse(text.as_bytes(), ParseOptions::STRICT).map(|p| p.notification),
                    Ok(Notification::Training { .. })
                )
            }));
        });
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn failures_the_service_reports_correctly_and_reordering_pass_with_the_right_phase() {
    for (_, name, phase) in cvnotify_harness::sim::OUTCOMES {
        let (out, report) = check(&["--faults", name, "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "--faults {name}: {report}");
        let project = &report["sessions"][0]["projects"][0];
        assert_eq!(project["phase"], *phase, "--faults {name}");
        // ExportFailed carries no platform, so two of them read as one notification twice
        // (duplicate-delivery, info): nothing above info is allowed.
        for f in project["findings"].as_array().unwrap() {
            assert_eq!(f["severity"], "info", "--faults {name}: {f}");
        }
    }
}

#[test]
fn simulated_queues_redeliver_on_virtual_time_and_paths_ignore_the_case_of_training() {
    runtime().block_on(async {
        let sim = Simulation::start(1_795_000_000_000, MessageEncoding::Plain, KEY)
            .await
            .unwrap();
        let url = format!("{}?{}", sim.queue_url("redelivery"), sim.account_sas());
        let q = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        q.create().await.unwrap();
        q.put("x", Duration::ZERO, None).await.unwrap();
        let first = q.receive(1, Duration::from_secs(30)).await.unwrap();
        assert_eq!(first[0].dequeue_count, Some(1));
        sim.advance(Duration::from_secs(29));
        assert!(
            q.receive(1, Duration::from_secs(30))
                .await
                .unwrap()
                .is_empty()
        );
        // No sleeping: the visibility timeout ends when virtual time says so.
        sim.advance(Duration::from_secs(2));
        let again = q.receive(1, Duration::from_secs(30)).await.unwrap();
        assert_eq!(again[0].dequeue_count, Some(2));

        let api = TrainingClient::new(
            &sim.training_endpoint(),
            TrainingKey::new(KEY),
            OptionsForm::Query,
            RetryPolicy::NONE,
        )
        .unwrap();
        let p = api
            .create_project(&NewProject {
                name: "case".into(),
                ..NewProject::default()
            })
            .await
            .unwrap()
            .id;
        let other =
            cvnotify_core::IterationId::parse("0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b").unwrap();
        let missing = api.get_iteration(p, other).await.unwrap_err();
        assert_eq!(missing.code(), Some(&ErrorCode::NotFoundIteration));
        // The storage integration article writes `Training` with a capital T.
        let status = reqwest::Client::new()
            .get(format!(
                "{}/customvision/v3.3/Training/projects/{p}",
                sim.training_endpoint()
            ))
            .header("Training-key", KEY)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 200);
    });
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed: &str| {
        let (out, report) = check(&[
            "--seed",
            seed,
            "--faults",
            "api#5=delay:1-5",
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(0));
        report["sessions"][0]["projects"][0]["projectId"].clone()
    };
    assert_eq!(run("41"), run("41"));
    assert_ne!(run("41"), run("42"));
}

/// The training API as the specs define it: only the service's versions, the gateway's error
/// form for anything else, CreateProject's validation, every schema field with its type, and
/// UpdateProject as a PATCH (absent keeps, null removes).
#[test]
fn the_simulated_training_api_validates_and_answers_as_the_specs_say() {
    use serde_json::{Value, json};
    runtime().block_on(async {
        let sim = Simulation::start(1_795_000_000_000, MessageEncoding::Plain, KEY)
            .await
            .unwrap();
        sim.create_queue("notifications");
        let base = sim.training_endpoint();
        let http = reqwest::Client::new();
        let call = |method: reqwest::Method, path: String, body: Option<Value>| {
            let mut r = http
                .request(method, format!("{base}{path}"))
                .header("Training-Key", KEY);
            if let Some(b) = body {
                r = r.json(&b);
            }
            async move {
                let response = r.send().await.unwrap();
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                (
                    status,
                    serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
                )
            }
        };
        let get = |path: &str| call(reqwest::Method::GET, path.to_string(), None);
        // Versions: the service's, and nothing else (the gateway's 404 form).
        for version in ["v3.0", "v3.1", "v3.2", "v3.3", "v3.4-preview"] {
            let (status, _) = get(&format!("/customvision/{version}/training/domains")).await;
            assert_eq!(status, 200, "{version}");
        }
        let (status, body) = get("/customvision/v9.9/training/domains").await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("404")));
        // Domains carry their schema fields.
        let (_, domains) = get("/customvision/v3.3/training/domains").await;
        let compact = domains
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "General (compact)" && d["type"] == "Classification")
            .unwrap();
        assert_eq!(compact["exportable"], true);
        assert!(
            compact["exportablePlatforms"]
                .as_array()
                .is_some_and(|p| !p.is_empty())
        );
        // CreateProject's validation.
        let create = |query: &str| {
            call(
                reqwest::Method::POST,
                format!("/customvision/v3.3/training/projects?{query}"),
                None,
            )
        };
        for (query, code) in [
            ("", "BadRequestProjectName"),
            (
                "name=x&domainId=00000000-0000-0000-0000-000000000000",
                "BadRequestProjectUnknownDomain",
            ),
            (
                "name=x&classificationType=Sideways",
                "BadRequestProjectUnknownClassification",
            ),
            (
                "name=x&notificationQueueUri=http://elsewhere.example/q",
                "BadRequestInvalidUri",
            ),
        ] {
            let (status, body) = create(query).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some(code)),
                "{query}"
            );
        }
        let queue = sim.queue_url("notifications");
        let (status, p) = create(&format!(
            "name=birds&description=d&classificationType=Multilabel&notificationQueueUri={}",
            url::form_urlencoded::byte_serialize(queue.as_bytes()).collect::<String>()
        ))
        .await;
        assert_eq!(status, 200, "{p}");
        for field in [
            "id",
            "name",
            "description",
            "settings",
            "created",
            "lastModified",
            "status",
        ] {
            assert!(p.get(field).is_some(), "Project.{field}: {p}");
        }
        assert_eq!(p["settings"]["classificationType"], "Multilabel");
        assert_eq!(p["settings"]["notificationQueueUri"], queue.as_str());
        let id = p["id"].as_str().unwrap().to_string();
        let path = format!("/customvision/v3.4-preview/training/projects/{id}");
        // PATCH: a field left out keeps its value; null removes it.
        let (status, renamed) = call(
            reqwest::Method::PATCH,
            path.clone(),
            Some(json!({"name": "renamed", "settings": {"useNegativeSet": true}})),
        )
        .await;
        assert_eq!(status, 200, "{renamed}");
        assert_eq!(renamed["name"], "renamed");
        assert_eq!(renamed["description"], "d");
        assert_eq!(renamed["settings"]["notificationQueueUri"], queue.as_str());
        let (_, removed) = call(
            reqwest::Method::PATCH,
            path.clone(),
            Some(json!({"settings": {"notificationQueueUri": null}})),
        )
        .await;
        assert!(
            removed["settings"]["notificationQueueUri"].is_null(),
            "{removed}"
        );
        // Training needs two tags of five images each.
        let (status, refused) = call(reqwest::Method::POST, format!("{path}/train"), None).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (400, Some("BadRequestTrainingValidationFailed"))
        );
        let (status, _) = call(reqwest::Method::DELETE, path.clone(), None).await;
        assert_eq!(status, 204);
        let (status, gone) = get(&path).await;
        assert_eq!(
            (status, gone["code"].as_str()),
            (404, Some("NotFoundProject"))
        );
    });
}
