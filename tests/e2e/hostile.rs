//! The hostile-input catalogue (`cvnotify_harness::hostile`): at least 200 inputs made to break a
//! reader, each read without a panic; messages end in a typed error, a deviation, or (where a
//! technique can produce one, as a bit flip inside a GUID can) another valid message; recording
//! lines replay as one recording without stopping.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use cvnotify_core::{ParseOptions, parse};
use cvnotify_harness::hostile::{self, Reader};

#[test]
fn every_hostile_input_is_read_without_a_panic_and_with_a_typed_outcome() {
    let all = hostile::catalogue();
    assert!(all.len() >= 200, "only {} hostile inputs", all.len());
    let techniques: BTreeSet<&str> = all.iter().map(|h| h.technique).collect();
    assert_eq!(techniques.len(), 12, "{techniques:?}");
    let normal = parse(hostile::normal_message().as_bytes(), ParseOptions::STRICT).unwrap();
    let mut outcomes: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for h in all.iter().filter(|h| h.reader == Reader::Message) {
        let outcome = match parse(&h.bytes, ParseOptions::TOLERANT) {
            Err(e) => {
                assert!(
                    !e.code().is_empty() && !e.to_string().contains('\n'),
                    "{}: {e}",
                    h.name
                );
                "rejected"
            }
            Ok(p) if !p.deviations.is_empty() => "deviation",
            Ok(p) if p.notification == normal.notification => "same message",
            Ok(_) => {
                // Only techniques that change bytes at random may yield another valid message.
                assert!(
                    matches!(h.technique, "bit flip" | "truncation"),
                    "{} {}: accepted clean",
                    h.technique,
                    h.name
                );
                "other valid message"
            }
        };
        *outcomes.entry((h.technique, outcome)).or_default() += 1;
    }
    // The techniques meant to be refused are refused or flagged, never read as the original.
    for (technique, outcome) in outcomes.keys() {
        if !matches!(*technique, "bit flip" | "truncation" | "key case games") {
            assert_ne!(
                *outcome, "same message",
                "{technique} was read as the original message"
            );
        }
    }
    println!("hostile messages: {outcomes:?}");
}

#[test]
fn hostile_recording_lines_replay_as_one_recording() {
    let lines: Vec<Vec<u8>> = hostile::catalogue()
        .into_iter()
        .filter(|h| h.reader == Reader::RecordingLine)
        .map(|h| h.bytes)
        .collect();
    assert!(lines.len() >= 25);
    let mut file = b"{\"kind\":\"session\",\"version\":1,\"sources\":[\"queue\"]}\n".to_vec();
    for l in &lines {
        // A line break inside a hostile line would make two lines; the catalogue has none.
        assert!(!l.contains(&b'\n'));
        file.extend_from_slice(l);
        file.push(b'\n');
    }
    let dir = std::env::temp_dir().join(format!("cvnotify-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hostile.jsonl");
    std::fs::write(&path, &file).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(["replay", "--format", "json", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = &report["sessions"][0];
    assert_eq!(session["lines"], u64::try_from(lines.len() + 1).unwrap());
    let codes: Vec<&str> = session["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"unreadable-line") && codes.contains(&"secret-in-recording"),
        "{codes:?}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains("sig=abc") && !text.contains("abc=="),
        "a disguised secret was echoed"
    );
}
