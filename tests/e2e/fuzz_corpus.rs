//! The fuzz targets' bodies on stable, over every input they have ever been given: the message
//! and session corpora, the local fuzz corpora when present (`fuzz/corpus/<target>`, written by
//! `scripts/fuzz`), and every crash reproducer in `fuzz/regressions/<target>` (committed).

use std::path::Path;

use cvnotify_harness::fuzzing;

use crate::support::repo_root;

/// Every regular file in a folder, if it exists.
fn files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(std::path::PathBuf, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".keep"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, b)| b).collect()
}

fn fuzz_inputs(target: &str) -> Vec<Vec<u8>> {
    let root = repo_root().join("fuzz");
    let mut inputs = files(&root.join("regressions").join(target));
    inputs.extend(files(&root.join("corpus").join(target)));
    inputs
}

fn session_lines() -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for file in files(&repo_root().join("corpus/sessions")) {
        lines.extend(file.split(|b| *b == b'\n').map(<[u8]>::to_vec));
    }
    lines
}

#[test]
fn parse_message_over_every_message_ever_fuzzed() {
    let mut inputs = files(&repo_root().join("corpus/messages"));
    inputs.extend(fuzz_inputs("parse_message"));
    assert!(inputs.len() >= 133);
    inputs.iter().for_each(|i| fuzzing::parse_message(i));
}

#[test]
fn recording_line_over_every_line_ever_fuzzed() {
    let mut inputs = session_lines();
    inputs.extend(fuzz_inputs("recording_line"));
    inputs.iter().for_each(|i| fuzzing::recording_line(i));
}

#[test]
fn blob_name_over_every_name_ever_fuzzed() {
    let mut inputs: Vec<Vec<u8>> = [
        "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b - 1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b.ONNX",
        "0F5A1C2E-3B4D-4E6F-8A9B-0C1D2E3F4A5B - 1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b.zip",
        "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b%20-%201b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b.CoreML",
        "https://a.blob.core.windows.net/c/x?sv=1&sig=abc%3D&se=2",
        "https://user:pw@[::1]:10000/devstoreaccount1/c/",
        "CustomVision-TestPermission/test",
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    inputs.extend(session_lines());
    inputs.extend(fuzz_inputs("blob_name"));
    inputs.iter().for_each(|i| fuzzing::blob_name(i));
}

#[test]
fn tracker_over_every_sequence_ever_fuzzed() {
    let mut inputs = fuzz_inputs("tracker");
    // Deterministic pseudo-random sequences, so the target runs on stable even without a corpus.
    let mut x: u64 = 0x243f_6a88_85a3_08d3;
    for len in [0usize, 1, 7, 64, 512, 2048] {
        let bytes = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect();
        inputs.push(bytes);
    }
    inputs.iter().for_each(|i| fuzzing::tracker(i));
}

#[test]
fn queue_xml_over_every_body_ever_fuzzed() {
    let mut inputs: Vec<Vec<u8>> = [
        "<QueueMessagesList/>",
        "<QueueMessagesList><QueueMessage><MessageId>m</MessageId><InsertionTime>Fri, 09 Oct 2009 21:04:30 GMT</InsertionTime><MessageText>a &amp; b</MessageText></QueueMessage></QueueMessagesList>",
        "<EnumerationResults><Blobs><Blob><Name>a b</Name></Blob></Blobs><NextMarker>x</NextMarker></EnumerationResults>",
        "<Error><Code>QueueNotFound</Code></Error>",
        "<a><b>",
        "{\"version\":\"1.0\"}",
        "text with <, & and ]]>",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    inputs.extend(files(&repo_root().join("corpus/messages")));
    inputs.extend(fuzz_inputs("queue_xml"));
    inputs.iter().for_each(|i| fuzzing::queue_xml(i));
}
