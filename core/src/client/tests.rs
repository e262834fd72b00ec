//! Each rule of the client judge, with a client that keeps it and one that breaks it.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::lifecycle::Timestamp;

/// A journal being written: every event gets the next line number.
struct Journal {
    judge: ClientJudge,
    line: u32,
}

impl Journal {
    fn new(duties: Duties) -> Self {
        Self {
            judge: ClientJudge::new(duties),
            line: 1,
        }
    }

    fn feed(&mut self, ms: u64, event: ClientEvent) {
        self.line += 1;
        self.judge
            .handle(Timestamp(1_000_000 + ms), self.line, event);
    }

    fn deliver(&mut self, ms: u64, id: &str, class: MessageClass, blob: Option<&str>) {
        self.feed(
            ms,
            ClientEvent::Delivered(Delivered {
                queue: "q".into(),
                message_id: id.into(),
                class,
                blob: blob.map(String::from),
                digest: Some(alloc::format!("digest-{id}")),
                status: None,
                base64: false,
                blob_size: None,
            }),
        );
    }

    fn request(&mut self, ms: u64, call: Call, f: impl FnOnce(&mut Request)) {
        let mut r = Request {
            call: Some(call),
            status: 200,
            queue: Some("q".into()),
            ..Request::default()
        };
        f(&mut r);
        self.feed(ms, ClientEvent::Request(r));
    }

    fn receive(&mut self, ms: u64, got: &[(&str, &str)]) {
        self.request(ms, Call::GetMessages, |r| {
            r.received = got
                .iter()
                .map(|(id, pop)| Received {
                    message_id: (*id).into(),
                    pop_receipt: (*pop).into(),
                })
                .collect();
        });
    }

    fn delete(&mut self, ms: u64, id: &str, pop: &str, status: u16) {
        self.request(ms, Call::DeleteMessage, |r| {
            r.message_id = Some(id.into());
            r.pop_receipt = Some(pop.into());
            r.status = status;
        });
    }

    fn codes(&self) -> Vec<(&'static str, u64)> {
        self.judge
            .findings()
            .into_iter()
            .map(|f| (f.code.as_str(), f.count))
            .collect()
    }
}

#[test]
fn the_catalogue_has_unique_codes_that_read_back() {
    for (k, code) in ClientFindingCode::ALL.iter().enumerate() {
        assert_eq!(ClientFindingCode::from_name(code.as_str()), Some(*code));
        assert!(
            ClientFindingCode::ALL[..k]
                .iter()
                .all(|c| c.as_str() != code.as_str())
        );
        assert!(!code.info().summary.is_empty() && !code.info().rests_on.is_empty());
    }
    for call in Call::ALL {
        assert_eq!(Call::from_name(call.as_str()), Some(*call));
    }
}

#[test]
fn a_consumer_that_receives_acts_and_deletes_has_no_finding_and_has_done_its_work() {
    let mut j = Journal::new(Duties {
        fetch_backups: true,
        configure: false,
    });
    j.deliver(0, "m1", MessageClass::Notification, None);
    j.deliver(0, "m2", MessageClass::Notification, Some("c/p - i.ONNX"));
    assert!(!j.judge.work_done());
    j.receive(10, &[("m1", "a"), ("m2", "b")]);
    j.delete(20, "m1", "a", 204);
    j.request(30, Call::GetBlob, |r| r.blob = Some("c/p - i.ONNX".into()));
    j.delete(40, "m2", "b", 204);
    assert!(j.judge.work_done());
    j.feed(
        50,
        ClientEvent::Ended {
            end: ClientEnd::Stopped,
            note: None,
            left: 0,
        },
    );
    assert_eq!(j.codes(), vec![]);
}

#[test]
fn notifications_left_undeleted_and_backups_left_unfetched_are_found() {
    let mut j = Journal::new(Duties {
        fetch_backups: true,
        configure: false,
    });
    j.deliver(0, "m1", MessageClass::Notification, Some("c/b"));
    j.deliver(0, "m2", MessageClass::Unrecognized, None);
    j.receive(10, &[("m1", "a"), ("m2", "b")]);
    assert_eq!(
        j.codes(),
        vec![("notification-not-deleted", 1), ("backup-not-fetched", 1)]
    );
}

