//! Properties of the parser over generated messages: the canonical form round-trips, base64
//! carries the same value, key case games only add deviations, strict and tolerant agree, and
//! no input (random bytes, or a valid message mangled) panics or gives two different answers.

use base64::Engine as _;
use cvnotify_core::{
    DeviationKind, Encoding, ExportStatus, IterationId, ModelUri, Notification, ParseErrorKind,
    ParseOptions, ProjectId, TrainingStatus, parse,
};
use proptest::prelude::*;

fn project_id() -> impl Strategy<Value = ProjectId> {
    any::<[u8; 16]>().prop_map(ProjectId::from_bytes)
}

fn iteration_id() -> impl Strategy<Value = IterationId> {
    any::<[u8; 16]>().prop_map(IterationId::from_bytes)
}

/// Absolute http(s) URIs of the shapes the service writes, some with a SAS query.
fn model_uri() -> impl Strategy<Value = ModelUri> {
    (
        prop::bool::ANY,
        "[a-z][a-z0-9]{2,12}",
        proptest::collection::vec("[A-Za-z0-9._~-]{1,12}|%20|%2F", 1..4),
        prop::option::of("[A-Za-z0-9]{4,40}(%3D)?"),
    )
        .prop_map(|(https, host, segments, sig)| {
            let scheme = if https { "https" } else { "http" };
            let mut text = format!(
                "{scheme}://{host}.blob.core.windows.net/{}",
                segments.join("/")
            );
            if let Some(sig) = sig {
                text.push_str(&format!("?sv=2021-08-06&sr=b&sig={sig}"));
            }
            ModelUri::parse(&text).unwrap()
        })
}

pub(crate) fn notification() -> impl Strategy<Value = Notification> {
    prop_oneof![
        project_id().prop_map(|project_id| Notification::ConnectionTest { project_id }),
        (
            project_id(),
            iteration_id(),
            prop::sample::select(TrainingStatus::ALL.to_vec())
        )
            .prop_map(
                |(project_id, iteration_id, status)| Notification::Training {
                    project_id,
                    iteration_id,
                    status
                }
            ),
        (project_id(), iteration_id(), model_uri()).prop_map(|(project_id, iteration_id, uri)| {
            Notification::Export {
                project_id,
                iteration_id,
                status: ExportStatus::ExportCompleted,
                model_uri: Some(uri),
            }
        }),
        (project_id(), iteration_id(), prop::option::of(model_uri())).prop_map(
            |(project_id, iteration_id, model_uri)| Notification::Export {
                project_id,
                iteration_id,
                status: ExportStatus::ExportFailed,
                model_uri,
            }
        ),
        "[A-Za-z]{1,16}"
            .prop_filter("not a documented type", |k| {
                !["connectiontest", "training", "export"].contains(&k.to_ascii_lowercase().as_str())
            })
            .prop_map(|kind| Notification::Unrecognized { kind }),
    ]
}

