//! The fuzz targets' bodies, shared by `fuzz/` (cargo-fuzz, nightly) and by the stable test
//! suite, which runs every corpus file and crash reproducer through the same functions. Each
//! function takes arbitrary bytes and panics only when an invariant breaks: that is a bug.

// Panicking on a broken invariant is this module's job (libFuzzer reports the panic as the
// crash); nothing outside fuzzing and tests calls it.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use arbitrary::{Arbitrary, Unstructured};
use cvnotify_core::blob::classify_blob;
use cvnotify_core::lifecycle::{
    ContainerUri, Delivery, Event, Evidence, ExportJobStatus, Input, IterationStatus, MessageId,
    Operation, RejectionCode, Settings, Sources, Timestamp, Tracker,
};
use cvnotify_core::{
    BackupBlobName, ExportPlatform, ExportStatus, IterationId, ModelUri, Notification,
    ParseOptions, ProjectId, TrainingStatus, parse,
};

use crate::recording::{Item, Line, Writer, decode_any, decode_common, read_line};

/// `parse_message`: any bytes, tolerant and strict. The same input gives the same answer, strict
/// accepts only what tolerant accepts without deviation, an error is one line, and what is
/// accepted has a canonical form that reads back to the same notification.
pub fn parse_message(data: &[u8]) {
    let tolerant = parse(data, ParseOptions::TOLERANT);
    assert_eq!(
        tolerant,
        parse(data, ParseOptions::TOLERANT),
        "parse is not deterministic"
    );
    let strict = parse(data, ParseOptions::STRICT);
    match (&tolerant, &strict) {
        (Ok(t), Ok(s)) => assert!(t == s && t.deviations.is_empty()),
        (Ok(t), Err(_)) => assert!(
            !t.deviations.is_empty(),
            "strict refused a message without deviation"
        ),
        (Err(t), Err(s)) => assert_eq!(t, s),
        (Err(_), Ok(_)) => panic!("strict accepted what tolerant refused"),
    }
    match &tolerant {
        Ok(p) => {
            let canonical = p.notification.canonical_json();
            let again = parse(canonical.as_bytes(), ParseOptions::TOLERANT)
                .expect("the canonical form is refused");
            assert_eq!(
                again.notification, p.notification,
                "the canonical form reads back differently"
            );
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "a multi-line error"),
    }
}

/// `blob_name`: any text as a backup blob name, a URI path segment, a model URI and a container
/// URI. Names that parse print back to themselves (GUIDs lower-cased); printed URIs carry no
/// signature.
pub fn blob_name(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = BackupBlobName::parse(text) {
        assert!(
            name.to_string().eq_ignore_ascii_case(text),
            "a parsed name prints as another"
        );
        let segment = name.uri_segment().to_string();
        assert_eq!(
            BackupBlobName::parse_uri_segment(&segment).ok(),
            Some(name.clone())
        );
        assert_eq!(BackupBlobName::parse(&name.to_string()).ok(), Some(name));
    }
    let _ = BackupBlobName::parse_uri_segment(text);
    let _ = classify_blob(text);
    if let Ok(uri) = ModelUri::parse(text) {
        let shown = uri.to_string();
        assert!(
            cvnotify_core::redact::find(&shown).is_none(),
            "a printed URI carries a secret"
        );
        assert!(cvnotify_core::redact::find(&format!("{uri:?}")).is_none());
        let _ = uri.backup_blob_name();
        assert_eq!(
            ModelUri::parse(uri.expose_secret()).ok().as_ref(),
            Some(&uri)
        );
    }
    let _ = ContainerUri::parse(text);
}

/// `recording_line`: any bytes as one line of a recording, first or not. A line that serde reads
/// as a recording line is written back without any secret.
pub fn recording_line(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The fast path for common lines accepts only what the general one does, as it does.
    if let Some(fast) = decode_common(text) {
        assert_eq!(
            decode_any(text).as_ref(),
            Ok(&fast),
            "the fast path differs on {text:?}"
        );
    }
    for number in [1, 7] {
        if let Ok(Item::Message { parsed: Err(e), .. }) = read_line(text, number) {
            assert!(!e.to_string().contains('\n'));
        }
    }
    if let Ok(line) = serde_json::from_str::<Line>(text) {
        let mut w = Writer::new(Vec::new());
        w.write(&line).expect("writing to memory");
        let written =
            String::from_utf8(w.finish().expect("flushing memory")).expect("JSON is UTF-8");
        let back: Line =
            serde_json::from_str(written.trim_end()).expect("the writer writes recording lines");
        for value in back.strings() {
            assert!(
                cvnotify_core::redact::find_deep(value).is_none(),
                "the writer left a secret in {value:?}"
            );
        }
    }
}

