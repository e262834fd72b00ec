//! Correlated redaction for snapshots: the same GUID becomes the same placeholder everywhere in
//! one document (`<project-1>`, `<iteration-2>`, `<guid-3>`), so equalities between ids stay
//! visible; RFC 3339 times become offsets from the earliest time in the document (`<t+65s>`),
//! so order and distances stay visible. insta's own redactions cannot correlate.

use std::collections::BTreeMap;

fn is_guid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Replaces every GUID in `text`, naming it by role: `projects` and `iterations` list the ids
/// known to be of that kind.
pub(crate) fn guids(text: &str, projects: &[String], iterations: &[String]) -> String {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if i + 36 <= bytes.len()
            && is_guid(&bytes[i..i + 36])
            && (i == 0 || !bytes[i - 1].is_ascii_hexdigit())
        {
            let id = text[i..i + 36].to_ascii_lowercase();
            let role = if projects.contains(&id) {
                "project"
            } else if iterations.contains(&id) {
                "iteration"
            } else {
                "guid"
            };
            let name = names.entry(id).or_insert_with(|| {
                let n = counters.entry(role).or_insert(0);
                *n += 1;
                format!("<{role}-{n}>")
            });
            out.push_str(name);
            i += 36;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Replaces every JSON string value that is an RFC 3339 time with its offset from the earliest.
pub(crate) fn times(value: &mut serde_json::Value) {
    fn collect(v: &serde_json::Value, out: &mut Vec<i128>) {
        match v {
            serde_json::Value::String(s) => {
                if let Ok(t) =
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                {
                    out.push(t.unix_timestamp_nanos() / 1_000_000);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    fn replace(v: &mut serde_json::Value, start: i128) {
        match v {
            serde_json::Value::String(s) => {
                if let Ok(t) =
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                {
                    let ms = t.unix_timestamp_nanos() / 1_000_000 - start;
                    *s = if ms % 1000 == 0 {
                        format!("<t+{}s>", ms / 1000)
                    } else {
                        format!("<t+{ms}ms>")
                    };
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| replace(x, start)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| replace(x, start)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    collect(value, &mut all);
    if let Some(start) = all.into_iter().min() {
        replace(value, start);
    }
}

#[test]
fn equal_ids_share_a_placeholder() {
    let p = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b".to_string();
    let text = format!(
        "{p} x {} y {p} z 1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
        p.to_uppercase()
    );
    assert_eq!(
        guids(&text, std::slice::from_ref(&p), &[]),
        "<project-1> x <project-1> y <project-1> z <guid-1>"
    );
    let mut v = serde_json::json!({"a": "2026-01-01T09:00:05Z", "b": ["2026-01-01T09:00:00Z", "2026-01-01T09:01:05.5Z"]});
    times(&mut v);
    assert_eq!(
        v,
        serde_json::json!({"a": "<t+5s>", "b": ["<t+0s>", "<t+65500ms>"]})
    );
}