#[test]
fn deletes_without_a_receive_or_with_a_replaced_receipt_are_found() {
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, None);
    j.request(5, Call::PeekMessages, |_| {});
    j.delete(6, "m1", "peeked", 404);
    j.receive(10, &[("m1", "a")]);
    j.receive(40_000, &[("m1", "b")]);
    j.delete(40_010, "m1", "a", 400);
    j.delete(40_020, "m1", "b", 204);
    // The refused delete did nothing: acted on once.
    assert_eq!(
        j.codes(),
        vec![("deleted-unreceived", 1), ("stale-receipt", 1)]
    );
}

#[test]
fn extending_the_visibility_is_not_a_second_receive() {
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, Some("c/b"));
    j.receive(10, &[("m1", "a")]);
    j.request(20, Call::UpdateMessage, |r| {
        r.message_id = Some("m1".into());
        r.pop_receipt = Some("a".into());
        r.new_pop_receipt = Some("a2".into());
        r.status = 204;
    });
    j.request(25, Call::GetBlob, |r| r.blob = Some("c/b".into()));
    j.delete(30, "m1", "a2", 204);
    assert_eq!(j.codes(), vec![]);
}

#[test]
fn a_message_acted_on_after_two_receives_is_processed_twice() {
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, Some("c/b"));
    j.receive(10, &[("m1", "a")]);
    j.request(20, Call::GetBlob, |r| r.blob = Some("c/b".into()));
    j.receive(1_100, &[("m1", "b")]);
    j.request(1_200, Call::GetBlob, |r| r.blob = Some("c/b".into()));
    j.delete(3_000, "m1", "a", 400);
    j.delete(3_100, "m1", "b", 204);
    assert_eq!(
        j.codes(),
        vec![("stale-receipt", 1), ("processed-twice", 1)]
    );
}

#[test]
fn a_malformed_message_must_be_moved_before_it_is_deleted() {
    for (moved, expected) in [(true, vec![]), (false, vec![("malformed-lost", 1)])] {
        let mut j = Journal::new(Duties::default());
        j.deliver(0, "m1", MessageClass::Malformed, None);
        j.receive(10, &[("m1", "a")]);
        if moved {
            j.request(20, Call::PutMessage, |r| {
                r.queue = Some("q-poison".into());
                r.digest = Some("digest-m1".into());
                r.status = 201;
            });
        }
        j.delete(30, "m1", "a", 204);
        assert_eq!(j.codes(), expected, "moved: {moved}");
        assert!(j.judge.work_done(), "a malformed message is not work");
    }
    // Left alone, it is not lost.
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Malformed, None);
    j.receive(10, &[("m1", "a")]);
    assert_eq!(j.codes(), vec![]);
}

#[test]
fn polling_an_empty_queue_without_backing_off_is_busy_polling() {
    let mut busy = Journal::new(Duties::default());
    for k in 0..30 {
        busy.receive(k * 100, &[]);
    }
    assert_eq!(busy.codes(), vec![("busy-polling", 1)]);
    let mut patient = Journal::new(Duties::default());
    let mut t = 0;
    let mut gap = 100;
    for _ in 0..30 {
        patient.receive(t, &[]);
        t += gap;
        gap = (gap * 2).min(60_000);
    }
    assert_eq!(patient.codes(), vec![]);
}

#[test]
fn a_request_before_the_retry_after_is_found_one_after_it_is_not() {
    for (wait, expected) in [(500, vec![("retry-after-ignored", 1)]), (1_000, vec![])] {
        let mut j = Journal::new(Duties::default());
        j.request(0, Call::GetMessages, |r| {
            r.status = 503;
            r.retry_after_ms = Some(1_000);
        });
        // Another service is not held back.
        j.request(10, Call::GetBlob, |r| {
            r.queue = None;
            r.blob = Some("own".into());
            r.status = 404;
        });
        // A request to something else is no repeat.
        j.request(20, Call::PeekMessages, |_| {});
        j.request(wait, Call::GetMessages, |_| {});
        let codes: Vec<_> = j
            .codes()
            .into_iter()
            .filter(|(c, _)| *c != "unannounced-blob-fetched")
            .collect();
        assert_eq!(codes, expected, "wait {wait}");
    }
}

