//! The published contract (`docs/notifications.schema.json`) held to the parser over the whole
//! message corpus: the schema is the documented shape, which the parser accepts in `--strict`
//! mode. Every message the strict parser accepts validates; every message it rejects for a
//! reason a schema can express is rejected by the schema; the rest are in [`BEYOND_A_SCHEMA`],
//! by name, with the reason. The list must be exact: a case that starts to agree, or a new one
//! that disagrees, fails the test.

use base64::Engine as _;
use cvnotify_core::{ParseOptions, parse};

use crate::support::{message_files, repo_root};

/// The cases where the strict parser and the schema part ways, and why a schema cannot say it.
const BEYOND_A_SCHEMA: &[(&str, &str)] = &[
    (
        "n_base64_extra_padding",
        "encoding: not standard padded base64 (a schema sees the decoded JSON only)",
    ),
    (
        "n_base64_half_padding",
        "encoding: not standard padded base64",
    ),
    (
        "n_base64_invalid_character",
        "encoding: a character outside the base64 alphabet",
    ),
    (
        "n_base64_line_wrapped",
        "encoding: line breaks inside base64",
    ),
    (
        "n_base64_missing_padding",
        "encoding: base64 without its padding",
    ),
    (
        "n_base64_non_canonical_last_symbol",
        "encoding: base64 whose last symbol has bits set that the data does not use",
    ),
    (
        "n_base64_of_base64",
        "encoding: base64 of base64 (decoded once, the text is still not JSON)",
    ),
    (
        "n_base64_of_bom_json",
        "text: the decoded JSON starts with a byte-order mark",
    ),
    (
        "n_base64_of_invalid_utf8",
        "text: the decoded bytes are not UTF-8",
    ),
    (
        "n_base64_of_plain_text",
        "text: the decoded bytes are not JSON",
    ),
    (
        "n_base64_trailing_newline",
        "encoding: a newline after the base64",
    ),
    (
        "n_base64_url_safe_alphabet",
        "encoding: the URL-safe base64 alphabet",
    ),
    (
        "n_byte_order_mark",
        "text: a byte-order mark before the JSON",
    ),
    ("n_comment", "text: a comment, which JSON does not have"),
    (
        "n_control_character_in_string",
        "text: an unescaped control character in a string",
    ),
    (
        "n_doc_export_sample_placeholder",
        "text: the guide's own sample has a {url} placeholder, not JSON",
    ),
    (
        "n_duplicate_key_escaped",
        "keys: a key given twice, once escaped (a JSON value keeps one of them)",
    ),
    (
        "n_duplicate_key_project_id_exact",
        "keys: a key given twice (a JSON value keeps one of them)",
    ),
    ("n_empty", "text: empty"),
    ("n_invalid_utf8_in_string", "text: bytes that are not UTF-8"),
    (
        "n_lone_surrogate_escape",
        "text: an escaped lone surrogate, which is no Unicode text",
    ),
    (
        "n_number_out_of_range",
        "text: a number beyond a 64-bit float",
    ),
    ("n_overlong_utf8_slash", "text: an overlong UTF-8 encoding"),
    (
        "n_single_quotes",
        "text: single-quoted strings, which JSON does not have",
    ),
    ("n_too_large", "size: the text is over 64 KiB"),
    (
        "n_trailing_characters",
        "text: characters after the JSON value",
    ),
    (
        "n_trailing_comma",
        "text: a trailing comma, which JSON does not have",
    ),
    ("n_truncated", "text: the JSON ends early"),
    ("n_two_objects", "text: two JSON values"),
    ("n_utf16_le", "text: UTF-16, not UTF-8"),
    ("n_whitespace_only", "text: whitespace only"),
];

