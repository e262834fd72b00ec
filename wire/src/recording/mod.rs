//! The recording format: JSON Lines, one observed input per line (`corpus/README.md` documents
//! it, `corpus/recording.schema.json` is its schema). A recording is evidence: every line a live
//! session judged is in it, secrets redacted, so that replaying it gives the report shown live.
//!
//! - [`schema`]: the kinds of line and their fields.
//! - [`read`]: streaming a recording and checking each line strictly ([`read::read_line`]).
//! - [`inputs`]: what a line stands for in the lifecycle model, or to the client judge.
//! - `problem`: why a line could not be used ([`LineProblem`]), which both answer with.
//! - [`mod@write`]: writing lines, every secret redacted.

mod inputs;
mod problem;
mod read;
mod schema;
mod write;

pub use inputs::{Item, api_events, client_end, item as item_of, request, unavailable};
pub use read::{
    LineProblem, MAX_LINE_BYTES, RawLines, ReadLine, Reader, decode, decode_any, decode_common,
    read_line,
};
pub use schema::{
    ApiLine, At, BlobEvent, BlobLine, ClientAction, ClientLine, DeliveredLine, Duty, EndLine,
    ExportEntry, FORMAT_VERSION, Line, MessageLine, OLDEST_READABLE_VERSION, Outcome,
    ReceivedEntry, RequestLine, Scope, SessionLine, SourceName, TickLine, format_time, parse_time,
};
pub use write::{Writer, redacted};

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use cvnotify_core::lifecycle::{Operation, Timestamp};
    use cvnotify_core::redact::SecretKind;

    const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";

    fn message(text: &str) -> Line {
        Line::Message(MessageLine {
            at: At(Timestamp(1_767_258_000_000)),
            queue: "q".into(),
            message_id: "m1".into(),
            dequeue_count: 1,
            message_text: text.into(),
            redacted: false,
        })
    }

    /// An ExportCompleted notification naming `uri`, as JSON text and as base64 of it.
    fn export_texts(uri: &str) -> (String, String) {
        let json = format!(
            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{P}","exportStatus":"ExportCompleted","modelUri":"{uri}"}}}}"#
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(&json);
        (json, b64)
    }

    fn write(lines: &[Line]) -> String {
        let mut w = Writer::new(Vec::new());
        for l in lines {
            w.write(l).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    /// A source's name is the one serde writes, and a session line's names give back the
    /// sources they were made from (polling named only without the training API).
    #[test]
    fn source_names_round_trip() {
        use cvnotify_core::lifecycle::Sources;
        for name in [
            SourceName::Queue,
            SourceName::TrainingApi,
            SourceName::Polling,
            SourceName::Container,
        ] {
            assert_eq!(
                serde_json::to_string(&name).unwrap(),
                format!("\"{}\"", name.as_str())
            );
        }
        for bits in 0u8..16 {
            let sources = Sources {
                queue: bits & 1 != 0,
                training_api: bits & 2 != 0,
                polling: bits & 4 != 0,
                container: bits & 8 != 0,
            };
            let names = SourceName::names(sources);
            let back = SourceName::sources(&names);
            assert_eq!(
                back,
                Sources {
                    polling: sources.polling && !sources.training_api,
                    ..sources
                },
                "{names:?}"
            );
        }
    }

    #[test]
    fn written_lines_read_back_and_carry_no_secret() {
        let uri = "https://svc.blob.core.windows.net/m/x.zip?sv=1&sig=CANARY%2Bsig%3D";
        let (json, b64) = export_texts(uri);
        let mut api = ApiLine {
            at: At(Timestamp(1_767_258_001_000)),
            operation: Operation::CreateProject,
            project_id: P.into(),
            iteration_id: None,
            platform: None,
            flavor: None,
            http_status: 200,
            error_code: None,
            notification_queue_uri: Some("https://a.queue.core.windows.net/q?sig=CANARY".into()),
            export_model_container_uri: None,
            iteration_status: None,
            exports: None,
        };
        let text = write(&[message(&json), message(&b64), Line::Api(api.clone())]);
        assert!(!text.contains("CANARY"), "{text}");
        for (n, line) in text.lines().enumerate() {
            let item = read_line(line, u32::try_from(n + 2).unwrap()).unwrap();
            if let Item::Message { parsed, .. } = item {
                let parsed = parsed.unwrap();
                assert!(parsed.deviations.is_empty());
            }
        }
        let written: Line = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert!(matches!(
            written,
            Line::Message(MessageLine { redacted: true, .. })
        ));
        api.export_model_container_uri = Some("https://a.blob.core.windows.net/c".into());
        let again = write(&[Line::Api(api.clone())]);
        let read: Line = serde_json::from_str(again.trim_end()).unwrap();
        assert_eq!(
            read,
            Line::Api(ApiLine {
                notification_queue_uri: Some(
                    "https://a.queue.core.windows.net/q?sig=REDACTED".into()
                ),
                ..api
            })
        );
    }

    #[test]
    fn the_reader_refuses_secrets_even_inside_base64() {
        let uri = "https://svc.blob.core.windows.net/m/x.zip?sig=CANARY";
        let (json, b64) = export_texts(uri);
        for text in [json.as_str(), b64.as_str()] {
            let line = serde_json::to_string(&message(text)).unwrap();
            let problem = read_line(&line, 2).unwrap_err();
            assert_eq!(problem, LineProblem::Secret(SecretKind::SasSignature));
            assert!(!problem.to_string().contains("CANARY"));
        }
    }

    #[test]
    fn lines_with_foreign_or_missing_fields_are_refused_with_a_reason() {
        let tick = r#"{"kind":"tick","at":"2026-01-01T09:00:00Z","name":"x"}"#;
        assert_eq!(
            read_line(tick, 2).unwrap_err().to_string(),
            "`name` does not belong in a tick line"
        );
        let blob =
            r#"{"kind":"blob","at":"2026-01-01T09:00:00Z","container":"c","event":"created"}"#;
        assert_eq!(
            read_line(blob, 2).unwrap_err().to_string(),
            "a blob line needs `name`"
        );
        let odd = r#"{"kind":"gossip","at":"2026-01-01T09:00:00Z"}"#;
        assert_eq!(
            read_line(odd, 2).unwrap_err().to_string(),
            "unknown line kind \"gossip\""
        );
        let end = r#"{"kind":"end","at":"2026-01-01T09:00:00Z"}"#;
        assert_eq!(
            read_line(end, 5).unwrap_err().to_string(),
            "an end line needs `outcome`"
        );
        let future = r#"{"kind":"session","version":4,"sources":["queue"]}"#;
        assert!(
            read_line(future, 1)
                .unwrap_err()
                .to_string()
                .contains("this build reads 1 to 3")
        );
        let request =
            r#"{"kind":"request","at":"2026-01-01T09:00:00Z","service":"queue","httpStatus":200}"#;
        assert_eq!(
            read_line(request, 2).unwrap_err().to_string(),
            "a request line needs `call`"
        );
        let delivered = r#"{"kind":"delivered","at":"2026-01-01T09:00:00Z","queue":"q","messageId":"m","class":"gossip","digest":"0"}"#;
        assert!(
            read_line(delivered, 2)
                .unwrap_err()
                .to_string()
                .contains("unknown message class")
        );
        let client =
            r#"{"kind":"client","at":"2026-01-01T09:00:00Z","action":"exited","queue":"q"}"#;
        assert_eq!(
            read_line(client, 2).unwrap_err().to_string(),
            "`queue` does not belong in a client line"
        );
        let time = r#"{"kind":"tick","at":"yesterday"}"#;
        assert!(
            read_line(time, 2)
                .unwrap_err()
                .to_string()
                .contains("RFC 3339")
        );
        let typo = r#"{"kind":"tick","at":"2026-01-01T09:00:00Z","att":"x"}"#;
        assert!(
            read_line(typo, 2)
                .unwrap_err()
                .to_string()
                .contains("unknown field `att`")
        );
    }
}
