//! Helpers for `scripts/bench-watch`: `fill URL N [SHAPE]` puts N notifications (16 puts in
//! flight): `lifecycles` (the default) are whole lifecycles of N/3 projects, `one-project` a
//! Training and an Export for each of N/2 iterations of one project, `many-projects` the same
//! for one iteration each of N/2 projects (`scripts/bench-watch-history` compares the last two), `raw-drain URL` is the fastest consumer we can write
//! (receive 32, delete each with 16 deletes in flight, no parsing): Azurite's ceiling.
//! Both print `messages seconds`. `serve` runs the simulated queue service
//! (`cvnotify_harness::sim`) on loopback, prints its URL and serves until killed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use cvnotify_harness::storage::{Queue, Resource, RetryPolicy, StorageError};

/// The n-th notification of a Training-and-Export pair per iteration: all of one project's
/// iterations (`one_project`), or one iteration per project.
fn pair(n: usize, one_project: bool) -> String {
    let k = n / 2;
    let p = if one_project {
        "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b".to_string()
    } else {
        format!("{k:08x}-0000-4000-8000-{k:012x}")
    };
    let i = format!("{k:08x}-1111-4000-8000-{k:012x}");
    if n.is_multiple_of(2) {
        format!(
            r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{p}","iterationId":"{i}","trainingStatus":"TrainingCompleted"}}}}"#
        )
    } else {
        format!(
            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{p}","iterationId":"{i}","exportStatus":"ExportFailed"}}}}"#
        )
    }
}

fn notification(n: usize) -> String {
    let p = format!("{:08x}-0000-4000-8000-{:012x}", n / 3, n);
    let i = format!("{:08x}-1111-4000-8000-{:012x}", n / 3, n);
    match n % 3 {
        0 => format!(
            r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{p}"}}}}"#
        ),
        1 => format!(
            r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{p}","iterationId":"{i}","trainingStatus":"TrainingCompleted"}}}}"#
        ),
        _ => format!(
            r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{p}","iterationId":"{i}","exportStatus":"ExportCompleted","modelUri":"https://acct.blob.core.windows.net/backups/{p}%20-%20{i}.ONNX"}}}}"#
        ),
    }
}

async fn fill(queue: Queue, n: usize, shape: &'static str) {
    queue.create().await.unwrap();
    let mut running: tokio::task::JoinSet<Result<_, StorageError>> = tokio::task::JoinSet::new();
    for k in 0..n {
        if running.len() >= 16 {
            running.join_next().await.unwrap().unwrap().unwrap();
        }
        let q = queue.clone();
        let text = match shape {
            "one-project" => pair(k, true),
            "many-projects" => pair(k, false),
            _ => notification(k),
        };
        running.spawn(async move { q.put(&text, Duration::ZERO, Some(-1)).await });
    }
    while let Some(r) = running.join_next().await {
        r.unwrap().unwrap();
    }
}

async fn raw_drain(queue: Queue) -> usize {
    let mut done = 0;
    loop {
        let batch = queue.receive(32, Duration::from_secs(30)).await.unwrap();
        if batch.is_empty() {
            return done;
        }
        let mut running: tokio::task::JoinSet<Result<_, StorageError>> =
            tokio::task::JoinSet::new();
        for m in batch {
            if running.len() >= 16 {
                running.join_next().await.unwrap().unwrap().unwrap();
                done += 1;
            }
            let q = queue.clone();
            running.spawn(async move {
                q.delete(&m.message_id, m.pop_receipt.as_deref().unwrap())
                    .await
            });
        }
        while let Some(r) = running.join_next().await {
            r.unwrap().unwrap();
            done += 1;
        }
    }
}

fn serve() {
    use std::io::Write as _;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The simulation's own server: nothing kept per request once it is answered.
        let server = cvnotify_harness::sim::EndpointHandler::wall_clock_queue()
            .serve(None)
            .await
            .unwrap();
        println!("{}", server.uri());
        std::io::stdout().flush().unwrap();
        std::future::pending::<()>().await;
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return serve();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let queue = |url: &str| Queue::new(Resource::new(url, None, RetryPolicy::default()).unwrap());
    let started = Instant::now();
    let count = match args.as_slice() {
        [cmd, url, n, rest @ ..] if cmd == "fill" => {
            let n: usize = n.parse().unwrap();
            let shape = match rest.first().map(String::as_str) {
                Some("one-project") => "one-project",
                Some("many-projects") => "many-projects",
                _ => "lifecycles",
            };
            rt.block_on(fill(queue(url), n, shape));
            n
        }
        [cmd, url] if cmd == "raw-drain" => rt.block_on(raw_drain(queue(url))),
        _ => panic!("usage: queue_bench fill URL N [SHAPE] | raw-drain URL | serve"),
    };
    println!("{count} {:.3}", started.elapsed().as_secs_f64());
}
