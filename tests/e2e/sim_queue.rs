//! The simulated queue service answers our storage client as Azurite does: put, receive with
//! visibility and dequeue counts, peek, delete with (stale) receipts, the approximate count; and
//! `watch --drain` runs against it.

use std::time::Duration;

use cvnotify_harness::sim::{EndpointHandler, dev_account_sas};
use cvnotify_harness::storage::{Queue, Resource, RetryPolicy};

async fn sim() -> cvnotify_harness::sim::Server {
    EndpointHandler::wall_clock_queue()
        .serve(None)
        .await
        .unwrap()
}

#[test]
fn the_simulated_queue_keeps_the_queue_semantics_our_client_relies_on() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = sim().await;
        let url = format!(
            "{}/devstoreaccount1/queue-q?{}",
            server.uri(),
            dev_account_sas()
        );
        let q = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        assert!(q.approximate_count().await.is_err(), "no queue yet");
        q.create().await.unwrap();
        for text in ["a <&> b", "second"] {
            q.put(text, Duration::ZERO, None).await.unwrap();
        }
        assert_eq!(q.approximate_count().await.unwrap(), 2);
        let peeked = q.peek(32).await.unwrap();
        assert_eq!(peeked.len(), 2);
        assert_eq!(peeked[0].message_text.as_deref(), Some("a <&> b"));
        let got = q.receive(1, Duration::from_secs(1)).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].dequeue_count, Some(1));
        let first = got[0].clone();
        // Hidden: the next receive gets the other one only.
        let next = q.receive(32, Duration::from_secs(30)).await.unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].message_text.as_deref(), Some("second"));
        // After its visibility timeout, the first comes back with a new receipt.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let again = q.receive(32, Duration::from_secs(30)).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].dequeue_count, Some(2));
        let stale = q
            .delete(&first.message_id, first.pop_receipt.as_deref().unwrap())
            .await
            .unwrap_err();
        assert_eq!(stale.code(), Some("PopReceiptMismatch"));
        for m in again.iter().chain(&next) {
            q.delete(&m.message_id, m.pop_receipt.as_deref().unwrap())
                .await
                .unwrap();
        }
        assert_eq!(q.approximate_count().await.unwrap(), 0);
        let gone = q
            .delete(&first.message_id, first.pop_receipt.as_deref().unwrap())
            .await
            .unwrap_err();
        assert_eq!(gone.code(), Some("MessageNotFound"));
    });
}

#[test]
fn watch_drains_the_simulated_queue() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(sim());
    let url = format!(
        "{}/devstoreaccount1/notifications?{}",
        server.uri(),
        dev_account_sas()
    );
    let p = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
    rt.block_on(async {
        let q = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        q.create().await.unwrap();
        for _ in 0..40 {
            q.put(
                &format!(
                    r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{p}"}}}}"#
                ),
                Duration::ZERO,
                None,
            )
            .await
            .unwrap();
        }
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            "watch",
            "--queue",
            &url,
            "--drain",
            "--max-interval",
            "0.1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["sessions"][0]["messages"]["accepted"], 40);
    assert_eq!(
        report["sessions"][0]["projects"][0]["phase"],
        "ConnectionTested"
    );
    rt.block_on(async {
        let q = Queue::new(Resource::new(&url, None, RetryPolicy::NONE).unwrap());
        assert_eq!(q.approximate_count().await.unwrap(), 0);
    });
}