#[test]
fn repeating_a_call_after_an_unclear_answer_needs_a_look_first() {
    for (look, expected) in [(false, vec![("unsafe-repeat", 1)]), (true, vec![])] {
        let mut j = Journal::new(Duties::default());
        j.request(0, Call::CreateProject, |r| r.status = 0);
        if look {
            j.request(5, Call::GetProjects, |_| {});
        }
        j.request(10, Call::CreateProject, |_| {});
        assert_eq!(j.codes(), expected, "look {look}");
    }
    // A 503 says the call was turned away: repeating it is fine.
    let mut j = Journal::new(Duties::default());
    j.request(0, Call::TrainProject, |r| {
        r.project = Some("p".into());
        r.status = 503;
    });
    j.request(10, Call::TrainProject, |r| r.project = Some("p".into()));
    assert_eq!(j.codes(), vec![]);
}

#[test]
fn storage_uris_on_an_old_api_version_are_found() {
    let mut j = Journal::new(Duties {
        fetch_backups: false,
        configure: true,
    });
    for version in ["v3.2", "v3.3"] {
        j.request(0, Call::CreateProject, |r| {
            r.api_version = Some(version.to_string());
            r.storage_options = true;
        });
    }
    assert_eq!(j.codes(), vec![("storage-options-ignored", 1)]);
    assert!(
        !j.judge.work_done(),
        "configured, but not trained or exported"
    );
    j.request(1, Call::TrainProject, |r| r.project = Some("p".into()));
    j.request(2, Call::ExportIteration, |r| r.project = Some("p".into()));
    assert!(j.judge.work_done());
}

#[test]
fn blobs_nobody_announced_are_found_unless_the_client_wrote_them() {
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, Some("c/announced"));
    j.request(1, Call::PutBlob, |r| r.blob = Some("c/mine".into()));
    for blob in ["c/announced", "c/mine", "c/made-up"] {
        j.request(2, Call::GetBlob, |r| r.blob = Some(blob.into()));
    }
    let codes = j.codes();
    assert!(
        codes.contains(&("unannounced-blob-fetched", 1)),
        "{codes:?}"
    );
}

#[test]
fn how_the_client_ended_is_a_finding_unless_it_stopped_or_exited_zero() {
    for (end, expected) in [
        (ClientEnd::Stopped, None),
        // Exiting 0 having made no request at all is not work done.
        (ClientEnd::Exited(0), Some("client-exited-early")),
        (ClientEnd::Exited(3), Some("client-failed")),
        (ClientEnd::Killed(9), Some("client-failed")),
        (
            ClientEnd::Unstartable("no such file".into()),
            Some("client-unstartable"),
        ),
        (ClientEnd::TimedOut, Some("client-timeout")),
    ] {
        let mut j = Journal::new(Duties::default());
        j.feed(
            0,
            ClientEvent::Ended {
                end: end.clone(),
                note: None,
                left: 0,
            },
        );
        let codes: Vec<&str> = j.codes().into_iter().map(|(c, _)| c).collect();
        assert_eq!(codes, expected.into_iter().collect::<Vec<_>>(), "{end:?}");
    }
}

fn end(j: &mut Journal, ms: u64, end: ClientEnd, left: u32) {
    j.feed(
        ms,
        ClientEvent::Ended {
            end,
            note: None,
            left,
        },
    );
}

#[test]
fn exiting_zero_before_the_work_is_done_is_exiting_early_and_names_the_work() {
    // Exited before the notifications came: they were delivered all the same.
    let mut j = Journal::new(Duties {
        fetch_backups: true,
        configure: false,
    });
    j.receive(0, &[]);
    end(&mut j, 5, ClientEnd::Exited(0), 0);
    j.deliver(10, "m1", MessageClass::Notification, None);
    j.deliver(20, "m2", MessageClass::Notification, Some("c/b"));
    let findings = j.judge.findings();
    let early = findings
        .iter()
        .find(|f| f.code == ClientFindingCode::ClientExitedEarly)
        .unwrap();
    assert_eq!(
        early.examples[0].detail,
        "the client exited with status 0 before its work was done: 2 notifications not deleted, \
         1 announced backup not downloaded"
    );
    assert_eq!(
        j.codes(),
        vec![
            ("notification-not-deleted", 2),
            ("backup-not-fetched", 1),
            ("client-exited-early", 1)
        ]
    );
    // Exiting 0 once the work is done is fine (a batch consumer that drains and exits).
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, None);
    j.receive(10, &[("m1", "a")]);
    j.delete(20, "m1", "a", 204);
    end(&mut j, 30, ClientEnd::Exited(0), 0);
    assert_eq!(j.codes(), vec![]);
}

