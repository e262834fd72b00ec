//! Parses one benchmark message N times with one parser, for instruction counting under
//! `valgrind --tool=callgrind` (repeatable where wall-clock time on a shared machine is not).
//! Usage: parse_count typed|value|derive connection_test|training|export plain|base64 N
//! `scripts/bench-parse` runs it; nothing else needs to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use base64::Engine as _;
use cvnotify_core::{ParseOptions, parse};

#[path = "../benches/parse_inputs.rs"]
mod parse_inputs;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [parser, kind, encoding, n] = args.as_slice() else {
        panic!("usage: parse_count typed|value|derive KIND plain|base64 N");
    };
    let n: usize = n.parse().unwrap();
    let json = parse_inputs::messages()
        .into_iter()
        .find(|(k, _)| k == kind)
        .unwrap()
        .1;
    let b64 = base64::engine::general_purpose::STANDARD;
    let input = match encoding.as_str() {
        "plain" => json.into_bytes(),
        "base64" => b64.encode(json).into_bytes(),
        other => panic!("encoding {other}"),
    };
    // The baselines read plain text as it is and decode base64 first, as in the benchmark.
    let base64 = encoding == "base64";
    fn decode<'a>(base64: bool, bytes: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        match base64 {
            true => base64::engine::general_purpose::STANDARD
                .decode(bytes)
                .unwrap()
                .into(),
            false => bytes.into(),
        }
    }
    let mut accepted = 0usize;
    for _ in 0..n {
        let raw = black_box(input.as_slice());
        accepted += match parser.as_str() {
            "typed" => parse(raw, ParseOptions::STRICT).is_ok(),
            "value" => serde_json::from_slice::<serde_json::Value>(&decode(base64, raw)).is_ok(),
            "derive" => {
                serde_json::from_slice::<parse_inputs::Floor<'_>>(&decode(base64, raw)).is_ok()
            }
            other => panic!("parser {other}"),
        } as usize;
    }
    assert_eq!(accepted, n);
}
