//! `cvnotify parse` as a user runs it: exit codes, stdin and files, both formats, redaction.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::support::{Expect, expectation, message_files, repo_root};

fn cvnotify(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn exit_codes_follow_the_corpus_verdicts() {
    for path in message_files() {
        let file = path.to_str().unwrap();
        let tolerant = cvnotify(&["parse", "--exact", file], b"").status.code();
        let strict = cvnotify(&["parse", "--exact", "--strict", file], b"")
            .status
            .code();
        let want = match expectation(&path) {
            Expect::Accept => (Some(0), Some(0)),
            Expect::AcceptWithDeviation => (Some(0), Some(1)),
            Expect::Reject => (Some(1), Some(1)),
        };
        assert_eq!((tolerant, strict), want, "{file}");
    }
}

#[test]
fn json_output_has_the_documented_shape_and_no_secrets() {
    let file = repo_root().join("corpus/messages/y_base64_export_completed.msg");
    let out = cvnotify(&["parse", "--format", "json", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("FAKEsignature"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["deviations", "encoding", "message"]);
    assert_eq!(v["encoding"], "base64");
    assert_eq!(v["message"]["version"], "1.0");
    assert_eq!(v["message"]["type"], "Export");
    assert!(
        v["message"]["Content"]["modelUri"]
            .as_str()
            .unwrap()
            .ends_with("sig=REDACTED")
    );
    assert!(stdout.starts_with(
        r#"{"encoding":"base64","message":{"version":"1.0","type":"Export","Content":{"projectId""#
    ));
}

#[test]
fn rejections_name_the_field_on_stderr_and_in_json() {
    let file = repo_root().join("corpus/messages/n_project_id_braced.msg");
    let out = cvnotify(&["parse", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("rejected: Content.projectId (byte "),
        "{stderr}"
    );
    let out = cvnotify(&["parse", "--format", "json", file.to_str().unwrap()], b"");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "invalid-guid");
    assert_eq!(v["error"]["path"], "Content.projectId");
}

#[test]
fn stdin_drops_one_final_line_ending_unless_exact() {
    let msg =
        std::fs::read(repo_root().join("corpus/messages/y_base64_connection_test.msg")).unwrap();
    let mut line = msg.clone();
    line.extend_from_slice(b"\r\n");
    assert_eq!(cvnotify(&["parse"], &line).status.code(), Some(0));
    assert_eq!(cvnotify(&["parse", "-"], &line).status.code(), Some(0));
    assert_eq!(
        cvnotify(&["parse", "--exact"], &line).status.code(),
        Some(1)
    );
    let human = cvnotify(&["parse"], &msg);
    let stdout = String::from_utf8(human.stdout).unwrap();
    assert!(
        stdout.starts_with("accepted: ConnectionTest (base64 encoding, version \"1.0\")"),
        "{stdout}"
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(
        cvnotify(&["parse", "/nonexistent/message"], b"")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        cvnotify(&["parse", "--format", "xml"], b"").status.code(),
        Some(2)
    );
    assert_eq!(cvnotify(&["frobnicate"], b"").status.code(), Some(2));
}