#[test]
fn processes_left_running_by_a_client_that_exited_are_found() {
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, None);
    j.receive(10, &[("m1", "a")]);
    j.delete(20, "m1", "a", 204);
    end(&mut j, 30, ClientEnd::Exited(0), 2);
    assert_eq!(j.codes(), vec![("client-left-processes", 1)]);
}

#[test]
fn the_configure_duty_asks_for_no_export_after_a_failed_training() {
    let duties = Duties {
        fetch_backups: false,
        configure: true,
    };
    let mut j = Journal::new(duties);
    j.request(0, Call::CreateProject, |r| {
        r.api_version = Some("v3.4-preview".into());
        r.storage_options = true;
    });
    j.request(1, Call::TrainProject, |r| r.project = Some("p".into()));
    assert_eq!(
        j.judge.work_undone(),
        vec![String::from("no export of the trained iteration")]
    );
    j.feed(
        2,
        ClientEvent::Delivered(Delivered {
            queue: "q".into(),
            message_id: "t".into(),
            class: MessageClass::Notification,
            blob: None,
            digest: None,
            status: Some("TrainingFailed".into()),
            base64: false,
            blob_size: None,
        }),
    );
    j.receive(3, &[("t", "a")]);
    j.delete(4, "t", "a", 204);
    assert!(j.judge.work_done());
    // A client that did none of it has each part named.
    let j = Journal::new(duties);
    assert_eq!(j.judge.work_undone().len(), 3);
}

