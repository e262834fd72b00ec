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

fn session(name: &str) -> String {
    repo_root()
        .join("corpus/sessions")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `--color` on every command, `NO_COLOR` and `CLICOLOR_FORCE` as people expect them.
#[test]
fn colour_follows_the_flag_and_the_environment() {
    let file = session("n_backup_blob_missing.jsonl");
    let coloured = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("\u{1b}[")
    };
    // Not a terminal: no colour unless forced.
    assert!(!coloured(&["replay", &file], &[]));
    assert!(coloured(&["--color", "always", "replay", &file], &[]));
    assert!(
        coloured(&["replay", &file, "--color", "always"], &[]),
        "the flag is global"
    );
    assert!(coloured(&["replay", &file], &[("CLICOLOR_FORCE", "1")]));
    // A non-empty NO_COLOR wins over CLICOLOR_FORCE (no-color.org); the flag wins over both.
    assert!(!coloured(
        &["replay", &file],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    ));
    assert!(coloured(
        &["--color", "always", "replay", &file],
        &[("NO_COLOR", "1")]
    ));
    assert!(!coloured(
        &["--color", "never", "replay", &file],
        &[("CLICOLOR_FORCE", "1")]
    ));
    assert!(!coloured(
        &["replay", "--no-color", &file],
        &[("CLICOLOR_FORCE", "1")]
    ));
    // JSON is never coloured.
    assert!(!coloured(
        &["--color", "always", "replay", "--format", "json", &file],
        &[]
    ));
}

/// `-o -` is standard output, not a file named `-`.
#[test]
fn output_dash_is_standard_output() {
    let dir = crate::support::temp_dir("dash-output");
    let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .current_dir(&dir)
        .args([
            "replay",
            "--format",
            "json",
            "-o",
            "-",
            &session("y_happy_path.jsonl"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "PASS");
    assert!(!dir.join("-").exists(), "a file named - was written");
    let check = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .current_dir(&dir)
        .args(["check", "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["verdict"], "PASS");
    assert!(!dir.join("-").exists());
}

/// Completions for every shell clap_complete knows, man pages, the exit codes in every
/// command's help, the commit in `--version`.
#[test]
fn completions_man_pages_help_and_version() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = run(&["completions", shell]);
        for command in ["replay", "verify", "check", "simulate", "watch"] {
            assert!(
                script.contains(command),
                "{shell} completions lack {command}"
            );
        }
    }
    let man = run(&["man"]);
    assert!(man.contains(".TH cvnotify 1"));
    assert!(man.contains(".TH cvnotify-verify"), "a page per command");
    let version = run(&["--version"]);
    assert!(
        version
            .trim()
            .split(' ')
            .nth(2)
            .is_some_and(|c| c.len() > 2),
        "the commit is in the version: {version}"
    );
    for command in [
        "parse",
        "replay",
        "watch",
        "check",
        "verify",
        "simulate",
        "generate-recording",
        "diagram",
        "findings",
        "completions",
        "man",
    ] {
        let help = run(&[command, "--help"]);
        assert!(
            help.contains("Exit codes: 0"),
            "{command} --help has no exit codes"
        );
    }
}

/// Error messages name the call, the path or the flag, and say what to do.
#[test]
fn errors_name_the_call_the_path_or_the_flag_and_say_what_to_do() {
    let err = |args: &[&str]| {
        let out = crate::support::cvnotify_env(args, &[]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A flag of another command: said so, not a look-alike flag of this one.
    let (code, text) = err(&["check", "--emulator"]);
    assert_eq!(code, Some(2));
    assert!(
        text.contains("`check` has no `--emulator`; it is a flag of `watch`"),
        "{text}"
    );
    assert!(!text.contains("--platform"), "{text}");
    // A mistyped command is not offered the benchmarks' helper, unless it begins like it.
    let (code, text) = err(&["replay-recording"]);
    assert_eq!(code, Some(2));
    assert!(
        text.contains("'replay'") && !text.contains("generate-recording"),
        "{text}"
    );
    let (_, text) = err(&["generate"]);
    assert!(text.contains("generate-recording"), "{text}");
    // A storage answer that is not what the call documents names the call and the queue.
    let (_, text) = err(&["check", "--faults", "queue#1=malformed"]);
    assert!(
        text.contains("Get Messages on queue cvnotify-check-notifications: the answer is not what the call documents"),
        "{text}"
    );
    // A garbage training API answer is described, not echoed raw.
    let (_, text) = err(&["check", "--faults", "api#1=malformed"]);
    assert!(
        text.contains(
            "CreateProject: the answer is not the documented JSON: not JSON at line 1 column 1"
        ),
        "{text}"
    );
    // A queue URL without a queue name.
    let (code, text) = err(&[
        "watch",
        "--queue",
        "http://127.0.0.1:1/devstoreaccount1",
        "--drain",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        text.contains("--queue names no queue: give https://ACCOUNT.queue.core.windows.net/QUEUE"),
        "{text}"
    );
    // No SAS and no key: the refusal says what to do.
    let sim = crate::support::Simulate::start(&[]);
    let bare = sim.get("notificationQueueUri").to_string();
    let (code, text) = err(&["watch", "--queue", &bare, "--drain"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("403")
            && text.contains("the URL carries no SAS and no account key was given"),
        "{text}"
    );
    // Paths are named, and a bad report path fails before the run.
    let (code, text) = err(&["check", "-o", "/nonexistent/report.xml"]);
    assert_eq!(code, Some(2));
    assert!(
        text.contains("/nonexistent/report.xml") && !text.contains("check: created"),
        "{text}"
    );
    let (_, text) = err(&["check", "--record", "/dev/full"]);
    assert!(
        text.contains("/dev/full: No space left on device"),
        "{text}"
    );
    assert!(!text.contains("storage unreachable"), "{text}");
    // A long input to `parse` is reported at its size, not the size of what was read.
    let dir = crate::support::temp_dir("parse-big");
    let big = dir.join("big.txt");
    std::fs::write(&big, vec![b'a'; 1 << 20]).unwrap();
    let (code, text) = err(&["parse", big.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        text.contains("rejected: 1048576 bytes; a queue message carries at most 65536 bytes"),
        "{text}"
    );
}