/// What the schema says of a message text: `None` when the text is no JSON document the schema
/// could be applied to (the text-level rules: encoding, UTF-8, size, depth, number range).
fn schema_verdict(validator: &jsonschema::Validator, raw: &[u8]) -> Option<bool> {
    // Any depth: the depth limit is the parser's own rule (the schema sees the whole value).
    let json_of = |bytes: &[u8]| -> Option<serde_json::Value> {
        use serde::Deserialize as _;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        de.disable_recursion_limit();
        let value = serde_json::Value::deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(value)
    };
    let json = json_of(raw).or_else(|| {
        let text = std::str::from_utf8(raw).ok()?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?;
        json_of(&decoded)
    })?;
    Some(validator.is_valid(&json))
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("docs/notifications.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(false)
        .build(&schema)
        .unwrap()
}

#[test]
fn the_schema_agrees_with_the_strict_parser_over_the_corpus_but_where_listed() {
    let validator = validator();
    let mut parted = Vec::new();
    for path in message_files() {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let raw = std::fs::read(&path).unwrap();
        let parser = parse(&raw, ParseOptions::STRICT).is_ok();
        let schema = schema_verdict(&validator, &raw);
        if schema != Some(parser) {
            parted.push((name, parser, schema));
        }
    }
    let listed: Vec<&str> = BEYOND_A_SCHEMA.iter().map(|(n, _)| *n).collect();
    let found: Vec<&str> = parted.iter().map(|(n, ..)| n.as_str()).collect();
    if std::env::var("CVNOTIFY_SCHEMA_DUMP").is_ok() {
        for p in &parted {
            eprintln!("{p:?}");
        }
    }
    for (name, parser, schema) in &parted {
        assert!(
            listed.contains(&name.as_str()),
            "{name}: the strict parser {} it, the schema {}; fix the schema, or list it with the reason",
            if *parser { "accepts" } else { "rejects" },
            match schema {
                Some(true) => "accepts it",
                Some(false) => "rejects it",
                None => "cannot be applied (not a JSON document)",
            }
        );
    }
    for name in &listed {
        assert!(
            found.contains(name),
            "{name} is listed as beyond a schema, but the schema and the parser agree on it"
        );
    }
    // The parser is never the more permissive one where a schema could say no: every listed
    // case is one the parser rejects.
    assert!(parted.iter().all(|(_, parser, _)| !parser), "{parted:?}");
}

#[test]
fn the_schema_examples_are_notifications_the_parser_accepts() {
    let text = std::fs::read_to_string(repo_root().join("docs/notifications.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = validator();
    let mut seen = 0;
    for kind in ["ConnectionTest", "Training", "Export"] {
        for example in schema["$defs"][kind]["examples"].as_array().unwrap() {
            let raw = serde_json::to_vec(example).unwrap();
            assert!(validator.is_valid(example), "{kind}: {example}");
            parse(&raw, ParseOptions::STRICT).unwrap_or_else(|e| panic!("{kind}: {e}"));
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
}

#[test]
fn cvnotify_schema_prints_and_writes_the_documents_in_docs() {
    use crate::support::cvnotify_env;
    let docs = repo_root().join("docs");
    let schema = std::fs::read(docs.join("notifications.schema.json")).unwrap();
    let asyncapi = std::fs::read(docs.join("asyncapi.yaml")).unwrap();
    let printed = cvnotify_env(&["schema"], &[]);
    assert_eq!(printed.status.code(), Some(0));
    assert_eq!(printed.stdout, schema);
    let printed = cvnotify_env(&["schema", "--format", "asyncapi"], &[]);
    assert_eq!(printed.stdout, asyncapi);
    let dir = crate::support::temp_dir("schema-out");
    let out = dir.join("contract");
    let written = cvnotify_env(&["schema", "--out", out.to_str().unwrap()], &[]);
    assert_eq!(written.status.code(), Some(0));
    assert_eq!(
        std::fs::read(out.join("notifications.schema.json")).unwrap(),
        schema
    );
    assert_eq!(std::fs::read(out.join("asyncapi.yaml")).unwrap(), asyncapi);
    // A place it cannot write is a usage of the run, said so, exit 2.
    let blocked = dir.join("a-file");
    std::fs::write(&blocked, "x").unwrap();
    let refused = cvnotify_env(&["schema", "--out", blocked.to_str().unwrap()], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot write into"));
}
