//! Replay with projects spilled to disk (`replay --spill-after`): the report equals that of one
//! tracker holding every project, for every session of the corpus, for generated recordings
//! of many projects, and for ids bunched so that ranges split down to their last digits.

use std::io::BufRead;
use std::num::NonZeroUsize;

use cvnotify_harness::generate::{Shape, Spec, generate};
use cvnotify_harness::replay::{Spill, replay_streaming};
use cvnotify_harness::report::Rules;

use crate::support::repo_root;

/// The report of `recording` (without its timing), with at most `projects` held in memory.
fn report(recording: &[u8], projects: usize) -> serde_json::Value {
    let spill = Spill {
        projects: NonZeroUsize::new(projects).unwrap(),
        dir: None,
    };
    let input: Vec<(String, Box<dyn BufRead>)> = vec![("r".into(), Box::new(recording))];
    let report = replay_streaming("r", input, &Rules::default(), |_| {}, None, spill).unwrap();
    let mut value = serde_json::to_value(&report).unwrap();
    value.as_object_mut().unwrap().remove("seconds");
    value
}

fn same_report_however_few_are_held(name: &str, recording: &[u8], bounds: &[usize]) {
    let whole = report(recording, usize::MAX);
    let any = |key: &str| whole[key].as_array().is_some_and(|a| !a.is_empty());
    assert!(
        any("projects") || any("checks") || any("clients"),
        "{name}: the report judged something"
    );
    for &bound in bounds {
        assert_eq!(report(recording, bound), whole, "{name}, {bound} held");
    }
}

#[test]
fn every_corpus_session_reports_the_same_with_projects_spilled() {
    let dir = repo_root().join("corpus/sessions");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let recording = std::fs::read(&path).unwrap();
        same_report_however_few_are_held(&path.display().to_string(), &recording, &[1, 2]);
        seen += 1;
    }
    assert!(seen >= 20, "the corpus was read");
}

#[test]
fn generated_recordings_of_many_projects_report_the_same_spilled() {
    for (shape, lines, projects) in [
        (Shape::Lifecycles, 30_000, 400),
        (Shape::Steady, 30_000, 3_000),
    ] {
        let mut recording = Vec::new();
        generate(
            Spec {
                lines,
                projects,
                shape,
            },
            &mut recording,
        )
        .unwrap();
        // 3 and 40 go two and three digits deep; 1,000 one.
        same_report_however_few_are_held(&format!("{shape:?}"), &recording, &[3, 40, 1_000]);
    }
}

/// The corpus's happy path, for 64 projects whose ids share their first 30 hex digits, their
/// lines interleaved: each range splits down to the last two digits.
#[test]
fn bunched_ids_split_down_to_their_last_digits() {
    let template =
        std::fs::read_to_string(repo_root().join("corpus/sessions/y_happy_path.jsonl")).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    let (first, rest) = lines.split_first().unwrap();
    let (body, tail) = rest.split_at(rest.len() - 2);
    let mut recording = format!("{first}\n");
    for line in body {
        for n in 0..64u32 {
            let line = line
                .replace(
                    "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b",
                    &format!("7777aaaa-0000-4000-8000-0000000000{:02x}", n * 3),
                )
                .replace(
                    "00000000-0000-4000-8000-",
                    &format!("{n:08x}-0000-4000-8000-"),
                );
            recording.push_str(&line);
            recording.push('\n');
        }
    }
    for line in tail {
        recording.push_str(line);
        recording.push('\n');
    }
    let whole = report(recording.as_bytes(), usize::MAX);
    assert_eq!(whole["verdict"], "PASS", "{whole:#}");
    assert_eq!(whole["projects"].as_array().unwrap().len(), 64);
    same_report_however_few_are_held("bunched", recording.as_bytes(), &[1, 5, 17]);
}

/// As a user runs it: the flags are range-checked, `--spill-dir` must be a directory, and a run
/// that spilled leaves nothing in it and writes the report one tracker would.
#[test]
fn the_spill_flags_are_checked_and_a_spilling_run_leaves_nothing_behind() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cvnotify"))
            .args(args)
            .output()
            .unwrap()
    };
    let corpus = repo_root().join("corpus/sessions/y_several_projects_interleaved.jsonl");
    let file = corpus.to_str().unwrap();
    for value in ["0", "100000001", "lots"] {
        let out = run(&["replay", file, "--spill-after", value]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--spill-after {value}");
        assert!(
            err.contains("--spill-after") && !err.contains("panicked"),
            "{err}"
        );
    }
    let out = run(&["replay", file, "--spill-dir", "/nonexistent/cvnotify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));

    let dir = crate::support::temp_dir("spill-dir");
    let whole = run(&["replay", file, "--format", "jsonl"]);
    let spilled = run(&[
        "replay",
        file,
        "--format",
        "jsonl",
        "--spill-after",
        "1",
        "--spill-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(spilled.status.code(), whole.status.code());
    assert_eq!(spilled.stdout, whole.stdout);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing left behind"
    );
}
