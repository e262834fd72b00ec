//! The hostile-input catalogue: messages and recording lines made to break a reader, organised
//! by how they were made. Generated (deterministically) rather than stored, so every technique
//! stays a few readable lines. The tests assert that each is refused with a typed error or
//! accepted with a deviation, never a panic; `benches/hostile.rs` times each against a normal
//! message; `scripts/fuzz` seeds the fuzzers with them.

// The generator indexes within lengths it has just computed (loop bounds over the same text).
#![allow(clippy::indexing_slicing)]

use base64::Engine as _;

/// What a hostile input is fed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// The message parser (`cvnotify_core::parse`).
    Message,
    /// One line of the recording format.
    RecordingLine,
}

/// One hostile input.
#[derive(Clone, Debug)]
pub struct Hostile {
    /// How it was made.
    pub technique: &'static str,
    /// Which one.
    pub name: String,
    /// What reads it.
    pub reader: Reader,
    /// The bytes.
    pub bytes: Vec<u8>,
}

const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
const I: &str = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";

/// A normal Export notification, the base most techniques start from.
pub fn normal_message() -> String {
    format!(
        r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{I}","exportStatus":"ExportCompleted","modelUri":"https://cvbackup.blob.core.windows.net/backups/{P}%20-%20{I}.ONNX"}}}}"#
    )
}