#[test]
fn retry_after_and_busy_polling_tell_a_pool_of_receivers_from_one_loop() {
    // A pool: one receiver is throttled on connection 1, the others go on polling on theirs.
    let mut j = Journal::new(Duties::default());
    j.request(0, Call::GetMessages, |r| {
        r.connection = Some(1);
        r.status = 503;
        r.retry_after_ms = Some(1_000);
    });
    for (k, conn) in [2, 3, 4].into_iter().enumerate() {
        j.request(5 + k as u64, Call::GetMessages, |r| {
            r.connection = Some(conn)
        });
    }
    j.request(1_000, Call::GetMessages, |r| r.connection = Some(1));
    assert_eq!(j.codes(), vec![]);
    // The throttled request repeated at once is found, as a warning: on the same connection
    // (the Python SDK gives every try a new request id; a raw client sends none), or with the
    // same request id on any connection (the JavaScript SDK keeps it across its retries).
    let mut j = Journal::new(Duties::default());
    j.request(1_010, Call::GetMessages, |r| {
        r.connection = Some(1);
        r.status = 503;
        r.retry_after_ms = Some(1_000);
    });
    j.request(1_020, Call::GetMessages, |r| {
        r.connection = Some(1);
        r.client_request = Some(11);
    });
    assert_eq!(j.codes(), vec![("retry-after-ignored", 1)]);
    j.request(2_000, Call::GetMessages, |r| {
        r.connection = Some(2);
        r.client_request = Some(9);
        r.status = 429;
        r.retry_after_ms = Some(1_000);
    });
    j.request(2_020, Call::GetMessages, |r| {
        r.connection = Some(3);
        r.client_request = Some(9);
    });
    assert_eq!(j.codes(), vec![("retry-after-ignored", 2)]);
    // A client that shows several receiving loops (connections it keeps): a request on the
    // connection another loop was throttled on, with an id of its own, may be that loop's.
    let mut pool = Journal::new(Duties::default());
    for conn in 1..=3 {
        for t in [0, 1] {
            pool.request(t, Call::GetMessages, |r| r.connection = Some(conn));
        }
    }
    pool.request(100, Call::GetMessages, |r| {
        r.connection = Some(1);
        r.client_request = Some(1);
        r.status = 503;
        r.retry_after_ms = Some(1_000);
    });
    pool.request(104, Call::GetMessages, |r| {
        r.connection = Some(1);
        r.client_request = Some(2);
    });
    assert_eq!(pool.codes(), vec![]);
    pool.request(200, Call::GetMessages, |r| {
        r.connection = Some(2);
        r.client_request = Some(1);
    });
    assert_eq!(pool.codes(), vec![("retry-after-ignored", 1)]);
    // A repeat after the Retry-After is never a finding.
    j.request(3_000, Call::GetMessages, |r| {
        r.connection = Some(2);
        r.status = 503;
        r.retry_after_ms = Some(1_000);
    });
    j.request(4_000, Call::GetMessages, |r| r.connection = Some(2));
    assert_eq!(j.codes(), vec![("retry-after-ignored", 2)]);
    assert_eq!(
        ClientFindingCode::RetryAfterIgnored.info().severity,
        crate::lifecycle::Severity::Warning
    );
    // Twelve receivers polling an empty queue at once, each backing off: no busy polling;
    // one tight loop among them is still caught.
    let mut j = Journal::new(Duties::default());
    for conn in 1..=12u32 {
        let mut t = 0;
        let mut gap = 100;
        for _ in 0..15 {
            j.request(t, Call::GetMessages, |r| {
                r.connection = Some(conn);
                r.open_connections = Some(12);
            });
            t += gap;
            gap = (gap * 2).min(10_000);
        }
    }
    assert_eq!(j.codes(), vec![]);
    // Four receivers sharing one client's connections (a pool reuses the connection a
    // request just gave back, and keeps the four it opened): no busy polling either, as long
    // as each backs off. Nor when the client shows one connection only (its requests never
    // overlapped): their polls space out as each backs off.
    for shown in [4, 1] {
        let mut j = Journal::new(Duties::default());
        let mut polls: Vec<(u64, u32)> = Vec::new();
        for worker in 0..4u32 {
            let mut t = u64::from(worker);
            let mut gap = 100;
            for _ in 0..10 {
                // The first polls overlap and open four connections; later ones reuse the first.
                polls.push((t, if t < 50 { worker + 1 } else { 1 }));
                t += gap;
                gap = (gap * 2).min(5_000);
            }
        }
        polls.sort_unstable();
        for (t, conn) in &polls {
            j.request(*t, Call::GetMessages, |r| {
                r.connection = Some(if shown == 1 { 1 } else { *conn });
                r.open_connections = Some(shown);
            });
        }
        assert_eq!(j.codes(), vec![], "{shown} connections shown");
    }
    // A tight loop is caught whatever the connections, only later when the client shows
    // several receiving loops (more than ten empty receives for each).
    let mut j = Journal::new(Duties::default());
    for conn in 1..=4 {
        j.request(0, Call::GetMessages, |r| {
            r.connection = Some(conn);
            r.open_connections = Some(4);
        });
    }
    for k in 0..36 {
        j.request(10 + k * 50, Call::GetMessages, |r| {
            r.connection = Some(1);
            r.open_connections = Some(4);
        });
    }
    assert_eq!(j.codes(), vec![], "forty empty receives from four loops");
    j.request(10 + 36 * 50, Call::GetMessages, |r| r.connection = Some(1));
    assert_eq!(j.codes(), vec![("busy-polling", 1)]);
    // A client that opens a connection for every request is one loop, caught once its pace
    // shows (twenty-one polls).
    let mut j = Journal::new(Duties::default());
    for k in 0..21 {
        j.request(k * 50, Call::GetMessages, |r| {
            r.connection = Some(k as u32 + 1);
            r.open_connections = Some(1);
        });
    }
    assert_eq!(j.codes(), vec![("busy-polling", 1)]);
}