/// An input the fuzzer can build: a small universe of ids so that events meet.
#[derive(Arbitrary, Debug, Clone)]
enum FuzzEvent {
    Configure {
        p: u8,
        container: bool,
    },
    ConnectionTest {
        p: u8,
        message: u8,
        dequeue: u8,
    },
    Train {
        p: u8,
        i: u8,
    },
    Trained {
        p: u8,
        i: u8,
        failed: bool,
        message: u8,
        dequeue: u8,
    },
    Export {
        p: u8,
        i: u8,
        platform: u8,
    },
    Exported {
        p: u8,
        i: u8,
        failed: bool,
        platform: u8,
        uri: u8,
        message: u8,
        dequeue: u8,
    },
    PollIteration {
        p: u8,
        i: u8,
        status: u8,
    },
    PollExport {
        p: u8,
        i: u8,
        platform: u8,
        status: u8,
    },
    Reject {
        p: u8,
    },
    Blob {
        p: u8,
        i: u8,
        platform: u8,
        deleted: bool,
    },
    Tick,
}

#[derive(Arbitrary, Debug, Clone)]
struct FuzzInput {
    minute: u16,
    event: FuzzEvent,
}

fn project(p: u8) -> ProjectId {
    ProjectId::from_bytes([p % 3; 16])
}

fn iteration(i: u8) -> IterationId {
    IterationId::from_bytes([0x40 + i % 3; 16])
}

fn platform(p: u8) -> ExportPlatform {
    ExportPlatform::ALL[usize::from(p) % ExportPlatform::ALL.len()]
}

const CONTAINER: &str = "https://cvbackup.blob.core.windows.net/backups";

fn to_input(n: usize, fi: &FuzzInput) -> Input {
    let delivery = |m: u8, d: u8| Delivery {
        message_id: MessageId(u128::from(m % 8)),
        dequeue_count: u32::from(d % 4) + 1,
    };
    let event = match fi.event.clone() {
        FuzzEvent::Configure { p, container } => Event::Configured {
            project_id: project(p),
            queue: true,
            container: container
                .then(|| ContainerUri::parse(CONTAINER))
                .and_then(Result::ok),
        },
        FuzzEvent::ConnectionTest {
            p,
            message,
            dequeue,
        } => Event::Notification {
            notification: Notification::ConnectionTest {
                project_id: project(p),
            },
            delivery: delivery(message, dequeue),
        },
        FuzzEvent::Train { p, i } => Event::TrainingRequested {
            project_id: project(p),
            iteration_id: iteration(i),
        },
        FuzzEvent::Trained {
            p,
            i,
            failed,
            message,
            dequeue,
        } => Event::Notification {
            notification: Notification::Training {
                project_id: project(p),
                iteration_id: iteration(i),
                status: if failed {
                    TrainingStatus::TrainingFailed
                } else {
                    TrainingStatus::TrainingCompleted
                },
            },
            delivery: delivery(message, dequeue),
        },
        FuzzEvent::Export { p, i, platform: pl } => Event::ExportRequested {
            project_id: project(p),
            iteration_id: iteration(i),
            platform: platform(pl),
            flavor: None,
        },
        FuzzEvent::Exported {
            p,
            i,
            failed,
            platform: pl,
            uri,
            message,
            dequeue,
        } => {
            let model_uri = match uri % 4 {
                0 => None,
                1 => ModelUri::parse(&format!(
                    "{CONTAINER}/{}%20-%20{}.{}",
                    project(p),
                    iteration(i),
                    platform(pl)
                ))
                .ok(),
                2 => ModelUri::parse(&format!(
                    "{CONTAINER}/{}%20-%20{}.{}",
                    project(p.wrapping_add(1)),
                    iteration(i),
                    platform(pl)
                ))
                .ok(),
                _ => ModelUri::parse("https://elsewhere.example/m.zip?sig=x").ok(),
            };
            Event::Notification {
                notification: Notification::Export {
                    project_id: project(p),
                    iteration_id: iteration(i),
                    status: if failed {
                        ExportStatus::ExportFailed
                    } else {
                        ExportStatus::ExportCompleted
                    },
                    model_uri,
                },
                delivery: delivery(message, dequeue),
            }
        }
        FuzzEvent::PollIteration { p, i, status } => Event::IterationPolled {
            project_id: project(p),
            iteration_id: iteration(i),
            status: [
                IterationStatus::Training,
                IterationStatus::Completed,
                IterationStatus::Failed,
            ][usize::from(status % 3)],
        },
        FuzzEvent::PollExport {
            p,
            i,
            platform: pl,
            status,
        } => Event::ExportPolled {
            project_id: project(p),
            iteration_id: iteration(i),
            platform: platform(pl),
            status: [
                ExportJobStatus::Exporting,
                ExportJobStatus::Done,
                ExportJobStatus::Failed,
            ][usize::from(status % 3)],
        },
        FuzzEvent::Reject { p } => Event::ApiRejected {
            project_id: project(p),
            operation: Operation::ExportIteration,
            code: RejectionCode::ExportAlreadyInProgress,
        },
        FuzzEvent::Blob {
            p,
            i,
            platform: pl,
            deleted,
        } => {
            let name = format!("{} - {}.{}", project(p), iteration(i), platform(pl));
            if deleted {
                Event::BlobDeleted { name }
            } else {
                Event::BlobCreated { name, size: 1 }
            }
        }
        FuzzEvent::Tick => Event::Tick,
    };
    let evidence = Evidence::new(u32::try_from(n + 1).unwrap_or(u32::MAX))
        .unwrap_or(Evidence(std::num::NonZeroU32::MIN));
    Input {
        at: Timestamp(u64::from(fi.minute) * 60_000),
        evidence,
        event,
    }
}

