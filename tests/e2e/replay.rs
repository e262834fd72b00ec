//! `cvnotify replay` over the session corpus and as a CI job runs it: verdicts by file name,
//! reviewed JSON reports (correlated redaction), exit codes, waivers, every format.

use std::path::Path;
use std::process::{Command, Output};

use crate::redact;
use crate::support::repo_root;

fn cvnotify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn session(name: &str) -> String {
    repo_root()
        .join("corpus/sessions")
        .join(name)
        .display()
        .to_string()
}

/// The JSON report of one recording, redacted for a snapshot.
fn redacted_report(path: &Path) -> String {
    let out = cvnotify(&["replay", "--format", "json", path.to_str().unwrap()]);
    let mut report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = &mut report["sessions"][0];
    session["file"] = serde_json::Value::String(path.file_name().unwrap().to_string_lossy().into());
    let projects: Vec<String> = session["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["projectId"].as_str().unwrap().to_string())
        .collect();
    let mut iterations = Vec::new();
    for p in session["projects"].as_array().unwrap() {
        for f in p["findings"].as_array().unwrap() {
            if let Some(i) = f["iterationId"].as_str() {
                iterations.push(i.to_string());
            }
        }
    }
    report["version"] = serde_json::Value::String("<version>".into());
    redact::times(&mut report);
    let text = serde_json::to_string_pretty(&report).unwrap();
    redact::guids(&text, &projects, &iterations)
}

#[test]
fn every_session_has_its_named_verdict_and_reviewed_report() {
    insta::glob!("../../corpus/sessions", "*.jsonl", |path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let out = cvnotify(&["replay", "--format", "json", path.to_str().unwrap()]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (verdict, code) = match &name[..2] {
            "y_" => ("PASS", 0),
            "i_" => ("NON-STRICT", 0),
            "n_" => ("FAIL", 1),
            other => panic!("session {name} has no verdict prefix ({other})"),
        };
        assert_eq!(report["verdict"], verdict, "{name}");
        assert_eq!(out.status.code(), Some(code), "{name}");
        insta::assert_snapshot!(redacted_report(path));
    });
}

#[test]
fn strict_fails_non_strict_sessions() {
    let file = session("i_training_from_portal.jsonl");
    assert_eq!(cvnotify(&["replay", &file]).status.code(), Some(0));
    assert_eq!(
        cvnotify(&["replay", "--strict", &file]).status.code(),
        Some(1)
    );
    assert_eq!(
        cvnotify(&["replay", "--strict", &session("y_happy_path.jsonl")])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn a_waived_finding_is_reported_but_not_counted() {
    let file = session("n_connection_test_missing.jsonl");
    let out = cvnotify(&[
        "replay",
        "--format",
        "json",
        "--exclude",
        "connection-test-missing",
        &file,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "PASS");
    assert_eq!(
        report["sessions"][0]["projects"][0]["findings"][0]["waived"],
        true
    );
    // --select keeps only the named codes: the training warning no longer counts.
    let portal = session("i_training_from_portal.jsonl");
    let out = cvnotify(&[
        "replay",
        "--select",
        "backup-blob-missing,connection-test-missing",
        &portal,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("verdict: PASS")
    );
    let out = cvnotify(&["replay", "--exclude", "no-such-check", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unknown check code")
    );
}

#[test]
fn a_bad_line_is_reported_by_number_and_the_rest_is_replayed() {
    let out = cvnotify(&["replay", &session("n_unreadable_and_rejected_lines.jsonl")]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("unreadable-line x1"), "{text}");
    assert!(text.contains("      line 4: not JSON: "), "{text}");
    assert!(text.contains("line 5: Content.iterationId"), "{text}");
    assert!(text.contains("ConnectionTested (line 3"), "{text}");
}

#[test]
fn a_line_with_a_secret_is_refused_and_never_echoed() {
    let out = cvnotify(&[
        "replay",
        "--format",
        "json",
        &session("n_secret_in_recording.jsonl"),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("secret-in-recording"));
    assert!(
        !text.contains("NOT-REDACTED-FAKE"),
        "the secret leaked into the report"
    );
}

#[test]
fn human_output_has_no_colour_off_a_terminal_and_junit_html_are_well_formed() {
    let files = [
        session("y_happy_path.jsonl"),
        session("n_backup_blob_missing.jsonl"),
    ];
    let human = cvnotify(&["replay", &files[0], &files[1]]);
    assert_eq!(human.status.code(), Some(1));
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "colour escapes in piped output");
    assert!(text.contains("backup-blob-missing at"), "{text}");
    assert!(text.ends_with("verdict: FAIL\n"));

    let junit = cvnotify(&["replay", "--format", "junit", &files[0], &files[1]]);
    let xml = String::from_utf8(junit.stdout).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut suites) = (0, 0, 0);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testsuite" => suites += 1,
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, 2);
    assert_eq!(cases, 2 * cvnotify_core::lifecycle::FindingCode::ALL.len());
    assert_eq!(failures, 1);

    let dir = std::env::temp_dir().join(format!("cvnotify-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let html = cvnotify(&[
        "replay",
        "--format",
        "html",
        "--output",
        page.to_str().unwrap(),
        &files[0],
        &files[1],
    ]);
    assert_eq!(html.status.code(), Some(1));
    assert!(html.stdout.is_empty());
    let page = std::fs::read_to_string(&page).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert_eq!(page.matches("<svg class=\"timeline\"").count(), 2);
    assert!(page.contains("backup-blob-missing"));
    assert!(
        !page.contains("<script") && !page.contains("http://") && !page.contains("src="),
        "not self-contained"
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(cvnotify(&["replay"]).status.code(), Some(2));
    assert_eq!(
        cvnotify(&["replay", "/nonexistent/recording.jsonl"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        cvnotify(&["replay", "--format", "yaml", &session("y_happy_path.jsonl")])
            .status
            .code(),
        Some(2)
    );
}

/// A validator of the committed schema `corpus/NAME` (formats asserted: a time is a date-time).
fn corpus_validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("corpus").join(name)).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// The committed schemas are the ones the types derive (`cvnotify schema --format recording`,
/// `--format report`): a field added to a line or a report changes them, and this fails until
/// `scripts/update-docs` writes them again.
#[test]
fn the_committed_schemas_are_the_derived_ones() {
    for (name, format) in [
        ("recording.schema.json", "recording"),
        ("report.schema.json", "report"),
    ] {
        let committed = std::fs::read_to_string(repo_root().join("corpus").join(name)).unwrap();
        let out = cvnotify(&["schema", "--format", format]);
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            committed,
            "corpus/{name} is not what the types derive: run scripts/update-docs"
        );
    }
}

/// Every line the recording reader accepts in the session corpus is valid against the
/// recording schema, every kind of line is among them, and a line the schema knows nothing of
/// is refused by both; the report of every corpus session is valid against the report schema.
#[test]
fn the_corpus_and_its_reports_are_valid_against_the_schemas() {
    let recording = corpus_validator("recording.schema.json");
    let report = corpus_validator("report.schema.json");
    let mut kinds = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("corpus/sessions")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let number = u32::try_from(n + 1).unwrap();
            if cvnotify_harness::recording::read_line(line, number).is_err() {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let errors: Vec<String> = recording
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{}:{number} is read but not valid against the schema: {errors:?}",
                path.display()
            );
            kinds.insert(value["kind"].as_str().unwrap().to_string());
        }
        let out = cvnotify(&["replay", "--format", "json", path.to_str().unwrap()]);
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let errors: Vec<String> = report.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "the report of {} is not valid against the schema: {errors:?}",
            path.display()
        );
    }
    let all = [
        "session",
        "end",
        "message",
        "api",
        "blob",
        "tick",
        "request",
        "delivered",
        "client",
    ];
    for kind in all {
        assert!(
            kinds.contains(kind),
            "no `{kind}` line in the corpus was checked"
        );
    }
    let stranger = serde_json::json!({"kind": "tick", "at": "2026-01-01T09:00:00Z", "name": "x"});
    assert!(!recording.is_valid(&stranger));
    assert!(
        cvnotify_harness::recording::read_line(&stranger.to_string(), 2).is_err(),
        "the reader refuses what the schema refuses"
    );
}

fn temp_recording(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cvnotify-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A line that is not UTF-8 is one bad line: the next line is still read.
#[test]
fn a_line_that_is_not_utf8_does_not_swallow_the_next() {
    let mut bytes = br#"{"kind":"session","version":1,"sources":["queue"]}"#.to_vec();
    bytes.extend_from_slice(b"\n{\"kind\":\"tick\",\"at\":\"\xff\xfe\"}\n");
    bytes.extend_from_slice(br#"{"kind":"tick","at":"2026-01-01T09:00:00Z"}"#);
    bytes.push(b'\n');
    let path = temp_recording("not-utf8.jsonl", &bytes);
    let out = cvnotify(&["replay", "--format", "json", path.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = &report["sessions"][0];
    assert_eq!(session["lines"], 3);
    let unreadable = session["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "unreadable-line")
        .unwrap();
    assert_eq!(unreadable["count"], 1);
    assert_eq!(unreadable["examples"][0]["line"], 2);
}

/// Thousands of lines go through several parse workers: counts are exact and the examples are
/// the first lines, as in a single-threaded read.
#[test]
fn checks_across_many_batches_keep_exact_counts_and_the_first_examples() {
    let mut text = String::from("{\"kind\":\"session\",\"version\":1,\"sources\":[\"queue\"]}\n");
    for n in 0..5000 {
        let msg = format!(
            r#"{{\"version\":\"1.0\",\"type\":\"ConnectionTest\",\"content\":{{\"projectId\":\"0f5a1c2e-3b4d-4e6f-8a9b-{n:012}\"}}}}"#
        );
        text.push_str(&format!(
            "{{\"kind\":\"message\",\"at\":\"2026-01-01T09:00:00Z\",\"queue\":\"q\",\"messageId\":\"m{n}\",\"dequeueCount\":1,\"messageText\":\"{msg}\"}}\n"
        ));
    }
    let path = temp_recording("many.jsonl", text.as_bytes());
    let out = cvnotify(&["replay", "--format", "json", path.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = &report["sessions"][0];
    assert_eq!(session["messages"]["accepted"], 5000);
    assert_eq!(session["projects"].as_array().unwrap().len(), 5000);
    let check = &session["checks"][0];
    assert_eq!(check["code"], "key-case");
    assert_eq!(check["count"], 5000);
    let lines: Vec<u64> = check["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, (2..22).collect::<Vec<u64>>());
    assert_eq!(report["verdict"], "NON-STRICT");
}