#[test]
fn a_message_released_on_purpose_or_held_by_a_killed_client_is_retried_not_processed_twice() {
    for how in ["release", "restart"] {
        let mut j = Journal::new(Duties::default());
        j.deliver(0, "m1", MessageClass::Notification, Some("c/b"));
        j.receive(10, &[("m1", "a")]);
        j.request(20, Call::GetBlob, |r| r.blob = Some("c/b".into()));
        if how == "release" {
            j.request(30, Call::UpdateMessage, |r| {
                r.message_id = Some("m1".into());
                r.pop_receipt = Some("a".into());
                r.new_pop_receipt = Some("a2".into());
                r.visibility_timeout = Some(0);
                r.status = 204;
            });
        } else {
            j.feed(30, ClientEvent::Restarted);
        }
        j.receive(40, &[("m1", "b")]);
        j.request(50, Call::GetBlob, |r| r.blob = Some("c/b".into()));
        j.delete(60, "m1", "b", 204);
        assert_eq!(j.codes(), vec![], "{how}");
    }
    // Extending the visibility is not acting: a Functions-style host that renews its lease
    // and then finishes processed once.
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, None);
    j.receive(10, &[("m1", "a")]);
    for (k, (old, new)) in [("a", "a2"), ("a2", "a3")].into_iter().enumerate() {
        j.request(20 + k as u64, Call::UpdateMessage, |r| {
            r.message_id = Some("m1".into());
            r.pop_receipt = Some(old.into());
            r.new_pop_receipt = Some(new.into());
            r.visibility_timeout = Some(600);
            r.status = 204;
        });
    }
    j.delete(60, "m1", "a3", 204);
    assert_eq!(j.codes(), vec![]);
}

#[test]
fn a_malformed_message_moved_in_an_envelope_is_kept() {
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Malformed, None);
    j.receive(10, &[("m1", "a")]);
    j.request(20, Call::PutMessage, |r| {
        r.queue = Some("q-poison".into());
        r.digest = Some("digest-of-the-envelope".into());
        r.holds = vec!["digest-m1".into(), "other".into()];
        r.status = 201;
    });
    j.delete(30, "m1", "a", 204);
    assert_eq!(j.codes(), vec![]);
}

fn details(j: &Journal, code: ClientFindingCode) -> Vec<String> {
    j.judge
        .findings()
        .into_iter()
        .filter(|f| f.code == code)
        .flat_map(|f| f.examples.into_iter().map(|e| e.detail))
        .collect()
}

#[test]
fn findings_say_what_happened() {
    // A receipt the client's own update replaced, and one a later receive replaced.
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, None);
    j.receive(10, &[("m1", "a")]);
    j.request(20, Call::UpdateMessage, |r| {
        r.message_id = Some("m1".into());
        r.pop_receipt = Some("a".into());
        r.new_pop_receipt = Some("a2".into());
        r.visibility_timeout = Some(60);
        r.status = 204;
    });
    j.delete(30, "m1", "a", 404);
    j.receive(100_000, &[("m1", "b")]);
    j.delete(100_010, "m1", "a2", 404);
    let stale = details(&j, ClientFindingCode::StaleReceipt);
    assert!(
        stale[0].contains("own Update Message replaced"),
        "{stale:?}"
    );
    assert!(stale[1].contains("a later receive replaced"), "{stale:?}");
    // A made-up name tried (404) is not a download.
    let mut j = Journal::new(Duties::default());
    j.request(0, Call::GetBlob, |r| {
        r.blob = Some("c/guess".into());
        r.status = 404;
    });
    j.request(1, Call::GetBlob, |r| r.blob = Some("c/other".into()));
    let fetched = details(&j, ClientFindingCode::UnannouncedBlobFetched);
    assert!(fetched[0].ends_with("a name tried (answered 404), nothing downloaded"));
    assert!(fetched[1].ends_with("downloaded"));
    // A notification cut off by the deadline while the client waited out a throttled answer.
    let mut j = Journal::new(Duties::default());
    j.feed(
        0,
        ClientEvent::Delivered(Delivered {
            queue: "q".into(),
            message_id: "m1".into(),
            class: MessageClass::Notification,
            blob: None,
            digest: None,
            status: None,
            base64: true,
            blob_size: None,
        }),
    );
    j.request(5, Call::GetMessages, |r| {
        r.status = 503;
        r.retry_after_ms = Some(1_000);
    });
    end(&mut j, 60_000, ClientEnd::TimedOut, 0);
    let not_deleted = details(&j, ClientFindingCode::NotificationNotDeleted);
    assert_eq!(
        not_deleted,
        vec![String::from(
            "notification m1 (sent base64-encoded) was never received; the deadline came while \
             the client was waiting after the throttled answer of line 3"
        )]
    );
}