/// A normal recording line carrying the normal message.
pub fn normal_line() -> String {
    let line = serde_json::json!({
        "kind": "message", "at": "2026-01-01T09:00:00Z", "queue": "q", "messageId": "m1",
        "dequeueCount": 1, "messageText": normal_message(),
    });
    line.to_string()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The catalogue.
pub fn catalogue() -> Vec<Hostile> {
    let mut all = Vec::new();
    let mut add = |technique: &'static str, name: String, reader: Reader, bytes: Vec<u8>| {
        all.push(Hostile {
            technique,
            name,
            reader,
            bytes,
        });
    };
    let msg = normal_message();
    let line = normal_line();
    use Reader::{Message as M, RecordingLine as L};

    // Truncation at every byte of a message, and of its base64 form.
    for n in 0..msg.len() {
        add(
            "truncation",
            format!("plain at byte {n}"),
            M,
            msg.as_bytes()[..n].to_vec(),
        );
    }
    let encoded = b64(&msg);
    for n in (0..encoded.len()).step_by(7) {
        add(
            "truncation",
            format!("base64 at byte {n}"),
            M,
            encoded.as_bytes()[..n].to_vec(),
        );
    }
    for n in (0..line.len()).step_by(9) {
        add(
            "truncation",
            format!("recording line at byte {n}"),
            L,
            line.as_bytes()[..n].to_vec(),
        );
    }
    // Bit flips: every bit of every eleventh byte.
    for n in (0..msg.len()).step_by(11) {
        for bit in 0..8 {
            let mut bytes = msg.clone().into_bytes();
            bytes[n] ^= 1 << bit;
            add("bit flip", format!("byte {n} bit {bit}"), M, bytes);
        }
    }
    // Key case games: documented keys in every case, and look-alikes.
    for (from, to) in [
        ("\"Content\"", "\"content\""),
        ("\"Content\"", "\"CONTENT\""),
        ("\"version\"", "\"Version\""),
        ("\"projectId\"", "\"PROJECTID\""),
        ("\"projectId\"", "\"projectıd\""),
        ("\"projectId\"", "\"project\u{200b}Id\""),
        ("\"modelUri\"", "\"modelURI\""),
        ("\"type\"", "\"Type\""),
        ("\"Export\"", "\"EXPORT\""),
        ("\"ExportCompleted\"", "\"exportcompleted\""),
    ] {
        add(
            "key case games",
            format!("{from} -> {to}"),
            M,
            msg.replacen(from, to, 1).into_bytes(),
        );
    }
    // Duplicated and shadowed keys, at each level.
    for (name, text) in [
        (
            "type twice",
            msg.replacen(
                "\"type\":\"Export\"",
                "\"type\":\"Export\",\"type\":\"Training\"",
                1,
            ),
        ),
        (
            "Content and content",
            msg.replacen("\"Content\":{", "\"content\":{},\"Content\":{", 1),
        ),
        (
            "projectId twice",
            msg.replacen(
                "\"projectId\"",
                &format!("\"projectId\":\"{I}\",\"projectId\""),
                1,
            ),
        ),
        (
            "projectId and ProjectId",
            msg.replacen(
                "\"projectId\"",
                &format!("\"ProjectId\":\"{I}\",\"projectId\""),
                1,
            ),
        ),
        (
            "escaped shadow",
            msg.replacen("\"version\"", "\"\\u0076ersion\":\"2.0\",\"version\"", 1),
        ),
        (
            "nested repeat",
            msg.replacen(
                "\"Content\":{",
                "\"x\":{\"a\":{\"b\":1,\"B\":2}},\"Content\":{",
                1,
            ),
        ),
    ] {
        add(
            "duplicated and shadowed keys",
            name.into(),
            M,
            text.into_bytes(),
        );
    }
    // Huge strings and sizes around the limit.
    for size in [1_000usize, 60_000, 65_400, 70_000, 1_000_000] {
        let big = "A".repeat(size);
        add(
            "huge strings",
            format!("{size}-byte unknown value"),
            M,
            msg.replacen(
                "{\"projectId\"",
                &format!("{{\"x\":\"{big}\",\"projectId\""),
                1,
            )
            .into_bytes(),
        );
        add(
            "huge strings",
            format!("{size}-byte type"),
            M,
            msg.replacen("\"Export\"", &format!("\"{big}\""), 1)
                .into_bytes(),
        );
    }
    add(
        "huge strings",
        "65,536 bytes of whitespace then JSON".into(),
        M,
        format!("{}{msg}", " ".repeat(65_536)).into_bytes(),
    );
    add(
        "huge strings",
        "1 MB recording line".into(),
        L,
        line.replacen("\"q\"", &format!("\"{}\"", "q".repeat(1_000_000)), 1)
            .into_bytes(),
    );
    // Deep nesting, arrays and objects, below and above the limit.
    for depth in [127usize, 128, 129, 1_000, 30_000] {
        add(
            "deep nesting",
            format!("{depth} arrays"),
            M,
            msg.replacen(
                "{\"projectId\"",
                &format!(
                    "{{\"x\":{}{},\"projectId\"",
                    "[".repeat(depth),
                    "]".repeat(depth)
                ),
                1,
            )
            .into_bytes(),
        );
        add(
            "deep nesting",
            format!("{depth} objects"),
            M,
            msg.replacen(
                "{\"projectId\"",
                &format!(
                    "{{\"x\":{}1{},\"projectId\"",
                    "{\"a\":".repeat(depth),
                    "}".repeat(depth)
                ),
                1,
            )
            .into_bytes(),
        );
        add(
            "deep nesting",
            format!("{depth} arrays, unclosed"),
            M,
            format!("{{\"x\":{}", "[".repeat(depth)).into_bytes(),
        );
    }
    // The slowest shape known: serde_json recomputes the error position at every level while an
    // error unwinds, scanning the text before it; depth is capped, so the cost stays linear.
    let newlines = "\n".repeat(65_000);
    let arrays = "[".repeat(127);
    add(
        "deep nesting",
        "65,000 newlines, 127 arrays, end".into(),
        M,
        format!("{{\"x\":{newlines}{arrays}").into_bytes(),
    );
    add(
        "deep nesting",
        "127 arrays, 65,000 newlines, end".into(),
        M,
        format!("{{\"x\":{arrays}{newlines}").into_bytes(),
    );
    add(
        "deep nesting",
        "recording line nested 10,000 deep".into(),
        L,
        format!("{{\"kind\":\"tick\",\"at\":{}", "[".repeat(10_000)).into_bytes(),
    );
    // Numbers and other kinds where strings go.
    for (field, value) in [
        ("\"1.0\"", "1.0"),
        ("\"1.0\"", "1e999"),
        ("\"Export\"", "7"),
        ("\"Export\"", "null"),
        ("\"ExportCompleted\"", "true"),
        (&format!("\"{P}\"") as &str, "12345678901234567890"),
        (&format!("\"{P}\"") as &str, "[]"),
        (&format!("\"{P}\"") as &str, "{}"),
    ] {
        add(
            "numbers where strings go",
            format!("{field} -> {value}"),
            M,
            msg.replacen(field, value, 1).into_bytes(),
        );
    }
    add(
        "numbers where strings go",
        "dequeueCount as a string".into(),
        L,
        line.replacen("\"dequeueCount\":1", "\"dequeueCount\":\"1\"", 1)
            .into_bytes(),
    );
    add(
        "numbers where strings go",
        "dequeueCount negative".into(),
        L,
        line.replacen("\"dequeueCount\":1", "\"dequeueCount\":-1", 1)
            .into_bytes(),
    );
    add(
        "numbers where strings go",
        "at as a number".into(),
        L,
        line.replacen("\"2026-01-01T09:00:00Z\"", "1767258000", 1)
            .into_bytes(),
    );
    // Invalid and overlong UTF-8.
    for (name, seq) in [
        ("lone continuation byte", &b"\x80"[..]),
        ("overlong slash", b"\xc0\xaf"),
        ("overlong NUL", b"\xc0\x80"),
        ("surrogate half", b"\xed\xa0\x80"),
        ("beyond U+10FFFF", b"\xf4\x90\x80\x80"),
        ("truncated sequence", b"\xe2\x82"),
        ("0xFF", b"\xff"),
    ] {
        let mut bytes = msg.clone().into_bytes();
        let at = bytes.iter().position(|b| *b == b'E').unwrap_or(0);
        bytes.splice(at..at, seq.iter().copied());
        add("invalid and overlong UTF-8", name.into(), M, bytes.clone());
        let mut l = line.clone().into_bytes();
        let at = l.iter().position(|b| *b == b'q').unwrap_or(0);
        l.splice(at..at, seq.iter().copied());
        add(
            "invalid and overlong UTF-8",
            format!("{name} in a recording line"),
            L,
            l,
        );
    }
    // Base64 with wrong padding or alphabet.
    let good = b64(&msg);
    // A variant of the message whose base64 ends in padding, so that removing it means something.
    let padded = (0..3)
        .map(|k| b64(&format!("{msg}{}", " ".repeat(k))))
        .find(|e| e.ends_with('='))
        .unwrap_or_default();
    for (name, text) in [
        ("padding removed", padded.trim_end_matches('=').to_string()),
        ("padding doubled", format!("{good}==")),
        (
            "URL-safe alphabet",
            base64::engine::general_purpose::URL_SAFE.encode(format!("{msg}???>>>")),
        ),
        (
            "line breaks every 76",
            good.as_bytes()
                .chunks(76)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("\r\n"),
        ),
        (
            "space in the middle",
            format!("{} {}", &good[..20], &good[20..]),
        ),
        ("base64 of base64", b64(&good)),
        ("trailing newline", format!("{good}\n")),
        (
            "non-canonical last symbol",
            format!("{}B=", &b64("{\"a\":1}")[..10]),
        ),
    ] {
        add(
            "base64 with wrong padding or alphabet",
            name.into(),
            M,
            text.into_bytes(),
        );
    }
    // JSON inside a JSON string.
    add(
        "JSON inside a JSON string",
        "whole message as a string".into(),
        M,
        serde_json::to_string(&msg).unwrap_or_default().into_bytes(),
    );
    add(
        "JSON inside a JSON string",
        "Content as a string".into(),
        M,
        msg.replacen(
            &msg[msg.find("{\"projectId").unwrap_or(0)..msg.len() - 1],
            &serde_json::to_string(&msg[msg.find("{\"projectId").unwrap_or(0)..msg.len() - 1])
                .unwrap_or_default(),
            1,
        )
        .into_bytes(),
    );
    add(
        "JSON inside a JSON string",
        "recording line as a string".into(),
        L,
        serde_json::to_string(&line)
            .unwrap_or_default()
            .into_bytes(),
    );
    // Byte-order marks.
    add(
        "byte-order marks",
        "UTF-8 BOM".into(),
        M,
        [b"\xef\xbb\xbf".as_slice(), msg.as_bytes()].concat(),
    );
    add(
        "byte-order marks",
        "UTF-16 LE BOM".into(),
        M,
        [b"\xff\xfe".as_slice(), msg.as_bytes()].concat(),
    );
    add(
        "byte-order marks",
        "BOM inside base64".into(),
        M,
        b64(&format!("\u{feff}{msg}")).into_bytes(),
    );
    add(
        "byte-order marks",
        "BOM before a recording line".into(),
        L,
        [b"\xef\xbb\xbf".as_slice(), line.as_bytes()].concat(),
    );
    // Secrets in disguise in recording lines.
    for (name, text) in [
        ("sig in a blob name", r#"{"kind":"blob","at":"2026-01-01T09:00:00Z","container":"c","event":"created","name":"x?sig=abc"}"#.to_string()),
        ("escaped sig", line.replacen("\"q\"", "\"https://a/q?\\u0073ig=abc\"", 1)),
        ("percent-encoded sig", line.replacen("\"q\"", "\"https://a/q?%73ig=abc\"", 1)),
        ("account key", line.replacen("\"q\"", "\"AccountKey=abc==;\"", 1)),
        ("sig inside base64 message", line.replacen(&serde_json::to_string(&msg).unwrap_or_default(), &format!("\"{}\"", b64(&msg.replacen(".ONNX", ".ONNX?sig=abc", 1))), 1)),
    ] {
        add("secrets in disguise", name.into(), L, text.into_bytes());
    }
    all
}

/// Reads one hostile input with its reader; `true` when it was accepted.
pub fn read(h: &Hostile) -> bool {
    match h.reader {
        Reader::Message => {
            cvnotify_core::parse(&h.bytes, cvnotify_core::ParseOptions::TOLERANT).is_ok()
        }
        Reader::RecordingLine => std::str::from_utf8(&h.bytes)
            .ok()
            .is_some_and(|text| crate::recording::read_line(text, 2).is_ok()),
    }
}