/// `tracker`: an arbitrary sequence of lifecycle inputs. After each step: the same inputs in
/// reverse give the same tracker, the two halves merged give it too, merging it with itself
/// changes nothing, and the report is the same twice.
pub fn tracker(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(sequence) = Vec::<FuzzInput>::arbitrary(&mut u) else {
        return;
    };
    let inputs: Vec<Input> = sequence
        .iter()
        .take(64)
        .enumerate()
        .map(|(n, fi)| to_input(n, fi))
        .collect();
    let settings = Settings {
        sources: Sources::ALL,
        ..Settings::default()
    };
    let track = |inputs: &mut dyn Iterator<Item = &Input>| {
        let mut t = Tracker::new(settings);
        inputs.for_each(|i| t.handle(i.clone()));
        t
    };
    for len in [inputs.len() / 2, inputs.len()] {
        let prefix = inputs.get(..len).unwrap_or_default();
        let whole = track(&mut prefix.iter());
        assert_eq!(
            track(&mut prefix.iter().rev()),
            whole,
            "arrival order matters"
        );
        let mut merged = track(&mut prefix.iter().step_by(2));
        merged
            .merge(&track(&mut prefix.iter().skip(1).step_by(2)))
            .expect("same settings");
        assert_eq!(merged, whole, "merged halves differ from the whole");
        let mut twice = whole.clone();
        twice.merge(&whole).expect("same settings");
        assert_eq!(twice, whole, "merge is not idempotent");
        assert_eq!(
            whole.report(),
            whole.report(),
            "report is not deterministic"
        );
    }
}

/// `queue_xml`: any bytes as a Get Messages, List Blobs or Error body. Nothing panics; a message
/// text written into a Put body and listed back comes back exactly.
pub fn queue_xml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::xml::read_messages(text);
    let _ = crate::xml::read_blob_page(text);
    let _ = crate::xml::read_error(text);
    if let Ok(body) = crate::xml::message_body(text) {
        let inner = body
            .trim_start_matches("<QueueMessage>")
            .trim_end_matches("</QueueMessage>");
        let list = format!(
            "<QueueMessagesList><QueueMessage><MessageId>m</MessageId><InsertionTime>Fri, 09 Oct 2009 21:04:30 GMT</InsertionTime>{inner}</QueueMessage></QueueMessagesList>"
        );
        // XML 1.0 cannot carry every character (control characters); those may be refused, but
        // what is read back must be the text itself.
        if let Ok(messages) = crate::xml::read_messages(&list) {
            let back = messages
                .into_iter()
                .next()
                .and_then(|m| m.message_text)
                .unwrap_or_default();
            let keeps_whitespace_only = text.trim().is_empty();
            assert!(
                back == text || keeps_whitespace_only,
                "a message text does not survive the XML round trip"
            );
        }
    }
}