#[test]
fn a_delete_turned_away_in_time_makes_the_redelivery_the_services_doing() {
    // A worker downloads, its Delete is throttled and retried by the SDK past the visibility
    // timeout; another worker receives the message again and handles it.
    let mut j = Journal::new(Duties::default());
    j.deliver(0, "m1", MessageClass::Notification, Some("c/b"));
    j.receive(10, &[("m1", "a")]);
    j.request(20, Call::GetBlob, |r| r.blob = Some("c/b".into()));
    j.request(30, Call::DeleteMessage, |r| {
        r.message_id = Some("m1".into());
        r.pop_receipt = Some("a".into());
        r.status = 503;
        r.retry_after_ms = Some(1_000);
    });
    j.receive(30_100, &[("m1", "b")]);
    j.request(30_200, Call::GetBlob, |r| r.blob = Some("c/b".into()));
    j.delete(30_300, "m1", "b", 204);
    // The SDK's retry of the refused delete, with its receipt, is no stale receipt either.
    j.delete(33_000, "m1", "a", 404);
    assert_eq!(j.codes(), vec![]);
}

#[test]
fn a_backup_downloaded_in_ranges_counts_once_they_cover_it() {
    let duties = Duties {
        fetch_backups: true,
        configure: false,
    };
    let deliver = |j: &mut Journal| {
        j.feed(
            0,
            ClientEvent::Delivered(Delivered {
                queue: "q".into(),
                message_id: "m1".into(),
                class: MessageClass::Notification,
                blob: Some("c/big".into()),
                digest: None,
                status: None,
                base64: false,
                blob_size: Some(100),
            }),
        );
    };
    let get = |j: &mut Journal, ms: u64, range: &str| {
        j.request(ms, Call::GetBlob, |r| {
            r.blob = Some("c/big".into());
            r.range = Some(range.into());
            r.status = 206;
        });
    };
    // Two ranges that meet, the second open-ended: the whole blob.
    let mut j = Journal::new(duties);
    deliver(&mut j);
    j.receive(1, &[("m1", "a")]);
    get(&mut j, 2, "bytes=0-39");
    assert!(!j.judge.work_done());
    get(&mut j, 3, "bytes=40-");
    j.delete(4, "m1", "a", 204);
    assert!(j.judge.work_done());
    assert_eq!(j.codes(), vec![]);
    // Only the first range read: part of it, said so.
    let mut j = Journal::new(duties);
    deliver(&mut j);
    j.receive(1, &[("m1", "a")]);
    get(&mut j, 2, "bytes=0-31");
    get(&mut j, 3, "bytes=50-59");
    j.delete(4, "m1", "a", 204);
    let detail = details(&j, ClientFindingCode::BackupNotFetched);
    assert_eq!(
        detail,
        vec![String::from(
            "c/big, announced by message m1, was read only in part (42 of its 100 bytes)"
        )]
    );
    // A Get Blob without a range is the whole blob; a range it cannot read counts for nothing.
    let mut j = Journal::new(duties);
    deliver(&mut j);
    get(&mut j, 2, "bytes=x-y");
    assert!(!j.judge.work_done());
    j.request(3, Call::GetBlob, |r| r.blob = Some("c/big".into()));
    assert!(details(&j, ClientFindingCode::BackupNotFetched).is_empty());
}

#[test]
fn copying_an_announced_backup_fetches_it_and_a_failed_copy_does_not() {
    let duties = Duties {
        fetch_backups: true,
        configure: false,
    };
    let run = |status: u16, source: &str| {
        let mut j = Journal::new(duties);
        j.feed(
            0,
            ClientEvent::Delivered(Delivered {
                queue: "q".into(),
                message_id: "m1".into(),
                class: MessageClass::Notification,
                blob: Some("c/big".into()),
                digest: None,
                status: None,
                base64: false,
                blob_size: Some(100),
            }),
        );
        j.receive(1, &[("m1", "a")]);
        j.request(2, Call::CopyBlob, |r| {
            r.blob = Some("registry/model.onnx".into());
            r.copy_source = Some(source.into());
            r.status = status;
        });
        j.delete(3, "m1", "a", 204);
        j
    };
    let copied = run(202, "c/big");
    assert!(copied.judge.work_done());
    assert_eq!(copied.codes(), vec![]);
    // Refused, or a copy of something else: the backup was not fetched.
    for j in [run(403, "c/big"), run(202, "c/other")] {
        assert!(!j.judge.work_done());
        assert_eq!(
            details(&j, ClientFindingCode::BackupNotFetched).len(),
            1,
            "{:?}",
            j.codes()
        );
    }
}