/// An edit that mangles a message.
#[derive(Clone, Debug)]
enum Edit {
    Flip { at: usize, bit: u8 },
    Delete { at: usize, len: usize },
    Insert { at: usize, byte: u8 },
    Truncate { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        (any::<usize>(), 1usize..8).prop_map(|(at, len)| Edit::Delete { at, len }),
        (
            any::<usize>(),
            prop::sample::select(b"{}[]\",:\\ 0aA=/+-\x00\xff".to_vec())
        )
            .prop_map(|(at, byte)| Edit::Insert { at, byte }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    if bytes.is_empty() {
        return;
    }
    match *edit {
        Edit::Flip { at, bit } => {
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
        }
        Edit::Delete { at, len } => {
            let i = at % bytes.len();
            let end = (i + len).min(bytes.len());
            bytes.drain(i..end);
        }
        Edit::Insert { at, byte } => bytes.insert(at % (bytes.len() + 1), byte),
        Edit::Truncate { at } => bytes.truncate(at % bytes.len()),
    }
}

/// Checks everything that must hold for any input, and returns the tolerant outcome.
fn check_any_input(raw: &[u8]) {
    let tolerant = parse(raw, ParseOptions::TOLERANT);
    assert_eq!(
        parse(raw, ParseOptions::TOLERANT),
        tolerant,
        "not deterministic"
    );
    let strict = parse(raw, ParseOptions::STRICT);
    match (&tolerant, &strict) {
        (Ok(t), Ok(s)) => {
            assert!(t.deviations.is_empty());
            assert_eq!(t, s);
        }
        (Ok(t), Err(e)) => {
            assert!(matches!(e.kind(), ParseErrorKind::Strict { .. }), "{e}");
            assert!(!t.deviations.is_empty());
        }
        (Err(t), Err(s)) => assert_eq!(t, s),
        (Err(e), Ok(_)) => panic!("strict accepted what tolerant rejected: {e}"),
    }
    if let Ok(p) = &tolerant {
        // What was accepted has a canonical form that reads back to the same value.
        let again = parse(
            p.notification.canonical_json().as_bytes(),
            ParseOptions::TOLERANT,
        )
        .unwrap();
        assert_eq!(again.notification, p.notification);
    }
    if let Err(e) = &tolerant {
        // Every error prints as one line.
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_form_round_trips(n in notification()) {
        let text = n.canonical_json();
        // Strict for the documented kinds: their canonical form has no deviation at all.
        let options = if n.kind().is_some() { ParseOptions::STRICT } else { ParseOptions::TOLERANT };
        let parsed = parse(text.as_bytes(), options).unwrap();
        prop_assert_eq!(parsed.encoding, Encoding::Plain);
        prop_assert_eq!(parsed.version.as_str(), "1.0");
        prop_assert_eq!(&parsed.notification, &n);
        prop_assert_eq!(parsed.notification.canonical_json(), text);
    }

    #[test]
    fn base64_carries_the_same_value(n in notification()) {
        let text = n.canonical_json();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&text);
        let plain = parse(text.as_bytes(), ParseOptions::TOLERANT).unwrap();
        let decoded = parse(encoded.as_bytes(), ParseOptions::TOLERANT).unwrap();
        prop_assert_eq!(decoded.encoding, Encoding::Base64);
        prop_assert_eq!(decoded.notification, plain.notification);
        prop_assert_eq!(decoded.deviations, plain.deviations);
    }

    /// Rule 3: changing the letter case of documented keys changes nothing but deviations,
    /// one `key-case` per changed key.
    #[test]
    fn key_case_changes_only_add_deviations(
        n in notification().prop_filter("documented", |n| n.kind().is_some()),
        flips in proptest::collection::vec(any::<bool>(), 8),
    ) {
        let mut value: serde_json::Value = serde_json::from_str(&n.canonical_json()).unwrap();
        let mut changed = 0;
        let obj = value.as_object_mut().unwrap();
        let mut content = obj.remove("Content").unwrap();
        let inner = content.as_object_mut().unwrap();
        let inner_keys: Vec<String> = inner.keys().cloned().collect();
        for (k, flip) in inner_keys.iter().zip(&flips) {
            if *flip {
                let v = inner.remove(k).unwrap();
                inner.insert(k.to_ascii_uppercase(), v);
                changed += 1;
            }
        }
        let top = if flips[7] { changed += 1; "CONTENT" } else { "Content" };
        obj.insert(top.to_string(), content);
        let parsed = parse(value.to_string().as_bytes(), ParseOptions::TOLERANT).unwrap();
        prop_assert_eq!(&parsed.notification, &n);
        prop_assert_eq!(parsed.deviations.len(), changed);
        let all_key_case = parsed.deviations.iter().all(|d| matches!(d.kind, DeviationKind::KeyCase { .. }));
        prop_assert!(all_key_case, "{:?}", parsed.deviations);
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_any_input(&raw);
    }

    #[test]
    fn mangled_messages_never_panic(
        n in notification(),
        base64 in any::<bool>(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let text = n.canonical_json();
        let mut raw = if base64 {
            base64::engine::general_purpose::STANDARD.encode(&text).into_bytes()
        } else {
            text.into_bytes()
        };
        for e in &edits {
            apply(&mut raw, e);
        }
        check_any_input(&raw);
    }
}

/// Wide and deep hostile shapes stay within the limits without overflowing the stack.
#[test]
fn wide_and_deep_inputs_are_handled() {
    let wide: String = (0..5000).map(|i| format!("\"k{i}\":{i},")).collect();
    let msg = format!(
        "{{{wide}\"version\":\"1.0\",\"type\":\"ConnectionTest\",\"Content\":{{\"projectId\":\"0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b\"}}}}"
    );
    let parsed = parse(msg.as_bytes(), ParseOptions::TOLERANT).unwrap();
    assert_eq!(parsed.deviations.len(), 5000);
    for depth in [200, 20_000] {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        let e = parse(deep.as_bytes(), ParseOptions::TOLERANT).unwrap_err();
        assert_eq!(
            e.code(),
            if deep.len() > 65_536 {
                "too-large"
            } else {
                "too-deep"
            }
        );
    }
    let deep_objects = format!("{{{}{}}}", "\"a\":{".repeat(150), "}".repeat(150));
    assert_eq!(
        parse(deep_objects.as_bytes(), ParseOptions::TOLERANT)
            .unwrap_err()
            .code(),
        "too-deep"
    );
}

/// The deepest accepted nesting, and the first refused one, fit in a small thread stack (debug
/// build frames included): recursion is bounded by `MAX_DEPTH`, whatever the input.
#[test]
fn nesting_limit_fits_a_small_stack() {
    let corpus = crate::support::repo_root().join("corpus/messages");
    let deepest = std::fs::read(corpus.join("i_depth_128.msg")).unwrap();
    let refused = std::fs::read(corpus.join("n_depth_129.msg")).unwrap();
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let ok = parse(&deepest, ParseOptions::TOLERANT).is_ok();
            let err = parse(&refused, ParseOptions::TOLERANT)
                .map(|_| ())
                .unwrap_err();
            (ok, err.code())
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), (true, "too-deep"));
}
